/**
 * A small binary writer/reader over Uint8Array (no node:buffer in core/), used
 * for the transaction log, snapshots and peer messages. Integers up to 2^53 are
 * written as float64 where they can exceed 32 bits.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export class BinaryWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(initialSize);
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }
  u32(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.pos, v);
    this.pos += 4;
    return this;
  }
  i32(v: number): this {
    this.ensure(4);
    this.view.setInt32(this.pos, v);
    this.pos += 4;
    return this;
  }
  /** An integer in [-2^53, 2^53] (zxids, times, TTLs). */
  num(v: number): this {
    this.ensure(8);
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
    return this;
  }
  bytes(v: Uint8Array): this {
    this.u32(v.length);
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }
  str(v: string): this {
    // worst case 3 bytes per UTF-16 unit
    this.ensure(4 + v.length * 3);
    const { written } = encoder.encodeInto(v, this.buf.subarray(this.pos + 4));
    this.view.setUint32(this.pos, written);
    this.pos += 4 + written;
    return this;
  }
  /** null or a string. */
  optStr(v: string | null): this {
    if (v === null) return this.u8(0);
    return this.u8(1).str(v);
  }
  raw(v: Uint8Array): this {
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }
  /** The written bytes (a copy, so the writer can be reused). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
  reset(): void {
    this.pos = 0;
  }
}

export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

export class BinaryReader {
  private readonly view: DataView;
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new CodecError(`truncated record: need ${n} bytes at ${this.pos} of ${this.buf.length}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }
  num(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    if (!Number.isSafeInteger(v)) throw new CodecError(`not a safe integer: ${v}`);
    return v;
  }
  /** A view into the record (no copy). */
  bytes(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /**
   * A copy that owns its bytes. What outlives the record (znode data, a request's
   * data, snapshot chunks) is copied: a view would keep the whole buffer it came
   * from alive (a peer stream's read, many frames long) for as long as the znode
   * lives. Not `.slice()`: on a Buffer that is a view too.
   */
  bytesCopy(): Uint8Array {
    const v = this.bytes();
    const c = new Uint8Array(v.length);
    c.set(v);
    return c;
  }
  str(): string {
    const n = this.u32();
    this.need(n);
    const v = decoder.decode(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return v;
  }
  optStr(): string | null {
    return this.u8() === 0 ? null : this.str();
  }
  end(): void {
    if (this.pos !== this.buf.length) throw new CodecError(`trailing bytes: ${this.buf.length - this.pos}`);
  }
}
