import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { BrainRegistry } from "../../../typechain-types";
import { Class } from "../ethereum/helpers";
import { deployBridges } from "../bridge/fixture";
import {
  ETH_CHAIN,
  Kind,
  LOCAL_CHAIN,
  type BrainSnapshot,
  deliver,
  encodeBrainEvent,
} from "../messaging/messages";

const ZERO = ethers.ZeroAddress;
const ID = 7n;
const DAY = 24n * 60n * 60n;
const HASH = ethers.id("model weights");

describe("BrainRegistry: owner configuration", function () {
  /** The Based side with Brain 7 mirrored (owner and wallet alice) through a signed BRAIN_EVENT. */
  async function deployConfigured() {
    const bridges = await deployBridges();
    const { basedInbox, quorum, alice } = bridges;
    const registry = bridges.registry as BrainRegistry;
    const snap = (over: Partial<BrainSnapshot> = {}): BrainSnapshot => ({
      brainId: ID,
      owner: alice.address,
      class: Number(Class.Burn),
      unlockAt: 0n,
      basedWallet: alice.address,
      active: true,
      ...over,
    });
    /** Mirrors `snapshot` as if its event were at `nonce` on Ethereum. */
    const send = (snapshot: BrainSnapshot, nonce: bigint) =>
      deliver(
        basedInbox,
        {
          srcChainId: ETH_CHAIN,
          dstChainId: LOCAL_CHAIN,
          nonce,
          kind: Kind.BRAIN_EVENT,
          payload: encodeBrainEvent(snapshot),
        },
        quorum,
      );
    await send(snap(), 1n << 32n);
    return { ...bridges, registry, snap, send };
  }

  const TASK = ["ipfs://model", HASH, 3, "https://github.com/based/brain", "a".repeat(40)] as const;

  it("starts with the defaults: ZK on, split 2500/3750/3750, fee 100 BASED, no task, reward to the wallet", async function () {
    const { registry, alice } = await loadFixture(deployConfigured);
    expect(await registry.zkMode(ID)).to.be.true;
    expect(await registry.split(ID)).to.deep.equal([2500n, 3750n, 3750n]);
    expect(await registry.registrationFee(ID)).to.equal(ethers.parseEther("100"));
    expect(await registry.DEFAULT_REGISTRATION_FEE()).to.equal(100n * 10n ** 18n);
    expect((await registry.task(ID)).modelUri).to.equal("");
    expect((await registry.pendingTask(ID)).effectiveAt).to.equal(0n);
    expect(await registry.pricing(ID)).to.deep.equal([0n, 0n, 0n]);
    expect(await registry.profile(ID)).to.deep.equal(["", "", ZERO]);
    expect(await registry.rewardRecipient(ID)).to.equal(alice.address);
    expect(await registry.TASK_NOTICE()).to.equal(DAY);
  });

  it("only the Brain's wallet may configure it, and not the old wallet after a mirrored change", async function () {
    const { registry, alice, bob, send, snap } = await loadFixture(deployConfigured);
    await expect(registry.connect(bob).setZkMode(ID, false))
      .to.be.revertedWithCustomError(registry, "NotBrainWallet")
      .withArgs(ID, bob.address);
    await expect(registry.connect(alice).setZkMode(ID, false))
      .to.emit(registry, "ZkModeSet")
      .withArgs(ID, false);

    // The owner links bob as the Brain's wallet on Ethereum; the snapshot arrives.
    await send(snap({ basedWallet: bob.address }), 2n << 32n);
    /** Every setter, sent one at a time when called. */
    const calls = (r: BrainRegistry) => [
      () => r.setTask(ID, ...TASK),
      () => r.setZkMode(ID, true),
      () => r.setSplit(ID, 5000, 2500, 2500),
      () => r.setProfile(ID, "n", "n.eth", ZERO),
      () => r.setRegistrationFee(ID, 1n),
      () => r.setPricing(ID, 1n, 2n, 3),
    ];
    for (const call of calls(registry.connect(alice))) {
      await expect(call())
        .to.be.revertedWithCustomError(registry, "NotBrainWallet")
        .withArgs(ID, alice.address);
    }
    for (const call of calls(registry.connect(bob))) await expect(call()).not.to.be.reverted;
    expect(await registry.zkMode(ID)).to.be.true;
    expect(await registry.rewardRecipient(ID)).to.equal(bob.address);
  });

  it("refuses an inactive Brain: deactivated or never mirrored", async function () {
    const { registry, alice, send, snap } = await loadFixture(deployConfigured);
    await expect(registry.connect(alice).setSplit(99n, 2500, 3750, 3750))
      .to.be.revertedWithCustomError(registry, "BrainNotActive")
      .withArgs(99n);
    await send(snap({ owner: ZERO, basedWallet: ZERO, active: false }), 2n << 32n);
    await expect(registry.connect(alice).setRegistrationFee(ID, 0n))
      .to.be.revertedWithCustomError(registry, "BrainNotActive")
      .withArgs(ID);
    await expect(registry.connect(alice).setTask(ID, ...TASK))
      .to.be.revertedWithCustomError(registry, "BrainNotActive")
      .withArgs(ID);
  });

  it("sets a split summing to 10,000 and refuses one that does not", async function () {
    const { registry, alice } = await loadFixture(deployConfigured);
    const w = registry.connect(alice);
    await expect(w.setSplit(ID, 2500, 3750, 3749))
      .to.be.revertedWithCustomError(registry, "InvalidSplit")
      .withArgs(9999n);
    await expect(w.setSplit(ID, 2500, 3750, 3751))
      .to.be.revertedWithCustomError(registry, "InvalidSplit")
      .withArgs(10001n);
    await expect(w.setSplit(ID, 0, 0, 0))
      .to.be.revertedWithCustomError(registry, "InvalidSplit")
      .withArgs(0n);
    // No uint16 overflow: the sum is computed wide.
    await expect(w.setSplit(ID, 65535, 65535, 65535))
      .to.be.revertedWithCustomError(registry, "InvalidSplit")
      .withArgs(3n * 65535n);
    expect(await registry.split(ID)).to.deep.equal([2500n, 3750n, 3750n]);
    await expect(w.setSplit(ID, 10000, 0, 0))
      .to.emit(registry, "SplitSet")
      .withArgs(ID, 10000, 0, 0);
    expect(await registry.split(ID)).to.deep.equal([10000n, 0n, 0n]);
    await w.setSplit(ID, 1000, 4500, 4500);
    expect(await registry.split(ID)).to.deep.equal([1000n, 4500n, 4500n]);
  });

  it("changes the registration fee, zero included", async function () {
    const { registry, alice } = await loadFixture(deployConfigured);
    const fee = ethers.parseEther("250");
    await expect(registry.connect(alice).setRegistrationFee(ID, fee))
      .to.emit(registry, "RegistrationFeeSet")
      .withArgs(ID, fee);
    expect(await registry.registrationFee(ID)).to.equal(fee);
    await registry.connect(alice).setRegistrationFee(ID, 0n);
    expect(await registry.registrationFee(ID)).to.equal(0n);
    // Other Brains keep the default.
    expect(await registry.registrationFee(ID + 1n)).to.equal(ethers.parseEther("100"));
  });

  it("a task change stays pending for TASK_NOTICE, then is effective without a transaction", async function () {
    const { registry, alice } = await loadFixture(deployConfigured);
    const w = registry.connect(alice);
    const tx = await w.setTask(ID, ...TASK);
    const at = BigInt(await time.latest()) + DAY;
    await expect(tx)
      .to.emit(registry, "TaskChangeScheduled")
      .withArgs(ID, ...TASK, at);
    expect((await registry.task(ID)).modelUri).to.equal("");
    const pending = await registry.pendingTask(ID);
    expect(pending.effectiveAt).to.equal(at);
    expect([...pending.pending]).to.deep.equal([...TASK.slice(0, 2), 3n, ...TASK.slice(3)]);

    await time.increaseTo(at - 1n);
    expect((await registry.task(ID)).modelUri).to.equal("");
    await time.increaseTo(at);
    const effective = await registry.task(ID);
    expect([effective.modelUri, effective.contentHash, effective.templateId]).to.deep.equal([
      "ipfs://model",
      HASH,
      3n,
    ]);
    expect(effective.sourceRepo).to.equal(TASK[3]);
    expect(effective.sourceCommit).to.equal(TASK[4]);
    expect((await registry.pendingTask(ID)).effectiveAt).to.equal(0n);

    // The next change keeps the effective task until its own notice has passed.
    await w.setTask(ID, "ipfs://v2", ethers.id("v2"), 4, "repo2", "b".repeat(40));
    const at2 = BigInt(await time.latest()) + DAY;
    expect((await registry.task(ID)).modelUri).to.equal("ipfs://model");
    expect((await registry.pendingTask(ID)).pending.modelUri).to.equal("ipfs://v2");
    // A change during the notice replaces the pending one and restarts the notice.
    await time.increase(DAY / 2n);
    await w.setTask(ID, "ipfs://v3", ethers.id("v3"), 5, "repo3", "c".repeat(40));
    const at3 = BigInt(await time.latest()) + DAY;
    await time.increaseTo(at2);
    expect((await registry.task(ID)).modelUri).to.equal("ipfs://model");
    expect((await registry.pendingTask(ID)).effectiveAt).to.equal(at3);
    await time.increaseTo(at3);
    expect((await registry.task(ID)).modelUri).to.equal("ipfs://v3");
  });

  it("bounds the strings of the task and the profile", async function () {
    const { registry, alice } = await loadFixture(deployConfigured);
    const w = registry.connect(alice);
    const long = (n: number) => "x".repeat(n);
    await expect(w.setTask(ID, long(256), HASH, 0, long(256), long(64))).not.to.be.reverted;
    await expect(w.setTask(ID, long(257), HASH, 0, "", ""))
      .to.be.revertedWithCustomError(registry, "StringTooLong")
      .withArgs(257n, 256n);
    await expect(w.setTask(ID, "", HASH, 0, long(257), ""))
      .to.be.revertedWithCustomError(registry, "StringTooLong")
      .withArgs(257n, 256n);
    await expect(w.setTask(ID, "", HASH, 0, "", long(65)))
      .to.be.revertedWithCustomError(registry, "StringTooLong")
      .withArgs(65n, 64n);
    // Bytes, not characters: 33 two-byte characters are 66 bytes.
    await expect(w.setProfile(ID, "é".repeat(33), "", ZERO))
      .to.be.revertedWithCustomError(registry, "StringTooLong")
      .withArgs(66n, 64n);
    await expect(w.setProfile(ID, "", long(129), ZERO))
      .to.be.revertedWithCustomError(registry, "StringTooLong")
      .withArgs(129n, 128n);
    await expect(w.setProfile(ID, long(64), long(128), ZERO)).not.to.be.reverted;
  });

  it("sets the profile; a reward address replaces the wallet as recipient, zero restores it", async function () {
    const { registry, alice, mallory } = await loadFixture(deployConfigured);
    const w = registry.connect(alice);
    await expect(w.setProfile(ID, "Based Brain", "brain.based.eth", mallory.address))
      .to.emit(registry, "ProfileSet")
      .withArgs(ID, "Based Brain", "brain.based.eth", mallory.address);
    expect(await registry.profile(ID)).to.deep.equal(["Based Brain", "brain.based.eth", mallory.address]);
    expect(await registry.rewardRecipient(ID)).to.equal(mallory.address);
    await w.setProfile(ID, "Based Brain", "", ZERO);
    expect(await registry.rewardRecipient(ID)).to.equal(alice.address);
  });

  it("sets pricing and refuses a zero context limit", async function () {
    const { registry, alice } = await loadFixture(deployConfigured);
    const w = registry.connect(alice);
    await expect(w.setPricing(ID, 1n, 2n, 0)).to.be.revertedWithCustomError(registry, "InvalidContextLimit");
    const max128 = 2n ** 128n - 1n;
    await expect(w.setPricing(ID, ethers.parseEther("0.5"), max128, 8192))
      .to.emit(registry, "PricingSet")
      .withArgs(ID, ethers.parseEther("0.5"), max128, 8192);
    expect(await registry.pricing(ID)).to.deep.equal([ethers.parseEther("0.5"), max128, 8192n]);
  });

  it("ZK mode is on by default and can be turned off and on again", async function () {
    const { registry, alice } = await loadFixture(deployConfigured);
    expect(await registry.zkMode(ID)).to.be.true;
    await registry.connect(alice).setZkMode(ID, false);
    expect(await registry.zkMode(ID)).to.be.false;
    await expect(registry.connect(alice).setZkMode(ID, true))
      .to.emit(registry, "ZkModeSet")
      .withArgs(ID, true);
    expect(await registry.zkMode(ID)).to.be.true;
  });

  it("keeps the configuration apart from the mirror: a snapshot with the same owner and wallet does not reset it", async function () {
    const { registry, alice, bob, send, snap } = await loadFixture(deployConfigured);
    await registry.connect(alice).setSplit(ID, 4000, 3000, 3000);
    await send(snap(), 3n << 32n);
    expect((await registry.brain(ID)).lastNonce).to.equal(3n << 32n);
    expect(await registry.split(ID)).to.deep.equal([4000n, 3000n, 3000n]);
    // A new owner (security attack #4) gets a fresh Brain's configuration.
    await expect(send(snap({ owner: bob.address, basedWallet: bob.address }), 4n << 32n))
      .to.emit(registry, "ConfigReset")
      .withArgs(ID, 1n);
    expect(await registry.split(ID)).to.deep.equal([2500n, 3750n, 3750n]);
  });
});
