/**
 * The miner node's loop (docs/architecture.md §1, §5): pull a job from the Brain's gateway, run it on the
 * engine, sign the result as an EIP-712 `Delivery` (what ComputeMarket pays against) and post it.
 * The Delivery binds this miner's Brain, the job it was given (`jobHash`, computed here from the
 * work item, never taken from the gateway) and the outputs' hash; no request id reaches a miner.
 *
 * - A job the engine refuses (unknown step, other parameters, a malformed blob) is released with
 *   the reason, so the gateway can give it to another miner or fail it; nothing is dropped.
 * - Gateway trouble (unreachable, 5xx, 429) backs off and retries; the loop never crashes.
 * - On abort: no new polls; jobs in flight get `graceMs` to finish and be posted; what is still
 *   running then, or arrives from a poll already under way, is released. Then it resolves.
 *
 * Logs carry job ids, steps, timings and output hashes, never ciphertexts or tokens.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import type { Address } from "viem";
import {
  DELIVERY_TYPES,
  type WorkItem,
  deliveryDomain,
  deliveryMessage,
  jobHash,
  outputsHash,
} from "../../protocol/gateway";
import { BasedError, errorLine } from "../../sdk/errors";
import { type GatewayClient, GatewayError, type SignerOptions } from "../../sdk/gateway-client";
import { isZkllmInputError } from "../../zkllm/evaluator";
import type { EngineFault, MinerEngine } from "./engine";

/** What a miner did, for its shutdown summary. */
export type MinerCounters = { completed: number; released: number; lost: number };

export type RunMinerOptions = {
  client: GatewayClient;
  signer: SignerOptions;
  engine: MinerEngine;
  /** ComputeMarket's EIP-712 domain: where the signed deliveries settle. */
  delivery: { chainId: number; computeMarket: Address };
  /** Jobs worked on at once (each its own long poll; default 1). */
  concurrency?: number;
  /** How long one poll waits for work (default 20 s). */
  pollWaitMs?: number;
  /** Abort to shut down. */
  signal: AbortSignal;
  logger: Logger;
  /** How long jobs in flight may take to finish after an abort (default 30 s). */
  graceMs?: number;
  /** Tests of validators: a dishonest miner (valid-looking, wrong results). */
  fault?: EngineFault;
  /** Filled in as jobs end. */
  counters?: MinerCounters;
};

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 10_000;
/** Tries of one result post or release while the gateway has trouble. */
const SEND_TRIES = 6;
/** How much of a refusal's message travels back to the gateway (its schema allows 500). */
const REASON_MAX = 480;

/** Whether a gateway failure may pass (retry) or is an answer (do not). */
export function isTransient(error: unknown): boolean {
  if (error instanceof GatewayError)
    return error.status >= 500 || error.status === 429 || error.status === 408;
  if (error instanceof BasedError) return error.code === "GatewayUnreachable";
  return false;
}

function backoffMs(failures: number): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, failures - 1));
  // Jitter: miners that lost the gateway together should not come back in lockstep.
  return base / 2 + Math.random() * (base / 2);
}

/** Waits `ms`, or less when `signal` aborts (never rejects). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(Math.max(0, ms), undefined, { signal }).catch(() => undefined);
}

const firstLine = (error: unknown) => errorLine(error, REASON_MAX);

/** Why a job is given back, as the gateway reads it. */
function refusalReason(error: unknown): string {
  if (isZkllmInputError(error)) return `refused (${error.code}): ${firstLine(error)}`.slice(0, REASON_MAX);
  return `failed: ${firstLine(error)}`.slice(0, REASON_MAX);
}

