import { BinaryReader, BinaryWriter, CodecError } from './codec.ts';
import { ERROR_CODES, assertNever, type ErrorCode } from './errors.ts';
import type { MemberView, Origin, PeerMessage, PeerState, RemoteError } from './messages.ts';
import { CREATE_MODES, type CreateMode, type MultiOp, type WriteRequest } from './request/requests.ts';
import { readAcl, readTxn, writeAcl, writeTxn } from './txn-codec.ts';

/**
 * Peer messages on the wire: a version byte, a type tag, the fields. Invalid
 * input throws CodecError; the transport drops such a message and counts it.
 */
const VERSION = 1;
const TAGS = ['VOTE', 'CEPOCH', 'NEWEPOCH', 'ACKEPOCH', 'DIFF', 'TRUNC', 'SNAP', 'NEWLEADER', 'ACKLD', 'UPTODATE', 'PROPOSAL', 'ACK', 'COMMIT', 'PING', 'REQUEST', 'REPLY', 'SYNC', 'SYNCED', 'LOGGED'] as const;
const STATES: readonly PeerState[] = ['LOOKING', 'FOLLOWING', 'LEADING'];
const WRITE_OPS = ['create', 'set', 'delete', 'setACL', 'multi', 'createSession', 'closeSession', 'expireSession', 'deleteExpired'] as const;

function tagOf(t: PeerMessage['type']): number {
  return TAGS.indexOf(t);
}

export function encodePeerMessage(m: PeerMessage, w = new BinaryWriter()): Uint8Array {
  w.reset();
  w.u8(VERSION).u8(tagOf(m.type));
  switch (m.type) {
    case 'VOTE':
      w.u32(m.leader).num(m.zxid).num(m.peerEpoch).num(m.electionEpoch).u8(STATES.indexOf(m.state));
      break;
    case 'CEPOCH':
      w.num(m.acceptedEpoch).num(m.lastZxid);
      break;
    case 'NEWEPOCH':
      w.num(m.epoch);
      break;
    case 'ACKEPOCH':
      w.num(m.epoch).num(m.currentEpoch).num(m.lastZxid);
      break;
    case 'DIFF':
    case 'TRUNC':
    case 'ACKLD':
    case 'ACK':
    case 'COMMIT':
    case 'LOGGED':
      w.num(m.epoch).num(m.zxid);
      break;
    case 'SNAP':
      w.num(m.epoch).num(m.zxid).u32(m.chunks.length);
      for (const c of m.chunks) w.bytes(c);
      break;
    case 'NEWLEADER':
    case 'UPTODATE':
      w.num(m.epoch);
      break;
    case 'PROPOSAL':
      w.num(m.epoch).num(m.txn.zxid).num(m.txn.time);
      writeTxn(w, m.txn.txn);
      writeOrigin(w, m.origin);
      break;
    case 'PING':
      w.num(m.epoch).num(m.round).num(m.lastZxid).u32(m.touched.length);
      for (const s of m.touched) w.str(s);
      w.u32(m.view.length);
      for (const v of m.view) w.u32(v.id).u8(STATES.indexOf(v.state)).num(v.lastZxid);
      break;
    case 'REQUEST':
      w.num(m.epoch).num(m.incarnation).num(m.reqId);
      writeRequest(w, m.req);
      w.optStr(m.sessionId).u32(m.auth.length);
      for (const a of m.auth) w.str(a.scheme).str(a.id);
      break;
    case 'REPLY':
      w.num(m.epoch).num(m.reqId).u8(ERROR_CODES.indexOf(m.error.code)).str(m.error.message).optStr(m.error.path)
        .num(m.error.failedOp ?? -1).num(m.error.opCount ?? -1).num(m.afterZxid);
      break;
    case 'SYNC':
      w.num(m.epoch).num(m.reqId);
      break;
    case 'SYNCED':
      w.num(m.epoch).num(m.reqId).num(m.zxid);
      break;
    default:
      assertNever(m);
  }
  return w.finish();
}

