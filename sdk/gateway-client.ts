/**
 * HTTP client of a Brain's gateway (protocol/gateway.ts): what `based prompt`, miners and
 * validators use. Client calls are unsigned; miner and validator calls are authenticated with the
 * member's key: by default it signs once for a lease (`POST /v1/members/lease`, EIP-191 over
 * `signedRequestMessage`) and MACs each request with the lease's secret (over the same message, a
 * fresh nonce each time); with `leases: false`, or against a gateway without leases, it signs each
 * request.
 */
import type { LocalAccount } from "viem";
import { z } from "zod";
import {
  API_PREFIX,
  type CloseSessionResult,
  type GatewayDomain,
  type JobView,
  LEASE_HEADERS,
  LEASE_LIMITS,
  LIMITS,
  type Lease,
  type LeaseKey,
  type MinerStats,
  type OpenSession,
  type PostResult,
  SIGNATURE_HEADERS,
  type Sample,
  type SessionView,
  type SubmitJob,
  type WorkItem,
  type BlobClaim,
  FRAMES_CONTENT_TYPE,
  base64Of,
  blobClaimHeaders,
  bytesOf,
  encodeFrames,
  decodeFrames,
  wantsFrames,
  blobHash,
  closeSessionResultSchema,
  jobViewSchema,
  leaseKey,
  leaseMacWith,
  leaseSchema,
  minerStatsSchema,
  randomHex,
  sampleSchema,
  sessionViewSchema,
  signedRequestMessage,
  workItemSchema,
} from "../protocol/gateway";
import { sha256Hex } from "../protocol/hash";
import { BasedError } from "./errors";

// The answers' envelopes, built once rather than per call.
const jobIdEnvelope = z.object({ jobId: z.string() });
const samplesEnvelope = z.object({ samples: z.array(sampleSchema) });
const minersEnvelope = z.object({ miners: z.array(minerStatsSchema) });

/** A refusal or failure of the gateway, with its HTTP status and error code. */
export class GatewayError extends BasedError {
  override readonly name: string = "GatewayError";
  constructor(
    /** The HTTP status the gateway answered (or 408/502 for a wait or a blob that went wrong here). */
    readonly status: number,
    code: string,
    message: string,
  ) {
    // 429 and 5xx: the gateway cannot serve now; 4xx: it refused this request.
    super(status === 429 || status >= 500 ? "environment" : "refused", code, message, undefined, {
      status: String(status),
    });
  }
}

export type GatewayClientOptions = {
  /** e.g. http://127.0.0.1:7200 */
  url: string;
  /** Per-request timeout (long polls add their wait). */
  timeoutMs?: number;
  /**
   * Aborts every request under way and every wait (a service's shutdown signal): a call then
   * rejects with the signal's reason at once instead of running out its timeout.
   */
  signal?: AbortSignal;
  /**
   * Authenticate members' calls with a lease (one signature per lease, an HMAC per request).
   * Default true; false signs every request (the older scheme, which gateways still accept).
   */
  leases?: boolean;
  /**
   * Send and ask for ciphertexts as raw frames (`FRAMES_CONTENT_TYPE`: job submits, job views,
   * work items, results) rather than base64 in JSON. Default true; false: JSON only (older gateways).
   */
  binary?: boolean;
};

/** A request body: JSON (serialized here) or framed bytes. */
type Body = { json: unknown } | { frames: unknown };

/** A lease this client holds for one signer, with its secret imported as a key. */
type HeldLease = Lease & { key: LeaseKey; domain: GatewayDomain };

/** Codes of a 401 after which a fresh lease is taken and the request sent once more. */
const STALE_LEASE = new Set(["LeaseExpired", "LeaseUnknown", "LeaseStale"]);

/** A request body's bytes (what a signature's body hash covers) and its content type. */
function encodeBody(body?: Body): { bytes?: string | Uint8Array; type?: string } {
  if (body === undefined) return {};
  if ("frames" in body) return { bytes: encodeFrames(body.frames), type: FRAMES_CONTENT_TYPE };
  return { bytes: JSON.stringify(body.json), type: "application/json" };
}

export type SignerOptions = { account: LocalAccount; domain: GatewayDomain };

export class GatewayClient {
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly signal: AbortSignal | undefined;
  /** False once this client signs every request (asked to, or the gateway has no lease route). */
  private leasing: boolean;
  /** Per signer (address and domain): its lease, or the one login under way. */
  private readonly leases = new Map<
    string,
    { lease?: HeldLease; pending?: Promise<HeldLease | undefined> }
  >();
  private taken = 0;
  /** Whether ciphertexts travel as frames (`GatewayClientOptions.binary`). */
  readonly binary: boolean;

  constructor(options: GatewayClientOptions) {
    this.binary = options.binary ?? true;
    this.url = options.url.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.signal = options.signal;
    this.leasing = options.leases ?? true;
  }

