import type { DataAs, DataEncoding, DataInput, DataOf, MultiOp, MultiOpInput } from './types.ts';

const utf8 = new TextDecoder('utf-8');
const encoder = new TextEncoder();

/** Bytes of data given as text or bytes. */
export function toBytes(d: DataInput): Uint8Array {
  return typeof d === 'string' ? encoder.encode(d) : d;
}

/** Data as it travels in JSON (`data` + `encoding`): text as UTF-8, bytes as base64. */
export function toWire(d: DataInput): { data: string; encoding: DataEncoding } {
  if (typeof d === 'string') return { data: d, encoding: 'utf8' };
  return { data: Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64'), encoding: 'base64' };
}

/** Decodes JSON `data` (utf8 or base64) to bytes or text. */
export function fromWire<A extends DataAs>(data: string, encoding: DataEncoding, as: A): DataOf<A> {
  if (as === 'utf8') {
    return (encoding === 'utf8' ? data : utf8.decode(Buffer.from(data, 'base64'))) as DataOf<A>;
  }
  const bytes = encoding === 'base64' ? Buffer.from(data, 'base64') : Buffer.from(data, 'utf8');
  return new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) as DataOf<A>;
}

/** A multi op with bytes or text data, as the spec's MultiOp. */
export function multiOpToWire(op: MultiOpInput): MultiOp {
  if ((op.op === 'create' || op.op === 'set') && op.data !== undefined) {
    const { data, ...rest } = op;
    // text with an explicit encoding (say, base64 the caller made) travels as given
    if (typeof data === 'string' && 'encoding' in rest && rest.encoding !== undefined) return { ...rest, data } as MultiOp;
    return { ...rest, ...toWire(data) } as MultiOp;
  }
  return op as MultiOp;
}
