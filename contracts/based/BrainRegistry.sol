// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MessageHandler} from "../messaging/MessageHandler.sol";
import {Message, Messages} from "../messaging/Messages.sol";

/**
 * @title BrainRegistry
 * @notice The BasedAI chain's mirror of the Brains of BrainNFT on Ethereum (DESIGN.md §3). Each
 * BRAIN_EVENT message carries a Brain's full state right after an event; a snapshot is applied
 * only if its nonce (source block and log index) is newer than the last one applied to that Brain,
 * so delivery order does not matter and an older snapshot is a harmless no-op. Later issues add
 * the owner's configuration (task, split, pricing …) beside the mirrored state.
 */
contract BrainRegistry is MessageHandler {
    /// @notice BrainNFT.BrainClass values (uint8 so an unexpected value cannot make a message fail).
    uint8 public constant CLASS_NONE = 0;
    uint8 public constant CLASS_RESERVED = 1;
    uint8 public constant CLASS_BURN = 2;
    uint8 public constant CLASS_STAKE = 3;

    /**
     * @notice A mirrored Brain. Two slots:
     *  slot 0: [owner:160][class:8][unlockAt:64][active:8]
     *  slot 1: [basedWallet:160][lastNonce:64]
     * @param owner The NFT owner on Ethereum (zero after a deactivation).
     * @param class BrainNFT.BrainClass: 1 reserved, 2 burn, 3 stake.
     * @param unlockAt Stake Brains: when the lock ends and the Brain starts earning. Zero otherwise.
     * @param active False once the stake Brain was deactivated (or never mirrored).
     * @param basedWallet The Brain's wallet on this chain (linked on Ethereum; the owner by default).
     * @param lastNonce Nonce of the snapshot applied last.
     */
    struct Brain {
        address owner;
        uint8 class;
        uint64 unlockAt;
        bool active;
        address basedWallet;
        uint64 lastNonce;
    }

    mapping(uint256 brainId => Brain) private _brains;

    /// @notice The mirror of Brain `brainId` now holds this state (from the message with `nonce`).
    event BrainMirrored(
        uint256 indexed brainId,
        address indexed owner,
        uint8 class,
        uint64 unlockAt,
        address basedWallet,
        bool active,
        uint64 nonce
    );
    /// @notice A snapshot older than (or as old as) the applied one arrived late and was ignored.
    event BrainSnapshotIgnored(uint256 indexed brainId, uint64 nonce, uint64 lastNonce);

    /**
     * @param inbox_ The BasedAI chain's MessageInbox.
     * @param ethereumChainId The Ethereum chain id (where BrainNFT lives).
     */
    constructor(
        address inbox_,
        uint64 ethereumChainId
    ) MessageHandler(inbox_, ethereumChainId, Messages.BRAIN_EVENT) {}

    // ───────────────────────────────────────────── Views ─────────────────────────────────────────────

    /// @notice The mirrored state of Brain `brainId` (all zero if never mirrored).
    function brain(uint256 brainId) external view returns (Brain memory) {
        return _brains[brainId];
    }

    /// @notice Whether Brain `brainId` exists on Ethereum (as of the last snapshot applied).
    function isActive(uint256 brainId) external view returns (bool) {
        return _brains[brainId].active;
    }

    /**
     * @notice Whether Brain `brainId` earns BASED at `timestamp`: it is active and, if it is a stake
     * Brain, its lock has ended (`timestamp ≥ unlockAt`).
     */
    function earnsRewards(uint256 brainId, uint256 timestamp) external view returns (bool) {
        Brain storage b = _brains[brainId];
        return b.active && (b.class != CLASS_STAKE || timestamp >= b.unlockAt);
    }

    // ─────────────────────────────────────────── Internals ───────────────────────────────────────────

    /// @dev BRAIN_EVENT: apply the snapshot if it is newer than the last one applied.
    function _handle(bytes32, Message calldata message) internal override {
        (uint256 brainId, address owner, uint8 class, uint64 unlockAt, address basedWallet, bool active) = abi
            .decode(message.payload, (uint256, address, uint8, uint64, address, bool));
        Brain storage b = _brains[brainId];
        uint64 lastNonce = b.lastNonce;
        if (message.nonce <= lastNonce) {
            emit BrainSnapshotIgnored(brainId, message.nonce, lastNonce);
            return;
        }
        _brains[brainId] = Brain(owner, class, unlockAt, active, basedWallet, message.nonce);
        emit BrainMirrored(brainId, owner, class, unlockAt, basedWallet, active, message.nonce);
    }
}
