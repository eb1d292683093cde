/**
 * Security attack #4, "A sold Brain keeps paying its seller": a Brain that changes hands on Ethereum
 * (a transfer, a new linked wallet, or a freed id minted again) must not keep the previous owner's
 * configuration on the BasedAI chain, and a re-minted id must not inherit the old Brain's stake and
 * members (docs/decisions.md, "A Brain's configuration belongs to its owner of the moment").
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { ComputeMarket } from "../../../typechain-types";
import { Role } from "../../../protocol/report";
import { Class } from "../ethereum/helpers";
import { BASED, PARAMS, deployEconomy } from "./economy-fixture";

const BRAIN = 3n; // carol's burn Brain
const STAKE_BRAIN = 20n;
const ZERO = ethers.ZeroAddress;
const HASH = ethers.keccak256(ethers.toUtf8Bytes("model"));

async function deploy() {
  const eco = await deployEconomy();
  const market = (await ethers.deployContract("ComputeMarket", [
    await eco.based.getAddress(),
    await eco.registry.getAddress(),
    await eco.network.getAddress(),
  ])) as unknown as ComputeMarket;
  return { ...eco, market };
}

describe("Brain owner change (security attack #4)", function () {
  it("attack: a sold Brain keeps paying its seller — config resets on owner change", async function () {
    const { registry, market, mirror, carol, dave, signers } = await loadFixture(deploy);
    const sellerPayee = signers[9]!;
    const sellerGateway = signers[10]!;
    // The seller configures Brain 3: its rewards, gateway, prices, fee, split, ZK mode and task.
    await registry.connect(carol).setProfile(BRAIN, "seller", "seller.eth", sellerPayee.address);
    await registry.connect(carol).setPricing(BRAIN, 5n, 7n, 4_096);
    await registry.connect(carol).setRegistrationFee(BRAIN, BASED(1));
    await registry.connect(carol).setSplit(BRAIN, 9_000, 500, 500);
    await registry.connect(carol).setZkMode(BRAIN, false);
    await registry.connect(carol).setTask(BRAIN, "ipfs://seller", HASH, 1, "repo", "c0ffee");
    await time.increase(await registry.TASK_NOTICE());
    await market.connect(carol).setGateway(BRAIN, sellerGateway.address);
    expect((await registry.task(BRAIN)).modelUri).to.equal("ipfs://seller");

    // Brain 3 is sold to dave on Ethereum; the BRAIN_EVENT of the transfer reaches this chain.
    const before = await registry.configEpoch(BRAIN);
    await mirror(BRAIN, dave.address);
    expect(await registry.configEpoch(BRAIN)).to.equal(before + 1n);

    // None of the seller's settings apply: the Brain is as a fresh one is.
    expect(await registry.rewardRecipient(BRAIN)).to.equal(dave.address);
    expect(await registry.profile(BRAIN)).to.deep.equal(["", "", ZERO]);
    expect(await registry.pricing(BRAIN)).to.deep.equal([0n, 0n, 0n]);
    expect(await registry.registrationFee(BRAIN)).to.equal(await registry.DEFAULT_REGISTRATION_FEE());
    expect(await registry.split(BRAIN)).to.deep.equal([2_500n, 3_750n, 3_750n]);
    expect(await registry.zkMode(BRAIN)).to.equal(true);
    const task = await registry.task(BRAIN);
    expect(task.modelUri).to.equal("");
    expect(task.contentHash).to.equal(ethers.ZeroHash);
    expect((await registry.pendingTask(BRAIN))[1]).to.equal(0n);
    expect(await market.gatewayOf(BRAIN)).to.equal(ZERO);

    // The seller can no longer change them; the buyer can.
    await expect(registry.connect(carol).setProfile(BRAIN, "", "", carol.address))
      .to.be.revertedWithCustomError(registry, "NotBrainWallet")
      .withArgs(BRAIN, carol.address);
    await expect(registry.connect(carol).setPricing(BRAIN, 1n, 1n, 1))
      .to.be.revertedWithCustomError(registry, "NotBrainWallet")
      .withArgs(BRAIN, carol.address);
    await expect(market.connect(carol).setGateway(BRAIN, sellerGateway.address))
      .to.be.revertedWithCustomError(market, "NotBrainWallet")
      .withArgs(BRAIN, carol.address);
    await market.connect(dave).setGateway(BRAIN, dave.address);
    expect(await market.gatewayOf(BRAIN)).to.equal(dave.address);
  });

  it("a new linked wallet resets the configuration too; an unchanged snapshot does not", async function () {
    const { registry, market, mirror, carol, dave, signers } = await loadFixture(deploy);
    await registry.connect(carol).setPricing(BRAIN, 5n, 7n, 4_096);
    await market.connect(carol).setGateway(BRAIN, signers[10]!.address);
    // The same owner and wallet again (e.g. a snapshot of an unrelated event): nothing resets.
    await mirror(BRAIN, carol.address);
    expect(await registry.pricing(BRAIN)).to.deep.equal([5n, 7n, 4_096n]);
    expect(await market.gatewayOf(BRAIN)).to.equal(signers[10]!.address);
    // Carol links another BasedAI wallet: the configuration was the old wallet's.
    await mirror(BRAIN, dave.address, { owner: carol.address });
    expect(await registry.pricing(BRAIN)).to.deep.equal([0n, 0n, 0n]);
    expect(await market.gatewayOf(BRAIN)).to.equal(ZERO);
    expect(await registry.rewardRecipient(BRAIN)).to.equal(dave.address);
  });

  it("attack: a re-minted id inherits stake and members — it starts empty", async function () {
    const { registry, network, staking, based, mirror, alice, bob, carol, erin, frank, register } =
      await loadFixture(deploy);
    // Alice's stake Brain 20: erin validates, frank mines, bob stakes to the Brain, erin to herself.
    await mirror(STAKE_BRAIN, alice.address, { class: Class.Stake, unlockAt: 1_000n });
    await register(erin, STAKE_BRAIN, Role.Validator);
    await register(frank, STAKE_BRAIN, Role.Miner);
    await staking.connect(bob).stake(STAKE_BRAIN, ZERO, BASED(500));
    await staking.connect(erin).stake(STAKE_BRAIN, erin.address, BASED(300));
    expect(await staking.brainStake(STAKE_BRAIN)).to.equal(BASED(800));
    expect(await registry.generation(STAKE_BRAIN)).to.equal(0n);

    // Alice deactivates it after the lock; the freed id is minted again, by carol.
    await mirror(STAKE_BRAIN, ZERO, { class: Class.Burn, active: false });
    await mirror(STAKE_BRAIN, carol.address, { class: Class.Stake, unlockAt: 9_000n });
    expect(await registry.generation(STAKE_BRAIN)).to.equal(1n);

    // The new Brain has neither stake nor members.
    expect(await staking.brainStake(STAKE_BRAIN)).to.equal(0n);
    expect(await staking.validatorStake(STAKE_BRAIN, erin.address)).to.equal(0n);
    expect(await staking.stakeOf(STAKE_BRAIN, ZERO, bob.address)).to.equal(0n);
    expect(await network.counts(STAKE_BRAIN)).to.deep.equal([0n, 0n]);
    expect((await network.roleOf(STAKE_BRAIN, erin.address))[0]).to.equal(BigInt(Role.None));
    expect((await network.roleOf(STAKE_BRAIN, frank.address))[0]).to.equal(BigInt(Role.None));
    expect((await network.member(STAKE_BRAIN, 0)).account).to.equal(ZERO);
    await expect(network.connect(erin).deregister(STAKE_BRAIN))
      .to.be.revertedWithCustomError(network, "NotRegistered")
      .withArgs(STAKE_BRAIN, erin.address);

    // The old stakers still own their stake in generation 0 and take it back.
    expect(await staking.stakeOfAt(STAKE_BRAIN, 0n, ZERO, bob.address)).to.equal(BASED(500));
    expect(await staking.stakeOfAt(STAKE_BRAIN, 0n, erin.address, erin.address)).to.equal(BASED(300));
    await staking.connect(bob).unstakeAt(STAKE_BRAIN, 0n, ZERO, BASED(500));
    await staking.connect(erin).unstakeAt(STAKE_BRAIN, 0n, erin.address, BASED(300));
    await time.increase(PARAMS.unbondingPeriod);
    const bobBefore = await based.balanceOf(bob.address);
    await staking.connect(bob).withdraw(ethers.MaxUint256);
    expect((await based.balanceOf(bob.address)) - bobBefore).to.equal(BASED(500));
    await staking.connect(erin).withdraw(ethers.MaxUint256);
    expect(await staking.stakeOfAt(STAKE_BRAIN, 0n, ZERO, bob.address)).to.equal(0n);

    // Old members may join the new Brain afresh, and stake to it: that is generation 1's only.
    await register(erin, STAKE_BRAIN, Role.Validator);
    await staking.connect(bob).stake(STAKE_BRAIN, erin.address, BASED(10));
    expect(await staking.brainStake(STAKE_BRAIN)).to.equal(BASED(10));
    expect(await staking.stakeOfAt(STAKE_BRAIN, 1n, erin.address, bob.address)).to.equal(BASED(10));
    expect(await network.counts(STAKE_BRAIN)).to.deep.equal([1n, 0n]);
  });

  it("a re-mint whose deactivation snapshot never arrived still starts a new generation", async function () {
    const { registry, staking, mirror, alice, bob, carol } = await loadFixture(deploy);
    await mirror(STAKE_BRAIN, alice.address, { class: Class.Stake, unlockAt: 1_000n });
    await staking.connect(bob).stake(STAKE_BRAIN, ZERO, BASED(5));
    // Only the later mint's snapshot is applied (the deactivation's is older and ignored).
    await mirror(STAKE_BRAIN, carol.address, { class: Class.Stake, unlockAt: 9_000n });
    expect(await registry.generation(STAKE_BRAIN)).to.equal(1n);
    expect(await staking.brainStake(STAKE_BRAIN)).to.equal(0n);
    // The same owner minting the freed id again is a new Brain as well (a new unlock time).
    await mirror(STAKE_BRAIN, carol.address, { class: Class.Stake, unlockAt: 20_000n });
    expect(await registry.generation(STAKE_BRAIN)).to.equal(2n);
  });
});
