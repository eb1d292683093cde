import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine, takeSnapshot } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import type { BasedToken, Emission, EmissionScheduleHarness } from "../../../typechain-types";
import { BASED, deployEconomy } from "./economy-fixture";
import {
  BLOCKS_PER_HALVING,
  blockReward,
  emissionBetween,
  tftWeight,
} from "../../../oracle/consensus/emission";

const latest = async (): Promise<bigint> => BigInt(await ethers.provider.getBlockNumber());

/** A fresh BASED whose admin is the deployer, and an Emission (the minter) starting at `genesis`. */
async function deployEmission(genesis: bigint) {
  const [admin, controller, stranger] = await ethers.getSigners();
  const based = (await ethers.deployContract("BasedToken", [admin!.address])) as unknown as BasedToken;
  const emission = (await ethers.deployContract("Emission", [
    await based.getAddress(),
    genesis,
  ])) as unknown as Emission;
  await based.grantRole(await based.MINTER_ROLE(), await emission.getAddress());
  // The reward of each block the tests mint (a fresh chain is far from the first halving).
  const reward = blockReward(genesis);
  return { admin: admin!, controller: controller!, stranger: stranger!, based, emission, genesis, reward };
}

/**
 * Emission on its own, its genesis a few blocks ahead; `controller`, an EOA, stands in for the
 * Consensus contract once bound (tests bind it themselves).
 */
async function standalone() {
  return deployEmission((await latest()) + 10n);
}

/** The same, bound: `controller` may release. */
async function bound() {
  const f = await standalone();
  await f.emission.bindConsensus(f.controller.address);
  return f;
}