  /** How many leases this client has taken (each one signature the gateway recovers). */
  get leasesTaken(): number {
    return this.taken;
  }

  // -- clients ---------------------------------------------------------------------------------

  /** Whether the gateway holds blob `hash` (so a session can skip uploading its keys). */
  async hasBlob(hash: string): Promise<boolean> {
    const res = await this.fetch("HEAD", `/blobs/${hash}`);
    if (res.status === 404) return false;
    await this.check(res);
    return true;
  }

  /**
   * Uploads a content-addressed blob unless the gateway has it; returns its hash. A paid gateway
   * (one without `--free-sessions`) stores only blobs that name an open request and carry the
   * claim of the session they are keys of (`claim`: its keys must include this blob).
   * `checked`: the caller has just asked `hasBlob` (and heard no): upload without asking again.
   */
  async putBlob(bytes: Uint8Array, claim?: BlobClaim, checked = false): Promise<string> {
    const hash = blobHash(bytes);
    if (!checked && (await this.hasBlob(hash))) return hash;
    const res = await this.fetch("PUT", `/blobs/${hash}`, {
      body: bytes,
      headers: { "content-type": "application/octet-stream", ...(claim ? blobClaimHeaders(claim) : {}) },
    });
    await this.check(res);
    return hash;
  }

  async openSession(body: OpenSession): Promise<SessionView> {
    return sessionViewSchema.parse(await this.json("POST", "/sessions", body));
  }

  async getSession(sessionId: string): Promise<SessionView> {
    return sessionViewSchema.parse(await this.json("GET", `/sessions/${sessionId}`));
  }

  async closeSession(sessionId: string): Promise<CloseSessionResult> {
    return closeSessionResultSchema.parse(await this.json("POST", `/sessions/${sessionId}/close`, {}));
  }

  async submitJob(sessionId: string, body: SubmitJob): Promise<{ jobId: string }> {
    const res = await this.fetch("POST", `/sessions/${sessionId}/jobs`, this.jobBody(body));
    await this.check(res);
    return jobIdEnvelope.parse(await res.json());
  }

  /**
   * Submits a job and has the gateway hold the answer until it ends or `waitMs` (at most
   * `LIMITS.maxWaitMs`) runs out: the job's view either way (its `jobId` to wait on further).
   */
  async submitAndWait(sessionId: string, body: SubmitJob, waitMs: number): Promise<JobView> {
    const wait = Math.max(1, Math.min(Math.round(waitMs), LIMITS.maxWaitMs));
    const res = await this.fetch(
      "POST",
      `/sessions/${sessionId}/jobs?waitMs=${wait}`,
      this.jobBody(body),
      wait,
    );
    await this.check(res);
    return jobViewSchema.parse(await this.read(res));
  }

  /**
   * Runs one job: submits it and waits in the same request (`submitAndWait`), then, when it has
   * not ended by then, long-polls its view (`waitForJob`) until `timeoutMs` in all.
   */
  async runJob(sessionId: string, body: SubmitJob, timeoutMs = 10 * 60_000): Promise<JobView> {
    const deadline = Date.now() + timeoutMs;
    const view = await this.submitAndWait(sessionId, body, Math.min(timeoutMs, LIMITS.maxWaitMs));
    if (view.state === "completed" || view.state === "failed") return view;
    return this.waitForJob(view.jobId, Math.max(1, deadline - Date.now()));
  }

  /** The job's state; with `waitMs`, the gateway holds the answer until the job ends or time runs out. */
  async getJob(jobId: string, waitMs = 0): Promise<JobView> {
    const q = waitMs > 0 ? `?waitMs=${Math.min(waitMs, LIMITS.maxWaitMs)}` : "";
    const res = await this.fetch("GET", `/jobs/${jobId}${q}`, { headers: this.accept() }, waitMs);
    await this.check(res);
    return jobViewSchema.parse(await this.read(res));
  }

