/**
 * Attested messages (docs/protocol.md): the one cross-chain primitive. Pure functions: building,
 * identifying, encoding and checking messages; nothing here does I/O.
 */
import {
  type Address,
  type Hex,
  decodeAbiParameters,
  encodeAbiParameters,
  hashTypedData,
  keccak256,
  recoverTypedDataAddress,
} from "viem";
import { z } from "zod";
import { hexBytesSchema } from "./schemas";

export const MessageKind = {
  BRAIN_EVENT: 1,
  BRIDGE_TRANSFER: 2,
  GIGABRAIN_SET: 3,
  GOVERNANCE_CALL: 4,
  ATTESTER_SET: 5,
  EPOCH_REPORT: 6,
} as const;
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

export type Message = {
  srcChainId: bigint;
  dstChainId: bigint;
  /**
   * `(blockNumber << 32) | logIndex` of the source event; kinds no event makes number themselves
   * (EPOCH_REPORT: `reportNonce`, GIGABRAIN_SET: `gigaBrainSetNonce`, ATTESTER_SET: the new version).
   */
  nonce: bigint;
  kind: MessageKind;
  payload: Hex;
};

const uint64 = z.coerce.bigint().refine((v) => v >= 0n && v < 1n << 64n, "expected a uint64");

/** A message as it travels in JSON (bigints as decimal strings), validated on arrival. */
export const messageJsonSchema = z.object({
  srcChainId: uint64,
  dstChainId: uint64,
  nonce: uint64,
  kind: z.union(Object.values(MessageKind).map((k) => z.literal(k))) as z.ZodType<MessageKind>,
  payload: hexBytesSchema.refine((p) => p.length <= 2 + 2 * 16_384, "payload larger than 16 KiB"),
});

export function messageToJson(m: Message) {
  return {
    ...m,
    srcChainId: m.srcChainId.toString(),
    dstChainId: m.dstChainId.toString(),
    nonce: m.nonce.toString(),
  };
}

/** The nonce of the message made from one event log. */
export function eventNonce(blockNumber: bigint, logIndex: number): bigint {
  if (logIndex < 0 || logIndex >= 2 ** 32) throw new RangeError(`log index ${logIndex} out of range`);
  return (blockNumber << 32n) | BigInt(logIndex);
}

/** Replay key, independent of the signing domain and the attester-set version. */
export function messageId(m: Message): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "uint64" }, { type: "uint64" }, { type: "uint64" }, { type: "uint8" }, { type: "bytes32" }],
      [m.srcChainId, m.dstChainId, m.nonce, m.kind, keccak256(m.payload)],
    ),
  );
}

export const ATTESTATION_TYPES = {
  Attestation: [
    { name: "srcChainId", type: "uint64" },
    { name: "dstChainId", type: "uint64" },
    { name: "nonce", type: "uint64" },
    { name: "kind", type: "uint8" },
    { name: "setVersion", type: "uint32" },
    { name: "payload", type: "bytes" },
  ],
} as const;

/** EIP-712 typed data an attester signs for the destination inbox. */
export function attestationTypedData(m: Message, setVersion: number, inbox: Address) {
  return {
    domain: { name: "BasedAI MessageInbox", version: "1", chainId: m.dstChainId, verifyingContract: inbox },
    types: ATTESTATION_TYPES,
    primaryType: "Attestation" as const,
    message: { ...m, setVersion },
  };
}

export function attestationDigest(m: Message, setVersion: number, inbox: Address): Hex {
  return hashTypedData(attestationTypedData(m, setVersion, inbox));
}

export function recoverAttester(
  m: Message,
  setVersion: number,
  inbox: Address,
  signature: Hex,
): Promise<Address> {
  return recoverTypedDataAddress({ ...attestationTypedData(m, setVersion, inbox), signature });
}

/** Threshold of an attester set of `n`: floor(2n/3) + 1. */
export function attesterThreshold(n: number): number {
  return Math.floor((2 * n) / 3) + 1;
}

export type SignedBy = { signer: Address; signature: Hex };

/** The signatures the inbox wants: distinct signers, sorted ascending, exactly `threshold` of them. */
export function pickSignatures(signed: readonly SignedBy[], threshold: number): Hex[] | undefined {
  const bySigner = new Map<string, SignedBy>();
  for (const s of signed) bySigner.set(s.signer.toLowerCase(), s);
  const sorted = [...bySigner.values()].sort((a, b) => (BigInt(a.signer) < BigInt(b.signer) ? -1 : 1));
  return sorted.length >= threshold ? sorted.slice(0, threshold).map((s) => s.signature) : undefined;
}

// ─────────────────────────────────────────── payloads ───────────────────────────────────────────

const BRAIN_EVENT_PARAMS = [
  { name: "brainId", type: "uint256" },
  { name: "owner", type: "address" },
  { name: "class", type: "uint8" },
  { name: "unlockAt", type: "uint64" },
  { name: "basedWallet", type: "address" },
  { name: "active", type: "bool" },
] as const;

export type BrainSnapshot = {
  brainId: bigint;
  owner: Address;
  class: number;
  unlockAt: bigint;
  basedWallet: Address;
  active: boolean;
};

export function encodeBrainEvent(s: BrainSnapshot): Hex {
  return encodeAbiParameters(BRAIN_EVENT_PARAMS, [
    s.brainId,
    s.owner,
    s.class,
    s.unlockAt,
    s.basedWallet,
    s.active,
  ]);
}

export function decodeBrainEvent(payload: Hex): BrainSnapshot {
  const [brainId, owner, cls, unlockAt, basedWallet, active] = decodeAbiParameters(
    BRAIN_EVENT_PARAMS,
    payload,
  );
  return { brainId, owner, class: cls, unlockAt, basedWallet, active };
}

const BRIDGE_TRANSFER_PARAMS = [
  { name: "sender", type: "address" },
  { name: "recipient", type: "address" },
  { name: "amount", type: "uint256" },
] as const;

/** Which way a bridge transfer goes, named by its destination (`based bridge to-ethereum`). */
export type BridgeDirection = "to-ethereum" | "to-based";

export type BridgeTransfer = { sender: Address; recipient: Address; amount: bigint };

export function encodeBridgeTransfer(t: BridgeTransfer): Hex {
  return encodeAbiParameters(BRIDGE_TRANSFER_PARAMS, [t.sender, t.recipient, t.amount]);
}

export function decodeBridgeTransfer(payload: Hex): BridgeTransfer {
  const [sender, recipient, amount] = decodeAbiParameters(BRIDGE_TRANSFER_PARAMS, payload);
  return { sender, recipient, amount };
}

const ATTESTER_SET_PARAMS = [
  { name: "newVersion", type: "uint32" },
  { name: "newAttesters", type: "address[]" },
] as const;

export function encodeAttesterSet(newVersion: number, attesters: readonly Address[]): Hex {
  const sorted = [...attesters].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  return encodeAbiParameters(ATTESTER_SET_PARAMS, [newVersion, sorted]);
}

export function decodeAttesterSet(payload: Hex): { newVersion: number; attesters: readonly Address[] } {
  const [newVersion, attesters] = decodeAbiParameters(ATTESTER_SET_PARAMS, payload);
  return { newVersion, attesters };
}
