/**
 * Identifiers. A zxid is epoch * 2^32 + counter, kept below 2^53 so it is a
 * plain JSON number (API.md "Semantics"): the epoch is limited to 2^21 - 1.
 */
export type Zxid = number;
export type Epoch = number;
export type ServerId = number;
/** A session id: 16 lowercase hex digits, chosen at random by the runtime that opens it. */
export type SessionId = string;

const TWO_32 = 0x1_0000_0000;
export const MAX_EPOCH = 0x1f_ffff;

export function makeZxid(epoch: Epoch, counter: number): Zxid {
  return epoch * TWO_32 + counter;
}
export function epochOf(zxid: Zxid): Epoch {
  return Math.floor(zxid / TWO_32);
}
export function counterOf(zxid: Zxid): number {
  return zxid % TWO_32;
}
export function zxidHex(zxid: Zxid): string {
  return '0x' + zxid.toString(16);
}

const SESSION_ID_RE = /^[0-9a-f]{16}$/;
export function isSessionId(s: unknown): s is SessionId {
  return typeof s === 'string' && SESSION_ID_RE.test(s);
}
