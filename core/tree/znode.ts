import type { Acl } from '../acl.ts';
import type { SessionId } from '../ids.ts';
import { NodeKind } from '../txn.ts';

export const EMPTY_DATA = new Uint8Array(0);

/**
 * One znode. Fields are plain numbers and references (no nested Stat object)
 * because a million of these must fit in ZooKeeper's memory per node.
 * `cversion` is ZooKeeper's internal child counter: the number of children
 * ever created (the sequential suffix); the visible cversion is derived from it
 * (see statOf).
 */
export class ZNode {
  children: Map<string, ZNode> | null = null;
  data: Uint8Array;
  acl: Acl;
  mzxid: number;
  pzxid: number;
  mtime: number;
  version = 0;
  cversion = 0;
  aversion = 0;

  constructor(
    readonly name: string,
    readonly parent: ZNode | null,
    data: Uint8Array,
    acl: Acl,
    readonly czxid: number,
    readonly ctime: number,
    readonly ephemeralOwner: SessionId | null,
    readonly kind: NodeKind,
    readonly ttlMs: number,
  ) {
    this.data = data;
    this.acl = acl;
    this.mzxid = czxid;
    this.pzxid = czxid;
    this.mtime = ctime;
  }

  get numChildren(): number {
    return this.children === null ? 0 : this.children.size;
  }

  get path(): string {
    if (this.parent === null) return '/';
    if (this.parent.parent === null) return '/' + this.name;
    return this.parent.path + '/' + this.name;
  }
}

export interface Stat {
  czxid: number;
  mzxid: number;
  pzxid: number;
  ctime: number;
  mtime: number;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: string | null;
  dataLength: number;
  numChildren: number;
}

/**
 * The Stat a client sees. DataNode.copyStat: the visible cversion counts
 * creates and deletes of children, which is 2 * creates - children still
 * present (so /zookeeper, with two children it never "created", shows -2).
 */
export function statOf(n: ZNode): Stat {
  const numChildren = n.numChildren;
  return {
    czxid: n.czxid,
    mzxid: n.mzxid,
    pzxid: n.pzxid,
    ctime: n.ctime,
    mtime: n.mtime,
    version: n.version,
    cversion: n.cversion * 2 - numChildren,
    aversion: n.aversion,
    ephemeralOwner: n.ephemeralOwner,
    dataLength: n.data.length,
    numChildren,
  };
}

/** Int32 arithmetic for versions, as ZooKeeper's Java ints wrap. */
export function nextVersion(v: number): number {
  return (v + 1) | 0;
}

export { NodeKind };
