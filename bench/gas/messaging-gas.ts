/**
 * Gas of attested messages and the BASED bridge (issue 4), on Hardhat's in-process network.
 *
 *   npx hardhat run bench/gas/messaging-gas.ts
 *
 * Prints a markdown table: processing a BRIDGE_TRANSFER (verify + mint wBASED) with attester sets
 * of 3, 13 and 19 (threshold 3, 9 and 13 signatures; Wormhole's guardian set is 19 with quorum 13),
 * the other message kinds, lock, burn, a rate-limited delivery and its retry.
 */
import { ethers } from "hardhat";
import type { BaseWallet, ContractTransaction, Signer } from "ethers";
import type {
  BasedBridge,
  BasedToken,
  BrainRegistry,
  EthereumBridge,
  MessageInbox,
  WrappedBased,
} from "../../typechain-types";
import {
  BASED_CHAIN,
  ETH_CHAIN,
  Kind,
  LOCAL_CHAIN,
  type Message,
  attesterWallets,
  deliver,
  encodeAttesterSet,
  encodeBrainEvent,
  encodeBridgeTransfer,
  inboxDomain,
  signSorted,
  thresholdOf,
} from "../../test/contracts/messaging/messages";

const BASED = (n: bigint | number): bigint => BigInt(n) * 10n ** 18n;
const HANDLER_GAS = 200_000n;
let nonce = 1n;

/** Gas a transaction used, and the smallest gas limit it succeeds with. */
interface Gas {
  used: bigint;
  limit: bigint;
}

/**
 * Finds the smallest gas limit `tx` succeeds with (a binary search over eth_call, as
 * eth_estimateGas does; done here because the node's estimator gives up on a transaction whose
 * inner call reverts on purpose), then sends it.
 */
async function measured(tx: ContractTransaction, signer: Signer): Promise<Gas> {
  const from = await signer.getAddress();
  let lo = 21_000n;
  let hi = 5_000_000n;
  while (lo < hi) {
    const mid = (lo + hi) / 2n;
    try {
      await ethers.provider.call({ ...tx, from, gasLimit: mid });
      hi = mid;
    } catch {
      lo = mid + 1n;
    }
  }
  const receipt = await (await signer.sendTransaction(tx)).wait();
  return { used: receipt!.gasUsed, limit: lo };
}

/** Signs `m` with `wallets` for the inbox's current set and measures its delivery. */
async function delivery(inbox: MessageInbox, m: Message, wallets: readonly BaseWallet[]): Promise<Gas> {
  const [relayer] = await ethers.getSigners();
  const version = await inbox.setVersion();
  const sigs = await signSorted(wallets, inboxDomain(LOCAL_CHAIN, await inbox.getAddress()), m, version);
  return measured(await inbox.receiveMessage.populateTransaction(m, version, sigs), relayer!);
}

/** A fixed address per label (fresh, holding nothing), so every run prices the same calldata. */
const account = (label: string): string => ethers.getAddress(ethers.id(label).slice(0, 42));

const transfer = (src: bigint, amount: bigint): Message => ({
  srcChainId: src,
  dstChainId: LOCAL_CHAIN,
  nonce: nonce++,
  kind: Kind.BRIDGE_TRANSFER,
  payload: encodeBridgeTransfer(account(`sender-${nonce}`), account(`recipient-${nonce}`), amount),
});

/** The Ethereum side with an attester set of `n`. */
async function ethereumSide(n: number, capacity = BASED(1_000_000)) {
  const [admin] = await ethers.getSigners();
  const attesters = attesterWallets(n, `bench-${n}`);
  const wbased = (await ethers.deployContract("WrappedBased", [
    admin!.address,
    admin!.address,
  ])) as unknown as WrappedBased;
  const inbox = (await ethers.deployContract("MessageInbox", [
    attesters.map((a) => a.address),
    [BASED_CHAIN],
    admin!.address,
  ])) as unknown as MessageInbox;
  const bridge = (await ethers.deployContract("EthereumBridge", [
    await wbased.getAddress(),
    await inbox.getAddress(),
    BASED_CHAIN,
    admin!.address,
    admin!.address,
    BASED(1_000_000),
    capacity,
    BASED(1),
  ])) as unknown as EthereumBridge;
  await wbased.setBridge(await bridge.getAddress());
  await inbox.setHandler(Kind.BRIDGE_TRANSFER, await bridge.getAddress(), HANDLER_GAS);
  return { attesters, quorum: attesters.slice(0, thresholdOf(n)), wbased, inbox, bridge };
}

