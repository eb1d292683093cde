// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/**
 * @title BrainGenerations
 * @notice The storage key of one generation of a Brain id (BrainRegistry `generation`): Network and
 * Staking key their per-Brain state by it, so a freed id minted again starts empty while the old
 * Brain's stake stays withdrawable under its own key. Generation 0 keys by the id itself.
 */
library BrainGenerations {
    /// @notice The key of generation `generation` of Brain id `brainId`.
    function key(uint256 brainId, uint64 generation) internal pure returns (uint256) {
        return generation == 0 ? brainId : uint256(keccak256(abi.encode(brainId, generation)));
    }
}
