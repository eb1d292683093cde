/**
 * The "Hugging Face ZK-LLM converter" template (docs/architecture.md §5): a local GPT-2-family checkpoint
 * as Hugging Face saves it (config.json + model.safetensors or shards with their index, F32, F16
 * or BF16; vocab.json + merges.txt or tokenizer.json) becomes a Brain task directory:
 * - the checkpoint and tokenizer, normalized (one float32 model.safetensors, vocab.json +
 *   merges.txt; a single float32 file is copied byte for byte);
 * - model.onnx (built with onnx-proto), checked by running it in onnxruntime-node against the
 *   engine's own plaintext forward pass;
 * - zkllm-plan.json: the squeezed encrypted-inference plan (which heads are kept and why, the
 *   fusion and quantization settings, and the CKKS engine plan of every server product).
 */
import fs from "node:fs";
import path from "node:path";
import type { ParamSetId } from "./ckks/params";
import { type Gpt2Checkpoint } from "./model/checkpoint";
import { loadCheckpoint, writeNormalizedCheckpoint } from "./model/files";
import { Gpt2Forward } from "./model/forward";
import { exportGpt2Onnx } from "./model/onnx-export";
import { OnnxGpt2Runner } from "./model/onnx-runner";
import { type EnginePlanOptions, buildEnginePlan } from "./hybrid/engine-plan";
import { splitModel } from "./hybrid/split-model";
import { evaluateQuality, headSignificance } from "./calibrate";
import { selectHeads } from "./squeeze/heads";
import type { QuantizeParams } from "./squeeze/quantize";
import { loadTokenizer } from "./tokenizer";
import { PLAN_FILE, type PlanLossiness, type ZkllmPlan, planLossiness } from "./zkllm-plan";
import { MAX_MEMORY_BUDGET, checkMemoryFit, workersToCache } from "./ckks/memory";
import { planMemory } from "./ckks/plan";

/** Calibration text for head significance: public-domain English (Lincoln, Austen, Melville). */
export const CALIBRATION_TEXT = [
  "Four score and seven years ago our fathers brought forth on this continent a new nation.",
  "It is a truth universally acknowledged, that a single man in possession of a good fortune must be in want of a wife.",
  "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse.",
  "The old man said that the river was high this year, and the farmers in the valley were afraid of the rain.",
  "She went into the house and sat down by the window, where the light of the evening fell on her hands.",
  "In the morning the people of the town gathered in the square to hear what the mayor would say.",
];

export type SqueezeSettings = {
  /** Fold LayerNorm affines and the attention scale into the server's products. */
  fuse: boolean;
  /** Dynamic quantization of activations before encryption; null = off. */
  quantize: QuantizeParams | null;
  /** Head selection; null = every head kept. */
  heads: { theta: number; budgetFraction: number } | null;
};

export const SQUEEZE_OFF: SqueezeSettings = { fuse: false, quantize: null, heads: null };
/**
 * The default is lossless: a user gets the same greedy tokens encrypted as plain from the same
 * Brain. Fusion is exact (it moves affines and a constant scale into the weights), every head is
 * kept, and activations are not quantized (the benchmarks show quantization saves no homomorphic
 * work: a CKKS slot costs the same whatever value it holds). Lossy squeezing is opt-in
 * (`SQUEEZE_LOSSY` or options of its own), and the plan then records its measured agreement.
 */
export const SQUEEZE_DEFAULT: SqueezeSettings = { fuse: true, quantize: null, heads: null };

/**
 * The lossy squeezing of the whitepaper, for Brains that opt in: 256-level quantization (98.8 %
 * top-1 agreement on the shipped model) and head selection with θ = 0.05 under the full budget.
 */
export const SQUEEZE_LOSSY: SqueezeSettings = {
  fuse: true,
  quantize: { threshold: 0.1, alpha: 0.5, levels: 256, rounding: "nearest" },
  heads: { theta: 0.05, budgetFraction: 1 },
};

/** Token sequences to calibrate on: the text tokenized when a tokenizer exists, else seeded ids. */
function calibrationSequences(ckpt: Gpt2Checkpoint, dir: string): number[][] {
  const max = Math.min(32, ckpt.config.n_positions);
  if (fs.existsSync(path.join(dir, "vocab.json"))) {
    const tok = loadTokenizer(dir);
    return CALIBRATION_TEXT.map((t) => tok.encode(t).slice(0, max));
  }
  let s = 12345;
  const next = () => (s = (s * 1103515245 + 12345) % 2 ** 31) % ckpt.config.vocab_size;
  return Array.from({ length: 4 }, () => Array.from({ length: Math.min(16, max) }, next));
}

/** Options of `planModel` beyond the squeezing. */
export type PlanModelOptions = Pick<EnginePlanOptions, "parallelism" | "memoryTarget" | "buckets">;

