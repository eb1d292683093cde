/**
 * Counting homomorphic "actions".
 *
 * Cerberus Squeezing (whitepaper §4–5) is judged by how many homomorphic operations a token costs,
 * so client and server thread one counter through every SEAL call they make. Counts are plain
 * integers so they can be summed across requests, workers and tokens, and serialized as JSON.
 */

/** The operations the engine counts. */
export const ACTION_KINDS = [
  "encode",
  "encrypt",
  "decrypt",
  "multiplyPlain",
  "add",
  "addPlain",
  "rotate",
  "rescale",
  "relinearize",
] as const;

/** One counted operation. */
export type ActionKind = (typeof ACTION_KINDS)[number];

/** Counts per operation. */
export type ActionCounts = Record<ActionKind, number>;

/** A mutable counter that SEAL wrappers bump. */
export type ActionCounter = {
  /** Adds `n` (default 1) occurrences of `kind`. */
  count(kind: ActionKind, n?: number): void;
  /** A copy of the counts so far. */
  snapshot(): ActionCounts;
  /** Sets every count back to zero. */
  reset(): void;
};

/** All-zero counts. */
export function emptyActions(): ActionCounts {
  return Object.fromEntries(ACTION_KINDS.map((k) => [k, 0])) as ActionCounts;
}

/** A fresh counter. */
export function createActionCounter(): ActionCounter {
  let counts = emptyActions();
  return {
    count(kind, n = 1) {
      counts[kind] += n;
    },
    snapshot: () => ({ ...counts }),
    reset() {
      counts = emptyActions();
    },
  };
}

/** Element-wise sum of several count records. */
export function sumActions(...records: readonly ActionCounts[]): ActionCounts {
  const total = emptyActions();
  for (const record of records) for (const k of ACTION_KINDS) total[k] += record[k];
  return total;
}

/** `after - before`, for the actions of one request on a long-lived counter. */
export function diffActions(after: ActionCounts, before: ActionCounts): ActionCounts {
  const diff = emptyActions();
  for (const k of ACTION_KINDS) diff[k] = after[k] - before[k];
  return diff;
}

/** Counts divided by a number of tokens (actions per token). */
export function perToken(counts: ActionCounts, tokens: number): Record<ActionKind, number> {
  const out = emptyActions();
  for (const k of ACTION_KINDS) out[k] = tokens > 0 ? counts[k] / tokens : 0;
  return out;
}

/** Total number of actions of any kind. */
export function totalActions(counts: ActionCounts): number {
  return ACTION_KINDS.reduce((sum, k) => sum + counts[k], 0);
}
