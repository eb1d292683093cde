// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {MessageHandler} from "../messaging/MessageHandler.sol";
import {Message, Messages} from "../messaging/Messages.sol";

/**
 * @title GigaBrainSets
 * @notice Ethereum's record of the GigaBrains: the Brains whose stake is at least 0.5 % of all stake
 * on the BasedAI chain. The attesters take the set at a BasedAI block and carry it here as a
 * GIGABRAIN_SET message; each accepted set becomes a new version, in force from the Ethereum time
 * it arrived. Versions are kept (never overwritten) so that a proposal reads the set that was in
 * force at its snapshot, however many sets arrived since.
 *
 * A version is 1,024 bits (Brain ids are 0 … 1023, BrainNFT.MAX_BRAINS), i.e. four storage words,
 * whatever the number of GigaBrains: storing a set and reading a Brain's membership cost the same
 * for 1 or 200 GigaBrains.
 */
contract GigaBrainSets is MessageHandler {
    using Checkpoints for Checkpoints.Trace208;

    /// @notice Brain ids are below this (BrainNFT.MAX_BRAINS).
    uint256 public constant MAX_BRAINS = 1024;

    /**
     * @notice One accepted set. One slot: [basedBlock:64][since:48][size:16].
     * @param basedBlock The BasedAI block the set was taken at.
     * @param since Ethereum timestamp from which it is in force (its delivery).
     * @param size Number of GigaBrains in it.
     */
    struct SetInfo {
        uint64 basedBlock;
        uint48 since;
        uint16 size;
    }

    /// @notice Number of sets accepted so far; versions are 1 … `versionCount` (0 = no set yet).
    uint256 public versionCount;
    mapping(uint256 version => SetInfo) private _info;
    // Bit (id % 256) of word (id / 256) is set while Brain `id` is in the version.
    mapping(uint256 version => uint256[4]) private _bits;
    // Ethereum timestamp → version in force from then on. Several sets delivered in one block keep the
    // last one, which is also the newest (sets only move forward).
    Checkpoints.Trace208 private _history;

    /**
     * @notice A GIGABRAIN_SET message was accepted as set `version`.
     * @param version The new version (in force from this block's timestamp).
     * @param messageId The inbox's id of the message.
     * @param basedBlock The BasedAI block the set was taken at.
     * @param size Number of GigaBrains.
     */
    event GigaBrainSetUpdated(
        uint256 indexed version,
        bytes32 indexed messageId,
        uint64 basedBlock,
        uint256 size
    );

    /// @notice The set was taken at a BasedAI block no later than the one in force: sets only move forward.
    error StaleGigaBrainSet(uint64 basedBlock, uint64 currentBasedBlock);
    /// @notice Brain ids must be strictly ascending (no duplicates) and below MAX_BRAINS; entry `index` is not.
    error InvalidBrainId(uint256 index, uint256 brainId);

    /**
     * @param inbox_ Ethereum's MessageInbox.
     * @param basedChainId The BasedAI chain (the only source of GigaBrain sets).
     */
    constructor(
        address inbox_,
        uint64 basedChainId
    ) MessageHandler(inbox_, basedChainId, Messages.GIGABRAIN_SET) {}

    // ───────────────────────────────────────────── Views ─────────────────────────────────────────────

    /**
     * @notice The version in force at Ethereum timestamp `timepoint` (the last one delivered at or
     * before it), 0 if none.
     */
    function versionAt(uint256 timepoint) public view returns (uint256) {
        // Timestamps fit in 48 bits until the year 8.9 million; a larger timepoint means "now".
        uint48 key = timepoint > type(uint48).max ? type(uint48).max : uint48(timepoint);
        return _history.upperLookupRecent(key);
    }

    /// @notice Whether Brain `brainId` was a GigaBrain at Ethereum timestamp `timepoint`.
    function isGigaBrainAt(uint256 brainId, uint256 timepoint) external view returns (bool) {
        return _isIn(versionAt(timepoint), brainId);
    }

    /// @notice Whether Brain `brainId` is a GigaBrain in the set in force now.
    function isGigaBrain(uint256 brainId) external view returns (bool) {
        return _isIn(versionCount, brainId);
    }

    /// @notice Number of GigaBrains in the set in force at Ethereum timestamp `timepoint` (0 before any set).
    function sizeAt(uint256 timepoint) external view returns (uint256) {
        return _info[versionAt(timepoint)].size;
    }

    /// @notice Block, delivery time and size of set `version` (all zero for version 0 or an unknown one).
    function setInfo(uint256 version) external view returns (SetInfo memory) {
        return _info[version];
    }

    /// @notice The BasedAI block of the set in force now (0 before any set).
    function currentBasedBlock() external view returns (uint64) {
        return _info[versionCount].basedBlock;
    }

    /// @notice The members of set `version` as a 1,024-bit bitmap (bit `id % 256` of word `id / 256`).
    function bitmapOf(uint256 version) external view returns (uint256[4] memory) {
        return _bits[version];
    }

    // ─────────────────────────────────────────── Internals ───────────────────────────────────────────

    function _isIn(uint256 version, uint256 brainId) private view returns (bool) {
        if (version == 0 || brainId >= MAX_BRAINS) return false;
        return (_bits[version][brainId >> 8] >> (brainId & 0xff)) & 1 == 1;
    }

    /**
     * @dev GIGABRAIN_SET: `abi.encode(uint64 basedBlock, uint16[] brainIds)`, ids strictly ascending.
     * Reverts on a stale or malformed set: the inbox keeps it as failed, and since sets only move
     * forward a retry can never apply it.
     */
    function _handle(bytes32 messageId, Message calldata message) internal override {
        (uint64 basedBlock, uint16[] memory brainIds) = abi.decode(message.payload, (uint64, uint16[]));
        uint256 version = versionCount;
        uint64 current = _info[version].basedBlock;
        // Equal blocks are refused too: a second message for the same block is a duplicate.
        if (version != 0 && basedBlock <= current) revert StaleGigaBrainSet(basedBlock, current);

        uint256[4] memory bits;
        uint256 count = brainIds.length;
        uint256 previous = 0;
        for (uint256 i = 0; i < count; ++i) {
            uint256 id = brainIds[i];
            // Ascending from "previous + 1" refuses duplicates; the bound keeps every id in the bitmap.
            if (id >= MAX_BRAINS || (i != 0 && id <= previous)) revert InvalidBrainId(i, id);
            bits[id >> 8] |= 1 << (id & 0xff);
            previous = id;
        }

        ++version;
        versionCount = version;
        _bits[version] = bits;
        uint48 since = uint48(block.timestamp);
        // Safe cast: strictly ascending ids below 1024 are at most 1024 of them.
        _info[version] = SetInfo(basedBlock, since, uint16(count));
        _history.push(since, uint208(version));
        emit GigaBrainSetUpdated(version, messageId, basedBlock, count);
    }
}
