/**
 * The Brain gateway's HTTP face (DESIGN.md §1; routes in protocol.ts, rules in service.ts): fastify
 * with zod-validated bodies, per-route size limits, per-IP rate limits on client routes, signed
 * requests on miner and validator routes, server-sent events for job progress, and `{error,
 * message}` bodies for every refusal. It fails to start at once when Redis is unreachable.
 */
import rateLimit from "@fastify/rate-limit";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { Redis, type RedisOptions } from "ioredis";
import pino, { type Logger } from "pino";
import type { Address, Hex } from "viem";
import { z } from "zod";
import { BasedError } from "../../sdk/errors";
import { type MemberRole, verifySignedRequest } from "./auth";
import { GatewayRefusal, isRedisConnectionError, parseOr400, redisDown } from "./errors";
import { openApiDocument } from "./openapi";
import {
  API_PREFIX,
  DEFAULT_REDIS_URL,
  type GatewayDomain,
  type JobView,
  LIMITS,
  jobIdSchema,
  openSessionSchema,
  pollWorkSchema,
  postResultSchema,
  releaseJobSchema,
  sessionIdSchema,
  sha256HexSchema,
  submitJobSchema,
} from "../../protocol/gateway";
import { MinerQueues } from "./queues";
import { type EscrowInfo, GatewayService } from "./service";
import { GatewayStore } from "./store";

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
    resultHash: Hex;
    signature: Hex;
    miner: Address;
  }): Promise<Hex>;
  /** Reads a request's escrow (checked when a paid session opens; caps settled units). */
  escrowOf?(requestId: string): Promise<EscrowInfo>;
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
};

export type RunningGateway = { url: string; app: FastifyInstance; close(): Promise<void> };

export { GatewayRefusal } from "./errors";

declare module "fastify" {
  interface FastifyRequest {
    rawBody?: Buffer;
  }
  interface FastifyContextConfig {
    /** A client route: counted against the caller's IP rate limit. */
    client?: boolean;
  }
}

/** Body limits: JSON envelopes of base64 payloads are 4/3 of the bytes plus some structure. */
const SMALL_BODY = 64 * 1024;
const JOB_BODY = Math.ceil(LIMITS.maxJobBytes / 3) * 4 + SMALL_BODY;
/** Results carry more ciphertexts than inputs (outputs fan out); 4× a job's bytes. */
const RESULT_BODY = 4 * JOB_BODY;

const hashParams = z.object({ hash: sha256HexSchema });
const sessionParams = z.object({ id: sessionIdSchema });
const jobParams = z.object({ id: jobIdSchema });
const waitQuery = z.strictObject({
  waitMs: z.coerce.number().int().min(0).max(LIMITS.maxWaitMs).default(0),
});
const samplesQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(10) });

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

  const store = new GatewayStore(storeRedis, prefix, options.brainId);
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
    escrowOf: options.escrowOf,
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

  const app = await buildApp(service, options, limits, log);
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      service.stop();
      await app.close().catch(() => undefined);
      await queues.close().catch(() => undefined);
      await Promise.allSettled([storeRedis.quit(), bullRedis.quit()]);
    })());

  try {
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
  log.info({ url, brainId: options.brainId, prefix }, "gateway ready");
  return { url, app, close };
}

