/**
 * Settlements go through the leader replica (docs/gateway.md "Replicas"): only the lease holder
 * sends ComputeMarket transactions, so the gateway's key has one nonce sequence. A close that
 * arrives at another replica has already marked its session closed and counted its units; it
 * queues the settlement (`settle-queue`, a sorted set by time) and waits, bounded, for the
 * leader's answer (`settled:<session>`, published back as the wake-up `settled:<session>`). The
 * leader drains the queue when woken and on every monitor round; an entry stays queued until its
 * answer is written, so a leader that dies mid-way leaves it to the next one.
 */
import type { Logger } from "pino";
import { errorLine } from "../../sdk/errors";
import type { Hex } from "viem";
import type { GatewayStore, SessionRecord } from "./store";

export type SettlementOutcome = { txHash: Hex | null; error: string | null; refunded?: boolean };

/** How long a settlement's answer is kept for the close waiting on it. */
const ANSWER_TTL_MS = 10 * 60_000;
/** A leader working on an entry keeps others off it this long. */
const CLAIM_MS = 120_000;

export class SettlementRelay {
  private draining: Promise<void> | undefined;

  constructor(
    private readonly o: {
      store: GatewayStore;
      isLeader(): boolean;
      /** Settles (or refunds) a closed session here: the service's own settlement. */
      settleHere(s: SessionRecord, completion: number): Promise<SettlementOutcome>;
      /** Waits for a wake-up (the service's `wait`). */
      wait(key: string, ms: number): Promise<void>;
      /** Raises a wake-up on every replica (the service's `notify`). */
      notify(key: string): void;
      /** Whether this replica is stopping (a waiting close answers at once). */
      stopping(): boolean;
      /** How long a close at a non-leader waits for the leader's answer. */
      waitMs: number;
      log: Logger;
    },
  ) {}

  private queueKey = () => `${this.o.store.base}:settle-queue`;
  private answerKey = (id: string) => `${this.o.store.base}:settled:${id}`;
  private claimKey = (id: string) => `${this.o.store.base}:settling:${id}`;

  /** Settles closed session `s` here when this replica leads, else through the leader. */
  async settle(s: SessionRecord, completion: number): Promise<SettlementOutcome> {
    if (this.o.isLeader()) return this.o.settleHere(s, completion);
    const redis = this.o.store.redis;
    await redis.zadd(this.queueKey(), Date.now(), JSON.stringify({ sessionId: s.sessionId, completion }));
    this.o.notify("settle-queue");
    const deadline = Date.now() + this.o.waitMs;
    for (;;) {
      const answer = await redis.get(this.answerKey(s.sessionId));
      if (answer !== null) return JSON.parse(answer) as SettlementOutcome;
      const left = deadline - Date.now();
      if (left <= 0 || this.o.stopping()) break;
      // The leader may have changed meanwhile (to this replica): drain here then.
      if (this.o.isLeader()) await this.drain();
      else await this.o.wait(`settled:${s.sessionId}`, Math.min(left, 500));
    }
    return {
      txHash: null,
      error: `the settlement was handed to the leading gateway replica and had not been sent when this replica answered; it stays queued and will be sent (the session's escrow is settled or refunded then)`,
    };
  }

  /** The leader sends every queued settlement (one round at a time). */
  drain(): Promise<void> {
    return (this.draining ??= this.drainOnce().finally(() => (this.draining = undefined)));
  }

  private async drainOnce(): Promise<void> {
    const redis = this.o.store.redis;
    for (;;) {
      if (!this.o.isLeader()) return;
      const entries = await redis.zrange(this.queueKey(), 0, 9);
      if (entries.length === 0) return;
      let sent = 0;
      for (const entry of entries) {
        if (!this.o.isLeader()) return;
        const { sessionId, completion } = JSON.parse(entry) as { sessionId: string; completion: number };
        if ((await redis.set(this.claimKey(sessionId), "1", "PX", CLAIM_MS, "NX")) !== "OK") continue;
        let outcome: SettlementOutcome;
        const s = await this.o.store.getSession(sessionId);
        if (!s) {
          outcome = {
            txHash: null,
            error:
              "the session expired before the leading replica could settle it; the escrow can be reclaimed after its deadline",
          };
        } else {
          try {
            outcome = await this.o.settleHere(s, completion);
          } catch (err) {
            outcome = { txHash: null, error: `settlement failed: ${errorLine(err)}` };
          }
        }
        await redis
          .multi()
          .set(this.answerKey(sessionId), JSON.stringify(outcome), "PX", ANSWER_TTL_MS)
          .zrem(this.queueKey(), entry)
          .exec();
        this.o.notify(`settled:${sessionId}`);
        sent++;
        this.o.log.info(
          { sessionId, settled: outcome.txHash, error: outcome.error },
          "queued settlement sent",
        );
      }
      // Every entry left is claimed by a leader that died on it: the claim runs out, then it is retried.
      if (sent === 0) return;
    }
  }
}
