/**
 * Small in-memory state keyed by what strangers choose (addresses, IPs) must not grow without
 * bound: a `BoundedMap` keeps at most `max` entries and forgets the least recently used one.
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`max must be a positive integer (got ${max})`);
  }

  get size(): number {
    return this.map.size;
  }

  /** The value, now the most recently used. */
  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    // Map iteration is insertion order: the first key is the least recently used.
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }

  delete(key: K): void {
    this.map.delete(key);
  }
}

/**
 * Failures per key (a client IP) in a fixed window: past `max` in one window, `exceeded` says
 * so until the window ends. Used to refuse, before reading their bodies, the signed requests of
 * whoever keeps failing the signature checks.
 */
export class FailureBudget {
  private readonly counts: BoundedMap<string, { count: number; resetAt: number }>;

  constructor(
    readonly max: number,
    readonly windowMs: number,
    keys = 10_000,
  ) {
    this.counts = new BoundedMap(keys);
  }

  /** Seconds until `key` may try again, or 0 when it may now. */
  retryAfterS(key: string, nowMs = Date.now()): number {
    const c = this.counts.get(key);
    if (!c || nowMs >= c.resetAt || c.count < this.max) return 0;
    return Math.ceil((c.resetAt - nowMs) / 1000);
  }

  fail(key: string, nowMs = Date.now()): void {
    const c = this.counts.get(key);
    if (!c || nowMs >= c.resetAt) this.counts.set(key, { count: 1, resetAt: nowMs + this.windowMs });
    else c.count++;
  }
}
