// The REST contract of API.md, through a real HTTP server on a real SQLite file (supertest).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { startTestServer, type TestServer } from '../support/test-server.ts';

let s: TestServer;
let api: ReturnType<typeof request>;
before(async () => {
  s = await startTestServer();
  api = request(s.http);
});
after(() => s.destroy());

const ERR = (code: string) => (res: request.Response) => {
  assert.equal(res.body.error?.code, code, JSON.stringify(res.body));
  assert.equal(typeof res.body.error.message, 'string');
};

describe('create, read, update, delete', () => {
  test('POST creates with 201, Location and the Stat; GET returns data, encoding and Stat', async () => {
    const c = await api.post('/znodes/crud').send('hello').expect(201);
    assert.equal(c.headers.location, '/znodes/crud');
    assert.equal(c.body.path, '/crud');
    assert.equal(c.body.stat.dataLength, 5);
    assert.equal(c.body.stat.ephemeralOwner, null);
    assert.ok(Number(c.headers['zoogate-zxid']) >= c.body.stat.czxid);
    const g = await api.get('/znodes/crud').expect(200);
    assert.deepEqual(Object.keys(g.body).sort(), ['data', 'encoding', 'path', 'stat']);
    assert.equal(g.body.data, 'hello');
    assert.equal(g.body.encoding, 'utf8');
    assert.deepEqual(g.body.stat, c.body.stat);
  });

  test('binary data comes back as base64, and raw with Accept: application/octet-stream', async () => {
    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x80]);
    await api.post('/znodes/bin').set('content-type', 'application/octet-stream').send(bytes).expect(201);
    const g = await api.get('/znodes/bin').expect(200);
    assert.equal(g.body.encoding, 'base64');
    assert.deepEqual(Buffer.from(g.body.data, 'base64'), bytes);
    const raw = await api.get('/znodes/bin').set('accept', 'application/octet-stream').buffer(true).parse((res, cb) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => cb(null, Buffer.concat(chunks)));
    }).expect(200);
    assert.deepEqual(raw.body, bytes);
    assert.equal(JSON.parse(raw.headers['zoogate-stat']).dataLength, 4);
    const forced = await api.get('/znodes/crud?encoding=base64').expect(200);
    assert.equal(Buffer.from(forced.body.data, 'base64').toString(), 'hello');
  });

  test('PUT sets data by version; a stale version is 412 BadVersion and changes nothing', async () => {
    await api.post('/znodes/ver').send('v0').expect(201);
    const p = await api.put('/znodes/ver?version=0').send('v1').expect(200);
    assert.equal(p.body.stat.version, 1);
    await api.put('/znodes/ver?version=0').send('v2').expect(412).expect(ERR('BadVersion'));
    await api.put('/znodes/ver').send('v3').expect(200);
    await api.put('/znodes/ver?version=-1').send('v4').expect(200);
    const g = await api.get('/znodes/ver').expect(200);
    assert.equal(g.body.data, 'v4');
    assert.equal(g.body.stat.version, 3);
    await api.put('/znodes/missing').send('x').expect(404).expect(ERR('NoNode'));
  });

  test('DELETE by version, NotEmpty, recursive delete of a subtree', async () => {
    await api.post('/znodes/del/a/b?parents=true').expect(201);
    await api.delete('/znodes/del?version=5').expect(412).expect(ERR('BadVersion'));
    await api.delete('/znodes/del').expect(409).expect(ERR('NotEmpty'));
    await api.delete('/znodes/del?recursive=true').expect(204);
    await api.get('/znodes/del/a').expect(404).expect(ERR('NoNode'));
    await api.delete('/znodes/del').expect(404);
  });

  test('HEAD answers exists with the Stat in Zoogate-Stat and no body, or 404', async () => {
    await api.post('/znodes/ex').send('x').expect(201);
    const h = await api.head('/znodes/ex').expect(200);
    assert.equal(JSON.parse(h.headers['zoogate-stat']).dataLength, 1);
    assert.equal(h.text, undefined);
    await api.head('/znodes/no-such').expect(404);
  });

  test('children are listed sorted with the parent\'s Stat; the root is /znodes and /znodes/', async () => {
    for (const n of ['b', 'c', 'a']) await api.post(`/znodes/kids/${n}?parents=true`).expect(201);
    const c = await api.get('/znodes/kids?children=true').expect(200);
    assert.deepEqual(c.body.children, ['a', 'b', 'c']);
    assert.equal(c.body.stat.numChildren, 3);
    for (const root of ['/znodes', '/znodes/']) {
      const r = await api.get(`${root}?children=true`).expect(200);
      assert.equal(r.body.path, '/');
      assert.ok(r.body.children.includes('zookeeper'));
    }
    const zk = await api.get('/znodes/zookeeper?children=true').expect(200);
    assert.deepEqual(zk.body.children, ['config', 'quota']);
    assert.equal(zk.body.stat.cversion, -2);
  });

  test('sequential modes append the 10-digit counter of creates under the parent', async () => {
    await api.post('/znodes/seq').expect(201);
    const a = await api.post('/znodes/seq/job-?mode=persistent_sequential').expect(201);
    assert.equal(a.body.path, '/seq/job-0000000000');
    await api.delete('/znodes/seq/job-0000000000').expect(204);
    const b = await api.post('/znodes/seq/?mode=persistent_sequential').expect(201);
    assert.equal(b.body.path, '/seq/0000000001');
    assert.equal(b.headers.location, '/znodes/seq/0000000001');
  });

  test('percent-encoded segments are decoded', async () => {
    const c = await api.post('/znodes/sp%20ace%C3%A9').expect(201);
    assert.equal(c.body.path, '/sp aceé');
    assert.equal(c.headers.location, '/znodes/sp%20ace%C3%A9');
    await api.get('/znodes/sp%20ace%C3%A9').expect(200);
  });
});

