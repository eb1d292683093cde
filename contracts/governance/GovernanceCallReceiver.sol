// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {MessageHandler} from "../messaging/MessageHandler.sol";
import {Message, Messages} from "../messaging/Messages.sol";

/**
 * @title GovernanceCallReceiver
 * @notice The BasedAI end of governance calls: a GOVERNANCE_CALL message from Ethereum (made from
 * `GovernanceOutbox.GovernanceCallSent`) is scheduled into the BasedAI chain's TimelockController,
 * with that timelock's own delay. It does not execute anything itself: after the delay anyone
 * executes the operation on the timelock, and until then the guardian (the timelock's canceller, an
 * M-of-N `GuardianMultisig`) can cancel it. So a compromised attester set cannot forge a governance
 * call faster than the guardian can stop it.
 *
 * A call runs once and only on its chain: the payload names its destination chain (checked against
 * this chain), the inbox refuses a replayed nonce, and this contract refuses a second message carrying
 * an operation it scheduled before, even one the guardian cancelled (a re-signed copy of a cancelled
 * call must not come back).
 *
 * The timelock must grant this contract PROPOSER_ROLE (and nobody else), the guardian CANCELLER_ROLE.
 */
contract GovernanceCallReceiver is MessageHandler {
    /// @notice The BasedAI chain's TimelockController (this contract is its proposer).
    TimelockController public immutable timelock;

    // Timelock operation ids this contract scheduled, ever.
    mapping(bytes32 operationId => bool) private _received;

    /**
     * @notice Message `messageId` scheduled timelock operation `operationId`, executable from `readyAt`.
     * @param messageId The inbox's id of the GOVERNANCE_CALL message.
     * @param operationId `timelock.hashOperation(target, value, data, 0, salt)`.
     * @param target Contract the timelock will call.
     * @param value Native value of the call.
     * @param data Calldata.
     * @param salt The call's salt.
     * @param readyAt Timestamp from which anyone may execute it on the timelock.
     */
    event GovernanceCallScheduled(
        bytes32 indexed messageId,
        bytes32 indexed operationId,
        address indexed target,
        uint256 value,
        bytes data,
        bytes32 salt,
        uint256 readyAt
    );

    /// @notice The call was made for another chain.
    error WrongDestinationChain(uint64 dstChainId, uint256 chainId);
    /// @notice This operation was scheduled before (it may since have run or been cancelled).
    error CallAlreadyReceived(bytes32 operationId);

    /**
     * @param inbox_ The BasedAI chain's MessageInbox.
     * @param ethereumChainId Ethereum's chain id (the only source of governance calls).
     * @param timelock_ The BasedAI TimelockController.
     */
    constructor(
        address inbox_,
        uint64 ethereumChainId,
        address timelock_
    ) MessageHandler(inbox_, ethereumChainId, Messages.GOVERNANCE_CALL) {
        if (timelock_ == address(0)) revert ZeroAddress();
        timelock = TimelockController(payable(timelock_));
    }

    /// @notice Whether this contract ever scheduled timelock operation `operationId`.
    function received(bytes32 operationId) external view returns (bool) {
        return _received[operationId];
    }

    /// @dev GOVERNANCE_CALL: `abi.encode(uint64 dstChainId, address target, uint256 value, bytes data, bytes32 salt)`.
    function _handle(bytes32 messageId, Message calldata message) internal override {
        (uint64 dstChainId, address target, uint256 value, bytes memory data, bytes32 salt) = abi.decode(
            message.payload,
            (uint64, address, uint256, bytes, bytes32)
        );
        // The inbox checked the envelope's destination; the payload's is what the outbox committed to.
        if (dstChainId != block.chainid) revert WrongDestinationChain(dstChainId, block.chainid);
        bytes32 operationId = timelock.hashOperation(target, value, data, bytes32(0), salt);
        if (_received[operationId]) revert CallAlreadyReceived(operationId);
        _received[operationId] = true;
        uint256 delay = timelock.getMinDelay();
        timelock.schedule(target, value, data, bytes32(0), salt, delay);
        emit GovernanceCallScheduled(
            messageId,
            operationId,
            target,
            value,
            data,
            salt,
            block.timestamp + delay
        );
    }
}
