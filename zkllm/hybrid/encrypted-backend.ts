/**
 * The encrypted `LinearBackend`: the client lays out and encrypts the rows, a server evaluates the
 * plan step on ciphertexts, the client decrypts. The server is reached through `ServerCall`, so
 * the same client code runs against an in-process evaluator, a worker pool, or (later) a miner
 * behind the Brain's gateway. Only ciphertext bytes cross that boundary.
 */
import type { CkksClient } from "../ckks/client";
import type { EnginePlan } from "../ckks/plan";
import { findStep } from "../ckks/plan";
import { type TokenBuckets, DEFAULT_BUCKETS, bucketStepId } from "./engine-plan";
import type { LinearBackend } from "./session";

/** Sends one plan step's input ciphertexts to a server and returns its output ciphertexts. */
export type ServerCall = (planStepId: string, inputs: readonly Uint8Array[]) => Promise<Uint8Array[]>;

/** What crossed the wire and where the time went, for the figures the issue asks for. */
export type TransferStats = {
  requests: number;
  bytesUp: number;
  bytesDown: number;
  /** Client: layout + encode + encrypt. */
  encryptMs: number;
  /** Everything between sending the request and getting the answer. */
  serverMs: number;
  /** Client: decrypt + decode + read out. */
  decryptMs: number;
};

export function emptyStats(): TransferStats {
  return { requests: 0, bytesUp: 0, bytesDown: 0, encryptMs: 0, serverMs: 0, decryptMs: 0 };
}

export function encryptedBackend(
  client: CkksClient,
  plan: EnginePlan,
  server: ServerCall,
  buckets: TokenBuckets = DEFAULT_BUCKETS,
  stats: TransferStats = emptyStats(),
): LinearBackend & { stats: TransferStats } {
  return {
    stats,
    async evaluate(stepId, rows, nRows, phase = "prompt") {
      const width = rows.length / nRows;
      let out: Float64Array | undefined;
      let outWidth = 0;
      // Every prompt row travels in a full bucket (a trailing row alone would tell the miner the
      // exact length and look like a generated token); a generated token travels alone.
      const bucket = phase === "generate" && nRows === 1 ? 1 : buckets.prefill;
      for (let start = 0; start < nRows;) {
        const real = Math.min(bucket, nRows - start);
        const step = findStep(plan, bucketStepId(stepId, bucket));
        if (!step) throw new Error(`the plan has no step ${bucketStepId(stepId, bucket)}`);
        // A partly filled bucket is padded with zero rows; their outputs are dropped.
        const x = Array.from({ length: bucket }, (_, t) =>
          t < real ? rows.subarray((start + t) * width, (start + t + 1) * width) : new Float64Array(width),
        );
        let t0 = performance.now();
        const inputs = client.encryptLinearInputs(step, x);
        stats.encryptMs += performance.now() - t0;
        stats.bytesUp += inputs.reduce((a, b) => a + b.length, 0);

        t0 = performance.now();
        const outputs = await server(step.id, inputs);
        stats.serverMs += performance.now() - t0;
        stats.bytesDown += outputs.reduce((a, b) => a + b.length, 0);

        t0 = performance.now();
        const ys = client.decryptLinearOutputs(step, outputs);
        stats.decryptMs += performance.now() - t0;
        stats.requests++;

        outWidth = step.outFeatures;
        out ??= new Float64Array(nRows * outWidth);
        for (let t = 0; t < real; t++) out.set(ys[t]!, (start + t) * outWidth);
        start += real;
      }
      return out!;
    },
  };
}
