/**
 * The miner as a long-running service: what `based miner start` runs after its checks. It keeps
 * the engine on the Brain's current task (docs/architecture.md §3: "a task change takes effect after a notice
 * period so nodes can restart"):
 * - reads the Brain's configuration every `configPollMs`;
 * - fetches a pending task's model ahead of time, so the switch costs only the engine's start;
 * - when the effective task's content hash (or the ZK mode) changes, lets in-flight jobs finish,
 *   closes the engine and starts one on the new model; until that model resolves it takes no work
 *   (a job for the new model must not run on the old one);
 * - ZK off: plain mode, the engine serves generate jobs only (the pool is not started).
 */
import type { Logger } from "pino";
import type { Hex } from "viem";
import type { BrainConfig } from "../../sdk/brain-config";
import { BasedError, errorLine } from "../../sdk/errors";
import type { GatewayClient, SignerOptions } from "../../sdk/gateway-client";
import { type ExecutionProvider, ModelMemoryError } from "../../zkllm/evaluator";
import { type EngineFault, MinerEngine } from "./engine";
import { resolveModel } from "../../sdk/node/model-cache";
import { type MinerCounters, type RunMinerOptions, runMiner } from "./node";

/** What the service reads of the Brain's configuration. */
export type MinerBrainView = Pick<BrainConfig, "active" | "task" | "pendingTask" | "zkMode">;

export type MinerServiceOptions = {
  brainId: number;
  client: GatewayClient;
  signer: SignerOptions;
  delivery: RunMinerOptions["delivery"];
  /** Reads the Brain's configuration (sdk/brain-config.ts getBrainConfig in production). */
  readConfig: () => Promise<MinerBrainView>;
  /** The configuration read at start (the CLI read it for its checks). */
  initial: MinerBrainView;
  /** Where http(s) models are cached. */
  modelCache: string;
  workers?: number;
  /** Plaintext cache budget of each evaluator worker, in bytes. */
  memoryBudget?: number;
  /** onnxruntime providers for plain generation (compute/miner/hardware.ts detectHardware's choice). */
  executionProviders?: ExecutionProvider[];
  concurrency?: number;
  pollWaitMs?: number;
  /** How often the Brain's configuration is read (default 10 s). */
  configPollMs?: number;
  graceMs?: number;
  fault?: EngineFault;
  signal: AbortSignal;
  logger: Logger;
  counters?: MinerCounters;
  /** Called with each engine the service starts (tests, stats). */
  onEngine?: (engine: MinerEngine, task: { contentHash: Hex; zkMode: boolean }) => void;
};

type Running = { key: string; engine: MinerEngine; stop: AbortController; done: Promise<void> };

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Serves the Brain until `signal` aborts, following its task. Throws only when the first model
 * cannot be loaded (a wrong hash, an unreachable model server): later failures are logged and
 * retried at each configuration read.
 */
export async function runMinerService(options: MinerServiceOptions): Promise<void> {
  const { signal, brainId } = options;
  const log = options.logger;
  const configPollMs = options.configPollMs ?? 10_000;
  const counters = options.counters ?? { completed: 0, released: 0, lost: 0 };
  let config = options.initial;
  let running: Running | undefined;
  let first = true;
  const prefetched = new Set<string>();

  const stopRunning = async (why: string) => {
    if (!running) return;
    const r = running;
    running = undefined;
    log.info({ contentHash: r.key.split(":")[0] }, `${why}: finishing the jobs in flight`);
    r.stop.abort();
    await r.done;
    await r.engine.close();
  };

  const start = async (task: NonNullable<MinerBrainView["task"]>, zkMode: boolean, key: string) => {
    log.info({ modelUri: task.modelUri, contentHash: task.contentHash }, "resolving the Brain's task model");
    const dir = await resolveModel(task.modelUri, task.contentHash, options.modelCache);
    if (!zkMode) {
      log.info(
        `Brain #${brainId} has ZK off: plain mode, only generate jobs come (their prompts are visible to this miner)`,
      );
    }
    let reported = 0;
    let engine: MinerEngine;
    try {
      engine = await MinerEngine.create(dir, {
        ...(options.workers ? { workers: options.workers } : {}),
        ...(options.memoryBudget ? { memoryBudget: options.memoryBudget } : {}),
        // Warm-up of a large model takes a while: say how far it is, every tenth of the way.
        onProgress: (done, total) => {
          if (done === total || done >= reported + total / 10) {
            reported = done;
            log.info({ done, total }, `warming up: plaintexts of ${done}/${total} plan steps encoded`);
          }
        },
        ...(options.executionProviders ? { executionProviders: options.executionProviders } : {}),
        linear: zkMode,
      });
    } catch (error) {
      if (error instanceof ModelMemoryError) {
        throw new BasedError(
          "refused",
          "ModelTooLarge",
          `The Brain's model does not fit this miner: ${error.message}`,
          "Start with more --workers (each holds a share of the model) or another --memory-budget, e.g. `based miner start --brain <id> --workers 8 --memory-budget 3GiB`.",
        );
      }
      throw error;
    }
    const { memory, ...info } = engine.info;
    if (memory) {
      for (const line of memory.summary) log.info({ memory: line }, line);
    }
    log.info({ contentHash: task.contentHash, zkMode, ...info }, "engine loaded");
    options.onEngine?.(engine, { contentHash: task.contentHash, zkMode });
    const stop = new AbortController();
    const done = runMiner({
      client: options.client,
      signer: options.signer,
      engine,
      delivery: options.delivery,
      signal: stop.signal,
      logger: log,
      counters,
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      ...(options.pollWaitMs ? { pollWaitMs: options.pollWaitMs } : {}),
      ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
      ...(options.fault ? { fault: options.fault } : {}),
    });
    running = { key, engine, stop, done };
  };

  try {
    while (!signal.aborted) {
      const task = config.active ? config.task : null;
      const key = task ? `${task.contentHash.toLowerCase()}:${config.zkMode}` : "none";
      if (running && running.key !== key) {
        await stopRunning(task ? "the Brain's task or ZK mode changed" : "the Brain has no task now");
      }
      if (!running && task) {
        try {
          await start(task, config.zkMode, key);
        } catch (error) {
          if (first) throw error;
          log.error(
            { contentHash: task.contentHash, err: errorLine(error) },
            `cannot load the Brain's new task model; taking no work, trying again in ${configPollMs / 1000} s`,
          );
        }
      } else if (!task && first) {
        log.warn(`Brain #${brainId} has no task (or is inactive): waiting for one`);
      }
      first = false;

      const pending = config.pendingTask;
      if (pending && !prefetched.has(pending.contentHash)) {
        prefetched.add(pending.contentHash);
        const at = new Date(pending.effectiveAt * 1000).toISOString();
        resolveModel(pending.modelUri, pending.contentHash, options.modelCache).then(
          () =>
            log.info(
              { contentHash: pending.contentHash, effectiveAt: at },
              "fetched the Brain's next task model",
            ),
          (error: unknown) =>
            log.warn(
              { contentHash: pending.contentHash, effectiveAt: at, err: errorLine(error) },
              "cannot fetch the Brain's next task model yet",
            ),
        );
      }

      await sleep(configPollMs, signal);
      if (signal.aborted) break;
      try {
        config = await options.readConfig();
      } catch (error) {
        log.warn(
          { err: errorLine(error) },
          "reading the Brain's configuration failed; keeping the current task",
        );
      }
    }
  } finally {
    await stopRunning("shutting down");
  }
}
