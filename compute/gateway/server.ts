/**
 * The Brain gateway's HTTP face (docs/architecture.md §1; routes in protocol.ts, rules in service.ts): fastify
 * with zod-validated inputs, per-route size limits, per-IP rate limits on client routes, signed
 * requests on miner and validator routes, server-sent events for job progress, and `{error,
 * message}` bodies for every refusal. Each route declares its schemas once; fastify validates with
 * them and `GET /docs` is the OpenAPI document @fastify/swagger derives from them. It fails to start
 * at once when Redis is unreachable.
 */
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { type ZodTypeProvider, createJsonSchemaTransform } from "fastify-type-provider-zod";
import { Redis, type RedisOptions } from "ioredis";
import pino, { type Logger } from "pino";
import type { Address, Hex } from "viem";
import { z } from "zod";
import { BasedError } from "../../sdk/errors";
import {
  type LeasedHeaders,
  type MemberRole,
  checkLeasedHeaders,
  checkSignedHeaders,
  isLeased,
  verifyLeasedRequest,
  verifySignedRequest,
} from "./auth";
import { FailureBudget } from "./bounded";
import { GatewayRefusal, invalid, isRedisConnectionError, redisDown } from "./errors";
import {
  API_PREFIX,
  DEFAULT_REDIS_URL,
  type GatewayDomain,
  type JobView,
  BLOB_CLAIM_HEADERS,
  FRAMES_CONTENT_TYPE,
  FrameError,
  LIMITS,
  type WorkItem,
  bytesOf,
  decodeFrames,
  encodeFrames,
  wantsFrames,
  SIGNATURE_HEADERS,
  closeSessionResultSchema,
  errorBodySchema,
  jobIdSchema,
  jobViewSchema,
  LEASE_HEADERS,
  LEASE_LIMITS,
  leaseSchema,
  minerStatsSchema,
  openSessionSchema,
  pollWorkSchema,
  postResultSchema,
  releaseJobSchema,
  sampleSchema,
  sessionIdSchema,
  sessionViewSchema,
  parseBlobClaimHeaders,
  sha256HexSchema,
  submitJobSchema,
  takeLeaseSchema,
  workItemSchema,
} from "../../protocol/gateway";
import { FileBlobStore, defaultBlobDir } from "./blob-store";
import { LeaderLease } from "./leader";
import { LeaseStore } from "./leases";
import { MinerQueues } from "./queues";
import { type EscrowInfo, GatewayService } from "./service";
import { SettlementRelay } from "./settlements";
import { GatewayStore } from "./store";
import { Wakeups, wakeChannel } from "./wakeups";

export type GatewayOptions = {
  host?: string;
  /** 0: any free port. */
  port: number;
  brainId: number;
  /** Default: DEFAULT_REDIS_URL (the service reads BASED_REDIS_URL through sdk/config.ts). */
  redisUrl?: string;
  /** Redis key prefix (BullMQ's too); default "based". */
  prefix?: string;
  /** Who signed requests must name (chain, Network contract, Brain). */
  domain: GatewayDomain;
  /** The EIP-712 domain of miners' Delivery signatures; unset: signatures are not checked. */
  delivery?: { chainId: number; computeMarket: Address };
  isMember(address: Address, role: "miner" | "validator"): Promise<boolean>;
  /** Posts a delivery to ComputeMarket; returns the transaction hash. Unset: no settlement. */
  settle?(s: {
    requestId: string;
    completionUnits: number;
    /** The job the miner's Delivery signs (protocol/gateway.ts `jobHash`). */
    jobHash: Hex;
    resultHash: Hex;
    signature: Hex;
    miner: Address;
  }): Promise<Hex>;
  /**
   * Refunds a request's whole escrow to its account (ComputeMarket `refund`) when its session ends
   * with no job completed; returns the transaction hash. Unset: such an escrow waits for its deadline.
   */
  refund?(s: { requestId: string }): Promise<Hex>;
  /** Reads a request's escrow (checked when a paid session opens; caps settled units). */
  escrowOf?(requestId: string): Promise<EscrowInfo>;
  /** Whether `app` holds an allowance on `account` (apps may claim their accounts' requests). */
  isApp?(account: Address, app: Address): Promise<boolean>;
  /** Serve sessions without an escrow (devnet, `--free-sessions`). Default false: refused, 402. */
  freeSessions?: boolean;
  logger?: Logger;
  /** An idle session (and its claim on a miner) ends after this long. Default 30 min. */
  sessionTtlMs?: number;
  /** Blobs live this long after upload (sessions using them extend it). Default 1 h. */
  blobTtlMs?: number;
  /** Finished jobs (results) are kept this long. Default 15 min. */
  resultTtlMs?: number;
  /** How long a miner may hold a job before it counts as stalled and is retried. Default 60 s. */
  lockMs?: number;
  /** A miner that has not polled for this long loses its sessions to live miners. Default 45 s. */
  minerTimeoutMs?: number;
  /** Hand-outs of one job before it fails. Default 5. */
  maxAttempts?: number;
  /** Completed linear jobs kept (inputs too) for validators to replay. Default 64. */
  sampleWindow?: number;
  /** How long a sample stays replayable. Default 30 min. */
  sampleTtlMs?: number;
  /** Per client IP across client routes. Default 6,000 requests a minute. */
  rateLimit?: { max: number; timeWindowMs: number };
  /**
   * Signed requests that fail their checks, per client IP and minute, before that IP's signed
   * requests are refused unread (429) for the rest of the minute. Default 20.
   */
  maxSignatureFailures?: number;
  /**
   * Blob bytes one client IP may upload per blob lifetime (`blobTtlMs`) to a `freeSessions`
   * gateway. Default 256 MiB.
   */
  blobQuotaBytes?: number;
  /**
   * Blob bytes one ComputeMarket request may have uploaded per blob lifetime to a paid gateway
   * (one without `freeSessions`), where every upload names an open request and its claim.
   * Default `LIMITS.maxBlobBytesPerRequest`.
   */
  blobQuotaPerRequestBytes?: number;
  /**
   * Where blobs' bytes live: a directory (shared by the replicas on one host; default
   * `defaultBlobDir(prefix, brainId)`, under the OS temp dir), or `"redis"` (the bytes in Redis).
   */
  blobDir?: string | "redis";
  /**
   * Which proxies to believe about the client's address (X-Forwarded-For), for the rate limit,
   * blob quotas and failure counting: a number of hops, or addresses and CIDR ranges (comma
   * separated). Default none: the address is the connection's, and X-Forwarded-For is ignored.
   */
  trustProxy?: number | string;
  /** The leader lease's lifetime (leader.ts); renewed every third of it. Default 10 s. */
  leaderLeaseMs?: number;
  /** How long a close at a replica that does not lead waits for the leader's settlement. Default 20 s. */
  settleWaitMs?: number;
};

