// The server frames its WebSocket answers itself (api/ws/frames.ts): a batch of text messages
// in one buffer. Checked byte for byte against the ws library's own framing and parsed back by
// its receiver, at every payload-length boundary (7-bit, 16-bit, 64-bit lengths), with text
// whose UTF-8 length differs from its length in characters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as wsLib from 'ws';
import { textFrames } from '../../api/ws/frames.ts';

// the library's own framing and parsing (exported by ws, not described by its types)
const { Receiver, Sender } = wsLib as unknown as {
  Sender: { frame(data: Buffer, o: object): Buffer[] };
  Receiver: new (o: object) => NodeJS.WritableStream & { on(e: string, f: (...a: any[]) => void): void };
};

/** A message of exactly `bytes` UTF-8 bytes, with multi-byte characters when it is long enough. */
function textOf(bytes: number): string {
  const head = bytes >= 7 ? 'é€😀' : ''; // 2 + 3 + 4 bytes in 3 characters (the emoji is two UTF-16 units)
  const headBytes = Buffer.byteLength(head);
  const s = bytes >= 9 ? head + 'x'.repeat(bytes - headBytes) : 'y'.repeat(bytes);
  assert.equal(Buffer.byteLength(s), bytes);
  return s;
}

const SIZES = [0, 1, 124, 125, 126, 127, 65_535, 65_536, 65_537, 200_000];

test('each frame is what ws itself would send, for payloads at every length boundary', () => {
  for (const n of SIZES) {
    const s = textOf(n);
    const ours = textFrames([s]);
    const theirs = Buffer.concat(Sender.frame(Buffer.from(s), { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }));
    assert.ok(ours.equals(theirs), `a ${n}-byte payload is framed as ws frames it`);
  }
});

test('a batch parses back, in order, to the same messages', async () => {
  const messages = [...SIZES.map(textOf), '{"type":"response","id":1}', 'ü'.repeat(63), 'ü'.repeat(64)];
  const batch = textFrames(messages);
  assert.equal(batch.length, messages.reduce((t, m) => {
    const n = Buffer.byteLength(m);
    return t + n + (n < 126 ? 2 : n < 65_536 ? 4 : 10);
  }, 0));
  const got: string[] = [];
  const r = new Receiver({ isServer: false, maxPayload: 0 });
  r.on('message', (d: Buffer, isBinary: boolean) => {
    assert.equal(isBinary, false);
    got.push(d.toString('utf8'));
  });
  r.on('error', (e: Error) => assert.fail(e));
  // in arbitrary pieces, as TCP may deliver it
  for (let at = 0; at < batch.length; at += 7_919) r.write(batch.subarray(at, at + 7_919));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(got, messages);
});
