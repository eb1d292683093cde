// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/**
 * @title RateLimiter
 * @notice A token bucket, as in Chainlink CCIP's `RateLimiter`: the bucket holds at most `capacity`
 * tokens, refills at `rate` tokens per second, and each transfer takes its amount out of it. The
 * bridges use one per inbound direction, so a compromised attester set can move at most
 * `capacity + rate × t` in time `t` — time for the guardian to pause.
 */
library RateLimiter {
    /**
     * @dev Two slots. The hot path (`consume`) reads both and writes only the first.
     *  slot 0: [tokens:128][lastUpdated:32][unused:96]
     *  slot 1: [capacity:128][rate:128]
     * 128 bits hold any amount of an 18-decimal token with a supply below 3.4e20 whole tokens.
     */
    struct TokenBucket {
        uint128 tokens;
        uint32 lastUpdated;
        uint128 capacity;
        uint128 rate;
    }

    /// @notice Not enough tokens in the bucket: retry after `minWaitInSeconds` (type(uint256).max
    /// when the bucket does not refill), or move at most `available` now.
    error RateLimitReached(uint256 minWaitInSeconds, uint256 available);
    /// @notice The amount is more than the bucket ever holds: waiting will not help, only a larger capacity.
    error AmountExceedsCapacity(uint256 capacity, uint256 amount);

    /**
     * @notice Sets capacity and refill rate, starting with a full bucket.
     * @param bucket The bucket (uninitialized).
     */
    function init(TokenBucket storage bucket, uint128 capacity, uint128 rate) internal {
        bucket.tokens = capacity;
        bucket.lastUpdated = uint32(block.timestamp);
        bucket.capacity = capacity;
        bucket.rate = rate;
    }

    /**
     * @notice Takes `amount` out of the bucket after refilling it for the time since the last update.
     * Reverts with `RateLimitReached` if it holds less, `AmountExceedsCapacity` if it never could.
     */
    function consume(TokenBucket storage bucket, uint256 amount) internal {
        uint256 capacity = bucket.capacity;
        if (amount > capacity) revert AmountExceedsCapacity(capacity, amount);
        uint256 rate = bucket.rate;
        uint256 tokens = _refilled(bucket.tokens, bucket.lastUpdated, capacity, rate);
        if (amount > tokens) {
            uint256 wait = rate == 0 ? type(uint256).max : (amount - tokens + rate - 1) / rate;
            revert RateLimitReached(wait, tokens);
        }
        // Downcast is safe: tokens - amount <= tokens <= capacity, which is a uint128.
        bucket.tokens = uint128(tokens - amount);
        bucket.lastUpdated = uint32(block.timestamp);
    }

    /**
     * @notice Changes capacity and rate. Tokens earned at the old rate are credited first, and the
     * bucket is cut down to a smaller capacity (never filled up by a larger one).
     */
    function configure(TokenBucket storage bucket, uint128 capacity, uint128 rate) internal {
        uint256 tokens = _refilled(bucket.tokens, bucket.lastUpdated, bucket.capacity, bucket.rate);
        // Downcast is safe: the minimum is at most capacity, a uint128.
        bucket.tokens = uint128(tokens < capacity ? tokens : capacity);
        bucket.lastUpdated = uint32(block.timestamp);
        bucket.capacity = capacity;
        bucket.rate = rate;
    }

    /// @notice The bucket as it stands now (tokens refilled up to this block).
    function current(TokenBucket storage bucket) internal view returns (TokenBucket memory state) {
        state = bucket;
        // Downcast is safe: refilled tokens never exceed capacity, a uint128.
        state.tokens = uint128(_refilled(state.tokens, state.lastUpdated, state.capacity, state.rate));
        state.lastUpdated = uint32(block.timestamp);
    }

    function _refilled(
        uint256 tokens,
        uint256 lastUpdated,
        uint256 capacity,
        uint256 rate
    ) private view returns (uint256) {
        uint256 refilled = tokens + (block.timestamp - lastUpdated) * rate;
        return refilled < capacity ? refilled : capacity;
    }
}
