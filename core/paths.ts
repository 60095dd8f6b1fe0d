import { ZkError } from './errors.ts';

/**
 * ZooKeeper's client-side path rules (PathUtils.validatePath): absolute, no
 * trailing slash, no empty, "." or ".." segment, none of the forbidden
 * characters. A sequential create checks `prefix + "1"` (API.md), so "/q/"
 * is a valid sequential prefix.
 */
export function pathError(path: string): string | null {
  if (path.length === 0) return 'path must not be empty';
  if (path.charCodeAt(0) !== 0x2f) return 'path must start with /';
  if (path.length === 1) return null;
  if (path.charCodeAt(path.length - 1) === 0x2f) return 'path must not end with /';
  let segStart = 1;
  for (let i = 1; i <= path.length; i++) {
    const c = i === path.length ? 0x2f : path.charCodeAt(i);
    if (c === 0x2f) {
      const len = i - segStart;
      if (len === 0) return `empty segment at index ${i}`;
      if (len <= 2 && path.charCodeAt(segStart) === 0x2e && (len === 1 || path.charCodeAt(segStart + 1) === 0x2e)) {
        return 'relative segments (. and ..) are not allowed';
      }
      segStart = i + 1;
      continue;
    }
    if (
      c === 0 ||
      (c > 0 && c <= 0x1f) ||
      (c >= 0x7f && c <= 0x9f) ||
      (c >= 0xd800 && c <= 0xf8ff) ||
      (c >= 0xfff0 && c <= 0xffff)
    ) {
      return `invalid character \\u${c.toString(16).padStart(4, '0')} at index ${i}`;
    }
  }
  return null;
}

export function validatePath(path: string, sequential = false): void {
  const err = pathError(sequential ? path + '1' : path);
  if (err !== null) throw new ZkError('BadArguments', `invalid path ${JSON.stringify(path)}: ${err}`, path);
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function joinPath(parent: string, name: string): string {
  return parent === '/' ? '/' + name : parent + '/' + name;
}

/** Segments of a valid absolute path; [] for the root. */
export function segmentsOf(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

/** True when `path` is `ancestor` or lies below it. */
export function isAtOrUnder(path: string, ancestor: string): boolean {
  if (ancestor === '/') return true;
  return path === ancestor || (path.startsWith(ancestor) && path.charCodeAt(ancestor.length) === 0x2f);
}

/** The nodes ZooKeeper will not let anyone delete (ZKDatabase.isSpecialPath). */
export const SPECIAL_PATHS: ReadonlySet<string> = new Set(['/', '/zookeeper', '/zookeeper/config', '/zookeeper/quota']);

/** The 10-digit zero-padded suffix of sequential nodes (String.format("%010d")). */
export function sequenceSuffix(n: number): string {
  return n < 0 ? '-' + String(-n).padStart(9, '0') : String(n).padStart(10, '0');
}
