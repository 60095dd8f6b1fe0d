import type { SessionId } from '../ids.ts';

/**
 * The leader's session expiry, in tick buckets (ZooKeeper's ExpiryQueue): a
 * session touched during tick k with a timeout of t ticks expires at tick
 * k + t + 1, so it lives at least its timeout and at most one tick more.
 * Time is counted in ticks only; core never reads a clock.
 */
export class SessionTracker {
  private currentTick = 0;
  private readonly expiresAt = new Map<SessionId, number>();
  private readonly buckets = new Map<number, Set<SessionId>>();
  private readonly timeoutTicks = new Map<SessionId, number>();
  /** Sessions whose close or expiry is under way: they accept no more requests. */
  private readonly closing = new Set<SessionId>();

  constructor(private readonly tickMs: number) {}

  get tickCount(): number {
    return this.currentTick;
  }

  has(id: SessionId): boolean {
    return this.timeoutTicks.has(id);
  }

  isActive(id: SessionId): boolean {
    return this.timeoutTicks.has(id) && !this.closing.has(id);
  }

  add(id: SessionId, timeoutMs: number): void {
    this.timeoutTicks.set(id, Math.max(1, Math.ceil(timeoutMs / this.tickMs)));
    this.closing.delete(id);
    this.touch(id);
  }

  /** Extends the session's life; false when it is unknown or closing. */
  touch(id: SessionId): boolean {
    const ticks = this.timeoutTicks.get(id);
    if (ticks === undefined || this.closing.has(id)) return false;
    const at = this.currentTick + ticks + 1;
    const prev = this.expiresAt.get(id);
    if (prev === at) return true;
    if (prev !== undefined) this.buckets.get(prev)?.delete(id);
    this.expiresAt.set(id, at);
    let b = this.buckets.get(at);
    if (b === undefined) this.buckets.set(at, (b = new Set()));
    b.add(id);
    return true;
  }

  setClosing(id: SessionId): void {
    if (this.timeoutTicks.has(id)) this.closing.add(id);
  }

  remove(id: SessionId): void {
    const at = this.expiresAt.get(id);
    if (at !== undefined) this.buckets.get(at)?.delete(id);
    this.expiresAt.delete(id);
    this.timeoutTicks.delete(id);
    this.closing.delete(id);
  }

  /** Advances one tick; returns the sessions that expired (each once), now marked closing. */
  tick(): SessionId[] {
    this.currentTick++;
    const b = this.buckets.get(this.currentTick);
    if (b === undefined) return [];
    this.buckets.delete(this.currentTick);
    const expired: SessionId[] = [];
    for (const id of b) {
      this.expiresAt.delete(id);
      if (!this.closing.has(id)) expired.push(id);
      this.closing.add(id);
    }
    return expired.sort();
  }
}
