/**
 * What a plan needs in memory and whether a miner's settings can hold it (pure: no SEAL).
 *
 * A worker's encoded diagonals live in its multiply-accumulate kernel's WebAssembly memory
 * (./mac-kernel.ts), which stops at 4 GiB like every 32-bit WebAssembly memory; beside them it
 * holds the rotated inputs of the request in flight and the accumulator, so a worker's plaintext
 * budget is capped below 4 GiB. (SEAL's own heap, another 4 GiB instance, keeps only the keys
 * and the ciphertexts in flight.) The unit a
 * worker must hold at once is one output's plaintexts (the evaluator encodes and evicts whole
 * outputs); a plan whose largest output exceeds the budget cannot be served at all, while one
 * whose per-worker share exceeds it runs with re-encoding (slower, reported as a warning).
 */
import { planMemory, type EnginePlan, type PlanMemory } from "./plan";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** The 32-bit WebAssembly memory limit of a worker's kernel. */
export const WASM_HEAP_LIMIT = 4 * GiB;
/** Memory kept free for the rotated inputs in flight and the accumulator. */
export const HEAP_RESERVE = 512 * MiB;
/** The largest plaintext budget a worker can be given. */
export const MAX_MEMORY_BUDGET = WASM_HEAP_LIMIT - HEAP_RESERVE;
/** The default per-worker plaintext budget. */
export const DEFAULT_MEMORY_BUDGET = 3 * GiB;

/** A model that cannot be served with the settings asked for. */
export class ModelMemoryError extends Error {
  override readonly name = "ModelMemoryError";
}

/** Bytes in words: "1.27 GiB", "640 MiB". */
export function formatBytes(bytes: number): string {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(0)} MiB`;
  return `${Math.ceil(bytes / 1024)} KiB`;
}

/** Parses a budget such as "3GiB", "2.5 GiB", "512MiB", "800MB" or a plain number of bytes. */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kib|kb|mib|mb|gib|gb)?\s*$/i.exec(text);
  if (!m) throw new RangeError(`"${text}" is not a size (examples: 3GiB, 512MiB, 2000000000).`);
  const unit = (m[2] ?? "b").toLowerCase();
  const factor: Record<string, number> = {
    b: 1,
    kib: 1024,
    kb: 1e3,
    mib: MiB,
    mb: 1e6,
    gib: GiB,
    gb: 1e9,
  };
  return Math.floor(Number(m[1]) * (factor[unit] as number));
}

/** What a plan needs per worker under some settings, and what does not fit. */
export type MemoryFit = PlanMemory & {
  /** The per-worker plaintext budget checked against. */
  budget: number;
  /** True when each worker's whole share fits the budget (no re-encoding while serving). */
  cached: boolean;
  /** Lines for a user: the need per worker, the budget, and any warning. */
  summary: string[];
};

/**
 * Checks a plan against `workers` workers with `budget` bytes each; throws `ModelMemoryError`
 * naming the limit when it cannot be served, else says how it fits.
 */
export function checkMemoryFit(
  plan: EnginePlan,
  workers: number,
  budget: number = DEFAULT_MEMORY_BUDGET,
): MemoryFit {
  if (!Number.isInteger(workers) || workers < 1)
    throw new RangeError(`workers must be a positive integer (got ${workers}).`);
  if (!(budget > 0)) throw new RangeError(`The memory budget must be positive (got ${budget}).`);
  if (budget > MAX_MEMORY_BUDGET) {
    throw new ModelMemoryError(
      `A memory budget of ${formatBytes(budget)} per worker does not fit a worker's ${formatBytes(WASM_HEAP_LIMIT)} WebAssembly memory, which also holds the ciphertexts in flight: use at most ${formatBytes(MAX_MEMORY_BUDGET)} and add workers instead.`,
    );
  }
  const memory = planMemory(plan, workers);
  if (memory.largestOutputBytes > budget) {
    throw new ModelMemoryError(
      `One output of this model's plan needs ${formatBytes(memory.largestOutputBytes)} of plaintexts at once, more than the ${formatBytes(budget)} budget per worker: raise the budget (up to ${formatBytes(MAX_MEMORY_BUDGET)}) or re-plan the model with more parallelism.`,
    );
  }
  const cached = memory.maxWorkerBytes <= budget;
  const summary = [
    `plaintexts: ${formatBytes(memory.totalBytes)} in all, ${formatBytes(memory.maxWorkerBytes)} per worker with ${workers} worker${workers === 1 ? "" : "s"} (budget ${formatBytes(budget)} each)`,
  ];
  if (!cached) {
    summary.push(
      `warning: a worker's share (${formatBytes(memory.maxWorkerBytes)}) exceeds its budget (${formatBytes(budget)}): plaintexts will be re-encoded for every token, which is much slower; add workers or raise the budget`,
    );
  }
  return { ...memory, budget, cached, summary };
}

/** The smallest pool whose workers each hold their whole share within `budget` (at most 1024). */
export function workersToCache(plan: EnginePlan, budget: number = DEFAULT_MEMORY_BUDGET): number | null {
  for (let w = 1; w <= 1024; w *= 2) if (planMemory(plan, w).maxWorkerBytes <= budget) return w;
  return null;
}
