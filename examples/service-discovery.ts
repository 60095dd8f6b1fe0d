/**
 * Service discovery (Curator's x-discovery): three instances of "web"
 * register (ephemeral nodes, each in a session of its own), a client keeps a
 * live cache of them and picks one by a strategy. Instances report their
 * load; one goes away and the client stops choosing it.
 *
 *   node --import tsx examples/service-discovery.ts [--server URL,...]
 */
import { ServiceDiscovery, ServiceRegistry } from '../client/recipes/index.ts';
import { ZooGateSession } from '../client/index.ts';
import { check, main, say, servers, sleep } from './support.ts';

main('service-discovery', async (base) => {
  const basePath = `${base}/services`;
  const factory = (first: number) => () => {
    const urls = servers();
    return ZooGateSession.connect([...urls.slice(first % urls.length), ...urls.slice(0, first % urls.length)], { shuffle: false });
  };
  // three instances, each a process of its own in real life: a registry (and session) each
  const registries = [0, 1, 2].map((i) => new ServiceRegistry(factory(i), { basePath }));
  const web = new ServiceDiscovery(factory(0), 'web', { basePath });
  try {
    const instances = await Promise.all(registries.map((r, i) => r.register('web', { id: `web-${i}`, address: '10.0.0.1', port: 8080 + i, metadata: { load: 0.5 } })));
    say(`registered ${instances.map((i) => `${i.id} (${i.address}:${i.port})`).join(', ')}`);
    // a client comes later: it loads what is registered, then follows every change
    web.onChange((list, change) => say(`discovery: ${change.type} ${change.type === 'removed' ? change.old.id : change.instance.id} -> ${list.length} instances`));
    await web.start();
    await web.catchUp();
    check(web.instances().length === 3, 'three instances seen');

    const rr = web.provider('roundRobin');
    const picks = [1, 2, 3, 4, 5, 6].map(() => rr.getInstance()!.id);
    say(`round robin: ${picks.join(' ')}`);
    check(new Set(picks).size === 3, 'round robin used every instance');

    await registries[0]!.update('web', 'web-0', { metadata: { load: 0.9 } });
    await registries[1]!.update('web', 'web-1', { metadata: { load: 0.1 } });
    await registries[2]!.update('web', 'web-2', { metadata: { load: 0.4 } });
    await web.catchUp();
    const least = web.provider('leastLoaded').getInstance();
    say(`least loaded: ${least?.id} (load ${String(least?.metadata.load)})`);
    check(least?.id === 'web-1', 'the least loaded instance');

    say('web-1 shuts down (its registry unregisters and closes its session)');
    await registries[1]!.close();
    await web.catchUp();
    for (let i = 0; i < 50 && web.instance('web-1') !== undefined; i++) await sleep(20);
    const after = web.provider('leastLoaded').getInstance();
    say(`least loaded now: ${after?.id}; instances: ${web.instances().map((i) => i.id).join(', ')}`);
    check(web.instance('web-1') === undefined && after?.id === 'web-2', 'web-1 is gone from the cache');
    say('OK service discovery: 3 instances registered, chosen round robin and by load; one went away and was no longer chosen');
  } finally {
    await web.close();
    for (const r of registries) await r.close().catch(() => {});
  }
});
