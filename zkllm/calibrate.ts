/**
 * Measuring what squeezing costs in quality, on calibration or held-out token sequences,
 * with the plaintext backend (so it runs fast and needs no keys):
 * - `headSignificance`: S(h), each head's mean share of its layer's attention output norm;
 * - `evaluateQuality`: perplexity and top-1 agreement of a squeezed split against the full model.
 */
import type { Gpt2Checkpoint } from "./model/checkpoint";
import { argmax } from "./model/forward";
import { HybridSession, plainBackend, type SessionOptions } from "./hybrid/session";
import { type SplitOptions, splitModel } from "./hybrid/split-model";
import { normaliseScores } from "./squeeze/heads";

/** S(h) per layer and head (each layer sums to 1), averaged over every position of `sequences`. */
export async function headSignificance(
  ckpt: Gpt2Checkpoint,
  sequences: readonly number[][],
): Promise<number[][]> {
  const { n_layer: L, n_head: H, n_embd: d } = ckpt.config;
  const hd = d / H;
  const sums = Array.from({ length: L }, () => new Float64Array(H));
  const split = splitModel(ckpt, { fuse: true });
  const contribution = new Float64Array(d);
  for (const ids of sequences) {
    const session = new HybridSession(split.client, plainBackend(split.server), {
      onHeadOutput(layer, head, output) {
        // ‖o_h · W_O[h]‖₂: what this head adds to the residual stream.
        const wo = ckpt.weights.layers[layer]!.attnProjWeight;
        contribution.fill(0);
        for (let i = 0; i < hd; i++) {
          const oi = output[i]!;
          const row = (head * hd + i) * d;
          for (let j = 0; j < d; j++) contribution[j] = contribution[j]! + oi * wo[row + j]!;
        }
        let norm = 0;
        for (let j = 0; j < d; j++) norm += contribution[j]! * contribution[j]!;
        sums[layer]![head] = sums[layer]![head]! + Math.sqrt(norm);
      },
    });
    await session.step(ids);
  }
  return normaliseScores(sums.map((row) => Array.from(row)));
}

export type QualityReport = {
  /** exp(mean negative log-likelihood of the next token) under the squeezed model. */
  perplexity: number;
  /** The same for the full model. */
  baselinePerplexity: number;
  /** Share of positions whose top-1 next token equals the full model's. */
  top1Agreement: number;
  positions: number;
};

function logSoftmaxAt(logits: Float64Array, index: number): number {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  return logits[index]! - max - Math.log(sum);
}

/**
 * Runs each sequence token by token through the full and the squeezed split and compares the
 * next-token predictions at every position.
 */
export async function evaluateQuality(
  ckpt: Gpt2Checkpoint,
  sequences: readonly number[][],
  squeezed: SplitOptions & { session?: SessionOptions },
): Promise<QualityReport> {
  const full = splitModel(ckpt, { fuse: true });
  const sq = splitModel(ckpt, squeezed);
  let nllFull = 0;
  let nllSq = 0;
  let agree = 0;
  let positions = 0;
  for (const ids of sequences) {
    const a = new HybridSession(full.client, plainBackend(full.server));
    const b = new HybridSession(sq.client, plainBackend(sq.server), squeezed.session);
    for (let t = 0; t + 1 < ids.length; t++) {
      const la = await a.step([ids[t]!]);
      const lb = await b.step([ids[t]!]);
      nllFull -= logSoftmaxAt(la, ids[t + 1]!);
      nllSq -= logSoftmaxAt(lb, ids[t + 1]!);
      if (argmax(la) === argmax(lb)) agree++;
      positions++;
    }
  }
  return {
    perplexity: Math.exp(nllSq / positions),
    baselinePerplexity: Math.exp(nllFull / positions),
    top1Agreement: agree / positions,
    positions,
  };
}
