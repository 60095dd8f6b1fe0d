import { type Acl, type AclEntry, type AuthId, Perms } from './acl.ts';
import { ZkError } from './errors.ts';

/**
 * ZooKeeperServer.checkACL: a request may do `perm` on a node when any ACL
 * entry that grants `perm` matches one of its identities; `super` may do
 * anything; an empty ACL lets everyone through.
 */
export function checkAcl(acl: Acl, perm: number, ids: readonly AuthId[], path: string): void {
  if (acl.length === 0) return;
  for (const id of ids) if (id.scheme === 'super') return;
  for (const entry of acl) {
    if ((entry.perms & perm) === 0) continue;
    if (entry.scheme === 'world' && entry.id === 'anyone') return;
    for (const id of ids) if (id.scheme === entry.scheme && idMatches(entry.scheme, id.id, entry.id)) return;
  }
  throw new ZkError('NoAuth', undefined, path);
}

export function canAccess(acl: Acl, perm: number, ids: readonly AuthId[]): boolean {
  try {
    checkAcl(acl, perm, ids, '');
    return true;
  } catch {
    return false;
  }
}

function idMatches(scheme: string, have: string, want: string): boolean {
  if (scheme === 'ip') return ipMatches(have, want);
  return have === want;
}

/**
 * PrepRequestProcessor.fixupACL: an ACL must be non-empty; `auth` expands to
 * the requester's authenticated (digest) identities and is invalid without
 * one; other schemes must be known and their ids well formed. Duplicates go.
 */
export function fixupAcl(acl: Acl, ids: readonly AuthId[], path: string): AclEntry[] {
  const out: AclEntry[] = [];
  const seen = new Set<string>();
  const add = (e: AclEntry) => {
    const k = `${e.scheme}\u0000${e.id}\u0000${e.perms}`;
    if (!seen.has(k)) { seen.add(k); out.push(e); }
  };
  if (acl.length === 0) throw new ZkError('InvalidACL', 'an ACL needs at least one entry', path);
  for (const e of acl) {
    if (e.perms < 0 || e.perms > Perms.ALL || !Number.isInteger(e.perms)) throw new ZkError('InvalidACL', `invalid perms ${e.perms}`, path);
    switch (e.scheme) {
      case 'world':
        if (e.id !== 'anyone') throw new ZkError('InvalidACL', `the world scheme has one id, anyone (got ${JSON.stringify(e.id)})`, path);
        add(e);
        break;
      case 'auth': {
        const authenticated = ids.filter((i) => i.scheme === 'digest');
        if (authenticated.length === 0) throw new ZkError('InvalidACL', 'the auth scheme needs an authenticated request (Authorization: Basic)', path);
        for (const i of authenticated) add({ scheme: i.scheme, id: i.id, perms: e.perms });
        break;
      }
      case 'digest':
        // DigestAuthenticationProvider.isValid: id.split(":").length == 2, with Java's split (trailing empty parts dropped)
        if (javaSplit(e.id, ':').length !== 2) throw new ZkError('InvalidACL', `a digest id is user:base64(sha1(user:password)) (got ${JSON.stringify(e.id)})`, path);
        add(e);
        break;
      case 'ip':
        if (!validIpAclId(e.id)) throw new ZkError('InvalidACL', `invalid ip ACL id ${JSON.stringify(e.id)} (an IPv4 address, optionally /bits)`, path);
        add(e);
        break;
      default:
        throw new ZkError('InvalidACL', `unknown ACL scheme ${JSON.stringify(e.scheme)} (world, auth, digest, ip)`, path);
    }
  }
  return out;
}

/** Java's String.split: trailing empty strings are removed. */
function javaSplit(s: string, sep: string): string[] {
  const parts = s.split(sep);
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Java's Integer.parseInt: an optional sign, decimal digits, within 32 bits; null where it would throw. */
function javaParseInt(s: string): number | null {
  if (!/^[+-]?\d+$/.test(s)) return null;
  const v = Number(s);
  return v >= -2147483648 && v <= 2147483647 ? v : null;
}

/**
 * IPAuthenticationProvider.isValid in ZooKeeper 3.8: an IPv4 address of four
 * parseInt-able parts 0-255, optionally /bits (0-32). IPv6 ids are not valid there.
 */
function validIpAclId(id: string): boolean {
  const slash = id.indexOf('/');
  const addr = slash < 0 ? id : id.slice(0, slash);
  const parts = addr.split('.');
  if (parts.length !== 4) return false;
  for (const p of parts) {
    const v = javaParseInt(p);
    if (v === null || v < 0 || v > 255) return false;
  }
  if (slash >= 0) {
    const bits = javaParseInt(id.slice(slash + 1));
    if (bits === null || bits < 0 || bits > 32) return false;
  }
  return true;
}

interface IpMask { bytes: number[]; bits: number }

function parseIp(addr: string): number[] | null {
  if (addr.startsWith('::ffff:') && addr.includes('.')) addr = addr.slice(7);
  if (/^[+-]?\d+(\.[+-]?\d+){3}$/.test(addr)) {
    const b = addr.split('.').map((p) => javaParseInt(p) ?? -1);
    return b.every((x) => x >= 0 && x <= 255) ? b : null;
  }
  if (!/^[0-9a-fA-F:]+$/.test(addr) || !addr.includes(':')) return null;
  const halves = addr.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((h) => (h.length >= 1 && h.length <= 4 ? parseInt(h, 16) : NaN)));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0 || [...head, ...tail].some(Number.isNaN)) return null;
  const words = [...head, ...Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

function parseIpAcl(id: string): IpMask | null {
  const slash = id.indexOf('/');
  const bytes = parseIp(slash < 0 ? id : id.slice(0, slash));
  if (!bytes) return null;
  const bits = slash < 0 ? bytes.length * 8 : Number(id.slice(slash + 1));
  if (!Number.isInteger(bits) || bits < 0 || bits > bytes.length * 8) return null;
  return { bytes, bits };
}

function ipMatches(clientAddr: string, aclId: string): boolean {
  const mask = parseIpAcl(aclId);
  const client = parseIp(clientAddr);
  if (!mask || !client || client.length !== mask.bytes.length) return false;
  for (let bit = 0; bit < mask.bits; bit++) {
    const byte = bit >> 3;
    const m = 0x80 >> (bit & 7);
    if ((client[byte]! & m) !== (mask.bytes[byte]! & m)) return false;
  }
  return true;
}
