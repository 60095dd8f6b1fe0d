/**
 * Server-to-client WebSocket text frames (RFC 6455 §5.2), built for a batch:
 * every message a connection sends in one turn goes out as one buffer in one
 * socket write, instead of the `ws` library's copy of each message into its
 * own buffer, a header buffer and two stream writes per message. Server frames
 * are unmasked and, with permessage-deflate off (ws-server.ts), uncompressed;
 * each message is one final frame (FIN set, opcode 1).
 */

/** The frames for `messages`, in order, in one buffer. */
export function textFrames(messages: readonly string[]): Buffer {
  const lengths = new Array<number>(messages.length);
  let total = 0;
  for (let i = 0; i < messages.length; i++) {
    const n = Buffer.byteLength(messages[i]!, 'utf8');
    lengths[i] = n;
    total += headerLength(n) + n;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < messages.length; i++) {
    const n = lengths[i]!;
    out[at++] = 0x81; // FIN, text
    if (n < 126) {
      out[at++] = n;
    } else if (n < 0x10000) {
      out[at++] = 126;
      out.writeUInt16BE(n, at);
      at += 2;
    } else {
      out[at++] = 127;
      out.writeUInt32BE(Math.floor(n / 0x100000000), at);
      out.writeUInt32BE(n >>> 0, at + 4);
      at += 8;
    }
    at += out.write(messages[i]!, at, n, 'utf8');
  }
  return out;
}

function headerLength(payload: number): number {
  return payload < 126 ? 2 : payload < 0x10000 ? 4 : 10;
}