export type RunningGateway = {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
  /** This replica: its id (the leader lease's value) and whether it leads now. */
  replica: { id: string; isLeader(): boolean };
  /** Stops at once without giving anything up, as a killed process would (tests). */
  kill(): Promise<void>;
};

export { GatewayRefusal } from "./errors";

declare module "fastify" {
  interface FastifyRequest {
    rawBody?: Buffer;
    /** Whose blob quota an upload counts against (an IP, or `request:<id>` on a paid gateway). */
    blobPayer: string | null;
    /** Who signed the request: set by a signed route's preValidation hook. */
    signer: Address | null;
  }
  interface FastifyContextConfig {
    /** A client route: counted against the caller's IP rate limit. */
    client?: boolean;
  }
  interface FastifySchema {
    /** The member roles a signed route admits (OpenAPI extension). */
    "x-based-roles"?: readonly MemberRole[];
  }
}

/** Body limits: JSON envelopes of base64 payloads are 4/3 of the bytes plus some structure. */
const SMALL_BODY = 64 * 1024;
const JOB_BODY = Math.ceil(LIMITS.maxJobBytes / 3) * 4 + SMALL_BODY;
/** Results carry more ciphertexts than inputs (outputs fan out); 4× a job's bytes. */
const RESULT_BODY = 4 * JOB_BODY;

const hashParams = z.object({ hash: sha256HexSchema.describe("sha256 of the blob's bytes, lowercase hex") });
const sessionParams = z.object({ id: sessionIdSchema.describe("session id") });
const jobParams = z.object({ id: jobIdSchema.describe("job id") });
const waitQuery = z.strictObject({
  waitMs: z.coerce
    .number()
    .int()
    .min(0)
    .max(LIMITS.maxWaitMs)
    .default(0)
    .describe("long-poll up to this many ms"),
});
const samplesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(10).describe("how many (default 10)"),
});
/** A missing poll body is an empty one: the defaults (as `req.body ?? {}` always did). */
const pollBody = z.preprocess((body) => body ?? {}, pollWorkSchema);
/**
 * A blob's bytes. Any body passes here: the handler refuses one that is not
 * application/octet-stream with 415, as it always has, where a failed schema would say 400.
 */
const blobBody = z.unknown().meta({ type: "string", contentMediaType: "application/octet-stream" });
const blobBytes = z.instanceof(Buffer).meta({ type: "string", contentMediaType: "application/octet-stream" });
const healthSchema = z.object({
  ok: z.boolean(),
  brainId: z.number().int(),
  redis: z.string().describe("ioredis' connection status"),
  liveMiners: z.number().int().optional(),
  leader: z
    .boolean()
    .optional()
    .describe("whether this replica holds the leader lease (docs/gateway.md Replicas)"),
});

/** A lease route's empty body may also be no body. */
const leaseBody = z.preprocess((body) => body ?? {}, takeLeaseSchema);

/** What a refusal calls each input ("invalid job id: …"), by its schema. */
const INPUT_NAMES = new Map<unknown, string>([
  [hashParams, "blob hash"],
  [sessionParams, "session id"],
  [jobParams, "job id"],
  [waitQuery, "query"],
  [samplesQuery, "query"],
  [openSessionSchema, "session"],
  [submitJobSchema, "job"],
  [pollBody, "poll"],
  [postResultSchema, "result"],
  [releaseJobSchema, "release"],
  [leaseBody, "lease request"],
]);

/**
 * fastify hands a validator `null` for a request without a body; the gateway's refusals have
 * always told "received undefined" (no body) from "received null" (a JSON `null`), so a missing
 * body goes through validation as this marker.
 */
const NO_BODY = Symbol("no body");

const inputName = (schema: unknown) => INPUT_NAMES.get(schema) ?? "input";

/** Parses one input of a request: its value, or the 400 refusal that names it. */
function checkInput(schema: z.ZodType, data: unknown, name: string): { value: unknown } | { error: Error } {
  const parsed = schema.safeParse(data === NO_BODY ? undefined : data);
  return parsed.success ? { value: parsed.data } : { error: invalid(name, parsed.error) };
}

// -- the document ---------------------------------------------------------------------------

const STATUS_TEXT: Record<number, string> = {
  400: "invalid input (the message says which field and why)",
  401: "missing, malformed, expired or wrong signature, lease or MAC (or session claim)",
  402: "no escrow: this gateway serves only sessions paid by a ComputeMarket request",
  403: "the signer is not a member of the Brain in that role (or not the request's account or app)",
  404: "unknown or expired",
  409: "conflict: replayed nonce, closed session, a request that backs a session already, or a lock that is not yours",
  413: "body or job too large",
  415: "wrong content type",
  429: "rate limited (per client IP)",
  503: "no miner available, Redis unavailable, or shutting down",
};

/** A response with a JSON body. */
const json = (description: string, schema: z.ZodType) => ({
  description,
  content: { "application/json": { schema } },
});
/** A response with a JSON body, or a framed one (FRAMES_CONTENT_TYPE) when the request accepts it. */
const jsonOrFrames = (description: string, schema: z.ZodType) => ({
  description: `${description} (${FRAMES_CONTENT_TYPE} when the request's accept header names it: byte strings as frames)`,
  content: { "application/json": { schema }, [FRAMES_CONTENT_TYPE]: { schema: framesBody } },
});
/** A framed body, as OpenAPI sees it: bytes (protocol/gateway.ts encodeFrames). */
const framesBody = z.unknown().meta({ type: "string", contentMediaType: FRAMES_CONTENT_TYPE });

