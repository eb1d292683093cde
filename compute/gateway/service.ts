/**
 * The gateway's rules, without HTTP (server.ts is the shell): sessions stick to a miner, jobs go
 * to their session's miner's queue, miners take work under a lock and answer with a hash-checked,
 * signed result, and a miner that stops polling loses its sessions and its waiting and stalled
 * jobs to the least loaded live miner. Everything lives in Redis (store.ts, queues.ts), so a new
 * gateway on the same prefix carries on where the last one stopped. Payloads are never logged.
 */
import type { Logger } from "pino";
import { errorLine } from "../../sdk/errors";
import { type Address, type Hex, getAddress, recoverTypedDataAddress, zeroAddress } from "viem";
import { GatewayRefusal } from "./errors";
import {
  type BlobClaim,
  type CloseSessionResult,
  DELIVERY_TYPES,
  type GatewayDomain,
  type JobView,
  LIMITS,
  type MinerStats,
  type OpenSession,
  type PostResult,
  type Sample,
  type SessionClaim,
  type SessionKeys,
  type SessionView,
  type SubmitJob,
  type WorkItem,
  type WorkJob,
  blobHash,
  deliveryDomain,
  deliveryMessage,
  base64Of,
  bytesOf,
  jobHash,
  outputsHash,
  randomHex,
  sessionClaimTypedData,
} from "../../protocol/gateway";
import { MinerQueues } from "./queues";
import type { SettlementRelay } from "./settlements";
import { type GatewayStore, type JobPayload, type JobRecord, type SessionRecord, median } from "./store";
import { countsForUnits, sessionUnits } from "./units";

/** What ComputeMarket holds for a request, as far as the gateway needs it. */
export type EscrowInfo = {
  brainId: number;
  open: boolean;
  /** The spending account that pays: it, or an app it authorized, signs the session's claim. */
  account: Address;
  promptUnits: number;
  maxCompletionUnits: number;
};

export type Settle = (s: {
  requestId: string;
  completionUnits: number;
  /** The job the miner's Delivery signs (protocol/gateway.ts `jobHash`). */
  jobHash: Hex;
  resultHash: Hex;
  signature: Hex;
  miner: Address;
}) => Promise<Hex>;

/** ComputeMarket `refund`: the whole escrow of a request served nothing back to its account. */
export type Refund = (s: { requestId: string }) => Promise<Hex>;

export type ServiceOptions = {
  brainId: number;
  domain: GatewayDomain;
  delivery?: { chainId: number; computeMarket: Address };
  isMember(address: Address, role: "miner" | "validator"): Promise<boolean>;
  settle?: Settle;
  /** Refunds a paid session's escrow when it ends with no job completed (none: it waits for its deadline). */
  refund?: Refund;
  escrowOf?(requestId: string): Promise<EscrowInfo>;
  /** Whether `app` holds an allowance on `account` in ComputeMarket (so it may claim its requests). */
  isApp?(account: Address, app: Address): Promise<boolean>;
  /** Serve sessions without an escrow (devnet, `--free-sessions`); otherwise they are refused. */
  freeSessions?: boolean;
  /** Whether this replica holds the leader lease (leader.ts); unset: it is the only one. */
  isLeader?(): boolean;
  log: Logger;
  sessionTtlMs: number;
  blobTtlMs: number;
  resultTtlMs: number;
  lockMs: number;
  minerTimeoutMs: number;
  maxAttempts: number;
  sampleWindow: number;
  sampleTtlMs: number;
};

/** How often the failover monitor runs at most (it also reacts to stalls at once). */
const MAX_TICK_MS = 2_000;
/** Miners silent for longer are left alone by the monitor (their sessions and jobs expired). */
const FORGET_MS = 86_400_000;
/** Long polls re-check Redis at least this often (stalled jobs come back without a local event). */
const RECHECK_MS = 250;

const terminal = (s: string) => s === "completed" || s === "failed";

/** Decoded size of a base64 string, without decoding it. */
function base64Bytes(s: string): number {
  const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
  return Math.floor((s.length * 3) / 4) - pad;
}

/** The blob hashes a session's evaluation keys name (none for plain sessions). */
const keyHashes = (keys: SessionRecord["keys"]): string[] =>
  [keys.galois, keys.relin].filter((h): h is string => h !== null);

const tooManyAttempts = (j: JobRecord): string =>
  `miners took this job ${j.attempts} times without delivering a result`;

/**
 * The job as its miner receives it (the work item's `job`): the payload plus, for a linear job,
 * its session's parameter set and keys. Both `jobHash` and the work item are built from it, so
 * what a miner signs is what it was sent. No request id or account is in it.
 */
const workJob = (s: SessionRecord, payload: JobPayload): WorkJob =>
  payload.kind === "linear"
    ? { kind: "linear", step: payload.step, paramSet: s.paramSet ?? "", keys: s.keys, inputs: payload.inputs }
    : { kind: "generate", tokens: payload.tokens, maxTokens: payload.maxTokens };

export class GatewayService {
  private readonly waiters = new Map<string, Set<() => void>>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  closing = false;
  /** Carries every wake-up to the other replicas (wakeups.ts); unset: a single gateway. */
  publish: ((key: string) => void) | undefined;
  /** Sends settlements through the leader replica (settlements.ts); unset: settled here. */
  relay: SettlementRelay | undefined;

