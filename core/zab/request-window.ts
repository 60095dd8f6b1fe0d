import type { ServerId } from '../ids.ts';

/** How many request ids back a duplicate is still recognised. */
export const WINDOW = 65_536;
/** Runs (incarnations) of one server remembered at once: its current and its previous run. */
const RUNS_PER_SERVER = 2;

class Run {
  /** Ids below `base` count as seen (too old to tell; a duplicate is far likelier than a first copy). */
  base = 0;
  /** One byte per id in [base, base + WINDOW), at id % WINDOW. */
  readonly seen = new Uint8Array(WINDOW);
  constructor(readonly incarnation: number) {}

  /** True if `id` was taken before; else records it. */
  take(id: number): boolean {
    if (id < this.base) return true;
    if (id >= this.base + WINDOW) this.slide(id - WINDOW + 1);
    const slot = id % WINDOW;
    if (this.seen[slot] === 1) return true;
    this.seen[slot] = 1;
    return false;
  }

  /** Moves the window up to start at `base`, forgetting the ids it passes. */
  private slide(base: number): void {
    if (base - this.base >= WINDOW) this.seen.fill(0);
    else for (let id = this.base; id < base; id++) this.seen[id % WINDOW] = 0;
    this.base = base;
  }
}

/**
 * The forwarded requests a leader has taken, so that a copy (a network that duplicates) is
 * processed once: its copy would be refused against the original (NodeExists for the client's own
 * create). A follower numbers its requests with increasing ids (its token table's), per run of its
 * process (incarnation, random), so this keeps per server and run a bitmap of the last WINDOW ids:
 * nothing is allocated per request (a Set of "server:incarnation:id" strings promoted one string
 * per forwarded write to the old generation, and rehashed a 65,536-entry table as it turned over).
 */
export class RequestWindows {
  private readonly byServer = new Map<ServerId, Run[]>();

  /** True if this (server, incarnation, reqId) was taken before (then drop it); else records it. */
  seenBefore(server: ServerId, incarnation: number, reqId: number): boolean {
    let runs = this.byServer.get(server);
    if (runs === undefined) this.byServer.set(server, (runs = []));
    let run: Run | undefined;
    for (const r of runs) if (r.incarnation === incarnation) run = r;
    if (run === undefined) {
      run = new Run(incarnation);
      runs.unshift(run);
      if (runs.length > RUNS_PER_SERVER) runs.pop();
    }
    return run.take(reqId);
  }
}
