/**
 * Configuration pushed to every process (Curator's CuratorCache, as
 * pub-sub): three subscribers on three servers follow a JSON config with a
 * `ConfigWatcher` (one persistent watch each) and see every change at once,
 * with no polling. Two admins `update` it concurrently (compare-and-set,
 * retried): neither change is lost. A `TreeCache` follows a whole subtree
 * of feature flags and reports each created, changed and deleted node.
 *
 *   node --import tsx examples/config-cache.ts [--server URL,...]
 */
import { ConfigWatcher, TreeCache } from '../client/recipes/index.ts';
import { check, connect, main, say, sleep } from './support.ts';

interface Config {
  maxConnections: number;
  features: string[];
}

main('config-cache', async (base) => {
  const path = `${base}/app/config`;
  const sessions = await Promise.all([0, 1, 2].map((i) => connect(i)));
  const subscribers = sessions.map((s) => new ConfigWatcher<Config>(s, path, { defaultValue: { maxConnections: 10, features: [] } }));
  const seen: Config[][] = subscribers.map(() => []);
  for (const [i, sub] of subscribers.entries()) {
    sub.onChange((value) => {
      seen[i]!.push(value!);
      say(`subscriber ${i} (server ${sessions[i]!.serverId}) now has ${JSON.stringify(value)}`);
    });
    await sub.start();
  }
  say(`before anything is written, everyone has the default: ${JSON.stringify(subscribers[0]!.value)}`);

  const admin = new ConfigWatcher<Config>(sessions[0]!, path, { defaultValue: { maxConnections: 10, features: [] } });
  await admin.set({ maxConnections: 50, features: [] });
  // two admins change different fields at the same moment: update() is a compare-and-set, retried
  const admin2 = new ConfigWatcher<Config>(sessions[1]!, path, { defaultValue: { maxConnections: 10, features: [] } });
  await Promise.all([
    admin.update((c) => ({ ...c!, maxConnections: c!.maxConnections * 2 })),
    admin2.update((c) => ({ ...c!, features: [...c!.features, 'dark-mode'] })),
  ]);
  for (const sub of subscribers) await sub.catchUp();
  const final = subscribers.map((s) => JSON.stringify(s.value));
  check(final.every((v) => v === JSON.stringify({ maxConnections: 100, features: ['dark-mode'] })), `every subscriber has both changes: ${final.join(' ')}`);
  check(seen.every((list) => list.length >= 2), 'every subscriber was told of the changes');

  // a subtree: feature flags, one node each
  const flags = `${base}/flags`;
  const cache = new TreeCache(sessions[2]!, flags);
  const events: string[] = [];
  cache.onChange((e) => {
    events.push(`${e.type} ${e.path.slice(flags.length + 1)}`);
    say(`flags cache: ${e.type} ${e.path}${e.type === 'deleted' ? '' : ` = ${e.entry.text}`}`);
  });
  await cache.start();
  const w = sessions[0]!;
  await w.create(`${flags}/beta-ui`, 'on', { parents: true });
  await w.create(`${flags}/new-billing`, 'off');
  await w.set(`${flags}/new-billing`, 'on');
  await w.delete(`${flags}/beta-ui`);
  await cache.catchUp();
  for (let i = 0; i < 50 && events.length < 5; i++) await sleep(20);
  check(['created beta-ui', 'created new-billing', 'changed new-billing', 'deleted beta-ui'].every((e) => events.includes(e)), `the cache saw each change: ${events.join(', ')}`);
  check(cache.get(`${flags}/new-billing`)?.text === 'on' && cache.get(`${flags}/beta-ui`) === undefined, 'the cache holds the current flags');
  await cache.close();
  for (const s of [...subscribers, admin, admin2]) await s.close();
  say('OK config cache: 3 subscribers got every config change pushed; concurrent updates both kept; the flags cache followed every change');
});