describe('bad input gets the contract\'s error and changes nothing', () => {
  test('malformed paths are 400 BadArguments', async () => {
    for (const p of ['/znodes/a//b', '/znodes/a/./b', '/znodes/a/../b', '/znodes/trail/', '/znodes/ctl%01x', '/znodes/bad%ZZ', '/znodes/x%EF%BF%B0']) {
      await api.post(p).expect(400).expect(ERR('BadArguments'));
    }
  });

  test('unknown modes, bad versions, bad ttl, unknown parameters are 400', async () => {
    await api.post('/znodes/m?mode=forever').expect(400).expect(ERR('BadArguments'));
    await api.post('/znodes/m?mode=persistent_with_ttl').expect(400).expect(ERR('BadArguments'));
    await api.post('/znodes/m?mode=persistent&ttl=100').expect(400).expect(ERR('BadArguments'));
    await api.post('/znodes/m?mode=persistent_with_ttl&ttl=abc').expect(400).expect(ERR('BadArguments'));
    await api.post('/znodes/m?mode=ephemeral').expect(400).expect(ERR('BadArguments'));
    await api.put('/znodes/crud?version=one').send('x').expect(400).expect(ERR('BadArguments'));
    await api.put('/znodes/crud?version=1.5').send('x').expect(400).expect(ERR('BadArguments'));
    await api.put('/znodes/crud?version=99999999999').send('x').expect(400).expect(ERR('BadArguments'));
    await api.delete('/znodes/crud?verison=3').expect(400).expect(ERR('BadArguments'));
    await api.get('/znodes/crud?children=maybe').expect(400).expect(ERR('BadArguments'));
    await api.get('/znodes/m').expect(404);
    const g = await api.get('/znodes/crud').expect(200);
    assert.equal(g.body.data, 'hello');
  });

  test('data over 1 MiB - 1 byte is 413 PayloadTooLarge; exactly the limit is accepted', async () => {
    await api.post('/znodes/big').send(Buffer.alloc(1048576, 1)).expect(413).expect(ERR('PayloadTooLarge'));
    await api.get('/znodes/big').expect(404);
    await api.post('/znodes/big').send(Buffer.alloc(1048575, 1)).expect(201);
    await api.put('/znodes/big').send(Buffer.alloc(1048576, 2)).expect(413);
    assert.equal((await api.head('/znodes/big')).headers['zoogate-stat'] && JSON.parse((await api.head('/znodes/big')).headers['zoogate-stat']).version, 0);
  });

  test('/, /zookeeper and its children cannot be deleted', async () => {
    for (const p of ['/znodes', '/znodes/zookeeper', '/znodes/zookeeper/config', '/znodes/zookeeper/quota']) {
      await api.delete(p).expect(400).expect(ERR('BadArguments'));
    }
  });

  test('an unknown session is 410 SessionExpired; unsupported methods 501; unknown endpoints 404', async () => {
    await api.get('/znodes/crud').set('zoogate-session', '0123456789abcdef').expect(410).expect(ERR('SessionExpired'));
    await api.post('/znodes/x?session=nope').expect(410);
    await api.patch('/znodes/crud').expect(501).expect(ERR('Unimplemented'));
    await api.get('/nowhere').expect(404);
  });

  test('watch=true without a session\'s live WebSocket is refused', async () => {
    await api.get('/znodes/crud?watch=true').expect(400).expect(ERR('BadArguments'));
  });
});

