import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { PARAMS, PEPE, State, Vote, deployGovernance } from "./fixture";

const AGAINST = 0;
const FOR = 1;

/** The fixture with frank, bob and carol holding 10M PEPE each, approved to the house. */
async function withPepe() {
  const g = await deployGovernance();
  const houseAddr = await g.house.getAddress();
  for (const who of [g.frank, g.bob, g.carol]) {
    await g.pepe.mint(who.address, PEPE(10_000_000));
    await g.pepe.connect(who).approve(houseAddr, ethers.MaxUint256);
  }
  return g;
}

describe("PepecoinHouse", function () {
  it("locks only while the vote is active, only For or Against, never nothing", async function () {
    const { governor, house, frank, propose, toVoteStart, toVoteEnd } = await loadFixture(withPepe);
    const p = await propose();
    await expect(house.connect(frank).lock(p.proposalId, AGAINST, PEPE(1)))
      .to.be.revertedWithCustomError(house, "VoteNotActive")
      .withArgs(p.proposalId, State.Pending);
    await toVoteStart(p.proposalId);
    await expect(house.connect(frank).lock(p.proposalId, Vote.Abstain, PEPE(1)))
      .to.be.revertedWithCustomError(house, "InvalidSupport")
      .withArgs(Vote.Abstain);
    await expect(house.connect(frank).lock(p.proposalId, AGAINST, 0)).to.be.revertedWithCustomError(
      house,
      "ZeroAmount",
    );
    await expect(house.connect(frank).lock(p.proposalId, AGAINST, PEPE(1)))
      .to.emit(house, "Locked")
      .withArgs(p.proposalId, frank.address, AGAINST, PEPE(1));
    await toVoteEnd(p.proposalId);
    await expect(house.connect(frank).lock(p.proposalId, AGAINST, PEPE(1)))
      .to.be.revertedWithCustomError(house, "VoteNotActive")
      .withArgs(p.proposalId, State.Succeeded);
    // The governor's own refusal of an unknown proposal comes through.
    await expect(house.connect(frank).lock(12345n, AGAINST, PEPE(1)))
      .to.be.revertedWithCustomError(governor, "GovernorNonexistentProposal")
      .withArgs(12345n);
  });

  it("vetoes when Against exceeds For and reaches the quorum, even a proposal the GigaBrains pass", async function () {
    const { governor, house, frank, bob, owners, propose, toVoteStart, toVoteEnd } =
      await loadFixture(withPepe);
    const vetoed = await propose();
    const belowQuorum = await propose();
    const outweighed = await propose();
    await toVoteStart(outweighed.proposalId);
    for (const i of [1, 2, 3, 4, 5]) {
      await governor.connect(owners[i]).castBrainVote(vetoed.proposalId, i, Vote.For);
    }
    // Exactly the quorum Against, a little For.
    await house.connect(frank).lock(vetoed.proposalId, AGAINST, PARAMS.vetoQuorum);
    await house.connect(bob).lock(vetoed.proposalId, FOR, PARAMS.vetoQuorum - 1n);
    // Against > For but one wei below the quorum.
    await house.connect(frank).lock(belowQuorum.proposalId, AGAINST, PARAMS.vetoQuorum - 1n);
    // Against at the quorum, For equal: not more Against than For.
    await house.connect(frank).lock(outweighed.proposalId, AGAINST, PARAMS.vetoQuorum);
    await house.connect(bob).lock(outweighed.proposalId, FOR, PARAMS.vetoQuorum);
    expect(await house.vetoed(vetoed.proposalId)).to.be.true;
    expect(await house.vetoed(belowQuorum.proposalId)).to.be.false;
    expect(await house.vetoed(outweighed.proposalId)).to.be.false;
    await toVoteEnd(vetoed.proposalId);
    await toVoteEnd(outweighed.proposalId);
    expect(await governor.state(vetoed.proposalId)).to.equal(State.Defeated);
    expect(await governor.state(belowQuorum.proposalId)).to.equal(State.Succeeded);
    expect(await governor.state(outweighed.proposalId)).to.equal(State.Succeeded);
    await expect(governor.queue(...vetoed.args)).to.be.revertedWithCustomError(
      governor,
      "GovernorUnexpectedProposalState",
    );
  });

  it("vetoes in the GigaBrain regime too", async function () {
    const { governor, house, frank, owners, alice, propose, toVoteStart, toVoteEnd } =
      await loadFixture(withPepe);
    await time.increaseTo((await governor.optimisticPeriodEnd()) + 1n);
    const p = await propose({ by: alice, brainId: 1 });
    await toVoteStart(p.proposalId);
    for (const i of [1, 2, 3]) await governor.connect(owners[i]).castBrainVote(p.proposalId, i, Vote.For);
    await house.connect(frank).lock(p.proposalId, AGAINST, PARAMS.vetoQuorum);
    await toVoteEnd(p.proposalId);
    expect(await governor.state(p.proposalId)).to.equal(State.Defeated);
  });

  it("returns every wei after the vote, whatever the outcome, and the outcome stays", async function () {
    const { governor, house, pepe, frank, bob, carol, labs, propose, toVoteStart, toVoteEnd } =
      await loadFixture(withPepe);
    const defeated = await propose();
    const cancelled = await propose();
    const passed = await propose();
    await toVoteStart(passed.proposalId);
    const before = {
      frank: await pepe.balanceOf(frank.address),
      bob: await pepe.balanceOf(bob.address),
      carol: await pepe.balanceOf(carol.address),
    };
    // Odd amounts, several locks on both sides.
    await house.connect(frank).lock(defeated.proposalId, AGAINST, PARAMS.vetoQuorum + 123n);
    await house.connect(frank).lock(defeated.proposalId, FOR, 7n);
    await house.connect(bob).lock(defeated.proposalId, FOR, 999_999n);
    await house.connect(carol).lock(cancelled.proposalId, AGAINST, PEPE(3) + 1n);
    await house.connect(carol).lock(passed.proposalId, FOR, 11n);
    await house.connect(bob).lock(passed.proposalId, AGAINST, 10n);
    expect(await house.lockedOf(defeated.proposalId, frank.address)).to.deep.equal([
      PARAMS.vetoQuorum + 123n,
      7n,
    ]);

    // Nothing comes back while the vote runs.
    await expect(house.connect(frank).unlock(defeated.proposalId))
      .to.be.revertedWithCustomError(house, "VoteNotOver")
      .withArgs(defeated.proposalId, State.Active);
    // A cancelled proposal's locks come back at once.
    await governor.connect(labs).cancel(...cancelled.args);
    await expect(house.connect(carol).unlock(cancelled.proposalId))
      .to.emit(house, "Unlocked")
      .withArgs(cancelled.proposalId, carol.address, PEPE(3) + 1n);

    await toVoteEnd(passed.proposalId);
    expect(await governor.state(defeated.proposalId)).to.equal(State.Defeated);
    expect(await governor.state(passed.proposalId)).to.equal(State.Succeeded);
    await house.connect(frank).unlock(defeated.proposalId);
    await house.connect(bob).unlock(defeated.proposalId);
    await house.connect(bob).unlock(passed.proposalId);
    await house.connect(carol).unlock(passed.proposalId);
    expect(await pepe.balanceOf(frank.address)).to.equal(before.frank);
    expect(await pepe.balanceOf(bob.address)).to.equal(before.bob);
    expect(await pepe.balanceOf(carol.address)).to.equal(before.carol);
    expect(await pepe.balanceOf(await house.getAddress())).to.equal(0n);

    // Unlocking does not change the tallies, so the veto stands.
    expect(await house.vetoed(defeated.proposalId)).to.be.true;
    expect(await governor.state(defeated.proposalId)).to.equal(State.Defeated);
    await expect(house.connect(frank).unlock(defeated.proposalId))
      .to.be.revertedWithCustomError(house, "NothingLocked")
      .withArgs(defeated.proposalId, frank.address);
  });

  it("a veto reached in the last moments keeps the vote open so the For side can answer", async function () {
    const { governor, house, frank, bob, propose, toVoteStart } = await loadFixture(withPepe);
    const p = await propose();
    await toVoteStart(p.proposalId);
    const deadline = await governor.proposalDeadline(p.proposalId);
    await time.increaseTo(deadline - 60n);
    const tx = house.connect(frank).lock(p.proposalId, AGAINST, PARAMS.vetoQuorum);
    const extended = BigInt(await time.latest()) + 1n + BigInt(PARAMS.voteExtension);
    await expect(tx).to.emit(governor, "ProposalExtended").withArgs(p.proposalId, extended);
    expect(await governor.proposalDeadline(p.proposalId)).to.equal(extended);
    expect((await house.tallyOf(p.proposalId)).extended).to.be.true;
    await time.increaseTo(deadline + 1n);
    expect(await governor.state(p.proposalId)).to.equal(State.Active);
    await house.connect(bob).lock(p.proposalId, FOR, PARAMS.vetoQuorum + 1n);
    await time.increaseTo(extended + 1n);
    expect(await governor.state(p.proposalId)).to.equal(State.Succeeded);
  });

  it("only the house extends a vote", async function () {
    const { governor, frank } = await loadFixture(withPepe);
    await expect(governor.connect(frank).extendForVeto(1n))
      .to.be.revertedWithCustomError(governor, "NotPepecoinHouse")
      .withArgs(frank.address);
  });

  it("the quorum changes only through governance, and not for a vote already under way", async function () {
    const { governor, house, frank, labs, propose, toVoteStart, toVoteEnd } = await loadFixture(withPepe);
    await expect(house.connect(labs).setVetoQuorum(1n))
      .to.be.revertedWithCustomError(house, "NotGovernance")
      .withArgs(labs.address);
    const change = await propose({ value: PEPE(10) });
    await toVoteStart(change.proposalId);
    // Late enough to be still voting when the change runs (vote end + timelock delay).
    await time.increase(3 * 24 * 60 * 60);
    const running = await propose();
    await toVoteStart(running.proposalId);
    // The first lock fixes the running proposal's quorum at 1M PEPE.
    await house.connect(frank).lock(running.proposalId, AGAINST, PEPE(500_000));
    await toVoteEnd(change.proposalId);
    await governor.queue(...change.args);
    await time.increase(PARAMS.ethDelay);
    await governor.execute(...change.args);
    expect(await governor.state(running.proposalId)).to.equal(State.Active);
    expect(await house.vetoQuorum()).to.equal(PEPE(10));
    expect((await house.tallyOf(running.proposalId)).quorum).to.equal(PARAMS.vetoQuorum);
    await toVoteEnd(running.proposalId);
    expect(await governor.state(running.proposalId)).to.equal(State.Succeeded);
    // A later proposal uses the new quorum.
    const later = await propose();
    await toVoteStart(later.proposalId);
    await house.connect(frank).lock(later.proposalId, AGAINST, PEPE(10));
    expect(await house.vetoed(later.proposalId)).to.be.true;
  });

  it("borrowed PEPE cannot vote: a lock moves the tokens until the vote ends", async function () {
    const { house, pepe, frank, propose, toVoteStart } = await loadFixture(withPepe);
    const p = await propose();
    await toVoteStart(p.proposalId);
    const balance = await pepe.balanceOf(frank.address);
    await house.connect(frank).lock(p.proposalId, AGAINST, balance);
    expect(await pepe.balanceOf(frank.address)).to.equal(0n);
    expect(await pepe.balanceOf(await house.getAddress())).to.equal(balance);
    await expect(house.connect(frank).unlock(p.proposalId)).to.be.revertedWithCustomError(
      house,
      "VoteNotOver",
    );
  });

  it("refuses a zero token or a quorum beyond 128 bits at deployment", async function () {
    const { house, labs } = await loadFixture(withPepe);
    const factory = await ethers.getContractFactory("PepecoinHouse");
    await expect(factory.deploy(ethers.ZeroAddress, 1n)).to.be.revertedWithCustomError(house, "ZeroAddress");
    await expect(factory.deploy(labs.address, 1n << 128n))
      .to.be.revertedWithCustomError(house, "SafeCastOverflowedUintDowncast")
      .withArgs(128, 1n << 128n);
  });
});
