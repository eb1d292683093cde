/**
 * What the gateway keeps in Redis, so that a restart loses nothing: blobs (content-addressed key
 * material), sessions, jobs (record, payload, result), miners (last poll, counters, latencies),
 * the validators' sample window, and used nonces. Every key lives under `<prefix>:gw:<brainId>:`
 * and expires (docs/gateway.md lists the keys and their lifetimes). BullMQ's queues live beside
 * them under `<prefix>:`.
 */
import type { Redis } from "ioredis";
import { type Address, type Hex, getAddress } from "viem";
import { type JobState, LIMITS, type SessionKeys } from "../../protocol/gateway";
import { type BlobStore, RedisBlobStore } from "./blob-store";
import type { InferenceMode } from "../../protocol/schemas";

/** How long a request stays bound to its session: past the longest deadline a request can have. */
const REQUEST_CLAIM_TTL_MS = 2 * 86_400_000;
/**
 * A paid session's record outlives its idle expiry by this long, so the gateway can still settle
 * it (with its last delivery) once it expires unclosed.
 */
export const SETTLE_GRACE_MS = 10 * 60_000;

export type SessionRecord = {
  sessionId: string;
  brainId: number;
  mode: InferenceMode;
  paramSet: string | null;
  keys: SessionKeys;
  requestId: string | null;
  /** The miner the session sticks to. */
  miner: Address;
  createdAt: number;
  expiresAt: number;
  state: "open" | "closed";
  /**
   * Prompt units: the escrow's when the gateway can read ComputeMarket; otherwise the prompt
   * tokens of plain jobs (encrypted prompts are invisible to the gateway: 0).
   */
  promptUnits: number;
  promptFromEscrow: boolean;
  /** Tokens plain jobs returned. */
  plainTokens: number;
  /** The session's most recently completed job (its result settles the escrow). */
  lastJob: string | null;
  /** That job's delivery, kept with the session (the job's result expires sooner). */
  lastDelivery?: { jobHash: Hex; outputHash: Hex; signature: Hex; miner: Address } | null;
};

export type JobRecord = {
  jobId: string;
  sessionId: string;
  kind: "linear" | "generate";
  step: string | null;
  state: JobState;
  /** The miner whose queue holds the job now. */
  queue: Address;
  /** BullMQ's id of the job in that queue (a job moved between queues gets a new one). */
  bullId: string;
  /** How many BullMQ jobs this job has had (moves and retries), for fresh ids. */
  generation: number;
  /** The miner holding the job (active) or that answered it (completed). */
  miner: Address | null;
  /** Times the job was handed to a miner. */
  attempts: number;
  error: string | null;
  createdAt: number;
  activeAt: number | null;
  completedAt: number | null;
  /**
   * protocol/gateway.ts `jobHash` of the work item the job's miner gets, computed once at submit:
   * the miner's Delivery must sign it. Null only for a job queued by a gateway that predates it.
   */
  jobHash: Hex | null;
};

/** A job's work as a miner receives it, minus what comes from its session. */
export type JobPayload =
  | { kind: "linear"; step: string; inputs: string[] }
  | { kind: "generate"; tokens: number[]; maxTokens: number };

export type StoredResult = {
  outputs: string[];
  outputHash: Hex;
  /** The job the Delivery signs (the job record's `jobHash`). */
  jobHash: Hex;
  signature: Hex;
  miner: Address;
};

export type SampleRecord = {
  jobId: string;
  miner: Address;
  step: string;
  paramSet: string;
  keys: SessionKeys;
  outputHash: Hex;
  latencyMs: number;
  completedAt: number;
};

export type MinerCounters = { completed: number; failed: number; stalled: number };

/** Latencies kept per miner for its median. */
const LATENCY_WINDOW = 100;

const str = (v: string | number | null | undefined) => (v === null || v === undefined ? "" : String(v));
const orNull = (v: string | undefined) => (v === undefined || v === "" ? null : v);
const numOrNull = (v: string | undefined) => (v === undefined || v === "" ? null : Number(v));

export class GatewayStore {
  readonly base: string;
  /** Where blobs' bytes live (blob-store.ts); by default in Redis under `blob:<sha256>`. */
  readonly blobs: BlobStore;

