/**
 * BASED's issuance schedule (docs/architecture.md §3), the TypeScript twin of
 * contracts/based/EmissionSchedule.sol: integers only, so the oracle's epoch reports and the
 * contract agree to the wei. Ranges are half-open: `emissionBetween(a, b)` covers blocks a … b−1.
 */

/** Blocks per halving: one year of 10-second blocks. */
export const BLOCKS_PER_HALVING = 3_155_760n;
/** Reward of each block before the first halving (wei). */
export const INITIAL_REWARD = 10n * 10n ** 18n;
/** Fixed-point one for β(t). */
export const ONE = 10n ** 18n;

/** The reward of block `h` (wei). */
export function blockReward(h: bigint): bigint {
  if (h < 0n) throw new RangeError("block heights are non-negative");
  const halvings = h / BLOCKS_PER_HALVING;
  return halvings >= 64n ? 0n : INITIAL_REWARD >> halvings;
}

/** The exact sum of `blockReward(h)` for a ≤ h < b (0 when b ≤ a). */
export function emissionBetween(a: bigint, b: bigint): bigint {
  if (a < 0n || b < 0n) throw new RangeError("block heights are non-negative");
  let total = 0n;
  while (a < b) {
    const era = a / BLOCKS_PER_HALVING;
    if (era >= 64n) break;
    const eraEnd = (era + 1n) * BLOCKS_PER_HALVING;
    const end = b < eraEnd ? b : eraEnd;
    total += (end - a) * (INITIAL_REWARD >> era);
    a = end;
  }
  return total;
}

/** Everything that will ever be issued. */
export function totalEmission(): bigint {
  return emissionBetween(0n, 64n * BLOCKS_PER_HALVING);
}

/** β(t) at block `h`, scaled by 1e18: 0 for t ≤ 2 years, 0.9·(t − 2)/2 up to 4 years, then 1. */
export function tftWeight(h: bigint): bigint {
  const twoYears = 2n * BLOCKS_PER_HALVING;
  if (h <= twoYears) return 0n;
  if (h <= 2n * twoYears) return (9n * ONE * (h - twoYears)) / (10n * twoYears);
  return ONE;
}
