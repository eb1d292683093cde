/**
 * Both ends of the BASED bridge on one Hardhat network. The Based side (BasedToken, its inbox,
 * BasedBridge, BrainRegistry) trusts "Ethereum" = chain 1; the Ethereum side (wBASED, its inbox,
 * EthereumBridge) trusts "the BasedAI chain" = chain 32323. Both inboxes share one attester set of
 * 4 (threshold 3), as the devnet wires them.
 */
import { ethers } from "hardhat";
import type { ContractTransactionResponse } from "ethers";
import type {
  BasedBridge,
  BasedToken,
  BrainRegistry,
  EthereumBridge,
  MessageInbox,
  WrappedBased,
} from "../../../typechain-types";
import {
  BASED_CHAIN,
  ETH_CHAIN,
  Kind,
  LOCAL_CHAIN,
  type Message,
  attesterWallets,
  deliver,
  encodeBridgeTransfer,
  eventNonce,
} from "../messaging/messages";

/** `n` whole BASED (18 decimals). */
export const BASED = (n: bigint | number): bigint => BigInt(n) * 10n ** 18n;

/** Default limits of both directions. */
export const LIMITS = { maxTransfer: BASED(1_000), capacity: BASED(1_000), rate: BASED(1) } as const;
export const HANDLER_GAS = 200_000n;

export interface BridgeLimits {
  maxTransfer: bigint;
  capacity: bigint;
  rate: bigint;
}

/** Deploys both sides with `limits` on both bridges; alice and bob hold 1,000,000 BASED each and
 *  approved BasedBridge. */
export async function deployBridgesWith(limits: BridgeLimits) {
  const [admin, guardian, alice, bob, mallory] = await ethers.getSigners();
  if (!admin || !guardian || !alice || !bob || !mallory) throw new Error("need 5 signers");
  const attesters = attesterWallets(4);
  const quorum = attesters.slice(0, 3);
  const members = attesters.map((a) => a.address);

  // ── BasedAI chain side ──
  const based = (await ethers.deployContract("BasedToken", [admin.address])) as unknown as BasedToken;
  await based.grantRole(await based.MINTER_ROLE(), admin.address);
  const basedInbox = (await ethers.deployContract("MessageInbox", [
    members,
    [ETH_CHAIN],
    admin.address,
  ])) as unknown as MessageInbox;
  const basedBridge = (await ethers.deployContract("BasedBridge", [
    await based.getAddress(),
    await basedInbox.getAddress(),
    ETH_CHAIN,
    admin.address,
    guardian.address,
    limits.maxTransfer,
    limits.capacity,
    limits.rate,
  ])) as unknown as BasedBridge;
  const registry = (await ethers.deployContract("BrainRegistry", [
    await basedInbox.getAddress(),
    ETH_CHAIN,
  ])) as unknown as BrainRegistry;
  await basedInbox.setHandler(Kind.BRIDGE_TRANSFER, await basedBridge.getAddress(), HANDLER_GAS);
  await basedInbox.setHandler(Kind.BRAIN_EVENT, await registry.getAddress(), HANDLER_GAS);

  // ── Ethereum side ──
  const wbased = (await ethers.deployContract("WrappedBased", [
    admin.address,
    admin.address,
  ])) as unknown as WrappedBased;
  const ethInbox = (await ethers.deployContract("MessageInbox", [
    members,
    [BASED_CHAIN],
    admin.address,
  ])) as unknown as MessageInbox;
  const ethBridge = (await ethers.deployContract("EthereumBridge", [
    await wbased.getAddress(),
    await ethInbox.getAddress(),
    BASED_CHAIN,
    admin.address,
    guardian.address,
    limits.maxTransfer,
    limits.capacity,
    limits.rate,
  ])) as unknown as EthereumBridge;
  await wbased.setBridge(await ethBridge.getAddress());
  await ethInbox.setHandler(Kind.BRIDGE_TRANSFER, await ethBridge.getAddress(), HANDLER_GAS);

  const bridgeAddr = await basedBridge.getAddress();
  for (const who of [alice, bob]) {
    await based.mint(who.address, BASED(1_000_000));
    await based.connect(who).approve(bridgeAddr, ethers.MaxUint256);
  }

  /** The BRIDGE_TRANSFER message an attester makes from the BridgeLocked/BridgeBurned log of `tx`. */
  async function messageOf(tx: ContractTransactionResponse): Promise<Message> {
    const receipt = await tx.wait();
    if (!receipt) throw new Error("no receipt");
    for (const log of receipt.logs) {
      const locked = log.address === bridgeAddr ? basedBridge.interface.parseLog(log) : null;
      const burned =
        log.address === (await ethBridge.getAddress()) ? ethBridge.interface.parseLog(log) : null;
      const event =
        locked?.name === "BridgeLocked" ? locked : burned?.name === "BridgeBurned" ? burned : null;
      if (!event) continue;
      const [sender, recipient, amount] = event.args as unknown as [string, string, bigint];
      return {
        srcChainId: event === locked ? BASED_CHAIN : ETH_CHAIN,
        dstChainId: LOCAL_CHAIN,
        nonce: eventNonce(receipt.blockNumber, log.index),
        kind: Kind.BRIDGE_TRANSFER,
        payload: encodeBridgeTransfer(sender, recipient, amount),
      };
    }
    throw new Error("no BridgeLocked or BridgeBurned event in the transaction");
  }

  /** Delivers `m` to the inbox of its destination side, signed by a quorum. */
  function relay(m: Message) {
    return deliver(m.srcChainId === BASED_CHAIN ? ethInbox : basedInbox, m, quorum);
  }

  /** The inbox that executes `m`. */
  const inboxOf = (m: Message) => (m.srcChainId === BASED_CHAIN ? ethInbox : basedInbox);

  return {
    admin,
    guardian,
    alice,
    bob,
    mallory,
    attesters,
    quorum,
    based,
    basedInbox,
    basedBridge,
    registry,
    wbased,
    ethInbox,
    ethBridge,
    messageOf,
    relay,
    inboxOf,
    limits,
  };
}

export type Bridges = Awaited<ReturnType<typeof deployBridgesWith>>;

/** Both sides with the default limits (max 1,000 BASED per transfer, bucket 1,000, 1 BASED/s). */
export function deployBridges(): Promise<Bridges> {
  return deployBridgesWith(LIMITS);
}