  constructor(
    readonly redis: Redis,
    prefix: string,
    brainId: number,
    /** Makes the blob store, given the key of a blob's record (its bytes or its metadata). */
    blobs?: (key: (hash: string) => string) => BlobStore,
  ) {
    this.base = `${prefix}:gw:${brainId}`;
    this.blobs = blobs ? blobs(this.blobKey) : new RedisBlobStore(redis, this.blobKey, LIMITS.maxBlobBytes);
  }

  // -- keys -------------------------------------------------------------------------------------

  blobKey = (hash: string) => `${this.base}:blob:${hash}`;
  sessionKey = (id: string) => `${this.base}:session:${id}`;
  stepsKey = (id: string) => `${this.base}:session:${id}:steps`;
  closingKey = (id: string) => `${this.base}:session:${id}:closing`;
  requestKey = (id: string) => `${this.base}:request:${id}`;
  /** Open paid sessions by expiry: those past it are settled by the failover monitor. */
  paidSessionsKey = () => `${this.base}:paid-sessions`;
  jobKey = (id: string) => `${this.base}:job:${id}`;
  payloadKey = (id: string) => `${this.base}:job:${id}:payload`;
  resultKey = (id: string) => `${this.base}:job:${id}:result`;
  sampleKey = (id: string) => `${this.base}:sample:${id}`;
  samplesKey = () => `${this.base}:samples`;
  minersKey = () => `${this.base}:miners`;
  minerSessionsKey = (a: Address) => `${this.base}:miner:${a}:sessions`;
  minerStatsKey = (a: Address) => `${this.base}:miner:${a}:stats`;
  minerLatencyKey = (a: Address) => `${this.base}:miner:${a}:latency`;
  nonceKey = (a: Address, nonce: string) => `${this.base}:nonce:${a}:${nonce}`;
  blobQuotaKey = (client: string) => `${this.base}:blobquota:${client}`;

  // -- blobs ------------------------------------------------------------------------------------

  putBlob(hash: string, bytes: Buffer, ttlMs: number): Promise<void> {
    return this.blobs.put(hash, bytes, ttlMs);
  }

  /** Bytes `client` uploaded in its current quota window. */
  async blobBytesOf(client: string): Promise<number> {
    return Number((await this.redis.get(this.blobQuotaKey(client))) ?? 0);
  }

  /** Adds `bytes` to `client`'s window (which starts with its first upload and lasts `windowMs`). */
  async addBlobBytes(client: string, bytes: number, windowMs: number): Promise<number> {
    const key = this.blobQuotaKey(client);
    const [[, total]] = (await this.redis.multi().incrby(key, bytes).pexpire(key, windowMs, "NX").exec()) as [
      [Error | null, number],
      [Error | null, number],
    ];
    return total;
  }

  hasBlob(hash: string): Promise<boolean> {
    return this.blobs.has(hash);
  }

  getBlob(hash: string): Promise<Buffer | null> {
    return this.blobs.get(hash);
  }

  /** Makes blobs live at least `ttlMs` more (never shortens them). */
  keepBlobs(hashes: readonly string[], ttlMs: number): Promise<void> {
    return this.blobs.keep(hashes, ttlMs);
  }

  // -- sessions ---------------------------------------------------------------------------------