async function buildApp(
  service: GatewayService,
  options: GatewayOptions,
  limits: { max: number; timeWindowMs: number },
  log: Logger,
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: SMALL_BODY, return503OnClosing: true });
  const docs = openApiDocument({ brainId: options.brainId });
  const clientLimit = { client: true };

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
        `content type ${req.headers["content-type"] ?? "(none)"} is not accepted: send application/json (blobs: application/octet-stream)`,
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

  // One budget per client IP across all client routes (route-level limits would each count apart).
  await app.register(rateLimit, { global: false });
  const clientLimiter = app.createRateLimit({ max: limits.max, timeWindow: limits.timeWindowMs });

  app.get("/health", async (_req, reply) => {
    const redis = service.store.redis.status;
    if (redis !== "ready") return reply.code(503).send({ ok: false, brainId: options.brainId, redis });
    return { ok: true, brainId: options.brainId, redis, liveMiners: await service.liveMinerCount() };
  });
  app.get("/docs", async () => docs);

  void app.register(
    async (v1) => {
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

      /** Checks the request's signature and membership; the signer's address. */
      const member = async (req: FastifyRequest, roles: readonly MemberRole[]) => {
        const { address } = await verifySignedRequest({
          domain: options.domain,
          method: req.method,
          path: req.url,
          headers: req.headers,
          body: req.rawBody,
          roles,
          isMember: options.isMember,
          claimNonce: (a, n, ttl) => service.store.claimNonce(a, n, ttl),
        });
        return address;
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

      v1.put("/blobs/:hash", { bodyLimit: LIMITS.maxBlobBytes, config: clientLimit }, async (req, reply) => {
        const { hash } = parseOr400(hashParams, req.params, "blob hash");
        if (!Buffer.isBuffer(req.body)) {
          throw new GatewayRefusal(
            415,
            "UnsupportedMediaType",
            "send the blob's bytes as application/octet-stream",
          );
        }
        return reply.code(201).send(await service.putBlob(hash, req.body));
      });
      v1.head("/blobs/:hash", { config: clientLimit }, async (req, reply) => {
        const { hash } = parseOr400(hashParams, req.params, "blob hash");
        return reply.code((await service.store.hasBlob(hash)) ? 200 : 404).send();
      });
      v1.get("/blobs/:hash", { exposeHeadRoute: false }, async (req, reply) => {
        await member(req, ["miner", "validator"]);
        const { hash } = parseOr400(hashParams, req.params, "blob hash");
        return reply.type("application/octet-stream").send(await service.getBlob(hash));
      });

      // -- sessions ---------------------------------------------------------------------------

      v1.post("/sessions", { config: clientLimit }, async (req, reply) => {
        const body = parseOr400(openSessionSchema, req.body, "session");
        return reply.code(201).send(await service.openSession(body));
      });
      v1.get("/sessions/:id", { config: clientLimit }, async (req) => {
        const { id } = parseOr400(sessionParams, req.params, "session id");
        return service.sessionView(id);
      });
      v1.post("/sessions/:id/jobs", { bodyLimit: JOB_BODY, config: clientLimit }, async (req, reply) => {
        const { id } = parseOr400(sessionParams, req.params, "session id");
        const body = parseOr400(submitJobSchema, req.body, "job");
        return reply.code(202).send(await service.submitJob(id, body));
      });
      v1.post("/sessions/:id/close", { config: clientLimit }, async (req) => {
        const { id } = parseOr400(sessionParams, req.params, "session id");
        return service.closeSession(id);
      });

      // -- jobs -------------------------------------------------------------------------------

      v1.get("/jobs/:id", { config: clientLimit }, async (req, reply) => {
        const { id } = parseOr400(jobParams, req.params, "job id");
        const { waitMs } = parseOr400(waitQuery, req.query, "query");
        return service.waitForJob(id, waitMs, hangUp(reply));
      });
      v1.get("/jobs/:id/events", { config: clientLimit }, async (req, reply) => {
        const { id } = parseOr400(jobParams, req.params, "job id");
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
      });

      // -- miners -----------------------------------------------------------------------------

      v1.post("/miner/work", async (req, reply) => {
        const miner = await member(req, ["miner"]);
        const body = parseOr400(pollWorkSchema, req.body ?? {}, "poll");
        const item = await service.pollWork(miner, body.waitMs, hangUp(reply));
        return item ? item : reply.code(204).send();
      });
      v1.post("/miner/jobs/:id/result", { bodyLimit: RESULT_BODY }, async (req) => {
        const { id } = parseOr400(jobParams, req.params, "job id");
        const miner = await member(req, ["miner"]);
        const body = parseOr400(postResultSchema, req.body, "result");
        await service.postResult(miner, id, body);
        return { ok: true };
      });
      v1.post("/miner/jobs/:id/release", async (req) => {
        const { id } = parseOr400(jobParams, req.params, "job id");
        const miner = await member(req, ["miner"]);
        const body = parseOr400(releaseJobSchema, req.body, "release");
        await service.releaseJob(miner, id, body.lockToken, body.reason);
        return { ok: true };
      });

      // -- validators -------------------------------------------------------------------------

      v1.get("/validator/samples", async (req) => {
        await member(req, ["validator"]);
        const { limit } = parseOr400(samplesQuery, req.query, "query");
        return { samples: await service.samples(limit) };
      });
      v1.get("/validator/miners", async (req) => {
        await member(req, ["validator"]);
        return { miners: await service.minerStats() };
      });
    },
    { prefix: API_PREFIX },
  );
  return app;
}