export function decodePeerMessage(bytes: Uint8Array): PeerMessage {
  const r = new BinaryReader(bytes);
  const v = r.u8();
  if (v !== VERSION) throw new CodecError(`unknown peer message version ${v}`);
  const type = TAGS[r.u8()];
  if (type === undefined) throw new CodecError('unknown peer message type');
  let m: PeerMessage;
  switch (type) {
    case 'VOTE': {
      const leader = r.u32(), zxid = r.num(), peerEpoch = r.num(), electionEpoch = r.num();
      const state = STATES[r.u8()];
      if (state === undefined) throw new CodecError('bad peer state');
      m = { type, leader, zxid, peerEpoch, electionEpoch, state };
      break;
    }
    case 'CEPOCH':
      m = { type, acceptedEpoch: r.num(), lastZxid: r.num() };
      break;
    case 'NEWEPOCH':
      m = { type, epoch: r.num() };
      break;
    case 'ACKEPOCH':
      m = { type, epoch: r.num(), currentEpoch: r.num(), lastZxid: r.num() };
      break;
    case 'DIFF':
    case 'TRUNC':
    case 'ACKLD':
    case 'ACK':
    case 'COMMIT':
    case 'LOGGED':
      m = { type, epoch: r.num(), zxid: r.num() };
      break;
    case 'SNAP': {
      const epoch = r.num(), zxid = r.num();
      const chunks: Uint8Array[] = [];
      for (let n = r.u32(); n > 0; n--) chunks.push(r.bytesCopy());
      m = { type, epoch, zxid, chunks };
      break;
    }
    case 'NEWLEADER':
    case 'UPTODATE':
      m = { type, epoch: r.num() };
      break;
    case 'PROPOSAL': {
      const epoch = r.num(), zxid = r.num(), time = r.num();
      const txn = readTxn(r);
      m = { type, epoch, txn: { zxid, time, txn }, origin: readOrigin(r) };
      break;
    }
    case 'PING': {
      const epoch = r.num(), round = r.num(), lastZxid = r.num();
      const touched: string[] = [];
      for (let n = r.u32(); n > 0; n--) touched.push(r.str());
      const view: MemberView[] = [];
      for (let n = r.u32(); n > 0; n--) {
        const id = r.u32();
        const state = STATES[r.u8()];
        if (state === undefined) throw new CodecError('bad peer state');
        view.push({ id, state, lastZxid: r.num() });
      }
      m = { type, epoch, round, touched, lastZxid, view };
      break;
    }
    case 'REQUEST': {
      const epoch = r.num(), incarnation = r.num(), reqId = r.num();
      const req = readRequest(r);
      const sessionId = r.optStr();
      const auth: Array<{ scheme: string; id: string }> = [];
      for (let n = r.u32(); n > 0; n--) auth.push({ scheme: r.str(), id: r.str() });
      m = { type, epoch, incarnation, reqId, req, sessionId, auth };
      break;
    }
    case 'REPLY': {
      const epoch = r.num(), reqId = r.num();
      const code = ERROR_CODES[r.u8()];
      if (code === undefined) throw new CodecError('bad error code');
      const message = r.str(), path = r.optStr(), failedOp = r.num(), opCount = r.num();
      const error: RemoteError = { code: code as ErrorCode, message, path, failedOp: failedOp < 0 ? null : failedOp, opCount: opCount < 0 ? null : opCount };
      m = { type, epoch, reqId, error, afterZxid: r.num() };
      break;
    }
    case 'SYNC':
      m = { type, epoch: r.num(), reqId: r.num() };
      break;
    case 'SYNCED':
      m = { type, epoch: r.num(), reqId: r.num(), zxid: r.num() };
      break;
    default:
      return assertNever(type);
  }
  r.end();
  return m;
}

function writeOrigin(w: BinaryWriter, o: Origin | null): void {
  if (o === null) w.u8(0);
  else w.u8(1).u32(o.server).num(o.incarnation).num(o.reqId);
}

