/**
 * Messages between `pool.ts` (parent) and `worker.ts` (worker threads). Types only, so both sides
 * agree at compile time; everything crosses as structured clones (Uint8Array, Float32Array).
 */
import type { ActionCounts } from "./actions";
import type { Tensor } from "./linear";
import type { EnginePlan } from "./plan";
import type { EvalKeyBlobs } from "./serialize";

/** What a worker is started with. */
export type PoolWorkerData = {
  plan: EnginePlan;
  weights: Record<string, Tensor>;
};

/** Key blobs as the client made them. */
export type PoolKeyBlobs = EvalKeyBlobs;

/** Parent → worker. */
export type PoolRequest =
  | { id: number; type: "keys"; keysId: string; blobs: PoolKeyBlobs }
  | { id: number; type: "releaseKeys"; keysId: string }
  | { id: number; type: "prepare"; steps: string[] }
  | { id: number; type: "evaluate"; step: string; inputs: Uint8Array[]; keysId: string; outputs?: number[] }
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
  /** Actions the worker performed so far. */
  actions: ActionCounts;
};

/** Worker → parent. */
export type PoolResponse = {
  id: number;
  ok: boolean;
  outputs?: Uint8Array[];
  actions?: ActionCounts;
  stats?: PoolWorkerStats;
  error?: { name: string; code?: string; message: string };
};