async function main() {
  const [admin, alice] = await ethers.getSigners();
  const rows: [string, string, Gas][] = [];

  // ── Processing a message: signatures scale the cost ──
  for (const n of [3, 13, 19]) {
    const { inbox, quorum } = await ethereumSide(n);
    await deliver(inbox, transfer(BASED_CHAIN, BASED(1)), quorum); // warm the bridge's storage
    const gas = await delivery(inbox, transfer(BASED_CHAIN, BASED(1)), quorum);
    rows.push([`receiveMessage BRIDGE_TRANSFER → mint wBASED, set of ${n}`, `${quorum.length}`, gas]);
  }

  // ── The Based side: release, BRAIN_EVENT, rotation ──
  const attesters = attesterWallets(3, "bench-3");
  const based = (await ethers.deployContract("BasedToken", [admin!.address])) as unknown as BasedToken;
  await based.grantRole(await based.MINTER_ROLE(), admin!.address);
  const basedInbox = (await ethers.deployContract("MessageInbox", [
    attesters.map((a) => a.address),
    [ETH_CHAIN],
    admin!.address,
  ])) as unknown as MessageInbox;
  const basedBridge = (await ethers.deployContract("BasedBridge", [
    await based.getAddress(),
    await basedInbox.getAddress(),
    ETH_CHAIN,
    admin!.address,
    admin!.address,
    BASED(1_000_000),
    BASED(1_000_000),
    BASED(1),
  ])) as unknown as BasedBridge;
  const registry = (await ethers.deployContract("BrainRegistry", [
    await basedInbox.getAddress(),
    ETH_CHAIN,
  ])) as unknown as BrainRegistry;
  await basedInbox.setHandler(Kind.BRIDGE_TRANSFER, await basedBridge.getAddress(), HANDLER_GAS);
  await basedInbox.setHandler(Kind.BRAIN_EVENT, await registry.getAddress(), HANDLER_GAS);
  await based.mint(alice!.address, BASED(1_000_000));
  await based.connect(alice!).approve(await basedBridge.getAddress(), ethers.MaxUint256);

  // lock: the second one (the bridge already holds BASED, the sender keeps a balance).
  await basedBridge.connect(alice!).lock(alice!.address, BASED(10));
  rows.push([
    "BasedBridge.lock",
    "–",
    await measured(await basedBridge.lock.populateTransaction(alice!.address, BASED(10)), alice!),
  ]);
  await deliver(basedInbox, transfer(ETH_CHAIN, BASED(1)), attesters);
  rows.push([
    "receiveMessage BRIDGE_TRANSFER → release BASED, set of 3",
    "3",
    await delivery(basedInbox, transfer(ETH_CHAIN, BASED(1)), attesters),
  ]);
  const brainEvent = (brainId: bigint): Message => ({
    srcChainId: ETH_CHAIN,
    dstChainId: LOCAL_CHAIN,
    nonce: nonce++,
    kind: Kind.BRAIN_EVENT,
    payload: encodeBrainEvent({
      brainId,
      owner: alice!.address,
      class: 3,
      unlockAt: 1_900_000_000n,
      basedWallet: alice!.address,
      active: true,
    }),
  });
  rows.push([
    "receiveMessage BRAIN_EVENT (new Brain), set of 3",
    "3",
    await delivery(basedInbox, brainEvent(8n), attesters),
  ]);
  rows.push([
    "receiveMessage BRAIN_EVENT (update), set of 3",
    "3",
    await delivery(basedInbox, brainEvent(8n), attesters),
  ]);
  const rotation: Message = {
    srcChainId: ETH_CHAIN,
    dstChainId: LOCAL_CHAIN,
    nonce: 2n,
    kind: Kind.ATTESTER_SET,
    payload: encodeAttesterSet(
      2,
      attesterWallets(3, "bench-next").map((a) => a.address),
    ),
  };
  rows.push([
    "receiveMessage ATTESTER_SET (3 → 3 new members)",
    "3",
    await delivery(basedInbox, rotation, attesters),
  ]);

  // ── Ethereum side: burn, a rate-limited delivery and its retry ──
  const eth = await ethereumSide(3, BASED(100));
  await deliver(
    eth.inbox,
    {
      ...transfer(BASED_CHAIN, 0n),
      payload: encodeBridgeTransfer(alice!.address, alice!.address, BASED(60)),
    },
    eth.quorum,
  );
  await eth.bridge.connect(alice!).burn(alice!.address, BASED(10));
  rows.push([
    "EthereumBridge.burn",
    "–",
    await measured(await eth.bridge.burn.populateTransaction(alice!.address, BASED(10)), alice!),
  ]);
  const waiting = transfer(BASED_CHAIN, BASED(90));
  rows.push([
    "receiveMessage over the rate limit → stored as failed, set of 3",
    "3",
    await delivery(eth.inbox, waiting, eth.quorum),
  ]);
  await ethers.provider.send("evm_increaseTime", [100]);
  await ethers.provider.send("evm_mine", []);
  rows.push([
    "retry (after the refill) → mint wBASED",
    "–",
    await measured(await eth.inbox.retry.populateTransaction(waiting), admin!),
  ]);

  const fmt = (n: bigint) => n.toLocaleString("en-US");
  console.log("| operation | signatures verified | gas used | gas limit needed |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const [op, sigs, gas] of rows)
    console.log(`| ${op} | ${sigs} | ${fmt(gas.used)} | ${fmt(gas.limit)} |`);
  const [g3, g13, g19] = rows.slice(0, 3).map((r) => r[2].used) as [bigint, bigint, bigint];
  console.log(
    `\nMarginal cost per extra signature: ${fmt((g13 - g3) / 6n)} (3 → 9), ${fmt((g19 - g13) / 4n)} (9 → 13).`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
