/**
 * One BullMQ queue per (Brain, miner), processed by hand: the gateway holds a processor-less Worker
 * per queue and, when the miner polls, takes the next job with `getNextJob(token)` — the token is
 * the lock the miner must show with its result. Locks are never renewed here: a miner that does
 * not answer within the lock time has stalled, and the Worker's stalled checker puts the job back
 * in the queue (`onStalled`), where the gateway retries it or moves it to another miner.
 *
 * BullMQ jobs carry only the gateway's job id; payloads and results live in the gateway's store.
 */
import { type Job, Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Address } from "viem";

export type MinerQueuesOptions = {
  /** A connection with `maxRetriesPerRequest: null` (BullMQ's requirement for workers). */
  connection: Redis;
  prefix: string;
  brainId: number;
  lockMs: number;
  /** Called with BullMQ's job id when a stalled job went back to `miner`'s queue. */
  onStalled(bullId: string, miner: Address): void;
  log: Logger;
};

type Worked = { worker: Worker; ready: Promise<void> };

/** The outcome of finishing a job under a lock. */
export type LockOutcome = "ok" | "lost";

export class MinerQueues {
  /** Queues share the gateway's connection: cheap, one per miner ever seen. */
  private readonly queues = new Map<Address, Queue>();
  /** Workers hold a blocking connection each: only for miners that poll or hold active jobs. */
  private readonly workers = new Map<Address, Worked>();
  private closed = false;

  constructor(private readonly o: MinerQueuesOptions) {}

  queueName(miner: Address): string {
    return `brain${this.o.brainId}-${miner.toLowerCase()}`;
  }

  /** The BullMQ id of a gateway job's `generation`-th placement. */
  static bullId(jobId: string, generation: number): string {
    return `${jobId}.${generation}`;
  }

  static jobIdOf(bullId: string): string {
    return bullId.slice(0, bullId.lastIndexOf("."));
  }

  private queue(miner: Address): Queue {
    if (this.closed) throw new Error("the gateway is shutting down");
    let q = this.queues.get(miner);
    if (!q) {
      q = new Queue(this.queueName(miner), {
        connection: this.o.connection,
        prefix: this.o.prefix,
        defaultJobOptions: { removeOnComplete: true, removeOnFail: true, attempts: 1 },
      });
      q.on("error", (err) => this.o.log.warn({ miner, err: err.message }, "queue connection error"));
      this.queues.set(miner, q);
    }
    return q;
  }

  /** `miner`'s worker, created (and its stalled checker started) on first use. */
  async worker(miner: Address): Promise<Worker> {
    if (this.closed) throw new Error("the gateway is shutting down");
    let w = this.workers.get(miner);
    if (!w) {
      const worker = new Worker(this.queueName(miner), null, {
        connection: this.o.connection,
        prefix: this.o.prefix,
        autorun: false,
        lockDuration: this.o.lockMs,
        // Two passes of the checker find an expired lock: check twice per lock time.
        stalledInterval: Math.max(100, Math.floor(this.o.lockMs / 2)),
        // Retries are the gateway's to count (it may move the job to another miner instead).
        maxStalledCount: 1_000_000,
        skipLockRenewal: true,
      });
      worker.on("error", (err) => this.o.log.warn({ miner, err: err.message }, "worker connection error"));
      worker.on("stalled", (bullId: string) => this.o.onStalled(bullId, miner));
      const ready = (async () => {
        await worker.waitUntilReady();
        await worker.startStalledCheckTimer();
      })();
      w = { worker, ready };
      this.workers.set(miner, w);
      ready.catch(() => {
        if (this.workers.get(miner) === w) this.workers.delete(miner);
        void worker.close(true).catch(() => undefined);
      });
    }
    await w.ready;
    return w.worker;
  }

  hasWorker(miner: Address): boolean {
    return this.workers.has(miner);
  }

  /** Closes `miner`'s worker (a gone miner with nothing active needs no stalled checker). */
  async retire(miner: Address): Promise<void> {
    const w = this.workers.get(miner);
    if (!w) return;
    this.workers.delete(miner);
    await w.ready.catch(() => undefined);
    await w.worker.close(true).catch(() => undefined);
  }

  /** Queues the gateway's job `jobId` (placement `generation`) for `miner`. */
  async add(miner: Address, jobId: string, generation: number): Promise<string> {
    const queue = this.queue(miner);
    const bullId = MinerQueues.bullId(jobId, generation);
    await queue.add("job", { jobId }, { jobId: bullId });
    return bullId;
  }

  /** Takes `miner`'s next waiting job under lock `token`, without blocking. */
  async take(miner: Address, token: string): Promise<{ bullId: string; jobId: string } | undefined> {
    const worker = await this.worker(miner);
    const job = (await worker.getNextJob(token, { block: false })) as Job<{ jobId: string }> | undefined;
    if (!job?.id) return undefined;
    return { bullId: job.id, jobId: job.data.jobId };
  }

  /** The token holding the lock of `bullId`, or null when no one holds it. */
  async lockHolder(miner: Address, bullId: string): Promise<string | null> {
    return this.o.connection.get(`${this.queue(miner).toKey(bullId)}:lock`);
  }

  /** Completes an active job held under `token` (atomic with the lock check). */
  async complete(miner: Address, bullId: string, token: string): Promise<LockOutcome> {
    const job = await this.queue(miner).getJob(bullId);
    if (!job) return "lost";
    try {
      await job.moveToCompleted("done", token, false);
      return "ok";
    } catch (err) {
      if (isLockError(err)) return "lost";
      throw err;
    }
  }

  /** Takes an active job held under `token` out of its queue (to re-place or fail it). */
  async drop(miner: Address, bullId: string, token: string): Promise<LockOutcome> {
    const job = await this.queue(miner).getJob(bullId);
    if (!job) return "lost";
    try {
      // removeOnFail deletes it: the gateway's own record says what happened.
      await job.moveToFailed(new Error("taken back by the gateway"), token, false);
      return "ok";
    } catch (err) {
      if (isLockError(err)) return "lost";
      throw err;
    }
  }

  /** Removes a waiting job; false when it is no longer waiting (a miner took it meanwhile). */
  async removeWaiting(miner: Address, bullId: string): Promise<boolean> {
    try {
      return (await this.queue(miner).remove(bullId)) === 1;
    } catch {
      return false;
    }
  }

  /** BullMQ ids of `miner`'s waiting jobs, oldest first. */
  async waiting(miner: Address, limit = 500): Promise<string[]> {
    const jobs = await this.queue(miner).getWaiting(0, limit - 1);
    return jobs
      .filter((j): j is Job & { id: string } => j?.id !== undefined)
      .map((j) => j.id)
      .reverse();
  }

  async counts(miner: Address): Promise<{ waiting: number; active: number }> {
    const c = await this.queue(miner).getJobCounts("waiting", "active");
    return { waiting: c.waiting ?? 0, active: c.active ?? 0 };
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = [...this.workers.values()];
    const queues = [...this.queues.values()];
    this.workers.clear();
    this.queues.clear();
    await Promise.allSettled(
      workers.map(async (w) => {
        await w.ready.catch(() => undefined);
        await w.worker.close(true);
      }),
    );
    await Promise.allSettled(queues.map((q) => q.close()));
  }
}

function isLockError(err: unknown): boolean {
  return err instanceof Error && /lock|not in the active state|does not exist/i.test(err.message);
}
