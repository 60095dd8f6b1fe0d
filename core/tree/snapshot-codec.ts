import type { Acl } from '../acl.ts';
import { BinaryReader, BinaryWriter, CodecError } from '../codec.ts';
import { crc32 } from '../crc32.ts';
import { invariant } from '../errors.ts';
import type { Zxid } from '../ids.ts';
import { parentOf } from '../paths.ts';
import { readAcl, writeAcl } from '../txn-codec.ts';
import { NodeKind } from '../txn.ts';
import { DataTree, type SnapshotImages } from './data-tree.ts';
import type { ZNode } from './znode.ts';

const MAGIC = 0x5a47534e; // "ZGSN"
const VERSION = 1;
const KIND_HEADER = 1;
const KIND_NODES = 2;

/** Frames a chunk with its CRC-32 so a damaged snapshot is detected on load. */
function seal(w: BinaryWriter): Uint8Array {
  const payload = w.finish();
  const out = new Uint8Array(payload.length + 4);
  new DataView(out.buffer).setUint32(0, crc32(payload));
  out.set(payload, 4);
  return out;
}

function open(chunk: Uint8Array): BinaryReader {
  if (chunk.length < 4) throw new CodecError('snapshot chunk too short');
  const payload = chunk.subarray(4);
  const want = new DataView(chunk.buffer, chunk.byteOffset, 4).getUint32(0);
  if (crc32(payload) !== want) throw new CodecError('snapshot chunk checksum mismatch');
  return new BinaryReader(payload);
}

/**
 * Serialises the tree as it is at construction, in chunks. Consistent: from
 * the moment it is built, the tree keeps images of nodes that change (copy on
 * write), so the caller may write one chunk per event-loop turn while
 * transactions keep being applied. close() (called by the last chunk, or early
 * by the caller) ends the copy on write.
 */
export class SnapshotEncoder {
  readonly zxid: Zxid;
  readonly nodeCount: number;
  private readonly nodes: ZNode[];
  private readonly handle: SnapshotImages;
  private header: Uint8Array | null;
  private next = 0;
  private closed = false;

  constructor(private readonly tree: DataTree, private readonly nodesPerChunk = 2048) {
    this.zxid = tree.lastProcessedZxid;
    const header = new BinaryWriter();
    header.u32(MAGIC).u8(VERSION).u8(KIND_HEADER).num(this.zxid).u32(tree.sessions.size);
    for (const s of tree.sessions.values()) header.str(s.sessionId).num(s.timeoutMs);
    const { nodes, handle } = tree.beginSnapshot();
    this.nodes = nodes;
    this.handle = handle;
    this.nodeCount = nodes.length;
    header.u32(this.nodes.length);
    this.header = seal(header);
  }

  /** The next chunk, or null when the snapshot is complete. */
  nextChunk(): Uint8Array | null {
    if (this.closed) return null;
    if (this.tree.generation !== this.handle.generation) throw new Error('the tree was replaced while a snapshot of it was being written');
    if (this.header !== null) {
      const h = this.header;
      this.header = null;
      return h;
    }
    if (this.next >= this.nodes.length) {
      this.close();
      return null;
    }
    const to = Math.min(this.nodes.length, this.next + this.nodesPerChunk);
    const chunk = encodeNodes(this.tree, this.handle, this.nodes, this.next, to);
    this.next = to;
    return chunk;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tree.endSnapshot(this.handle);
  }
}

/** Every chunk of a snapshot of the tree as it is now (tests, small trees). */
export function snapshotChunks(tree: DataTree, nodesPerChunk?: number): Uint8Array[] {
  const enc = new SnapshotEncoder(tree, nodesPerChunk);
  const chunks: Uint8Array[] = [];
  for (let c = enc.nextChunk(); c !== null; c = enc.nextChunk()) chunks.push(c);
  return chunks;
}

function encodeNodes(tree: DataTree, handle: SnapshotImages, nodes: ZNode[], from: number, to: number): Uint8Array {
  const acls: Acl[] = [];
  const aclIndex = new Map<Acl, number>();
  const body = new BinaryWriter(64 * 1024);
  for (let i = from; i < to; i++) {
    const n = nodes[i]!;
    const img = tree.imageOf(n, handle);
    let ai = aclIndex.get(img.acl);
    if (ai === undefined) {
      ai = acls.length;
      acls.push(img.acl);
      aclIndex.set(img.acl, ai);
    }
    body.str(n.path).bytes(img.data).u32(ai)
      .num(n.czxid).num(img.mzxid).num(img.pzxid).num(n.ctime).num(img.mtime)
      .i32(img.version).i32(img.cversion).i32(img.aversion)
      .optStr(n.ephemeralOwner).u8(n.kind).num(n.ttlMs);
  }
  const w = new BinaryWriter(body.length + 256);
  w.u8(KIND_NODES).u32(acls.length);
  for (const a of acls) writeAcl(w, a);
  w.u32(to - from).raw(body.finish());
  return seal(w);
}

/** Rebuilds a tree from a snapshot's chunks; throws CodecError on any damage. */
export function decodeSnapshot(chunks: Iterable<Uint8Array>): DataTree {
  const tree = new DataTree();
  let expected = -1;
  let seen = 0;
  let parentPath = '';
  let parent: ZNode | undefined;
  for (const chunk of chunks) {
    const r = open(chunk);
    if (expected < 0) {
      if (r.u32() !== MAGIC) throw new CodecError('not a ZooGate snapshot');
      const v = r.u8();
      if (v !== VERSION) throw new CodecError(`unknown snapshot version ${v}`);
      if (r.u8() !== KIND_HEADER) throw new CodecError('snapshot does not start with its header');
      tree.lastProcessedZxid = r.num();
      const sessions = r.u32();
      for (let i = 0; i < sessions; i++) tree.addSession(r.str(), r.num());
      expected = r.u32();
      r.end();
      continue;
    }
    if (r.u8() !== KIND_NODES) throw new CodecError('bad snapshot chunk kind');
    const acls: Acl[] = [];
    for (let i = r.u32(); i > 0; i--) acls.push(tree.acls.intern(readAcl(r)));
    for (let i = r.u32(); i > 0; i--) {
      const path = r.str();
      const data = r.bytesCopy();
      const acl = acls[r.u32()];
      if (acl === undefined) throw new CodecError('bad ACL index');
      const czxid = r.num(), mzxid = r.num(), pzxid = r.num(), ctime = r.num(), mtime = r.num();
      const version = r.i32(), cversion = r.i32(), aversion = r.i32();
      const owner = r.optStr();
      const kind = r.u8();
      if (kind > NodeKind.TTL) throw new CodecError(`bad node kind ${kind}`);
      const ttlMs = r.num();
      const pp = parentOf(path);
      if (pp !== parentPath) {
        parentPath = pp;
        parent = tree.get(pp);
      }
      if (path !== '/' && parent === undefined) throw new CodecError(`snapshot node ${path} before its parent`);
      tree.restoreNode(path, parent, { data, acl, czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner: owner, kind: kind as NodeKind, ttlMs });
      seen++;
    }
    r.end();
  }
  if (expected < 0) throw new CodecError('empty snapshot');
  if (seen !== expected) throw new CodecError(`snapshot has ${seen} nodes, header says ${expected}`);
  invariant(tree.nodeCount === expected, `restored ${tree.nodeCount} nodes, snapshot has ${expected}`);
  return tree;
}
