import { isUtf8 } from 'node:buffer';
import { type Acl, permsToString } from '../core/acl.ts';
import { assertNever } from '../core/errors.ts';
import type { TxnResult } from '../core/tree/apply-txn.ts';
import type { MultiResultJson } from './schema.ts';

/** How data travels in JSON: UTF-8 text when it is valid UTF-8 (unless base64 is asked), else base64. */
export function presentData(data: Uint8Array, forceBase64: boolean): { data: string; encoding: 'utf8' | 'base64' } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (!forceBase64 && isUtf8(buf)) return { data: buf.toString('utf8'), encoding: 'utf8' };
  return { data: buf.toString('base64'), encoding: 'base64' };
}

export interface AclJson {
  scheme: string;
  id: string;
  perms: string;
}

/** An ACL as JSON; digest ids are masked for a reader without ADMIN (FinalRequestProcessor's getACL). */
export function presentAcl(acl: Acl, maskDigests: boolean): AclJson[] {
  return acl.map((a) => ({
    scheme: a.scheme,
    id: maskDigests && a.scheme === 'digest' ? a.id.replace(/:.*/, ':x') : a.id,
    perms: permsToString(a.perms),
  }));
}

/** A multi sub-result as API.md spells it. */
export function presentMultiResult(r: TxnResult): MultiResultJson {
  switch (r.op) {
    case 'create': return { op: 'create', path: r.path, stat: r.stat };
    case 'set': return { op: 'set', stat: r.stat };
    case 'delete': return { op: 'delete' };
    case 'check': return { op: 'check' };
    case 'setACL':
    case 'multi':
    case 'createSession':
    case 'closeSession':
      throw new Error(`${r.op} is not a multi sub-result`);
    default:
      return assertNever(r);
  }
}

/** `/znodes` + the path with each segment percent-encoded. */
export function znodeLocation(path: string): string {
  return '/znodes' + (path === '/' ? '/' : path.split('/').map(encodeURIComponent).join('/'));
}
