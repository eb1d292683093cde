// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/**
 * @title EmissionSchedule
 * @notice BASED's issuance as a pure function of the BasedAI chain's block height (docs/architecture.md §3):
 * the block reward is `10 BASED >> floor(h / 3,155,760)` (a halving every year of 10-second
 * blocks), and the TFT weight β(t) of the whitepaper's `I = R·C + β(t)·Accuracy(TFT)` term grows
 * from 0 to 0.9 between years 2 and 4, then is 1. Ranges are half-open: `emissionBetween(a, b)`
 * is the reward of blocks a, a+1, …, b−1, so consecutive epochs [a, b) and [b, c) add up exactly.
 * `oracle/consensus/emission.ts` is the TypeScript twin; tests hold them equal.
 */
library EmissionSchedule {
    /// @notice Blocks per halving: one year of 10-second blocks (the whitepaper's rate).
    uint256 internal constant BLOCKS_PER_HALVING = 3_155_760;
    /// @notice Reward of each block before the first halving.
    uint256 internal constant INITIAL_REWARD = 10 ether;
    /// @notice Fixed-point one for β(t).
    uint256 internal constant ONE = 1e18;

    /// @notice The reward of block `h`.
    function blockReward(uint256 h) internal pure returns (uint256) {
        uint256 halvings = h / BLOCKS_PER_HALVING;
        // 10 ether < 2^64, so after 64 halvings the reward is zero for good.
        return halvings >= 64 ? 0 : INITIAL_REWARD >> halvings;
    }

    /// @notice The exact sum of `blockReward(h)` for a ≤ h < b (zero when b ≤ a). At most 65 steps.
    function emissionBetween(uint256 a, uint256 b) internal pure returns (uint256 total) {
        while (a < b) {
            uint256 era = a / BLOCKS_PER_HALVING;
            if (era >= 64) break;
            uint256 eraEnd = (era + 1) * BLOCKS_PER_HALVING;
            uint256 end = b < eraEnd ? b : eraEnd;
            total += (end - a) * (INITIAL_REWARD >> era);
            a = end;
        }
    }

    /// @notice Everything that will ever be issued: `emissionBetween(0, ∞)`.
    function totalEmission() internal pure returns (uint256) {
        return emissionBetween(0, 64 * BLOCKS_PER_HALVING);
    }

    /// @notice β(t) at block `h`, scaled by 1e18 (t in years = h / BLOCKS_PER_HALVING): 0 for t ≤ 2,
    /// 0.9·(t − 2)/2 for 2 < t ≤ 4, 1 after. Rounded down.
    function tftWeight(uint256 h) internal pure returns (uint256) {
        uint256 twoYears = 2 * BLOCKS_PER_HALVING;
        if (h <= twoYears) return 0;
        if (h <= 2 * twoYears) return (9 * ONE * (h - twoYears)) / (10 * twoYears);
        return ONE;
    }
}
