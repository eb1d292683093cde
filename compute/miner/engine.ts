/**
 * The miner's compute (docs/architecture.md §5): the Brain's task model loaded once, serving two kinds of
 * gateway jobs (protocol/gateway.ts `WorkItem`):
 * - `linear`: one plan step of the encrypted engine over a client's ciphertexts, on an evaluator
 *   pool or, with one worker, an evaluator in this thread (zkllm/evaluator.ts). The session's
 *   evaluation keys are fetched by hash and kept in a small LRU, so a session uploads and the
 *   miner loads them once;
 * - `generate`: plain-mode greedy generation with onnxruntime (a Brain with ZK off).
 *
 * Everything in a job is untrusted: unknown steps, other parameter sets, malformed blobs and
 * out-of-vocabulary tokens are refused with a `ZkllmInputError` before any work is done.
 * The engine never logs or keeps a payload.
 */
import { availableParallelism } from "node:os";
import fs from "node:fs";
import path from "node:path";
import { type SessionKeys, type WorkItem, bytesOf, encodeTokens } from "../../protocol/gateway";
import {
  type CkksEvaluator,
  DEFAULT_MEMORY_BUDGET,
  type MemoryFit,
  type PoolWorkerStats,
  type PrepareProgress,
  checkMemoryFit,
  type EvalKeyBlobs,
  type EvalKeys,
  type EvaluatorPool,
  type ExecutionProvider,
  type Gpt2Config,
  OnnxGpt2Runner,
  PLAN_FILE,
  type PlanStep,
  ZkllmInputError,
  type ZkllmPlan,
  createEvaluator,
  createEvaluatorPool,
  generateGreedy,
  loadPlanWeights,
  parseGpt2Config,
  readPlan,
} from "../../zkllm/evaluator";

/** A dishonest miner, for tests of validators: valid-looking but wrong answers. */
export type EngineFault = "wrong-results";

export type MinerEngineOptions = {
  /** Evaluator threads for linear jobs (default: one per core); 1 runs in this thread. */
  workers?: number;
  /** Sessions whose evaluation keys stay loaded (default 8). */
  keyCacheSize?: number;
  /** Serve linear jobs (default: when the model has a plan). Off in plain mode (ZK off). */
  linear?: boolean;
  /** Serve generate jobs (default: when the model has model.onnx). */
  generate?: boolean;
  /** onnxruntime providers for generate jobs (default: CUDA where a GPU exists, else CPU). */
  executionProviders?: ExecutionProvider[];
  /** Plaintext cache budget of each evaluator worker, in bytes (default 3 GiB). */
  memoryBudget?: number;
  /** Warm-up progress: plan steps encoded of all. */
  onProgress?: PrepareProgress;
};

export type RunOptions = { fault?: EngineFault };

/** Loads a blob (evaluation keys) by its sha256 hex. */
export type FetchBlob = (hash: string) => Promise<Uint8Array>;

/** Loaded keys: a pool registration, or keys in this thread's evaluator. */
type LoadedKeys = { keysId: string } | { keys: EvalKeys };

type KeyEntry = {
  loading: Promise<LoadedKeys>;
  /** Jobs using these keys now: eviction frees them only once the last one ends. */
  users: number;
  evicted: boolean;
  freed: boolean;
};

export type EngineInfo = {
  modelDir: string;
  paramSet: string | null;
  linear: boolean;
  generate: boolean;
  workers: number;
  /** How the plan's plaintexts fit the workers' budgets (linear jobs only). */
  memory?: MemoryFit;
  executionProviders: ExecutionProvider[];
  /** Why CUDA was not used although a GPU was seen. */
  cudaFallback?: string;
};

const DEFAULT_KEY_CACHE = 8;