/** Pulls and answers jobs until `signal` aborts; resolves once in-flight jobs are done or released. */
export async function runMiner(options: RunMinerOptions): Promise<void> {
  const { client, signer, engine, signal, fault } = options;
  const concurrency = options.concurrency ?? 1;
  const pollWaitMs = options.pollWaitMs ?? 20_000;
  const graceMs = options.graceMs ?? 30_000;
  const counters = options.counters ?? { completed: 0, released: 0, lost: 0 };
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new RangeError(`concurrency must be a positive integer (got ${concurrency})`);
  const log = options.logger;
  const domain = deliveryDomain(options.delivery.chainId, options.delivery.computeMarket);

  // Resolves when the grace period after an abort is over: jobs still running then are released.
  const graceOver = new Promise<"grace-over">((resolve) => {
    const start = () => setTimeout(() => resolve("grace-over"), graceMs).unref();
    if (signal.aborted) start();
    else signal.addEventListener("abort", start, { once: true });
  });
  let graceExpired = false;
  void graceOver.then(() => (graceExpired = true));

  const fetchBlob = (hash: string) => client.getBlob(signer, hash);

  /** Sends a result or a release, retrying while the gateway has trouble (not past the grace). */
  const send = async (what: string, jobId: string, call: () => Promise<void>): Promise<boolean> => {
    for (let tries = 1; ; tries++) {
      try {
        await call();
        return true;
      } catch (error) {
        if (!isTransient(error) || tries >= SEND_TRIES || graceExpired) {
          log.warn(
            { jobId, err: firstLine(error) },
            `${what} failed; the gateway will take the job back when its lock expires`,
          );
          return false;
        }
        await sleep(backoffMs(tries));
      }
    }
  };

  const release = async (item: WorkItem, reason: string) => {
    const ok = await send("release", item.jobId, () =>
      client.releaseJob(signer, item.jobId, item.lockToken, reason),
    );
    if (ok) {
      counters.released++;
      log.info({ jobId: item.jobId, sessionId: item.sessionId, reason }, "job released");
    } else counters.lost++;
  };

  const handle = async (item: WorkItem) => {
    const started = performance.now();
    const what = {
      jobId: item.jobId,
      sessionId: item.sessionId,
      kind: item.job.kind,
      ...(item.job.kind === "linear" ? { step: item.job.step } : {}),
    };
    log.debug(what, "job taken");
    // What this miner was given, hashed once from the work item as received: its Delivery vouches
    // for this job and nothing else.
    const job = await jobHash(item.jobId, item.job);
    let outputs: Uint8Array[];
    try {
      const run = engine.run(item, fetchBlob, fault ? { fault } : {});
      run.catch(() => undefined); // it may lose the race below and fail later
      const first = await Promise.race([run, graceOver]);
      if (first === "grace-over") {
        await release(item, "the miner shut down before the job finished");
        return;
      }
      outputs = first;
    } catch (error) {
      log.warn({ ...what, err: firstLine(error) }, "job refused");
      await release(item, refusalReason(error));
      return;
    }
    const outputHash = await outputsHash(outputs);
    const signature = await signer.account.signTypedData({
      domain,
      types: DELIVERY_TYPES,
      primaryType: "Delivery",
      message: deliveryMessage(signer.domain.brainId, job, outputHash),
    });
    const posted = await send("result post", item.jobId, () =>
      client.postResult(signer, item.jobId, {
        lockToken: item.lockToken,
        outputs,
        outputHash,
        signature,
      }),
    );
    if (posted) counters.completed++;
    else counters.lost++;
    log.debug({ ...what, ms: Math.round(performance.now() - started), outputHash, posted }, "job done");
  };

  const lane = async (index: number) => {
    let failures = 0;
    while (!signal.aborted) {
      let item: WorkItem | undefined;
      try {
        item = await client.pollWork(signer, pollWaitMs);
        if (failures > 0) log.info({ lane: index }, "the gateway answers again");
        failures = 0;
      } catch (error) {
        failures++;
        const wait = backoffMs(failures);
        // The first failure and then every tenth: an outage should not flood the log.
        if (failures === 1 || failures % 10 === 0)
          log.warn(
            { lane: index, failures, retryInMs: Math.round(wait), err: firstLine(error) },
            "polling the gateway failed",
          );
        await sleep(wait, signal);
        continue;
      }
      if (!item) continue;
      if (signal.aborted) {
        await release(item, "the miner is shutting down");
        break;
      }
      try {
        await handle(item);
      } catch (error) {
        // Only a bug gets here (signing failed?): give the job back rather than sit on it.
        log.error({ jobId: item.jobId, err: firstLine(error) }, "job failed unexpectedly");
        await release(item, refusalReason(error));
      }
    }
  };

  // The caller's logger names the miner and the Brain (the CLI binds them to every line).
  log.info({ concurrency, ...engine.info }, "miner ready");
  const lanes = Promise.all(Array.from({ length: concurrency }, (_, i) => lane(i)));
  // A poll under way at the abort returns within its wait; a gateway that hangs is not waited on
  // past that (it takes back whatever it might still hand out once the lock expires).
  const hung = new Promise<"hung">((resolve) => {
    const start = () => setTimeout(() => resolve("hung"), graceMs + pollWaitMs + 5_000).unref();
    if (signal.aborted) start();
    else signal.addEventListener("abort", start, { once: true });
  });
  if ((await Promise.race([lanes.then(() => "done" as const), hung])) === "hung")
    log.warn("a poll of the gateway did not return after the shutdown; stopping without it");
  log.info(counters, "miner stopped");
}
