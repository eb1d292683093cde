/**
 * A worker_threads pool of evaluators, one per core by default, sharing one model.
 *
 * Every worker has its own SEAL instance (WASM is single-threaded) and its own plaintext cache.
 * The model is sharded, not copied: each output ciphertext of a step belongs to one worker
 * (`outputOwners`, the same for every pool of that size), every request is split so each worker
 * computes the outputs it owns, and a worker only ever encodes its own outputs' plaintexts. So
 * every core works on every product, and each holds about 1/W of the model's plaintexts. The
 * weights sit in SharedArrayBuffers that all workers read. A product's baby-step rotations are
 * shared work too: each worker rotates its share of them (`rotationShares`) into shared memory,
 * then each computes its outputs from all of them, so no rotation is repeated per worker. Each
 * output is computed the same way wherever it runs, so pooled results equal single-thread results
 * byte for byte.
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
import { outputOwners, rotationShares, type Tensor } from "./linear";
import { checkPlan, type EnginePlan, type PlanStep } from "./plan";
import type {
  PoolKeyBlobs,
  PoolRequest,
  PoolRequestBody,
  PoolResponse,
  PoolWorkerStats,
  PrepareItem,
} from "./pool-protocol";

export type { PoolKeyBlobs, PoolWorkerStats } from "./pool-protocol";

/** Options of `createEvaluatorPool`. */
export type CreatePoolOptions = {
  plan: EnginePlan;
  /** Weight tensors by name (moved once into shared memory that every worker reads). */
  weights: Record<string, Tensor>;
  /** Number of workers (default `os.availableParallelism()`). */
  size?: number;
  /** Plaintext cache budget of each worker, in bytes (default: unlimited). */
  memoryBudget?: number;
};

/** Options of one pooled evaluation. */
export type PoolEvaluateOptions = {
  /** Count the request's actions here. */
  actions?: ActionCounter;
};

/** Progress of `prepare`: plan steps done of all. */
export type PrepareProgress = (done: number, total: number) => void;