  constructor(
    readonly store: GatewayStore,
    readonly queues: MinerQueues,
    readonly o: ServiceOptions,
  ) {}

  // -- wake-ups ---------------------------------------------------------------------------------

  /** Resolves on `notify(key)`, after `ms`, or on abort, whichever comes first. */
  wait(key: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      const done = () => {
        clearTimeout(t);
        signal?.removeEventListener("abort", done);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
        resolve();
      };
      const t = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener("abort", done);
      set.add(done);
    });
  }

  notify(key: string): void {
    this.wakeHere(key);
    this.publish?.(key);
  }

  /** Wakes this replica's waiters on `key` (another replica raised it). */
  wakeHere(key: string): void {
    for (const w of [...(this.waiters.get(key) ?? [])]) w();
  }

  private notifyAll(): void {
    for (const key of [...this.waiters.keys()]) this.wakeHere(key);
  }

  // -- lifecycle --------------------------------------------------------------------------------

  /** Starts the stalled checkers of known miners' queues and the failover monitor. */
  async start(): Promise<void> {
    // Jobs held when the last gateway stopped need a stalled checker, whether or not their miner returns.
    for (const m of await this.store.allMiners()) {
      if (m.lastSeen < Date.now() - FORGET_MS) continue;
      if ((await this.queues.counts(m.address)).active > 0) await this.queues.worker(m.address);
    }
    const every = Math.max(
      50,
      Math.min(MAX_TICK_MS, Math.floor(Math.min(this.o.lockMs, this.o.minerTimeoutMs) / 4)),
    );
    this.timer = setInterval(() => void this.tick(), every);
  }

  /** Stops the monitor and releases every waiting request (long polls answer at once). */
  stop(): void {
    this.closing = true;
    clearInterval(this.timer);
    this.notifyAll();
  }

  // -- blobs ------------------------------------------------------------------------------------

  async putBlob(hash: string, bytes: Buffer): Promise<{ hash: string; bytes: number }> {
    const actual = blobHash(bytes);
    if (actual !== hash) {
      throw new GatewayRefusal(
        400,
        "BlobHashMismatch",
        `the body's sha256 is ${actual}, not ${hash}: blobs are stored under the sha256 of their bytes`,
      );
    }
    await this.store.putBlob(hash, bytes, this.o.blobTtlMs);
    return { hash, bytes: bytes.length };
  }

  async getBlob(hash: string): Promise<Buffer> {
    const bytes = await this.store.getBlob(hash);
    if (!bytes) throw new GatewayRefusal(404, "BlobNotFound", `no blob ${hash} (never uploaded, or expired)`);
    return bytes;
  }

  // -- sessions ---------------------------------------------------------------------------------

  async openSession(body: OpenSession): Promise<SessionView> {
    if (body.brainId !== this.o.brainId) {
      throw new GatewayRefusal(
        400,
        "WrongBrain",
        `this gateway routes Brain #${this.o.brainId}, not #${body.brainId}: use Brain #${body.brainId}'s gateway`,
      );
    }
    const keys = body.mode === "encrypted" ? body.keys : { galois: null, relin: null };
    const hashes = keyHashes(keys);
    for (const h of hashes) {
      if (!(await this.store.hasBlob(h))) {
        throw new GatewayRefusal(
          400,
          "KeysMissing",
          `evaluation key blob ${h} is not here (never uploaded, or expired): upload it with PUT /v1/blobs/${h} first`,
        );
      }
    }
    const requestId = body.requestId ?? null;
    if (requestId === null && !this.o.freeSessions) {
      throw new GatewayRefusal(
        402,
        "EscrowRequired",
        "this gateway serves only paid sessions: open a ComputeMarket request for the prompt and name it (requestId, with its signed claim)",
      );
    }
    const escrow = requestId !== null ? await this.checkEscrow(requestId) : undefined;
    if (requestId !== null) {
      const claimed = body.mode === "encrypted" ? body.keys : undefined;
      await this.checkClaim({ requestId, mode: body.mode, keys: claimed, claim: body.claim }, escrow!);
    }

    const now = Date.now();
    const miner = await this.leastLoaded(await this.liveMiners(now));
    if (!miner) {
      throw new GatewayRefusal(
        503,
        "NoMinerAvailable",
        `no miner of Brain #${this.o.brainId} is online (none polled in the last ${Math.round(this.o.minerTimeoutMs / 1000)} s); retry shortly, or start one with \`based miner start --brain ${this.o.brainId}\``,
      );
    }
    const sessionId = `s${randomHex(12)}`;
    // Last, once nothing else can refuse: a refused session leaves its request free for another try.
    if (requestId !== null && !(await this.store.claimRequest(requestId, sessionId))) {
      throw new GatewayRefusal(
        409,
        "RequestInUse",
        `request ${requestId} already backs a session: one request pays for one session (open another request)`,
      );
    }
    const s: SessionRecord = {
      sessionId,
      brainId: body.brainId,
      mode: body.mode,
      paramSet: body.mode === "encrypted" ? body.paramSet : null,
      keys,
      requestId,
      miner,
      createdAt: now,
      expiresAt: now + this.o.sessionTtlMs,
      state: "open",
      promptUnits: escrow?.promptUnits ?? 0,
      promptFromEscrow: escrow !== undefined,
      plainTokens: 0,
      lastJob: null,
    };
    await this.store.putSession(s, this.o.sessionTtlMs);
    await this.store.touchSession(s, this.o.sessionTtlMs, now);
    await this.store.keepBlobs(hashes, this.o.sessionTtlMs);
    this.o.log.info(
      { sessionId: s.sessionId, mode: s.mode, miner, paid: requestId !== null },
      "session opened",
    );
    return this.view(s);
  }

  /**
   * The session's claim on `requestId`: an EIP-712 SessionClaim (ComputeMarket's domain) over the
   * request, this Brain, the session's keys and an expiry, signed by the request's account or by
   * an app holding an allowance on it.
   */
  private async checkClaim(
    c: { requestId: string; mode: "encrypted" | "plain"; keys?: SessionKeys; claim?: SessionClaim },
    escrow: EscrowInfo,
  ): Promise<void> {
    const { requestId, claim } = this.timelyClaim(c);
    let signer: Address = zeroAddress;
    try {
      signer = await recoverTypedDataAddress({
        ...sessionClaimTypedData(this.o.delivery!.chainId, this.o.delivery!.computeMarket, {
          requestId,
          brainId: this.o.brainId,
          mode: c.mode,
          keys: c.mode === "encrypted" ? c.keys : undefined,
          expiry: claim.expiry,
        }),
        signature: claim.signature,
      });
    } catch {
      // malformed: refused below
    }
    const account = getAddress(escrow.account);
    const owner =
      signer !== zeroAddress &&
      (signer === account || ((await this.o.isApp?.(account, signer).catch(() => false)) ?? false));
    if (!owner) {
      throw new GatewayRefusal(
        403,
        "NotRequestOwner",
        `the claim is not signed by request ${requestId}'s account ${account} nor by an app it authorized (over this request, Brain #${this.o.brainId}, the session's mode and keys, and the expiry)`,
      );
    }
  }

  /**
   * A paid upload of blob `hash` (checked before its body is read): the blob must be one of the
   * keys of the session the claim is for, the request open and this Brain's, and the claim signed
   * by the request's account or an app it authorized, exactly as a session open checks it. The
   * cheap checks come first: a stranger's upload costs no chain read.
   */
  async checkBlobClaim(hash: string, c: BlobClaim): Promise<void> {
    this.timelyClaim(c);
    if (!keyHashes(c.keys).includes(hash)) {
      throw new GatewayRefusal(
        403,
        "BlobNotClaimed",
        `blob ${hash} is not one of the keys the claim names (${c.keys.galois ?? "-"}:${c.keys.relin ?? "-"}): sign the claim over the session's keys, this blob among them`,
      );
    }
    await this.checkClaim({ ...c, mode: "encrypted" }, await this.checkEscrow(c.requestId));
  }

  /** The claim of a paid session, present and within its lifetime. */
  private timelyClaim(c: { requestId: string; claim?: SessionClaim }): {
    requestId: string;
    claim: SessionClaim;
  } {
    const { requestId, claim } = c;
    if (!claim) {
      throw new GatewayRefusal(
        401,
        "ClaimRequired",
        `a session paid by request ${requestId} needs its claim: a SessionClaim signed by the request's account (or an app it authorized), protocol/gateway.ts sessionClaimTypedData`,
      );
    }
    const now = Math.floor(Date.now() / 1000);
    if (claim.expiry < now || claim.expiry > now + LIMITS.maxSignatureLifetimeS) {
      throw new GatewayRefusal(
        401,
        "ClaimExpired",
        `the claim's expiry ${claim.expiry} must lie ahead, at most ${LIMITS.maxSignatureLifetimeS} s (now ${now}): sign a fresh one`,
      );
    }
    return { requestId, claim };
  }

  private async checkEscrow(requestId: string): Promise<EscrowInfo> {
    if (!this.o.escrowOf || !this.o.delivery) {
      throw new GatewayRefusal(
        400,
        "EscrowUnsupported",
        "this gateway reads no ComputeMarket: it cannot check or settle requests (open the session without requestId, if it serves free sessions)",
      );
    }
    let e: EscrowInfo;
    try {
      e = await this.o.escrowOf(requestId);
    } catch (err) {
      throw new GatewayRefusal(
        503,
        "EscrowUnavailable",
        `could not read request ${requestId} from ComputeMarket (${errorLine(err)}); retry shortly`,
      );
    }
    if (!e.open || e.brainId !== this.o.brainId) {
      throw new GatewayRefusal(
        400,
        "EscrowInvalid",
        e.open
          ? `request ${requestId} escrows for Brain #${e.brainId}, not #${this.o.brainId}`
          : `request ${requestId} is not an open ComputeMarket request (unknown, settled or reclaimed): open one first`,
      );
    }
    return e;
  }

  async session(id: string): Promise<SessionRecord> {
    const s = await this.store.getSession(id);
    if (!s)
      throw new GatewayRefusal(404, "SessionNotFound", `no session ${id} (unknown, or expired after idling)`);
    return s;
  }

  async sessionView(id: string): Promise<SessionView> {
    return this.view(await this.session(id));
  }

  private async units(s: SessionRecord): Promise<{ prompt: number; completion: number }> {
    const counts = await this.store.stepCounts(s.sessionId);
    return sessionUnits(counts, s.promptUnits, s.plainTokens);
  }

  private async view(s: SessionRecord): Promise<SessionView> {
    return {
      sessionId: s.sessionId,
      brainId: s.brainId,
      mode: s.mode,
      miner: s.miner,
      expiresAt: s.expiresAt,
      requestId: s.requestId,
      units: await this.units(s),
      state: s.state,
    };
  }

  async submitJob(sessionId: string, body: SubmitJob): Promise<{ jobId: string }> {
    const s = await this.session(sessionId);
    if (s.state === "closed" || s.expiresAt < Date.now()) {
      throw new GatewayRefusal(
        409,
        "SessionClosed",
        `session ${sessionId} is ${s.state === "closed" ? "closed" : "expired"}: open a new one`,
      );
    }
    const wanted = s.mode === "encrypted" ? "linear" : "generate";
    if (body.kind !== wanted) {
      throw new GatewayRefusal(
        400,
        "WrongJobKind",
        `session ${sessionId} is ${s.mode}: it takes "${wanted}" jobs, not "${body.kind}"`,
      );
    }
    let payload: JobPayload;
    if (body.kind === "linear") {
      const bytes = body.inputs.reduce((a, b) => a + (typeof b === "string" ? base64Bytes(b) : b.length), 0);
      if (bytes > LIMITS.maxJobBytes) {
        throw new GatewayRefusal(
          413,
          "JobTooLarge",
          `the job's ciphertexts hold ${bytes} bytes; at most ${LIMITS.maxJobBytes} per job (split the rows over more jobs)`,
        );
      }
      payload = { kind: "linear", step: body.step, inputs: body.inputs.map(base64Of) };
    } else {
      payload = { kind: "generate", tokens: body.tokens, maxTokens: body.maxTokens };
    }

    const now = Date.now();
    // A session whose miner went quiet moves now rather than at the monitor's next round.
    if (!(await this.isLive(s.miner, now))) {
      const to = await this.leastLoaded(await this.liveMiners(now));
      if (to) await this.moveSession(s, to, "its miner stopped polling");
    }
    const jobId = `j${randomHex(12)}`;
    // Once, here: a miner's Delivery for this job must sign this hash (postResult checks it).
    // Over the inputs as received (bytes from a framed body): not decoded again from the base64 stored.
    const work = workJob(s, payload);
    const hash = await jobHash(
      jobId,
      work.kind === "linear" && body.kind === "linear" ? { ...work, inputs: body.inputs } : work,
    );
    const job: JobRecord = {
      jobId,
      sessionId,
      kind: body.kind,
      step: body.kind === "linear" ? body.step : null,
      state: "queued",
      queue: s.miner,
      bullId: MinerQueues.bullId(jobId, 0),
      generation: 0,
      miner: null,
      attempts: 0,
      error: null,
      createdAt: now,
      activeAt: null,
      completedAt: null,
      jobHash: hash,
    };
    // Counted before a miner can see it: a close that finds no job submitted may refund the escrow.
    await this.store.countSubmitted(sessionId);
    await this.store.createJob(job, payload, this.o.sessionTtlMs);
    await this.store.touchSession(s, this.o.sessionTtlMs, now);
    await this.store.keepBlobs(keyHashes(s.keys), this.o.sessionTtlMs);
    if (body.kind === "generate" && !s.promptFromEscrow) {
      await this.store.redis.hincrby(this.store.sessionKey(sessionId), "promptUnits", body.tokens.length);
    }
    await this.queues.add(s.miner, jobId, 0);
    this.notify(`miner:${s.miner}`);
    this.o.log.info({ jobId, sessionId, kind: job.kind, step: job.step, miner: s.miner }, "job queued");
    return { jobId };
  }

  async closeSession(id: string): Promise<CloseSessionResult> {
    const s = await this.session(id);
    if (s.state === "closed" || !(await this.store.claimClose(id, this.o.sessionTtlMs))) {
      throw new GatewayRefusal(409, "SessionClosed", `session ${id} is already closed`);
    }
    await this.store.markClosed(s);
    const units = await this.units(s);
    let settlement: CloseSessionResult["settlement"] = null;
    if (s.requestId !== null) {
      const settled = this.relay
        ? await this.relay.settle(s, units.completion)
        : await this.settle(s, units.completion);
      settlement = { requestId: s.requestId, ...settled };
    }
    this.o.log.info(
      {
        sessionId: id,
        units,
        settled: settlement?.txHash ?? null,
        refunded: settlement?.refunded ?? false,
        settleError: settlement?.error ?? null,
      },
      "session closed",
    );
    return { sessionId: id, units, settlement };
  }

  /**
   * Settles the closed paid session `s` for `completion` units with its last delivery; a session
   * in which no job ever completed is refunded in full instead (nothing was served, so nothing is
   * owed), so the account need not wait for the deadline.
   */
  private async settle(
    s: SessionRecord,
    completion: number,
  ): Promise<{ txHash: Hex | null; error: string | null; refunded?: boolean }> {
    if (!this.o.settle) {
      return {
        txHash: null,
        error:
          "this gateway does not settle payments (it runs without a ComputeMarket); the escrow can be reclaimed after its deadline",
      };
    }
    // Read again now that it is marked closed: no delivery lands in a closed session.
    const fresh = (await this.store.getSession(s.sessionId)) ?? s;
    const last =
      fresh.lastDelivery ?? (fresh.lastJob ? await this.store.getResult(fresh.lastJob) : undefined);
    if (!last && fresh.lastJob === null) {
      // Refund only when no job can still deliver: every job submitted failed (or none was). A job
      // a miner still holds could hand the client its result after a refund (work for nothing).
      const jobs = await this.store.jobCounts(s.sessionId);
      if (jobs.submitted === jobs.failed) return this.refund(s);
      return {
        txHash: null,
        error: `no job of this session completed yet, and ${jobs.submitted - jobs.failed} were still queued or running when it closed, so there is neither a delivery to settle nor a refund; the escrow can be reclaimed after its deadline`,
      };
    }
    if (!last) {
      return {
        txHash: null,
        error:
          "this session's last result expired, so there is no delivery to settle; the escrow can be reclaimed after its deadline",
      };
    }
    let units = completion;
    if (this.o.escrowOf) {
      // ComputeMarket refuses more than the escrow covers; the client chose to run past it.
      try {
        units = Math.min(units, (await this.o.escrowOf(s.requestId!)).maxCompletionUnits);
      } catch {
        // settle itself will say what is wrong with the request
      }
    }
    try {
      if (!last.jobHash) throw new Error("the last delivery has no job hash (stored by an older gateway)");
      const txHash = await this.o.settle({
        requestId: s.requestId!,
        completionUnits: units,
        jobHash: last.jobHash,
        resultHash: last.outputHash,
        signature: last.signature,
        miner: last.miner,
      });
      return { txHash, error: null };
    } catch (err) {
      this.o.log.warn({ sessionId: s.sessionId, err: errorLine(err) }, "settlement failed");
      return { txHash: null, error: `settlement failed: ${errorLine(err)}` };
    }
  }

  /** Settles closed session `s` here (the leader replica, for a close another replica took). */
  settleHere(
    s: SessionRecord,
    completion: number,
  ): Promise<{ txHash: Hex | null; error: string | null; refunded?: boolean }> {
    return this.settle(s, completion);
  }

  /** Refunds the whole escrow of paid session `s`, which no job of completed. */
  private async refund(
    s: SessionRecord,
  ): Promise<{ txHash: Hex | null; error: string | null; refunded?: boolean }> {
    if (!this.o.refund) {
      return {
        txHash: null,
        error:
          "no job of this session completed, so there is no delivery to settle, and this gateway cannot refund; the escrow can be reclaimed after its deadline",
      };
    }
    try {
      const txHash = await this.o.refund({ requestId: s.requestId! });
      return { txHash, error: null, refunded: true };
    } catch (err) {
      this.o.log.warn({ sessionId: s.sessionId, err: errorLine(err) }, "refund failed");
      return {
        txHash: null,
        error: `no job of this session completed and its refund failed (${errorLine(err)}); the escrow can be reclaimed after its deadline`,
      };
    }
  }

  // -- jobs -------------------------------------------------------------------------------------

  async jobView(id: string): Promise<JobView> {
    const j = await this.store.getJob(id);
    if (!j) throw new GatewayRefusal(404, "JobNotFound", `no job ${id} (unknown, or its result expired)`);
    const result = j.state === "completed" ? ((await this.store.getResult(id)) ?? null) : null;
    return {
      jobId: j.jobId,
      sessionId: j.sessionId,
      state: j.state,
      miner: j.state === "queued" ? null : j.miner,
      attempts: j.attempts,
      result,
      error: j.error,
    };
  }

  /** The job's view once it ends, or when `waitMs` runs out. */
  async waitForJob(id: string, waitMs: number, signal?: AbortSignal): Promise<JobView> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const v = await this.jobView(id);
      const left = deadline - Date.now();
      if (terminal(v.state) || left <= 0 || this.closing || signal?.aborted) return v;
      await this.wait(`job:${id}`, Math.min(left, 1_000), signal);
    }
  }

  private async failJob(j: JobRecord, error: string): Promise<void> {
    await this.store.updateJob(
      j.jobId,
      { state: "failed", error, completedAt: Date.now() },
      this.o.resultTtlMs,
    );
    await this.store.redis.del(this.store.payloadKey(j.jobId));
    await this.store.countFailed(j.sessionId, j.jobId);
    this.notify(`job:${j.jobId}`);
    this.o.log.warn({ jobId: j.jobId, sessionId: j.sessionId, error }, "job failed");
  }

  /** Puts job `j` (no longer in any BullMQ queue) into `to`'s queue. */
  private async place(j: JobRecord, to: Address): Promise<void> {
    if (j.attempts >= this.o.maxAttempts) {
      await this.failJob(j, tooManyAttempts(j));
      return;
    }
    const generation = j.generation + 1;
    const bullId = MinerQueues.bullId(j.jobId, generation);
    // The record first: a miner taking the BullMQ job must find the record already pointing at it.
    await this.store.updateJob(j.jobId, { state: "queued", queue: to, bullId, generation, miner: null });
    await this.queues.add(to, j.jobId, generation);
    this.notify(`miner:${to}`);
    this.notify(`job:${j.jobId}`);
  }

  // -- miners -----------------------------------------------------------------------------------

  /**
   * Miners that polled within the timeout and are still members (one pruned since its last poll
   * gets no new work). A membership check that fails counts as yes: the chain being slow must not
   * stop routing.
   */
  private async liveMiners(now = Date.now()): Promise<Address[]> {
    const seen = await this.store.liveMiners(now - this.o.minerTimeoutMs);
    const member = await Promise.all(seen.map((m) => this.o.isMember(m, "miner").catch(() => true)));
    return seen.filter((_, i) => member[i]);
  }

  private async isLive(miner: Address, now = Date.now()): Promise<boolean> {
    const seen = await this.store.lastSeen(miner);
    return seen !== null && seen >= now - this.o.minerTimeoutMs;
  }

  /** The miner with the fewest open sessions (ties broken at random), or undefined. */
  private async leastLoaded(candidates: readonly Address[]): Promise<Address | undefined> {
    let best: Address[] = [];
    let bestLoad = Infinity;
    for (const m of candidates) {
      const load = await this.store.sessionLoad(m);
      if (load < bestLoad) {
        best = [m];
        bestLoad = load;
      } else if (load === bestLoad) best.push(m);
    }
    return best[Math.floor(Math.random() * best.length)];
  }

  private async moveSession(s: SessionRecord, to: Address, why: string): Promise<void> {
    const from = s.miner;
    if (from === to) return;
    await this.store.assignSession(s, to);
    this.o.log.info({ sessionId: s.sessionId, from, to }, `session moved: ${why}`);
  }

  /**
   * Long-polls `miner`'s queue: its next job, or undefined after `waitMs`. Each round also records
   * that the miner is alive.
   */
  async pollWork(miner: Address, waitMs: number, signal?: AbortSignal): Promise<WorkItem | undefined> {
    const deadline = Date.now() + waitMs;
    let seenAt = Date.now();
    await this.store.seen(miner, seenAt);
    await this.queues.worker(miner);
    for (;;) {
      if (this.closing || signal?.aborted) return undefined;
      const item = await this.takeOne(miner);
      if (item) return item;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await this.wait(`miner:${miner}`, Math.min(left, RECHECK_MS), signal);
      if (Date.now() - seenAt > this.o.minerTimeoutMs / 4) {
        seenAt = Date.now();
        await this.store.seen(miner, seenAt);
      }
    }
  }

  private async takeOne(miner: Address): Promise<WorkItem | undefined> {
    for (;;) {
      const token = randomHex(16);
      const got = await this.queues.take(miner, token);
      if (!got) return undefined;
      const j = await this.store.getJob(got.jobId);
      if (!j || j.bullId !== got.bullId || terminal(j.state)) {
        // A leftover of a job that moved on (or expired): not work for anyone.
        await this.queues.drop(miner, got.bullId, token);
        continue;
      }
      const [s, payload] = await Promise.all([
        this.store.getSession(j.sessionId),
        this.store.getPayload(j.jobId),
      ]);
      if (!s || s.state === "closed" || !payload) {
        await this.queues.drop(miner, got.bullId, token);
        await this.failJob(
          j,
          s?.state === "closed" ? "its session was closed" : "its session or its inputs expired",
        );
        continue;
      }
      if (j.attempts >= this.o.maxAttempts) {
        await this.queues.drop(miner, got.bullId, token);
        await this.failJob(j, tooManyAttempts(j));
        continue;
      }
      const now = Date.now();
      await this.store.updateJob(j.jobId, {
        state: "active",
        miner,
        attempts: j.attempts + 1,
        activeAt: now,
      });
      this.notify(`job:${j.jobId}`);
      this.o.log.debug({ jobId: j.jobId, miner, attempt: j.attempts + 1 }, "job taken");
      // No request id and no account: a miner cannot tell a paid job from a canary.
      return { jobId: j.jobId, lockToken: token, sessionId: s.sessionId, job: workJob(s, payload) };
    }
  }

  /** The job `jobId` if `miner` holds it under `lockToken`; refuses otherwise. */
  private async heldJob(miner: Address, jobId: string, lockToken: string): Promise<JobRecord> {
    const j = await this.store.getJob(jobId);
    if (!j) throw new GatewayRefusal(404, "JobNotFound", `no job ${jobId} (unknown, or expired)`);
    if (j.state !== "active" || j.miner !== miner) {
      throw new GatewayRefusal(
        409,
        "JobNotHeld",
        `job ${jobId} is ${j.state}${j.state === "active" ? " under another miner" : ""}, not held by ${miner}: drop it`,
      );
    }
    const holder = await this.queues.lockHolder(j.queue, j.bullId);
    if (holder !== lockToken) {
      throw new GatewayRefusal(
        409,
        "LockLost",
        holder === null
          ? `your lock on job ${jobId} expired (a job must be answered within ${this.o.lockMs} ms); it goes back to the queue: drop it`
          : `the lock token does not match job ${jobId}'s lock: use the token its work item came with`,
      );
    }
    return j;
  }

  async postResult(miner: Address, jobId: string, body: PostResult): Promise<void> {
    const j = await this.heldJob(miner, jobId, body.lockToken);
    const refuse = async (code: string, message: string): Promise<never> => {
      await this.store.countMiner(miner, "failed");
      this.o.log.warn({ jobId, miner, code }, "result refused");
      throw new GatewayRefusal(
        400,
        code,
        `${message}; the job stays yours until its lock expires: post a correct result or release it`,
      );
    };
    const outputs = body.outputs.map(bytesOf);
    const hash = await outputsHash(outputs);
    if (hash !== body.outputHash) {
      await refuse(
        "OutputHashMismatch",
        `outputHash ${body.outputHash} is not the hash of the outputs (${hash}: keccak256 over each output's keccak256, protocol.ts outputsHash)`,
      );
    }
    if (j.kind === "generate") {
      const payload = await this.store.getPayload(jobId);
      const ok =
        outputs.length === 1 &&
        outputs[0]!.length % 4 === 0 &&
        outputs[0]!.length / 4 <= (payload?.kind === "generate" ? payload.maxTokens : Infinity);
      if (!ok)
        await refuse("BadOutputs", "a generate job's result is one blob of at most maxTokens u32 token ids");
    } else if (outputs.length === 0) {
      await refuse("BadOutputs", "a linear job's result holds its output ciphertexts (none were sent)");
    }
    const s = await this.store.getSession(j.sessionId);
    // The job's hash from submit; only a job queued by an older gateway has it computed now.
    const job = j.jobHash ?? (await this.jobHashOf(j, s));
    if (this.o.delivery) {
      let signer: Address = zeroAddress;
      try {
        signer = await recoverTypedDataAddress({
          domain: deliveryDomain(this.o.delivery.chainId, this.o.delivery.computeMarket),
          types: DELIVERY_TYPES,
          primaryType: "Delivery",
          message: deliveryMessage(this.o.brainId, job, hash),
          signature: body.signature,
        });
      } catch {
        // malformed: refused below
      }
      if (signer !== miner) {
        await refuse(
          "BadDeliverySignature",
          `the Delivery signature is not ${miner}'s over (brainId ${this.o.brainId}, jobHash ${job} of the work item as sent, outputHash) in ComputeMarket ${this.o.delivery.computeMarket}'s EIP-712 domain on chain ${this.o.delivery.chainId}`,
        );
      }
    }
    if ((await this.queues.complete(j.queue, j.bullId, body.lockToken)) === "lost") {
      throw new GatewayRefusal(
        409,
        "LockLost",
        `your lock on job ${jobId} expired while the result arrived: drop it`,
      );
    }
    const completedAt = Date.now();
    const latencyMs = completedAt - (j.activeAt ?? completedAt);
    const sample =
      j.kind === "linear" && s && s.paramSet
        ? {
            record: {
              jobId,
              miner,
              step: j.step!,
              paramSet: s.paramSet,
              keys: s.keys,
              outputHash: hash,
              latencyMs,
              completedAt,
            },
            window: this.o.sampleWindow,
            ttlMs: this.o.sampleTtlMs,
          }
        : null;
    await this.store.completeJob({
      job: j,
      session: s,
      result: {
        outputs: body.outputs.map(base64Of),
        outputHash: hash,
        jobHash: job,
        signature: body.signature,
        miner,
      },
      completedAt,
      latencyMs,
      resultTtlMs: this.o.resultTtlMs,
      countedStep: j.step !== null && countsForUnits(j.step) ? j.step : null,
      plainTokens: j.kind === "generate" ? outputs[0]!.length / 4 : 0,
      sample: this.o.sampleWindow > 0 ? sample : null,
    });
    this.notify(`job:${jobId}`);
    this.o.log.info({ jobId, sessionId: j.sessionId, miner, latencyMs }, "job completed");
  }

  /** `jobHash` of a job recorded without one (queued by an older gateway), from its payload. */
  private async jobHashOf(j: JobRecord, s: SessionRecord | undefined): Promise<Hex> {
    const payload = await this.store.getPayload(j.jobId);
    if (!s || !payload) {
      throw new GatewayRefusal(409, "JobNotHeld", `job ${j.jobId}'s session or inputs expired: drop it`);
    }
    return jobHash(j.jobId, workJob(s, payload));
  }

  async releaseJob(miner: Address, jobId: string, lockToken: string, reason: string): Promise<void> {
    const j = await this.heldJob(miner, jobId, lockToken);
    if ((await this.queues.drop(j.queue, j.bullId, lockToken)) === "lost") {
      throw new GatewayRefusal(
        409,
        "LockLost",
        `your lock on job ${jobId} expired meanwhile; nothing to release`,
      );
    }
    // The miner cannot serve this session now (shutting down, or the job does not run there):
    // the session goes to another live miner when there is one.
    const s = await this.store.getSession(j.sessionId);
    let to = miner;
    if (s && s.state === "open") {
      const other = await this.leastLoaded((await this.liveMiners()).filter((m) => m !== miner));
      if (other) await this.moveSession(s, other, "its miner released a job");
      to = s.miner;
    }
    this.o.log.info({ jobId, miner, to, reason: reason.slice(0, 200) }, "job released");
    await this.place({ ...j, state: "queued" }, to);
  }

  // -- failover ---------------------------------------------------------------------------------

  /** A stalled job went back to `miner`'s queue (its lock expired): count it, and move it if `miner` is gone. */
  onStalled(bullId: string, miner: Address): void {
    const jobId = MinerQueues.jobIdOf(bullId);
    void (async () => {
      const j = await this.store.getJob(jobId);
      // A leftover of an earlier placement is dropped when a miner takes it.
      if (!j || j.bullId !== bullId || terminal(j.state)) return;
      if (j.state === "active" && j.miner) await this.store.countMiner(j.miner, "stalled");
      await this.store.updateJob(jobId, { state: "queued", miner: null });
      this.notify(`job:${jobId}`);
      this.o.log.warn({ jobId, miner: j.miner }, "job stalled (its miner's lock expired); retrying");
      if (j.attempts >= this.o.maxAttempts) {
        if (await this.queues.removeWaiting(miner, bullId)) {
          await this.failJob(j, tooManyAttempts(j));
        }
        return;
      }
      if (!(await this.isLive(miner))) await this.tick();
      else this.notify(`miner:${miner}`);
    })().catch((err) => this.o.log.warn({ jobId, err: errorLine(err) }, "handling a stalled job failed"));
  }

  /** Whether this replica runs the monitor and settles now: not stopping, and the leader. */
  private leading(): boolean {
    return !this.closing && (this.o.isLeader?.() ?? true);
  }

  /**
   * The failover monitor: sessions and waiting jobs of miners that stopped polling go to the least
   * loaded live miner. Jobs a silent miner still holds follow once their lock expires (`onStalled`).
   */
  async tick(): Promise<void> {
    // One replica at a time moves sessions and settles (leader.ts).
    if (this.ticking || !this.leading()) return;
    this.ticking = true;
    try {
      const now = Date.now();
      const live = await this.liveMiners(now);
      for (const { address: m, lastSeen } of await this.store.allMiners()) {
        if (!this.leading()) return;
        if (lastSeen >= now - this.o.minerTimeoutMs || lastSeen < now - FORGET_MS) continue;
        const counts = await this.queues.counts(m);
        // Its held jobs come back through the stalled checker once their locks expire.
        if (counts.active > 0) await this.queues.worker(m);
        let left = counts.waiting;
        const sessions = await this.store.sessionsOf(m, now);
        if (live.length > 0) {
          for (const sid of sessions) {
            const s = await this.store.getSession(sid);
            if (!s || s.state !== "open" || s.miner !== m) continue;
            const to = await this.leastLoaded(live);
            if (to) await this.moveSession(s, to, `miner ${m} stopped polling`);
          }
          if (counts.waiting > 0) left = await this.moveWaiting(m, live);
        }
        if (counts.active === 0 && left === 0 && this.queues.hasWorker(m)) await this.queues.retire(m);
      }
      await this.settleExpired(now);
      await this.relay?.drain();
    } catch (err) {
      this.o.log.warn({ err: errorLine(err) }, "failover round failed; retrying");
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Paid sessions that expired without a close are closed and settled as close does, for the work
   * delivered (their last delivery): a client that walks away still pays for what ran, and cannot
   * let the deadline pass to reclaim the whole escrow.
   */
  private async settleExpired(now: number): Promise<void> {
    for (const id of await this.store.expiredPaidSessions(now)) {
      if (!this.leading()) return;
      // One gateway round takes each session once.
      if ((await this.store.redis.zrem(this.store.paidSessionsKey(), id)) === 0) continue;
      const s = await this.store.getSession(id);
      if (!s || s.state === "closed" || s.requestId === null) continue;
      if (!(await this.store.claimClose(id, this.o.sessionTtlMs))) continue;
      await this.store.markClosed(s);
      const units = await this.units(s);
      const settlement = await this.settle(s, units.completion);
      this.o.log.info(
        {
          sessionId: id,
          units,
          settled: settlement.txHash,
          refunded: settlement.refunded ?? false,
          settleError: settlement.error,
        },
        settlement.refunded ? "expired session refunded" : "expired session settled",
      );
    }
  }

  /** Moves the waiting jobs of silent miner `from` to their sessions' (live) miners; how many stay. */
  private async moveWaiting(from: Address, live: readonly Address[]): Promise<number> {
    let left = 0;
    for (const bullId of await this.queues.waiting(from)) {
      const j = await this.store.getJob(MinerQueues.jobIdOf(bullId));
      if (!j || j.bullId !== bullId || terminal(j.state)) {
        await this.queues.removeWaiting(from, bullId);
        continue;
      }
      const s = await this.store.getSession(j.sessionId);
      const to = s && s.state === "open" && s.miner !== from ? s.miner : await this.leastLoaded(live);
      if (!to || to === from) {
        left++;
        continue;
      }
      if (!(await this.queues.removeWaiting(from, bullId))) continue; // taken meanwhile
      this.o.log.info({ jobId: j.jobId, from, to }, "job moved to a live miner");
      await this.place(j, to);
    }
    return left;
  }

  // -- validators -------------------------------------------------------------------------------

  samples(limit: number): Promise<Sample[]> {
    return this.store.randomSamples(limit);
  }

  async minerStats(): Promise<MinerStats[]> {
    const out: MinerStats[] = [];
    for (const { address, lastSeen } of await this.store.allMiners()) {
      const c = await this.store.minerCounters(address);
      out.push({
        address,
        lastSeen,
        completed: c.completed,
        failed: c.failed,
        stalled: c.stalled,
        p50LatencyMs: median(c.latencies),
      });
    }
    return out;
  }

  async liveMinerCount(): Promise<number> {
    return (await this.liveMiners()).length;
  }
}
