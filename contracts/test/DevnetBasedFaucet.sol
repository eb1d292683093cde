// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BasedToken} from "../based/BasedToken.sol";

/**
 * @title DevnetBasedFaucet
 * @notice Devnet only: holds BasedToken's MINTER_ROLE and mints BASED to anyone, at most
 * `maxPerCall` per call, so devnet users can try the bridge and the compute market. It refuses to
 * deploy on any chain but the two devnet chains (31337, 32323).
 */
contract DevnetBasedFaucet {
    /// @notice The BASED token (this faucet needs its MINTER_ROLE).
    BasedToken public immutable based;
    /// @notice Most BASED (wei) one call mints.
    uint256 public immutable maxPerCall;

    /// @notice `amount` BASED was minted to `to`.
    event Dripped(address indexed to, uint256 amount);

    /// @notice Ask for at most `maxPerCall` per call.
    error FaucetAmountTooLarge(uint256 amount, uint256 maxPerCall);
    /// @notice The faucet mints free BASED and must never exist outside the devnet.
    error NotDevnet(uint256 chainId);

    /**
     * @param based_ The BASED token.
     * @param maxPerCall_ Most BASED (wei) one call mints.
     */
    constructor(BasedToken based_, uint256 maxPerCall_) {
        if (block.chainid != 31337 && block.chainid != 32323) revert NotDevnet(block.chainid);
        based = based_;
        maxPerCall = maxPerCall_;
    }

    /**
     * @notice Mints `amount` BASED to `to`.
     * @param to Receiver.
     * @param amount BASED in wei, at most `maxPerCall`.
     */
    function drip(address to, uint256 amount) external {
        if (amount > maxPerCall) revert FaucetAmountTooLarge(amount, maxPerCall);
        based.mint(to, amount);
        emit Dripped(to, amount);
    }
}