describe('ACLs', () => {
  const basic = (up: string) => 'Basic ' + Buffer.from(up).toString('base64');
  test('Zoogate-Acl at create; reads and writes are checked; digest ids are masked for non-admins', async () => {
    const { digestOf } = await import('../../api/http-util.ts');
    const alice = digestOf('alice:secret');
    await api.post('/znodes/acl1').set('zoogate-acl', `world:anyone:r,digest:${alice}:cdrwa`).send('x').expect(201);
    await api.put('/znodes/acl1').send('y').expect(403).expect(ERR('NoAuth'));
    await api.put('/znodes/acl1').set('authorization', basic('alice:wrong')).send('y').expect(403);
    await api.put('/znodes/acl1').set('authorization', basic('alice:secret')).send('y').expect(200);
    const anon = await api.get('/znodes/acl1?acl=true').expect(200);
    assert.deepEqual(anon.body.acl, [{ scheme: 'world', id: 'anyone', perms: 'r' }, { scheme: 'digest', id: 'alice:x', perms: 'cdrwa' }]);
    const admin = await api.get('/znodes/acl1?acl=true').set('authorization', basic('alice:secret')).expect(200);
    assert.equal(admin.body.acl[1].id, alice);
    await api.post('/znodes/acl2').set('zoogate-acl', `digest:${alice}:cdrwa`).expect(201);
    await api.get('/znodes/acl2').expect(403).expect(ERR('NoAuth'));
    await api.get('/znodes/acl2?children=true').expect(403);
    await api.head('/znodes/acl2').expect(200); // exists needs no permission
    await api.get('/znodes/acl2').set('authorization', 'Bearer x').expect(401).expect(ERR('AuthFailed'));
  });

  test('PUT ?acl=true sets the ACL by aversion; bad ACLs are 400 InvalidACL', async () => {
    await api.post('/znodes/acl3').expect(201);
    const r = await api.put('/znodes/acl3?acl=true&aversion=0').send([{ scheme: 'world', id: 'anyone', perms: 'rwa' }]).expect(200);
    assert.equal(r.body.stat.aversion, 1);
    assert.deepEqual(r.body.acl, [{ scheme: 'world', id: 'anyone', perms: 'rwa' }]);
    await api.put('/znodes/acl3?acl=true&aversion=0').send([{ scheme: 'world', id: 'anyone', perms: 'r' }]).expect(412).expect(ERR('BadVersion'));
    await api.put('/znodes/acl3?acl=true&aversion=1').send([{ scheme: 'world', id: 'anyone', perms: 'r' }]).expect(200);
    // without ADMIN the ACL cannot change any more (NoAuth comes before BadVersion)
    await api.put('/znodes/acl3?acl=true&aversion=0').send([{ scheme: 'world', id: 'anyone', perms: 'cdrwa' }]).expect(403).expect(ERR('NoAuth'));
    await api.put('/znodes/acl3?acl=true').send([{ scheme: 'world', id: 'anyone', perms: 'rx' }]).expect(400).expect(ERR('InvalidACL'));
    await api.put('/znodes/acl3?acl=true').send([]).expect(400).expect(ERR('InvalidACL'));
    await api.post('/znodes/acl4').set('zoogate-acl', 'nonsense').expect(400).expect(ERR('InvalidACL'));
    await api.post('/znodes/acl4').set('zoogate-acl', 'digest:nocolon:cdrwa').expect(400).expect(ERR('InvalidACL'));
    await api.get('/znodes/acl4').expect(404);
  });
});

describe('sessions', () => {
  test('open, info, keepalive, ephemerals, close removes them', async () => {
    const o = await api.post('/sessions').send({ timeoutMs: 1000 }).expect(201);
    const id = o.body.sessionId;
    assert.match(id, /^[0-9a-f]{16}$/);
    assert.equal(o.body.timeoutMs, 1000);
    const e = await api.post('/znodes/eph?mode=ephemeral').set('zoogate-session', id).expect(201);
    assert.equal(e.body.stat.ephemeralOwner, id);
    await api.post(`/znodes/eph2-?mode=ephemeral_sequential&session=${id}`).expect(201);
    await api.post('/znodes/eph/child').expect(409).expect(ERR('NoChildrenForEphemerals'));
    const info = await api.get(`/sessions/${id}`).expect(200);
    assert.deepEqual(Object.keys(info.body).sort(), ['ephemerals', 'sessionId', 'timeoutMs']);
    assert.equal(info.body.ephemerals.length, 2);
    assert.equal(info.body.ephemerals[0], '/eph');
    assert.match(info.body.ephemerals[1], /^\/eph2-\d{10}$/);
    await api.post(`/sessions/${id}/keepalive`).expect(200, { sessionId: id, timeoutMs: 1000 });
    await api.delete(`/sessions/${id}`).expect(204);
    await api.get('/znodes/eph').expect(404);
    await api.get(`/sessions/${id}`).expect(410).expect(ERR('SessionExpired'));
    await api.post(`/sessions/${id}/keepalive`).expect(410);
    await api.delete(`/sessions/${id}`).expect(410);
  });

  test('timeouts are clamped to [2, 20] ticks', async () => {
    const lo = await api.post('/sessions').send({ timeoutMs: 1 }).expect(201);
    assert.equal(lo.body.timeoutMs, 200);
    const hi = await api.post('/sessions').send({ timeoutMs: 10 ** 9 }).expect(201);
    assert.equal(hi.body.timeoutMs, 2000);
    await api.post('/sessions').send({ timeoutMs: 'soon' }).expect(400);
    await api.post('/sessions').send({ ttl: 5 }).expect(400);
  });

  test('a session without keepalives expires and its ephemerals go', async () => {
    const o = await api.post('/sessions').send({ timeoutMs: 300 }).expect(201);
    const id = o.body.sessionId;
    await api.post('/znodes/short-lived?mode=ephemeral').set('zoogate-session', id).expect(201);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (await api.head('/znodes/short-lived')).status === 200) await new Promise((r) => setTimeout(r, 50));
    await api.head('/znodes/short-lived').expect(404);
    await api.get(`/sessions/${id}`).expect(410);
  });
});

