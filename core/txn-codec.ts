import type { Acl, AclEntry } from './acl.ts';
import { BinaryReader, BinaryWriter, CodecError } from './codec.ts';
import { assertNever } from './errors.ts';
import { NodeKind, type LoggedTxn, type Txn } from './txn.ts';

/**
 * The transaction's bytes: what the log stores and the leader ships to
 * followers. Version byte first so the format can change with a migration.
 */
const FORMAT_VERSION = 1;
const TAG = { create: 1, delete: 2, setData: 3, setACL: 4, check: 5, multi: 6, createSession: 7, closeSession: 8 } as const;

export function writeAcl(w: BinaryWriter, acl: Acl): void {
  w.u32(acl.length);
  for (const a of acl) w.str(a.scheme).str(a.id).u8(a.perms);
}

export function readAcl(r: BinaryReader): AclEntry[] {
  const n = r.u32();
  const acl: AclEntry[] = [];
  for (let i = 0; i < n; i++) acl.push({ scheme: r.str(), id: r.str(), perms: r.u8() });
  return acl;
}

export function writeTxn(w: BinaryWriter, t: Txn): void {
  switch (t.type) {
    case 'create':
      w.u8(TAG.create).str(t.path).bytes(t.data);
      writeAcl(w, t.acl);
      w.optStr(t.ephemeralOwner).u8(t.kind).num(t.ttlMs).i32(t.parentCVersion);
      return;
    case 'delete':
      w.u8(TAG.delete).str(t.path);
      return;
    case 'setData':
      w.u8(TAG.setData).str(t.path).bytes(t.data).i32(t.version);
      return;
    case 'setACL':
      w.u8(TAG.setACL).str(t.path);
      writeAcl(w, t.acl);
      w.i32(t.aversion);
      return;
    case 'check':
      w.u8(TAG.check).str(t.path).i32(t.version);
      return;
    case 'multi':
      w.u8(TAG.multi).u32(t.txns.length);
      for (const s of t.txns) writeTxn(w, s);
      return;
    case 'createSession':
      w.u8(TAG.createSession).str(t.sessionId).num(t.timeoutMs);
      return;
    case 'closeSession':
      w.u8(TAG.closeSession).str(t.sessionId).u8(t.expired ? 1 : 0).u32(t.paths.length);
      for (const p of t.paths) w.str(p);
      return;
    default:
      assertNever(t);
  }
}

export function readTxn(r: BinaryReader): Txn {
  const tag = r.u8();
  switch (tag) {
    case TAG.create: {
      const path = r.str();
      const data = r.bytesCopy();
      const acl = readAcl(r);
      const ephemeralOwner = r.optStr();
      const kind = r.u8();
      if (kind > NodeKind.TTL) throw new CodecError(`bad node kind ${kind}`);
      return { type: 'create', path, data, acl, ephemeralOwner, kind: kind as NodeKind, ttlMs: r.num(), parentCVersion: r.i32() };
    }
    case TAG.delete:
      return { type: 'delete', path: r.str() };
    case TAG.setData:
      return { type: 'setData', path: r.str(), data: r.bytesCopy(), version: r.i32() };
    case TAG.setACL:
      return { type: 'setACL', path: r.str(), acl: readAcl(r), aversion: r.i32() };
    case TAG.check:
      return { type: 'check', path: r.str(), version: r.i32() };
    case TAG.multi: {
      const n = r.u32();
      const txns: Txn[] = [];
      for (let i = 0; i < n; i++) txns.push(readTxn(r));
      return { type: 'multi', txns };
    }
    case TAG.createSession:
      return { type: 'createSession', sessionId: r.str(), timeoutMs: r.num() };
    case TAG.closeSession: {
      const sessionId = r.str();
      const expired = r.u8() === 1;
      const n = r.u32();
      const paths: string[] = [];
      for (let i = 0; i < n; i++) paths.push(r.str());
      return { type: 'closeSession', sessionId, paths, expired };
    }
    default:
      throw new CodecError(`unknown txn tag ${tag}`);
  }
}

/** zxid and time are stored beside the body too (the log's key), but the body is self-contained. */
export function encodeLoggedTxn(t: LoggedTxn, w = new BinaryWriter()): Uint8Array {
  w.reset();
  w.u8(FORMAT_VERSION).num(t.zxid).num(t.time);
  writeTxn(w, t.txn);
  return w.finish();
}

export function decodeLoggedTxn(bytes: Uint8Array): LoggedTxn {
  const r = new BinaryReader(bytes);
  const v = r.u8();
  if (v !== FORMAT_VERSION) throw new CodecError(`unknown txn format ${v}`);
  const zxid = r.num();
  const time = r.num();
  const txn = readTxn(r);
  r.end();
  return { zxid, time, txn };
}
