import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { PANIC_CODES } from "@nomicfoundation/hardhat-chai-matchers/panic";
import type { Staking } from "../../../typechain-types";
import { BASED, PARAMS, deployEconomy } from "./economy-fixture";
import { Role } from "../../../protocol/report";

const ZERO = ethers.ZeroAddress;
const BRAIN = 1n;

/** What `countedStake` must be: the Brain's stake, at most 0.5 % of the total (rounded down). */
const cap = (brainStake: bigint, total: bigint) => {
  const limit = (total * 50n) / 10_000n;
  return brainStake < limit ? brainStake : limit;
};

/** The next block's timestamp, a little after the latest one, set so releaseAt is known in advance. */
async function nextTimestamp(after = 10n): Promise<bigint> {
  const t = BigInt(await time.latest()) + after;
  await time.setNextBlockTimestamp(t);
  return t;
}

describe("Staking", function () {
  describe("stake", function () {
    it("stakes to a Brain itself (validator zero): BASED moves into Staking; brainStake, stakeOf and totalStake grow; Staked", async function () {
      const { staking, based, bob, carol } = await loadFixture(deployEconomy);
      const tx = await staking.connect(bob).stake(BRAIN, ZERO, BASED(10));
      await expect(tx).to.emit(staking, "Staked").withArgs(BRAIN, ZERO, bob.address, BASED(10));
      await expect(tx).to.changeTokenBalances(based, [bob, staking], [-BASED(10), BASED(10)]);
      await staking.connect(bob).stake(BRAIN, ZERO, 1n);
      await staking.connect(carol).stake(2n, ZERO, BASED(5));

      expect(await staking.stakeOf(BRAIN, ZERO, bob.address)).to.equal(BASED(10) + 1n);
      expect(await staking.brainStake(BRAIN)).to.equal(BASED(10) + 1n);
      expect(await staking.brainStake(2n)).to.equal(BASED(5));
      expect(await staking.stakeOf(2n, ZERO, bob.address)).to.equal(0n);
      expect(await staking.validatorStake(BRAIN, ZERO)).to.equal(0n);
      expect(await staking.totalStake()).to.equal(BASED(15) + 1n);
    });

    it("delegates to a registered validator: validatorStake, brainStake, the delegator's stakeOf and totalStake grow; Staked names the validator", async function () {
      const { staking, based, register, bob, carol, dave } = await loadFixture(deployEconomy);
      await register(bob, BRAIN, Role.Validator);
      await staking.connect(bob).stake(BRAIN, bob.address, BASED(20)); // its own stake
      const tx = await staking.connect(carol).stake(BRAIN, bob.address, BASED(30));
      await expect(tx).to.emit(staking, "Staked").withArgs(BRAIN, bob.address, carol.address, BASED(30));
      await expect(tx).to.changeTokenBalances(based, [carol, staking], [-BASED(30), BASED(30)]);
      await staking.connect(dave).stake(BRAIN, ZERO, BASED(5)); // to the Brain, not to bob

      expect(await staking.validatorStake(BRAIN, bob.address)).to.equal(BASED(50));
      expect(await staking.stakeOf(BRAIN, bob.address, bob.address)).to.equal(BASED(20));
      expect(await staking.stakeOf(BRAIN, bob.address, carol.address)).to.equal(BASED(30));
      expect(await staking.stakeOf(BRAIN, ZERO, carol.address)).to.equal(0n);
      expect(await staking.stakeOf(BRAIN, ZERO, dave.address)).to.equal(BASED(5));
      expect(await staking.brainStake(BRAIN)).to.equal(BASED(55));
      expect(await staking.totalStake()).to.equal(BASED(55));
    });

    it("refuses a zero amount: InvalidAmount(0)", async function () {
      const { staking, register, bob } = await loadFixture(deployEconomy);
      await register(bob, BRAIN, Role.Validator);
      for (const validator of [ZERO, bob.address]) {
        await expect(staking.connect(bob).stake(BRAIN, validator, 0n))
          .to.be.revertedWithCustomError(staking, "InvalidAmount")
          .withArgs(0n);
      }
    });

    it("refuses a Brain that is not active: BrainNotActive for deactivated 8 and never-mirrored 77; locked stake Brain 9 is active", async function () {
      const { staking, bob } = await loadFixture(deployEconomy);
      for (const id of [8n, 77n]) {
        await expect(staking.connect(bob).stake(id, ZERO, BASED(1)))
          .to.be.revertedWithCustomError(staking, "BrainNotActive")
          .withArgs(id);
      }
      await expect(staking.connect(bob).stake(9n, ZERO, BASED(1)))
        .to.emit(staking, "Staked")
        .withArgs(9n, ZERO, bob.address, BASED(1));
      expect(await staking.totalStake()).to.equal(BASED(1));
    });

    it("delegates only to a registered validator of that Brain: NotAValidator for a miner, a stranger, another Brain's validator and one that left", async function () {
      const { staking, network, register, bob, carol, dave, erin, frank } = await loadFixture(deployEconomy);
      await register(bob, BRAIN, Role.Miner);
      await register(carol, 2n, Role.Validator);
      await register(erin, BRAIN, Role.Validator);
      await network.connect(erin).deregister(BRAIN);
      for (const who of [bob, frank, carol, erin]) {
        await expect(staking.connect(dave).stake(BRAIN, who.address, BASED(1)))
          .to.be.revertedWithCustomError(staking, "NotAValidator")
          .withArgs(BRAIN, who.address);
      }
      expect(await staking.totalStake()).to.equal(0n);
    });
  });

  describe("unstake", function () {
    it("refuses more than the position holds: InsufficientStake(available, requested), per Brain, validator and staker", async function () {
      const { staking, register, bob, carol } = await loadFixture(deployEconomy);
      await register(carol, BRAIN, Role.Validator);
      await staking.connect(bob).stake(BRAIN, ZERO, BASED(10));
      await expect(staking.connect(bob).unstake(BRAIN, ZERO, BASED(10) + 1n))
        .to.be.revertedWithCustomError(staking, "InsufficientStake")
        .withArgs(BASED(10), BASED(10) + 1n);
      // The BASED staked to the Brain is not a position through carol, nor in Brain 2, nor carol's.
      await expect(staking.connect(bob).unstake(BRAIN, carol.address, 1n))
        .to.be.revertedWithCustomError(staking, "InsufficientStake")
        .withArgs(0n, 1n);
      await expect(staking.connect(bob).unstake(2n, ZERO, 1n))
        .to.be.revertedWithCustomError(staking, "InsufficientStake")
        .withArgs(0n, 1n);
      await expect(staking.connect(carol).unstake(BRAIN, ZERO, 1n))
        .to.be.revertedWithCustomError(staking, "InsufficientStake")
        .withArgs(0n, 1n);
    });

    it("refuses a zero amount and one beyond 128 bits: InvalidAmount", async function () {
      const { staking, bob } = await loadFixture(deployEconomy);
      await staking.connect(bob).stake(BRAIN, ZERO, BASED(1));
      for (const amount of [0n, 2n ** 128n]) {
        await expect(staking.connect(bob).unstake(BRAIN, ZERO, amount))
          .to.be.revertedWithCustomError(staking, "InvalidAmount")
          .withArgs(amount);
      }
    });

    it("takes the amount out of every total at once, moves no BASED yet, and queues it until block timestamp + unbondingPeriod (Unstaked)", async function () {
      const { staking, based, register, bob, carol } = await loadFixture(deployEconomy);
      expect(await staking.unbondingPeriod()).to.equal(PARAMS.unbondingPeriod);
      await register(bob, BRAIN, Role.Validator);
      await staking.connect(carol).stake(BRAIN, bob.address, BASED(30));
      await staking.connect(carol).stake(BRAIN, ZERO, BASED(4));

      const t = await nextTimestamp();
      const releaseAt = t + PARAMS.unbondingPeriod;
      const tx = await staking.connect(carol).unstake(BRAIN, bob.address, BASED(12));
      await expect(tx)
        .to.emit(staking, "Unstaked")
        .withArgs(BRAIN, bob.address, carol.address, BASED(12), releaseAt);
      await expect(tx).to.changeTokenBalances(based, [carol, staking], [0n, 0n]);
      expect(await staking.stakeOf(BRAIN, bob.address, carol.address)).to.equal(BASED(18));
      expect(await staking.validatorStake(BRAIN, bob.address)).to.equal(BASED(18));
      expect(await staking.brainStake(BRAIN)).to.equal(BASED(22));
      expect(await staking.totalStake()).to.equal(BASED(22));
      expect(await staking.unbondings(carol.address)).to.deep.equal([[BASED(12), releaseAt]]);

      await staking.connect(carol).unstake(BRAIN, ZERO, BASED(4));
      expect(await staking.stakeOf(BRAIN, ZERO, carol.address)).to.equal(0n);
      expect(await staking.validatorStake(BRAIN, bob.address)).to.equal(BASED(18));
      expect(await staking.brainStake(BRAIN)).to.equal(BASED(18));
      expect(await staking.totalStake()).to.equal(BASED(18));
    });

    it("still unstakes after the validator deregistered and after the Brain was deactivated", async function () {
      const { staking, network, register, mirror, alice, bob, carol } = await loadFixture(deployEconomy);
      await register(bob, BRAIN, Role.Validator);
      await staking.connect(carol).stake(BRAIN, bob.address, BASED(30));
      await staking.connect(carol).stake(BRAIN, ZERO, BASED(5));
      await network.connect(bob).deregister(BRAIN);
      // Stake is not touched by leaving.
      expect(await staking.validatorStake(BRAIN, bob.address)).to.equal(BASED(30));
      await expect(staking.connect(carol).unstake(BRAIN, bob.address, BASED(30))).to.emit(
        staking,
        "Unstaked",
      );
      expect(await staking.validatorStake(BRAIN, bob.address)).to.equal(0n);

      await mirror(BRAIN, alice.address, { active: false });
      await expect(staking.connect(carol).unstake(BRAIN, ZERO, BASED(5))).to.emit(staking, "Unstaked");
      expect(await staking.brainStake(BRAIN)).to.equal(0n);
      expect(await staking.totalStake()).to.equal(0n);
    });
  });

  describe("unbonding", function () {
    it("withdraw before releaseAt refuses with NothingToWithdraw(releaseAt); at releaseAt it returns the BASED (Withdrawn)", async function () {
      const { staking, based, bob } = await loadFixture(deployEconomy);
      await staking.connect(bob).stake(BRAIN, ZERO, BASED(10));
      const t = await nextTimestamp();
      await staking.connect(bob).unstake(BRAIN, ZERO, BASED(7));
      const releaseAt = t + PARAMS.unbondingPeriod;

      await time.setNextBlockTimestamp(releaseAt - 1n);
      await expect(staking.connect(bob).withdraw(10n))
        .to.be.revertedWithCustomError(staking, "NothingToWithdraw")
        .withArgs(releaseAt);

      await time.setNextBlockTimestamp(releaseAt);
      const tx = await staking.connect(bob).withdraw(10n);
      await expect(tx).to.emit(staking, "Withdrawn").withArgs(bob.address, BASED(7));
      await expect(tx).to.changeTokenBalances(based, [bob, staking], [BASED(7), -BASED(7)]);
      expect(await staking.unbondings(bob.address)).to.deep.equal([]);
      // The rest is still staked; nothing is queued any more.
      expect(await staking.stakeOf(BRAIN, ZERO, bob.address)).to.equal(BASED(3));
      await expect(staking.connect(bob).withdraw(10n))
        .to.be.revertedWithCustomError(staking, "NothingToWithdraw")
        .withArgs(0n);
    });

    it("withdraw(0) is refused as an invalid amount of entries (InvalidAmount(0)), not as 'nothing released'", async function () {
      const { staking, bob } = await loadFixture(deployEconomy);
      await staking.connect(bob).stake(BRAIN, ZERO, BASED(10));
      await staking.connect(bob).unstake(BRAIN, ZERO, BASED(1));
      await time.increase(PARAMS.unbondingPeriod);
      await expect(staking.connect(bob).withdraw(0n))
        .to.be.revertedWithCustomError(staking, "InvalidAmount")
        .withArgs(0n);
    });

    it("with nothing ever queued, withdraw refuses with NothingToWithdraw(0)", async function () {
      const { staking, bob } = await loadFixture(deployEconomy);
      await staking.connect(bob).stake(BRAIN, ZERO, BASED(10));
      await expect(staking.connect(bob).withdraw(10n))
        .to.be.revertedWithCustomError(staking, "NothingToWithdraw")
        .withArgs(0n);
    });

    it("withdraws released entries oldest first, at most maxEntries, and stops at the first still unbonding", async function () {
      const { staking, based, register, bob, carol } = await loadFixture(deployEconomy);
      await register(carol, BRAIN, Role.Validator);
      await staking.connect(bob).stake(BRAIN, ZERO, BASED(10));
      await staking.connect(bob).stake(BRAIN, carol.address, BASED(10));
      await staking.connect(bob).stake(2n, ZERO, BASED(10));
      // One queue per staker, whatever the Brain or validator the amount came from.
      const t1 = await nextTimestamp();
      await staking.connect(bob).unstake(BRAIN, ZERO, BASED(1));
      const t2 = await nextTimestamp(100n);
      await staking.connect(bob).unstake(BRAIN, carol.address, BASED(2));
      const t3 = await nextTimestamp(100n);
      await staking.connect(bob).unstake(2n, ZERO, BASED(4));
      const [r1, r2, r3] = [t1, t2, t3].map((t) => t + PARAMS.unbondingPeriod);
      expect(await staking.unbondings(bob.address)).to.deep.equal([
        [BASED(1), r1],
        [BASED(2), r2],
        [BASED(4), r3],
      ]);

      // Two are released; maxEntries 1 takes only the oldest.
      await time.setNextBlockTimestamp(r2!);
      await expect(staking.connect(bob).withdraw(1n))
        .to.emit(staking, "Withdrawn")
        .withArgs(bob.address, BASED(1));
      expect(await staking.unbondings(bob.address)).to.deep.equal([
        [BASED(2), r2],
        [BASED(4), r3],
      ]);
      // A large maxEntries stops at the first entry still unbonding.
      const tx = await staking.connect(bob).withdraw(10n);
      await expect(tx).to.emit(staking, "Withdrawn").withArgs(bob.address, BASED(2));
      await expect(tx).to.changeTokenBalance(based, bob, BASED(2));
      await expect(staking.connect(bob).withdraw(10n))
        .to.be.revertedWithCustomError(staking, "NothingToWithdraw")
        .withArgs(r3!);

      await time.increaseTo(r3!);
      await expect(staking.connect(bob).withdraw(10n))
        .to.emit(staking, "Withdrawn")
        .withArgs(bob.address, BASED(4));
      expect(await staking.unbondings(bob.address)).to.deep.equal([]);
      await expect(staking.connect(bob).withdraw(10n))
        .to.be.revertedWithCustomError(staking, "NothingToWithdraw")
        .withArgs(0n);
    });

    it("withdraws several released entries in one call up to maxEntries", async function () {
      const { staking, based, bob } = await loadFixture(deployEconomy);
      await staking.connect(bob).stake(BRAIN, ZERO, BASED(10));
      for (const amount of [1n, 2n, 4n]) await staking.connect(bob).unstake(BRAIN, ZERO, BASED(amount));
      const [, , last] = await staking.unbondings(bob.address);
      await time.increaseTo(last!.releaseAt);
      const tx = await staking.connect(bob).withdraw(2n);
      await expect(tx).to.emit(staking, "Withdrawn").withArgs(bob.address, BASED(3));
      await expect(tx).to.changeTokenBalances(based, [bob, staking], [BASED(3), -BASED(3)]);
      expect((await staking.unbondings(bob.address)).map((u) => u.amount)).to.deep.equal([BASED(4)]);
    });

    it("attack: withdraw(max) after consumed entries — no panic", async function () {
      const { staking, based, bob } = await loadFixture(deployEconomy);
      await staking.connect(bob).stake(BRAIN, ZERO, BASED(20));
      for (const amount of [1n, 2n, 4n]) await staking.connect(bob).unstake(BRAIN, ZERO, BASED(amount));
      await ethers.provider.send("evm_increaseTime", [Number(PARAMS.unbondingPeriod)]);
      await ethers.provider.send("evm_mine", []);
      // One entry consumed: the queue's head is past zero, so head + maxEntries would overflow.
      await staking.connect(bob).withdraw(1n);
      await staking.connect(bob).unstake(BRAIN, ZERO, BASED(8)); // still unbonding
      const tx = await staking.connect(bob).withdraw(ethers.MaxUint256);
      await expect(tx).to.emit(staking, "Withdrawn").withArgs(bob.address, BASED(6));
      await expect(tx).to.changeTokenBalances(based, [bob, staking], [BASED(6), -BASED(6)]);
      const [pending] = await staking.unbondings(bob.address);
      // Nothing released: a clear refusal naming the next release, not a panic.
      await expect(staking.connect(bob).withdraw(ethers.MaxUint256))
        .to.be.revertedWithCustomError(staking, "NothingToWithdraw")
        .withArgs(pending!.releaseAt);
      await time.increaseTo(pending!.releaseAt);
      await expect(staking.connect(bob).withdraw(ethers.MaxUint256))
        .to.emit(staking, "Withdrawn")
        .withArgs(bob.address, BASED(8));
      expect(await staking.unbondings(bob.address)).to.deep.equal([]);
      await expect(staking.connect(bob).withdraw(ethers.MaxUint256))
        .to.be.revertedWithCustomError(staking, "NothingToWithdraw")
        .withArgs(0n);
    });
  });

  describe("the 0.5 % cap and GigaBrains", function () {
    /** Brain 1 holds `one` (part of it delegated to a validator), Brain 2 holds `two`. */
    async function split(one: bigint, two: bigint) {
      const f = await loadFixture(deployEconomy);
      const { staking, register, bob, carol, dave } = f;
      await register(bob, BRAIN, Role.Validator);
      await staking.connect(carol).stake(BRAIN, bob.address, BASED(2));
      await staking.connect(dave).stake(BRAIN, ZERO, one - BASED(2));
      await staking.connect(carol).stake(2n, ZERO, two);
      expect(await staking.brainStake(BRAIN)).to.equal(one);
      expect(await staking.totalStake()).to.equal(one + two);
      return f;
    }

    it("a Brain at exactly 0.5 % of total stake counts in full and is a GigaBrain", async function () {
      const { staking } = await split(BASED(5), BASED(995));
      expect(await staking.countedStake(BRAIN)).to.equal(BASED(5));
      expect(await staking.isGigaBrain(BRAIN)).to.be.true;
      // Brain 2's 99.5 % counts only up to the cap.
      expect(await staking.countedStake(2n)).to.equal(BASED(5));
      expect(await staking.isGigaBrain(2n)).to.be.true;
    });

    it("one wei above 0.5 %: the counted stake is capped at totalStake × 50 / 10,000 and it is a GigaBrain", async function () {
      const one = BASED(5) + 1n;
      const { staking } = await split(one, BASED(995));
      const total = await staking.totalStake();
      expect(await staking.countedStake(BRAIN)).to.equal(cap(one, total));
      expect(await staking.countedStake(BRAIN)).to.equal(BASED(5));
      expect(await staking.isGigaBrain(BRAIN)).to.be.true;
    });

    it("one wei below 0.5 %: it is not a GigaBrain and counts in full", async function () {
      const one = BASED(5) - 1n;
      const { staking } = await split(one, BASED(995));
      expect(await staking.countedStake(BRAIN)).to.equal(one);
      expect(await staking.countedStake(BRAIN)).to.equal(cap(one, await staking.totalStake()));
      expect(await staking.isGigaBrain(BRAIN)).to.be.false;
    });

    it("a Brain without stake is not a GigaBrain and counts nothing, even when nothing is staked at all", async function () {
      const { staking, bob } = await loadFixture(deployEconomy);
      expect(await staking.totalStake()).to.equal(0n);
      expect(await staking.isGigaBrain(BRAIN)).to.be.false;
      expect(await staking.countedStake(BRAIN)).to.equal(0n);
      await staking.connect(bob).stake(2n, ZERO, BASED(100));
      expect(await staking.isGigaBrain(BRAIN)).to.be.false;
      expect(await staking.countedStake(BRAIN)).to.equal(0n);
      // Alone with all the stake, Brain 2 still counts only 0.5 % of it.
      expect(await staking.countedStake(2n)).to.equal(BASED(100) / 200n);
      expect(await staking.isGigaBrain(2n)).to.be.true;
    });

    it("the cap follows the total: unstaking elsewhere can make a Brain a GigaBrain", async function () {
      const { staking, carol } = await split(BASED(5) - 1n, BASED(995));
      expect(await staking.isGigaBrain(BRAIN)).to.be.false;
      await staking.connect(carol).unstake(2n, ZERO, BASED(1));
      expect(await staking.isGigaBrain(BRAIN)).to.be.true;
      // Now above the cap, so the cap (not its stake) counts.
      const counted = await staking.countedStake(BRAIN);
      expect(counted).to.equal(cap(BASED(5) - 1n, await staking.totalStake()));
      expect(counted).to.be.lessThan(BASED(5) - 1n);
    });
  });

  describe("the 70th percentile of validator stakes", function () {
    /** Ten validators of Brain 1 (signers 2 … 11), validator k staking `stakes[k]` itself. */
    async function tenValidators(stakes: bigint[]) {
      const f = await loadFixture(deployEconomy);
      const validators = f.signers.slice(2, 12);
      for (const [k, v] of validators.entries()) {
        await f.register(v, BRAIN, Role.Validator);
        await f.staking.connect(v).stake(BRAIN, v.address, stakes[k]!);
      }
      return { ...f, validators };
    }

    it("with 10 validators staking 1 … 10 BASED the threshold is 7 BASED (index ⌈0.7·10⌉ − 1); 7 BASED and above are active, 7 BASED − 1 wei is not", async function () {
      const stakes = Array.from({ length: 10 }, (_, k) => BASED(k + 1));
      const { staking, validators } = await tenValidators(stakes);
      expect(await staking.activeValidatorThreshold(BRAIN)).to.equal(BASED(7));
      const active = async () =>
        Promise.all(validators.map((v) => staking.isActiveValidator(BRAIN, v.address)));
      expect(await active()).to.deep.equal([
        false,
        false,
        false,
        false,
        false,
        false,
        true,
        true,
        true,
        true,
      ]);

      // The 6 BASED validator tops up to one wei short of the threshold: still inactive.
      const six = validators[5]!;
      await staking.connect(six).stake(BRAIN, six.address, BASED(1) - 1n);
      expect(await staking.validatorStake(BRAIN, six.address)).to.equal(BASED(7) - 1n);
      expect(await staking.activeValidatorThreshold(BRAIN)).to.equal(BASED(7));
      expect(await staking.isActiveValidator(BRAIN, six.address)).to.be.false;
      // One more wei, delegated by someone else, reaches it: at the threshold is active.
      await staking.connect(validators[0]!).stake(BRAIN, six.address, 1n);
      expect(await staking.activeValidatorThreshold(BRAIN)).to.equal(BASED(7));
      expect(await staking.isActiveValidator(BRAIN, six.address)).to.be.true;
    });

    it("counts registered validators only: one that leaves drops out of the sample and is not active", async function () {
      const stakes = Array.from({ length: 10 }, (_, k) => BASED(k + 1));
      const { staking, network, register, validators } = await tenValidators(stakes);
      const top = validators[9]!;
      await network.connect(top).deregister(BRAIN);
      // 1 … 9 BASED: index ⌈0.7·9⌉ − 1 = 6, i.e. 7 BASED; its 10 BASED stay staked but do not count.
      expect(await staking.validatorStake(BRAIN, top.address)).to.equal(BASED(10));
      expect(await staking.activeValidatorThreshold(BRAIN)).to.equal(BASED(7));
      expect(await staking.isActiveValidator(BRAIN, top.address)).to.be.false;
      // A registered validator without stake counts as zero: 0, 1 … 9 BASED → index 6 → 6 BASED.
      await register(top, BRAIN, Role.Validator);
      await staking.connect(top).unstake(BRAIN, top.address, BASED(10));
      expect(await staking.activeValidatorThreshold(BRAIN)).to.equal(BASED(6));
      expect(await staking.isActiveValidator(BRAIN, validators[5]!.address)).to.be.true;
      expect(await staking.isActiveValidator(BRAIN, validators[4]!.address)).to.be.false;
    });

    it("one validator: the threshold is its own stake; none: 0; a non-validator is never active", async function () {
      const { staking, register, bob, carol, dave } = await loadFixture(deployEconomy);
      await register(bob, 2n, Role.Validator);
      await staking.connect(bob).stake(2n, bob.address, BASED(3));
      // Stake to the Brain itself and to a miner's Brain are not validator stake.
      await staking.connect(dave).stake(2n, ZERO, BASED(100));
      await register(carol, 2n, Role.Miner);
      expect(await staking.activeValidatorThreshold(2n)).to.equal(BASED(3));
      expect(await staking.isActiveValidator(2n, bob.address)).to.be.true;
      expect(await staking.isActiveValidator(2n, carol.address)).to.be.false;
      expect(await staking.isActiveValidator(2n, dave.address)).to.be.false;

      expect(await staking.activeValidatorThreshold(3n)).to.equal(0n);
      expect(await staking.isActiveValidator(3n, bob.address)).to.be.false;
    });

    it("a validator without stake is never active, even where most validators have none and the threshold is 0", async function () {
      const { staking, register, bob, carol, dave, erin } = await loadFixture(deployEconomy);
      await register(bob, 2n, Role.Validator);
      await register(carol, 2n, Role.Validator);
      await register(dave, 2n, Role.Validator);
      await register(erin, 2n, Role.Validator);
      // Stakes 0, 0, 0, 5: index ⌈0.7·4⌉ − 1 = 2 of the sorted stakes is 0.
      await staking.connect(bob).stake(2n, bob.address, BASED(5));
      expect(await staking.activeValidatorThreshold(2n)).to.equal(0n);
      expect(await staking.isActiveValidator(2n, bob.address)).to.be.true;
      expect(await staking.isActiveValidator(2n, carol.address)).to.be.false;
      expect(await staking.isActiveValidator(2n, dave.address)).to.be.false;
    });

    it("nearestRank is the value at index ⌈p·n / 10,000⌉ − 1 of the ascending order", async function () {
      const { staking } = await loadFixture(deployEconomy);
      const cases: [bigint[], bigint, bigint][] = [
        [[5n, 1n, 3n], 7_000n, 5n], // sorted 1 3 5, ⌈2.1⌉ = 3 → index 2
        [[10n, 9n, 8n, 7n, 6n, 5n, 4n, 3n, 2n, 1n], 7_000n, 7n], // ⌈7⌉ = 7 → index 6
        [[42n], 7_000n, 42n],
        [[4n, 3n, 2n, 1n], 5_000n, 2n], // ⌈2⌉ = 2 → index 1
        [[4n, 3n, 2n, 1n], 5_001n, 3n], // ⌈2.0004⌉ = 3 → index 2
        [[4n, 3n, 2n, 1n], 10_000n, 4n],
        [[4n, 3n, 2n, 1n], 0n, 1n], // index 0, not −1
        [[7n, 7n, 0n], 7_000n, 7n],
      ];
      for (const [values, p, expected] of cases) {
        expect(await staking.nearestRank(values, p)).to.equal(expected, `${values} at ${p}`);
      }
      expect(await staking.ACTIVE_PERCENTILE_BPS()).to.equal(7_000n);
      await expect(staking.nearestRank([], 7_000n)).to.be.revertedWithPanic(
        PANIC_CODES.ARRAY_ACCESS_OUT_OF_BOUNDS,
      );
    });
  });

  describe("take", function () {
    it("a validator's take is 18 % (1800) until it sets a lower one (TakeSet), zero included", async function () {
      const { staking, register, bob } = await loadFixture(deployEconomy);
      expect(await staking.takeOf(BRAIN, bob.address)).to.equal(1_800n);
      await register(bob, BRAIN, Role.Validator);
      expect(await staking.takeOf(BRAIN, bob.address)).to.equal(1_800n);
      await expect(staking.connect(bob).setTake(BRAIN, 900))
        .to.emit(staking, "TakeSet")
        .withArgs(BRAIN, bob.address, 900n);
      expect(await staking.takeOf(BRAIN, bob.address)).to.equal(900n);
      await staking.connect(bob).setTake(BRAIN, 0);
      expect(await staking.takeOf(BRAIN, bob.address)).to.equal(0n);
      await staking.connect(bob).setTake(BRAIN, 1_800);
      expect(await staking.takeOf(BRAIN, bob.address)).to.equal(1_800n);
      // Takes are per Brain.
      await staking.connect(bob).setTake(BRAIN, 5);
      expect(await staking.takeOf(2n, bob.address)).to.equal(1_800n);
    });

    it("refuses a take above 18 %: TakeTooHigh(take, 1800)", async function () {
      const { staking, register, bob } = await loadFixture(deployEconomy);
      await register(bob, BRAIN, Role.Validator);
      await expect(staking.connect(bob).setTake(BRAIN, 1_801))
        .to.be.revertedWithCustomError(staking, "TakeTooHigh")
        .withArgs(1_801n, 1_800n);
      expect(await staking.takeOf(BRAIN, bob.address)).to.equal(1_800n);
    });

    it("only a registered validator of the Brain sets a take: NotAValidator for a miner, a stranger and another Brain's validator", async function () {
      const { staking, register, bob, carol, dave } = await loadFixture(deployEconomy);
      await register(bob, BRAIN, Role.Miner);
      await register(carol, 2n, Role.Validator);
      for (const who of [bob, carol, dave]) {
        await expect(staking.connect(who).setTake(BRAIN, 100))
          .to.be.revertedWithCustomError(staking, "NotAValidator")
          .withArgs(BRAIN, who.address);
      }
    });
  });

  describe("construction", function () {
    it("refuses a zero token, registry or network: ZeroAddress", async function () {
      const { based, registry, network } = await loadFixture(deployEconomy);
      const factory = await ethers.getContractFactory("Staking");
      const [b, r, n] = [await based.getAddress(), await registry.getAddress(), await network.getAddress()];
      for (const args of [
        [ZERO, r, n],
        [b, ZERO, n],
        [b, r, ZERO],
      ] as const) {
        await expect(factory.deploy(...args, 3_600n)).to.be.revertedWithCustomError(factory, "ZeroAddress");
      }
      const ok = (await factory.deploy(b, r, n, 60n)) as unknown as Staking;
      expect(await ok.unbondingPeriod()).to.equal(60n);
      expect(await ok.network()).to.equal(n);
    });
  });
});
