import { type AclEntry, parsePerms } from '../core/acl.ts';
import { ZkError } from '../core/errors.ts';
import { CREATE_MODES, type CreateMode, type MultiOp, MAX_TTL_MS } from '../core/request/requests.ts';
import { INT32_MAX, INT32_MIN } from './http-util.ts';

export function parseMode(raw: string | null | undefined): CreateMode {
  if (raw === null || raw === undefined) return 'persistent';
  if (!(CREATE_MODES as readonly string[]).includes(raw)) {
    throw new ZkError('BadArguments', `unknown mode ${JSON.stringify(raw)} (one of ${CREATE_MODES.join(', ')})`);
  }
  return raw as CreateMode;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(o: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new ZkError('BadArguments', `${what}: unknown field ${JSON.stringify(k)}`);
}

function intField(o: Record<string, unknown>, k: string, def: number | null, min: number, max: number, what: string): number | null {
  const v = o[k];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ZkError('BadArguments', `${what}: ${k} must be an integer from ${min} to ${max}`);
  }
  return v;
}

function stringField(o: Record<string, unknown>, k: string, what: string, required: boolean): string | undefined {
  const v = o[k];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string') throw new ZkError('BadArguments', `${what}: ${k} must be a string`);
  return v;
}

/** JSON data with its encoding ("utf8", the default, or "base64"). */
export function decodeJsonData(o: Record<string, unknown>, what: string): Buffer {
  const data = stringField(o, 'data', what, false) ?? '';
  const enc = o.encoding ?? 'utf8';
  if (enc === 'utf8') return Buffer.from(data, 'utf8');
  if (enc === 'base64') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 === 1) throw new ZkError('BadArguments', `${what}: data is not valid base64`);
    return Buffer.from(data, 'base64');
  }
  throw new ZkError('BadArguments', `${what}: encoding must be utf8 or base64`);
}

/** An ACL as a JSON list of {scheme, id, perms: "cdrwa"} (PUT ?acl=true, multi create). */
export function parseAclJson(v: unknown): AclEntry[] {
  if (!Array.isArray(v)) throw new ZkError('InvalidACL', 'an ACL is a JSON list of {"scheme","id","perms"}');
  return v.map((e, i) => {
    if (!isObject(e) || typeof e.scheme !== 'string' || typeof e.id !== 'string' || typeof e.perms !== 'string') {
      throw new ZkError('InvalidACL', `ACL entry ${i} must be {"scheme":string,"id":string,"perms":"cdrwa"}`);
    }
    return { scheme: e.scheme, id: e.id, perms: parsePerms(e.perms) };
  });
}

/**
 * Parses and checks `{"ops":[…]}`; returns the ops and their data bytes in total.
 * Paths are not validated here: the ops are prepared in order, each validating
 * its own path, so a malformed path after a failing op answers as ZooKeeper does
 * (the first failing op's code, RuntimeInconsistency for the rest).
 */
export function parseMulti(body: unknown): { ops: MultiOp[]; dataBytes: number } {
  if (!isObject(body) || !Array.isArray(body.ops)) throw new ZkError('BadArguments', 'a multi body is {"ops":[…]}');
  checkKeys(body, ['ops'], 'multi');
  let dataBytes = 0;
  const ops = body.ops.map((raw, i): MultiOp => {
    const what = `ops[${i}]`;
    if (!isObject(raw)) throw new ZkError('BadArguments', `${what} must be an object`);
    const path = stringField(raw, 'path', what, true)!;
    switch (raw.op) {
      case 'create': {
        checkKeys(raw, ['op', 'path', 'data', 'encoding', 'mode', 'ttl', 'acl'], what);
        const mode = parseMode(raw.mode === undefined ? null : typeof raw.mode === 'string' ? raw.mode : '?');
        const data = decodeJsonData(raw, what);
        dataBytes += data.length;
        const ttlMs = intField(raw, 'ttl', null, 1, MAX_TTL_MS, what);
        return { op: 'create', path, data, mode, ttlMs, acl: raw.acl === undefined ? null : parseAclJson(raw.acl) };
      }
      case 'set': {
        checkKeys(raw, ['op', 'path', 'data', 'encoding', 'version'], what);
        if (raw.data === undefined) throw new ZkError('BadArguments', `${what}: set needs data (use "" for empty)`);
        const data = decodeJsonData(raw, what);
        dataBytes += data.length;
        return { op: 'set', path, data, version: intField(raw, 'version', -1, INT32_MIN, INT32_MAX, what)! };
      }
      case 'delete':
        checkKeys(raw, ['op', 'path', 'version'], what);
        return { op: 'delete', path, version: intField(raw, 'version', -1, INT32_MIN, INT32_MAX, what)! };
      case 'check':
        checkKeys(raw, ['op', 'path', 'version'], what);
        if (raw.version === undefined) throw new ZkError('BadArguments', `${what}: check needs a version`);
        return { op: 'check', path, version: intField(raw, 'version', -1, INT32_MIN, INT32_MAX, what)! };
      default:
        throw new ZkError('BadArguments', `${what}: op must be create, set, delete or check`);
    }
  });
  return { ops, dataBytes };
}
