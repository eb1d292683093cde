// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IMessageHandler} from "./IMessageHandler.sol";
import {Message} from "./Messages.sol";

/**
 * @title MessageHandler
 * @notice Base of every handler of attested messages: only the inbox may call it, and only with a
 * message of the one kind it handles from the one peer chain it listens to. The inbox already
 * checks signatures and its trusted chains; this second check keeps, say, a BRIDGE_TRANSFER from
 * a chain the bridge does not pair with from ever releasing tokens.
 */
abstract contract MessageHandler is IMessageHandler {
    /// @notice The MessageInbox that delivers verified messages.
    address public immutable inbox;
    /// @notice The peer chain whose messages this contract accepts.
    uint64 public immutable sourceChainId;
    /// @notice The message kind this contract handles.
    uint8 public immutable handledKind;

    /// @notice Only the inbox delivers messages.
    error NotInbox(address caller);
    /// @notice The message comes from a chain other than this handler's peer.
    error WrongSourceChain(uint64 srcChainId, uint64 expected);
    /// @notice The message is of a kind this handler does not handle.
    error WrongKind(uint8 kind, uint8 expected);
    /// @notice A required address was zero.
    error ZeroAddress();

    /**
     * @param inbox_ The MessageInbox of this chain.
     * @param sourceChainId_ The peer chain.
     * @param kind The message kind handled.
     */
    constructor(address inbox_, uint64 sourceChainId_, uint8 kind) {
        if (inbox_ == address(0)) revert ZeroAddress();
        inbox = inbox_;
        sourceChainId = sourceChainId_;
        handledKind = kind;
    }

    /// @inheritdoc IMessageHandler
    function handleMessage(bytes32 messageId, Message calldata message) external {
        if (msg.sender != inbox) revert NotInbox(msg.sender);
        if (message.srcChainId != sourceChainId) revert WrongSourceChain(message.srcChainId, sourceChainId);
        if (message.kind != handledKind) revert WrongKind(message.kind, handledKind);
        _handle(messageId, message);
    }

    /// @dev Acts on a message that passed the checks above; reverts to leave it retryable.
    function _handle(bytes32 messageId, Message calldata message) internal virtual;
}
