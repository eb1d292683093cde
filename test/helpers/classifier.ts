/**
 * A small, deterministic classifier for privacy tests: can an observer tell two kinds of sessions
 * apart from what it sees? Logistic regression on standardised features, scored by k-fold
 * cross-validation (every session is scored by a model that never saw it), and the AUC of those
 * scores with DeLong's 95 % interval. An AUC whose interval contains 0.5 means the observer does
 * no better than a coin; one far above means the features give the kinds away.
 */
import { createRng } from "../../zkllm/model/forward";

/** A seeded PRNG in [0, 1) (zkllm's mulberry32): tests must draw the same sessions on every run. */
export const seededRandom = createRng;

/** Fits weights (last one the bias) by full-batch gradient descent with a little L2. */
export function fitLogistic(x: readonly number[][], y: readonly number[], iterations = 400): number[] {
  const d = x[0]!.length;
  const w = new Array<number>(d + 1).fill(0);
  const rate = 0.5;
  const l2 = 1e-3;
  for (let it = 0; it < iterations; it++) {
    const grad = new Array<number>(d + 1).fill(0);
    for (let i = 0; i < x.length; i++) {
      const err = sigmoid(dot(w, x[i]!)) - y[i]!;
      for (let j = 0; j < d; j++) grad[j]! += err * x[i]![j]!;
      grad[d]! += err;
    }
    for (let j = 0; j <= d; j++) w[j]! -= rate * (grad[j]! / x.length + (j < d ? l2 * w[j]! : 0));
  }
  return w;
}

function dot(w: readonly number[], row: readonly number[]): number {
  let s = w[row.length]!;
  for (let j = 0; j < row.length; j++) s += w[j]! * row[j]!;
  return s;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Features scaled to mean 0, deviation 1 with the statistics of `train` (constant ones become 0). */
function standardise(train: readonly number[][], rows: readonly number[][]): number[][] {
  const d = train[0]!.length;
  const mean = Array.from({ length: d }, (_, j) => train.reduce((a, r) => a + r[j]!, 0) / train.length);
  const sd = Array.from({ length: d }, (_, j) =>
    Math.sqrt(train.reduce((a, r) => a + (r[j]! - mean[j]!) ** 2, 0) / train.length),
  );
  return rows.map((r) => r.map((v, j) => (sd[j]! > 1e-12 ? (v - mean[j]!) / sd[j]! : 0)));
}

/**
 * Out-of-fold scores: rows are dealt into `folds` folds (stratified, in a seeded order), each
 * fold is scored by a model fitted on the others.
 */
export function crossValidatedScores(
  x: readonly number[][],
  y: readonly number[],
  folds = 5,
  seed = 1,
): number[] {
  const random = seededRandom(seed);
  const fold = new Array<number>(x.length);
  for (const label of [0, 1]) {
    const idx = y.map((v, i) => (v === label ? i : -1)).filter((i) => i >= 0);
    for (let i = idx.length - 1; i > 0; i--) {
      const k = Math.floor(random() * (i + 1));
      [idx[i], idx[k]] = [idx[k]!, idx[i]!];
    }
    idx.forEach((i, n) => (fold[i] = n % folds));
  }
  const scores = new Array<number>(x.length);
  for (let f = 0; f < folds; f++) {
    const trainIdx = x.map((_, i) => i).filter((i) => fold[i] !== f);
    const testIdx = x.map((_, i) => i).filter((i) => fold[i] === f);
    const train = trainIdx.map((i) => x[i]!);
    const w = fitLogistic(
      standardise(train, train),
      trainIdx.map((i) => y[i]!),
    );
    const test = standardise(
      train,
      testIdx.map((i) => x[i]!),
    );
    testIdx.forEach((i, n) => (scores[i] = dot(w, test[n]!)));
  }
  return scores;
}

/** P(score of a positive > score of a negative), ties counting half. */
function psi(pos: number, neg: number): number {
  return pos > neg ? 1 : pos === neg ? 0.5 : 0;
}

/** The AUC of `scores` for labels `y` (1 positive) with DeLong's 95 % confidence interval. */
export function aucWithInterval(
  scores: readonly number[],
  y: readonly number[],
): { auc: number; low: number; high: number } {
  const pos = scores.filter((_, i) => y[i] === 1);
  const neg = scores.filter((_, i) => y[i] === 0);
  const m = pos.length;
  const n = neg.length;
  if (m < 2 || n < 2) throw new RangeError("need at least two sessions of each kind");
  const v10 = pos.map((p) => neg.reduce((a, q) => a + psi(p, q), 0) / n);
  const v01 = neg.map((q) => pos.reduce((a, p) => a + psi(p, q), 0) / m);
  const auc = v10.reduce((a, b) => a + b, 0) / m;
  const variance = (values: number[]) => values.reduce((a, v) => a + (v - auc) ** 2, 0) / (values.length - 1);
  const se = Math.sqrt(variance(v10) / m + variance(v01) / n);
  return { auc, low: auc - 1.96 * se, high: auc + 1.96 * se };
}

/** Cross-validated logistic regression's AUC (with its interval) at telling label 1 from 0. */
export function distinguishability(
  x: readonly number[][],
  y: readonly number[],
  seed = 1,
): { auc: number; low: number; high: number } {
  return aucWithInterval(crossValidatedScores(x, y, 5, seed), y);
}
