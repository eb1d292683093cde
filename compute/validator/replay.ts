/**
 * Replays (docs/architecture.md §5 "verification without decryption"): homomorphic evaluation is
 * deterministic, byte for byte, so a validator that evaluates a job's plan step on the job's own
 * input ciphertexts and the session's evaluation keys must get exactly the outputs the miner
 * returned. The validator cannot read them (it has no secret key) and does not need to: it
 * compares `outputsHash(outputs)` with the hash the miner signed.
 *
 * The gateway hands validators a sample of recently completed jobs (their inputs, keys by hash
 * and the output hash); the validator builds the same evaluator a miner does (zkllm/evaluator.ts
 * `loadPlanWeights`) and keeps a few sessions' keys loaded.
 */
import type { Address } from "viem";
import { type Sample, fromBase64, outputsHash } from "../../protocol/gateway";
import type { GatewayClient, SignerOptions } from "../../sdk/gateway-client";
import { errorLine } from "../../sdk/errors";
import {
  type CkksEvaluator,
  type EvalKeyBlobs,
  type EvalKeys,
  type ZkllmPlan,
  createEvaluator,
  isZkllmInputError,
  loadPlanWeights,
} from "../../zkllm/evaluator";

/** What a replay showed; `skipped` when it could not be judged (say why, never the payload). */
export type ReplayOutcome = {
  jobId: string;
  miner: Address;
  step: string;
  verdict: "match" | "mismatch" | "skipped";
  reason?: string;
};

/** Loads a key blob by its sha256 hex. */
export type FetchBlob = (hash: string) => Promise<Uint8Array>;

/** The validator's own evaluator of the Brain's plan, with a small cache of sessions' keys. */
export class Replayer {
  /** Loaded keys by `galois:relin` hashes, least recently used first (Map order). */
  private readonly keys = new Map<string, EvalKeys>();
  private readonly steps: Set<string>;

  private constructor(
    readonly plan: ZkllmPlan,
    private readonly evaluator: CkksEvaluator,
    private readonly keyCacheSize: number,
  ) {
    this.steps = new Set(plan.engine.steps.map((s) => s.id));
  }

  static async create(modelDir: string, options: { keyCacheSize?: number } = {}): Promise<Replayer> {
    const { plan, weights } = loadPlanWeights(modelDir);
    const evaluator = await createEvaluator({ plan: plan.engine, weights });
    return new Replayer(plan, evaluator, Math.max(1, options.keyCacheSize ?? 4));
  }

  /** Re-evaluates one sample's step and compares the output hash. */
  async check(sample: Sample, fetchBlob: FetchBlob): Promise<ReplayOutcome> {
    const base = { jobId: sample.jobId, miner: sample.miner, step: sample.step };
    if (sample.paramSet !== this.plan.engine.paramSet) {
      return { ...base, verdict: "skipped", reason: `parameter set ${sample.paramSet} is not the plan's` };
    }
    if (!this.steps.has(sample.step)) return { ...base, verdict: "skipped", reason: "step not in the plan" };
    let keys: EvalKeys;
    try {
      keys = await this.keysFor(sample, fetchBlob);
    } catch (err) {
      if (isZkllmInputError(err)) return { ...base, verdict: "skipped", reason: `keys refused: ${err.code}` };
      // Blobs live with a TTL: a sample's keys may be gone by the time it is replayed.
      return { ...base, verdict: "skipped", reason: `keys unavailable: ${errorLine(err, 200)}` };
    }
    let outputs: Uint8Array[];
    try {
      outputs = this.evaluator.evaluate(sample.step, sample.inputs.map(fromBase64), keys);
    } catch (err) {
      // Inputs or keys the engine refuses: the gateway should never have let such a job through,
      // and it says nothing about the miner's arithmetic.
      if (isZkllmInputError(err))
        return { ...base, verdict: "skipped", reason: `inputs refused: ${err.code}` };
      throw err;
    }
    const same = (await outputsHash(outputs)).toLowerCase() === sample.outputHash.toLowerCase();
    return { ...base, verdict: same ? "match" : "mismatch" };
  }

  private async keysFor(sample: Sample, fetchBlob: FetchBlob): Promise<EvalKeys> {
    const id = `${sample.keys.galois ?? "-"}:${sample.keys.relin ?? "-"}`;
    const cached = this.keys.get(id);
    if (cached) {
      this.keys.delete(id);
      this.keys.set(id, cached);
      return cached;
    }
    const blobs: EvalKeyBlobs = {};
    if (sample.keys.galois) blobs.galois = await fetchBlob(sample.keys.galois);
    if (sample.keys.relin) blobs.relin = await fetchBlob(sample.keys.relin);
    const loaded = this.evaluator.loadEvalKeys(blobs);
    this.keys.set(id, loaded);
    while (this.keys.size > this.keyCacheSize) {
      const [oldest, keys] = this.keys.entries().next().value!;
      this.keys.delete(oldest);
      keys.delete();
    }
    return loaded;
  }

  close(): void {
    for (const k of this.keys.values()) k.delete();
    this.keys.clear();
    this.evaluator.delete();
  }
}

export type ReplaySamplesOptions = {
  gateway: GatewayClient;
  /** The validator's key and the gateway's domain: sample and blob routes are members only. */
  signer: SignerOptions;
  replayer: Replayer;
  /** Samples to replay this time. */
  count: number;
  /** Job ids replayed already (updated here; bounded by the caller). */
  seen?: Set<string>;
  signal?: AbortSignal;
};

/**
 * Fetches recent samples from the gateway and replays up to `count` not replayed before, picked
 * at random so a miner cannot tell which of its jobs will be checked.
 */
export async function replaySamples(options: ReplaySamplesOptions): Promise<ReplayOutcome[]> {
  const { gateway, signer, replayer, seen } = options;
  if (options.count <= 0) return [];
  const samples = (await gateway.samples(signer, Math.min(100, options.count * 4))).filter(
    (s) => !seen?.has(s.jobId),
  );
  // Fisher–Yates with crypto randomness.
  for (let i = samples.length - 1; i > 0; i--) {
    const j = crypto.getRandomValues(new Uint32Array(1))[0]! % (i + 1);
    [samples[i], samples[j]] = [samples[j]!, samples[i]!];
  }
  const out: ReplayOutcome[] = [];
  for (const sample of samples.slice(0, options.count)) {
    options.signal?.throwIfAborted();
    seen?.add(sample.jobId);
    out.push(await replayer.check(sample, (hash) => gateway.getBlob(signer, hash)));
  }
  return out;
}
