/**
 * Coalesces concurrent products of one client's sessions into one request: when several
 * sequences are generated in lockstep (a client sampling many prompts, or a validator's canary
 * batch), their rows for the same server product travel in the same ciphertexts, which is what
 * the engine's several-tokens-per-ciphertext layout is for. Only one key holder's sessions may
 * share a batch: the rows are encrypted under that client's key.
 */
import type { LinearBackend, Phase } from "./session";

type Waiting = {
  phase: Phase | undefined;
  rows: Float64Array;
  nRows: number;
  resolve: (y: Float64Array) => void;
  reject: (e: unknown) => void;
};

export function batchingBackend(inner: LinearBackend): LinearBackend {
  const queues = new Map<string, Waiting[]>();
  const flush = async (stepId: string) => {
    const batch = queues.get(stepId) ?? [];
    queues.delete(stepId);
    const total = batch.reduce((a, w) => a + w.nRows, 0);
    const width = batch[0]!.rows.length / batch[0]!.nRows;
    const rows = new Float64Array(total * width);
    let at = 0;
    for (const w of batch) {
      rows.set(w.rows, at * width);
      at += w.nRows;
    }
    try {
      // A batch holding any prompt rows is a prompt batch.
      const phase = batch.some((w) => w.phase !== "generate") ? "prompt" : "generate";
      const y = await inner.evaluate(stepId, rows, total, phase);
      const outWidth = y.length / total;
      at = 0;
      for (const w of batch) {
        w.resolve(y.slice(at * outWidth, (at + w.nRows) * outWidth));
        at += w.nRows;
      }
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  };
  return {
    evaluate(stepId, rows, nRows, phase) {
      return new Promise((resolve, reject) => {
        const queue = queues.get(stepId);
        if (queue) queue.push({ phase, rows, nRows, resolve, reject });
        else {
          queues.set(stepId, [{ phase, rows, nRows, resolve, reject }]);
          // Every session that is ready asks within the same turn of the event loop.
          setImmediate(() => void flush(stepId));
        }
      });
    },
  };
}
