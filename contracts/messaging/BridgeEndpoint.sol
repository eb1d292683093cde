// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {RateLimiter} from "../libraries/RateLimiter.sol";
import {MessageHandler} from "./MessageHandler.sol";
import {Message, Messages} from "./Messages.sol";

/**
 * @title BridgeEndpoint
 * @notice What both ends of the BASED bridge share (docs/architecture.md §2): a per-transfer maximum on the
 * way out, an inbound token bucket on the way in, a guardian pause that stops both, and the
 * BRIDGE_TRANSFER handler. An inbound transfer the bucket cannot take yet reverts
 * (`RateLimiter.RateLimitReached`), so the inbox keeps it as failed and anyone retries it after
 * the refill: it waits, it is never dropped. A pause does the same to inbound transfers.
 *
 * Roles: `DEFAULT_ADMIN_ROLE` is governance (the deployer until the timelock exists) and sets the
 * limits; `GUARDIAN_ROLE` pauses and unpauses.
 */
abstract contract BridgeEndpoint is MessageHandler, AccessControl, Pausable {
    using RateLimiter for RateLimiter.TokenBucket;

    /// @notice May pause and unpause the bridge.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    /// @notice Largest amount one lock or burn may carry.
    uint256 public maxTransfer;
    RateLimiter.TokenBucket private _inbound;

    /// @notice Governance changed the per-transfer maximum.
    event MaxTransferSet(uint256 maxTransfer);
    /// @notice Governance changed the inbound bucket (tokens are cut to the new capacity if above it).
    event RateLimitSet(uint128 capacity, uint128 rate);

    /// @notice The transfer is above the per-transfer maximum; split it.
    error TransferAboveMax(uint256 amount, uint256 maxTransfer);
    /// @notice Bridging nothing is refused (it would only cost the attesters a message).
    error ZeroAmount();

    /**
     * @param inbox_ This chain's MessageInbox.
     * @param peerChainId The chain of the other end of the bridge.
     * @param admin Governance: sets the limits and grants roles.
     * @param guardian Pauses and unpauses.
     * @param maxTransfer_ Per-transfer maximum of locks or burns here.
     * @param capacity Inbound bucket size (starts full).
     * @param rate Inbound refill, tokens (wei) per second.
     */
    constructor(
        address inbox_,
        uint64 peerChainId,
        address admin,
        address guardian,
        uint256 maxTransfer_,
        uint128 capacity,
        uint128 rate
    ) MessageHandler(inbox_, peerChainId, Messages.BRIDGE_TRANSFER) {
        if (admin == address(0) || guardian == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GUARDIAN_ROLE, guardian);
        maxTransfer = maxTransfer_;
        emit MaxTransferSet(maxTransfer_);
        _inbound.init(capacity, rate);
        emit RateLimitSet(capacity, rate);
    }

    // ─────────────────────────────────────────── Guardian ───────────────────────────────────────────

    /// @notice Stops locks/burns here and inbound transfers (they wait as failed messages).
    function pause() external onlyRole(GUARDIAN_ROLE) {
        _pause();
    }

    /// @notice Resumes the bridge; waiting inbound messages can then be retried.
    function unpause() external onlyRole(GUARDIAN_ROLE) {
        _unpause();
    }

    // ────────────────────────────────────────── Governance ──────────────────────────────────────────

    /// @notice Sets the largest amount a single lock or burn may carry.
    function setMaxTransfer(uint256 maxTransfer_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        maxTransfer = maxTransfer_;
        emit MaxTransferSet(maxTransfer_);
    }

    /**
     * @notice Sets the inbound bucket. Tokens earned so far at the old rate are kept, up to the
     * new capacity.
     * @param capacity Most tokens (wei) the bucket holds.
     * @param rate Refill in tokens (wei) per second.
     */
    function setRateLimit(uint128 capacity, uint128 rate) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _inbound.configure(capacity, rate);
        emit RateLimitSet(capacity, rate);
    }

    // ───────────────────────────────────────────── Views ─────────────────────────────────────────────

    /// @notice The inbound bucket as of this block (tokens available now, capacity, refill per second).
    function inboundBucket() external view returns (RateLimiter.TokenBucket memory) {
        return _inbound.current();
    }

    // ─────────────────────────────────────────── Internals ───────────────────────────────────────────

    /// @dev Checks shared by lock and burn.
    function _checkOutbound(address recipient, uint256 amount) internal view {
        if (recipient == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        if (amount > maxTransfer) revert TransferAboveMax(amount, maxTransfer);
    }

    /// @dev BRIDGE_TRANSFER from the peer: paused → revert; over the bucket → revert; else release.
    function _handle(bytes32 messageId, Message calldata message) internal override whenNotPaused {
        (address sender, address recipient, uint256 amount) = abi.decode(
            message.payload,
            (address, address, uint256)
        );
        _inbound.consume(amount);
        _release(messageId, sender, recipient, amount);
    }

    /// @dev Hands `amount` to `recipient` on this chain (transfer locked BASED, or mint wBASED).
    function _release(bytes32 messageId, address sender, address recipient, uint256 amount) internal virtual;
}
