// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Message} from "./Messages.sol";

/**
 * @title IMessageHandler
 * @notice A destination contract of attested messages. The MessageInbox calls it once the
 * signatures are verified; a revert does not lose the message (the inbox stores it as failed and
 * anyone may retry it later), so a handler reverts whenever it cannot act yet (a rate limit, a pause).
 */
interface IMessageHandler {
    /**
     * @notice Executes a verified message. Called only by the inbox, with the gas the inbox
     * configured for the message's kind.
     * @param messageId `Messages.id(message)`, the inbox's replay key.
     * @param message The message (source chain, nonce, kind and payload are all the handler needs).
     */
    function handleMessage(bytes32 messageId, Message calldata message) external;
}
