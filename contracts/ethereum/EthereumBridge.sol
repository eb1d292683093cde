// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BridgeEndpoint} from "../messaging/BridgeEndpoint.sol";
import {WrappedBased} from "./WrappedBased.sol";

/**
 * @title EthereumBridge
 * @notice The Ethereum end of the BASED bridge. A BRIDGE_TRANSFER from the BasedAI chain (a lock
 * in BasedBridge) mints wBASED, through the inbound rate limit; `burn` destroys wBASED and emits
 * `BridgeBurned`, which the attesters turn into a message that releases the BASED on the other side.
 * This contract must be WrappedBased's `bridge`.
 */
contract EthereumBridge is BridgeEndpoint {
    /// @notice The wBASED token (this contract is its only minter and burner).
    WrappedBased public immutable wbased;

    /// @notice `amount` wBASED of `sender` was burned to release BASED to `recipient` on the BasedAI chain.
    event BridgeBurned(address indexed sender, address indexed recipient, uint256 amount);
    /// @notice A lock of BASED (message `messageId`) minted `amount` wBASED to `recipient`.
    event BridgeMinted(
        bytes32 indexed messageId,
        address indexed sender,
        address indexed recipient,
        uint256 amount
    );

    /**
     * @param wbased_ The WrappedBased token.
     * @param inbox_ Ethereum's MessageInbox.
     * @param basedChainId The BasedAI chain id (the only source of inbound transfers).
     * @param admin Governance: sets the limits.
     * @param guardian Pauses and unpauses.
     * @param maxTransfer_ Per-burn maximum.
     * @param capacity Inbound bucket size.
     * @param rate Inbound refill per second.
     */
    constructor(
        address wbased_,
        address inbox_,
        uint64 basedChainId,
        address admin,
        address guardian,
        uint256 maxTransfer_,
        uint128 capacity,
        uint128 rate
    ) BridgeEndpoint(inbox_, basedChainId, admin, guardian, maxTransfer_, capacity, rate) {
        if (wbased_ == address(0)) revert ZeroAddress();
        wbased = WrappedBased(wbased_);
    }

    /**
     * @notice Burns `amount` of the caller's wBASED (no approval needed) to release as much BASED to
     * `recipient` on the BasedAI chain once the attesters sign the event.
     * @param recipient Receiver of the BASED on the BasedAI chain.
     * @param amount wBASED in wei, at most `maxTransfer`.
     */
    function burn(address recipient, uint256 amount) external whenNotPaused {
        _checkOutbound(recipient, amount);
        wbased.burn(msg.sender, amount);
        emit BridgeBurned(msg.sender, recipient, amount);
    }

    function _release(
        bytes32 messageId,
        address sender,
        address recipient,
        uint256 amount
    ) internal override {
        wbased.mint(recipient, amount);
        emit BridgeMinted(messageId, sender, recipient, amount);
    }
}
