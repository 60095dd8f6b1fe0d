/**
 * The shapes the client speaks, all taken from the types generated from
 * openapi.yaml (`npm run gen:api`): nothing here restates a field by hand, so
 * a change to the spec that the client does not follow fails to compile.
 */
import type { components } from '../api/generated/openapi.ts';

type S = components['schemas'];

export type Stat = S['Stat'];
export type Zxid = S['Zxid'];
export type SessionId = S['SessionId'];
export type CreateMode = S['CreateMode'];
export type DataEncoding = S['DataEncoding'];
export type AclEntry = S['AclEntry'];
export type AclList = S['AclList'];
export type ErrorCode = S['ErrorCode'];
export type StreamErrorCode = S['StreamErrorCode'];
export type ErrorDetail = S['ErrorDetail'];
export type MultiOpOutcome = S['MultiOpOutcome'];
export type MultiOp = S['MultiOp'];
export type MultiResult = S['MultiResult'];
export type MultiResponse = S['MultiResponse'];
export type SyncResponse = S['SyncResponse'];
export type ZnodeData = S['ZnodeData'];
export type ZnodeChildren = S['ZnodeChildren'];
export type ZnodeAcl = S['ZnodeAcl'];
export type ZnodeCreated = S['ZnodeCreated'];
export type ZnodeSet = S['ZnodeSet'];
export type SessionJson = S['Session'];
export type SessionInfo = S['SessionInfo'];
export type Cluster = S['Cluster'];
export type WatchKind = S['WatchKind'];
export type RemoveWatchKind = S['RemoveWatchKind'];
export type PersistentWatchMode = S['PersistentWatchMode'];
export type WatchEventType = S['WatchEventType'];

/** A watch notification, as the WebSocket `event` frame carries it. */
export type WatchEvent = S['WsEvent'];

// ---- WebSocket frames ----

export type WsClientMessage = S['WsClientMessage'];
export type WsServerMessage = S['WsServerMessage'];
export type WsConnect = S['WsConnect'];
export type WsConnected = S['WsConnected'];
export type WsWatch = S['WsWatch'];
export type WsRequest = S['WsRequest'];
export type WsOp = WsRequest['op'];
/** The request frame of one op. */
export type WsRequestOf<O extends WsOp> = Extract<WsRequest, { op: O }>;
/** The parameters of one op: its request frame without the envelope. */
export type WsParams<O extends WsOp> = Omit<WsRequestOf<O>, 'type' | 'id' | 'op'>;

/**
 * The result of each op (the spec's WsResult table: the response does not
 * repeat the op, the client knows it by id). Every entry must be a member of
 * the generated `WsResult`, which the check below enforces.
 */
export interface WsResultMap {
  create: S['ZnodeCreated'];
  get: S['ZnodeData'];
  children: S['ZnodeChildren'];
  exists: S['WsExistsResult'];
  set: S['ZnodeSet'];
  delete: S['WsEmptyResult'];
  multi: S['MultiResponse'];
  sync: S['SyncResponse'];
  getAcl: S['ZnodeAcl'];
  setAcl: S['ZnodeAcl'];
  addWatch: S['WsEmptyResult'];
  removeWatches: S['WsEmptyResult'];
}
export type WsResultOf<O extends WsOp> = WsResultMap[O];

// Compile-time checks: the map covers exactly the ops of WsRequest, with results the spec allows.
type AssertTrue<T extends true> = T;
export type _OpsCovered = AssertTrue<[WsOp] extends [keyof WsResultMap] ? ([keyof WsResultMap] extends [WsOp] ? true : false) : false>;
export type _ResultsInSpec = AssertTrue<WsResultMap[WsOp] extends S['WsResult'] ? true : false>;

/** Znode data as the caller gives it: text (sent as UTF-8) or bytes. */
export type DataInput = string | Uint8Array;

/** A multi operation whose `data` may be bytes (sent as base64) or text. */
export type MultiOpInput = MultiOp extends infer T
  ? T extends { data?: string }
    ? Omit<T, 'data'> & (T extends { data: string } ? { data: DataInput } : { data?: DataInput })
    : T
  : never;

/** How read data is returned: bytes (the default) or text. */
export type DataAs = 'bytes' | 'utf8';
export type DataOf<A extends DataAs> = A extends 'utf8' ? string : Uint8Array;

/** `get`'s result: the data decoded to what was asked for, with the Stat. */
export interface ZnodeValue<D> {
  readonly path: string;
  readonly data: D;
  readonly stat: Stat;
}