/** Builds the squeezed plan for a checkpoint (no files written). */
export async function planModel(
  ckpt: Gpt2Checkpoint,
  modelSha256: string,
  settings: SqueezeSettings,
  calibration: number[][],
  paramSet: ParamSetId = "n8192-q100",
  options: PlanModelOptions = {},
): Promise<ZkllmPlan> {
  const { n_layer: L, n_head: H, n_embd: d } = ckpt.config;
  let heads: ZkllmPlan["squeeze"]["heads"] = null;
  let kept: boolean[][] | undefined;
  if (settings.heads) {
    const scores = await headSignificance(ckpt, calibration);
    // A head's server cost: its q/k/v columns and its W_O rows (multiply-accumulates per token).
    const headCost = 4 * (d / H) * d;
    const cost = scores.map((layer) => layer.map(() => headCost));
    const fullCost = L * H * headCost;
    const selection = selectHeads(
      scores,
      cost,
      settings.heads.theta,
      settings.heads.budgetFraction * fullCost,
    );
    kept = selection.kept;
    heads = { ...settings.heads, scores, kept, cost: selection.cost, fullCost: selection.fullCost };
  }
  const split = splitModel(ckpt, { fuse: settings.fuse, keptHeads: kept });
  const { engine, buckets } = buildEnginePlan(split.server, paramSet, options);
  const plan: ZkllmPlan = {
    version: 1,
    modelSha256,
    squeeze: { fuse: settings.fuse, quantize: settings.quantize, heads },
    buckets,
    engine,
  };
  if (planLossiness(plan).lossy) {
    // Users of a lossy Brain are shown how often its answers agree with plain inference.
    const quality = await evaluateQuality(ckpt, calibration, {
      fuse: settings.fuse,
      keptHeads: kept,
      ...(settings.quantize ? { session: { quantize: settings.quantize } } : {}),
    });
    plan.squeeze.agreement = quality.top1Agreement;
  }
  return plan;
}

export type ConvertReport = {
  outDir: string;
  files: string[];
  onnxBytes: number;
  /** Largest |logit| difference between onnxruntime and the TypeScript forward pass. */
  onnxMaxAbsDiff: number;
  executionProviders: string[];
  keptHeads: number;
  totalHeads: number;
  planSteps: number;
  /** Rows per prompt request (the length a miner learns is rounded up to it). */
  promptBucket: number;
  /** Whether encrypted answers may differ from plain ones, and the measured agreement. */
  lossiness: PlanLossiness;
  /** What a miner needs to serve the plan. */
  memory: {
    /** Every distinct plaintext of the plan. */
    totalBytes: number;
    /** The busiest worker's share for pools of 1, 2, 4, 8 and 16 workers. */
    perWorker: { workers: number; bytes: number }[];
    /** The largest output's plaintexts (what one worker must hold at once). */
    largestOutputBytes: number;
    /** The most a worker's budget can be. */
    maxBudget: number;
    /** The smallest pool that keeps every plaintext cached within the default budget. */
    workersToCache: number | null;
  };
};

export type ConvertOptions = {
  squeeze?: SqueezeSettings;
  paramSet?: ParamSetId;
  /** Progress messages for a spinner. */
  onProgress?: (message: string) => void;
};

export async function convertModel(
  hfDir: string,
  outDir: string,
  options: ConvertOptions = {},
): Promise<ConvertReport> {
  const progress = options.onProgress ?? (() => {});
  progress("reading the checkpoint (single or sharded safetensors, F32/F16/BF16, any tokenizer form)");
  fs.mkdirSync(outDir, { recursive: true });
  // The task directory has one layout whatever the input's: one float32 model.safetensors,
  // vocab.json + merges.txt; so clients, miners and content hashes see one format.
  const normalized = writeNormalizedCheckpoint(hfDir, outDir);
  const files = [...normalized.files];
  progress("loading the checkpoint");
  const ckpt = loadCheckpoint(outDir);

  progress("building model.onnx");
  const onnxPath = path.join(outDir, "model.onnx");
  const bytes = exportGpt2Onnx(ckpt, onnxPath, { modelName: path.basename(path.resolve(hfDir)) });
  files.push("model.onnx");

  progress("checking model.onnx in onnxruntime against the TypeScript forward pass");
  const probe = Array.from(
    { length: Math.min(8, ckpt.config.n_positions) },
    (_, i) => (i * 101 + 7) % ckpt.config.vocab_size,
  );
  const expected = new Gpt2Forward(ckpt).forward(probe);
  const runner = await OnnxGpt2Runner.create(onnxPath, { maxPositions: ckpt.config.n_positions });
  const { data } = await runner.logits(probe);
  const providers = runner.executionProviders;
  await runner.release();
  let diff = 0;
  for (let i = 0; i < data.length; i++) diff = Math.max(diff, Math.abs(data[i]! - expected[i]!));
  if (!(diff < 1e-3)) {
    throw new Error(
      `model.onnx disagrees with the TypeScript forward pass (max |Δlogit| = ${diff}); not converted`,
    );
  }

  progress("calibrating heads and planning the encrypted inference");
  const plan = await planModel(
    ckpt,
    normalized.weightsSha256,
    options.squeeze ?? SQUEEZE_DEFAULT,
    calibrationSequences(ckpt, outDir),
    options.paramSet,
  );
  // Refuse before writing a plan no miner could serve (one output beyond any worker's heap).
  const fit = checkMemoryFit(plan.engine, 1, MAX_MEMORY_BUDGET);
  fs.writeFileSync(path.join(outDir, PLAN_FILE), JSON.stringify(plan, null, 1) + "\n");
  files.push(PLAN_FILE);
  const kept =
    plan.squeeze.heads?.kept.flat().filter(Boolean).length ?? ckpt.config.n_layer * ckpt.config.n_head;
  return {
    outDir,
    files,
    onnxBytes: bytes.length,
    onnxMaxAbsDiff: diff,
    executionProviders: providers,
    keptHeads: kept,
    totalHeads: ckpt.config.n_layer * ckpt.config.n_head,
    planSteps: plan.engine.steps.length,
    promptBucket: plan.buckets.prefill,
    lossiness: planLossiness(plan),
    memory: {
      totalBytes: fit.totalBytes,
      perWorker: [1, 2, 4, 8, 16].map((workers) => ({
        workers,
        bytes: planMemory(plan.engine, workers).maxWorkerBytes,
      })),
      largestOutputBytes: fit.largestOutputBytes,
      maxBudget: MAX_MEMORY_BUDGET,
      workersToCache: workersToCache(plan.engine),
    },
  };
}
