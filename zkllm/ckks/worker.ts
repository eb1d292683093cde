/**
 * A pool worker: one SEAL instance, one evaluator (with its own plaintext cache), and the
 * evaluation keys the pool registered. Started through `worker-bootstrap.js`; speaks the message
 * protocol of `pool.ts`. Server side: it must never import `client.ts`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createActionCounter } from "./actions";
import { ZkllmInputError } from "./errors";
import type { PoolRequest, PoolResponse, PoolWorkerData } from "./pool-protocol";
import { createEvaluator, type CkksEvaluator, type EvalKeys } from "./server";

const port = parentPort;
if (!port) throw new Error("worker.ts must run in a worker thread (see worker-bootstrap.js).");

const data = workerData as PoolWorkerData;
const keys = new Map<string, EvalKeys>();
const ready: Promise<CkksEvaluator> = createEvaluator({
  plan: data.plan,
  weights: data.weights,
  ...(data.memoryBudget !== null ? { memoryBudget: data.memoryBudget } : {}),
});
// Keep the process alive on init failures until the parent hears about them.
ready.catch(() => undefined);

/** A copy in shared memory: posting it to the parent and on to every worker copies nothing. */
function toShared(bytes: Uint8Array): Uint8Array {
  // The lib typings predate typed arrays over SharedArrayBuffer; Node has supported them since v8.
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.length) as unknown as ArrayBuffer);
  shared.set(bytes);
  return shared;
}

function errorPayload(error: unknown): PoolResponse["error"] {
  if (error instanceof ZkllmInputError) return { name: error.name, code: error.code, message: error.message };
  return { name: "Error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
}

async function handle(request: PoolRequest): Promise<PoolResponse> {
  const evaluator = await ready;
  switch (request.type) {
    case "keys": {
      keys.get(request.keysId)?.delete();
      keys.set(request.keysId, evaluator.loadEvalKeys(request.blobs));
      return { id: request.id, ok: true };
    }
    case "releaseKeys": {
      keys.get(request.keysId)?.delete();
      keys.delete(request.keysId);
      return { id: request.id, ok: true };
    }
    case "prepare": {
      let fitted = true;
      for (const item of request.items) {
        if (!evaluator.prepare(item.step, item.outputs)) {
          fitted = false;
          break;
        }
      }
      return { id: request.id, ok: true, fitted };
    }
    case "evaluate":
    case "rotate":
    case "evaluateRotated": {
      const k = keys.get(request.keysId);
      if (!k) throw new ZkllmInputError("BadRequest", `Unknown evaluation keys "${request.keysId}".`);
      const actions = createActionCounter();
      const outputs =
        request.type === "evaluate"
          ? evaluator.evaluate(request.step, request.inputs, k, { outputs: request.outputs, actions })
          : request.type === "rotate"
            ? evaluator.rotate(request.step, request.inputs, k, request.units, { actions }).map(toShared)
            : evaluator.evaluateRotated(request.step, request.rotated, k, {
                outputs: request.outputs,
                actions,
              });
      return { id: request.id, ok: true, outputs, actions: actions.snapshot() };
    }
    case "stats": {
      return {
        id: request.id,
        ok: true,
        stats: {
          heapBytes: evaluator.heapBytes(),
          cacheBytes: evaluator.cacheBytes(),
          cache: evaluator.cacheStats(),
          actions: evaluator.actions.snapshot(),
        },
      };
    }
  }
}

port.on("message", (request: PoolRequest) => {
  handle(request).then(
    (response) => port.postMessage(response),
    (error: unknown) =>
      port.postMessage({ id: request.id, ok: false, error: errorPayload(error) } satisfies PoolResponse),
  );
});
