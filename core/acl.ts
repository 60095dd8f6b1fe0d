import { ZkError } from './errors.ts';

/** ZooDefs.Perms bit values. */
export const Perms = { READ: 1, WRITE: 2, CREATE: 4, DELETE: 8, ADMIN: 16, ALL: 31 } as const;

export interface AclEntry {
  readonly scheme: string;
  readonly id: string;
  /** Bitmask of Perms. */
  readonly perms: number;
}
export type Acl = readonly AclEntry[];

/** An identity a request is authenticated as (ZooKeeper's Id in authInfo). */
export interface AuthId {
  readonly scheme: string;
  readonly id: string;
}

const PERM_LETTERS: ReadonlyArray<[string, number]> = [
  ['c', Perms.CREATE], ['d', Perms.DELETE], ['r', Perms.READ], ['w', Perms.WRITE], ['a', Perms.ADMIN],
];

export function permsToString(perms: number): string {
  let s = '';
  for (const [letter, bit] of PERM_LETTERS) if (perms & bit) s += letter;
  return s;
}

export function parsePerms(s: string): number {
  let perms = 0;
  for (const ch of s) {
    const entry = PERM_LETTERS.find(([l]) => l === ch);
    if (!entry) throw new ZkError('InvalidACL', `invalid permission letter ${JSON.stringify(ch)} in ${JSON.stringify(s)}: use a subset of cdrwa`);
    perms |= entry[1];
  }
  return perms;
}

/** Parses `scheme:id:perms[,…]` (the Zoogate-Acl header, zkCli's form). The id may contain colons (digest, IPv6). */
export function parseAclHeader(text: string): AclEntry[] {
  const entries: AclEntry[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const first = part.indexOf(':');
    const last = part.lastIndexOf(':');
    if (first <= 0 || last === first) throw new ZkError('InvalidACL', `ACL entry ${JSON.stringify(part)} is not scheme:id:perms`);
    entries.push({ scheme: part.slice(0, first), id: part.slice(first + 1, last), perms: parsePerms(part.slice(last + 1)) });
  }
  return entries;
}

export const OPEN_ACL_UNSAFE: Acl = Object.freeze([Object.freeze({ scheme: 'world', id: 'anyone', perms: Perms.ALL })]);
export const READ_ACL_UNSAFE: Acl = Object.freeze([Object.freeze({ scheme: 'world', id: 'anyone', perms: Perms.READ })]);

/**
 * Interns ACLs so that a million nodes with the default ACL share one array
 * (ZooKeeper's ReferenceCountedACLCache does the same for the same reason).
 */
export class AclCache {
  private readonly byKey = new Map<string, Acl>();
  constructor() {
    this.byKey.set(aclKey(OPEN_ACL_UNSAFE), OPEN_ACL_UNSAFE);
    this.byKey.set(aclKey(READ_ACL_UNSAFE), READ_ACL_UNSAFE);
  }
  intern(acl: Acl): Acl {
    const key = aclKey(acl);
    let hit = this.byKey.get(key);
    if (!hit) {
      hit = Object.freeze(acl.map((a) => Object.freeze({ scheme: a.scheme, id: a.id, perms: a.perms })));
      this.byKey.set(key, hit);
    }
    return hit;
  }
}

function aclKey(acl: Acl): string {
  return acl.map((a) => `${a.scheme}\u0000${a.id}\u0000${a.perms}`).join('\u0001');
}

export function aclEquals(a: Acl, b: Acl): boolean {
  return a === b || aclKey(a) === aclKey(b);
}
