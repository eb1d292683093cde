/**
 * A worker_threads pool of evaluators, one per core by default.
 *
 * Every worker has its own SEAL instance (WASM is single-threaded) and its own plaintext cache,
 * so memory for cached diagonals is paid once per worker. Independent requests run on whichever
 * worker is free; `split: true` also spreads one request's output ciphertexts over the workers
 * (each recomputes the shared baby-step rotations, so this pays off for large steps only).
 * Evaluation is deterministic, so pooled results equal single-thread results byte for byte.
 *
 * Workers start from `worker-bootstrap.js` (plain JS), which works whether this process runs
 * under tsx, ts-node or compiled JavaScript. A worker that dies is replaced (its keys re-sent);
 * the request it was running fails. Server side: never imports `client.ts`.
 */
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { sumActions, type ActionCounter, type ActionCounts, ACTION_KINDS } from "./actions";
import { ZkllmInputError, type ZkllmInputErrorCode } from "./errors";
import type { Tensor } from "./linear";
import { checkPlan, type EnginePlan, type PlanStep } from "./plan";
import type {
  PoolKeyBlobs,
  PoolRequest,
  PoolRequestBody,
  PoolResponse,
  PoolWorkerStats,
} from "./pool-protocol";

export type { PoolKeyBlobs, PoolWorkerStats } from "./pool-protocol";

/** Options of `createEvaluatorPool`. */
export type CreatePoolOptions = {
  plan: EnginePlan;
  /** Weight tensors by name (copied into every worker). */
  weights: Record<string, Tensor>;
  /** Number of workers (default `os.availableParallelism()`). */
  size?: number;
};

/** Options of one pooled evaluation. */
export type PoolEvaluateOptions = {
  /** Spread the request's outputs over the workers (default false: one worker runs it). */
  split?: boolean;
  /** Count the request's actions here. */
  actions?: ActionCounter;
};

/** A pool of evaluator workers serving one plan. */
export type EvaluatorPool = {
  /** Number of workers. */
  readonly size: number;
  /** Sends a session's evaluation keys to every worker; resolves to the id requests use. */
  registerKeys(blobs: PoolKeyBlobs): Promise<string>;
  /** Frees a session's keys in every worker. */
  releaseKeys(keysId: string): Promise<void>;
  /** Encodes steps' plaintexts in every worker now (default: every step of the plan). */
  prepare(steps?: readonly string[]): Promise<void>;
  /** Runs one plan step in the pool. */
  evaluate(
    step: string | PlanStep,
    inputs: readonly Uint8Array[],
    keysId: string,
    options?: PoolEvaluateOptions,
  ): Promise<Uint8Array[]>;
  /** Heap, cache and action figures of every worker. */
  stats(): Promise<PoolWorkerStats[]>;
  /** Stops the workers; pending requests fail. */
  close(): Promise<void>;
};

type Task = {
  request: PoolRequestBody;
  resolve: (response: PoolResponse) => void;
  reject: (error: Error) => void;
};

type Member = {
  worker: Worker;
  own: Task[];
  current?: { id: number; task: Task };
};

const BOOTSTRAP = join(__dirname, "worker-bootstrap.js");

