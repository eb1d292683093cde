/**
 * Attested messages in the tests (docs/protocol.md): build messages, derive their ids and nonces,
 * and sign them the way the oracle attesters do (EIP-712 with ethers Wallets). The oracle's own
 * implementation (`protocol/message.ts`, viem) must agree with this file bit for bit;
 * `MessageInbox.hashAttestation` and `messageId` are the on-chain cross-check.
 */
import {
  AbiCoder,
  type BaseWallet,
  Signature,
  Wallet,
  keccak256,
  id as hashText,
  type TypedDataDomain,
} from "ethers";
import type { MessageInbox } from "../../../typechain-types";

const abi = AbiCoder.defaultAbiCoder();

/** Message kinds (`Messages.sol`). */
export const Kind = {
  BRAIN_EVENT: 1,
  BRIDGE_TRANSFER: 2,
  GIGABRAIN_SET: 3,
  GOVERNANCE_CALL: 4,
  ATTESTER_SET: 5,
  EPOCH_REPORT: 6,
} as const;

/** `Messages.nonceSpace(kind)`: event kinds share the source chain's log positions; EPOCH_REPORT's
 *  nonces are kept by its handler (Consensus), not the inbox. */
export const NonceSpace = { EVENT_LOG: 0, ATTESTER_SET: 5, HANDLER: 255 } as const;

/** `MessageInbox.MessageStatus`. */
export const Status = { None: 0n, Failed: 1n, Executed: 2n } as const;

/** `ECDSA.RecoverError` as carried by `InvalidSignature(index, reason)`. */
export const RecoverError = {
  InvalidSignature: 1n,
  InvalidSignatureLength: 2n,
  InvalidSignatureS: 3n,
} as const;

/** The chain ids of the tests: one Hardhat network (31337) plays both chains, so each inbox
 *  trusts a made-up peer id. dst is always 31337 = block.chainid. */
export const LOCAL_CHAIN = 31337n;
/** "Ethereum" as the Based-side inbox, bridge and registry see it. */
export const ETH_CHAIN = 1n;
/** "The BasedAI chain" as the Ethereum-side inbox and bridge see it. */
export const BASED_CHAIN = 32323n;

export interface Message {
  srcChainId: bigint;
  dstChainId: bigint;
  nonce: bigint;
  kind: number;
  payload: string;
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
};

/** The EIP-712 domain of a destination inbox. */
export function inboxDomain(chainId: bigint, inbox: string): TypedDataDomain {
  return { name: "BasedAI MessageInbox", version: "1", chainId, verifyingContract: inbox };
}

/** The nonce of the message made from one event log: `(blockNumber << 32) | logIndex`. */
export function eventNonce(blockNumber: bigint | number, logIndex: number): bigint {
  return (BigInt(blockNumber) << 32n) | BigInt(logIndex);
}

/** Replay key: `keccak256(abi.encode(src, dst, nonce, kind, keccak256(payload)))`. */
export function messageId(m: Message): string {
  return keccak256(
    abi.encode(
      ["uint64", "uint64", "uint64", "uint8", "bytes32"],
      [m.srcChainId, m.dstChainId, m.nonce, m.kind, keccak256(m.payload)],
    ),
  );
}

/** Threshold of a set of `n`: floor(2n/3) + 1. */
export const thresholdOf = (n: number): number => Math.floor((2 * n) / 3) + 1;

// ─────────────────────────────────────────── payloads ───────────────────────────────────────────

export function encodeBridgeTransfer(sender: string, recipient: string, amount: bigint): string {
  return abi.encode(["address", "address", "uint256"], [sender, recipient, amount]);
}

export interface BrainSnapshot {
  brainId: bigint;
  owner: string;
  class: number;
  unlockAt: bigint;
  basedWallet: string;
  active: boolean;
}

export function encodeBrainEvent(s: BrainSnapshot): string {
  return abi.encode(
    ["uint256", "address", "uint8", "uint64", "address", "bool"],
    [s.brainId, s.owner, s.class, s.unlockAt, s.basedWallet, s.active],
  );
}

/** ATTESTER_SET payload; `attesters` is encoded as given (sort it unless testing a refusal). */
export function encodeAttesterSet(newVersion: number | bigint, attesters: readonly string[]): string {
  return abi.encode(["uint32", "address[]"], [newVersion, attesters]);
}

// ─────────────────────────────────────────── signing ────────────────────────────────────────────

const byAddress = (a: string, b: string): number =>
  BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0;

/** Addresses sorted ascending (numerically), as the inbox wants attester sets. */
export function sortAddresses(addresses: readonly string[]): string[] {
  return [...addresses].sort(byAddress);
}

/** `n` deterministic attester wallets (keys from `seed`), sorted by address. */
export function attesterWallets(n: number, seed = "attester"): Wallet[] {
  const wallets = Array.from({ length: n }, (_, i) => new Wallet(hashText(`${seed}-${i}`)));
  return wallets.sort((a, b) => byAddress(a.address, b.address));
}

/** One attester's EIP-712 signature (65 bytes, low s) of `m` for the inbox's set `setVersion`. */
export function signAttestation(
  wallet: BaseWallet,
  domain: TypedDataDomain,
  m: Message,
  setVersion: number | bigint,
): Promise<string> {
  return wallet.signTypedData(domain, ATTESTATION_TYPES, { ...m, setVersion });
}

/** Signatures of every wallet, ordered by signer address (what the inbox accepts). */
export async function signSorted(
  wallets: readonly BaseWallet[],
  domain: TypedDataDomain,
  m: Message,
  setVersion: number | bigint,
): Promise<string[]> {
  const sorted = [...wallets].sort((a, b) => byAddress(a.address, b.address));
  return Promise.all(sorted.map((w) => signAttestation(w, domain, m, setVersion)));
}

/** The same signature with `s' = n - s` and `v` flipped: valid for raw ecrecover, malleable. */
export function toHighS(signature: string): string {
  const sig = Signature.from(signature);
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const highS = n - BigInt(sig.s);
  const v = sig.v === 27 ? 28 : 27;
  return sig.r + highS.toString(16).padStart(64, "0") + v.toString(16).padStart(2, "0");
}

/** Signs `m` with `wallets` for `inbox`'s current set version and delivers it. */
export async function deliver(
  inbox: MessageInbox,
  m: Message,
  wallets: readonly BaseWallet[],
  overrides: { gasLimit?: bigint } = {},
) {
  const version = await inbox.setVersion();
  const domain = inboxDomain(LOCAL_CHAIN, await inbox.getAddress());
  const signatures = await signSorted(wallets, domain, m, version);
  return inbox.receiveMessage(m, version, signatures, overrides);
}
