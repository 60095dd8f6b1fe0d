// Decoded znode data must own its bytes: a follower keeps every proposal's data in
// its tree for as long as the znode lives, and a view would pin the whole buffer
// the frame arrived in (a peer stream's read: many frames, up to 64 KiB).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NodeKind } from '../../core/tree/znode.ts';
import { decodePeerMessage, encodePeerMessage } from '../../core/message-codec.ts';
import { decodeLoggedTxn, encodeLoggedTxn } from '../../core/txn-codec.ts';
import { DataTree } from '../../core/tree/data-tree.ts';
import { decodeSnapshot, snapshotChunks } from '../../core/tree/snapshot-codec.ts';
import type { LoggedTxn } from '../../core/txn.ts';
import { OPEN_ACL_UNSAFE } from '../../core/acl.ts';

/** `bytes` placed inside a larger Buffer, as a socket read that carried other frames around it. */
function inBigBuffer(bytes: Uint8Array): Buffer {
  const big = Buffer.alloc(bytes.length + 64 * 1024, 0xee);
  big.set(bytes, 1000);
  return big.subarray(1000, 1000 + bytes.length);
}

function owns(data: Uint8Array, expected: string): void {
  assert.equal(Buffer.from(data).toString(), expected);
  assert.equal(data.byteOffset, 0, 'a view into the frame');
  assert.equal(data.buffer.byteLength, data.length, `pins a ${data.buffer.byteLength}-byte buffer for ${data.length} bytes of data`);
}

const created: LoggedTxn = {
  zxid: 0x100000001, time: 1700000000000,
  txn: { type: 'create', path: '/a', data: new TextEncoder().encode('hello'), acl: OPEN_ACL_UNSAFE, ephemeralOwner: null, kind: NodeKind.PERSISTENT, ttlMs: 0, parentCVersion: 1 },
};
const set: LoggedTxn = { zxid: 0x100000002, time: 1700000000001, txn: { type: 'setData', path: '/a', data: new TextEncoder().encode('world'), version: 1 } };

test('a PROPOSAL decoded from a peer read: its create and setData data are copies', () => {
  for (const [logged, text] of [[created, 'hello'], [set, 'world']] as const) {
    const m = decodePeerMessage(inBigBuffer(encodePeerMessage({ type: 'PROPOSAL', epoch: 1, txn: logged, origin: null })));
    assert.equal(m.type, 'PROPOSAL');
    if (m.type !== 'PROPOSAL') return;
    const txn = m.txn.txn;
    assert.ok(txn.type === 'create' || txn.type === 'setData');
    owns(txn.data, text);
  }
});

test('a logged transaction read back from storage: its data is a copy', () => {
  const t = decodeLoggedTxn(inBigBuffer(encodeLoggedTxn(created)));
  assert.equal(t.txn.type, 'create');
  if (t.txn.type === 'create') owns(t.txn.data, 'hello');
});

test('a forwarded REQUEST and a snapshot: data and chunks are copies', () => {
  const m = decodePeerMessage(inBigBuffer(encodePeerMessage({
    type: 'REQUEST', epoch: 1, incarnation: 1, reqId: 7, sessionId: null, auth: [],
    req: { op: 'set', path: '/a', data: new TextEncoder().encode('req'), version: -1 },
  })));
  assert.equal(m.type, 'REQUEST');
  if (m.type === 'REQUEST' && m.req.op === 'set') owns(m.req.data, 'req');
  else assert.fail('not a set request');

  const tree = new DataTree();
  tree.createNode('/s', new TextEncoder().encode('snapdata'), OPEN_ACL_UNSAFE, null, NodeKind.PERSISTENT, 0, 1, 5, 1);
  const chunks = snapshotChunks(tree, 100).map((c) => inBigBuffer(c));
  const back = decodeSnapshot(chunks);
  owns(back.get('/s')!.data, 'snapdata');
  const snap = decodePeerMessage(inBigBuffer(encodePeerMessage({ type: 'SNAP', epoch: 1, zxid: 5, chunks: [new TextEncoder().encode('c1')] })));
  if (snap.type === 'SNAP') owns(snap.chunks[0]!, 'c1');
  else assert.fail('not a SNAP');
});