function readOrigin(r: BinaryReader): Origin | null {
  return r.u8() === 0 ? null : { server: r.u32(), incarnation: r.num(), reqId: r.num() };
}

function optNum(w: BinaryWriter, v: number | null): void {
  if (v === null) w.u8(0);
  else w.u8(1).num(v);
}
function readOptNum(r: BinaryReader): number | null {
  return r.u8() === 0 ? null : r.num();
}

const MULTI_OPS = ['create', 'set', 'delete', 'check'] as const;

function writeMultiOp(w: BinaryWriter, op: MultiOp): void {
  w.u8(MULTI_OPS.indexOf(op.op));
  if (op.op === 'check') w.str(op.path).i32(op.version);
  else writeRequest(w, op);
}

function readMultiOp(r: BinaryReader): MultiOp {
  const kind = MULTI_OPS[r.u8()];
  if (kind === undefined) throw new CodecError('unknown multi op');
  if (kind === 'check') return { op: 'check', path: r.str(), version: r.i32() };
  const sub = readRequest(r);
  if (sub.op !== kind) throw new CodecError(`multi op ${kind} holds ${sub.op}`);
  return sub as MultiOp;
}

export function writeRequest(w: BinaryWriter, q: WriteRequest): void {
  w.u8(WRITE_OPS.indexOf(q.op));
  switch (q.op) {
    case 'create':
      w.str(q.path).bytes(q.data).u8(CREATE_MODES.indexOf(q.mode)).u8(q.parents ? 1 : 0);
      optNum(w, q.ttlMs);
      if (q.acl === null) w.u8(0);
      else {
        w.u8(1);
        writeAcl(w, q.acl);
      }
      return;
    case 'set':
      w.str(q.path).bytes(q.data).i32(q.version);
      return;
    case 'delete':
      w.str(q.path).i32(q.version).u8(q.recursive ? 1 : 0);
      return;
    case 'setACL':
      w.str(q.path).i32(q.aversion);
      writeAcl(w, q.acl);
      return;
    case 'multi':
      w.u32(q.ops.length);
      for (const op of q.ops) writeMultiOp(w, op);
      return;
    case 'createSession':
      w.str(q.sessionId).num(q.timeoutMs);
      return;
    case 'closeSession':
    case 'expireSession':
      w.str(q.sessionId);
      return;
    case 'deleteExpired':
      w.str(q.path);
      return;
    default:
      assertNever(q);
  }
}

export function readRequest(r: BinaryReader): WriteRequest {
  const op = WRITE_OPS[r.u8()];
  switch (op) {
    case 'create': {
      const path = r.str(), data = r.bytesCopy();
      const mode = CREATE_MODES[r.u8()] as CreateMode | undefined;
      if (mode === undefined) throw new CodecError('bad create mode');
      const parents = r.u8() === 1;
      const ttlMs = readOptNum(r);
      const acl = r.u8() === 0 ? null : readAcl(r);
      return { op, path, data, mode, parents, ttlMs, acl };
    }
    case 'set':
      return { op, path: r.str(), data: r.bytesCopy(), version: r.i32() };
    case 'delete':
      return { op, path: r.str(), version: r.i32(), recursive: r.u8() === 1 };
    case 'setACL': {
      const path = r.str(), aversion = r.i32();
      return { op, path, aversion, acl: readAcl(r) };
    }
    case 'multi': {
      const ops: MultiOp[] = [];
      for (let n = r.u32(); n > 0; n--) ops.push(readMultiOp(r));
      return { op, ops };
    }
    case 'createSession':
      return { op, sessionId: r.str(), timeoutMs: r.num() };
    case 'closeSession':
    case 'expireSession':
      return { op, sessionId: r.str() };
    case 'deleteExpired':
      return { op, path: r.str() };
    case undefined:
      throw new CodecError('unknown request op');
    default:
      return assertNever(op);
  }
}