export class MinerEngine {
  /** Sessions' keys by `galois:relin` hashes, least recently used first (Map order). */
  private readonly keyCache = new Map<string, KeyEntry>();
  private readonly steps: Map<string, PlanStep>;
  /** onnxruntime runs one generation at a time: jobs queue here. */
  private generating: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly modelDir: string,
    private readonly config: Gpt2Config,
    private readonly eosId: number | undefined,
    readonly plan: ZkllmPlan | undefined,
    private readonly evaluator: CkksEvaluator | undefined,
    private readonly pool: EvaluatorPool | undefined,
    private readonly runner: OnnxGpt2Runner | undefined,
    private readonly keyCacheSize: number,
    private readonly memory: MemoryFit | undefined,
  ) {
    this.steps = new Map((plan?.engine.steps ?? []).map((s) => [s.id, s]));
  }

  /**
   * Loads a model directory (resolved and verified by model-source.ts): the checkpoint and plan
   * for linear jobs, model.onnx for generate jobs. A model whose plan cannot fit the workers'
   * memory budgets is refused (`ModelMemoryError`, naming the limit) before anything loads. Each
   * worker encodes its share of the plaintexts, within its budget, before this resolves, so the
   * first job is as fast as the others.
   */
  static async create(modelDir: string, options: MinerEngineOptions = {}): Promise<MinerEngine> {
    const hasPlan = fs.existsSync(path.join(modelDir, PLAN_FILE));
    const hasOnnx = fs.existsSync(path.join(modelDir, "model.onnx"));
    const linear = options.linear ?? hasPlan;
    const generate = options.generate ?? hasOnnx;
    if (linear && !hasPlan) {
      throw new Error(
        `${modelDir} has no ${PLAN_FILE}: it cannot serve encrypted jobs (convert it with \`based model convert\`)`,
      );
    }
    if (generate && !hasOnnx) {
      throw new Error(
        `${modelDir} has no model.onnx: it cannot serve plain jobs (convert it with \`based model convert\`)`,
      );
    }
    if (!linear && !generate) throw new Error(`${modelDir}: the engine was asked to serve no job kind`);
    const keyCacheSize = options.keyCacheSize ?? DEFAULT_KEY_CACHE;
    if (!Number.isInteger(keyCacheSize) || keyCacheSize < 1)
      throw new RangeError(`keyCacheSize must be a positive integer (got ${keyCacheSize})`);
    const workers = options.workers ?? availableParallelism();
    if (!Number.isInteger(workers) || workers < 1)
      throw new RangeError(`workers must be a positive integer (got ${workers})`);

    const config = parseGpt2Config(JSON.parse(fs.readFileSync(path.join(modelDir, "config.json"), "utf8")));
    let evaluator: CkksEvaluator | undefined;
    let pool: EvaluatorPool | undefined;
    let runner: OnnxGpt2Runner | undefined;
    let plan: ZkllmPlan | undefined;
    let memory: MemoryFit | undefined;
    const memoryBudget = options.memoryBudget ?? DEFAULT_MEMORY_BUDGET;
    try {
      if (linear) {
        // Refused before the weights load: a model that cannot fit costs nothing to turn away.
        plan = readPlan(modelDir);
        memory = checkMemoryFit(plan.engine, workers, memoryBudget);
        const weights = loadPlanWeights(modelDir, plan).weights;
        if (workers === 1) {
          evaluator = await createEvaluator({ plan: plan.engine, weights, memoryBudget });
          evaluator.warmUp(options.onProgress);
        } else {
          pool = createEvaluatorPool({ plan: plan.engine, weights, size: workers, memoryBudget });
          await pool.prepare(undefined, options.onProgress);
        }
      }
      if (generate) {
        runner = await OnnxGpt2Runner.create(path.join(modelDir, "model.onnx"), {
          maxPositions: config.n_positions,
          ...(options.executionProviders ? { executionProviders: options.executionProviders } : {}),
        });
      }
    } catch (error) {
      evaluator?.delete();
      await pool?.close();
      await runner?.release();
      throw error;
    }
    return new MinerEngine(
      modelDir,
      config,
      generationEosId(modelDir, config),
      plan,
      evaluator,
      pool,
      runner,
      keyCacheSize,
      memory,
    );
  }

  /** What this engine serves, for logs. */
  get info(): EngineInfo {
    return {
      modelDir: this.modelDir,
      paramSet: this.plan?.engine.paramSet ?? null,
      linear: this.plan !== undefined,
      generate: this.runner !== undefined,
      workers: this.pool?.size ?? (this.evaluator ? 1 : 0),
      ...(this.memory ? { memory: this.memory } : {}),
      executionProviders: this.runner?.executionProviders ?? [],
      ...(this.runner?.fallbackReason ? { cudaFallback: this.runner.fallbackReason } : {}),
    };
  }

  /**
   * Runs one job. Linear: the output ciphertexts. Generate: one blob of the new token ids
   * (`encodeTokens`). `fetchBlob` loads a session's evaluation keys the first time they are needed.
   */
  async run(item: WorkItem, fetchBlob: FetchBlob, options: RunOptions = {}): Promise<Uint8Array[]> {
    if (this.closed) throw new Error("the miner engine is closed");
    const job = item.job;
    if (job.kind === "linear") return this.runLinear(job, fetchBlob, options.fault);
    return this.runGenerate(job.tokens, job.maxTokens, options.fault);
  }

  /** Frees every session's keys, the evaluators and the onnxruntime session. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const entry of this.keyCache.values()) entry.evicted = true;
    await Promise.all([...this.keyCache.values()].map((e) => (e.users === 0 ? this.free(e) : undefined)));
    this.keyCache.clear();
    await this.generating.catch(() => undefined);
    this.evaluator?.delete();
    await this.pool?.close();
    await this.runner?.release();
  }

  /** Each evaluator worker's heap, plaintext cache and actions (for logs, tests and benchmarks). */
  async workerStats(): Promise<PoolWorkerStats[]> {
    if (this.pool) return this.pool.stats();
    if (!this.evaluator) return [];
    const cache = this.evaluator.cacheStats();
    return [
      {
        heapBytes: this.evaluator.heapBytes(),
        cacheBytes: cache.bytes,
        cache,
        actions: this.evaluator.actions.snapshot(),
      },
    ];
  }

  /** Sessions whose keys are loaded now (for tests and stats). */
  get loadedKeySessions(): number {
    return this.keyCache.size;
  }

  // -- linear ----------------------------------------------------------------------------------

  private async runLinear(
    job: Extract<WorkItem["job"], { kind: "linear" }>,
    fetchBlob: FetchBlob,
    fault: EngineFault | undefined,
  ): Promise<Uint8Array[]> {
    if (!this.plan) {
      throw new ZkllmInputError(
        "UnknownPlanStep",
        "This miner runs in plain mode (the Brain has ZK off): it serves no encrypted steps.",
      );
    }
    const paramSet = this.plan.engine.paramSet;
    if (job.paramSet !== paramSet) {
      throw new ZkllmInputError(
        "WrongParameters",
        `The job uses parameter set ${job.paramSet}; this Brain's model uses ${paramSet}.`,
      );
    }
    const asked = this.steps.get(job.step);
    if (!asked) throw new ZkllmInputError("UnknownPlanStep", `Unknown plan step "${job.step}".`);
    const step = fault === "wrong-results" ? this.sibling(asked) : asked;
    if (job.inputs.length !== step.inputCiphertexts) {
      throw new ZkllmInputError(
        "BadRequest",
        `Step "${step.id}" takes ${step.inputCiphertexts} input ciphertexts; got ${job.inputs.length}.`,
      );
    }
    const inputs = job.inputs.map(bytesOf);
    const { entry, loaded } = await this.acquireKeys(job.keys, fetchBlob);
    try {
      if ("keysId" in loaded) {
        return await this.pool!.evaluate(step.id, inputs, loaded.keysId);
      }
      return this.evaluator!.evaluate(step.id, inputs, loaded.keys);
    } finally {
      entry.users--;
      if (entry.evicted && entry.users === 0) await this.free(entry);
    }
  }

  /**
   * Another step with the same layout and rotations (the same product of another layer): its
   * output decrypts fine with the session's keys but is not the answer.
   */
  private sibling(step: PlanStep): PlanStep {
    const shape = (s: PlanStep) =>
      JSON.stringify({ ...s, id: null, weight: null, bias: null, estimate: null });
    const target = shape(step);
    const other = [...this.steps.values()].find((s) => s.id !== step.id && shape(s) === target);
    if (!other) throw new Error(`wrong-results fault: no other step has the shape of "${step.id}"`);
    return other;
  }

  private async acquireKeys(
    keys: SessionKeys,
    fetchBlob: FetchBlob,
  ): Promise<{ entry: KeyEntry; loaded: LoadedKeys }> {
    const id = `${keys.galois ?? "-"}:${keys.relin ?? "-"}`;
    let entry = this.keyCache.get(id);
    if (entry) {
      this.keyCache.delete(id); // re-inserted below as the most recently used
    } else {
      entry = { loading: this.loadKeys(keys, fetchBlob), users: 0, evicted: false, freed: false };
    }
    this.keyCache.set(id, entry);
    entry.users++;
    this.evictBeyondCapacity();
    try {
      return { entry, loaded: await entry.loading };
    } catch (error) {
      // Keys that failed to load are not cached: the next job of the session tries again.
      entry.users--;
      if (this.keyCache.get(id) === entry) this.keyCache.delete(id);
      entry.freed = true;
      throw error;
    }
  }

  private async loadKeys(keys: SessionKeys, fetchBlob: FetchBlob): Promise<LoadedKeys> {
    const blobs: EvalKeyBlobs = {};
    if (keys.galois) blobs.galois = await fetchBlob(keys.galois);
    if (keys.relin) blobs.relin = await fetchBlob(keys.relin);
    if (this.pool) return { keysId: await this.pool.registerKeys(blobs) };
    return { keys: this.evaluator!.loadEvalKeys(blobs) };
  }

  private evictBeyondCapacity(): void {
    for (const [id, entry] of this.keyCache) {
      if (this.keyCache.size <= this.keyCacheSize) break;
      this.keyCache.delete(id);
      entry.evicted = true;
      if (entry.users === 0) void this.free(entry);
    }
  }

  private async free(entry: KeyEntry): Promise<void> {
    if (entry.freed) return;
    entry.freed = true;
    let loaded: LoadedKeys;
    try {
      loaded = await entry.loading;
    } catch {
      return;
    }
    if ("keys" in loaded) loaded.keys.delete();
    else if (!this.closed) await this.pool?.releaseKeys(loaded.keysId).catch(() => undefined);
  }

  // -- generate --------------------------------------------------------------------------------

  private async runGenerate(
    tokens: readonly number[],
    maxTokens: number,
    fault: EngineFault | undefined,
  ): Promise<Uint8Array[]> {
    const runner = this.runner;
    if (!runner) {
      throw new ZkllmInputError(
        "BadRequest",
        "This miner serves encrypted jobs only (its model has no model.onnx for plain generation).",
      );
    }
    const { vocab_size: vocab, n_positions: positions } = this.config;
    if (tokens.length === 0) throw new ZkllmInputError("BadRequest", "A generate job needs prompt tokens.");
    if (tokens.length > positions) {
      throw new ZkllmInputError(
        "BadRequest",
        `The prompt has ${tokens.length} tokens; the model reads at most ${positions}.`,
      );
    }
    // The message names the position, not the id: refusals travel to the gateway and its logs.
    const bad = tokens.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= vocab);
    if (bad >= 0) {
      throw new ZkllmInputError(
        "BadRequest",
        `Prompt token ${bad} is outside the model's vocabulary (0–${vocab - 1}).`,
      );
    }
    if (!Number.isInteger(maxTokens) || maxTokens < 1)
      throw new ZkllmInputError("BadRequest", `maxTokens must be a positive integer (got ${maxTokens}).`);
    const run = this.generating.then(() =>
      generateGreedy(runner.source(), tokens, { maxTokens, eosId: this.eosId }),
    );
    this.generating = run.catch(() => undefined);
    let ids = await run;
    if (fault === "wrong-results") ids = ids.map((id) => (id + 1) % vocab);
    return [encodeTokens(ids)];
  }
}

/**
 * The token that ends a plain-mode generation: generation_config.json's `eos_token_id`, else
 * config.json's (none: generations run to `maxTokens` or the context's end). Validators computing
 * a plain job's expected answer use the same rule.
 */
export function generationEosId(modelDir: string, config?: Gpt2Config): number | undefined {
  const file = path.join(modelDir, "generation_config.json");
  if (fs.existsSync(file)) {
    try {
      const eos = (JSON.parse(fs.readFileSync(file, "utf8")) as { eos_token_id?: unknown }).eos_token_id;
      if (typeof eos === "number" && Number.isInteger(eos) && eos >= 0) return eos;
    } catch {
      // a broken generation config falls back to config.json's token
    }
  }
  const c =
    config ?? parseGpt2Config(JSON.parse(fs.readFileSync(path.join(modelDir, "config.json"), "utf8")));
  return c.eos_token_id;
}
