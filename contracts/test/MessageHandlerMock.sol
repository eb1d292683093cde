// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IMessageHandler} from "../messaging/IMessageHandler.sol";
import {Message} from "../messaging/Messages.sol";
import {MessageInbox} from "../messaging/MessageInbox.sol";

/**
 * @title MessageHandlerMock
 * @notice A handler whose behaviour the tests choose: succeed, revert with a custom error, burn a
 * given amount of gas first (a handler that genuinely needs that much), revert with a huge revert
 * payload (a "return bomb"), or re-enter the inbox.
 */
contract MessageHandlerMock is IMessageHandler {
    enum Mode {
        Succeed,
        Revert,
        BurnGas,
        ReturnBomb,
        ReenterRetry,
        ReenterReceive
    }

    MessageInbox public immutable inbox;
    Mode public mode;
    /// @notice Revert code (Revert), gas to burn (BurnGas) or revert-data size (ReturnBomb).
    uint256 public param;
    /// @notice Successful executions so far.
    uint256 public executions;

    /// @notice A message was executed.
    event Handled(bytes32 indexed messageId, uint64 nonce, uint8 kind, bytes payload);

    /// @notice The failure the tests asked for.
    error MockFailure(uint256 code);

    constructor(MessageInbox inbox_) {
        inbox = inbox_;
    }

    /// @notice Chooses the behaviour of the next messages.
    function setMode(Mode mode_, uint256 param_) external {
        mode = mode_;
        param = param_;
    }

    /// @inheritdoc IMessageHandler
    function handleMessage(bytes32 messageId, Message calldata message) external {
        Mode m = mode;
        if (m == Mode.Revert) revert MockFailure(param);
        if (m == Mode.BurnGas) {
            uint256 stop = gasleft() - param;
            uint256 spins = 0;
            while (gasleft() > stop) {
                ++spins;
            }
        } else if (m == Mode.ReturnBomb) {
            uint256 size = param;
            // solhint-disable-next-line no-inline-assembly
            assembly {
                revert(0, size)
            }
        } else if (m == Mode.ReenterRetry) {
            inbox.retry(message);
        } else if (m == Mode.ReenterReceive) {
            inbox.receiveMessage(message, inbox.setVersion(), new bytes[](0));
        }
        ++executions;
        emit Handled(messageId, message.nonce, message.kind, message.payload);
    }
}