/** Answers `message` framed (its base64 byte strings as frames), skipping the JSON serializer. */
function sendFrames(reply: FastifyReply, message: unknown): FastifyReply {
  const bytes = encodeFrames(message);
  return reply.type(FRAMES_CONTENT_TYPE).send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** A job view with its outputs as bytes (to be framed). */
function viewBytes(v: JobView): JobView {
  return v.result ? { ...v, result: { ...v.result, outputs: v.result.outputs.map(bytesOf) } } : v;
}

/** A work item with its inputs as bytes (to be framed). */
function itemBytes(item: WorkItem): WorkItem {
  return item.job.kind === "linear"
    ? { ...item, job: { ...item.job, inputs: item.job.inputs.map(bytesOf) } }
    : item;
}

/** A response without a body (HEAD answers, 204): `type: "null"` is how @fastify/swagger omits content. */
const bodiless = (description: string) => z.undefined().meta({ type: "null", description });
/** The `{error, message}` refusals a route may answer. */
const refusals = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, json(STATUS_TEXT[s] ?? "refused", errorBodySchema)]));
/**
 * Marks a route as signed (either security scheme below: a signature, or a lease's MAC) and names
 * the roles it admits. `signatureOnly`: a signature alone (the lease route: a lease takes no lease).
 */
const signedRoute = (roles: readonly MemberRole[], signatureOnly = false) => ({
  security: (signatureOnly
    ? [{ memberSignature: [] }]
    : [{ memberSignature: [] }, { memberLease: [] }]) as Array<Record<string, string[]>>,
  "x-based-roles": roles,
});

/**
 * The routes' zod schemas as JSON Schema (the type provider's transform), with one change:
 * responses are shown as they travel. zod's output side of a schema that ends in a transform (an
 * address checksummed, a hash lowercased) is `{}`; its input side is the string's pattern, which
 * is what is on the wire and what the SDK parses. (This override replaces the provider's own,
 * which adjusts dates, `undefined` members and empty union branches: none of them occur here.)
 */
const docTransform = createJsonSchemaTransform({
  zodToJsonConfig: {
    override: (ctx) => {
      const s = ctx.zodSchema;
      if (s instanceof z.ZodPipe && s.out instanceof z.ZodTransform) {
        const { $schema: _, ...wire } = z.toJSONSchema(s.in, {
          io: "input",
          target: "draft-2020-12",
          unrepresentable: "any",
        });
        Object.assign(ctx.jsonSchema, wire);
      }
    },
  },
});

/** Shows a Redis URL without its password. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(an invalid URL)";
  }
}

/** Connects one client, failing at once (no retry) when Redis is not there. */
async function connectRedis(url: string, extra: RedisOptions, log: Logger, what: string): Promise<Redis> {
  let up = false;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    // At startup one try; once up, reconnect forever with a short back-off.
    retryStrategy: (times) => (up ? Math.min(times * 200, 2_000) : null),
    ...extra,
  });
  let lastError = "";
  redis.on("error", (err: Error) => {
    if (up && err.message !== lastError)
      log.warn({ err: err.message, connection: what }, "Redis connection error");
    lastError = err.message;
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    const hint =
      "Start Redis (`redis-server`, or `docker run -p 6379:6379 redis:7`) or set BASED_REDIS_URL to a running one.";
    throw new BasedError(
      "environment",
      "RedisUnreachable",
      `Cannot reach Redis at ${safeUrl(url)} (${(err as Error).message}); the gateway keeps its queues and sessions there. ${hint}`,
      hint,
    );
  }
  up = true;
  return redis;
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  if (options.domain.brainId !== options.brainId) {
    throw new Error(
      `the signing domain names Brain #${options.domain.brainId}, the gateway Brain #${options.brainId}`,
    );
  }
  const log = options.logger ?? pino({ level: "silent" });
  const redisUrl = options.redisUrl ?? DEFAULT_REDIS_URL;
  const prefix = options.prefix ?? "based";
  const lockMs = options.lockMs ?? 60_000;
  const limits = options.rateLimit ?? { max: 6_000, timeWindowMs: 60_000 };

  // Requests must fail fast while Redis is away (503), so the store's client queues nothing;
  // BullMQ needs a client that waits instead (maxRetriesPerRequest: null).
  const storeRedis = await connectRedis(
    redisUrl,
    { enableOfflineQueue: false, maxRetriesPerRequest: 1 },
    log,
    "store",
  );
  let bullRedis: Redis;
  try {
    bullRedis = await connectRedis(redisUrl, { maxRetriesPerRequest: null }, log, "queues");
  } catch (err) {
    storeRedis.disconnect();
    throw err;
  }

  let subRedis: Redis;
  try {
    subRedis = await connectRedis(redisUrl, {}, log, "wake-ups");
  } catch (err) {
    storeRedis.disconnect();
    bullRedis.disconnect();
    throw err;
  }

  const blobDir = options.blobDir ?? defaultBlobDir(prefix, options.brainId);
  const fileBlobs =
    blobDir === "redis"
      ? undefined
      : (key: (hash: string) => string) => new FileBlobStore(storeRedis, key, blobDir, LIMITS.maxBlobBytes);
  const store = new GatewayStore(storeRedis, prefix, options.brainId, fileBlobs);
  const lease = new LeaderLease(
    storeRedis,
    `${store.base}:leader`,
    options.leaderLeaseMs ?? 10_000,
    log,
    (leader) => {
      if (leader) void service.tick();
    },
  );
  const queues = new MinerQueues({
    connection: bullRedis,
    prefix,
    brainId: options.brainId,
    lockMs,
    // Stalls are reported by the queues' checkers, which start with service.start() below.
    onStalled: (bullId, miner) => service.onStalled(bullId, miner),
    log,
  });
  const service = new GatewayService(store, queues, {
    brainId: options.brainId,
    domain: options.domain,
    delivery: options.delivery,
    isMember: options.isMember,
    settle: options.settle,
    refund: options.refund,
    escrowOf: options.escrowOf,
    isApp: options.isApp,
    freeSessions: options.freeSessions ?? false,
    isLeader: () => lease.isLeader,
    log,
    sessionTtlMs: options.sessionTtlMs ?? 30 * 60_000,
    blobTtlMs: options.blobTtlMs ?? 60 * 60_000,
    resultTtlMs: options.resultTtlMs ?? 15 * 60_000,
    lockMs,
    minerTimeoutMs: options.minerTimeoutMs ?? 45_000,
    maxAttempts: options.maxAttempts ?? 5,
    sampleWindow: options.sampleWindow ?? 64,
    sampleTtlMs: options.sampleTtlMs ?? 30 * 60_000,
  });

  const wakeups = new Wakeups(
    storeRedis,
    subRedis,
    wakeChannel(prefix, options.brainId),
    (key) => {
      service.wakeHere(key);
      // A close at another replica queued a settlement for the leader.
      if (key === "settle-queue" && lease.isLeader) void service.relay?.drain();
    },
    log,
  );
  service.publish = (key) => wakeups.publish(key);
  service.relay = new SettlementRelay({
    store,
    isLeader: () => lease.isLeader,
    settleHere: (s, completion) => service.settleHere(s, completion),
    wait: (key, ms) => service.wait(key, ms),
    notify: (key) => service.notify(key),
    stopping: () => service.closing,
    waitMs: options.settleWaitMs ?? 20_000,
    log,
  });
  // Blob files whose metadata expired are deleted by the leader.
  const sweeper = setInterval(() => {
    if (lease.isLeader && store.blobs instanceof FileBlobStore)
      void store.blobs.sweep().catch((err: Error) => log.warn({ err: err.message }, "blob sweep failed"));
  }, 60_000);

  const app = await buildApp(service, options, limits, log);
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      clearInterval(sweeper);
      service.stop();
      wakeups.close();
      await lease.stop();
      await app.close().catch(() => undefined);
      await queues.close().catch(() => undefined);
      await Promise.allSettled([storeRedis.quit(), bullRedis.quit(), subRedis.quit()]);
    })());
  const kill = () =>
    (closed ??= (async () => {
      clearInterval(sweeper);
      lease.abandon();
      wakeups.close();
      app.server.closeAllConnections();
      service.stop();
      await app.close().catch(() => undefined);
      await queues.close().catch(() => undefined);
      for (const r of [storeRedis, bullRedis, subRedis]) r.disconnect();
    })());

  try {
    await wakeups.start();
    await lease.start();
    await service.start();
    await app.listen({ host: options.host ?? "127.0.0.1", port: options.port });
  } catch (err) {
    await close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const host = options.host ?? "127.0.0.1";
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log.info({ url, brainId: options.brainId, prefix, replica: lease.id }, "gateway ready");
  return { url, app, close, kill, replica: { id: lease.id, isLeader: () => lease.isLeader } };
}

