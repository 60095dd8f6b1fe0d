// Checkers for the other workloads of a chaos run: sequential creates, a grow-only
// set, a lock recipe, and session expiry. Each is a pure function over what the
// runner recorded (history and final state) and returns
//   { ok: true, stats } | { ok: false, errors, stats }
// with at most MAX_ERRORS messages (then a count of the rest).
//
// Zxids may be given as number or bigint (ZooGate's are < 2^53, so numbers are exact).

import { formatOp, type History, type Op } from './history.ts';

export type CheckResult = { ok: true; stats: Record<string, number> } | { ok: false; errors: string[]; stats: Record<string, number> };

export type Zxid = number | bigint;

const MAX_ERRORS = 50;

class Errors {
  readonly list: string[] = [];
  private dropped = 0;
  add(msg: string): void {
    if (this.list.length < MAX_ERRORS) this.list.push(msg);
    else this.dropped++;
  }
  result(stats: Record<string, number>): CheckResult {
    if (this.list.length === 0) return { ok: true, stats };
    const errors = this.dropped > 0 ? [...this.list, `... and ${this.dropped} more errors`] : this.list;
    return { ok: false, errors, stats };
  }
}

const zx = (z: Zxid): bigint => BigInt(z);

// ---------------------------------------------------------------------------
// Sequential creates
// ---------------------------------------------------------------------------

/**
 * A create of a persistent_sequential node, as recorded by the runner:
 *   f: 'create-seq'  (other f are ignored)
 *   key: the parent path, e.g. '/seq'
 *   input: { prefix: string }      the name's prefix under the parent ('job-', or '' for `POST /znodes/seq/`)
 *   output: { path: string }       the response's actual path, e.g. '/seq/job-0000000007' (outcome 'ok' only)
 * finalChildren: parent path -> the child names listed at the end (after healing, with sync),
 * e.g. new Map([['/seq', ['job-0000000000', ...]]]) or { '/seq': [...] }.
 * Assumes nothing under these parents is deleted during the run and that only the
 * recorded creates make children there.
 *
 * Checks, per parent:
 *   - every acknowledged name is unique (and so is its 10-digit counter);
 *   - real-time order: if create A completed before create B was invoked, A's counter < B's;
 *   - every acknowledged name exists at the end;
 *   - every other name at the end is explained by a distinct create with an unknown
 *     outcome and the same prefix, invoked after every acknowledged create whose
 *     counter is at least the name's had completed (no phantoms; 'fail' creates explain nothing).
 */
