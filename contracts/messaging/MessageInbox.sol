// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IMessageHandler} from "./IMessageHandler.sol";
import {Message, Messages} from "./Messages.sol";

/**
 * @title MessageInbox
 * @notice The destination end of attested messages (docs/protocol.md), the same contract on
 * Ethereum and on the BasedAI chain. A message is accepted when a threshold `floor(2n/3) + 1` of the
 * current attester set signed its EIP-712 attestation (domain: this chain and this inbox), the
 * signers sorted strictly ascending; it is then executed exactly once by the handler registered
 * for its kind. One (source chain, nonce space, nonce) carries at most one message: a second,
 * different payload under a used nonce is refused (`NonceAlreadyUsed`), so replay protection does
 * not rest on the attesters' journals (EPOCH_REPORT's nonces are Consensus's to enforce:
 * `Messages.nonceSpace`). A handler that reverts does not lose the message: it is stored as failed and
 * anyone may `retry` it later. ATTESTER_SET messages rotate the set and are handled here.
 *
 * The owner (governance; the deployer until the timelock exists) only registers handlers. The
 * trusted source chains are fixed at deployment; the attester set changes only by a message the
 * current set signed.
 */
contract MessageInbox is EIP712, Ownable2Step, ReentrancyGuardTransient {
    /// @notice Where a message stands. `Failed` messages may be retried; `Executed` is final.
    enum MessageStatus {
        None,
        Failed,
        Executed
    }

    /// @notice Largest attester set: bounds the gas of a delivery (one `ecrecover` per signature).
    uint256 public constant MAX_ATTESTERS = 32;
    /// @notice Most bytes of a handler's revert data kept in `MessageFailed`: a handler returning
    /// megabytes ("return bomb") must not make delivery run out of gas copying them.
    uint256 public constant MAX_REASON_BYTES = 256;
    /// @notice Gas kept aside, on top of the handler's limit, for the CALL itself.
    uint256 public constant CALL_RESERVE_GAS = 10_000;

    /// @dev The attester set's summary, one slot: [version:32][size:8][threshold:8].
    struct AttesterSet {
        uint32 version;
        uint8 size;
        uint8 threshold;
    }

    /// @dev One slot: [handler:160][gasLimit:32].
    struct Handler {
        address target;
        uint32 gasLimit;
    }

    AttesterSet private _set;
    address[] private _attesters;
    // The set version an address was last a member of: a member of the current set iff it equals
    // `_set.version` (versions start at 1, so the zero default is never a member). A rotation
    // overwrites the new members only; the old ones fall out without a single write.
    mapping(address attester => uint32 version) private _memberOf;
    mapping(uint64 chainId => bool) private _trustedSource;
    mapping(uint8 kind => Handler) private _handlers;
    mapping(bytes32 id => MessageStatus) private _status;
    // `Messages.nonceKey(src, kind, nonce)` → the id of the one message delivered under it.
    mapping(bytes32 nonceKey => bytes32 id) private _deliveredAt;

    /// @notice A message's signatures were verified and its id recorded (it will never be delivered again).
    event MessageDelivered(
        bytes32 indexed messageId,
        uint64 indexed srcChainId,
        uint64 nonce,
        uint8 indexed kind
    );
    /// @notice The message's handler ran successfully (on delivery or on a retry).
    event MessageExecuted(bytes32 indexed messageId);
    /// @notice The handler reverted; the message waits for `retry`. `reason` is the handler's revert
    /// data, cut to `MAX_REASON_BYTES`.
    event MessageFailed(bytes32 indexed messageId, bytes reason);
    /// @notice A new attester set (sorted ascending) took over; the old one's signatures are refused.
    event AttesterSetRotated(uint32 indexed version, address[] attesters, uint256 threshold);
    /// @notice Governance registered (or removed, `handler` zero) the handler of a kind.
    event HandlerSet(uint8 indexed kind, address indexed handler, uint32 gasLimit);
    /// @notice Messages from this chain are accepted (set at deployment only).
    event TrustedSourceAdded(uint64 indexed chainId);

    /// @notice The message is for another chain.
    error WrongDestination(uint64 dstChainId, uint256 chainId);
    /// @notice The message comes from a chain this inbox does not trust.
    error UntrustedSource(uint64 srcChainId);
    /// @notice The signatures are for another attester-set version; ask the attesters to sign for `current`.
    error WrongSetVersion(uint32 setVersion, uint32 current);
    /// @notice The message was delivered before (`status` Failed: use `retry`).
    error AlreadyDelivered(bytes32 messageId, MessageStatus status);
    /// @notice Another message (`deliveredId`) was already delivered under this source chain, nonce
    /// space (`Messages.nonceSpace(kind)`) and nonce: one source event, one message.
    error NonceAlreadyUsed(uint64 srcChainId, uint8 nonceSpace, uint64 nonce, bytes32 deliveredId);
    /// @notice Fewer signatures than the threshold.
    error NotEnoughSignatures(uint256 count, uint256 threshold);
    /// @notice Signature `index` is not a valid 65-byte, low-s ECDSA signature.
    error InvalidSignature(uint256 index, ECDSA.RecoverError reason);
    /// @notice Signers must be strictly ascending: signature `index` repeats or precedes `previous`.
    error SignersNotAscending(uint256 index, address signer, address previous);
    /// @notice Signature `index` is by an address outside the current attester set.
    error NotAttester(uint256 index, address signer);
    /// @notice Only a failed message can be retried.
    error NotFailed(bytes32 messageId, MessageStatus status);
    /// @notice No handler is registered for the kind (the message waits as failed until one is).
    error NoHandler(uint8 kind);
    /// @notice Not enough gas left to give the handler its full limit: send the transaction with
    /// more gas. (Refused outright so that a relayer cannot starve a good message into `Failed`.)
    error InsufficientGasForHandler(uint256 gasLeft, uint256 needed);
    /// @notice An attester set must have 1 … `MAX_ATTESTERS` members.
    error InvalidAttesterSetSize(uint256 size, uint256 max);
    /// @notice Attester `index` is zero, repeated or out of ascending order.
    error AttestersNotAscending(uint256 index);
    /// @notice An ATTESTER_SET message must carry exactly the next version.
    error WrongNewSetVersion(uint32 newVersion, uint32 expected);
    /// @notice ATTESTER_SET is handled by the inbox itself.
    error ReservedKind(uint8 kind);
    /// @notice A handler must be a contract (a call to an address without code would "succeed").
    error HandlerNotContract(address handler);
    /// @notice Chain id zero is not a chain.
    error ZeroChainId();

    /**
     * @param attesters_ The initial attester set (version 1), sorted strictly ascending.
     * @param trustedSources The chains whose messages this inbox accepts (the peer chain).
     * @param owner_ Governance: registers handlers (the deployer until the timelock exists).
     */
    constructor(
        address[] memory attesters_,
        uint64[] memory trustedSources,
        address owner_
    ) EIP712("BasedAI MessageInbox", "1") Ownable(owner_) {
        for (uint256 i = 0; i < trustedSources.length; ++i) {
            if (trustedSources[i] == 0) revert ZeroChainId();
            _trustedSource[trustedSources[i]] = true;
            emit TrustedSourceAdded(trustedSources[i]);
        }
        _setAttesters(1, attesters_);
    }

    // ─────────────────────────────────────────── Delivery ───────────────────────────────────────────

    /**
     * @notice Verifies and executes an attested message. Anyone may relay; the signatures are the
     * authority. Reverts on any verification failure; a reverting handler does not revert this
     * call (the message is stored as failed, see `MessageFailed`).
     * @param m The message.
     * @param signedVersion The attester-set version the signatures are for (must be the current one).
     * @param signatures At least `threshold()` 65-byte signatures over `hashAttestation(m, signedVersion)`,
     * ordered by signer address, strictly ascending.
     * @return executed True if the handler ran successfully, false if the message is now failed.
     */
    function receiveMessage(
        Message calldata m,
        uint32 signedVersion,
        bytes[] calldata signatures
    ) external nonReentrant returns (bool executed) {
        if (m.dstChainId != block.chainid) revert WrongDestination(m.dstChainId, block.chainid);
        if (!_trustedSource[m.srcChainId]) revert UntrustedSource(m.srcChainId);
        AttesterSet memory set = _set;
        if (signedVersion != set.version) revert WrongSetVersion(signedVersion, set.version);
        bytes32 id = Messages.id(m);
        MessageStatus status = _status[id];
        if (status != MessageStatus.None) revert AlreadyDelivered(id, status);
        uint8 space = Messages.nonceSpace(m.kind);
        bytes32 nonceKey = Messages.nonceKey(m.srcChainId, m.kind, m.nonce);
        if (space != Messages.HANDLER_NONCES) {
            bytes32 delivered = _deliveredAt[nonceKey];
            if (delivered != 0) revert NonceAlreadyUsed(m.srcChainId, space, m.nonce, delivered);
        }
        _verifySignatures(_hashTypedDataV4(Messages.structHash(m, signedVersion)), signatures, set);

        // Recorded before any handler runs: even a handler that re-entered could not replay it.
        if (space != Messages.HANDLER_NONCES) _deliveredAt[nonceKey] = id;
        _status[id] = MessageStatus.Executed;
        emit MessageDelivered(id, m.srcChainId, m.nonce, m.kind);

        if (m.kind == Messages.ATTESTER_SET) {
            _rotate(m.payload, set.version);
            emit MessageExecuted(id);
            return true;
        }
        bytes memory reason;
        (executed, reason) = _callHandler(id, m);
        if (executed) {
            emit MessageExecuted(id);
        } else {
            _status[id] = MessageStatus.Failed;
            emit MessageFailed(id, reason);
        }
    }

    /**
     * @notice Executes a failed message again (its signatures were verified on delivery). Anyone
     * may call it, e.g. once a rate limit has refilled or a pause was lifted. Either the handler
     * succeeds and the message is final, or this call reverts with the handler's revert data (cut
     * to `MAX_REASON_BYTES`) and the message stays failed.
     * @param m The message, exactly as delivered.
     */
    function retry(Message calldata m) external nonReentrant {
        bytes32 id = Messages.id(m);
        MessageStatus status = _status[id];
        if (status != MessageStatus.Failed) revert NotFailed(id, status);
        _status[id] = MessageStatus.Executed;
        (bool ok, bytes memory reason) = _callHandler(id, m);
        if (!ok) {
            // Reverting undoes the status change: the message stays failed. The handler's own
            // revert data is passed on so the caller sees why (e.g. RateLimitReached(wait, available)).
            // solhint-disable-next-line no-inline-assembly
            assembly ("memory-safe") {
                revert(add(reason, 0x20), mload(reason))
            }
        }
        emit MessageExecuted(id);
    }

    // ─────────────────────────────────────────── Governance ──────────────────────────────────────────

    /**
     * @notice Registers the handler of a message kind and the gas it gets per message.
     * @param kind The kind (any but ATTESTER_SET, which the inbox handles itself).
     * @param handler The contract (an `IMessageHandler`), or zero to remove the handler.
     * @param gasLimit Gas forwarded to `handleMessage`: a delivery with less gas available reverts
     * instead of failing the message.
     */
    function setHandler(uint8 kind, address handler, uint32 gasLimit) external onlyOwner {
        if (kind == Messages.ATTESTER_SET) revert ReservedKind(kind);
        if (handler != address(0) && handler.code.length == 0) revert HandlerNotContract(handler);
        _handlers[kind] = Handler(handler, gasLimit);
        emit HandlerSet(kind, handler, gasLimit);
    }

    // ───────────────────────────────────────────── Views ─────────────────────────────────────────────

    /// @notice None (never delivered), Failed (retryable) or Executed (final).
    function messageStatus(bytes32 messageId_) external view returns (MessageStatus) {
        return _status[messageId_];
    }

    /**
     * @notice The id of the message delivered under `srcChainId`, the nonce space of `kind`
     * (`Messages.nonceSpace`) and `nonce`, or zero if none was: no other message can be delivered
     * under them. Always zero for EPOCH_REPORT (its handler, Consensus, keeps its own nonces).
     */
    function messageAt(uint64 srcChainId, uint8 kind, uint64 nonce) external view returns (bytes32) {
        return _deliveredAt[Messages.nonceKey(srcChainId, kind, nonce)];
    }

    /// @notice The current attester set, sorted ascending.
    function attesters() external view returns (address[] memory) {
        return _attesters;
    }

    /// @notice Signatures a message needs: `floor(2n/3) + 1` of the current set of `n`.
    function threshold() external view returns (uint256) {
        return _set.threshold;
    }

    /// @notice The current attester-set version (1 at deployment, +1 per rotation).
    function setVersion() external view returns (uint32) {
        return _set.version;
    }

    /// @notice Whether `account` is in the current attester set.
    function isAttester(address account) external view returns (bool) {
        return _memberOf[account] == _set.version;
    }

    /// @notice Whether messages from `chainId` are accepted.
    function isTrustedSource(uint64 chainId) external view returns (bool) {
        return _trustedSource[chainId];
    }

    /// @notice The handler of `kind` and the gas it gets.
    function handlerOf(uint8 kind) external view returns (address handler, uint32 gasLimit) {
        Handler memory h = _handlers[kind];
        return (h.target, h.gasLimit);
    }

    /// @notice The id of `m`: `keccak256(abi.encode(src, dst, nonce, kind, keccak256(payload)))`
    /// (`messageStatus`, `retry` and the events use it; replays are refused by nonce, see `messageAt`).
    function messageId(Message calldata m) external pure returns (bytes32) {
        return Messages.id(m);
    }

    /// @notice The EIP-712 digest the attesters sign for `m` under attester-set `setVersion_`
    /// (domain: "BasedAI MessageInbox", "1", this chain, this inbox).
    function hashAttestation(Message calldata m, uint32 setVersion_) external view returns (bytes32) {
        return _hashTypedDataV4(Messages.structHash(m, setVersion_));
    }

    // ─────────────────────────────────────────── Internals ───────────────────────────────────────────

    /// @dev Threshold signatures or more, each a valid low-s signature by a current member, signers
    /// strictly ascending (so each member counts once).
    function _verifySignatures(
        bytes32 digest,
        bytes[] calldata signatures,
        AttesterSet memory set
    ) private view {
        uint256 count = signatures.length;
        if (count < set.threshold) revert NotEnoughSignatures(count, set.threshold);
        address previous = address(0);
        for (uint256 i = 0; i < count; ++i) {
            (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, signatures[i]);
            if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(i, err);
            if (signer <= previous) revert SignersNotAscending(i, signer, previous);
            if (_memberOf[signer] != set.version) revert NotAttester(i, signer);
            previous = signer;
        }
    }

    /// @dev Calls the kind's handler with exactly its gas limit and keeps at most
    /// `MAX_REASON_BYTES` of its revert data. Reverts the whole transaction when less gas is left
    /// than the handler must get, so "failed" always means "failed with its full gas".
    function _callHandler(bytes32 id, Message calldata m) private returns (bool ok, bytes memory reason) {
        Handler memory h = _handlers[m.kind];
        if (h.target == address(0)) return (false, abi.encodeWithSelector(NoHandler.selector, m.kind));
        bytes memory data = abi.encodeCall(IMessageHandler.handleMessage, (id, m));
        // EIP-150 forwards at most 63/64 of what is left at the CALL.
        uint256 needed = uint256(h.gasLimit) + uint256(h.gasLimit) / 63 + CALL_RESERVE_GAS;
        if (gasleft() < needed) revert InsufficientGasForHandler(gasleft(), needed);
        address target = h.target;
        uint256 gasLimit = h.gasLimit;
        uint256 maxReason = MAX_REASON_BYTES;
        // Solidity's `call` would copy all the return data into memory; assembly bounds the copy.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            ok := call(gasLimit, target, 0, add(data, 0x20), mload(data), 0, 0)
            if iszero(ok) {
                let size := returndatasize()
                if gt(size, maxReason) {
                    size := maxReason
                }
                reason := mload(0x40)
                mstore(reason, size)
                returndatacopy(add(reason, 0x20), 0, size)
                mstore(0x40, add(add(reason, 0x20), and(add(size, 0x1f), not(0x1f))))
            }
        }
    }

    /// @dev Applies an ATTESTER_SET payload signed by the current set.
    function _rotate(bytes calldata payload, uint32 current) private {
        (uint32 newVersion, address[] memory newAttesters) = abi.decode(payload, (uint32, address[]));
        if (newVersion != current + 1) revert WrongNewSetVersion(newVersion, current + 1);
        _setAttesters(newVersion, newAttesters);
    }

    function _setAttesters(uint32 version, address[] memory members) private {
        uint256 size = members.length;
        if (size == 0 || size > MAX_ATTESTERS) revert InvalidAttesterSetSize(size, MAX_ATTESTERS);
        address previous = address(0);
        for (uint256 i = 0; i < size; ++i) {
            address member = members[i];
            // Ascending from zero also refuses the zero address.
            if (member <= previous) revert AttestersNotAscending(i);
            _memberOf[member] = version;
            previous = member;
        }
        _attesters = members;
        // Casts are safe: size <= MAX_ATTESTERS = 32, so the threshold is at most 22.
        uint8 threshold_ = uint8((2 * size) / 3 + 1);
        _set = AttesterSet(version, uint8(size), threshold_);
        emit AttesterSetRotated(version, members, threshold_);
    }
}