/**
 * fastify's `trustProxy` for `--trust-proxy`: nothing (X-Forwarded-For ignored), a number of hops
 * (the client is the address that many hops back), or a list of proxy addresses and CIDR ranges.
 */
function trustedProxies(
  t: number | string | undefined,
): boolean | string[] | ((a: string, hop: number) => boolean) {
  if (t === undefined || t === 0 || t === "") return false;
  if (typeof t === "number") return (_address, hop) => hop < t;
  return t
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
}

async function buildApp(
  service: GatewayService,
  options: GatewayOptions,
  limits: { max: number; timeWindowMs: number },
  log: Logger,
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: SMALL_BODY,
    return503OnClosing: true,
    // Behind a load balancer the client's address is X-Forwarded-For's, from trusted hops only.
    trustProxy: trustedProxies(options.trustProxy),
  });
  const clientLimit = { client: true };

  // Inputs are checked with the routes' zod schemas here rather than by the type provider's
  // validatorCompiler, whose failures are fastify's FST_ERR_VALIDATION with ajv-shaped issues:
  // the gateway refuses with 400 InvalidRequest and zod's own account of the field, as it always has.
  app.setValidatorCompiler<z.ZodType>(({ schema, httpPart }) => {
    const name = INPUT_NAMES.get(schema) ?? httpPart ?? "input";
    return (data) => checkInput(schema, data, name);
  });
  // Responses are sent as the service built them (plain JSON.stringify, as with no schema): their
  // schemas are there for the document, and re-parsing multi-MiB results through zod would cost
  // time on every answer and change them (unknown keys stripped, transforms applied).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.decorateRequest("signer", null);
  app.decorateRequest("blobPayer", null);
  app.addHook("preValidation", async (req) => {
    if (req.body === undefined && req.routeOptions.schema?.body !== undefined) req.body = NO_BODY;
  });

  // Before any route: @fastify/swagger collects routes (with their schemas) as they are declared.
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: `BasedAI Brain gateway (Brain #${options.brainId})`,
        version: "1",
        description:
          "Routes a Brain's encrypted (and plain) inference jobs to its miners. Clients are anonymous; miners and validators sign every request (EIP-191 over protocol.ts signedRequestMessage), or sign once for a lease (POST /v1/members/lease) and MAC each request with its secret. See docs/gateway.md.",
      },
      components: {
        securitySchemes: {
          memberSignature: {
            type: "apiKey",
            in: "header",
            name: SIGNATURE_HEADERS.signature,
            description: `EIP-191 signature of signedRequestMessage(domain, method, path, sha256(body), nonce, expiry), with headers ${Object.values(SIGNATURE_HEADERS).join(", ")}`,
          },
          memberLease: {
            type: "apiKey",
            in: "header",
            name: LEASE_HEADERS.mac,
            description: `HMAC-SHA256 under a lease's secret (POST ${API_PREFIX}/members/lease) of signedRequestMessage(domain, method, path, sha256(body), nonce, expiry), lowercase hex, with headers ${[LEASE_HEADERS.lease, LEASE_HEADERS.mac, LEASE_HEADERS.nonce, LEASE_HEADERS.expiry].join(", ")}`,
          },
        },
      },
    },
    transform: docTransform,
  });

  // Signatures cover the exact bytes received, so JSON is parsed here from the raw buffer.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body, done) => {
    const raw = body as Buffer;
    req.rawBody = raw;
    if (raw.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(raw.toString("utf8")));
    } catch (err) {
      done(
        new GatewayRefusal(400, "InvalidJson", `the body is not JSON: ${(err as Error).message}`),
        undefined,
      );
    }
  });
  // Framed bodies (job submits, results): the same messages with byte strings as raw frames; the
  // route's zod schema validates what the decoder gives back (bytesSchema takes bytes or base64).
  app.addContentTypeParser(FRAMES_CONTENT_TYPE, { parseAs: "buffer" }, (req, body, done) => {
    const raw = body as Buffer;
    req.rawBody = raw;
    try {
      done(null, decodeFrames(raw));
    } catch (err) {
      done(
        new GatewayRefusal(
          400,
          "InvalidFrames",
          `the ${FRAMES_CONTENT_TYPE} body is malformed: ${err instanceof FrameError ? err.message : String(err)}`,
        ),
        undefined,
      );
    }
  });
  app.addContentTypeParser("application/octet-stream", { parseAs: "buffer" }, (req, body, done) => {
    req.rawBody = body as Buffer;
    done(null, body);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    let refusal: GatewayRefusal;
    if (err instanceof GatewayRefusal) refusal = err;
    else if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      refusal = new GatewayRefusal(
        413,
        "PayloadTooLarge",
        `the body is larger than ${req.routeOptions.bodyLimit ?? SMALL_BODY} bytes, the most ${req.method} ${req.routeOptions.url ?? req.url} accepts`,
      );
    } else if (err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
      refusal = new GatewayRefusal(
        415,
        "UnsupportedMediaType",
        `content type ${req.headers["content-type"] ?? "(none)"} is not accepted: send application/json or ${FRAMES_CONTENT_TYPE} (blobs: application/octet-stream)`,
      );
    } else if (isRedisConnectionError(err)) refusal = redisDown();
    else if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      refusal = new GatewayRefusal(err.statusCode, "BadRequest", err.message);
    } else {
      log.error({ err: err.message, route: req.routeOptions.url }, "request failed");
      refusal = new GatewayRefusal(
        500,
        "Internal",
        "the gateway failed on this request; retry, and report it if it persists",
      );
    }
    void reply.code(refusal.status).send({ error: refusal.code, message: refusal.message });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({
      error: "NotFound",
      message: `no route ${req.method} ${req.url.split("?")[0]}; GET /docs lists the routes`,
    });
  });
  // Answers given while stopping end their connection: a kept-alive socket would hold close() up.
  app.addHook("onSend", async (_req, reply) => {
    if (service.closing) void reply.header("connection", "close");
  });
  app.addHook("onResponse", async (req, reply) => {
    log.debug(
      {
        method: req.method,
        route: req.routeOptions.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      "request",
    );
  });

  // One budget per client IP across all client routes (route-level limits would each count apart),
  // counted in Redis so that it holds across the replicas on one prefix.
  await app.register(rateLimit, {
    global: false,
    redis: service.store.redis,
    nameSpace: `${service.store.base}:ratelimit:`,
  });
  const clientLimiter = app.createRateLimit({ max: limits.max, timeWindow: limits.timeWindowMs });
  const failures = new FailureBudget(options.maxSignatureFailures ?? 20, 60_000);
  const blobQuota = options.blobQuotaBytes ?? 256 * 1024 * 1024;
  const blobWindowMs = options.blobTtlMs ?? 60 * 60_000;
  const paidBlobs = !(options.freeSessions ?? false);
  const requestBlobQuota = options.blobQuotaPerRequestBytes ?? LIMITS.maxBlobBytesPerRequest;
  const quotaRefusal = (payer: string, used: number) =>
    payer.startsWith("request:")
      ? new GatewayRefusal(
          429,
          "BlobQuotaExceeded",
          `${payer.replace(":", " ")} has had ${used} blob bytes uploaded in the last ${blobWindowMs / 60_000} min; at most ${requestBlobQuota} (one key set, twice) are kept per request: reuse the keys already uploaded (HEAD /v1/blobs/:hash), or open another request`,
        )
      : new GatewayRefusal(
          429,
          "BlobQuotaExceeded",
          `this address uploaded ${used} blob bytes in the last ${blobWindowMs / 60_000} min; at most ${blobQuota} are kept per address: reuse the keys already uploaded (HEAD /v1/blobs/:hash) or retry later`,
        );
  const quotaOf = (payer: string) => (payer.startsWith("request:") ? requestBlobQuota : blobQuota);

  const serviceTag = { tags: ["service"] };
  app.get(
    "/health",
    {
      schema: {
        ...serviceTag,
        summary: "Liveness: Redis state and live miners",
        response: {
          200: json("the gateway answers", healthSchema),
          503: json("Redis is away", healthSchema),
        },
      },
    },
    async (_req, reply) => {
      const redis = service.store.redis.status;
      if (redis !== "ready") return reply.code(503).send({ ok: false, brainId: options.brainId, redis });
      return {
        ok: true,
        brainId: options.brainId,
        redis,
        liveMiners: await service.liveMinerCount(),
        leader: service.o.isLeader?.() ?? true,
      };
    },
  );
  app.get(
    "/docs",
    {
      schema: {
        ...serviceTag,
        summary: "This OpenAPI document",
        response: { 200: json("OpenAPI 3.1 JSON", z.looseObject({ openapi: z.string() })) },
      },
    },
    async () => app.swagger(),
  );

  void app.register(
    async (plugin) => {
      const v1 = plugin.withTypeProvider<ZodTypeProvider>();
      v1.addHook("onRequest", async (req, reply) => {
        if (req.routeOptions.config.client) {
          const r = await clientLimiter(req);
          if (!r.isAllowed && r.isExceeded) {
            void reply.header("retry-after", r.ttlInSeconds);
            throw new GatewayRefusal(
              429,
              "RateLimited",
              `too many requests from this address (at most ${r.max} per ${limits.timeWindowMs / 1000} s); retry in ${r.ttlInSeconds} s`,
            );
          }
        }
        if (service.store.redis.status !== "ready") throw redisDown();
        if (service.closing)
          throw new GatewayRefusal(503, "ShuttingDown", "the gateway is restarting; retry shortly");
      });

      /** Leased requests: what their onRequest hook found (the lease's address, secret, nonce…). */
      const leased = new WeakMap<FastifyRequest, LeasedHeaders>();
      const leases = new LeaseStore(service.store.redis, service.store.base);

      /** Counts a refused signed request against its IP's failure budget, then refuses it. */
      const failed = (req: FastifyRequest, err: unknown): never => {
        if (err instanceof GatewayRefusal && err.status >= 400 && err.status < 500) failures.fail(req.ip);
        throw err;
      };
      /**
       * onRequest of a signed route, before its body is read: the signature headers, the expiry and
       * the named address's membership. A stranger's request (and an IP that keeps failing these
       * checks) is refused without reading what it sends: result bodies may be 86 MiB.
       */
      const headersFirst =
        (roles: readonly MemberRole[], signatureOnly = false) =>
        async (req: FastifyRequest, reply: FastifyReply) => {
          const wait = failures.retryAfterS(req.ip);
          if (wait > 0) {
            void reply.header("retry-after", wait);
            throw new GatewayRefusal(
              429,
              "TooManyFailures",
              `too many refused signed requests from this address; retry in ${wait} s with requests signed by a registered member`,
            );
          }
          if (isLeased(req.headers)) {
            if (signatureOnly) {
              failed(
                req,
                new GatewayRefusal(
                  401,
                  "LeaseNotAccepted",
                  `${req.method} ${req.routeOptions.url ?? req.url} takes a signature, not a lease: a lease is taken (and renewed) with a signed request`,
                ),
              );
            }
            const checked = await checkLeasedHeaders({
              domain: options.domain,
              headers: req.headers,
              roles,
              isMember: options.isMember,
              getLease: (id) => leases.get(id),
            }).catch((err: unknown) => failed(req, err));
            leased.set(req, checked);
            return;
          }
          await checkSignedHeaders({
            domain: options.domain,
            headers: req.headers,
            roles,
            isMember: options.isMember,
          }).catch((err: unknown) => failed(req, err));
        };
      /**
       * preValidation of a signed route: the signature over the body (and the nonce) are checked
       * before its inputs, as they always were (a stranger's malformed poll is a 401 or 403).
       */
      const signedBy = (roles: readonly MemberRole[]) => async (req: FastifyRequest) => {
        const lease = leased.get(req);
        if (lease) {
          const { address } = await verifyLeasedRequest(
            {
              domain: options.domain,
              method: req.method,
              path: req.url,
              body: req.rawBody,
              claimNonce: (a, n, ttl) => service.store.claimNonce(a, n, ttl),
            },
            lease,
          ).catch((err: unknown) => failed(req, err));
          req.signer = address;
          return;
        }
        const { address } = await verifySignedRequest({
          domain: options.domain,
          method: req.method,
          path: req.url,
          headers: req.headers,
          body: req.rawBody,
          roles,
          isMember: options.isMember,
          claimNonce: (a, n, ttl) => service.store.claimNonce(a, n, ttl),
        }).catch((err: unknown) => failed(req, err));
        req.signer = address;
      };
      /**
       * A job's result and release have always read the path before the signature: a malformed job
       * id is a 400 whoever asks, and spends no nonce. (fastify checks the path again just after.)
       */
      const pathFirst = async (req: FastifyRequest) => {
        const r = checkInput(jobParams, req.params, inputName(jobParams));
        if ("error" in r) throw r.error;
      };
      /** The signer a signed route's hook found. */
      const signer = (req: FastifyRequest): Address => {
        if (req.signer === null) throw new Error(`${req.routeOptions.url} has no signature check`);
        return req.signer;
      };

      /** Aborts when the caller hangs up (so a long poll hands no job to a gone miner). */
      const hangUp = (reply: FastifyReply) => {
        const ac = new AbortController();
        reply.raw.on("close", () => {
          if (!reply.raw.writableFinished) ac.abort();
        });
        return ac.signal;
      };

      // -- blobs ------------------------------------------------------------------------------

      /**
       * A paid gateway's blob upload, before its body is read: it must name an open request and
       * carry its session's claim over keys that include this blob (protocol BLOB_CLAIM_HEADERS,
       * checked as a session open checks its claim). Returns the quota the bytes count against.
       * Refused uploads count against the IP's failure budget, as refused signed requests do.
       */
      const blobClaimed = async (req: FastifyRequest, reply: FastifyReply): Promise<string> => {
        const wait = failures.retryAfterS(req.ip);
        if (wait > 0) {
          void reply.header("retry-after", wait);
          throw new GatewayRefusal(
            429,
            "TooManyFailures",
            `too many refused uploads from this address; retry in ${wait} s with a claim signed by the request's account`,
          );
        }
        try {
          const claim = parseBlobClaimHeaders(req.headers);
          if (claim === undefined) {
            throw new GatewayRefusal(
              402,
              "EscrowRequired",
              `this gateway stores blobs only for paid sessions: name the open ComputeMarket request (${BLOB_CLAIM_HEADERS.requestId}) and its session's claim over keys that include this blob (${BLOB_CLAIM_HEADERS.keys}, ${BLOB_CLAIM_HEADERS.expiry}, ${BLOB_CLAIM_HEADERS.signature}; protocol/gateway.ts blobClaimHeaders)`,
            );
          }
          if ("error" in claim) {
            throw new GatewayRefusal(
              401,
              "ClaimRequired",
              `the upload's claim headers are incomplete or malformed (${claim.error}): send all of ${Object.values(BLOB_CLAIM_HEADERS).join(", ")} (protocol/gateway.ts blobClaimHeaders)`,
            );
          }
          const { hash } = req.params as { hash: string };
          if (!sha256HexSchema.safeParse(hash).success) {
            throw new GatewayRefusal(400, "BadRequest", `${hash} is not a blob hash (sha256, lowercase hex)`);
          }
          await service.checkBlobClaim(hash, claim);
          return `request:${claim.requestId}`;
        } catch (err) {
          return failed(req, err);
        }
      };

      const blobs = { tags: ["blobs"] };
      v1.put(
        "/blobs/:hash",
        {
          bodyLimit: LIMITS.maxBlobBytes,
          config: clientLimit,
          // Before the body is read: on a paid gateway, the request and claim the upload names; then
          // what its payer (the request, or on a free gateway the IP) already uploaded plus what it announces.
          onRequest: async (req, reply) => {
            req.blobPayer = paidBlobs ? await blobClaimed(req, reply) : req.ip;
            const announced = Number(req.headers["content-length"] ?? 0);
            const used = await service.store.blobBytesOf(req.blobPayer);
            if (used + (Number.isFinite(announced) ? announced : 0) > quotaOf(req.blobPayer)) {
              throw quotaRefusal(req.blobPayer, used);
            }
          },
          schema: {
            ...blobs,
            summary: `Upload a content-addressed blob (evaluation keys), at most ${LIMITS.maxBlobBytes} bytes`,
            consumes: ["application/octet-stream"],
            params: hashParams,
            body: blobBody,
            response: {
              201: json(
                "stored (or already there: its lifetime is renewed)",
                z.object({ hash: sha256HexSchema, bytes: z.number().int() }),
              ),
              ...refusals(400, 401, 402, 403, 413, 415, 429, 503),
            },
          },
        },
        async (req, reply) => {
          const payer = req.blobPayer ?? req.ip;
          if (!Buffer.isBuffer(req.body)) {
            throw new GatewayRefusal(
              415,
              "UnsupportedMediaType",
              "send the blob's bytes as application/octet-stream",
            );
          }
          const used = await service.store.blobBytesOf(payer);
          if (used + req.body.length > quotaOf(payer)) throw quotaRefusal(payer, used);
          const stored = await service.putBlob(req.params.hash, req.body);
          await service.store.addBlobBytes(payer, req.body.length, blobWindowMs);
          return reply.code(201).send(stored);
        },
      );
      v1.head(
        "/blobs/:hash",
        {
          // @fastify/swagger leaves HEAD routes out unless asked: this one is a route of its own.
          config: { ...clientLimit, swagger: { exposeHeadRoute: true } },
          schema: {
            ...blobs,
            summary: "Whether the gateway holds a blob (clients skip uploading keys it has)",
            params: hashParams,
            response: {
              200: bodiless("held"),
              400: bodiless(STATUS_TEXT[400]!),
              404: bodiless("not held"),
              429: bodiless(STATUS_TEXT[429]!),
            },
          },
        },
        async (req, reply) => {
          return reply.code((await service.store.hasBlob(req.params.hash)) ? 200 : 404).send();
        },
      );
      v1.get(
        "/blobs/:hash",
        {
          exposeHeadRoute: false,
          onRequest: headersFirst(["miner", "validator"]),
          preValidation: signedBy(["miner", "validator"]),
          schema: {
            ...blobs,
            ...signedRoute(["miner", "validator"]),
            summary: "Fetch a blob (miners and validators: a session's evaluation keys)",
            params: hashParams,
            response: {
              200: {
                description: "the blob's bytes",
                content: { "application/octet-stream": { schema: blobBytes } },
              },
              ...refusals(400, 401, 403, 404, 409),
            },
          },
        },
        async (req, reply) => {
          return reply.type("application/octet-stream").send(await service.getBlob(req.params.hash));
        },
      );

      // -- sessions ---------------------------------------------------------------------------

      const sessions = { tags: ["sessions"] };
      v1.post(
        "/sessions",
        {
          config: clientLimit,
          schema: {
            ...sessions,
            summary:
              "Open a session paid by a ComputeMarket request (claimed with the account's signature; one session per request); it sticks to the least loaded live miner",
            body: openSessionSchema,
            response: {
              201: json("the session", sessionViewSchema),
              ...refusals(400, 401, 402, 403, 409, 413, 415, 429, 503),
            },
          },
        },
        async (req, reply) => reply.code(201).send(await service.openSession(req.body)),
      );
      v1.get(
        "/sessions/:id",
        {
          config: clientLimit,
          schema: {
            ...sessions,
            summary: "A session: its miner, units and state",
            params: sessionParams,
            response: { 200: json("the session", sessionViewSchema), ...refusals(400, 404, 429) },
          },
        },
        async (req) => service.sessionView(req.params.id),
      );
      v1.post(
        "/sessions/:id/jobs",
        {
          bodyLimit: JOB_BODY,
          config: clientLimit,
          schema: {
            ...sessions,
            summary: `Submit a job (linear: at most ${LIMITS.maxJobInputs} ciphertexts, ${LIMITS.maxJobBytes} bytes, as base64 in JSON or as frames in ${FRAMES_CONTENT_TYPE}; generate: plain sessions); with waitMs, answer the job's view once it ends (200) or when the wait runs out (202)`,
            params: sessionParams,
            querystring: waitQuery,
            body: submitJobSchema,
            consumes: ["application/json", FRAMES_CONTENT_TYPE],
            response: {
              200: jsonOrFrames("with waitMs: the job ended (completed or failed)", jobViewSchema),
              202: {
                description: `queued: its id; with waitMs, the view of a job still queued or running (${FRAMES_CONTENT_TYPE} when accepted)`,
                content: {
                  "application/json": { schema: z.union([jobViewSchema, z.object({ jobId: jobIdSchema })]) },
                  [FRAMES_CONTENT_TYPE]: { schema: framesBody },
                },
              },
              ...refusals(400, 404, 409, 413, 415, 429),
            },
          },
        },
        async (req, reply) => {
          const { jobId } = await service.submitJob(req.params.id, req.body);
          if (req.query.waitMs === 0) return reply.code(202).send({ jobId });
          const view = await service.waitForJob(jobId, req.query.waitMs, hangUp(reply));
          reply.code(view.state === "completed" || view.state === "failed" ? 200 : 202);
          return wantsFrames(req.headers.accept) ? sendFrames(reply, viewBytes(view)) : reply.send(view);
        },
      );
      v1.post(
        "/sessions/:id/close",
        {
          config: clientLimit,
          schema: {
            ...sessions,
            summary:
              "Close a session; with an escrow, settle it with the last delivered result (refund it in full when no job was run)",
            params: sessionParams,
            response: {
              200: json("units and settlement", closeSessionResultSchema),
              ...refusals(400, 404, 409, 429),
            },
          },
        },
        async (req) => service.closeSession(req.params.id),
      );

      // -- jobs -------------------------------------------------------------------------------

      const jobs = { tags: ["jobs"] };
      v1.get(
        "/jobs/:id",
        {
          config: clientLimit,
          schema: {
            ...jobs,
            summary: "A job's state and result; with waitMs, held until it ends or the wait runs out",
            params: jobParams,
            querystring: waitQuery,
            response: { 200: jsonOrFrames("the job", jobViewSchema), ...refusals(400, 404, 429) },
          },
        },
        async (req, reply) => {
          const view = await service.waitForJob(req.params.id, req.query.waitMs, hangUp(reply));
          return wantsFrames(req.headers.accept) ? sendFrames(reply, viewBytes(view)) : view;
        },
      );
      v1.get(
        "/jobs/:id/events",
        {
          config: clientLimit,
          schema: {
            ...jobs,
            summary: "Server-sent events: `event: state` with the job's view on every change, until it ends",
            params: jobParams,
            response: {
              // The handler writes the stream itself (hijacked): the schema is each event's data.
              200: {
                description: "text/event-stream of job views",
                content: { "text/event-stream": { schema: jobViewSchema } },
              },
              ...refusals(400, 404, 429),
            },
          },
        },
        async (req, reply) => {
          const { id } = req.params;
          let view = await service.jobView(id);
          const signal = hangUp(reply);
          reply.hijack();
          const out = reply.raw;
          // The stream is the connection's last use: nothing is left open to hold up a shutdown.
          out.shouldKeepAlive = false;
          out.writeHead(200, {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            "x-accel-buffering": "no",
          });
          const send = (v: JobView) => out.write(`event: state\ndata: ${JSON.stringify(v)}\n\n`);
          send(view);
          let last = JSON.stringify(view);
          try {
            while (
              view.state !== "completed" &&
              view.state !== "failed" &&
              !signal.aborted &&
              !service.closing
            ) {
              await service.wait(`job:${id}`, 15_000, signal);
              view = await service.jobView(id);
              const now = JSON.stringify(view);
              if (now !== last) send(view);
              else out.write(": keep-alive\n\n");
              last = now;
            }
          } catch (err) {
            const r =
              err instanceof GatewayRefusal ? err : isRedisConnectionError(err) ? redisDown() : undefined;
            out.write(
              `event: error\ndata: ${JSON.stringify({ error: r?.code ?? "Internal", message: r?.message ?? "the event stream failed" })}\n\n`,
            );
          }
          out.end();
        },
      );

      // -- members: leases ---------------------------------------------------------------------

      v1.post(
        "/members/lease",
        {
          onRequest: headersFirst(["miner", "validator"], true),
          preValidation: signedBy(["miner", "validator"]),
          schema: {
            tags: ["members"],
            ...signedRoute(["miner", "validator"], true),
            summary: `Take a lease (signed, as any member request): a secret that MACs this member's requests for ${LEASE_LIMITS.leaseLifetimeS} s instead of a signature each`,
            body: leaseBody,
            response: {
              201: json("the lease: its id, secret, expiry and the roles it admits", leaseSchema),
              ...refusals(400, 401, 403, 409, 415, 503),
            },
          },
        },
        async (req, reply) => {
          const address = signer(req);
          const roles: MemberRole[] = [];
          for (const role of ["miner", "validator"] as const) {
            if (await options.isMember(address, role)) roles.push(role);
          }
          // The signature check found a role; the membership may only have ended since.
          if (roles.length === 0) {
            throw new GatewayRefusal(
              403,
              "NotMember",
              `${address} is no longer a member of Brain #${options.brainId}`,
            );
          }
          // The answer carries a secret: no cache along the way may keep it.
          return reply
            .code(201)
            .header("cache-control", "no-store")
            .send(await leases.issue(address, roles));
        },
      );

      // -- miners -----------------------------------------------------------------------------

      const miners = { tags: ["miner"], ...signedRoute(["miner"]) };
      v1.post(
        "/miner/work",
        {
          onRequest: headersFirst(["miner"]),
          preValidation: signedBy(["miner"]),
          schema: {
            ...miners,
            summary: "Long-poll for this miner's next job (204 when none came in time)",
            body: pollBody,
            response: {
              200: jsonOrFrames("a job, locked to this miner", workItemSchema),
              204: bodiless("nothing to do within the wait"),
              ...refusals(400, 401, 403, 409, 415, 503),
            },
          },
        },
        async (req, reply) => {
          const item = await service.pollWork(signer(req), req.body.waitMs, hangUp(reply));
          if (!item) return reply.code(204).send();
          return wantsFrames(req.headers.accept) ? sendFrames(reply, itemBytes(item)) : item;
        },
      );
      v1.post(
        "/miner/jobs/:id/result",
        {
          bodyLimit: RESULT_BODY,
          onRequest: headersFirst(["miner"]),
          preValidation: [pathFirst, signedBy(["miner"])],
          schema: {
            ...miners,
            summary: `Deliver a job's outputs (base64 in JSON, or frames in ${FRAMES_CONTENT_TYPE}) with their hash and the miner's EIP-712 Delivery signature`,
            params: jobParams,
            body: postResultSchema,
            consumes: ["application/json", FRAMES_CONTENT_TYPE],
            response: {
              200: json("accepted", z.object({ ok: z.literal(true) })),
              ...refusals(400, 401, 403, 404, 409, 413, 415),
            },
          },
        },
        async (req) => {
          await service.postResult(signer(req), req.params.id, req.body);
          return { ok: true };
        },
      );
      v1.post(
        "/miner/jobs/:id/release",
        {
          onRequest: headersFirst(["miner"]),
          preValidation: [pathFirst, signedBy(["miner"])],
          schema: {
            ...miners,
            summary:
              "Give a job back (shutdown, or it cannot run here); it goes to another miner when one is live",
            params: jobParams,
            body: releaseJobSchema,
            response: {
              200: json("released", z.object({ ok: z.literal(true) })),
              ...refusals(400, 401, 403, 404, 409, 415),
            },
          },
        },
        async (req) => {
          await service.releaseJob(signer(req), req.params.id, req.body.lockToken, req.body.reason);
          return { ok: true };
        },
      );

      // -- validators -------------------------------------------------------------------------

      const validators = { tags: ["validator"], ...signedRoute(["validator"]) };
      v1.get(
        "/validator/samples",
        {
          onRequest: headersFirst(["validator"]),
          preValidation: signedBy(["validator"]),
          schema: {
            ...validators,
            summary: "A random subset of recently completed linear jobs, with inputs, to replay",
            querystring: samplesQuery,
            response: {
              200: json("samples", z.object({ samples: z.array(sampleSchema) })),
              ...refusals(400, 401, 403, 409),
            },
          },
        },
        async (req) => ({ samples: await service.samples(req.query.limit) }),
      );
      v1.get(
        "/validator/miners",
        {
          onRequest: headersFirst(["validator"]),
          preValidation: signedBy(["validator"]),
          schema: {
            ...validators,
            summary: "What the gateway saw of each miner",
            response: {
              200: json("miners", z.object({ miners: z.array(minerStatsSchema) })),
              ...refusals(401, 403, 409),
            },
          },
        },
        async () => ({ miners: await service.minerStats() }),
      );
    },
    { prefix: API_PREFIX },
  );
  return app;
}
