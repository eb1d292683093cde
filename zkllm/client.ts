/**
 * zkllm's client door: the user's side of inference, in a browser as in node. Open a model once
 * from its files' contents, then generate with it:
 *
 *   const model = openModel(files); // node: files = readModelDir(dir) (zkllm/model-dir.ts)
 *   const ids = await model.generate(promptIds, { backend, maxTokens, onToken });
 *
 * `backend` evaluates the server's products: `encryptedBackend` (CKKS under the user's own key,
 * the ciphertexts going to an evaluator in this process or behind a Brain's gateway) or
 * `plainBackend` (float64, for references). `generate` runs the one greedy loop
 * (`generateGreedy`, which any other `LogitsSource` can use, such as the onnx runner of the
 * evaluator door).
 *
 * Browser-safe: nothing reachable from here imports a `node:` module, onnxruntime or a file
 * (`npx esbuild zkllm/client.ts --bundle --platform=browser` checks it); node-seal and zstd load
 * their browser builds there. The evaluator side is zkllm/evaluator.ts.
 */
import { sha256Hex } from "../protocol/hash";
import {
  type Gpt2Checkpoint,
  type Gpt2Config,
  checkpointFromBytes,
  parseGpt2ConfigText,
} from "./model/checkpoint";
import { type GreedyOptions, generateGreedy } from "./model/greedy";
import { HybridSession, type LinearBackend } from "./hybrid/session";
import type { SplitModel } from "./hybrid/split-model";
import type { ModelFiles } from "./model-files";
import { Gpt2Tokenizer } from "./tokenizer/gpt2";
import { PLAN_FILE, type ZkllmPlan, parseZkllmPlan, sessionOptions, splitForPlan } from "./zkllm-plan";

export { type GreedyOptions, type LogitsSource, generateGreedy } from "./model/greedy";
export { argmax } from "./model/forward";
export type { Gpt2Config } from "./model/checkpoint";
export { ENDOFTEXT, Gpt2Tokenizer, TokenizerError } from "./tokenizer/gpt2";
export { HybridSession, type LinearBackend, plainBackend } from "./hybrid/session";
export {
  type ServerCall,
  type TransferStats,
  emptyStats,
  encryptedBackend,
} from "./hybrid/encrypted-backend";
export { DEFAULT_BUCKETS } from "./hybrid/engine-plan";
export { type CkksClient, type EvalKeyBlobs, createClient, exportSecretKey } from "./ckks/client";
export type { ParamSetId } from "./ckks/params";
export { type EnginePlan, planNeedsRelinearization, planRotations } from "./ckks/plan";
export { type ZkllmInputErrorCode, ZkllmInputError, isZkllmInputError } from "./ckks/errors";
export { PLAN_FILE, type PlanLossiness, type ZkllmPlan, planLossiness } from "./zkllm-plan";
export type { ModelFiles } from "./model-files";

export type GenerateOptions = GreedyOptions & {
  /** Evaluates the server's products (encryptedBackend, plainBackend, …). */
  backend: LinearBackend;
};

/** An opened model: its tokenizer and config at once, its plan and weights parsed on first use. */
export class ZkllmModel {
  readonly tokenizer: Gpt2Tokenizer;
  readonly config: Gpt2Config;
  private parsedPlan: ZkllmPlan | undefined;
  private parsedCheckpoint: Gpt2Checkpoint | undefined;
  private planSplit: SplitModel | undefined;

  constructor(private readonly files: ModelFiles) {
    this.tokenizer = Gpt2Tokenizer.fromText(files.vocab, files.merges);
    this.config = parseGpt2ConfigText(files.config);
  }

  /** The model's context in tokens. */
  get nPositions(): number {
    return this.config.n_positions;
  }

  /** The tokenizer's <|endoftext|> id, if it has one. */
  get eotId(): number | undefined {
    return this.tokenizer.eotId;
  }

  /** The encrypted-inference plan, checked to be made for these weights. Throws if there is none. */
  plan(): ZkllmPlan {
    if (!this.parsedPlan) {
      if (this.files.plan === undefined) {
        throw new Error(
          `the model has no ${PLAN_FILE}: convert the checkpoint first (based model convert <hf-dir> --out <dir>)`,
        );
      }
      this.parsedPlan = parseZkllmPlan(this.files.plan, this.weightsSha256());
    }
    return this.parsedPlan;
  }

  /** The weights (model.safetensors). */
  checkpoint(): Gpt2Checkpoint {
    this.parsedCheckpoint ??= checkpointFromBytes(this.config, this.weights());
    return this.parsedCheckpoint;
  }

  /** The client and server halves of the weights, as `plan` (default: the model's own) splits them. */
  split(plan?: ZkllmPlan): SplitModel {
    if (plan && plan !== this.parsedPlan) return splitForPlan(this.checkpoint(), plan);
    this.planSplit ??= splitForPlan(this.checkpoint(), this.plan());
    return this.planSplit;
  }

  /** A fresh hybrid session of `plan` (default: the model's own) whose products go to `backend`. */
  session(backend: LinearBackend, plan?: ZkllmPlan): HybridSession {
    const chosen = plan ?? this.plan();
    return new HybridSession(this.split(chosen).client, backend, sessionOptions(chosen));
  }

  /**
   * Greedy generation of the plan's hybrid model: the prompt in one pass, then one token at a
   * time (see `generateGreedy` for the stop rules); returns the new token ids.
   */
  generate(promptIds: readonly number[], options: GenerateOptions): Promise<number[]> {
    return generateGreedy(this.session(options.backend), promptIds, options);
  }

  private weights(): Uint8Array {
    if (!this.files.weights) throw new Error("the model's files do not include model.safetensors");
    return this.files.weights;
  }

  private weightsSha256(): string {
    return this.files.weightsSha256 ?? sha256Hex(this.weights());
  }
}

/** Opens a model from its files' contents: the tokenizer and config now, the rest when asked. */
export function openModel(files: ModelFiles): ZkllmModel {
  return new ZkllmModel(files);
}
