/**
 * Cerberus Squeezing, stage 2: attention-head significance and selection (whitepaper §7.1).
 *
 * S(h) is measured on calibration text as the head's share of its layer's attention output:
 *   S(h) = E_t ‖ head_h(x_t) · W_O[h] ‖₂  /  Σ_h' E_t ‖ head_h'(x_t) · W_O[h'] ‖₂
 * (the norm of what the head actually adds to the residual stream), so scores of one layer sum
 * to 1 and θ reads as "at least this share". Selection keeps the heads with S(h) > θ, most
 * significant first, while their summed cost stays within the budget C_max (a greedy knapsack
 * by score: the paper's "maximise performance subject to C < C_max"). At least one head per
 * layer is always kept so every layer still attends. Pure functions, no I/O.
 */

export type HeadId = { layer: number; head: number };

export type HeadSelection = {
  /** kept[layer][head] */
  kept: boolean[][];
  /** Sum of the kept heads' costs. */
  cost: number;
  /** Sum of all heads' costs (nothing pruned). */
  fullCost: number;
};

/** Normalises raw per-head magnitudes so each layer's scores sum to 1. */
export function normaliseScores(raw: number[][]): number[][] {
  return raw.map((layer) => {
    const total = layer.reduce((a, b) => a + b, 0);
    return layer.map((v) => (total > 0 ? v / total : 1 / layer.length));
  });
}

/**
 * Keeps heads with score > θ, best first across all layers, within `budget` (C_max) total cost.
 * `cost[layer][head]` is the head's homomorphic cost (e.g. actions per token). The first head
 * of each layer (its best) is kept even below θ, and its cost counts against the budget first.
 * Throws when the budget cannot pay even for one head per layer.
 */
export function selectHeads(
  scores: number[][],
  cost: number[][],
  theta: number,
  budget: number,
): HeadSelection {
  const kept = scores.map((layer) => layer.map(() => false));
  let fullCost = 0;
  const candidates: (HeadId & { score: number; cost: number })[] = [];
  scores.forEach((layer, l) =>
    layer.forEach((score, h) => {
      const c = cost[l]?.[h];
      if (c === undefined || !(c >= 0))
        throw new RangeError(`missing or negative cost for layer ${l} head ${h}`);
      fullCost += c;
      candidates.push({ layer: l, head: h, score, cost: c });
    }),
  );
  // Deterministic order: score, then lower layer, then lower head.
  candidates.sort((a, b) => b.score - a.score || a.layer - b.layer || a.head - b.head);

  let spent = 0;
  for (let l = 0; l < scores.length; l++) {
    const best = candidates.find((c) => c.layer === l);
    if (!best) continue;
    kept[l]![best.head] = true;
    spent += best.cost;
  }
  if (spent > budget) {
    throw new RangeError(`budget ${budget} cannot pay for one head per layer (needs ${spent})`);
  }
  for (const c of candidates) {
    if (kept[c.layer]![c.head] || !(c.score > theta)) continue;
    if (spent + c.cost > budget) continue;
    kept[c.layer]![c.head] = true;
    spent += c.cost;
  }
  return { kept, cost: spent, fullCost };
}
