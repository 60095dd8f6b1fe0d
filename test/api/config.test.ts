// Server settings: defaults, flags over environment, refusals with the setting's name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../api/config.ts';
import { zabConfig } from '../../api/server-node.ts';

test('--direct-commit: on by default, off by flag or ZOOGATE_DIRECT_COMMIT, the flag winning; it reaches the protocol', () => {
  assert.equal(loadConfig([], {}).directCommit, true);
  assert.equal(loadConfig(['--direct-commit', 'off'], {}).directCommit, false);
  assert.equal(loadConfig([], { ZOOGATE_DIRECT_COMMIT: 'off' }).directCommit, false);
  assert.equal(loadConfig(['--direct-commit', 'on'], { ZOOGATE_DIRECT_COMMIT: 'off' }).directCommit, true);
  assert.equal(zabConfig(loadConfig(['--direct-commit', 'off'], {})).directCommit, false);
  assert.throws(() => loadConfig(['--direct-commit', 'yes'], {}), (e: Error) => e instanceof ConfigError && /--direct-commit must be on or off/.test(e.message));
});

test('--log-sync: inline by default; deferred by flag; anything else refused', () => {
  assert.equal(loadConfig([], {}).logSync, 'inline');
  assert.equal(loadConfig(['--log-sync', 'deferred'], {}).logSync, 'deferred');
  assert.throws(() => loadConfig([], { ZOOGATE_LOG_SYNC: 'async' }), (e: Error) => e instanceof ConfigError && /--log-sync must be deferred or inline/.test(e.message));
});
