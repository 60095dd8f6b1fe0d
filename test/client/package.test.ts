// The SDK is importable by the package's name, as a dependent project would import it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from '../../client/index.ts';
import * as recipes from '../../client/recipes/index.ts';

test('zoogate/client and zoogate/recipes resolve to the client and every recipe', async () => {
  const byName = await import('zoogate/client');
  assert.equal(byName.ZooGateSession, client.ZooGateSession);
  assert.equal(byName.ZooGateRest, client.ZooGateRest);
  const r = await import('zoogate/recipes');
  for (const name of ['SimpleLock', 'Mutex', 'ReadWriteLock', 'Semaphore', 'LeaderLatch', 'Barrier', 'DoubleBarrier', 'DistributedQueue', 'PriorityQueue',
    'ServiceRegistry', 'ServiceDiscovery', 'TreeCache', 'NodeCache', 'ConfigWatcher', 'NamingService', 'DistributedCounter', 'atomicUpdate',
    'TwoPhaseCommitCoordinator', 'TwoPhaseCommitParticipant'] as const) {
    assert.equal(typeof (r as Record<string, unknown>)[name], 'function', name);
    assert.equal((r as Record<string, unknown>)[name], (recipes as Record<string, unknown>)[name], name);
  }
});
