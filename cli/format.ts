/**
 * Human output: zkCli's Stat layout, zxids in hex as ZooKeeper prints them,
 * tables, and the API's JSON shapes rebuilt where the SDK hands back decoded
 * values.
 */
import type { AclList, Stat, ZnodeValue } from '../client/index.ts';

/** A zxid as ZooKeeper prints it: `0x100000002`. */
export function hex(zxid: number | null | undefined): string {
  return zxid === null || zxid === undefined ? '-' : `0x${zxid.toString(16)}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** Java's `Date.toString()`, which zkCli prints: `Thu Nov 26 14:45:18 UTC 2026`, in local time. */
export function javaDate(epochMs: number): string {
  const d = new Date(Math.floor(epochMs));
  const zone = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? 'UTC';
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zone} ${d.getFullYear()}`;
}

/** The Stat in zkCli's layout and names (`cZxid = 0x…`, `dataVersion = …`). */
export function statLines(stat: Stat): string {
  return [
    `cZxid = ${hex(stat.czxid)}`,
    `ctime = ${javaDate(stat.ctime)}`,
    `mZxid = ${hex(stat.mzxid)}`,
    `mtime = ${javaDate(stat.mtime)}`,
    `pZxid = ${hex(stat.pzxid)}`,
    `cversion = ${stat.cversion}`,
    `dataVersion = ${stat.version}`,
    `aclVersion = ${stat.aversion}`,
    // ZooGate's session ids are 16 hex digits already; no owner is zkCli's 0x0
    `ephemeralOwner = ${stat.ephemeralOwner === null ? '0x0' : `0x${stat.ephemeralOwner}`}`,
    `dataLength = ${stat.dataLength}`,
    `numChildren = ${stat.numChildren}`,
  ].join('\n') + '\n';
}

/** ACL entries in the `scheme:id:perms` form `--acl` and `setacl` take, one per line. */
export function aclLines(acl: AclList): string {
  return acl.map((e) => `${e.scheme}:${e.id}:${e.perms}\n`).join('');
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd() + '\n';
  return line(header) + rows.map(line).join('');
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes as the API's JSON carries them: UTF-8 text when they are valid UTF-8, else base64, as the server answers. */
export function encodeData(data: Uint8Array): { data: string; encoding: 'utf8' | 'base64' } {
  try {
    return { data: strictUtf8.decode(data), encoding: 'utf8' };
  } catch {
    return { data: Buffer.from(data).toString('base64'), encoding: 'base64' };
  }
}

/** The API's `{"path","data","encoding","stat"}` of a read value. */
export function dataJson(v: ZnodeValue<Uint8Array>): { path: string; data: string; encoding: 'utf8' | 'base64'; stat: Stat } {
  return { path: v.path, ...encodeData(v.data), stat: v.stat };
}
