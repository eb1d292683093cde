import { expect } from "chai";
import { type Address, type Hex, createWalletClient, erc20Abi, http, parseEther, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { deactivateBrain, getBrain, mintBrainByBurn, mintBrainByStake } from "../../sdk/brain";
import {
  type BridgeContext,
  type BridgeDirection,
  type SentTransfer,
  getBridgeStatus,
  sendBridgeTransfer,
  waitForBridgeTransfer,
} from "../../sdk/bridge";
import { devnetPrivateKey } from "../../sdk/devnet";
import { BRIDGE_DEFAULTS } from "../../ignition/modules/ethereum-contracts";
import {
  brainNFTAbi,
  ethereumBridgeAbi,
  messageInboxAbi,
  wrappedBasedAbi,
} from "../../protocol/generated/abis";
import { type MirroredBrain, getMirroredBrain, mirrorMatches } from "../../sdk/registry";
import { type ChainHandle, type OracleNetwork, startOracleNetwork, waitFor } from "../helpers/oracle";
import { type ChainSettings, connectBased, connectEthereum } from "../../sdk/chain";
import { readDeployments } from "../../sdk/node/deployments-file";

/**
 * The oracle end to end, with real processes: two Hardhat nodes (Ethereum automining, the BasedAI
 * chain with 1-second blocks), four attesters (threshold 3) and a relayer, each its own process
 * that the tests stop, crash (SIGKILL) and start again. Transfers go through the SDK, as the
 * `based bridge` command sends them.
 */
describe("oracle: bridge and Brain mirror with real attester and relayer processes", function () {
  this.timeout(180_000);

  let net: OracleNetwork;
  let inboxes: { ethereum: Address; based: Address };
  let tokens: { based: Address; wbased: Address; basedBridge: Address; ethBridge: Address };
  const user = 2;
  const other = 3;
  const STATUS = { none: 0, failed: 1, executed: 2 } as const;
  const DELIVERY_MS = 30_000;

  const config = (account: number): ChainSettings => ({
    deployments: readDeployments(net.deploymentsFile),
    privateKey: devnetPrivateKey(account),
  });
  const addressOf = (account: number) => privateKeyToAccount(devnetPrivateKey(account)).address;

  async function bridgeContext(account: number): Promise<BridgeContext> {
    return {
      ethereum: await connectEthereum(config(account), { withAccount: true }),
      based: await connectBased(config(account), { withAccount: true }),
      attesterUrls: net.attesterUrls,
    };
  }

  function balance(chain: ChainHandle, token: Address, who: Address): Promise<bigint> {
    return chain.client.readContract({
      address: token,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [who],
    });
  }

  /** Where `sent` executes: the destination chain and its inbox. */
  function destinationOf(direction: BridgeDirection) {
    return direction === "to-ethereum"
      ? { chain: net.ethereum, inbox: inboxes.ethereum }
      : { chain: net.based, inbox: inboxes.based };
  }

  async function inboxStatus(direction: BridgeDirection, id: Hex): Promise<number> {
    const { chain, inbox } = destinationOf(direction);
    return chain.client.readContract({
      address: inbox,
      abi: messageInboxAbi,
      functionName: "messageStatus",
      args: [id],
    });
  }

  /** How many times the destination inbox delivered and executed `id` (each must be exactly 1). */
  async function deliveries(direction: BridgeDirection, id: Hex) {
    const { chain, inbox } = destinationOf(direction);
    const read = (eventName: "MessageDelivered" | "MessageExecuted") =>
      chain.client.getContractEvents({
        address: inbox,
        abi: messageInboxAbi,
        eventName,
        args: { messageId: id },
        fromBlock: 0n,
      });
    const [delivered, executed] = await Promise.all([read("MessageDelivered"), read("MessageExecuted")]);
    return { delivered: delivered.length, executed: executed.length };
  }

  function waitExecuted(sent: SentTransfer, timeoutMs = DELIVERY_MS) {
    return waitFor(
      `${sent.direction} message ${sent.messageId} to execute`,
      async () => (await inboxStatus(sent.direction, sent.messageId)) === STATUS.executed,
      timeoutMs,
    );
  }

  before(async () => {
    net = await startOracleNetwork({ basedBlockTime: 1 });
    const e = net.deployments.ethereum.contracts;
    const b = net.deployments.based!.contracts;
    inboxes = { ethereum: e.MessageInbox!, based: b.MessageInbox };
    tokens = {
      based: b.BasedToken,
      wbased: e.WrappedBased,
      basedBridge: b.BasedBridge,
      ethBridge: e.EthereumBridge!,
    };
  });

  afterEach(function () {
    if (this.currentTest?.state !== "failed" || !net) return;
    for (const s of [net.relayer, ...net.attesters]) {
      console.log(`\n── last lines of ${s.name} ──\n${s.log().split("\n").slice(-15).join("\n")}`);
    }
  });

  after(async () => {
    if (net) await net.stop();
  });

  it("a round trip BASED → wBASED → BASED returns the same amount, each message executed once", async () => {
    const ctx = await bridgeContext(user);
    const me = addressOf(user);
    const amount = parseEther("1234.5");
    const [based0, wbased0] = await Promise.all([
      balance(net.based, tokens.based, me),
      balance(net.ethereum, tokens.wbased, me),
    ]);

    const out = await sendBridgeTransfer(ctx, "to-ethereum", { amount });
    const arrived = await waitForBridgeTransfer(ctx, out, { timeoutMs: DELIVERY_MS });
    expect(arrived.state).to.equal("executed");
    expect(arrived.signatures.valid).to.be.at.least(net.threshold);
    expect(arrived.destination?.transactionHash).to.match(/^0x[0-9a-f]{64}$/);
    expect(await balance(net.ethereum, tokens.wbased, me)).to.equal(wbased0 + amount);
    expect(await balance(net.based, tokens.based, me)).to.equal(based0 - amount);

    const back = await sendBridgeTransfer(ctx, "to-based", { amount });
    expect((await waitForBridgeTransfer(ctx, back, { timeoutMs: DELIVERY_MS })).state).to.equal("executed");
    expect(await balance(net.based, tokens.based, me)).to.equal(based0);
    expect(await balance(net.ethereum, tokens.wbased, me)).to.equal(wbased0);

    expect(await deliveries("to-ethereum", out.messageId)).to.deep.equal({ delivered: 1, executed: 1 });
    expect(await deliveries("to-based", back.messageId)).to.deep.equal({ delivered: 1, executed: 1 });
    const [supply, locked] = await Promise.all([
      net.ethereum.client.readContract({
        address: tokens.wbased,
        abi: wrappedBasedAbi,
        functionName: "totalSupply",
      }),
      balance(net.based, tokens.based, tokens.basedBridge),
    ]);
    expect(supply <= locked, `wBASED supply ${supply} exceeds locked BASED ${locked}`).to.equal(true);
  });

  it("with one attester down the other three still relay (3 of 4)", async () => {
    const down = net.attesters[3]!;
    await down.stop("SIGKILL");
    try {
      const ctx = await bridgeContext(user);
      const sent = await sendBridgeTransfer(ctx, "to-ethereum", { amount: parseEther("10") });
      const status = await waitForBridgeTransfer(ctx, sent, { timeoutMs: DELIVERY_MS });
      expect(status.state).to.equal("executed");
      expect(status.signatures.valid).to.equal(3);
      expect(status.signatures.attesters.find((a) => a.url === down.url)?.status).to.equal("unreachable");
    } finally {
      await down.start();
    }
  });

  it("with two attesters down nothing is relayed; when one comes back the waiting transfers go through, none lost", async () => {
    const [third, fourth] = [net.attesters[2]!, net.attesters[3]!];
    await Promise.all([third.stop("SIGTERM"), fourth.stop("SIGTERM")]);
    const ctx = await bridgeContext(other);
    const me = addressOf(other);
    const wbased0 = await balance(net.ethereum, tokens.wbased, me);
    const first = await sendBridgeTransfer(ctx, "to-ethereum", { amount: parseEther("5") });
    const second = await sendBridgeTransfer(ctx, "to-ethereum", { amount: parseEther("7") });

    // Both are signed by the two live attesters, which is not enough: give the relayer ample time.
    await waitFor(
      "the two live attesters to sign both transfers",
      async () =>
        (await getBridgeStatus(ctx, second.messageId, { message: second.message })).signatures.valid === 2 &&
        (await getBridgeStatus(ctx, first.messageId, { message: first.message })).signatures.valid === 2,
      DELIVERY_MS,
    );
    await new Promise((r) => setTimeout(r, 4_000));
    for (const sent of [first, second]) {
      expect(await inboxStatus(sent.direction, sent.messageId), "relayed below the threshold").to.equal(
        STATUS.none,
      );
      expect((await getBridgeStatus(ctx, sent.messageId, { message: sent.message })).state).to.equal(
        "pending",
      );
    }

    await third.start(); // it catches up from its journal's cursor and signs what it missed
    await Promise.all([waitExecuted(first), waitExecuted(second)]);
    expect(await balance(net.ethereum, tokens.wbased, me)).to.equal(wbased0 + parseEther("12"));
    for (const sent of [first, second]) {
      expect(await deliveries(sent.direction, sent.messageId)).to.deep.equal({ delivered: 1, executed: 1 });
    }
    await fourth.start();
  });

  it("a relayer killed (SIGKILL) with deliveries in flight and restarted delivers each message exactly once", async () => {
    const ctx = await bridgeContext(other);
    const me = addressOf(other);
    const based0 = await balance(net.based, tokens.based, me);
    const bridgeBefore = await balance(net.based, tokens.based, tokens.basedBridge);
    // Hold the BasedAI chain's blocks so the relayer's transactions sit in the mempool when it dies.
    await net.based.rpc("evm_setIntervalMining", [0]);
    const sent: SentTransfer[] = [];
    try {
      for (let i = 0; i < 3; i++)
        sent.push(await sendBridgeTransfer(ctx, "to-based", { amount: parseEther("1") }));
      await waitFor(
        "three relayer transactions pending on the BasedAI chain",
        async () => {
          const block = (await net.based.rpc("eth_getBlockByNumber", ["pending", true])) as {
            transactions: { from: string }[];
          };
          return (
            block.transactions.filter((t) => t.from.toLowerCase() === net.relayer.address.toLowerCase())
              .length >= 3
          );
        },
        DELIVERY_MS,
        50,
      );
      await net.relayer.stop("SIGKILL");
      for (const s of sent) expect(await inboxStatus(s.direction, s.messageId)).to.equal(STATUS.none);
      // One more while the relayer is down; then it comes back before the held blocks are mined:
      // nothing is executed yet, so it must not trust its memory but the chain (it simulates
      // against the pending block, where its dead predecessor's transactions already are).
      sent.push(await sendBridgeTransfer(ctx, "to-based", { amount: parseEther("1") }));
      await net.relayer.start();
      await new Promise((r) => setTimeout(r, 1_500));
    } finally {
      await net.based.rpc("evm_setIntervalMining", [1_000]);
    }
    await Promise.all(sent.map((s) => waitExecuted(s)));
    await new Promise((r) => setTimeout(r, 3_000)); // let any duplicate submission land (and revert)
    for (const s of sent)
      expect(await deliveries(s.direction, s.messageId)).to.deep.equal({ delivered: 1, executed: 1 });
    expect(await balance(net.based, tokens.based, me)).to.equal(based0 + parseEther("4"));
    expect(await balance(net.based, tokens.based, tokens.basedBridge)).to.equal(
      bridgeBefore - parseEther("4"),
    );
  });

  it("a Brain mint, transfer and deactivation on Ethereum are mirrored in BrainRegistry", async () => {
    const owner = await connectEthereum(config(other), { withAccount: true });
    const based = await connectBased(config(other));
    const buyer = addressOf(4);
    const mirrorWhen = (what: string, id: number, ready: (m: MirroredBrain) => boolean) =>
      waitFor(
        what,
        async () => {
          const m = await getMirroredBrain(based, id);
          return ready(m) ? m : undefined;
        },
        DELIVERY_MS,
      );

    const burn = await mintBrainByBurn(owner);
    let mirror = await mirrorWhen(`Brain #${burn.id} to be mirrored`, burn.id, (m) => m.active);
    expect(mirror).to.include({ owner: addressOf(other), class: "burn", active: true, earnsRewards: true });

    const wallet = owner.walletClient!;
    const hash = await wallet.writeContract({
      address: net.deployments.ethereum.contracts.BrainNFT,
      abi: brainNFTAbi,
      functionName: "transferFrom",
      args: [addressOf(other), buyer, BigInt(burn.id)],
    });
    await owner.publicClient.waitForTransactionReceipt({ hash });
    mirror = await mirrorWhen(
      `Brain #${burn.id}'s transfer to be mirrored`,
      burn.id,
      (m) => m.owner === buyer,
    );
    // A transfer resets the linked wallet to the new owner (docs/decisions.md).
    expect(mirror).to.include({ owner: buyer, basedWallet: buyer, active: true });
    expect(mirrorMatches(await getBrain(owner, burn.id), mirror)).to.equal(true);

    const stake = await mintBrainByStake(owner);
    mirror = await mirrorWhen(`stake Brain #${stake.id} to be mirrored`, stake.id, (m) => m.active);
    expect(mirror).to.include({ class: "stake", unlockAt: stake.unlockAt, earnsRewards: false });

    await net.ethereum.rpc("evm_increaseTime", [90 * 24 * 3600 + 60]);
    await net.ethereum.rpc("evm_mine");
    await deactivateBrain(owner, stake.id);
    mirror = await mirrorWhen(`Brain #${stake.id}'s deactivation to be mirrored`, stake.id, (m) => !m.active);
    expect(mirror).to.include({ active: false, owner: zeroAddress, earnsRewards: false });
    expect(mirrorMatches(await getBrain(owner, stake.id), mirror)).to.equal(true);
  });

  it("a transfer over the rate limit waits on the destination and is delivered after the refill", async () => {
    // Only the EthereumTimelock may change the limits (docs/governance.md): the test plays a passed
    // proposal by impersonating it on the devnet node instead of voting for 10 minutes.
    const timelock = net.deployments.ethereum.contracts.EthereumTimelock!;
    await net.ethereum.rpc("hardhat_impersonateAccount", [timelock]);
    await net.ethereum.rpc("hardhat_setBalance", [timelock, "0xde0b6b3a7640000"]);
    const governance = createWalletClient({
      account: timelock,
      chain: net.ethereum.client.chain,
      transport: http(net.ethereum.rpcUrl),
    });
    const setLimit = async (capacity: bigint, rate: bigint) => {
      const hash = await governance.writeContract({
        address: tokens.ethBridge,
        abi: ethereumBridgeAbi,
        functionName: "setRateLimit",
        args: [capacity, rate],
      });
      await net.ethereum.client.waitForTransactionReceipt({ hash });
    };
    await setLimit(parseEther("100"), parseEther("10"));
    try {
      const ctx = await bridgeContext(user);
      const me = addressOf(user);
      const wbased0 = await balance(net.ethereum, tokens.wbased, me);
      const fits = await sendBridgeTransfer(ctx, "to-ethereum", { amount: parseEther("80") });
      await waitExecuted(fits);
      const over = await sendBridgeTransfer(ctx, "to-ethereum", { amount: parseEther("80") });
      await waitFor(
        "the over-limit transfer to be delivered and stored as failed",
        async () => (await inboxStatus("to-ethereum", over.messageId)) !== STATUS.none,
        DELIVERY_MS,
        100,
      );
      // Delivered and refused by the bucket (20 BASED left, 80 needed at 10 BASED/s): it waits.
      const failed = await net.ethereum.client.getContractEvents({
        address: inboxes.ethereum,
        abi: messageInboxAbi,
        eventName: "MessageFailed",
        args: { messageId: over.messageId },
        fromBlock: 0n,
      });
      expect(failed).to.have.lengthOf(1);
      const waiting = await getBridgeStatus(ctx, over.messageId, { message: over.message });
      if (waiting.state !== "executed") {
        expect(waiting.state).to.equal("waiting");
        expect(waiting.destination?.waitingReason).to.include("rate limit");
      }
      await waitExecuted(over);
      expect(await balance(net.ethereum, tokens.wbased, me)).to.equal(wbased0 + parseEther("160"));
      const { delivered, executed } = await deliveries("to-ethereum", over.messageId);
      expect({ delivered, executed }).to.deep.equal({ delivered: 1, executed: 1 });
    } finally {
      await setLimit(BRIDGE_DEFAULTS.bucketCapacity, BRIDGE_DEFAULTS.bucketRate);
    }
  });
});
