import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  BASED_CHAIN,
  ETH_CHAIN,
  Kind,
  LOCAL_CHAIN,
  type Message,
  Status,
  encodeBridgeTransfer,
  messageId,
} from "../messaging/messages";
import { BASED, LIMITS, deployBridges } from "./fixture";

describe("BASED bridge (BasedBridge ⇄ EthereumBridge)", function () {
  /** alice locked 300 BASED for bob and it was relayed: bob holds 300 wBASED. */
  async function bobHasWrapped() {
    const f = await loadFixture(deployBridges);
    await f.relay(await f.messageOf(await f.basedBridge.connect(f.alice).lock(f.bob.address, BASED(300))));
    return f;
  }

  describe("Based → Ethereum: lock, then mint", function () {
    it("lock pulls the caller's BASED into BasedBridge and emits BridgeLocked(sender, recipient, amount)", async function () {
      const { based, basedBridge, alice, bob } = await loadFixture(deployBridges);
      const tx = basedBridge.connect(alice).lock(bob.address, BASED(250));
      await expect(tx).to.emit(basedBridge, "BridgeLocked").withArgs(alice.address, bob.address, BASED(250));
      await expect(tx).to.changeTokenBalances(based, [alice, basedBridge], [-BASED(250), BASED(250)]);
    });

    it("the relayed lock mints exactly the locked amount of wBASED to the recipient (BridgeMinted)", async function () {
      const { basedBridge, ethBridge, ethInbox, wbased, alice, bob, messageOf, relay } =
        await loadFixture(deployBridges);
      const m = await messageOf(await basedBridge.connect(alice).lock(bob.address, BASED(250)));
      expect(m.srcChainId).to.equal(BASED_CHAIN);
      const tx = relay(m);
      await expect(tx)
        .to.emit(ethBridge, "BridgeMinted")
        .withArgs(messageId(m), alice.address, bob.address, BASED(250));
      await expect(tx).to.changeTokenBalance(wbased, bob, BASED(250));
      expect(await ethInbox.messageStatus(messageId(m))).to.equal(Status.Executed);
      await expect(relay(m)).to.be.revertedWithCustomError(ethInbox, "AlreadyDelivered");
      expect(await wbased.totalSupply()).to.equal(BASED(250));
    });
  });

  describe("Ethereum → Based: burn, then release", function () {
    it("burn destroys the caller's wBASED without an approval and emits BridgeBurned(sender, recipient, amount)", async function () {
      const { ethBridge, wbased, bob, alice } = await bobHasWrapped();
      const tx = ethBridge.connect(bob).burn(alice.address, BASED(100));
      await expect(tx).to.emit(ethBridge, "BridgeBurned").withArgs(bob.address, alice.address, BASED(100));
      await expect(tx).to.changeTokenBalance(wbased, bob, -BASED(100));
      expect(await wbased.totalSupply()).to.equal(BASED(200));
    });

    it("the relayed burn releases the same BASED from BasedBridge to the recipient (BridgeReleased)", async function () {
      const { ethBridge, basedBridge, based, bob, alice, messageOf, relay } = await bobHasWrapped();
      const m = await messageOf(await ethBridge.connect(bob).burn(alice.address, BASED(100)));
      expect(m.srcChainId).to.equal(ETH_CHAIN);
      const tx = relay(m);
      await expect(tx)
        .to.emit(basedBridge, "BridgeReleased")
        .withArgs(messageId(m), bob.address, alice.address, BASED(100));
      await expect(tx).to.changeTokenBalances(based, [basedBridge, alice], [-BASED(100), BASED(100)]);
    });

    it("a round trip BASED → wBASED → BASED returns the same amount and leaves nothing locked", async function () {
      const { based, basedBridge, ethBridge, wbased, alice, messageOf, relay } =
        await loadFixture(deployBridges);
      const before = await based.balanceOf(alice.address);
      await relay(await messageOf(await basedBridge.connect(alice).lock(alice.address, BASED(777))));
      await relay(await messageOf(await ethBridge.connect(alice).burn(alice.address, BASED(777))));
      expect(await based.balanceOf(alice.address)).to.equal(before);
      expect(await wbased.totalSupply()).to.equal(0n);
      expect(await based.balanceOf(await basedBridge.getAddress())).to.equal(0n);
    });

    it("burn refuses more than the caller holds", async function () {
      const { ethBridge, wbased, bob, alice } = await bobHasWrapped();
      await expect(ethBridge.connect(bob).burn(alice.address, BASED(301)))
        .to.be.revertedWithCustomError(wbased, "ERC20InsufficientBalance")
        .withArgs(bob.address, BASED(300), BASED(301));
    });
  });

  describe("per-transfer maximum", function () {
    it("lock and burn take up to maxTransfer and refuse one wei more (TransferAboveMax)", async function () {
      const { basedBridge, ethBridge, alice, messageOf, relay } = await loadFixture(deployBridges);
      const max = LIMITS.maxTransfer;
      expect(await basedBridge.maxTransfer()).to.equal(max);
      await expect(basedBridge.connect(alice).lock(alice.address, max + 1n))
        .to.be.revertedWithCustomError(basedBridge, "TransferAboveMax")
        .withArgs(max + 1n, max);
      await relay(await messageOf(await basedBridge.connect(alice).lock(alice.address, max)));
      await relay(await messageOf(await basedBridge.connect(alice).lock(alice.address, 1n)));
      await time.increase(3600);
      await relay(await messageOf(await basedBridge.connect(alice).lock(alice.address, 1n)));
      await expect(ethBridge.connect(alice).burn(alice.address, max + 1n))
        .to.be.revertedWithCustomError(ethBridge, "TransferAboveMax")
        .withArgs(max + 1n, max);
      await expect(ethBridge.connect(alice).burn(alice.address, max)).to.emit(ethBridge, "BridgeBurned");
    });

    it("lock and burn refuse a zero amount and a zero recipient", async function () {
      const { basedBridge, ethBridge, alice } = await loadFixture(deployBridges);
      await expect(basedBridge.connect(alice).lock(alice.address, 0)).to.be.revertedWithCustomError(
        basedBridge,
        "ZeroAmount",
      );
      await expect(basedBridge.connect(alice).lock(ethers.ZeroAddress, 1)).to.be.revertedWithCustomError(
        basedBridge,
        "ZeroAddress",
      );
      await expect(ethBridge.connect(alice).burn(alice.address, 0)).to.be.revertedWithCustomError(
        ethBridge,
        "ZeroAmount",
      );
      await expect(ethBridge.connect(alice).burn(ethers.ZeroAddress, 1)).to.be.revertedWithCustomError(
        ethBridge,
        "ZeroAddress",
      );
    });

    it("only governance (DEFAULT_ADMIN_ROLE) changes the maximum", async function () {
      const { basedBridge, admin, guardian, alice } = await loadFixture(deployBridges);
      const adminRole = await basedBridge.DEFAULT_ADMIN_ROLE();
      await expect(basedBridge.connect(guardian).setMaxTransfer(1))
        .to.be.revertedWithCustomError(basedBridge, "AccessControlUnauthorizedAccount")
        .withArgs(guardian.address, adminRole);
      await expect(basedBridge.connect(admin).setMaxTransfer(BASED(5)))
        .to.emit(basedBridge, "MaxTransferSet")
        .withArgs(BASED(5));
      await expect(basedBridge.connect(alice).lock(alice.address, BASED(6))).to.be.revertedWithCustomError(
        basedBridge,
        "TransferAboveMax",
      );
    });
  });

  describe("inbound rate limit (token bucket)", function () {
    it("holds: a transfer above what is left waits as failed with RateLimitReached(wait, available), and retry succeeds after the refill", async function () {
      const { basedBridge, ethBridge, ethInbox, wbased, alice, bob, mallory, messageOf, relay } =
        await loadFixture(deployBridges);
      // Bucket: 1,000 BASED, +1 BASED/s. 800 goes through, leaving ~200.
      await relay(await messageOf(await basedBridge.connect(alice).lock(bob.address, BASED(800))));
      const m = await messageOf(await basedBridge.connect(alice).lock(bob.address, BASED(800)));
      const id = messageId(m);
      const receipt = await (await relay(m)).wait();
      const failed = receipt!.logs
        .map((l) => ethInbox.interface.parseLog(l))
        .find((e) => e?.name === "MessageFailed");
      const err = ethBridge.interface.parseError(failed!.args.reason as string);
      expect(err?.name).to.equal("RateLimitReached");
      const [wait, available] = err!.args as unknown as [bigint, bigint];
      expect(available).to.equal((await ethBridge.inboundBucket()).tokens);
      expect(available < BASED(800)).to.be.true;
      expect(wait).to.equal((BASED(800) - available + LIMITS.rate - 1n) / LIMITS.rate);
      expect(await ethInbox.messageStatus(id)).to.equal(Status.Failed);
      expect(await wbased.balanceOf(bob.address)).to.equal(BASED(800));

      // Too early: the retry reverts with the bucket's numbers and the message keeps waiting.
      await expect(ethInbox.connect(mallory).retry(m)).to.be.revertedWithCustomError(
        ethBridge,
        "RateLimitReached",
      );
      expect(await ethInbox.messageStatus(id)).to.equal(Status.Failed);
      await time.increase(wait - 10n);
      await expect(ethInbox.connect(mallory).retry(m)).to.be.revertedWithCustomError(
        ethBridge,
        "RateLimitReached",
      );

      // After the wait it goes through, once.
      await time.increase(10n);
      await expect(ethInbox.connect(mallory).retry(m))
        .to.emit(ethBridge, "BridgeMinted")
        .withArgs(id, alice.address, bob.address, BASED(800));
      expect(await wbased.balanceOf(bob.address)).to.equal(BASED(1_600));
      await expect(ethInbox.retry(m)).to.be.revertedWithCustomError(ethInbox, "NotFailed");
    });

    it("refills at the configured rate and never above capacity", async function () {
      const { basedBridge, ethBridge, alice, messageOf, relay } = await loadFixture(deployBridges);
      await relay(await messageOf(await basedBridge.connect(alice).lock(alice.address, BASED(1_000))));
      const empty = await ethBridge.inboundBucket();
      expect(empty.tokens).to.equal(0n);
      expect(empty.capacity).to.equal(LIMITS.capacity);
      expect(empty.rate).to.equal(LIMITS.rate);
      await time.increase(120);
      expect((await ethBridge.inboundBucket()).tokens).to.equal(BASED(120));
      await time.increase(10_000);
      expect((await ethBridge.inboundBucket()).tokens).to.equal(LIMITS.capacity);
    });

    it("the Ethereum → Based direction has its own bucket", async function () {
      const { basedBridge, ethBridge, basedInbox, based, alice, bob, messageOf, relay } =
        await loadFixture(deployBridges);
      await relay(await messageOf(await basedBridge.connect(alice).lock(bob.address, BASED(1_000))));
      await time.increase(2_000);
      await relay(await messageOf(await basedBridge.connect(alice).lock(bob.address, BASED(1_000))));
      // Bob now burns 2,000 back: the Based side's bucket lets 1,000 through, the rest waits.
      const first = await messageOf(await ethBridge.connect(bob).burn(bob.address, BASED(1_000)));
      const second = await messageOf(await ethBridge.connect(bob).burn(bob.address, BASED(1_000)));
      await expect(relay(first)).to.emit(basedBridge, "BridgeReleased");
      await expect(relay(second)).to.emit(basedInbox, "MessageFailed");
      await time.increase(1_000);
      await expect(basedInbox.retry(second)).to.emit(basedBridge, "BridgeReleased");
      expect(await based.balanceOf(await basedBridge.getAddress())).to.equal(0n);
    });

    it("a transfer larger than the whole bucket fails with AmountExceedsCapacity until governance raises the capacity", async function () {
      const { basedBridge, ethBridge, ethInbox, admin, alice, messageOf, relay } =
        await loadFixture(deployBridges);
      await basedBridge.connect(admin).setMaxTransfer(BASED(5_000));
      const m = await messageOf(await basedBridge.connect(alice).lock(alice.address, BASED(1_500)));
      const tooBig = ethBridge.interface.encodeErrorResult("AmountExceedsCapacity", [
        LIMITS.capacity,
        BASED(1_500),
      ]);
      await expect(relay(m)).to.emit(ethInbox, "MessageFailed").withArgs(messageId(m), tooBig);
      await expect(ethBridge.connect(admin).setRateLimit(BASED(2_000), LIMITS.rate))
        .to.emit(ethBridge, "RateLimitSet")
        .withArgs(BASED(2_000), LIMITS.rate);
      // The bucket keeps its 1,000 (it is not filled up by a larger capacity): wait for 500 more.
      await expect(ethInbox.retry(m)).to.be.revertedWithCustomError(ethBridge, "RateLimitReached");
      await time.increase(500);
      await expect(ethInbox.retry(m)).to.emit(ethBridge, "BridgeMinted");
    });

    it("setRateLimit credits the tokens earned so far and cuts them to a smaller capacity", async function () {
      const { basedBridge, ethBridge, admin, alice, messageOf, relay } = await loadFixture(deployBridges);
      await relay(await messageOf(await basedBridge.connect(alice).lock(alice.address, BASED(1_000))));
      await time.increase(299);
      await ethBridge.connect(admin).setRateLimit(BASED(5_000), BASED(2)); // +300 s at the old 1/s
      let b = await ethBridge.inboundBucket();
      expect(b.tokens).to.equal(BASED(300));
      expect([b.capacity, b.rate]).to.deep.equal([BASED(5_000), BASED(2)]);
      await time.increase(100);
      await ethBridge.connect(admin).setRateLimit(BASED(100), BASED(2)); // 300 + 2 × 101 = 502 → cut to 100
      b = await ethBridge.inboundBucket();
      expect(b.tokens).to.equal(BASED(100));
    });

    it("a bucket that does not refill reports an endless wait (type(uint256).max)", async function () {
      const { basedBridge, ethBridge, ethInbox, admin, alice, messageOf, relay } =
        await loadFixture(deployBridges);
      await ethBridge.connect(admin).setRateLimit(BASED(10), 0);
      await relay(await messageOf(await basedBridge.connect(alice).lock(alice.address, BASED(6))));
      const m = await messageOf(await basedBridge.connect(alice).lock(alice.address, BASED(6)));
      await relay(m);
      await expect(ethInbox.retry(m))
        .to.be.revertedWithCustomError(ethBridge, "RateLimitReached")
        .withArgs(ethers.MaxUint256, BASED(4));
    });

    it("only governance sets the rate limit", async function () {
      const { ethBridge, guardian, mallory } = await loadFixture(deployBridges);
      for (const who of [guardian, mallory]) {
        await expect(ethBridge.connect(who).setRateLimit(1, 1)).to.be.revertedWithCustomError(
          ethBridge,
          "AccessControlUnauthorizedAccount",
        );
      }
    });
  });

  describe("guardian pause", function () {
    it("pause stops lock, burn and inbound transfers (they wait as failed); unpause resumes and the waiting transfer is retried", async function () {
      const { basedBridge, ethBridge, ethInbox, wbased, guardian, alice, bob, messageOf, relay } =
        await bobHasWrapped();
      const waiting = await messageOf(await basedBridge.connect(alice).lock(bob.address, BASED(50)));
      await expect(ethBridge.connect(guardian).pause())
        .to.emit(ethBridge, "Paused")
        .withArgs(guardian.address);
      await expect(basedBridge.connect(guardian).pause()).to.emit(basedBridge, "Paused");

      await expect(basedBridge.connect(alice).lock(bob.address, BASED(1))).to.be.revertedWithCustomError(
        basedBridge,
        "EnforcedPause",
      );
      await expect(ethBridge.connect(bob).burn(alice.address, BASED(1))).to.be.revertedWithCustomError(
        ethBridge,
        "EnforcedPause",
      );
      const paused = ethBridge.interface.encodeErrorResult("EnforcedPause");
      await expect(relay(waiting)).to.emit(ethInbox, "MessageFailed").withArgs(messageId(waiting), paused);
      await expect(ethInbox.retry(waiting)).to.be.revertedWithCustomError(ethBridge, "EnforcedPause");

      await expect(ethBridge.connect(guardian).unpause())
        .to.emit(ethBridge, "Unpaused")
        .withArgs(guardian.address);
      await basedBridge.connect(guardian).unpause();
      await expect(ethInbox.retry(waiting)).to.emit(ethBridge, "BridgeMinted");
      expect(await wbased.balanceOf(bob.address)).to.equal(BASED(350));
      await expect(basedBridge.connect(alice).lock(bob.address, BASED(1))).to.emit(
        basedBridge,
        "BridgeLocked",
      );
      await expect(ethBridge.connect(bob).burn(alice.address, BASED(1))).to.emit(ethBridge, "BridgeBurned");
    });

    it("only the guardian pauses and unpauses (not governance, not anyone)", async function () {
      const { basedBridge, ethBridge, admin, guardian, mallory } = await loadFixture(deployBridges);
      const guardianRole = await basedBridge.GUARDIAN_ROLE();
      for (const bridge of [basedBridge, ethBridge]) {
        for (const who of [admin, mallory]) {
          await expect(bridge.connect(who).pause())
            .to.be.revertedWithCustomError(bridge, "AccessControlUnauthorizedAccount")
            .withArgs(who.address, guardianRole);
        }
        await bridge.connect(guardian).pause();
        for (const who of [admin, mallory]) {
          await expect(bridge.connect(who).unpause())
            .to.be.revertedWithCustomError(bridge, "AccessControlUnauthorizedAccount")
            .withArgs(who.address, guardianRole);
        }
        expect(await bridge.paused()).to.be.true;
        await bridge.connect(guardian).unpause();
        expect(await bridge.paused()).to.be.false;
      }
    });
  });

  describe("handler access", function () {
    it("only the inbox can call the bridges' and the registry's handlers", async function () {
      const { basedBridge, ethBridge, registry, mallory } = await loadFixture(deployBridges);
      const m: Message = {
        srcChainId: ETH_CHAIN,
        dstChainId: LOCAL_CHAIN,
        nonce: 1n,
        kind: Kind.BRIDGE_TRANSFER,
        payload: encodeBridgeTransfer(mallory.address, mallory.address, BASED(1)),
      };
      for (const handler of [basedBridge, ethBridge, registry]) {
        await expect(handler.connect(mallory).handleMessage(messageId(m), m))
          .to.be.revertedWithCustomError(handler, "NotInbox")
          .withArgs(mallory.address);
      }
    });

    it("a bridge accepts BRIDGE_TRANSFER from its peer chain only, even if its inbox trusted more", async function () {
      const [admin, fakeInbox, alice] = await ethers.getSigners();
      const based = await ethers.deployContract("BasedToken", [admin!.address]);
      const bridge = await ethers.deployContract("BasedBridge", [
        await based.getAddress(),
        fakeInbox!.address,
        ETH_CHAIN,
        admin!.address,
        admin!.address,
        BASED(10),
        BASED(10),
        1,
      ]);
      const m: Message = {
        srcChainId: 99n,
        dstChainId: LOCAL_CHAIN,
        nonce: 1n,
        kind: Kind.BRIDGE_TRANSFER,
        payload: encodeBridgeTransfer(alice!.address, alice!.address, 1n),
      };
      await expect(bridge.connect(fakeInbox!).handleMessage(messageId(m), m))
        .to.be.revertedWithCustomError(bridge, "WrongSourceChain")
        .withArgs(99n, ETH_CHAIN);
      const wrongKind = { ...m, srcChainId: ETH_CHAIN, kind: Kind.BRAIN_EVENT };
      await expect(bridge.connect(fakeInbox!).handleMessage(messageId(wrongKind), wrongKind))
        .to.be.revertedWithCustomError(bridge, "WrongKind")
        .withArgs(Kind.BRAIN_EVENT, Kind.BRIDGE_TRANSFER);
      expect(await bridge.inbox()).to.equal(fakeInbox!.address);
      expect(await bridge.sourceChainId()).to.equal(ETH_CHAIN);
      expect(await bridge.handledKind()).to.equal(Kind.BRIDGE_TRANSFER);
    });

    it("the constructors refuse zero addresses", async function () {
      const [admin] = await ethers.getSigners();
      const a = admin!.address;
      const Z = ethers.ZeroAddress;
      const BasedBridge = await ethers.getContractFactory("BasedBridge");
      const EthereumBridge = await ethers.getContractFactory("EthereumBridge");
      const Registry = await ethers.getContractFactory("BrainRegistry");
      for (const args of [
        [Z, a, 1, a, a, 1, 1, 1],
        [a, Z, 1, a, a, 1, 1, 1],
        [a, a, 1, Z, a, 1, 1, 1],
        [a, a, 1, a, Z, 1, 1, 1],
      ] as const) {
        await expect(BasedBridge.deploy(...args)).to.be.revertedWithCustomError(BasedBridge, "ZeroAddress");
        await expect(EthereumBridge.deploy(...args)).to.be.revertedWithCustomError(
          EthereumBridge,
          "ZeroAddress",
        );
      }
      await expect(Registry.deploy(Z, 1)).to.be.revertedWithCustomError(Registry, "ZeroAddress");
    });
  });

  it("deploys with the configured limits, roles and peers", async function () {
    const { basedBridge, ethBridge, based, wbased, basedInbox, ethInbox, admin, guardian } =
      await loadFixture(deployBridges);
    expect(await basedBridge.based()).to.equal(await based.getAddress());
    expect(await ethBridge.wbased()).to.equal(await wbased.getAddress());
    expect(await basedBridge.inbox()).to.equal(await basedInbox.getAddress());
    expect(await ethBridge.inbox()).to.equal(await ethInbox.getAddress());
    expect(await basedBridge.sourceChainId()).to.equal(ETH_CHAIN);
    expect(await ethBridge.sourceChainId()).to.equal(BASED_CHAIN);
    expect(await basedBridge.hasRole(await basedBridge.DEFAULT_ADMIN_ROLE(), admin.address)).to.be.true;
    expect(await ethBridge.hasRole(await ethBridge.GUARDIAN_ROLE(), guardian.address)).to.be.true;
  });
});