describe("Emission: the only minter of BASED", function () {
  describe("binding the Consensus contract", function () {
    it("is done once, by the deployer, to a non-zero address (CannotBind)", async function () {
      const { emission, admin, controller, stranger } = await loadFixture(standalone);
      expect(await emission.consensus()).to.equal(ethers.ZeroAddress);
      await expect(emission.connect(stranger).bindConsensus(stranger.address)).to.be.revertedWithCustomError(
        emission,
        "CannotBind",
      );
      await expect(emission.connect(admin).bindConsensus(ethers.ZeroAddress)).to.be.revertedWithCustomError(
        emission,
        "CannotBind",
      );
      await expect(emission.connect(admin).bindConsensus(controller.address))
        .to.emit(emission, "ConsensusBound")
        .withArgs(controller.address);
      expect(await emission.consensus()).to.equal(controller.address);
      await expect(emission.connect(admin).bindConsensus(stranger.address)).to.be.revertedWithCustomError(
        emission,
        "CannotBind",
      );
      await expect(emission.connect(admin).bindConsensus(controller.address)).to.be.revertedWithCustomError(
        emission,
        "CannotBind",
      );
      expect(await emission.consensus()).to.equal(controller.address);
    });

    it("in the economy Emission is bound to Consensus for good", async function () {
      const { emission, consensus, admin, alice } = await loadFixture(deployEconomy);
      expect(await emission.consensus()).to.equal(await consensus.getAddress());
      for (const who of [admin, alice]) {
        await expect(emission.connect(who).bindConsensus(who.address)).to.be.revertedWithCustomError(
          emission,
          "CannotBind",
        );
      }
    });
  });

  describe("release", function () {
    it("only the bound Consensus releases (NotConsensus)", async function () {
      const f = await loadFixture(standalone);
      await mine(20);
      const to = f.genesis + 1n;
      // Unbound: nobody, not even the deployer.
      for (const who of [f.admin, f.controller]) {
        await expect(f.emission.connect(who).release(to))
          .to.be.revertedWithCustomError(f.emission, "NotConsensus")
          .withArgs(who.address);
      }
      await f.emission.bindConsensus(f.controller.address);
      for (const who of [f.admin, f.stranger]) {
        await expect(f.emission.connect(who).release(to))
          .to.be.revertedWithCustomError(f.emission, "NotConsensus")
          .withArgs(who.address);
      }
      await expect(f.emission.connect(f.controller).release(to)).to.emit(f.emission, "Released");

      const economy = await loadFixture(deployEconomy);
      await expect(economy.emission.connect(economy.admin).release(economy.genesisBlock + 1n))
        .to.be.revertedWithCustomError(economy.emission, "NotConsensus")
        .withArgs(economy.admin.address);
    });

    it("refuses a range that does not move forward or reaches past the current block (InvalidRange)", async function () {
      const { emission, controller, genesis } = await loadFixture(bound);
      const as = emission.connect(controller);
      // Before genesis nothing can be released: the range would not move forward.
      let next = (await latest()) + 1n;
      expect(next < genesis).to.equal(true);
      await expect(as.release(next))
        .to.be.revertedWithCustomError(emission, "InvalidRange")
        .withArgs(genesis, next, next);

      await mine(genesis + 5n - (await latest()));
      next = (await latest()) + 1n;
      for (const to of [genesis, genesis - 1n, 0n]) {
        await expect(as.release(to))
          .to.be.revertedWithCustomError(emission, "InvalidRange")
          .withArgs(genesis, to, next);
        next += 1n; // each refused transaction is mined too
      }
      await expect(as.release(next + 1n))
        .to.be.revertedWithCustomError(emission, "InvalidRange")
        .withArgs(genesis, next + 1n, next);
      next += 1n;
      // Up to the block the transaction is in is fine.
      await expect(as.release(next))
        .to.emit(emission, "Released")
        .withArgs(genesis, next, emissionBetween(genesis, next));
      expect(await emission.mintedUpTo()).to.equal(next);
      await expect(as.release(next))
        .to.be.revertedWithCustomError(emission, "InvalidRange")
        .withArgs(next, next, next + 1n);
      await expect(as.release(next - 1n))
        .to.be.revertedWithCustomError(emission, "InvalidRange")
        .withArgs(next, next - 1n, next + 2n);
    });

    it("mints exactly emissionBetween(mintedUpTo, toBlock) to Consensus, from where it stopped", async function () {
      const { emission, based, controller, stranger, genesis, reward } = await loadFixture(bound);
      expect(reward).to.equal(BASED(10));
      const as = emission.connect(controller);
      await mine(genesis + 100n - (await latest()));
      expect(await as.release.staticCall(genesis + 30n)).to.equal(30n * reward);

      const tx = as.release(genesis + 30n);
      await expect(tx)
        .to.emit(emission, "Released")
        .withArgs(genesis, genesis + 30n, 30n * reward);
      await expect(tx).to.changeTokenBalances(based, [controller, stranger], [30n * reward, 0n]);
      await expect(as.release(genesis + 31n))
        .to.emit(emission, "Released")
        .withArgs(genesis + 30n, genesis + 31n, reward);
      await expect(as.release(genesis + 95n))
        .to.emit(emission, "Released")
        .withArgs(genesis + 31n, genesis + 95n, 64n * reward);
      expect(await emission.mintedUpTo()).to.equal(genesis + 95n);
      expect(await based.totalSupply()).to.equal(emissionBetween(genesis, genesis + 95n));
      expect(await based.balanceOf(controller.address)).to.equal(95n * reward);
      expect(await based.totalSupply()).to.be.lessThanOrEqual(await emission.emittedByNow());
    });

    it("without MINTER_ROLE a release reverts and nothing moves", async function () {
      const { emission, based, controller, admin, genesis } = await loadFixture(bound);
      const minter = await based.MINTER_ROLE();
      await based.connect(admin).revokeRole(minter, await emission.getAddress());
      await mine(genesis + 5n - (await latest()));
      await expect(emission.connect(controller).release(genesis + 1n))
        .to.be.revertedWithCustomError(based, "AccessControlUnauthorizedAccount")
        .withArgs(await emission.getAddress(), minter);
      expect(await emission.mintedUpTo()).to.equal(genesis);
      expect(await based.totalSupply()).to.equal(0n);
    });

    it("across the first halving the minted amount is the hand-computed sum", async function () {
      // Not a fixture: millions of blocks are mined, and the snapshot puts the chain back after.
      const snapshot = await takeSnapshot();
      try {
        const B = 3_155_760n;
        expect(BLOCKS_PER_HALVING).to.equal(B);
        await mine(B - 20n - (await latest()));
        const { emission, based, controller } = await deployEmission(B - 7n);
        await emission.bindConsensus(controller.address);
        await mine(B + 20n - (await latest()));
        const as = emission.connect(controller);

        // Blocks B−7 … B+2: 7 blocks × 10 BASED + 3 blocks × 5 BASED.
        await expect(as.release(B + 3n))
          .to.emit(emission, "Released")
          .withArgs(B - 7n, B + 3n, 7n * 10n * 10n ** 18n + 3n * 5n * 10n ** 18n);
        expect(await based.totalSupply()).to.equal(85n * 10n ** 18n);
        // Blocks B+3 … B+7: 5 blocks × 5 BASED.
        await expect(as.release(B + 8n))
          .to.emit(emission, "Released")
          .withArgs(B + 3n, B + 8n, 25n * 10n ** 18n);
        expect(await based.balanceOf(controller.address)).to.equal(110n * 10n ** 18n);

        const now = await latest();
        expect(await emission.emittedByNow()).to.equal(70n * 10n ** 18n + (now - B) * 5n * 10n ** 18n);
        expect(await emission.blockReward(B - 1n)).to.equal(10n * 10n ** 18n);
        expect(await emission.blockReward(B)).to.equal(5n * 10n ** 18n);
      } finally {
        await snapshot.restore();
      }
    });
  });

  describe("views", function () {
    it("emittedByNow is emissionBetween(genesis, current block): zero before genesis", async function () {
      const { emission, genesis, reward } = await loadFixture(standalone);
      expect((await latest()) < genesis).to.equal(true);
      expect(await emission.emittedByNow()).to.equal(0n);
      await mine(genesis - (await latest()));
      expect(await latest()).to.equal(genesis);
      expect(await emission.emittedByNow()).to.equal(0n);
      await mine(1);
      expect(await emission.emittedByNow()).to.equal(reward);
      await mine(41);
      expect(await emission.emittedByNow()).to.equal(42n * reward);
      expect(await emission.emittedByNow()).to.equal(emissionBetween(genesis, await latest()));
    });

    it("blockReward, emissionBetween and tftWeight are the schedule's", async function () {
      const { emission } = await loadFixture(standalone);
      const harness = (await ethers.deployContract(
        "EmissionScheduleHarness",
      )) as unknown as EmissionScheduleHarness;
      const B = BLOCKS_PER_HALVING;
      expect(await emission.blockReward(0n)).to.equal(BASED(10));
      expect(await emission.blockReward(B)).to.equal(BASED(5));
      expect(await emission.blockReward(64n * B)).to.equal(0n);
      expect(await emission.emissionBetween(B - 5n, B + 5n)).to.equal(BASED(75));
      expect(await emission.emissionBetween(9n, 3n)).to.equal(0n);
      expect(await emission.tftWeight(2n * B)).to.equal(0n);
      expect(await emission.tftWeight(3n * B)).to.equal(45n * 10n ** 16n);
      expect(await emission.tftWeight(4n * B + 1n)).to.equal(10n ** 18n);
      const height = fc.bigInt({ min: 0n, max: 70n * B });
      await fc.assert(
        fc.asyncProperty(height, height, async (a, b) => {
          expect(await emission.blockReward(a)).to.equal(blockReward(a));
          expect(await emission.blockReward(a)).to.equal(await harness.blockReward(a));
          expect(await emission.emissionBetween(a, b)).to.equal(emissionBetween(a, b));
          expect(await emission.emissionBetween(a, b)).to.equal(await harness.emissionBetween(a, b));
          expect(await emission.tftWeight(b)).to.equal(tftWeight(b));
        }),
        { numRuns: 30 },
      );
    });

    it("keeps its token and genesis", async function () {
      const { emission, based, genesis } = await loadFixture(standalone);
      expect(await emission.based()).to.equal(await based.getAddress());
      expect(await emission.genesisBlock()).to.equal(genesis);
      expect(await emission.mintedUpTo()).to.equal(genesis);
    });
  });
});