/** Starts a pool of evaluator workers. */
export function createEvaluatorPool(options: CreatePoolOptions): EvaluatorPool {
  checkPlan(options.plan);
  const size = options.size ?? availableParallelism();
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`Pool size must be a positive integer (got ${size}).`);
  const plan = options.plan;
  const steps = new Map(plan.steps.map((s) => [s.id, s]));
  const shared: Task[] = [];
  const members: Member[] = [];
  const registeredKeys = new Map<string, PoolKeyBlobs>();
  let nextId = 1;
  let nextKeys = 1;
  let closed = false;

  const spawn = (index: number): Member => {
    const worker = new Worker(BOOTSTRAP, { workerData: { plan, weights: options.weights } });
    const member: Member = { worker, own: [] };
    // A replacement gets every registered session's keys before any other work.
    for (const [keysId, blobs] of registeredKeys) {
      member.own.push({
        request: { type: "keys", keysId, blobs },
        resolve: () => undefined,
        reject: () => undefined,
      });
    }
    worker.on("message", (response: PoolResponse) => {
      const current = member.current;
      if (!current || current.id !== response.id) return;
      member.current = undefined;
      current.task.resolve(response);
      pump();
    });
    const onDeath = (error: Error) => {
      if (closed || members[index] !== member) return;
      const current = member.current;
      member.current = undefined;
      current?.task.reject(new Error(`Evaluator worker ${index} died: ${error.message}`));
      const replacement = spawn(index);
      replacement.own.push(...member.own);
      members[index] = replacement;
      pump();
    };
    worker.on("error", onDeath);
    worker.on("exit", (code) => onDeath(new Error(`exit code ${code}`)));
    return member;
  };

  const pump = () => {
    for (const member of members) {
      if (member.current) continue;
      const task = member.own.shift() ?? shared.shift();
      if (!task) continue;
      const id = nextId++;
      member.current = { id, task };
      member.worker.postMessage({ ...task.request, id } as PoolRequest);
    }
  };

  const toError = (response: PoolResponse): Error => {
    const e = response.error;
    if (e?.name === "ZkllmInputError" && e.code)
      return new ZkllmInputError(e.code as ZkllmInputErrorCode, e.message);
    return new Error(e?.message ?? "Evaluator worker failed.");
  };

  const run = (request: PoolRequestBody, member?: Member): Promise<PoolResponse> => {
    if (closed) return Promise.reject(new Error("The evaluator pool is closed."));
    return new Promise((resolve, reject) => {
      const task: Task = {
        request,
        resolve: (response) => (response.ok ? resolve(response) : reject(toError(response))),
        reject,
      };
      (member ? member.own : shared).push(task);
      pump();
    });
  };

  const broadcast = (request: PoolRequestBody) => Promise.all(members.map((m) => run(request, m)));

  for (let i = 0; i < size; i++) members.push(spawn(i));

  return {
    size,
    async registerKeys(blobs) {
      const keysId = `k${nextKeys++}`;
      registeredKeys.set(keysId, blobs);
      try {
        await broadcast({ type: "keys", keysId, blobs });
      } catch (error) {
        registeredKeys.delete(keysId);
        await broadcast({ type: "releaseKeys", keysId }).catch(() => undefined);
        throw error;
      }
      return keysId;
    },
    async releaseKeys(keysId) {
      registeredKeys.delete(keysId);
      await broadcast({ type: "releaseKeys", keysId });
    },
    async prepare(ids) {
      await broadcast({ type: "prepare", steps: [...(ids ?? plan.steps.map((s) => s.id))] });
    },
    async evaluate(stepRef, inputs, keysId, opts = {}) {
      const id = typeof stepRef === "string" ? stepRef : stepRef.id;
      const step = steps.get(id);
      if (!step) throw new ZkllmInputError("UnknownPlanStep", `Unknown plan step "${id}".`);
      const request = { type: "evaluate" as const, step: id, inputs: [...inputs], keysId };
      const parts = opts.split ? Math.min(size, step.outputCiphertexts) : 1;
      let responses: PoolResponse[];
      if (parts <= 1) {
        responses = [await run(request)];
      } else {
        // Contiguous ranges keep each token group's outputs (which share rotations) together.
        const n = step.outputCiphertexts;
        const ranges = Array.from({ length: parts }, (_, k) => {
          const from = Math.floor((k * n) / parts);
          const to = Math.floor(((k + 1) * n) / parts);
          return Array.from({ length: to - from }, (_, i) => from + i);
        });
        responses = await Promise.all(ranges.map((outputs) => run({ ...request, outputs })));
      }
      if (opts.actions) {
        const total: ActionCounts = sumActions(...responses.map((r) => r.actions as ActionCounts));
        for (const kind of ACTION_KINDS) if (total[kind]) opts.actions.count(kind, total[kind]);
      }
      return responses.flatMap((r) => r.outputs as Uint8Array[]);
    },
    async stats() {
      const responses = await broadcast({ type: "stats" });
      return responses.map((r) => r.stats as PoolWorkerStats);
    },
    async close() {
      if (closed) return;
      closed = true;
      const pending = [
        ...shared.splice(0),
        ...members.flatMap((m) => [...m.own.splice(0), ...(m.current ? [m.current.task] : [])]),
      ];
      for (const task of pending) task.reject(new Error("The evaluator pool was closed."));
      await Promise.all(members.map((m) => m.worker.terminate()));
    },
  };
}
