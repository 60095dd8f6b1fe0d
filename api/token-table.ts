/**
 * Values keyed by increasing integer tokens, most removed soon after they are
 * added (the callbacks of requests in flight). A Map would do, but a Map that
 * is filled and emptied thousands of times a second is rehashed as often, and
 * V8 keeps each replaced hash table pointing at its successor: once one of
 * them has been promoted to the old generation, every later table and every
 * callback in it (with the request it closes over) survives each scavenge and
 * is promoted too, until the next full GC. Measured on a standalone server
 * under WebSocket writes at 64 in flight: scavenges of ~14 ms promoting
 * ~4 MB each. Here the values sit in an array indexed from the oldest live
 * token; the array's front is trimmed as tokens complete.
 */
export class TokenTable<V> {
  private slots: Array<V | undefined> = [];
  /** The token of slots[0]. */
  private base = 0;
  private count = 0;
  /** Values of tokens below `base`: a few old ones still waiting when the array was cut (see add). */
  private readonly stragglers = new Map<number, V>();

  get size(): number {
    return this.count;
  }

  /** Adds `value` under `token`, which must be above every token added before. */
  add(token: number, value: V): void {
    if (this.count === 0) {
      this.slots.length = 0;
      this.base = token;
    }
    const i = token - this.base;
    if (i < this.slots.length) throw new Error(`token ${token} is not above the last one`);
    while (this.slots.length < i) this.slots.push(undefined);
    this.slots.push(value);
    this.count++;
    // One token still waiting long after those behind it completed would let the array grow with
    // every request meanwhile: past 65,536 slots, the older half's values move aside.
    if (this.slots.length > 65_536) {
      const k = this.slots.length >> 1;
      for (let j = 0; j < k; j++) {
        const v = this.slots[j];
        if (v !== undefined) this.stragglers.set(this.base + j, v);
      }
      this.slots.splice(0, k);
      this.base += k;
    }
  }

  /** Removes and returns the value of `token`, if present. */
  take(token: number): V | undefined {
    const i = token - this.base;
    if (i < 0) {
      const v = this.stragglers.get(token);
      if (v !== undefined) {
        this.stragglers.delete(token);
        this.count--;
      }
      return v;
    }
    if (i >= this.slots.length) return undefined;
    const v = this.slots[i];
    if (v === undefined) return undefined;
    this.slots[i] = undefined;
    this.count--;
    // trim the completed front now and then (not on every take: shifting is linear)
    if (this.count === 0) {
      this.slots.length = 0;
    } else if (i === 0 || this.slots.length > 1024) {
      let k = 0;
      while (k < this.slots.length && this.slots[k] === undefined) k++;
      if (k >= 64 || k === this.slots.length) {
        this.slots.splice(0, k);
        this.base += k;
      }
    }
    return v;
  }

  /** Every value, oldest token first. */
  values(): V[] {
    return [...this.stragglers.values(), ...this.slots.filter((v): v is V => v !== undefined)];
  }

  clear(): void {
    this.slots.length = 0;
    this.stragglers.clear();
    this.count = 0;
  }
}