/** A pool of evaluator workers serving one plan. */
export type EvaluatorPool = {
  /** Number of workers. */
  readonly size: number;
  /** Sends a session's evaluation keys to every worker; resolves to the id requests use. */
  registerKeys(blobs: PoolKeyBlobs): Promise<string>;
  /** Frees a session's keys in every worker. */
  releaseKeys(keysId: string): Promise<void>;
  /**
   * Encodes each worker's share of the steps' plaintexts now (default: every step of the plan),
   * in plan order, until its cache budget is full. Resolves to whether every share fitted.
   */
  prepare(steps?: readonly string[], onProgress?: PrepareProgress): Promise<boolean>;
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

/** Indices of the outputs worker `k` owns. */
function ownedBy(owners: readonly number[], k: number): number[] {
  const out: number[] = [];
  owners.forEach((owner, o) => {
    if (owner === k) out.push(o);
  });
  return out;
}

/**
 * The tensors with their data in SharedArrayBuffers: structured cloning shares those with
 * workers instead of copying, so a 124M-parameter model's weights exist once, not once a worker.
 */
function shareWeights(weights: Record<string, Tensor>): Record<string, Tensor> {
  return Object.fromEntries(
    Object.entries(weights).map(([name, t]) => {
      if (t.data.buffer instanceof SharedArrayBuffer) return [name, t];
      const Ctor = t.data instanceof Float64Array ? Float64Array : Float32Array;
      // The lib typings predate typed arrays over SharedArrayBuffer; Node has supported them since v8.
      const buffer = new SharedArrayBuffer(t.data.length * Ctor.BYTES_PER_ELEMENT) as unknown as ArrayBuffer;
      const shared = new Ctor(buffer);
      shared.set(t.data);
      return [name, { shape: [...t.shape], data: shared }];
    }),
  );
}

/** Starts a pool of evaluator workers. */
export function createEvaluatorPool(options: CreatePoolOptions): EvaluatorPool {
  checkPlan(options.plan);
  const size = options.size ?? availableParallelism();
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`Pool size must be a positive integer (got ${size}).`);
  const plan = options.plan;
  const steps = new Map(plan.steps.map((s) => [s.id, s]));
  const owners = new Map(plan.steps.map((s) => [s.id, outputOwners(s, size)]));
  const unitShares = new Map(plan.steps.map((s) => [s.id, rotationShares(s, size)]));
  const weights = shareWeights(options.weights);
  const memoryBudget = options.memoryBudget ?? null;
  if (memoryBudget !== null && !(memoryBudget > 0))
    throw new RangeError(`memoryBudget must be positive (got ${memoryBudget}).`);
  const shared: Task[] = [];
  const members: Member[] = [];
  const registeredKeys = new Map<string, PoolKeyBlobs>();
  let nextId = 1;
  let nextKeys = 1;
  let closed = false;

  const spawn = (index: number): Member => {
    const worker = new Worker(BOOTSTRAP, { workerData: { plan, weights, memoryBudget } });
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
    async prepare(ids, onProgress) {
      const list = [...(ids ?? plan.steps.map((s) => s.id))];
      const full = new Array<boolean>(size).fill(false);
      for (const [done, id] of list.entries()) {
        if (!steps.has(id)) throw new ZkllmInputError("UnknownPlanStep", `Unknown plan step "${id}".`);
        const mine = owners.get(id) as number[];
        await Promise.all(
          members.map(async (m, k) => {
            if (full[k]) return;
            const items: PrepareItem[] = [{ step: id, outputs: ownedBy(mine, k) }];
            const response = await run({ type: "prepare", items }, m);
            if (response.fitted === false) full[k] = true;
          }),
        );
        onProgress?.(done + 1, list.length);
      }
      return !full.some(Boolean);
    },
    async evaluate(stepRef, inputs, keysId, opts = {}) {
      const id = typeof stepRef === "string" ? stepRef : stepRef.id;
      const step = steps.get(id);
      if (!step) throw new ZkllmInputError("UnknownPlanStep", `Unknown plan step "${id}".`);
      const mine = owners.get(id) as number[];
      const perOutput = step.outputs.length;
      // Worker k computes, for every token group, the outputs it owns (their plaintexts are its).
      const shares = members.map((_, k) => {
        const own = ownedBy(mine, k);
        return Array.from({ length: step.layout.groups }, (_, g) => own.map((o) => g * perOutput + o)).flat();
      });
      const busy = shares.map((outputs, k) => ({ outputs, k })).filter((s) => s.outputs.length > 0);
      const units = unitShares.get(id) as number[][];
      const rotations = units.some((list, k) => k > 0 && list.length > 0);
      const responses: PoolResponse[] = [];
      if (busy.length > 1 && rotations) {
        // Every worker rotates its share of the inputs once; then every worker reads them all.
        const rotatedBy = await Promise.all(
          units.map((list, k) =>
            list.length > 0
              ? run({ type: "rotate", step: id, inputs: [...inputs], keysId, units: list }, members[k])
              : undefined,
          ),
        );
        const rotated = new Array<Uint8Array>(units.flat().length);
        units.forEach((list, k) =>
          list.forEach((u, j) => (rotated[u] = rotatedBy[k]?.outputs?.[j] as Uint8Array)),
        );
        for (const r of rotatedBy) if (r) responses.push({ ...r, outputs: [] });
        const computed = await Promise.all(
          busy.map((s) =>
            run({ type: "evaluateRotated", step: id, rotated, keysId, outputs: s.outputs }, members[s.k]),
          ),
        );
        responses.push(...computed);
      } else {
        const request = { type: "evaluate" as const, step: id, inputs: [...inputs], keysId };
        responses.push(
          ...(await Promise.all(busy.map((s) => run({ ...request, outputs: s.outputs }, members[s.k])))),
        );
      }
      if (opts.actions) {
        const total: ActionCounts = sumActions(...responses.map((r) => r.actions as ActionCounts));
        for (const kind of ACTION_KINDS) if (total[kind]) opts.actions.count(kind, total[kind]);
      }
      const results = new Array<Uint8Array>(step.outputCiphertexts);
      const computed = responses.slice(responses.length - busy.length);
      busy.forEach((s, i) => {
        const outs = computed[i]?.outputs as Uint8Array[];
        s.outputs.forEach((index, j) => (results[index] = outs[j] as Uint8Array));
      });
      return results;
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