describe('multi', () => {
  test('all four op kinds at one zxid, results in order', async () => {
    await api.post('/znodes/mt').send('0').expect(201);
    const r = await api.post('/multi').send({
      ops: [
        { op: 'create', path: '/mt/a', data: 'aGk=', encoding: 'base64' },
        { op: 'set', path: '/mt', data: '1', version: 0 },
        { op: 'check', path: '/mt', version: 1 },
        { op: 'delete', path: '/mt/a' },
      ],
    }).expect(200);
    assert.equal(typeof r.body.zxid, 'number');
    assert.deepEqual(r.body.results.map((x: { op: string }) => x.op), ['create', 'set', 'check', 'delete']);
    assert.equal(r.body.results[0].path, '/mt/a');
    assert.equal(r.body.results[1].stat.mzxid, r.body.zxid);
  });

  test('a failing op fails the whole multi with its status, failedOp and per-op results', async () => {
    const r = await api.post('/multi').send({
      ops: [
        { op: 'create', path: '/mt/b' },
        { op: 'delete', path: '/mt/none' },
        { op: 'set', path: '/mt', data: 'x' },
      ],
    }).expect(404);
    assert.equal(r.body.error.code, 'NoNode');
    assert.equal(r.body.failedOp, 1);
    assert.deepEqual(r.body.results, [{ error: 'Ok' }, { error: 'NoNode' }, { error: 'RuntimeInconsistency' }]);
    await api.get('/znodes/mt/b').expect(404);
    assert.equal((await api.get('/znodes/mt')).body.data, '1');
  });

  test('malformed multis are 400 and oversized ones 413', async () => {
    await api.post('/multi').send({ ops: [{ op: 'rename', path: '/x' }] }).expect(400);
    await api.post('/multi').send({ ops: [{ op: 'check', path: '/x' }] }).expect(400);
    await api.post('/multi').send({ ops: [{ op: 'create', path: 'x' }] }).expect(400);
    await api.post('/multi').send('not json').expect(400);
    const half = Buffer.alloc(600_000, 1).toString('base64');
    await api.post('/multi').send({ ops: [{ op: 'create', path: '/big1', data: half, encoding: 'base64' }, { op: 'create', path: '/big2', data: half, encoding: 'base64' }] }).expect(413);
    await api.get('/znodes/big1').expect(404);
  });
});

describe('sync, Min-Zxid, operations', () => {
  test('POST /sync returns the zxid; Zoogate-Min-Zxid waits then 503 when the node is behind', async () => {
    const r = await api.post('/sync/crud').expect(200);
    assert.equal(r.body.zxid, Number(r.headers['zoogate-zxid']));
    await api.get('/znodes/crud').set('zoogate-min-zxid', String(r.body.zxid)).expect(200);
    const t0 = Date.now();
    const far = await api.get('/znodes/crud').set('zoogate-min-zxid', String(r.body.zxid + 1000)).expect(503);
    assert.ok(Date.now() - t0 >= s.cfg.minZxidWaitMs - 50);
    assert.ok(far.headers['retry-after']);
    await api.get('/znodes/crud?sync=true').expect(200);
  });

  test('health, ready, cluster', async () => {
    await api.get('/health').expect(200, 'imok');
    await api.get('/ready').expect(200);
    const c = await api.get('/cluster').expect(200);
    assert.equal(c.body.state, 'LEADING');
    assert.equal(c.body.leaderId, c.body.serverId);
    assert.equal(c.body.members.length, 1);
  });
});
