/**
 * The leader lease of a Brain's gateway replicas (docs/gateway.md "Replicas"): one replica at a
 * time runs the failover monitor and sends settlement transactions (one nonce sequence for the
 * gateway's key). The lease is a Redis key `<prefix>:gw:<brain>:leader` holding the replica's id,
 * taken with `SET NX PX`, renewed (only by its holder) every third of its lifetime and deleted (only
 * by its holder) on stop. A replica counts itself leader only until 4/5 of the lifetime after it
 * last sent a successful take or renewal: one that cannot renew (Redis away, a stalled event loop)
 * stops acting before the key can expire and another replica take it.
 */
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { randomHex } from "../../protocol/gateway";

/** Renews the lease when the caller still holds it; 1 when renewed. */
const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) end return 0`;
/** Deletes the lease when the caller holds it. */
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`;

export class LeaderLease {
  readonly id = randomHex(8);
  /** Local time until which this replica may act as leader. */
  private until = 0;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly redis: Redis,
    readonly key: string,
    readonly ttlMs: number,
    private readonly log: Logger,
    /** Called when this replica becomes leader (true) or stops being it (false). */
    private readonly onChange: (leader: boolean) => void = () => {},
  ) {}

  get isLeader(): boolean {
    return !this.stopped && Date.now() < this.until;
  }

  /** Tries for the lease at once, then keeps trying (or renewing) every third of its lifetime. */
  async start(): Promise<void> {
    await this.tryOnce();
    this.timer = setInterval(() => void this.tryOnce(), Math.max(50, Math.floor(this.ttlMs / 3)));
  }

  /** One take-or-renew round. */
  tryOnce(): Promise<void> {
    return (this.round ??= this.take().finally(() => (this.round = undefined)));
  }

  private async take(): Promise<void> {
    if (this.stopped) return;
    const was = this.isLeader;
    const sent = Date.now();
    let held: boolean;
    try {
      held =
        this.until > 0
          ? (await this.redis.eval(RENEW, 1, this.key, this.id, String(this.ttlMs))) === 1
          : (await this.redis.set(this.key, this.id, "PX", this.ttlMs, "NX")) === "OK";
    } catch (err) {
      // Unknown: keep acting until the local bound runs out, then stop.
      this.log.warn({ err: (err as Error).message }, "leader lease not renewed (Redis error)");
      return;
    }
    if (this.stopped) return;
    this.until = held ? sent + Math.floor((this.ttlMs * 4) / 5) : 0;
    const now = this.isLeader;
    if (now !== was) {
      this.log.info({ replica: this.id }, now ? "leader lease taken" : "leader lease lost");
      this.onChange(now);
    }
  }

  /** Gives the lease up (another replica takes it within a third of its lifetime). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.round?.catch(() => undefined);
    const held = this.until > 0;
    this.until = 0;
    if (held) await this.redis.eval(RELEASE, 1, this.key, this.id).catch(() => undefined);
  }

  /** Stops acting without giving the lease up, as a killed process would (tests). */
  abandon(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.until = 0;
  }
}