  async putSession(s: SessionRecord, ttlMs: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.sessionKey(s.sessionId), {
        sessionId: s.sessionId,
        brainId: s.brainId,
        mode: s.mode,
        paramSet: str(s.paramSet),
        galois: str(s.keys.galois),
        relin: str(s.keys.relin),
        requestId: str(s.requestId),
        miner: s.miner,
        createdAt: s.createdAt,
        expiresAt: s.expiresAt,
        state: s.state,
        promptUnits: s.promptUnits,
        promptFromEscrow: s.promptFromEscrow ? 1 : 0,
        plainTokens: s.plainTokens,
        lastJob: str(s.lastJob),
      })
      .pexpire(this.sessionKey(s.sessionId), ttlMs + (s.requestId !== null ? SETTLE_GRACE_MS : 0))
      .exec();
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const h = await this.redis.hgetall(this.sessionKey(id));
    if (!h.sessionId) return undefined;
    return {
      sessionId: h.sessionId,
      brainId: Number(h.brainId),
      mode: h.mode === "plain" ? "plain" : "encrypted",
      paramSet: orNull(h.paramSet),
      keys: { galois: orNull(h.galois), relin: orNull(h.relin) },
      requestId: orNull(h.requestId),
      miner: getAddress(h.miner!),
      createdAt: Number(h.createdAt),
      expiresAt: Number(h.expiresAt),
      state: h.state === "closed" ? "closed" : "open",
      promptUnits: Number(h.promptUnits ?? 0),
      promptFromEscrow: h.promptFromEscrow === "1",
      plainTokens: Number(h.plainTokens ?? 0),
      lastJob: orNull(h.lastJob),
      lastDelivery: h.lastDelivery ? (JSON.parse(h.lastDelivery) as SessionRecord["lastDelivery"]) : null,
    };
  }

  /** Extends an open session's life by `ttlMs` from now (its record, counters and miner slot). */
  async touchSession(s: SessionRecord, ttlMs: number, now = Date.now()): Promise<number> {
    const expiresAt = now + ttlMs;
    const keep = ttlMs + (s.requestId !== null ? SETTLE_GRACE_MS : 0);
    const m = this.redis
      .multi()
      .hset(this.sessionKey(s.sessionId), "expiresAt", expiresAt)
      .pexpire(this.sessionKey(s.sessionId), keep)
      .pexpire(this.stepsKey(s.sessionId), keep)
      .zadd(this.minerSessionsKey(s.miner), expiresAt, s.sessionId);
    if (s.requestId !== null) m.zadd(this.paidSessionsKey(), expiresAt, s.sessionId);
    await m.exec();
    s.expiresAt = expiresAt;
    return expiresAt;
  }

  async assignSession(s: SessionRecord, to: Address): Promise<void> {
    await this.redis
      .multi()
      .hset(this.sessionKey(s.sessionId), "miner", to)
      .zrem(this.minerSessionsKey(s.miner), s.sessionId)
      .zadd(this.minerSessionsKey(to), s.expiresAt, s.sessionId)
      .exec();
    s.miner = to;
  }

  /**
   * Binds request `requestId` to session `sessionId`, once: false when it backs another session
   * already. Kept past any request's deadline (ComputeMarket's MAX_DEADLINE is one day).
   */
  async claimRequest(requestId: string, sessionId: string): Promise<boolean> {
    return (
      (await this.redis.set(this.requestKey(requestId), sessionId, "PX", REQUEST_CLAIM_TTL_MS, "NX")) === "OK"
    );
  }

  /** Marks the session closed once; false when it was closed (or being closed) already. */
  async claimClose(id: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.closingKey(id), "1", "PX", ttlMs, "NX")) === "OK";
  }

  async markClosed(s: SessionRecord): Promise<void> {
    await this.redis
      .multi()
      .hset(this.sessionKey(s.sessionId), "state", "closed")
      .zrem(this.minerSessionsKey(s.miner), s.sessionId)
      .zrem(this.paidSessionsKey(), s.sessionId)
      .exec();
    s.state = "closed";
  }

  /**
   * Counts a job submitted to session `id` (before it is queued), in the session's own hash: a
   * close that reads the count after marking the session closed sees every job a miner may take.
   */
  async countSubmitted(id: string): Promise<void> {
    await this.redis.eval(COUNT_IF_EXISTS, 1, this.sessionKey(id), "jobsSubmitted");
  }

  /** Counts job `jobId` of session `sessionId` as failed, once however often it is failed. */
  async countFailed(sessionId: string, jobId: string): Promise<void> {
    if ((await this.redis.hsetnx(this.jobKey(jobId), "failCounted", "1")) === 1) {
      await this.redis.eval(COUNT_IF_EXISTS, 1, this.sessionKey(sessionId), "jobsFailed");
    }
  }

  /** Jobs submitted to session `id`, and how many of them failed (terminally: no result ever). */
  async jobCounts(id: string): Promise<{ submitted: number; failed: number }> {
    const [submitted, failed] = await this.redis.hmget(this.sessionKey(id), "jobsSubmitted", "jobsFailed");
    return { submitted: Number(submitted ?? 0), failed: Number(failed ?? 0) };
  }

  /** Paid sessions that expired unclosed (ids), oldest first. */
  async expiredPaidSessions(now: number, limit = 100): Promise<string[]> {
    return this.redis.zrangebyscore(this.paidSessionsKey(), "-inf", `(${now}`, "LIMIT", 0, limit);
  }

  async stepCounts(id: string): Promise<Record<string, number>> {
    const h = await this.redis.hgetall(this.stepsKey(id));
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  }

  /** Open sessions of `miner` (ids). */
  async sessionsOf(miner: Address, now = Date.now()): Promise<string[]> {
    return this.redis.zrangebyscore(this.minerSessionsKey(miner), now, "+inf");
  }

  /** How many open sessions stick to `miner` (expired ones are dropped on the way). */
  async sessionLoad(miner: Address, now = Date.now()): Promise<number> {
    const [, count] = (await this.redis
      .multi()
      .zremrangebyscore(this.minerSessionsKey(miner), "-inf", `(${now}`)
      .zcard(this.minerSessionsKey(miner))
      .exec())!;
    return Number(count![1]);
  }

  // -- jobs -------------------------------------------------------------------------------------

  async createJob(j: JobRecord, payload: JobPayload, ttlMs: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.jobKey(j.jobId), encodeJob(j))
      .pexpire(this.jobKey(j.jobId), ttlMs)
      .set(this.payloadKey(j.jobId), JSON.stringify(payload), "PX", ttlMs)
      .exec();
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    const h = await this.redis.hgetall(this.jobKey(id));
    return h.jobId ? decodeJob(h) : undefined;
  }

  /** Writes some fields of a job (and optionally its lifetime). */
  async updateJob(id: string, fields: Partial<JobRecord>, ttlMs?: number): Promise<void> {
    const m = this.redis.multi().hset(this.jobKey(id), encodeJob(fields));
    if (ttlMs !== undefined) m.pexpire(this.jobKey(id), ttlMs);
    await m.exec();
  }

  async getPayload(id: string): Promise<JobPayload | undefined> {
    const text = await this.redis.get(this.payloadKey(id));
    return text === null ? undefined : (JSON.parse(text) as JobPayload);
  }

  async getResult(id: string): Promise<StoredResult | undefined> {
    const text = await this.redis.get(this.resultKey(id));
    return text === null ? undefined : (JSON.parse(text) as StoredResult);
  }

  /**
   * Records a completed job: its result, the session's counters, the miner's counters and
   * latency, and (linear jobs) a place in the sample window, evicting the oldest samples.
   */
  async completeJob(c: {
    job: JobRecord;
    session: SessionRecord | undefined;
    result: StoredResult;
    completedAt: number;
    latencyMs: number;
    resultTtlMs: number;
    /** Step whose count moves the session's units, if any. */
    countedStep: string | null;
    plainTokens: number;
    sample: { record: SampleRecord; window: number; ttlMs: number } | null;
  }): Promise<void> {
    const { job, result } = c;
    const m = this.redis
      .multi()
      .hset(
        this.jobKey(job.jobId),
        encodeJob({ state: "completed", miner: result.miner, completedAt: c.completedAt, error: null }),
      )
      .pexpire(this.jobKey(job.jobId), c.resultTtlMs)
      .set(this.resultKey(job.jobId), JSON.stringify(result), "PX", c.resultTtlMs)
      .hincrby(this.minerStatsKey(result.miner), "completed", 1)
      .lpush(this.minerLatencyKey(result.miner), String(c.latencyMs))
      .ltrim(this.minerLatencyKey(result.miner), 0, LATENCY_WINDOW - 1);
    if (c.session && c.session.state === "open") {
      m.hset(this.sessionKey(job.sessionId), {
        lastJob: job.jobId,
        lastDelivery: JSON.stringify({
          jobHash: result.jobHash,
          outputHash: result.outputHash,
          signature: result.signature,
          miner: result.miner,
        }),
      });
      if (c.countedStep) {
        m.hincrby(this.stepsKey(job.sessionId), c.countedStep, 1);
        const grace = c.session.requestId !== null ? SETTLE_GRACE_MS : 0;
        m.pexpire(this.stepsKey(job.sessionId), Math.max(1, c.session.expiresAt + grace - Date.now()));
      }
      if (c.plainTokens > 0) m.hincrby(this.sessionKey(job.sessionId), "plainTokens", c.plainTokens);
    }
    if (c.sample) {
      m.set(this.sampleKey(job.jobId), JSON.stringify(c.sample.record), "PX", c.sample.ttlMs);
      m.pexpire(this.payloadKey(job.jobId), c.sample.ttlMs);
      m.zadd(this.samplesKey(), c.completedAt, job.jobId);
    } else {
      // Inputs are kept only while a validator may replay them.
      m.del(this.payloadKey(job.jobId));
    }
    await m.exec();
    if (c.sample) await this.trimSamples(c.sample.window, c.completedAt - c.sample.ttlMs);
  }

  private async trimSamples(window: number, olderThan: number): Promise<void> {
    const key = this.samplesKey();
    const stale = await this.redis.zrangebyscore(key, "-inf", olderThan);
    const count = await this.redis.zcard(key);
    const excess = count - stale.length - window;
    const evict = excess > 0 ? await this.redis.zrange(key, stale.length, stale.length + excess - 1) : [];
    const gone = [...stale, ...evict];
    if (gone.length === 0) return;
    const m = this.redis.multi().zrem(key, ...gone);
    for (const id of gone) m.del(this.sampleKey(id), this.payloadKey(id));
    await m.exec();
  }

  /** Up to `limit` samples of the window, chosen at random, with their inputs. */
  async randomSamples(limit: number): Promise<Array<SampleRecord & { inputs: string[] }>> {
    const ids = await this.redis.zrange(this.samplesKey(), 0, -1);
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    const out: Array<SampleRecord & { inputs: string[] }> = [];
    for (const id of ids) {
      if (out.length >= limit) break;
      const [rec, payload] = await Promise.all([this.redis.get(this.sampleKey(id)), this.getPayload(id)]);
      if (rec === null || payload?.kind !== "linear") continue;
      out.push({ ...(JSON.parse(rec) as SampleRecord), inputs: payload.inputs });
    }
    return out;
  }

  // -- miners -----------------------------------------------------------------------------------

  async seen(miner: Address, now = Date.now()): Promise<void> {
    await this.redis.zadd(this.minersKey(), now, miner);
  }

  /** Miners that polled since `since` (ms). */
  async liveMiners(since: number): Promise<Address[]> {
    return (await this.redis.zrangebyscore(this.minersKey(), since, "+inf")).map((a) => getAddress(a));
  }

  async allMiners(): Promise<Array<{ address: Address; lastSeen: number }>> {
    const flat = await this.redis.zrange(this.minersKey(), 0, -1, "WITHSCORES");
    const out: Array<{ address: Address; lastSeen: number }> = [];
    for (let i = 0; i < flat.length; i += 2)
      out.push({ address: getAddress(flat[i]!), lastSeen: Number(flat[i + 1]) });
    return out;
  }

  async lastSeen(miner: Address): Promise<number | null> {
    const s = await this.redis.zscore(this.minersKey(), miner);
    return s === null ? null : Number(s);
  }

  async countMiner(miner: Address, what: keyof MinerCounters, by = 1): Promise<void> {
    await this.redis.hincrby(this.minerStatsKey(miner), what, by);
  }

  async minerCounters(miner: Address): Promise<MinerCounters & { latencies: number[] }> {
    const [h, lat] = await Promise.all([
      this.redis.hgetall(this.minerStatsKey(miner)),
      this.redis.lrange(this.minerLatencyKey(miner), 0, -1),
    ]);
    return {
      completed: Number(h.completed ?? 0),
      failed: Number(h.failed ?? 0),
      stalled: Number(h.stalled ?? 0),
      latencies: lat.map(Number),
    };
  }

  // -- nonces -----------------------------------------------------------------------------------

  async claimNonce(address: Address, nonce: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.nonceKey(address, nonce), "1", "PX", ttlMs, "NX")) === "OK";
  }
}

function encodeJob(j: Partial<JobRecord>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(j)) out[k] = str(v as string | number | null | undefined);
  return out;
}

/** HINCRBY KEYS[1] ARGV[1] 1 when the hash exists (an expired session is not brought back). */
const COUNT_IF_EXISTS = `if redis.call("exists", KEYS[1]) == 1 then return redis.call("hincrby", KEYS[1], ARGV[1], 1) end return 0`;

function decodeJob(h: Record<string, string>): JobRecord {
  return {
    jobId: h.jobId!,
    sessionId: h.sessionId!,
    kind: h.kind === "generate" ? "generate" : "linear",
    step: orNull(h.step),
    state: (h.state as JobState) || "queued",
    queue: getAddress(h.queue!),
    bullId: h.bullId!,
    generation: Number(h.generation ?? 0),
    miner: h.miner ? getAddress(h.miner) : null,
    attempts: Number(h.attempts ?? 0),
    error: orNull(h.error),
    createdAt: Number(h.createdAt),
    activeAt: numOrNull(h.activeAt),
    completedAt: numOrNull(h.completedAt),
    jobHash: (orNull(h.jobHash) as Hex | null) ?? null,
  };
}

/** The median of `xs` (null when empty). */
export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
