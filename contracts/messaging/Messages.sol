// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/**
 * @notice An attested message (docs/protocol.md): one event on the source chain, carried to the
 * destination chain's MessageInbox under a threshold of the oracle attesters' signatures.
 * @param srcChainId Chain the event happened on.
 * @param dstChainId Chain whose inbox executes it (equals `block.chainid` there).
 * @param nonce `(blockNumber << 32) | logIndex` of the source event: unique per source chain. EPOCH_REPORT
 * and ATTESTER_SET number themselves (see `Messages.nonceSpace`).
 * @param kind What the payload is (`Messages.BRAIN_EVENT` …).
 * @param payload ABI-encoded per kind.
 */
struct Message {
    uint64 srcChainId;
    uint64 dstChainId;
    uint64 nonce;
    uint8 kind;
    bytes payload;
}

/**
 * @title Messages
 * @notice The message kinds, the message id, the nonce spaces and the EIP-712 struct hash of docs/protocol.md, in one
 * place for the inbox, the handlers and the tests that mirror them.
 */
library Messages {
    /// @notice A Brain's full state after an event on BrainNFT (Ethereum → BasedAI).
    /// Payload: `(uint256 brainId, address owner, uint8 class, uint64 unlockAt, address basedWallet, bool active)`.
    uint8 internal constant BRAIN_EVENT = 1;
    /// @notice A bridge lock or burn. Payload: `(address sender, address recipient, uint256 amount)`.
    uint8 internal constant BRIDGE_TRANSFER = 2;
    /// @notice The GigaBrains (≥ 0.5 % of all stake) at a BasedAI block (BasedAI → Ethereum, GigaBrainSets).
    /// Payload: `(uint64 basedBlock, uint16[] brainIds)`, ids strictly ascending, each below 1024.
    uint8 internal constant GIGABRAIN_SET = 3;
    /// @notice A governance call (Ethereum → BasedAI): GovernanceOutbox's `GovernanceCallSent`, for
    /// GovernanceCallReceiver. Payload: `(uint64 dstChainId, address target, uint256 value, bytes data, bytes32 salt)`.
    uint8 internal constant GOVERNANCE_CALL = 4;
    /// @notice A new attester set, handled by the inbox itself.
    /// Payload: `(uint32 newVersion, address[] newAttesters)`, sorted ascending.
    uint8 internal constant ATTESTER_SET = 5;
    /// @notice An epoch's rewards report (BasedAI → BasedAI, from the attesters' own computation).
    /// Payload: `Consensus.ReportPayload`.
    uint8 internal constant EPOCH_REPORT = 6;

    /// @notice The nonce space of the kinds made from one event log: a log's position
    /// `(blockNumber << 32) | logIndex` is unique on its chain whichever contract emitted it, so
    /// BRAIN_EVENT, BRIDGE_TRANSFER, GIGABRAIN_SET and GOVERNANCE_CALL share it.
    uint8 internal constant EVENT_LOG_NONCES = 0;
    /// @notice The "space" of kinds whose handler keeps its own used nonces, so the inbox does not:
    /// EPOCH_REPORT, whose nonce is `2^63 | (epoch << 32) | revision` and which Consensus accepts
    /// at most once per (epoch, revision) that takes effect (a report it rejects without effect,
    /// e.g. one delivered before its epoch ended, must not block the correct one).
    uint8 internal constant HANDLER_NONCES = type(uint8).max;

    /// @notice EIP-712 type hash of what the attesters sign.
    bytes32 internal constant ATTESTATION_TYPEHASH = keccak256(
        "Attestation(uint64 srcChainId,uint64 dstChainId,uint64 nonce,uint8 kind,uint32 setVersion,bytes payload)"
    );

    /// @notice The message id: independent of the signing domain and the attester-set version, so a
    /// message re-signed by a new set is still the same message. (Replays are refused by nonce:
    /// `nonceKey`.)
    function id(Message calldata m) internal pure returns (bytes32) {
        return keccak256(abi.encode(m.srcChainId, m.dstChainId, m.nonce, m.kind, keccak256(m.payload)));
    }

    /**
     * @notice Where the nonces of `kind` are allocated, so that one allocation names one message:
     * event kinds use the log's position on the source chain (`EVENT_LOG_NONCES`, shared: one log,
     * one message); ATTESTER_SET uses the new set version (a space of its own, `ATTESTER_SET`);
     * EPOCH_REPORT's (epoch, revision) nonces are Consensus's, which enforces them
     * (`HANDLER_NONCES`). A new kind whose nonce is not an event log's position must get its own
     * space here.
     */
    function nonceSpace(uint8 kind) internal pure returns (uint8) {
        if (kind == EPOCH_REPORT) return HANDLER_NONCES;
        return kind == ATTESTER_SET ? ATTESTER_SET : EVENT_LOG_NONCES;
    }

    /// @notice The key of the inbox's used nonces: `keccak256(abi.encode(srcChainId, nonceSpace(kind), nonce))`.
    /// At most one message is ever delivered under it, whatever its payload.
    function nonceKey(uint64 srcChainId, uint8 kind, uint64 nonce) internal pure returns (bytes32) {
        return keccak256(abi.encode(srcChainId, nonceSpace(kind), nonce));
    }

    /// @notice EIP-712 `hashStruct` of the attestation of `m` for attester-set `setVersion`.
    function structHash(Message calldata m, uint32 setVersion) internal pure returns (bytes32) {
        return
            keccak256(
                abi.encode(
                    ATTESTATION_TYPEHASH,
                    m.srcChainId,
                    m.dstChainId,
                    m.nonce,
                    m.kind,
                    setVersion,
                    keccak256(m.payload)
                )
            );
    }
}