  /** Waits until the job completes or fails (long polls of at most `LIMITS.maxWaitMs`). */
  async waitForJob(jobId: string, timeoutMs = 10 * 60_000): Promise<JobView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.signal?.throwIfAborted();
      const left = deadline - Date.now();
      const view = await this.getJob(jobId, Math.max(1, Math.min(left, LIMITS.maxWaitMs)));
      if (view.state === "completed" || view.state === "failed") return view;
      if (Date.now() >= deadline) {
        throw new GatewayError(408, "JobTimeout", `job ${jobId} did not finish within ${timeoutMs / 1000} s`);
      }
    }
  }

  // -- miners and validators (signed) ---------------------------------------------------------

  /** Long-polls for this miner's next job; undefined when none came within `waitMs`. */
  async pollWork(signer: SignerOptions, waitMs = 20_000): Promise<WorkItem | undefined> {
    const res = await this.signedFetch(signer, "POST", "/miner/work", { json: { waitMs } }, waitMs);
    if (res.status === 204) return undefined;
    await this.check(res);
    return workItemSchema.parse(await this.read(res));
  }

  /** Delivers a job's outputs (as frames unless this client sends JSON; the signature covers the bytes sent). */
  async postResult(signer: SignerOptions, jobId: string, body: PostResult): Promise<void> {
    const sent: Body = this.binary
      ? { frames: { ...body, outputs: body.outputs.map(bytesOf) } }
      : { json: { ...body, outputs: body.outputs.map(base64Of) } };
    await this.check(await this.signedFetch(signer, "POST", `/miner/jobs/${jobId}/result`, sent));
  }

  async releaseJob(signer: SignerOptions, jobId: string, lockToken: string, reason: string): Promise<void> {
    await this.check(
      await this.signedFetch(signer, "POST", `/miner/jobs/${jobId}/release`, { json: { lockToken, reason } }),
    );
  }

  /** A blob (evaluation keys) by hash; members only. */
  async getBlob(signer: SignerOptions, hash: string): Promise<Uint8Array> {
    const res = await this.signedFetch(signer, "GET", `/blobs/${hash}`);
    await this.check(res);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (blobHash(bytes) !== hash)
      throw new GatewayError(502, "BlobCorrupt", `blob ${hash} does not match its hash`);
    return bytes;
  }

  async samples(signer: SignerOptions, limit = 10): Promise<Sample[]> {
    const res = await this.signedFetch(signer, "GET", `/validator/samples?limit=${limit}`);
    await this.check(res);
    return samplesEnvelope.parse(await res.json()).samples;
  }

  async minerStats(signer: SignerOptions): Promise<MinerStats[]> {
    const res = await this.signedFetch(signer, "GET", "/validator/miners");
    await this.check(res);
    return minersEnvelope.parse(await res.json()).miners;
  }

  // -- plumbing ---------------------------------------------------------------------------------

  private async fetch(
    method: string,
    route: string,
    init: { body?: string | Uint8Array; headers?: Record<string, string> } = {},
    extraMs = 0,
  ): Promise<Response> {
    const url = `${this.url}${API_PREFIX}${route}`;
    this.signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(this.timeoutMs + extraMs);
    try {
      return await fetch(url, {
        method,
        body: init.body,
        headers: init.headers,
        // The timeout or the caller's signal: the body is read under the same signal.
        signal: this.signal ? AbortSignal.any([timeout, this.signal]) : timeout,
      });
    } catch (err) {
      this.signal?.throwIfAborted();
      throw new BasedError(
        "environment",
        "GatewayUnreachable",
        `the gateway at ${this.url} did not answer (${(err as Error).message})`,
        "Is it running? On devnet `npm run devnet` starts one for Brain #3; elsewhere check BASED_GATEWAY_URL.",
      );
    }
  }

  /** A job's body: framed (linear jobs' inputs as bytes) or JSON (base64), asking for frames back. */
  private jobBody(body: SubmitJob): { body: string | Uint8Array; headers: Record<string, string> } {
    if (body.kind === "linear") {
      if (this.binary) {
        return {
          body: encodeFrames({ ...body, inputs: body.inputs.map(bytesOf) }),
          headers: { "content-type": FRAMES_CONTENT_TYPE, ...this.accept() },
        };
      }
      body = { ...body, inputs: body.inputs.map(base64Of) };
    }
    return { body: JSON.stringify(body), headers: { "content-type": "application/json", ...this.accept() } };
  }

  /** The accept header of calls whose answers carry ciphertexts. */
  private accept(): Record<string, string> {
    return { accept: this.binary ? `${FRAMES_CONTENT_TYPE}, application/json` : "application/json" };
  }

  /** An answer's message: decoded from frames when the gateway framed it, else JSON. */
  private async read(res: Response): Promise<unknown> {
    if (wantsFrames(res.headers.get("content-type") ?? undefined)) {
      return decodeFrames(new Uint8Array(await res.arrayBuffer()));
    }
    return res.json();
  }

  private async json(method: string, route: string, body?: unknown, extraMs = 0): Promise<unknown> {
    const res = await this.fetch(
      method,
      route,
      body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { "content-type": "application/json" } },
      extraMs,
    );
    await this.check(res);
    return res.json();
  }

  /**
   * A member's call: MAC'd with the signer's lease when this client uses leases (taking one first
   * when it has none or it nears its end; once more after a 401 that says it expired or is unknown,
   * e.g. the gateway's Redis was flushed), else signed.
   */
  private async signedFetch(
    signer: SignerOptions,
    method: string,
    route: string,
    body?: Body,
    extraMs = 0,
  ): Promise<Response> {
    const lease = await this.leaseFor(signer);
    if (!lease) return this.signatureFetch(signer, method, route, body, extraMs);
    const res = await this.leasedFetch(lease, method, route, body, extraMs);
    if (res.status !== 401) return res;
    const code = await res
      .clone()
      .json()
      .then((b) => (b as { error?: unknown } | null)?.error)
      .catch(() => undefined);
    if (typeof code !== "string" || !STALE_LEASE.has(code)) return res;
    await res.body?.cancel();
    const fresh = await this.leaseFor(signer, lease);
    if (!fresh) return this.signatureFetch(signer, method, route, body, extraMs);
    return this.leasedFetch(fresh, method, route, body, extraMs);
  }

  /**
   * The signer's live lease: the one held, unless it ends within `leaseRenewBeforeS` or is `stale`;
   * else a new one, one login at a time per signer however many calls want it. Undefined when this
   * client signs each request instead.
   */
  private async leaseFor(signer: SignerOptions, stale?: HeldLease): Promise<HeldLease | undefined> {
    if (!this.leasing) return undefined;
    const d = signer.domain;
    const id = `${signer.account.address}:${d.chainId}:${d.network}:${d.brainId}`;
    let entry = this.leases.get(id);
    if (!entry) this.leases.set(id, (entry = {}));
    if (stale && entry.lease === stale) entry.lease = undefined;
    const nowS = Date.now() / 1000;
    if (entry.lease && entry.lease.expiresAt - LEASE_LIMITS.leaseRenewBeforeS > nowS) return entry.lease;
    if (!entry.pending) {
      const e = entry;
      e.pending = this.takeLease(signer)
        .then((lease) => {
          e.lease = lease;
          return lease;
        })
        .finally(() => {
          e.pending = undefined;
        });
    }
    return entry.pending;
  }

  /** Signs for a lease; undefined (and signatures from then on) when the gateway has no lease route. */
  private async takeLease(signer: SignerOptions): Promise<HeldLease | undefined> {
    const res = await this.signatureFetch(signer, "POST", "/members/lease", { json: {} });
    if (res.status === 404) {
      await res.body?.cancel();
      this.leasing = false;
      return undefined;
    }
    await this.check(res);
    const lease = leaseSchema.parse(await res.json());
    this.taken++;
    return { ...lease, key: await leaseKey(lease.secret), domain: signer.domain };
  }

  private leasedFetch(
    lease: HeldLease,
    method: string,
    route: string,
    body?: Body,
    extraMs = 0,
  ): Promise<Response> {
    return this.authedFetch(lease.domain, method, route, body, extraMs, async (message) => ({
      [LEASE_HEADERS.lease]: lease.leaseId,
      [LEASE_HEADERS.mac]: await leaseMacWith(lease.key, message),
    }));
  }

  private signatureFetch(
    signer: SignerOptions,
    method: string,
    route: string,
    body?: Body,
    extraMs = 0,
  ): Promise<Response> {
    return this.authedFetch(signer.domain, method, route, body, extraMs, async (message) => ({
      [SIGNATURE_HEADERS.address]: signer.account.address,
      [SIGNATURE_HEADERS.signature]: await signer.account.signMessage({ message }),
    }));
  }

  /**
   * A member's request: the canonical message over method, path, body hash, a fresh nonce and an
   * expiry, authenticated by `auth` (a lease's MAC or a signature); nonce and expiry go along.
   */
  private async authedFetch(
    domain: GatewayDomain,
    method: string,
    route: string,
    body: Body | undefined,
    extraMs: number,
    auth: (message: string) => Promise<Record<string, string>>,
  ): Promise<Response> {
    const { bytes, type } = encodeBody(body);
    const nonce = randomHex(16);
    const expiry = Math.floor(Date.now() / 1000) + 60;
    const message = signedRequestMessage(domain, {
      method,
      path: `${API_PREFIX}${route}`,
      bodySha256: sha256Hex(bytes ?? ""),
      nonce,
      expiry,
    });
    const headers: Record<string, string> = {
      ...(await auth(message)),
      [SIGNATURE_HEADERS.nonce]: nonce,
      [SIGNATURE_HEADERS.expiry]: String(expiry),
    };
    if (type) headers["content-type"] = type;
    Object.assign(headers, this.accept());
    return this.fetch(method, route, bytes === undefined ? { headers } : { body: bytes, headers }, extraMs);
  }

  private async check(res: Response): Promise<void> {
    if (res.ok) return;
    let code = `HTTP${res.status}`;
    let message = res.statusText;
    try {
      const body = (await res.json()) as { error?: string; message?: string };
      code = body.error ?? code;
      message = body.message ?? message;
    } catch {
      // not JSON: keep the status line
    }
    throw new GatewayError(res.status, code, `gateway refused (${res.status} ${code}): ${message}`);
  }
}
