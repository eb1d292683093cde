// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/**
 * @title GovernanceOutbox
 * @notice The Ethereum end of governance calls to the BasedAI chain. A proposal that passed makes
 * Ethereum's timelock call `send`; the event `GovernanceCallSent` is what the attesters sign into a
 * GOVERNANCE_CALL message for the BasedAI chain, where `GovernanceCallReceiver` schedules the call
 * into the BasedAI timelock (with its own delay, which the guardian can use to cancel it).
 *
 * Payload of the message (the event's fields, in order):
 * `abi.encode(uint64 dstChainId, address target, uint256 value, bytes data, bytes32 salt)`.
 * The destination chain is in the payload so a call made for one chain can never run on another.
 */
contract GovernanceOutbox {
    /// @notice Ethereum's TimelockController: the only sender.
    address public immutable timelock;
    /// @notice The BasedAI chain, where every call goes.
    uint64 public immutable basedChainId;

    // keccak256 of each payload sent: one call (target, value, data, salt) is sent once.
    mapping(bytes32 callHash => bool) private _sent;

    /**
     * @notice A governance call for `dstChainId` (attesters: sign it as GOVERNANCE_CALL with nonce
     * `(blockNumber << 32) | logIndex` and the payload `abi.encode(dstChainId, target, value, data, salt)`).
     * @param dstChainId The chain that must execute it.
     * @param target Contract called there (by the BasedAI timelock).
     * @param value Native value sent with the call, from the BasedAI timelock's balance.
     * @param data Calldata.
     * @param salt Makes otherwise identical calls distinct (part of the BasedAI timelock's operation id).
     */
    event GovernanceCallSent(
        uint64 indexed dstChainId,
        address indexed target,
        uint256 value,
        bytes data,
        bytes32 salt
    );

    /// @notice Only Ethereum's timelock sends governance calls.
    error NotTimelock(address caller);
    /// @notice This exact call (target, value, data, salt) was sent before: use another salt.
    error CallAlreadySent(bytes32 callHash);
    /// @notice A required address was zero.
    error ZeroAddress();
    /// @notice Chain id zero is not a chain.
    error ZeroChainId();

    /**
     * @param timelock_ Ethereum's TimelockController (the governor's executor).
     * @param basedChainId_ The BasedAI chain id.
     */
    constructor(address timelock_, uint64 basedChainId_) {
        if (timelock_ == address(0)) revert ZeroAddress();
        if (basedChainId_ == 0) revert ZeroChainId();
        timelock = timelock_;
        basedChainId = basedChainId_;
    }

    /**
     * @notice Sends a governance call to the BasedAI chain. Only Ethereum's timelock, i.e. a proposal
     * that passed, may.
     * @param target Contract the BasedAI timelock will call.
     * @param value Native value of the call.
     * @param data Calldata of the call.
     * @param salt Distinguishes identical calls.
     * @return callHash `keccak256` of the message payload.
     */
    function send(
        address target,
        uint256 value,
        bytes calldata data,
        bytes32 salt
    ) external returns (bytes32 callHash) {
        if (msg.sender != timelock) revert NotTimelock(msg.sender);
        if (target == address(0)) revert ZeroAddress();
        callHash = keccak256(abi.encode(basedChainId, target, value, data, salt));
        if (_sent[callHash]) revert CallAlreadySent(callHash);
        _sent[callHash] = true;
        emit GovernanceCallSent(basedChainId, target, value, data, salt);
    }

    /// @notice Whether the call with payload hash `callHash` was sent.
    function sent(bytes32 callHash) external view returns (bool) {
        return _sent[callHash];
    }
}
