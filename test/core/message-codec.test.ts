// Every peer message survives its trip through the wire format, and a frame that is cut short,
// has bytes left over, or names no known type is refused (CodecError) rather than half read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OPEN_ACL_UNSAFE } from '../../core/acl.ts';
import { CodecError } from '../../core/codec.ts';
import { decodePeerMessage, encodePeerMessage } from '../../core/message-codec.ts';
import type { PeerMessage, PeerMessageType } from '../../core/messages.ts';
import { NodeKind } from '../../core/txn.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const txn = { zxid: 0x200000003, time: 1_700_000_000_123, txn: { type: 'setData', path: '/a', data: bytes('v'), version: 2 } } as const;

// one of each: the mapped type makes a message type without a sample here a compile error
const SAMPLES: { [K in PeerMessageType]: Extract<PeerMessage, { type: K }> } = {
  VOTE: { type: 'VOTE', leader: 3, zxid: 0x100000009, peerEpoch: 1, electionEpoch: 4, state: 'LOOKING' },
  CEPOCH: { type: 'CEPOCH', acceptedEpoch: 1, lastZxid: 0x100000009 },
  NEWEPOCH: { type: 'NEWEPOCH', epoch: 2 },
  ACKEPOCH: { type: 'ACKEPOCH', epoch: 2, currentEpoch: 1, lastZxid: 0x100000009 },
  DIFF: { type: 'DIFF', epoch: 2, zxid: 0x100000007 },
  TRUNC: { type: 'TRUNC', epoch: 2, zxid: 0x100000008 },
  SNAP: { type: 'SNAP', epoch: 2, zxid: 0x100000009, chunks: [bytes('chunk-1'), bytes('')] },
  NEWLEADER: { type: 'NEWLEADER', epoch: 2 },
  ACKLD: { type: 'ACKLD', epoch: 2, zxid: 0x100000009 },
  UPTODATE: { type: 'UPTODATE', epoch: 2 },
  PROPOSAL: { type: 'PROPOSAL', epoch: 2, txn: { zxid: 0x200000001, time: 1_700_000_000_000, txn: { type: 'create', path: '/a', data: bytes('hello'), acl: OPEN_ACL_UNSAFE, ephemeralOwner: null, kind: NodeKind.PERSISTENT, ttlMs: 0, parentCVersion: 1 } }, origin: { server: 1, incarnation: 77, reqId: 12 } },
  ACK: { type: 'ACK', epoch: 2, zxid: 0x200000001 },
  COMMIT: { type: 'COMMIT', epoch: 2, zxid: 0x200000001 },
  PING: { type: 'PING', epoch: 2, round: 9, touched: ['00000000000000aa'], lastZxid: 0x200000001, view: [{ id: 1, state: 'FOLLOWING', lastZxid: 0x200000001 }, { id: 3, state: 'LEADING', lastZxid: 0x200000002 }] },
  REQUEST: { type: 'REQUEST', epoch: 2, incarnation: 77, reqId: 13, req: { op: 'set', path: '/a', data: bytes('v'), version: -1 }, sessionId: '00000000000000aa', auth: [{ scheme: 'digest', id: 'alice:x' }] },
  REPLY: { type: 'REPLY', epoch: 2, reqId: 13, error: { code: 'BadVersion', message: 'version 1, not 2', path: '/a', failedOp: null, opCount: null }, afterZxid: 0x200000002 },
  SYNC: { type: 'SYNC', epoch: 2, reqId: 14 },
  SYNCED: { type: 'SYNCED', epoch: 2, reqId: 14, zxid: 0x200000002 },
  LOGGED: { type: 'LOGGED', epoch: 2, zxid: 0x200000003 },
};

test('every message type decodes to what was encoded', () => {
  for (const m of [...Object.values(SAMPLES), { type: 'PROPOSAL', epoch: 2, txn, origin: null } as const]) {
    const back = decodePeerMessage(encodePeerMessage(m));
    assert.deepEqual(JSON.stringify(back, (_k, v) => (v instanceof Uint8Array ? [...v] : v)), JSON.stringify(m, (_k, v) => (v instanceof Uint8Array ? [...v] : v)), m.type);
  }
});

test('a frame cut short or with bytes left over is refused, never half read', () => {
  for (const m of Object.values(SAMPLES)) {
    const enc = encodePeerMessage(m).slice();
    for (let n = 0; n < enc.length; n++) assert.throws(() => decodePeerMessage(enc.subarray(0, n)), CodecError, `${m.type} cut to ${n} of ${enc.length} bytes`);
    const longer = new Uint8Array(enc.length + 1);
    longer.set(enc);
    assert.throws(() => decodePeerMessage(longer), CodecError, `${m.type} with a byte left over`);
  }
});

test('an unknown version or type is refused', () => {
  const enc = encodePeerMessage(SAMPLES.LOGGED).slice();
  assert.throws(() => decodePeerMessage(Uint8Array.from([enc[0]! + 1, ...enc.subarray(1)])), /unknown peer message version/);
  assert.throws(() => decodePeerMessage(Uint8Array.from([enc[0]!, 200, ...enc.subarray(2)])), /unknown peer message type/);
});
