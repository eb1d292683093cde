/**
 * zkllm's evaluator door: the side of inference that never holds a secret key (a miner, a
 * validator replaying a miner's jobs). It builds an evaluator, or a pool of worker threads, from a
 * model directory's plan and weights; counts the homomorphic actions; refuses untrusted input with
 * `ZkllmInputError`; and, for a Brain with ZK off, runs the plain model with onnxruntime through
 * the same greedy loop as the client door. Node-only; nothing reachable from here imports the
 * CKKS client (zkllm/ckks/client.ts).
 */
import type { Tensor } from "./ckks/linear";
import { loadCheckpoint } from "./model/files";
import { serverWeights } from "./hybrid/engine-plan";
import { readPlan } from "./model-dir";
import { type ZkllmPlan, splitForPlan } from "./zkllm-plan";

export { type CkksEvaluator, type EvalKeyBlobs, type EvalKeys, createEvaluator } from "./ckks/server";
export {
  type EvaluatorPool,
  type PoolWorkerStats,
  type PrepareProgress,
  createEvaluatorPool,
} from "./ckks/pool";
export {
  DEFAULT_MEMORY_BUDGET,
  MAX_MEMORY_BUDGET,
  type MemoryFit,
  ModelMemoryError,
  checkMemoryFit,
  formatBytes,
  parseBytes,
  workersToCache,
} from "./ckks/memory";
export type { PlanStep } from "./ckks/plan";
export type { Tensor } from "./ckks/linear";
export { type ActionCounts, type ActionCounter, createActionCounter, sumActions } from "./ckks/actions";
export { type ZkllmInputErrorCode, ZkllmInputError, isZkllmInputError } from "./ckks/errors";
export { type Gpt2Config, parseGpt2Config } from "./model/checkpoint";
export { type GreedyOptions, type LogitsSource, generateGreedy } from "./model/greedy";
export { type ExecutionProvider, OnnxGpt2Runner, chooseExecutionProviders } from "./model/onnx-runner";
export { PLAN_FILE, type ZkllmPlan } from "./zkllm-plan";
export { readPlan } from "./model-dir";

/**
 * What an evaluator of a model directory needs: its plan and the server weights of the plan's
 * split. Miners and validators build their evaluators from this, so both evaluate the same thing.
 */
export function loadPlanWeights(
  modelDir: string,
  plan: ZkllmPlan = readPlan(modelDir),
): { plan: ZkllmPlan; weights: Record<string, Tensor> } {
  return { plan, weights: serverWeights(splitForPlan(loadCheckpoint(modelDir), plan).server) };
}
