/**
 * Messages between `pool.ts` (parent) and `worker.ts` (worker threads). Types only, so both sides
 * agree at compile time; everything crosses as structured clones (Uint8Array, Float32Array).
 */
import type { ActionCounts } from "./actions";
import type { Tensor } from "./linear";
import type { EnginePlan } from "./plan";
import type { EvalKeyBlobs } from "./serialize";
import type { CacheStats } from "./server";

/** What a worker is started with. */
export type PoolWorkerData = {
  plan: EnginePlan;
  /** Tensors whose data lives in SharedArrayBuffers: every worker reads the same memory. */
  weights: Record<string, Tensor>;
  /** The worker's plaintext cache budget in bytes (null: unlimited). */
  memoryBudget: number | null;
};

/** Outputs of one step to encode ahead of use. */
export type PrepareItem = { step: string; outputs: number[] };

/** Key blobs as the client made them. */
export type PoolKeyBlobs = EvalKeyBlobs;

/** Parent → worker. */
export type PoolRequest =
  | { id: number; type: "keys"; keysId: string; blobs: PoolKeyBlobs }
  | { id: number; type: "releaseKeys"; keysId: string }
  | { id: number; type: "prepare"; items: PrepareItem[] }
  | { id: number; type: "evaluate"; step: string; inputs: Uint8Array[]; keysId: string; outputs?: number[] }
  | { id: number; type: "rotate"; step: string; inputs: Uint8Array[]; keysId: string; units: number[] }
  | {
      id: number;
      type: "evaluateRotated";
      step: string;
      /** Every rotation unit of the step, in SharedArrayBuffers that all workers read. */
      rotated: Uint8Array[];
      keysId: string;
      outputs: number[];
    }
  | { id: number; type: "stats" };

/** A request before the pool numbers it (Omit distributed over the union's members). */
export type PoolRequestBody = PoolRequest extends infer R
  ? R extends PoolRequest
    ? Omit<R, "id">
    : never
  : never;

/** Per-worker figures. */
export type PoolWorkerStats = {
  /** Bytes reserved by the worker's WASM heap. */
  heapBytes: number;
  /** Bytes of cached plaintexts. */
  cacheBytes: number;
  /** The plaintext cache's figures. */
  cache: CacheStats;
  /** Actions the worker performed so far. */
  actions: ActionCounts;
};

/** Worker → parent. */
export type PoolResponse = {
  id: number;
  ok: boolean;
  /** evaluate, evaluateRotated: the outputs; rotate: the units, in SharedArrayBuffers. */
  outputs?: Uint8Array[];
  actions?: ActionCounts;
  stats?: PoolWorkerStats;
  /** prepare: whether everything asked for fitted the budget. */
  fitted?: boolean;
  error?: { name: string; code?: string; message: string };
};
