/**
 * The `zoogate` command line, run for real (node bin/zoogate.mjs as a child
 * process) against a real standalone server: outputs, JSON shapes and exit
 * codes for every error class.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { ZooGateRest, type Stat } from '../../client/index.ts';
import { EXIT } from '../../cli/errors.ts';
import { RUNNERS } from '../../cli/run.ts';
import { commandHelp, COMMANDS, findCommand, GLOBAL_OPTIONS } from '../../cli/specs.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { until } from '../support/process-cluster.ts';
import { jsonError, ROOT, zg, ZgProcess } from './support.ts';

/** super:adminsecret, as `printf super:adminsecret | openssl sha1 -binary | base64` gives it. */
const SUPER_DIGEST = 'super:GcMT0ijsx21yLyTWAWMqFV/azZE=';
const STAT_KEYS = ['czxid', 'mzxid', 'pzxid', 'ctime', 'mtime', 'version', 'cversion', 'aversion', 'ephemeralOwner', 'dataLength', 'numChildren'];
const ZK_STAT = /^cZxid = 0x[0-9a-f]+\nctime = \w{3} \w{3} \d\d \d\d:\d\d:\d\d \S+ \d{4}\nmZxid = 0x[0-9a-f]+\nmtime = .+\npZxid = 0x[0-9a-f]+\ncversion = \d+\ndataVersion = \d+\naclVersion = \d+\nephemeralOwner = 0x[0-9a-f]+\ndataLength = \d+\nnumChildren = \d+\n$/;

/** A port nothing listens on (taken, then released). */
function deadPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

