/**
 * Running a converted model directory, encrypted or plain, in one process: the client door's
 * model and greedy loop (zkllm/client.ts) with an evaluator or onnxruntime beside it (what `based
 * model generate` does so anyone can try the engine and compare the two modes). The Brain's
 * gateway and miners put a network between the same two halves. Node-only, and apart from the
 * evaluator door (zkllm/evaluator.ts), which must not load the client's key-holding code.
 */
import path from "node:path";
import {
  type ActionCounts,
  createActionCounter,
  diffActions,
  perToken,
  sumActions,
  totalActions,
} from "./ckks/actions";
import { DEFAULT_MEMORY_BUDGET, type MemoryFit, checkMemoryFit } from "./ckks/memory";
import { type PrepareProgress, createEvaluatorPool } from "./ckks/pool";
import { createEvaluator } from "./ckks/server";
import { type ZkllmModel, createClient, openModel } from "./client";
import { generateGreedy } from "./model/greedy";
import { OnnxGpt2Runner } from "./model/onnx-runner";
import { readModelDir } from "./model-dir";
import { batchingBackend } from "./hybrid/batching";
import {
  type ServerCall,
  type TransferStats,
  emptyStats,
  encryptedBackend,
} from "./hybrid/encrypted-backend";
import { serverWeights } from "./hybrid/engine-plan";
import type { ZkllmPlan } from "./zkllm-plan";
import type { InferenceMode } from "../protocol/schemas";

export type GenerationTimings = {
  totalMs: number;
  /** Key generation, evaluation-key upload and the evaluator's warm-up (once per session). */
  setupMs: number;
  tokensPerSecond: number;
  /** The prompt pass: from the start of generation to the first new token (encrypted mode). */
  promptMs?: number;
  /** Seconds per generated token after the first (encrypted mode; NaN with one token). */
  secondsPerToken?: number;
};

export type EncryptedDetails = {
  /** Actions per generated token (client and server), and in total. */
  actionsPerToken: Record<string, number>;
  transfer: TransferStats;
  bytesUpPerToken: number;
  bytesDownPerToken: number;
  evalKeyBytes: number;
};

export type GenerationResult = {
  mode: InferenceMode;
  promptIds: number[][];
  ids: number[][];
  timings: GenerationTimings;
  encrypted?: EncryptedDetails;
  executionProviders?: string[];
};

/** Greedy generation for every prompt, in the given mode. Prompts run together (one batch). */
export async function generateIds(
  modelDir: string,
  prompts: number[][],
  options: {
    mode: InferenceMode;
    maxTokens: number;
    eosId?: number;
    plan?: ZkllmPlan;
    /** Evaluator threads (encrypted mode); more than 1 starts a worker pool. */
    workers?: number;
    /** Plaintext cache budget per evaluator worker, in bytes (default 3 GiB). */
    memoryBudget?: number;
    /** Warm-up progress of the evaluator (plan steps encoded of all). */
    onProgress?: PrepareProgress;
    /** Memory figures, once checked (before the warm-up starts). */
    onMemory?: (fit: MemoryFit) => void;
    /** The model, if the caller has opened it already (else it is read from `modelDir`). */
    model?: ZkllmModel;
  },
): Promise<GenerationResult> {
  const model = options.model ?? openModel(readModelDir(modelDir, { weights: options.mode === "encrypted" }));
  const stop = { maxTokens: options.maxTokens, eosId: options.eosId };
  const started = performance.now();
  if (options.mode === "plain") {
    const runner = await OnnxGpt2Runner.create(path.join(modelDir, "model.onnx"), {
      maxPositions: model.nPositions,
    });
    const ids: number[][] = [];
    for (const p of prompts) ids.push(await generateGreedy(runner.source(), p, stop));
    await runner.release();
    const totalMs = performance.now() - started;
    const tokens = ids.reduce((a, b) => a + b.length, 0);
    return {
      mode: "plain",
      promptIds: prompts,
      ids,
      timings: { totalMs, setupMs: 0, tokensPerSecond: (tokens / totalMs) * 1000 },
      executionProviders: runner.executionProviders,
    };
  }

  const plan = options.plan ?? model.plan();
  const workers = options.workers ?? 1;
  const memoryBudget = options.memoryBudget ?? DEFAULT_MEMORY_BUDGET;
  // Refused before anything big is allocated when the plan cannot fit (ModelMemoryError).
  options.onMemory?.(checkMemoryFit(plan.engine, workers, memoryBudget));
  const split = model.split(plan);
  const client = await createClient({ paramSet: plan.engine.paramSet });
  const serverActions = createActionCounter();
  // One evaluator in this thread, or a pool sharding each product's outputs over its workers.
  const weights = serverWeights(split.server);
  const evaluator =
    workers > 1 ? undefined : await createEvaluator({ plan: plan.engine, weights, memoryBudget });
  const pool =
    workers > 1
      ? createEvaluatorPool({ plan: plan.engine, weights, size: workers, memoryBudget })
      : undefined;
  let releaseKeys = () => {};
  try {
    const blobs = client.makeEvalKeysForPlan(plan.engine);
    let server: ServerCall;
    if (pool) {
      const keysId = await pool.registerKeys(blobs);
      await pool.prepare(undefined, options.onProgress);
      server = (id, inputs) => pool.evaluate(id, inputs, keysId, { actions: serverActions });
    } else {
      evaluator!.warmUp(options.onProgress);
      const keys = evaluator!.loadEvalKeys(blobs);
      releaseKeys = () => keys.delete();
      server = async (id, inputs) => evaluator!.evaluate(id, inputs, keys, { actions: serverActions });
    }
    const setupMs = performance.now() - started;
    const stats = emptyStats();
    const backend = batchingBackend(encryptedBackend(client, plan.engine, server, plan.buckets, stats));
    const before = sumActions(client.actions.snapshot(), serverActions.snapshot());
    const t0 = performance.now();
    let firstAt: number | undefined;
    const onFirst = () => (firstAt ??= performance.now());
    const ids = await Promise.all(
      prompts.map((p) => generateGreedy(model.session(backend, plan), p, { ...stop, onToken: onFirst })),
    );
    const genMs = performance.now() - t0;
    const promptMs = (firstAt ?? t0) - t0;
    const later = ids.reduce((a, b) => a + Math.max(0, b.length - 1), 0) / Math.max(1, ids.length);
    const actions: ActionCounts = diffActions(
      sumActions(client.actions.snapshot(), serverActions.snapshot()),
      before,
    );
    const tokens = ids.reduce((a, b) => a + b.length, 0);
    const actionsPerToken = { ...perToken(actions, tokens), total: totalActions(actions) / tokens };
    return {
      mode: "encrypted",
      promptIds: prompts,
      ids,
      timings: {
        totalMs: performance.now() - started,
        setupMs,
        tokensPerSecond: (tokens / genMs) * 1000,
        promptMs,
        secondsPerToken: later > 0 ? (genMs - promptMs) / later / 1000 : Number.NaN,
      },
      encrypted: {
        actionsPerToken,
        transfer: stats,
        bytesUpPerToken: stats.bytesUp / tokens,
        bytesDownPerToken: stats.bytesDown / tokens,
        evalKeyBytes: (blobs.galois?.length ?? 0) + (blobs.relin?.length ?? 0),
      },
    };
  } finally {
    releaseKeys();
    evaluator?.delete();
    await pool?.close();
    client.delete();
  }
}