export function checkSequentialCreates(
  history: History,
  finalChildren: ReadonlyMap<string, Iterable<string>> | Readonly<Record<string, Iterable<string>>>,
): CheckResult {
  const errors = new Errors();
  const stats = { acknowledged: 0, unknown: 0, failed: 0, finalChildren: 0, unknownPresent: 0 };
  const finals = finalChildren instanceof Map ? finalChildren : new Map(Object.entries(finalChildren));
  const byParent = new Map<string, Op[]>();
  for (const op of history) {
    if (op.f !== 'create-seq') continue;
    if (op.key === undefined) throw new TypeError(`create-seq needs key (the parent path): ${formatOp(op)}`);
    let list = byParent.get(op.key);
    if (!list) byParent.set(op.key, (list = []));
    list.push(op);
  }
  for (const parent of finals.keys()) if (!byParent.has(parent)) byParent.set(parent, []);

  for (const [parent, ops] of byParent) {
    type Acked = { op: Op; name: string; seq: number };
    const acked: Acked[] = [];
    const unknown: Op[] = [];
    for (const op of ops) {
      const prefix = (op.input as { prefix?: unknown } | null)?.prefix;
      if (typeof prefix !== 'string') throw new TypeError(`create-seq needs input.prefix: ${formatOp(op)}`);
      if (op.outcome === 'fail') stats.failed++;
      else if (op.outcome === 'unknown') {
        stats.unknown++;
        unknown.push(op);
      } else {
        stats.acknowledged++;
        const path = (op.output as { path?: unknown } | undefined)?.path;
        const base = parent === '/' ? '/' : `${parent}/`;
        if (typeof path !== 'string' || !path.startsWith(base)) {
          errors.add(`${parent}: acknowledged create has no path under the parent: ${formatOp(op)}`);
          continue;
        }
        const name = path.slice(base.length);
        const seq = seqOf(name);
        if (seq === null || !name.startsWith(prefix) || name.length !== prefix.length + 10) {
          errors.add(`${parent}: acknowledged name ${name} is not prefix ${JSON.stringify(prefix)} + 10 digits: ${formatOp(op)}`);
          continue;
        }
        acked.push({ op, name, seq });
      }
    }

    // Unique counters (hence names).
    const bySeq = new Map<number, Acked>();
    for (const a of acked) {
      const other = bySeq.get(a.seq);
      if (other) errors.add(`${parent}: counter ${a.seq} acknowledged twice: ${other.name} (${formatOp(other.op)}) and ${a.name} (${formatOp(a.op)})`);
      else bySeq.set(a.seq, a);
    }

    // Real-time order: walk creates by invocation; those completed strictly before
    // the invocation must all have smaller counters.
    const byComplete = [...acked].sort((a, b) => a.op.completeMs! - b.op.completeMs!);
    const byInvoke = [...acked].sort((a, b) => a.op.invokeMs - b.op.invokeMs);
    let k = 0;
    let maxBefore: Acked | null = null;
    for (const b of byInvoke) {
      while (k < byComplete.length && byComplete[k]!.op.completeMs! < b.op.invokeMs) {
        const a = byComplete[k++]!;
        if (!maxBefore || a.seq > maxBefore.seq) maxBefore = a;
      }
      if (maxBefore && maxBefore.seq >= b.seq) {
        errors.add(`${parent}: ${maxBefore.name} completed before ${b.name} was asked for, yet its counter is not smaller: ${formatOp(maxBefore.op)} then ${formatOp(b.op)}`);
      }
    }

    // Final children: acknowledged ones present, others explained by unknown creates.
    const present = new Set<string>();
    for (const name of finals.get(parent) ?? []) present.add(name);
    stats.finalChildren += present.size;
    const ackedNames = new Set(acked.map((a) => a.name));
    for (const a of acked) if (!present.has(a.name)) errors.add(`${parent}: acknowledged ${a.name} is missing at the end: ${formatOp(a.op)}`);

    // Each unexplained name needs a distinct unknown create with its prefix whose lower
    // bound (largest counter acknowledged before it was invoked) is below the name's counter.
    // Per prefix, names in increasing counter order take any available op (a greedy
    // matching: an op available for one name is available for every larger one).
    const lowerBound = (op: Op): number => {
      let lb = -1;
      for (const a of acked) if (a.op.completeMs! < op.invokeMs && a.seq > lb) lb = a.seq;
      return lb;
    };
    const unexplained = new Map<string, { name: string; seq: number }[]>();
    for (const name of present) {
      if (ackedNames.has(name)) continue;
      const seq = seqOf(name);
      const prefix = seq === null ? null : name.slice(0, -10);
      if (seq === null || prefix === null) {
        errors.add(`${parent}: ${name} exists but no sequential create could have made it`);
        continue;
      }
      let list = unexplained.get(prefix);
      if (!list) unexplained.set(prefix, (list = []));
      list.push({ name, seq });
    }
    for (const [prefix, names] of unexplained) {
      names.sort((a, b) => a.seq - b.seq);
      const bounds = unknown
        .filter((op) => (op.input as { prefix: string }).prefix === prefix)
        .map(lowerBound)
        .sort((a, b) => a - b);
      let j = 0;
      let available = 0;
      for (const { name, seq } of names) {
        while (j < bounds.length && bounds[j]! < seq) {
          j++;
          available++;
        }
        if (available === 0) {
          errors.add(`${parent}: ${name} exists but was never acknowledged and no create with an unknown outcome (prefix ${JSON.stringify(prefix)}, in flight when counter ${seq} was handed out) is left to explain it: a phantom`);
        } else {
          available--;
          stats.unknownPresent++;
        }
      }
    }
  }
  return errors.result(stats);
}

function seqOf(name: string): number | null {
  const m = /(\d{10})$/.exec(name);
  return m ? Number(m[1]) : null;
}

// ---------------------------------------------------------------------------
// Grow-only set
// ---------------------------------------------------------------------------

