// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
import {BrainNFT} from "../ethereum/BrainNFT.sol";

/**
 * @title BrainReceiverMock
 * @notice A contract that mints Brains for itself, used by the tests to check what BrainNFT does
 * when the receiver's `onERC721Received` hook misbehaves: it can accept, refuse (wrong return
 * value), revert, or re-enter BrainNFT from inside the hook.
 */
contract BrainReceiverMock is IERC721Receiver {
    enum Mode {
        Accept,
        Reject,
        Revert,
        ReenterBurn,
        ReenterStake,
        ReenterDeactivate
    }

    /// @notice The hook refused the Brain by reverting.
    error BrainRefused(uint256 id);

    BrainNFT public immutable brains;
    Mode public mode;
    /// @notice The Brain that `ReenterDeactivate` tries to deactivate from inside the hook.
    uint256 public reenterId;
    /// @notice How many Brains the hook accepted.
    uint256 public received;

    constructor(BrainNFT brains_, IERC20 pepecoin) {
        brains = brains_;
        // The mock approves everything up front so only the hook decides the outcome.
        // slither-disable-next-line unused-return
        pepecoin.approve(address(brains_), type(uint256).max);
    }

    function setMode(Mode mode_, uint256 reenterId_) external {
        mode = mode_;
        reenterId = reenterId_;
    }

    function mintByBurn(uint256 maxPrice) external returns (uint256) {
        return brains.mintByBurn(maxPrice);
    }

    function mintByStake() external returns (uint256) {
        return brains.mintByStake();
    }

    function deactivate(uint256 id) external {
        brains.deactivate(id);
    }

    function onERC721Received(address, address, uint256 id, bytes calldata) external returns (bytes4) {
        Mode m = mode;
        if (m == Mode.Reject) return bytes4(0);
        if (m == Mode.Revert) revert BrainRefused(id);
        if (m == Mode.ReenterBurn) brains.mintByBurn(type(uint256).max);
        else if (m == Mode.ReenterStake) brains.mintByStake();
        else if (m == Mode.ReenterDeactivate) brains.deactivate(reenterId);
        ++received;
        return IERC721Receiver.onERC721Received.selector;
    }
}
