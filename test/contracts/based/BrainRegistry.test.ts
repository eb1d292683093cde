import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionResponse } from "ethers";
import type { BrainRegistry } from "../../../typechain-types";
import { Class, LOCK, deployBrains } from "../ethereum/helpers";
import { deployBridges } from "../bridge/fixture";
import {
  ETH_CHAIN,
  Kind,
  LOCAL_CHAIN,
  type BrainSnapshot,
  type Message,
  Status,
  deliver,
  encodeBrainEvent,
  encodeBridgeTransfer,
  eventNonce,
  messageId,
} from "../messaging/messages";

const ZERO = ethers.ZeroAddress;

describe("BrainRegistry", function () {
  /** The Based side (inbox + registry) and, on the same network, a BrainNFT playing Ethereum. */
  async function deployMirror() {
    const bridges = await deployBridges();
    const brains = await deployBrains();
    const { registry, basedInbox, quorum } = bridges;

    /** The BRAIN_EVENT for `snapshot`, as if emitted at `nonce` on Ethereum. */
    const brainEvent = (snapshot: BrainSnapshot, nonce: bigint): Message => ({
      srcChainId: ETH_CHAIN,
      dstChainId: LOCAL_CHAIN,
      nonce,
      kind: Kind.BRAIN_EVENT,
      payload: encodeBrainEvent(snapshot),
    });
    const send = (snapshot: BrainSnapshot, nonce: bigint) =>
      deliver(basedInbox, brainEvent(snapshot, nonce), quorum);

    /** What an attester does with a BrainNFT transaction: the Brain's state right after its
     *  event (brainInfo at that block; inactive with owner 0 once deactivated), nonce from the log. */
    async function mirror(tx: ContractTransactionResponse, id: bigint) {
      const receipt = await tx.wait();
      const log = receipt!.logs.find((l) => {
        const e = brains.brain.interface.parseLog(l);
        return e !== null && ["BrainMinted", "BrainDeactivated", "BasedWalletLinked"].includes(e.name);
      })!;
      const nonce = eventNonce(receipt!.blockNumber, log.index);
      let snapshot: BrainSnapshot;
      try {
        const info = await brains.brain.brainInfo(id);
        snapshot = {
          brainId: id,
          owner: info.owner,
          class: Number(info.class),
          unlockAt: info.unlockAt,
          basedWallet: info.basedWallet,
          active: true,
        };
      } catch {
        snapshot = {
          brainId: id,
          owner: ZERO,
          class: Number(Class.Stake),
          unlockAt: 0n,
          basedWallet: ZERO,
          active: false,
        };
      }
      const m = brainEvent(snapshot, nonce);
      await deliver(basedInbox, m, quorum);
      return { m, snapshot, nonce };
    }
    return { ...bridges, ...brains, registry: registry as BrainRegistry, brainEvent, send, mirror };
  }

  const snap = (over: Partial<BrainSnapshot> = {}): BrainSnapshot => ({
    brainId: 9n,
    owner: ethers.getAddress("0x00000000000000000000000000000000000000a1"),
    class: Number(Class.Burn),
    unlockAt: 0n,
    basedWallet: ethers.getAddress("0x00000000000000000000000000000000000000b1"),
    active: true,
    ...over,
  });

  it("mirrors a Brain minted on BrainNFT: the BRAIN_EVENT built from brainInfo lands in brain(id)", async function () {
    const { brain, registry, alice, mirror } = await loadFixture(deployMirror);
    const id = await brain.connect(alice).mintByStake.staticCall();
    const { snapshot, nonce } = await mirror(await brain.connect(alice).mintByStake(), id);
    const mirrored = await registry.brain(id);
    expect(mirrored.owner).to.equal(alice.address);
    expect(mirrored.class).to.equal(Class.Stake);
    expect(mirrored.unlockAt).to.equal(snapshot.unlockAt);
    expect(mirrored.active).to.be.true;
    expect(mirrored.basedWallet).to.equal(alice.address);
    expect(mirrored.lastNonce).to.equal(nonce);
    expect(await registry.isActive(id)).to.be.true;
  });

  it("emits BrainMirrored with the applied state", async function () {
    const { registry, send } = await loadFixture(deployMirror);
    const s = snap();
    await expect(send(s, 77n))
      .to.emit(registry, "BrainMirrored")
      .withArgs(s.brainId, s.owner, s.class, s.unlockAt, s.basedWallet, s.active, 77n);
  });

  it("applies a newer snapshot and ignores an older one, which still counts as executed", async function () {
    const { registry, basedInbox, send, brainEvent } = await loadFixture(deployMirror);
    const newer = snap({ owner: ethers.getAddress("0x00000000000000000000000000000000000000a2") });
    const older = snap({ owner: ethers.getAddress("0x00000000000000000000000000000000000000a3") });
    await send(newer, 10n << 32n);
    await expect(send(older, 5n << 32n))
      .to.emit(registry, "BrainSnapshotIgnored")
      .withArgs(9n, 5n << 32n, 10n << 32n)
      .and.not.to.emit(registry, "BrainMirrored");
    expect(await basedInbox.messageStatus(messageId(brainEvent(older, 5n << 32n)))).to.equal(Status.Executed);
    expect((await registry.brain(9n)).owner).to.equal(newer.owner);
    // Same nonce, other content: the inbox refuses it (one log, one message).
    await expect(send(older, 10n << 32n))
      .to.be.revertedWithCustomError(basedInbox, "NonceAlreadyUsed")
      .withArgs(ETH_CHAIN, 0, 10n << 32n, messageId(brainEvent(newer, 10n << 32n)));
    expect((await registry.brain(9n)).owner).to.equal(newer.owner);
    // A later one applies.
    await send(older, (10n << 32n) | 1n);
    expect((await registry.brain(9n)).owner).to.equal(older.owner);
    expect((await registry.brain(9n)).lastNonce).to.equal((10n << 32n) | 1n);
  });

  it("delivery order does not matter: the newest snapshot wins either way", async function () {
    const { registry, send } = await loadFixture(deployMirror);
    const states = [1n, 2n, 3n].map((n) =>
      snap({ brainId: 3n, owner: ethers.getAddress(`0x${n.toString(16).padStart(40, "0")}`) }),
    );
    for (const i of [2, 0, 1]) await send(states[i]!, BigInt(i + 1) << 32n);
    expect((await registry.brain(3n)).owner).to.equal(states[2]!.owner);
  });

  it("earnsRewards: burn and reserved Brains from the start, stake Brains from unlockAt, never when inactive or unknown", async function () {
    const { registry, send } = await loadFixture(deployMirror);
    const now = BigInt(await time.latest());
    // Three logs of one block (each log position carries one message).
    await send(snap({ brainId: 1n, class: Number(Class.Reserved) }), 1n);
    await send(snap({ brainId: 2n, class: Number(Class.Burn) }), 2n);
    await send(snap({ brainId: 3n, class: Number(Class.Stake), unlockAt: now + LOCK }), 3n);
    for (const id of [1n, 2n]) expect(await registry.earnsRewards(id, 0)).to.be.true;
    expect(await registry.earnsRewards(3n, now)).to.be.false;
    expect(await registry.earnsRewards(3n, now + LOCK - 1n)).to.be.false;
    expect(await registry.earnsRewards(3n, now + LOCK)).to.be.true;
    expect(await registry.earnsRewards(4n, now)).to.be.false;
    expect(await registry.isActive(4n)).to.be.false;
    expect((await registry.brain(4n)).class).to.equal(Class.None);
    // Deactivation (owner zero, inactive): no rewards, whatever the time.
    await send(
      snap({ brainId: 3n, class: Number(Class.Stake), owner: ZERO, basedWallet: ZERO, active: false }),
      4n,
    );
    expect(await registry.earnsRewards(3n, now + 2n * LOCK)).to.be.false;
    expect(await registry.isActive(3n)).to.be.false;
  });

  it("mirrors a linked wallet and a deactivation from BrainNFT", async function () {
    const { brain, registry, alice, bob, mirror } = await loadFixture(deployMirror);
    const id = await brain.connect(alice).mintByStake.staticCall();
    const minted = await mirror(await brain.connect(alice).mintByStake(), id);
    await mirror(await brain.connect(alice).linkBasedWallet(id, bob.address), id);
    expect((await registry.brain(id)).basedWallet).to.equal(bob.address);
    await time.increaseTo(minted.snapshot.unlockAt);
    expect(await registry.earnsRewards(id, await time.latest())).to.be.true;
    await mirror(await brain.connect(alice).deactivate(id), id);
    const gone = await registry.brain(id);
    expect([gone.owner, gone.active, gone.basedWallet]).to.deep.equal([ZERO, false, ZERO]);
    expect(await registry.earnsRewards(id, await time.latest())).to.be.false;
  });

  it("accepts BRAIN_EVENT from Ethereum only, and no other kind", async function () {
    const [fakeInbox] = await ethers.getSigners();
    const registry = await ethers.deployContract("BrainRegistry", [fakeInbox!.address, ETH_CHAIN]);
    const m: Message = {
      srcChainId: 32323n,
      dstChainId: LOCAL_CHAIN,
      nonce: 1n,
      kind: Kind.BRAIN_EVENT,
      payload: encodeBrainEvent(snap()),
    };
    await expect(registry.handleMessage(messageId(m), m))
      .to.be.revertedWithCustomError(registry, "WrongSourceChain")
      .withArgs(32323n, ETH_CHAIN);
    const transfer = {
      ...m,
      srcChainId: ETH_CHAIN,
      kind: Kind.BRIDGE_TRANSFER,
      payload: encodeBridgeTransfer(ZERO, ZERO, 1n),
    };
    await expect(registry.handleMessage(messageId(transfer), transfer))
      .to.be.revertedWithCustomError(registry, "WrongKind")
      .withArgs(Kind.BRIDGE_TRANSFER, Kind.BRAIN_EVENT);
    await registry.handleMessage(messageId({ ...m, srcChainId: ETH_CHAIN }), { ...m, srcChainId: ETH_CHAIN });
    expect(await registry.isActive(9n)).to.be.true;
  });
});
