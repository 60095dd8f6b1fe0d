/**
 * Service registry and discovery against a real 3-process ensemble:
 * instances registered from sessions on every node come, change and go in a
 * discovery client's live cache; each strategy picks as it says (round robin,
 * random, sticky, least loaded, a strategy of the caller's, a filter, the
 * down-instance policy); an instance whose process stops disappears once its
 * session expires, and a registry with a session factory registers again in
 * a new session.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ZooGateSession } from '../../client/index.ts';
import { ServiceDiscovery, ServiceRegistry, type InstanceChange, type ServiceInstance } from '../../client/recipes/discovery.ts';
import { FreezableProxy, RecipeCluster, waitFor } from './coordination-support.ts';

describe('service discovery against a 3-process ensemble', { timeout: 90_000 }, () => {
  let rc: RecipeCluster;
  before(async () => {
    rc = await RecipeCluster.start();
  });
  after(async () => {
    await rc?.destroy();
  });

  const ids = (xs: readonly ServiceInstance[]) => xs.map((x) => x.id);

  test('instances registered on three nodes come, change and go in the cache; every strategy picks as specified', async () => {
    const basePath = '/d1/services';
    // three instances, a registry (and session) each, on three nodes; the client on a fourth session
    const [s1, s2, s3, client] = await rc.spread(4);
    const registries = [s1!, s2!, s3!].map((s) => new ServiceRegistry(s, { basePath }));
    const web = new ServiceDiscovery(client!, 'web', { basePath });
    const changes: string[] = [];
    web.onChange((_now, c: InstanceChange) => changes.push(`${c.type} ${c.type === 'removed' ? c.old.id : c.instance.id}`));
    await web.start();
    assert.deepEqual(web.instances(), [], 'nothing registered yet');

    const loads = [0.9, 0.1, 0.4];
    await Promise.all(registries.map((r, i) => r.register('web', { id: `web-${i}`, address: `10.0.0.${i + 1}`, port: 8080 + i, metadata: { load: loads[i], zone: i === 2 ? 'eu' : 'us' } })));
    await registries[0]!.register('api', { id: 'api-0', address: '10.0.1.1', port: 9000 });
    await web.catchUp();
    assert.deepEqual(ids(web.instances()), ['web-0', 'web-1', 'web-2'], 'the three web instances, and not the api one');
    assert.deepEqual(web.instance('web-2'), { name: 'web', id: 'web-2', address: '10.0.0.3', port: 8082, metadata: { load: 0.4, zone: 'eu' }, registeredAt: web.instance('web-2')!.registeredAt });
    assert.deepEqual([...changes].sort(), ['added web-0', 'added web-1', 'added web-2']);
    const rest = rc.rest();
    await rest.sync('/');
    assert.deepEqual(await ServiceDiscovery.services(rest, { basePath }), ['api', 'web']);
    const node = await rest.exists('/d1/services/web/web-1');
    assert.equal(node?.ephemeralOwner, s2!.sessionId, 'an instance is an ephemeral node of its registry\'s session');
    await assert.rejects(new ServiceRegistry(client!, { basePath }).register('web', { id: 'web-1', address: 'x', port: 1 }), { code: 'NodeExists' }, 'an id held by another live session');

    // round robin: each in turn, by id
    const rr = web.provider('roundRobin');
    assert.deepEqual(Array.from({ length: 6 }, () => rr.getInstance()!.id), ['web-0', 'web-1', 'web-2', 'web-0', 'web-1', 'web-2']);

    // random: only instances of the service, every one of them now and then
    const random = web.provider('random');
    const counts = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const id = random.getInstance()!.id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), ['web-0', 'web-1', 'web-2']);
    assert.ok([...counts.values()].every((n) => n > 40), `spread: ${[...counts]}`);

    // least loaded, from the metadata; follows updates
    const least = web.provider('leastLoaded');
    assert.equal(least.getInstance()!.id, 'web-1');
    await registries[1]!.update('web', 'web-1', { metadata: { load: 0.95 } });
    await web.catchUp();
    assert.equal(web.instance('web-1')!.metadata.load, 0.95);
    assert.equal(web.instance('web-1')!.metadata.zone, 'us', 'an update merges the metadata');
    assert.ok(changes.includes('updated web-1'));
    assert.equal(least.getInstance()!.id, 'web-2');
    assert.equal(web.provider({ kind: 'leastLoaded', field: 'missing' }).getInstance()!.id, 'web-0', 'no such field anywhere: all tie, in turn');

    // sticky: the same one while it is there, then another, and that one from then on
    const sticky = web.provider('sticky');
    const first = sticky.getInstance()!.id;
    assert.deepEqual(Array.from({ length: 4 }, () => sticky.getInstance()!.id), [first, first, first, first]);
    const holder = Number(first.slice(4));
    await registries[holder]!.unregister('web', first);
    await web.catchUp();
    assert.equal(web.instance(first), undefined);
    assert.ok(changes.includes(`removed ${first}`));
    const second = sticky.getInstance()!.id;
    assert.notEqual(second, first);
    assert.deepEqual(Array.from({ length: 3 }, () => sticky.getInstance()!.id), [second, second, second]);

    // a strategy of the caller's, a filter, and the down-instance policy
    const inZone = (zone: string) => (xs: readonly ServiceInstance[]) => xs.find((x) => x.metadata.zone === zone);
    const left = web.instances();
    const eu = left.find((x) => x.metadata.zone === 'eu');
    assert.equal(web.provider(inZone('eu')).getInstance()?.id, eu?.id);
    assert.equal(web.provider(inZone('mars')).getInstance(), null);
    assert.equal(web.provider(() => ({ ...left[0]!, id: 'not-registered' })).getInstance(), null, 'a strategy may only choose among the instances');
    const filtered = web.provider({ strategy: 'roundRobin', filter: (x) => x.id !== left[0]!.id });
    assert.deepEqual(Array.from({ length: 3 }, () => filtered.getInstance()!.id), [left[1]!.id, left[1]!.id, left[1]!.id]);
    const careful = web.provider({ strategy: 'roundRobin', downInstancePolicy: { errorThreshold: 2, timeoutMs: 60_000 } });
    careful.noteError(left[0]!);
    assert.ok(Array.from({ length: 4 }, () => careful.getInstance()!.id).includes(left[0]!.id), 'one error is not enough');
    careful.noteError(left[0]!);
    assert.deepEqual(Array.from({ length: 4 }, () => careful.getInstance()!.id), Array(4).fill(left[1]!.id), 'two errors: down');

    // closing the registries removes their instances, and the service's container node with them
    for (const r of registries) await r.close();
    await web.catchUp();
    assert.deepEqual(web.instances(), []);
    assert.equal(web.provider().getInstance(), null);
    await waitFor('the service nodes to be removed', async () => (await rest.exists('/d1/services')) === null, 5000);
    await web.close();
  });

  test('a stopped process\'s instance disappears once its session expires; a registry with a session factory registers again in a new session', async () => {
    const basePath = '/d2/services';
    const follower = [1, 2, 3].find((i) => i !== rc.leader)!;
    // the "process" that dies: its only way in is a proxy that will freeze
    const { session: doomed, proxy: doomedProxy } = await rc.frozenLater(follower, 600);
    const dead = new ServiceRegistry(doomed, { basePath });
    const deadEvents: string[] = [];
    dead.onEvent((e) => deadEvents.push(e.type === 'lost' ? `lost ${e.reason.code}` : e.type));
    // the survivor: its first session through a proxy that will freeze, the next ones straight to the ensemble
    const survivorProxy = await FreezableProxy.start(rc.url(follower));
    rc.proxies.push(survivorProxy);
    let opened = 0;
    const factory = async () => {
      const s = opened++ === 0
        ? await ZooGateSession.connect([survivorProxy.url], { timeoutMs: 600 })
        : await ZooGateSession.connect(rc.startingAt(rc.leader), { timeoutMs: 2000, shuffle: false });
      rc.sessions.push(s);
      return s;
    };
    const survivor = new ServiceRegistry(factory, { basePath });
    const survivorEvents: Array<{ type: string; sessionId?: string }> = [];
    survivor.onEvent((e) => survivorEvents.push(e.type === 'reregistered' ? { type: e.type, sessionId: e.sessionId } : { type: e.type }));

    const [clientSession] = await rc.spread(1);
    const web = new ServiceDiscovery(clientSession!, 'web', { basePath });
    const changes: string[] = [];
    web.onChange((_now, c) => changes.push(`${c.type} ${c.type === 'removed' ? c.old.id : c.instance.id}`));
    await web.start();
    await dead.register('web', { id: 'dead', address: '10.0.0.66', port: 80 });
    await survivor.register('web', { id: 'survivor', address: '10.0.0.77', port: 80, metadata: { load: 1 } });
    await web.catchUp();
    assert.deepEqual(ids(web.instances()), ['dead', 'survivor']);
    const firstSession = survivor.session!.sessionId;

    const frozenAt = Date.now();
    doomedProxy.freeze();
    survivorProxy.freeze();
    await waitFor('the dead instance to disappear', () => web.instance('dead') === undefined, 10_000);
    const took = Date.now() - frozenAt;
    // not before its session could have expired (its last ping was at most a third of the timeout before the freeze)
    assert.ok(took >= 350, `gone ${took} ms after the process stopped (session timeout ${doomed.timeoutMs} ms)`);
    await waitFor('the survivor to be registered again', () => survivorEvents.some((e) => e.type === 'reregistered'), 10_000);
    await web.catchUp();
    assert.deepEqual(ids(web.instances()), ['survivor']);
    const reregistered = survivorEvents.find((e) => e.type === 'reregistered')!;
    assert.notEqual(reregistered.sessionId, firstSession, 'in a new session');
    assert.equal(survivor.session!.sessionId, reregistered.sessionId);
    assert.equal((await rc.rest().exists('/d2/services/web/survivor', { sync: true }))?.ephemeralOwner, reregistered.sessionId, 'the node is the new session\'s');
    assert.deepEqual(web.instance('survivor')?.metadata, { load: 1 }, 'registered again as it was');
    // the cache saw it go with the old session and come back with the new one
    const survivorChanges = changes.filter((c) => c.endsWith(' survivor'));
    assert.equal(survivorChanges[0], 'added survivor');
    assert.ok(survivorChanges.lastIndexOf('added survivor') > survivorChanges.indexOf('removed survivor') && survivorChanges.includes('removed survivor'), survivorChanges.join(', '));
    await waitFor('the dead registry to learn', () => deadEvents.length > 0, 10_000);
    assert.deepEqual(deadEvents, ['lost SessionExpired'], 'a registry given a session reports its loss and does not come back');

    await survivor.close();
    await web.catchUp();
    assert.deepEqual(web.instances(), []);
    await web.close();
  });
});
