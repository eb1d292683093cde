// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BasedToken} from "./BasedToken.sol";
import {EmissionSchedule} from "./EmissionSchedule.sol";

/**
 * @title Emission
 * @notice The only minter of BASED on the BasedAI chain (it holds `MINTER_ROLE`). It mints the
 * schedule of `EmissionSchedule` block range by block range, always from where it stopped and never
 * past the current block, and only into the Consensus contract, which pays it out by the epoch
 * reports. So at every block: minted ≤ `emissionBetween(genesisBlock, block.number)`.
 */
contract Emission {
    /// @notice BASED.
    BasedToken public immutable based;
    /// @notice The first block that earns emission.
    uint64 public immutable genesisBlock;
    /// @notice May bind the Consensus contract, once (the deployer).
    address private immutable _binder;

    /// @notice The Consensus contract: the only caller of `release` and the only recipient.
    address public consensus;
    /// @notice Blocks before this one have been minted.
    uint64 public mintedUpTo;

    /// @notice Only the Consensus contract releases emission.
    error NotConsensus(address caller);
    /// @notice Only the deployer binds the Consensus contract, once, to a non-zero address.
    error CannotBind();
    /// @notice `toBlock` must be after `mintedUpTo` and not after the current block.
    error InvalidRange(uint64 mintedUpTo, uint64 toBlock, uint256 currentBlock);

    /// @notice Blocks [fromBlock, toBlock) were minted: `amount` BASED to the Consensus contract.
    event Released(uint64 fromBlock, uint64 toBlock, uint256 amount);
    /// @notice `consensus` receives the emission.
    event ConsensusBound(address consensus);

    /**
     * @param based_ BASED (this contract must be granted its `MINTER_ROLE`).
     * @param genesisBlock_ The first block that earns emission (the deployment block on devnet).
     */
    constructor(BasedToken based_, uint64 genesisBlock_) {
        based = based_;
        genesisBlock = genesisBlock_;
        mintedUpTo = genesisBlock_;
        _binder = msg.sender;
    }

    /// @notice Binds the Consensus contract. Once, by the deployer.
    function bindConsensus(address consensus_) external {
        if (msg.sender != _binder || consensus != address(0) || consensus_ == address(0)) revert CannotBind();
        consensus = consensus_;
        emit ConsensusBound(consensus_);
    }

    /**
     * @notice Mints the emission of blocks [mintedUpTo, toBlock) to the Consensus contract.
     * @return amount Exactly `emissionBetween(mintedUpTo, toBlock)`.
     */
    function release(uint64 toBlock) external returns (uint256 amount) {
        if (msg.sender != consensus) revert NotConsensus(msg.sender);
        uint64 from = mintedUpTo;
        if (toBlock <= from || toBlock > block.number) revert InvalidRange(from, toBlock, block.number);
        mintedUpTo = toBlock;
        amount = EmissionSchedule.emissionBetween(from, toBlock);
        emit Released(from, toBlock, amount);
        based.mint(consensus, amount);
    }

    /// @notice The reward of block `h`.
    function blockReward(uint256 h) external pure returns (uint256) {
        return EmissionSchedule.blockReward(h);
    }

    /// @notice The exact emission of blocks [a, b).
    function emissionBetween(uint256 a, uint256 b) external pure returns (uint256) {
        return EmissionSchedule.emissionBetween(a, b);
    }

    /// @notice β(t) at block `h`, scaled by 1e18.
    function tftWeight(uint256 h) external pure returns (uint256) {
        return EmissionSchedule.tftWeight(h);
    }

    /// @notice The most that can have been minted by now: `emissionBetween(genesisBlock, block.number)`.
    function emittedByNow() external view returns (uint256) {
        return EmissionSchedule.emissionBetween(genesisBlock, block.number);
    }
}
