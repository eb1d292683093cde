// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {BridgeEndpoint} from "../messaging/BridgeEndpoint.sol";

/**
 * @title BasedBridge
 * @notice The BasedAI-chain end of the BASED bridge. `lock` holds BASED here and emits
 * `BridgeLocked`; the attesters turn it into a BRIDGE_TRANSFER that mints wBASED on Ethereum.
 * A BRIDGE_TRANSFER from Ethereum (a wBASED burn) releases locked BASED, through the inbound
 * rate limit. Invariant: `wBASED.totalSupply() ≤ BASED held here`.
 */
contract BasedBridge is BridgeEndpoint {
    using SafeERC20 for IERC20;

    /// @notice The BASED token.
    IERC20 public immutable based;

    /// @notice `amount` BASED from `sender` is locked here for `recipient` on Ethereum.
    event BridgeLocked(address indexed sender, address indexed recipient, uint256 amount);
    /// @notice A burn of wBASED on Ethereum (message `messageId`) released `amount` BASED to `recipient`.
    event BridgeReleased(
        bytes32 indexed messageId,
        address indexed sender,
        address indexed recipient,
        uint256 amount
    );

    /**
     * @param based_ The BASED token.
     * @param inbox_ The BasedAI chain's MessageInbox.
     * @param ethereumChainId The Ethereum chain id (the only source of inbound transfers).
     * @param admin Governance: sets the limits.
     * @param guardian Pauses and unpauses.
     * @param maxTransfer_ Per-lock maximum.
     * @param capacity Inbound bucket size.
     * @param rate Inbound refill per second.
     */
    constructor(
        address based_,
        address inbox_,
        uint64 ethereumChainId,
        address admin,
        address guardian,
        uint256 maxTransfer_,
        uint128 capacity,
        uint128 rate
    ) BridgeEndpoint(inbox_, ethereumChainId, admin, guardian, maxTransfer_, capacity, rate) {
        if (based_ == address(0)) revert ZeroAddress();
        based = IERC20(based_);
    }

    /**
     * @notice Locks `amount` BASED of the caller (approve this contract first) to be minted as
     * wBASED to `recipient` on Ethereum once the attesters sign the event.
     * @param recipient Receiver of the wBASED on Ethereum.
     * @param amount BASED in wei, at most `maxTransfer`.
     */
    function lock(address recipient, uint256 amount) external whenNotPaused {
        _checkOutbound(recipient, amount);
        based.safeTransferFrom(msg.sender, address(this), amount);
        emit BridgeLocked(msg.sender, recipient, amount);
    }

    function _release(
        bytes32 messageId,
        address sender,
        address recipient,
        uint256 amount
    ) internal override {
        based.safeTransfer(recipient, amount);
        emit BridgeReleased(messageId, sender, recipient, amount);
    }
}