// the timeout is a backstop for a hung child; on a busy machine (2 cores shared) the suite takes up to a minute
describe('zoogate CLI against a standalone server', { concurrency: 4, timeout: 150_000 }, () => {
  let server: TestServer;
  let rest: ZooGateRest;
  /** `zoogate ARGS --server URL`. */
  const z = (args: readonly string[], opts: Parameters<typeof zg>[1] = {}) => zg([...args, '--server', server.url], opts);

  before(async () => {
    server = await startTestServer({ superDigest: SUPER_DIGEST });
    rest = new ZooGateRest(server.url);
  });
  after(async () => {
    await server.destroy();
  });

  test('create prints the path; get prints the data raw (no newline added off a terminal); --json is the API shape', async () => {
    let r = await z(['create', '/cli-basic/config', '{"port":80}', '--parents']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '/cli-basic/config\n', '']);
    r = await z(['get', '/cli-basic/config']);
    assert.deepEqual([r.code, r.stdout], [0, '{"port":80}']);
    r = await z(['get', '/cli-basic/config', '--json']);
    assert.equal(r.code, 0);
    const v = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(v), ['path', 'data', 'encoding', 'stat']);
    assert.deepEqual([v.path, v.data, v.encoding], ['/cli-basic/config', '{"port":80}', 'utf8']);
    assert.deepEqual(Object.keys(v.stat), STAT_KEYS);
    // the API's own answer, field for field
    const api = await (await fetch(`${server.url}/znodes/cli-basic/config`)).json();
    assert.deepEqual(v, api);

    r = await z(['get', '/cli-basic/config', '--stat']);
    assert.equal(r.code, 0);
    assert.ok(r.stdout.startsWith('{"port":80}\ncZxid = 0x'), r.stdout);
    assert.match(r.stdout.slice('{"port":80}\n'.length), ZK_STAT);
    assert.match(r.stdout, /\ndataVersion = 0\n/);
  });

  test('set: DATA, stdin bytes round-trip exactly, --version compare-and-set, --stat, --json', async () => {
    await rest.create('/cli-set', 'v0');
    const bytes = Buffer.from([0x62, 0x00, 0xff, 0x0a, 0x80]);
    let r = await z(['set', '/cli-set', '-'], { input: bytes });
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', ''], 'set prints nothing');
    r = await z(['get', '/cli-set']);
    assert.deepEqual(r.out, bytes, 'raw bytes out, as they went in');
    r = await z(['get', '/cli-set', '--json']);
    assert.deepEqual(JSON.parse(r.stdout).encoding, 'base64');
    assert.equal(JSON.parse(r.stdout).data, bytes.toString('base64'));

    r = await z(['set', '/cli-set', 'v2', '--version', '1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const set = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(set), ['path', 'stat']);
    assert.equal(set.stat.version, 2);
    r = await z(['set', '/cli-set', 'v4', '-v', '1']);
    assert.equal(r.code, EXIT.badVersion);
    assert.equal(r.stderr, 'zoogate: BadVersion: expected version 1, node is at 2 (/cli-set)\n');
    r = await z(['set', '/cli-set', 'v4', '--version', '-1', '--stat']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, ZK_STAT);
    assert.match(r.stdout, /dataVersion = 3/);
  });

  test('exit codes and error lines for every class, human and --json', async () => {
    await rest.create('/cli-err', 'x');
    await rest.create('/cli-err/child', 'x');
    await rest.create('/cli-err-private', 'x', { acl: 'world:anyone:r' });
    const port = await deadPort();
    // every class both ways: as people see it (H) and as --json (J); each case one way or both
    const cases: { args: string[]; exit: number; code: string; line: RegExp; alone?: boolean; forms: 'H' | 'J' | 'HJ' }[] = [
      { forms: 'H', args: ['get', '/cli-err/nope'], exit: 2, code: 'NoNode', line: /^zoogate: NoNode: no node for \/cli-err\/nope$/ },
      { forms: 'J', args: ['stat', '/cli-err/nope'], exit: 2, code: 'NoNode', line: /^zoogate: NoNode: / },
      { forms: 'HJ', args: ['create', '/cli-err'], exit: 3, code: 'NodeExists', line: /^zoogate: NodeExists: node exists for \/cli-err$/ },
      { forms: 'HJ', args: ['rm', '/cli-err/child', '--version', '5'], exit: 4, code: 'BadVersion', line: /^zoogate: BadVersion: expected version 5/ },
      { forms: 'H', args: ['set', '/cli-err-private', 'y'], exit: 5, code: 'NoAuth', line: /^zoogate: NoAuth: not authorized for \/cli-err-private$/ },
      { forms: 'J', args: ['get', '/cli-err', '--user', '', '--password', 'x'], exit: 5, code: 'AuthFailed', line: /^zoogate: AuthFailed: / },
      { forms: 'HJ', args: ['rm', '/cli-err'], exit: 7, code: 'NotEmpty', line: /^zoogate: NotEmpty: / },
      { forms: 'H', args: ['rm', '/zookeeper'], exit: 1, code: 'BadArguments', line: /^zoogate: BadArguments: \/zookeeper cannot be deleted$/ },
      { forms: 'J', args: ['setacl', '/cli-err', 'world:anyone:xyz'], exit: 1, code: 'InvalidACL', line: /^zoogate: InvalidACL: / },
      { forms: 'HJ', args: ['get', '/cli-err', '--timeout', '0.5'], alone: true, exit: 6, code: 'ConnectionLoss', line: /^zoogate: ConnectionLoss: http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/ },
    ];
    // `alone`: against a port nothing listens on
    const run = (c: (typeof cases)[number], extra: string[] = []) => (c.alone ? zg([...c.args, ...extra, '--server', `http://127.0.0.1:${port}`]) : z([...c.args, ...extra]));
    await Promise.all(cases.flatMap((c) => [
      !c.forms.includes('H') ? null : run(c).then((human) => {
        assert.equal(human.code, c.exit, `${c.args.join(' ')}: ${human.stderr}`);
        assert.equal(human.stdout, '');
        assert.equal(human.stderr.split('\n').length, 2, `one line: ${human.stderr}`);
        assert.match(human.stderr.trimEnd(), c.line);
      }),
      !c.forms.includes('J') ? null : run(c, ['--json']).then((json) => {
        assert.equal(json.code, c.exit, `${c.args.join(' ')} --json: ${json.stderr}`);
        assert.equal(json.stdout, '');
        const err = jsonError(json);
        assert.deepEqual(Object.keys(err), ['error']);
        assert.equal(err.error.code, c.code);
        assert.match(err.error.message, /\S/);
      }),
    ]));
    // too large: the server's limit (exit 7)
    const big = await z(['set', '/cli-err', '-'], { input: Buffer.alloc(1_048_576, 1) });
    assert.equal(big.code, 7);
    assert.match(big.stderr, /^zoogate: PayloadTooLarge: /);
  });

  test('usage errors exit 1 with one line pointing at the help; --json as a JSON object', async () => {
    const cases: [string[], RegExp][] = [
      [['get'], /^zoogate: get: missing PATH \(see 'zoogate get --help'\)$/],
      [['get', 'relative'], /^zoogate: get: invalid PATH "relative": path must start with \/ /],
      [['get', '/a', '--bogus'], /^zoogate: get: unknown option --bogus/],
      [['set', '/a', 'x', '--version', 'two'], /^zoogate: set: --version wants an integer/],
      [['create', '/a', '--mode', 'weird'], /^zoogate: create: unknown mode "weird"/],
      [['nosuch'], /^zoogate: unknown command "nosuch" \(see 'zoogate help'\)$/],
      [['get', '/a', '--user', 'alice'], /^zoogate: get: --user needs --password/],
      [['multi', '-'], /^zoogate: multi: the ops are not valid JSON/],
      [['lock', '/l'], /^zoogate: lock: missing -- COMMAND to run while holding the lock \(see 'zoogate lock --help'\)$/],
      [['queue', 'pop', '/q'], /^zoogate: queue: want put, take, peek or size, not "pop"/],
      [['services', 'pick', 'web', '--meta', 'a=1'], /^zoogate: services: --meta is for register, not pick/],
    ];
    await Promise.all(cases.map(async ([args, line]) => {
      const r = await z(args, { input: 'not json' });
      assert.equal(r.code, EXIT.usage, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr.trimEnd(), line);
      assert.equal(r.stderr.split('\n').length, 2);
    }));
    const j = await z(['get', '--json']);
    assert.equal(j.code, 1);
    assert.deepEqual(jsonError(j), { error: { code: 'BadArguments', message: 'missing PATH' } });
  });

  test('stat: zkCli layout like test -e; --json is the Stat of HEAD', async () => {
    await rest.create('/cli-stat', 'hello');
    let r = await z(['stat', '/cli-stat']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, ZK_STAT);
    const head = await fetch(`${server.url}/znodes/cli-stat`, { method: 'HEAD' });
    const stat = JSON.parse(head.headers.get('zoogate-stat')!) as Stat;
    assert.ok(r.stdout.startsWith(`cZxid = 0x${stat.czxid.toString(16)}\n`));
    assert.match(r.stdout, /\ndataLength = 5\nnumChildren = 0\n$/);
    assert.match(r.stdout, /\nephemeralOwner = 0x0\n/);
    r = await z(['stat', '/cli-stat', '--json']);
    assert.deepEqual(JSON.parse(r.stdout), stat);
  });

  test('ls: names one per line; --stat; -R every path depth first; --json shapes', async () => {
    await rest.create('/cli-ls/b/x', '', { parents: true });
    await rest.create('/cli-ls/a', '');
    await rest.create('/cli-ls/b/y', '');
    let r = await z(['ls', '/cli-ls']);
    assert.deepEqual([r.code, r.stdout], [0, 'a\nb\n'], r.stderr);
    r = await z(['ls', '/cli-ls', '--json']);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(j), ['path', 'children', 'stat']);
    assert.deepEqual(j.children, ['a', 'b']);
    r = await z(['ls', '/cli-ls', '-s']);
    assert.ok(r.stdout.startsWith('a\nb\ncZxid = '));
    assert.match(r.stdout, /numChildren = 2\n$/);
    r = await z(['ls', '-R', '/cli-ls']);
    assert.deepEqual([r.code, r.stdout], [0, '/cli-ls\n/cli-ls/a\n/cli-ls/b\n/cli-ls/b/x\n/cli-ls/b/y\n']);
    r = await z(['ls', '/cli-ls', '-R', '--json']);
    assert.deepEqual(JSON.parse(r.stdout), { path: '/cli-ls', paths: ['/cli-ls', '/cli-ls/a', '/cli-ls/b', '/cli-ls/b/x', '/cli-ls/b/y'] });
  });

  test('tree: drawn as tree(1) with a count; -L; --json nested', async () => {
    for (const p of ['/cli-tree/config/db', '/cli-tree/jobs/j1', '/cli-tree/jobs/j2']) await rest.create(p, '', { parents: true });
    let r = await z(['tree', '/cli-tree']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, [
      '/cli-tree',
      '├── config',
      '│   └── db',
      '└── jobs',
      '    ├── j1',
      '    └── j2',
      '',
      '6 znodes',
      '',
    ].join('\n'));
    assert.equal(r.stderr, '', 'no progress off a terminal');
    r = await z(['tree', '/cli-tree', '-L', '1']);
    assert.equal(r.stdout, '/cli-tree\n├── config\n└── jobs\n\n3 znodes\n');
    r = await z(['tree', '/cli-tree/jobs', '--json']);
    assert.deepEqual(JSON.parse(r.stdout), { path: '/cli-tree/jobs', children: [{ path: '/cli-tree/jobs/j1', children: [] }, { path: '/cli-tree/jobs/j2', children: [] }] });
    r = await z(['tree', '/cli-tree/nope']);
    assert.equal(r.code, 2);
  });

  test('tree shows progress on stderr when it is a terminal (script(1) gives it one)', async (t) => {
    const ops = Array.from({ length: 250 }, (_, i) => ({ op: 'create' as const, path: `/cli-big/n${String(i).padStart(3, '0')}` }));
    await rest.create('/cli-big', '');
    await rest.multi(ops);
    // (never spawnSync here: it would stop this process, and the server in it, from answering)
    const run = (cmd: string, args: string[]) => new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.on('error', () => resolve({ code: null, out }));
      p.on('close', (code) => resolve({ code, out }));
    });
    if ((await run('script', ['--version'])).code !== 0) return t.skip('script(1) is not installed');
    // stdout to a file, stderr to the pseudo-terminal script(1) records
    const out = `/tmp/zoogate-cli-tree-${process.pid}.txt`;
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(`${ROOT}bin/zoogate.mjs`)} tree /cli-big --server ${server.url} > ${out}`;
    const s = await run('script', ['-qec', cmd, '/dev/null']);
    assert.equal(s.code, 0, s.out);
    assert.match(s.out, /\rreading \/cli-big: \d+ znodes…/);
    assert.match(s.out, /\r\x1b\[K/, 'the progress line is cleared at the end');
    const written = readFileSync(out, 'utf8');
    rmSync(out, { force: true });
    assert.match(written, /\n251 znodes\n$/);
  });

  test('rm: --version, -R takes the subtree; prints nothing', async () => {
    await rest.create('/cli-rm/a/b', 'x', { parents: true });
    await rest.set('/cli-rm/a/b', 'y');
    let r = await z(['rm', '/cli-rm/a/b', '--version', '0']);
    assert.equal(r.code, 4);
    r = await z(['rm', '/cli-rm/a/b', '--version', '1']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
    await rest.create('/cli-rm/a/c', 'x');
    r = await z(['delete', '-R', '/cli-rm']);
    assert.deepEqual([r.code, r.stdout], [0, '']);
    assert.equal(await rest.exists('/cli-rm'), null);
  });

  test('create modes: sequential (-s), container, ttl, parents, --acl, and --json', async () => {
    let r = await z(['create', '/cli-modes/job-', 'x', '-s', '-p']);
    assert.deepEqual([r.code, r.stdout], [0, '/cli-modes/job-0000000000\n']);
    r = await z(['create', '/cli-modes/job-', 'x', '--mode', 'persistent_sequential', '--json']);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(j), ['path', 'stat']);
    assert.equal(j.path, '/cli-modes/job-0000000001');
    r = await z(['create', '/cli-modes/box', '-c']);
    assert.deepEqual([r.code, r.stdout], [0, '/cli-modes/box\n']);
    r = await z(['create', '/cli-modes/lease', 'x', '--mode', 'ttl', '--ttl', '60000', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).path, '/cli-modes/lease');
    const digest = `alice:${createHash('sha1').update('alice:secret').digest('base64')}`;
    r = await z(['create', '/cli-modes/private', 'x', '--acl', `world:anyone:r,digest:${digest}:cdrwa`]);
    assert.equal(r.code, 0, r.stderr);
    r = await z(['getacl', '/cli-modes/private']);
    assert.equal(r.stdout, 'world:anyone:r\ndigest:alice:x:cdrwa\n', 'digests are masked without ADMIN, as ZooKeeper does');
    r = await z(['getacl', '/cli-modes/private', '--user', 'alice', '--password', 'secret']);
    assert.equal(r.stdout, `world:anyone:r\ndigest:${digest}:cdrwa\n`);
    r = await z(['set', '/cli-modes/private', 'y'], { env: { ZOOGATE_USER: 'alice', ZOOGATE_PASSWORD: 'secret' } });
    assert.equal(r.code, 0, 'credentials from the environment');
    assert.equal((await rest.get('/cli-modes/private', { as: 'utf8' })).data, 'y');
  });

  test('getacl/setacl: entries one per line, --aversion, --json; digest is ZooKeeper\'s', async () => {
    // the id the README computes with openssl (sha1, base64), and the server agrees (its superuser is this digest)
    let r = await z(['digest', 'super:adminsecret', '--json']);
    assert.deepEqual(JSON.parse(r.stdout), { user: 'super', id: `super:${createHash('sha1').update('super:adminsecret').digest('base64')}` });
    assert.equal(JSON.parse(r.stdout).id, SUPER_DIGEST);
    await rest.create('/cli-acl', 'x', { acl: 'world:anyone:r' });
    r = await z(['set', '/cli-acl', 'y', '--user', 'super', '--password', 'adminsecret']);
    assert.equal(r.code, 0, r.stderr);

    r = await z(['getacl', '/cli-acl', '--json']);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(j), ['path', 'acl', 'stat']);
    assert.deepEqual(j.acl, [{ scheme: 'world', id: 'anyone', perms: 'r' }]);
    r = await z(['setacl', '/cli-acl', 'world:anyone:cdrwa', '--aversion', '0', '--user', 'super', '--password', 'adminsecret']);
    assert.deepEqual([r.code, r.stdout], [0, 'world:anyone:cdrwa\n']);
    r = await z(['setacl', '/cli-acl', '[{"scheme":"world","id":"anyone","perms":"rw"}]', '-v', '0']);
    assert.equal(r.code, 4, 'the ACL version moved on');
    r = await z(['setacl', '/cli-acl', '[{"scheme":"world","id":"anyone","perms":"rw"}]', '-v', '1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).acl, [{ scheme: 'world', id: 'anyone', perms: 'rw' }]);
    r = await z(['getacl', '/cli-acl', '--stat']);
    assert.match(r.stdout, /^world:anyone:rw\ncZxid = /);
    assert.match(r.stdout, /aclVersion = 2/);
  });

  test('multi: ops from stdin or a file; a result per line; all or nothing with the failing op\'s exit code', async () => {
    const ops = [
      { op: 'create', path: '/cli-multi', data: 'a' },
      { op: 'create', path: '/cli-multi/s-', mode: 'persistent_sequential' },
      { op: 'set', path: '/cli-multi', data: 'b' },
      { op: 'check', path: '/cli-multi', version: 1 },
      { op: 'delete', path: '/cli-multi/s-0000000000' },
    ];
    let r = await z(['multi'], { input: JSON.stringify(ops) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'create /cli-multi\ncreate /cli-multi/s-0000000000\nset /cli-multi version 1\ncheck /cli-multi\ndelete /cli-multi/s-0000000000\n');
    const file = `/tmp/zoogate-cli-multi-${process.pid}.json`;
    writeFileSync(file, JSON.stringify({ ops: [{ op: 'set', path: '/cli-multi', data: 'c', version: 1 }] }));
    r = await z(['multi', file, '--json']);
    rmSync(file, { force: true });
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(j), ['zxid', 'results']);
    assert.equal(j.results[0].op, 'set');

    const failing = [{ op: 'create', path: '/cli-multi/new' }, { op: 'check', path: '/cli-multi', version: 0 }];
    r = await z(['multi', '-'], { input: JSON.stringify(failing) });
    assert.equal(r.code, EXIT.badVersion);
    assert.match(r.stderr, /^zoogate: BadVersion: .*; op 1 of the multi \(counting from 0\) failed, nothing was applied\n$/);
    r = await z(['multi', '--json'], { input: JSON.stringify(failing) });
    assert.equal(r.code, EXIT.badVersion);
    assert.deepEqual(jsonError(r), {
      error: { code: 'BadVersion', message: 'expected version 0, node is at 2', path: '/cli-multi' },
      failedOp: 1,
      results: [{ error: 'Ok' }, { error: 'BadVersion' }],
    });
    assert.equal(await rest.exists('/cli-multi/new'), null, 'nothing applied');
    r = await z(['multi'], { input: '[{"op":"rename","path":"/x"}]' });
    assert.equal(r.code, 1);
  });

  test('sync and members: human lines and the API JSON', async () => {
    let r = await z(['sync', '/']);
    assert.match(r.stdout, /^synced: zxid 0x[0-9a-f]+\n$/);
    r = await z(['members']);
    assert.equal(r.code, 0, r.stderr);
    const [head, columns, row] = r.stdout.split('\n');
    assert.match(head!, new RegExp(`^server 1 \\(${server.url.replace(/\./g, '\\.')}\\): LEADING, leader 1, epoch \\d+, last zxid 0x[0-9a-f]+$`));
    assert.match(columns!, /^ID\s+ADDRESS\s+STATE\s+LAST ZXID$/);
    assert.match(row!, /^1\*\s+\S+:\d+\s+LEADING\s+0x[0-9a-f]+$/);
    r = await z(['cluster', 'status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(c), ['serverId', 'state', 'leaderId', 'epoch', 'lastZxid', 'members']);
    assert.equal(c.leaderId, 1);
  });

  test('an ephemeral create holds its node until Ctrl-C, then removes it and exits 0', async () => {
    const p = new ZgProcess(['create', '/cli-eph/me', 'alive', '-e', '-p', '--server', server.url]);
    const [line] = await p.waitLines(1);
    assert.equal(line, '/cli-eph/me');
    const stat = await rest.exists('/cli-eph/me');
    assert.match(stat?.ephemeralOwner ?? '', /^[0-9a-f]{16}$/);
    await p.waitStderr('until Ctrl-C');
    p.signal('SIGINT');
    const r = await p.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await rest.exists('/cli-eph/me'), null, 'gone at once, not at the session timeout');
    // sequential ephemeral, stopped by SIGTERM, with --json
    const q = new ZgProcess(['create', '/cli-eph/n-', '--mode', 'ephemeral_sequential', '--json', '--server', server.url]);
    const created = JSON.parse((await q.waitLines(1))[0]!);
    assert.equal(created.path, '/cli-eph/n-0000000001');
    q.signal('SIGTERM');
    assert.equal((await q.exited).code, 0);
    assert.equal(await rest.exists(created.path), null);
  });

  test('watch streams one line per change until --count; -R covers the subtree; --json lines are the API events; Ctrl-C exits 0', async () => {
    await rest.create('/cli-watch', '0');
    const w = new ZgProcess(['watch', '/cli-watch', '-n', '3', '--server', server.url]);
    await w.waitStderr('watching /cli-watch');
    const s1 = await rest.set('/cli-watch', '1');
    await rest.create('/cli-watch/kid', '');
    await rest.delete('/cli-watch/kid');
    const r = await w.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split('\n').map((l) => l.split(' ').slice(0, 2).join(' ')), [
      'NodeDataChanged /cli-watch', 'NodeChildrenChanged /cli-watch', 'NodeChildrenChanged /cli-watch',
    ]);
    assert.equal(r.stdout.split('\n')[0], `NodeDataChanged /cli-watch 0x${s1.stat.mzxid.toString(16)}`);

    // recursive, JSON: readiness is the server listing the watch (no note on stderr in --json mode)
    const j = new ZgProcess(['watch', '/cli-watch', '-R', '--json', '--server', server.url]);
    await until('the recursive watch to be registered', async () => {
      const wchp = (await (await fetch(`${server.url}/commands/wchp`)).json()) as { path_to_session_ids: Record<string, unknown> };
      return Object.keys(wchp.path_to_session_ids).includes('/cli-watch') && Object.keys(wchp.path_to_session_ids).length > 0;
    });
    await rest.create('/cli-watch/a', '');
    await rest.create('/cli-watch/a/b', '');
    await j.waitLines(2);
    j.signal('SIGINT');
    const jr = await j.exited;
    assert.equal(jr.code, 0, jr.stderr);
    assert.equal(jr.stderr, '', 'nothing but JSON in --json mode');
    const events = jr.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => [e.type, e.event, e.path]), [['event', 'NodeCreated', '/cli-watch/a'], ['event', 'NodeCreated', '/cli-watch/a/b']]);
    assert.ok(events.every((e) => Number.isSafeInteger(e.zxid)));
  });

  test('lock: COMMAND sees its lock node; Ctrl-C goes to COMMAND, whose code is the answer; --timeout 0 only takes a free lock; 127 for a COMMAND not found. elect --json; Ctrl-C stops a waiting queue take with 130', async (t) => {
    const p = new ZgProcess(['lock', '/cli-lock', '--server', server.url, '--',
      'sh', '-c', 'trap \'echo "got INT"; exit 42\' INT; echo "$ZOOGATE_LOCK_NODE"; i=0; while [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done']);
    const e = new ZgProcess(['elect', '/cli-elect', '--id', 'solo', '--json', '--server', server.url]);
    const take = new ZgProcess(['queue', 'take', '/cli-queue', '--server', server.url]);
    t.after(() => [p, e, take].forEach((x) => x.killGroup()));
    const [node] = await p.waitLines(1);
    assert.match(node!, /^\/cli-lock\/_c_[0-9a-f-]{36}-lock-\d{10}$/);
    assert.equal((await rest.get(node!, { as: 'utf8' })).data, `${hostname()}:${p.proc.pid}`, 'the lock node says who holds it');
    const [busy, missing] = await Promise.all([
      // (z() would put --server after the --, into COMMAND)
      zg(['lock', '/cli-lock', '--timeout', '0', '--server', server.url, '--', 'sh', '-c', 'echo ran']),
      zg(['lock', '/cli-lock-2', '--timeout', '0', '--server', server.url, '--', '/nonexistent/command']),
    ]);
    assert.deepEqual([busy.code, busy.stdout], [6, ''], busy.stderr);
    assert.equal(busy.stderr, 'zoogate: OperationTimeout: lock /cli-lock not acquired within 0 s\n');
    assert.equal(missing.code, 127, missing.stderr);
    assert.match(missing.stderr, /zoogate: cannot run \/nonexistent\/command: ENOENT\n$/);
    p.signal('SIGINT');
    const r = await p.exited;
    assert.deepEqual([r.code, r.stdout], [42, `${node}\ngot INT\n`], r.stderr);
    assert.equal(await rest.exists(node!), null, 'released');

    assert.deepEqual((await e.waitLines(1)).map((l) => JSON.parse(l)), [{ path: '/cli-elect', id: 'solo', role: 'leader', leader: 'solo' }]);
    e.signal('SIGTERM');
    const er = await e.exited;
    assert.deepEqual([er.code, er.stderr], [0, '']);

    await take.waitStderr('zoogate: waiting for an item in /cli-queue\n');
    take.signal('SIGINT');
    const tr = await take.exited;
    assert.deepEqual([tr.code, tr.stdout], [130, ''], tr.stderr);
  });

  test('get --watch prints the value, then the next one; a delete instead exits 2', async () => {
    await rest.create('/cli-getw', 'one');
    const p = new ZgProcess(['get', '/cli-getw', '--watch', '--server', server.url]);
    await p.waitLines(1);
    await rest.set('/cli-getw', 'two');
    const r = await p.exited;
    assert.deepEqual([r.code, r.stdout], [0, 'one\ntwo\n']);
    assert.match(r.stderr, /^zoogate: NodeDataChanged \/cli-getw 0x[0-9a-f]+\n$/);

    const q = new ZgProcess(['get', '/cli-getw', '-w', '--json', '--server', server.url]);
    await q.waitLines(1);
    await rest.delete('/cli-getw');
    const qr = await q.exited;
    assert.equal(qr.code, EXIT.noNode);
    const [first, event] = qr.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(first.data, 'two');
    assert.deepEqual([event.type, event.event, event.path], ['event', 'NodeDeleted', '/cli-getw']);
    assert.equal(jsonError(qr).error.code, 'NoNode');
  });

  test('--server: a list tried in order (a dead first URL is skipped), host:port form, ZOOGATE_SERVER', async () => {
    const port = await deadPort();
    await rest.create('/cli-servers', 'here');
    let r = await zg(['get', '/cli-servers', '--server', `http://127.0.0.1:${port},${server.url}`]);
    assert.deepEqual([r.code, r.stdout], [0, 'here']);
    r = await zg(['get', '/cli-servers'], { env: { ZOOGATE_SERVER: server.url.replace('http://', '') } });
    assert.deepEqual([r.code, r.stdout], [0, 'here'], 'ZOOGATE_SERVER, host:port');
    r = await zg(['--server', server.url, 'get', '/cli-servers'], {});
    assert.deepEqual([r.code, r.stdout], [0, 'here'], 'global options before the command');
  });

  test('help: zoogate help lists the server and every client command; COMMAND --help has usage, options and examples', async () => {
    const top = await zg(['help']);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /\n {2}server {5}start one node/);
    assert.match(top.stdout, /\n {2}cluster {4}start a local ensemble/);
    assert.match(top.stdout, /--peer-port/, 'the server options are still there');
    for (const c of COMMANDS) assert.match(top.stdout, new RegExp(`\\n  ${c.name} +${c.summary.replace(/[()[\]|.*+?]/g, '\\$&')}\\n`));
    assert.equal((await zg(['--help'])).stdout, top.stdout);
    // the real thing for two commands; the text of every command is the same function's
    const createHelp = await zg(['create', '--help']);
    assert.equal(createHelp.code, 0);
    assert.equal(createHelp.stdout, commandHelp(findCommand('create')!));
    assert.match(createHelp.stdout, /^usage: zoogate create PATH \[DATA\|-\] \[-m\|--mode MODE\] \[-e\|--ephemeral\] .* \[--acl ACL\] \[--session-timeout S\]\n/);
    const viaHelp = await zg(['help', 'get']);
    assert.equal(viaHelp.stdout, commandHelp(findCommand('get')!));
    assert.match(viaHelp.stdout, /^usage: zoogate get PATH \[-s\|--stat\] \[-w\|--watch\]\n/);
    // a command's own --timeout (what lock waits for) replaces the global one in its help
    const lockHelp = commandHelp(findCommand('lock')!);
    assert.match(lockHelp, /^usage: zoogate lock PATH \[--timeout S\] \[--session-timeout S\] -- COMMAND\.\.\.\n/);
    assert.match(lockHelp, /\noptions:\n +--timeout S +give up waiting for the lock/);
    assert.doesNotMatch(lockHelp.slice(lockHelp.indexOf('\nclient options:'), lockHelp.indexOf('\nexamples:')), /--timeout/);
    assert.match(commandHelp(findCommand('get')!), /--timeout S +how long to keep trying to reach the ensemble/);
    assert.match(commandHelp(findCommand('elect')!), /^usage: zoogate elect PATH \[--id NAME\] \[--session-timeout S\] \[-- COMMAND\.\.\.\]\n/);
    for (const c of COMMANDS) {
      const h = commandHelp(c);
      assert.ok(h.startsWith(`usage: zoogate ${c.name}`), h);
      assert.match(h, /\nexamples:\n {2}.*zoogate /);
      assert.match(h, /--server URL/);
      for (const o of c.options) assert.ok(h.includes(`--${o.name}`), `${c.name} --help shows --${o.name}`);
    }
  });

  test('every command has an implementation and a section in docs/cli.md; the exit-code table there is the code\'s', () => {
    const doc = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');
    for (const c of COMMANDS) {
      assert.ok(RUNNERS[c.name], `${c.name} is implemented`);
      assert.match(doc, new RegExp(`\\n### \`${c.name}[ \`]`), `docs/cli.md documents ${c.name}`);
    }
    const table = [...doc.matchAll(/^\| (\d+) \| ([^|]+) \|/gm)].map((m) => Number(m[1]));
    const codes = [...new Set(Object.values(EXIT))].sort((a, b) => a - b);
    assert.deepEqual(table, codes);
  });

  test('docs/cli.md names every option of a command in that command\'s section, and every global option', () => {
    const doc = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');
    for (const c of COMMANDS) {
      const start = doc.search(new RegExp(`\\n### \`${c.name}[ \`]`));
      const rest = doc.slice(start + 1);
      const end = rest.search(/\n##/);
      const section = end < 0 ? rest : rest.slice(0, end);
      for (const o of c.options) assert.ok(section.includes(`--${o.name}`), `docs/cli.md's ${c.name} section names --${o.name}`);
      // the usage line of the heading: `lock` must have its COMMAND, `elect` may
      if (c.runsCommand) assert.ok(section.split('\n')[0]!.includes(c.runsCommand === 'required' ? ' -- COMMAND...`' : '[-- COMMAND...]`'), section.split('\n')[0]);
    }
    const connecting = doc.slice(doc.indexOf('\n## Connecting'), doc.indexOf('\n## Output'));
    for (const o of GLOBAL_OPTIONS) if (o.name !== 'help') assert.ok(connecting.includes(`--${o.name}`), `docs/cli.md's Connecting names --${o.name}`);
  });
});
