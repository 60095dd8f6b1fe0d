/**
 * The ZooGate client: `ZooGateRest` (REST, generated from openapi.yaml) and
 * `ZooGateSession` (a session over the WebSocket, with watches and failover).
 */
export { ZooGateRest } from './rest.ts';
export type { CallOptions, CreateOptions, DeleteOptions, GetOptions, ReadOptions, RestOptions, VersionOptions } from './rest.ts';
export { ZooGateSession } from './session.ts';
export type {
  CreateOptions as SessionCreateOptions, GetOptions as SessionGetOptions, SessionOptions, SessionState, StateChange, Watcher, WatchOption,
} from './session.ts';
export { ZooGateError } from './errors.ts';
export type { ClientErrorCode, ZooGateErrorCode } from './errors.ts';
export type * from './types.ts';
