/**
 * Compute units of a session (protocol.ts `sessionViewSchema`): a unit is a token. The gateway
 * cannot read encrypted prompts, so it counts generated tokens from the shape of the work: each
 * generated token after the first costs one single-row pass through layer 0's first product
 * (`L0.qkv@1` fused, or `L0.h<k>.q@1` per head — one head counted, the lowest kept), and the
 * prompt pass (the same product at the prompt bucket, `@<prefill>`) yields the first token.
 * Pure: no I/O.
 */

/** A layer-0 first product at some bucket size: the only steps that count. */
const FIRST_PRODUCT = /^L0\.(qkv|h(\d+)\.q)@(\d+)$/;

/** Whether completing a job on `step` can change the session's units (worth recording). */
export function countsForUnits(step: string): boolean {
  return FIRST_PRODUCT.test(step);
}

/**
 * Completion units from the completed jobs per counted step (`L0.qkv@1` → 7, `L0.qkv@16` → 1, …)
 * and the tokens plain jobs returned.
 */
export function completionUnits(stepCounts: Readonly<Record<string, number>>, plainTokens = 0): number {
  // Which product stands for "one pass": the fused one, else the lowest head index present.
  let base: string | undefined;
  let lowestHead = Infinity;
  for (const step of Object.keys(stepCounts)) {
    const m = FIRST_PRODUCT.exec(step);
    if (!m) continue;
    if (m[1] === "qkv") {
      base = "L0.qkv";
      break;
    }
    const k = Number(m[2]);
    if (k < lowestHead) lowestHead = k;
  }
  if (base === undefined && lowestHead !== Infinity) base = `L0.h${lowestHead}.q`;
  let units = plainTokens;
  if (base === undefined) return units;
  let promptPassRan = false;
  for (const [step, count] of Object.entries(stepCounts)) {
    const m = FIRST_PRODUCT.exec(step);
    if (!m || step.slice(0, step.lastIndexOf("@")) !== base) continue;
    const rows = Number(m[3]);
    if (rows === 1) units += count;
    else if (count > 0) promptPassRan = true;
  }
  return units + (promptPassRan ? 1 : 0);
}
