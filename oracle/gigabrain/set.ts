/**
 * Which Brains are GigaBrains: those whose stake is at least 0.5 % of all stake on the BasedAI chain
 * (Staking.isGigaBrain: `staked != 0 && staked * 10_000 >= totalStake * 50`). Exact integer math,
 * the same for every attester.
 */

export type BrainStake = { brainId: number; stake: bigint };

/**
 * The GigaBrain set of these stakes: ids with `stake * 1000 >= total * 5` and a non-zero stake
 * (with no stake at all a zero stake would pass the inequality), ascending, each once.
 */
export function gigaBrainSet(stakes: readonly BrainStake[], total: bigint): number[] {
  if (total < 0n) throw new RangeError("total stake is negative");
  const ids = new Set<number>();
  for (const { brainId, stake } of stakes) {
    if (!Number.isInteger(brainId) || brainId < 0) throw new RangeError(`Brain id ${brainId} is not an id`);
    if (stake < 0n) throw new RangeError(`Brain #${brainId} has a negative stake`);
    if (stake > 0n && stake * 1000n >= total * 5n) ids.add(brainId);
  }
  return [...ids].sort((a, b) => a - b);
}

/** Whether two ascending id lists are the same set. */
export function sameSet(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