/**
 * Adds to a set (e.g. a child node per element, or elements appended with cas), as recorded:
 *   f: 'add'   (other f, such as reads during the run, are ignored)
 *   input: { element: string }
 *   outcome: 'ok' acknowledged, 'fail' certainly not applied, 'unknown' either.
 * finalMembersPerNode: server name -> the elements it holds at the end (read after healing).
 *
 * Checks:
 *   - every acknowledged element is present on every server;
 *   - no server holds an element never attempted;
 *   - an element whose every add failed definitely ('fail') is absent everywhere;
 *   - if options.requireConvergence (default true): all servers hold the same elements
 *     (an unknown add may land or not, but everywhere alike once the ensemble has healed).
 */
export function checkSet(
  history: History,
  finalMembersPerNode: ReadonlyMap<string, ReadonlySet<string>>,
  options: { requireConvergence?: boolean } = {},
): CheckResult {
  const errors = new Errors();
  const status = new Map<string, { ok: Op | null; unknown: boolean; fail: Op | null }>();
  let adds = 0;
  for (const op of history) {
    if (op.f !== 'add') continue;
    const element = (op.input as { element?: unknown } | null)?.element;
    if (typeof element !== 'string') throw new TypeError(`add needs input.element (string): ${formatOp(op)}`);
    adds++;
    let s = status.get(element);
    if (!s) status.set(element, (s = { ok: null, unknown: false, fail: null }));
    if (op.outcome === 'ok') s.ok ??= op;
    else if (op.outcome === 'unknown') s.unknown = true;
    else s.fail ??= op;
  }
  const stats = { adds, elements: status.size, acknowledged: 0, unknown: 0, failed: 0, unknownPresent: 0, nodes: finalMembersPerNode.size };
  for (const [element, s] of status) {
    if (s.ok) {
      stats.acknowledged++;
      for (const [node, members] of finalMembersPerNode) {
        if (!members.has(element)) errors.add(`acknowledged ${JSON.stringify(element)} is missing on ${node}: ${formatOp(s.ok)}`);
      }
    } else if (s.unknown) {
      stats.unknown++;
      if ([...finalMembersPerNode.values()].some((m) => m.has(element))) stats.unknownPresent++;
    } else {
      stats.failed++;
      for (const [node, members] of finalMembersPerNode) {
        if (members.has(element)) errors.add(`${JSON.stringify(element)} is on ${node} though its add failed definitely: ${formatOp(s.fail!)}`);
      }
    }
  }
  for (const [node, members] of finalMembersPerNode) {
    for (const element of members) if (!status.has(element)) errors.add(`${JSON.stringify(element)} is on ${node} but was never added: a phantom`);
  }
  if (options.requireConvergence ?? true) {
    const nodes = [...finalMembersPerNode];
    const [first, ...rest] = nodes;
    if (first) {
      for (const [node, members] of rest) {
        for (const e of members) if (!first[1].has(e)) errors.add(`servers diverge: ${JSON.stringify(e)} is on ${node} but not on ${first[0]}`);
        for (const e of first[1]) if (!members.has(e)) errors.add(`servers diverge: ${JSON.stringify(e)} is on ${first[0]} but not on ${node}`);
      }
    }
  }
  return errors.result(stats);
}

// ---------------------------------------------------------------------------
// Lock
// ---------------------------------------------------------------------------

/**
 * One hold of a lock (the recipe over ephemeral_sequential nodes), as the runner
 * reconstructs it from the server's zxids:
 *   holder: who held it (process or session id), for messages
 *   acquiredZxid: the czxid of the holder's lock node (the zxid at which it was created;
 *                 the holder owns the lock from then on if it is the lowest, and
 *                 otherwise from the deletion of its predecessor: use that zxid then)
 *   releasedZxid: the zxid at which the lock node went (its delete, or its session's
 *                 expiry or close), or null if it still exists at the end
 *   lock?: the lock's name (its parent path), if there are several; holds of
 *          different locks are checked separately.
 *
 * Checks, per lock: the intervals [acquiredZxid, releasedZxid) are well formed
 * (released after acquired) and pairwise disjoint; at most one hold is unreleased,
 * and it is the last one acquired.
 */
export interface LockHold {
  holder: string | number;
  acquiredZxid: Zxid;
  releasedZxid: Zxid | null;
  lock?: string;
}

export function checkLock(holds: ReadonlyArray<LockHold>): CheckResult {
  const errors = new Errors();
  const byLock = new Map<string, LockHold[]>();
  for (const h of holds) {
    const k = h.lock ?? '';
    let list = byLock.get(k);
    if (!list) byLock.set(k, (list = []));
    list.push(h);
  }
  const stats = { holds: holds.length, locks: byLock.size, unreleased: 0 };
  const show = (h: LockHold) => `${h.holder} [${h.acquiredZxid}, ${h.releasedZxid ?? '∞'})`;
  for (const [lock, list] of byLock) {
    const name = lock === '' ? 'lock' : `lock ${lock}`;
    const valid = list.filter((h) => {
      if (h.releasedZxid === null) {
        stats.unreleased++;
        return true;
      }
      if (zx(h.releasedZxid) > zx(h.acquiredZxid)) return true;
      errors.add(`${name}: hold ${show(h)} is released no later than acquired`);
      return false;
    });
    valid.sort((a, b) => (zx(a.acquiredZxid) < zx(b.acquiredZxid) ? -1 : zx(a.acquiredZxid) > zx(b.acquiredZxid) ? 1 : 0));
    // Sorted by start, each hold must begin no earlier than every earlier one ended:
    // compare with the latest end so far (which names each overlap, nested ones too).
    let latest: LockHold | null = null;
    for (const b of valid) {
      if (latest) {
        if (latest.releasedZxid === null) errors.add(`${name}: ${show(latest)} is never released, yet ${show(b)} acquired it later`);
        else if (zx(latest.releasedZxid) > zx(b.acquiredZxid)) errors.add(`${name}: holds overlap: ${show(latest)} and ${show(b)}`);
      }
      if (!latest || b.releasedZxid === null || (latest.releasedZxid !== null && zx(b.releasedZxid) > zx(latest.releasedZxid))) latest = b;
    }
  }
  return errors.result(stats);
}

// ---------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------

/**
 * What the runner records about sessions that expired (or were closed) during the run:
 *   ephemerals: the ephemeral nodes of those sessions that were alive when the session
 *               ended: { session, path }. Leave out any node the client deleted or tried
 *               to delete itself: these must all go in the session's expiry transaction.
 *   deletions:  per server, path -> the zxid at which that server reported the node's
 *               deletion (the `zxid` of its NodeDeleted watch event, or from its log).
 *               A server need not report every path (it may have caught up by snapshot).
 *   finalPaths: per server, the paths present at the end (a listing of the parents of
 *               the ephemerals, after healing).
 *
 * Checks:
 *   - for each path, every server that reported its deletion reported the same zxid;
 *   - all ephemerals of one session went at one zxid (expiry is one transaction);
 *   - no listed ephemeral is present on any server at the end;
 *   - with options.requireReports, every server reported every path's deletion.
 */
export interface SessionRecords {
  ephemerals: ReadonlyArray<{ session: string; path: string }>;
  deletions: ReadonlyMap<string, ReadonlyMap<string, Zxid>>;
  finalPaths: ReadonlyMap<string, ReadonlySet<string>>;
}

export function checkSessions(records: SessionRecords, options: { requireReports?: boolean } = {}): CheckResult {
  const errors = new Errors();
  const stats = { sessions: 0, ephemerals: records.ephemerals.length, servers: records.deletions.size, reports: 0, unreported: 0 };
  const sessionZxid = new Map<string, { zxid: bigint; path: string }>();
  const sessions = new Set<string>();
  for (const { session, path } of records.ephemerals) {
    sessions.add(session);
    let agreed: { zxid: bigint; server: string } | null = null;
    for (const [server, byPath] of records.deletions) {
      const z = byPath.get(path);
      if (z === undefined) {
        stats.unreported++;
        if (options.requireReports) errors.add(`${server} never reported the deletion of ${path} (session ${session})`);
        continue;
      }
      stats.reports++;
      if (!agreed) agreed = { zxid: zx(z), server };
      else if (agreed.zxid !== zx(z)) errors.add(`${path} (session ${session}) was deleted at zxid ${agreed.zxid} on ${agreed.server} but at ${zx(z)} on ${server}`);
    }
    if (agreed) {
      const first = sessionZxid.get(session);
      if (!first) sessionZxid.set(session, { zxid: agreed.zxid, path });
      else if (first.zxid !== agreed.zxid) {
        errors.add(`session ${session}'s ephemerals went at different zxids: ${first.path} at ${first.zxid}, ${path} at ${agreed.zxid} (expiry is one transaction)`);
      }
    }
    for (const [server, paths] of records.finalPaths) {
      if (paths.has(path)) errors.add(`${path} of expired session ${session} is still on ${server} at the end`);
    }
  }
  stats.sessions = sessions.size;
  return errors.result(stats);
}
