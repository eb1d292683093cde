import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { id as hashText } from "ethers";
import { GIGA, PARAMS, PEPE, State, Vote, YEAR, deployGovernance, type Governance } from "./fixture";

/** The fixture, one year later: proposals follow the GigaBrain rule. */
async function afterYearOne(): Promise<Governance> {
  const g = await deployGovernance();
  await time.increaseTo((await g.governor.optimisticPeriodEnd()) + 1n);
  return g;
}

describe("GigaBrainGovernor", function () {
  describe("deployment", function () {
    it("wires its house, the timelock and the optimistic period from its deployment time", async function () {
      const { governor, house, timelock, pepe, labs, brain, sets } = await loadFixture(deployGovernance);
      expect(await governor.labsProposer()).to.equal(labs.address);
      expect(await governor.timelock()).to.equal(await timelock.getAddress());
      expect(await governor.brainNFT()).to.equal(await brain.getAddress());
      expect(await governor.gigaBrains()).to.equal(await sets.getAddress());
      expect(await house.governor()).to.equal(await governor.getAddress());
      expect(await house.pepecoin()).to.equal(await pepe.getAddress());
      expect(await house.vetoQuorum()).to.equal(PARAMS.vetoQuorum);
      expect(await governor.optimisticPeriodEnd()).to.equal((await governor.genesis()) + BigInt(YEAR));
      expect(await governor.lateQuorumVoteExtension()).to.equal(BigInt(PARAMS.voteExtension));
      expect(await governor.CLOCK_MODE()).to.equal("mode=timestamp");
      expect(await governor.clock()).to.equal(BigInt(await time.latest()));
      expect(await governor.votingDelay()).to.equal(BigInt(PARAMS.votingDelay));
      expect(await governor.votingPeriod()).to.equal(BigInt(PARAMS.votingPeriod));
      expect(await governor.quorum(await time.latest())).to.equal(2n); // ceil(6 / 3)
    });

    it("refuses zero addresses", async function () {
      const { governor, labs } = await loadFixture(deployGovernance);
      const a = labs.address;
      const zero = ethers.ZeroAddress;
      const factory = await ethers.getContractFactory("GigaBrainGovernor");
      await expect(factory.deploy(zero, a, a, a, a, 1, 10, 1, 1, 1)).to.be.revertedWithCustomError(
        governor,
        "ZeroAddress",
      );
      await expect(factory.deploy(a, a, a, a, zero, 1, 10, 1, 1, 1)).to.be.revertedWithCustomError(
        governor,
        "ZeroAddress",
      );
    });
  });

  describe("first year (optimistic)", function () {
    it("only the Labs proposer proposes, and not with a Brain", async function () {
      const { governor, alice, actions } = await loadFixture(deployGovernance);
      const a = await actions(1n);
      await expect(governor.connect(alice).propose(a.targets, a.values, a.calldatas, "x"))
        .to.be.revertedWithCustomError(governor, "NotLabsProposer")
        .withArgs(alice.address);
      await expect(governor.connect(alice).proposeWithBrain(1, a.targets, a.values, a.calldatas, "x"))
        .to.be.revertedWithCustomError(governor, "OptimisticPeriodActive")
        .withArgs(await governor.optimisticPeriodEnd());
    });

    it("a Labs proposal nobody opposes passes, is queued in the timelock and executed once", async function () {
      const { governor, house, timelock, propose, toVoteEnd } = await loadFixture(deployGovernance);
      const p = await propose({ value: PEPE(42) });
      expect(await governor.state(p.proposalId)).to.equal(State.Pending);
      expect((await governor.proposalTally(p.proposalId)).optimistic).to.be.true;
      await toVoteEnd(p.proposalId);
      expect(await governor.state(p.proposalId)).to.equal(State.Succeeded);
      // Not executable before it is queued and the timelock delay has passed.
      await expect(governor.execute(...p.args)).to.be.revertedWithCustomError(
        governor,
        "GovernorUnexpectedProposalState",
      );
      await governor.queue(...p.args);
      expect(await governor.state(p.proposalId)).to.equal(State.Queued);
      await expect(governor.execute(...p.args)).to.be.revertedWithCustomError(
        timelock,
        "TimelockUnexpectedOperationState",
      );
      await time.increase(PARAMS.ethDelay);
      await expect(governor.execute(...p.args))
        .to.emit(house, "VetoQuorumSet")
        .withArgs(PEPE(42));
      expect(await house.vetoQuorum()).to.equal(PEPE(42));
      expect(await governor.state(p.proposalId)).to.equal(State.Executed);
      // Re-execution is refused.
      await expect(governor.execute(...p.args))
        .to.be.revertedWithCustomError(governor, "GovernorUnexpectedProposalState")
        .withArgs(p.proposalId, State.Executed, ethers.toBeHex(1n << State.Queued, 32));
    });

    it("half of the snapshot's GigaBrains Against does not stop it; more than half does", async function () {
      const { governor, owners, propose, toVoteStart, toVoteEnd } = await loadFixture(deployGovernance);
      const half = await propose();
      const more = await propose();
      await toVoteStart(more.proposalId);
      // 3 of 6 Against (and For votes do not matter in the optimistic rule).
      for (const i of [1, 2, 3])
        await governor.connect(owners[i]).castBrainVote(half.proposalId, i, Vote.Against);
      for (const i of [1, 2, 3, 4])
        await governor.connect(owners[i]).castBrainVote(more.proposalId, i, Vote.Against);
      await governor.connect(owners[5]).castBrainVote(more.proposalId, 5, Vote.For);
      await toVoteEnd(more.proposalId);
      expect(await governor.proposalElectorate(half.proposalId)).to.equal(6n);
      expect(await governor.state(half.proposalId)).to.equal(State.Succeeded);
      expect(await governor.state(more.proposalId)).to.equal(State.Defeated);
      await expect(governor.queue(...more.args)).to.be.revertedWithCustomError(
        governor,
        "GovernorUnexpectedProposalState",
      );
    });

    it("a proposal made in year one keeps the optimistic rule after the year ends", async function () {
      const { governor, propose, toVoteEnd } = await loadFixture(deployGovernance);
      await time.increaseTo((await governor.optimisticPeriodEnd()) - 60n);
      const p = await propose();
      await toVoteEnd(p.proposalId);
      expect(await governor.clock()).to.be.greaterThan(await governor.optimisticPeriodEnd());
      // No vote at all: the GigaBrain rule would defeat it (no quorum); the optimistic one passes it.
      expect(await governor.state(p.proposalId)).to.equal(State.Succeeded);
    });
  });

  describe("after the first year", function () {
    it("the Labs proposer has no power left; a GigaBrain owner proposes with its Brain", async function () {
      const { governor, labs, alice, frank, actions, deliverSet } = await loadFixture(afterYearOne);
      const a = await actions(1n);
      await expect(governor.connect(labs).propose(a.targets, a.values, a.calldatas, "x"))
        .to.be.revertedWithCustomError(governor, "OptimisticPeriodOver")
        .withArgs(await governor.optimisticPeriodEnd());
      // Brain #6 is labs', but not a GigaBrain.
      await expect(governor.connect(labs).proposeWithBrain(6, a.targets, a.values, a.calldatas, "x"))
        .to.be.revertedWithCustomError(governor, "NotGigaBrain")
        .withArgs(6n, (await time.latest()) + 1);
      await expect(governor.connect(frank).proposeWithBrain(1, a.targets, a.values, a.calldatas, "x"))
        .to.be.revertedWithCustomError(governor, "NotBrainOwner")
        .withArgs(1n, frank.address, alice.address);
      const tx = governor.connect(alice).proposeWithBrain(1, a.targets, a.values, a.calldatas, "x");
      const proposalId = await governor.hashProposal(a.targets, a.values, a.calldatas, hashText("x"));
      await expect(tx).to.emit(governor, "ProposedWithBrain").withArgs(proposalId, 1n, alice.address);
      expect(await governor.proposalProposer(proposalId)).to.equal(alice.address);
      expect((await governor.proposalTally(proposalId)).optimistic).to.be.false;
      // A Brain dropped from the current set can no longer propose.
      await deliverSet([2, 3]);
      await expect(
        governor.connect(alice).proposeWithBrain(1, a.targets, a.values, a.calldatas, "y"),
      ).to.be.revertedWithCustomError(governor, "NotGigaBrain");
    });

    it("passes with For > Against once a third of the snapshot's GigaBrains voted", async function () {
      const { governor, owners, alice, propose, toVoteStart, toVoteEnd } = await loadFixture(afterYearOne);
      const one = await propose({ by: alice, brainId: 1 }); // 1 For of 6: no quorum
      const two = await propose({ by: alice, brainId: 1 }); // 2 For of 6: a third
      const tie = await propose({ by: alice, brainId: 1 }); // 2 For, 2 Against
      const abstain = await propose({ by: alice, brainId: 1 }); // 1 For, 1 Abstain: quorum, For > Against
      const against = await propose({ by: alice, brainId: 1 }); // 1 For, 2 Against
      await toVoteStart(against.proposalId);
      const vote = (p: { proposalId: bigint }, i: number, support: number) =>
        governor.connect(owners[i]).castBrainVote(p.proposalId, i, support);
      await vote(one, 1, Vote.For);
      await vote(two, 1, Vote.For);
      await vote(two, 2, Vote.For);
      await vote(tie, 1, Vote.For);
      await vote(tie, 2, Vote.For);
      await vote(tie, 3, Vote.Against);
      await vote(tie, 4, Vote.Against);
      await vote(abstain, 1, Vote.For);
      await vote(abstain, 2, Vote.Abstain);
      await vote(against, 1, Vote.For);
      await vote(against, 2, Vote.Against);
      await vote(against, 3, Vote.Against);
      await toVoteEnd(against.proposalId);
      expect(await governor.state(one.proposalId)).to.equal(State.Defeated);
      expect(await governor.state(two.proposalId)).to.equal(State.Succeeded);
      expect(await governor.state(tie.proposalId)).to.equal(State.Defeated);
      expect(await governor.state(abstain.proposalId)).to.equal(State.Succeeded);
      expect(await governor.state(against.proposalId)).to.equal(State.Defeated);
      const t = await governor.proposalTally(tie.proposalId);
      expect([t.forVotes, t.againstVotes, t.abstainVotes]).to.deep.equal([2n, 2n, 0n]);
    });

    it("one GigaBrain is one vote whoever owns it: an owner of two GigaBrains votes twice, once per Brain", async function () {
      const { governor, brain, alice, bob, propose, toVoteStart, toVoteEnd } =
        await loadFixture(afterYearOne);
      await brain.connect(bob).transferFrom(bob.address, alice.address, 2);
      const p = await propose({ by: alice, brainId: 1 });
      await toVoteStart(p.proposalId);
      await governor.connect(alice).castBrainVote(p.proposalId, 1, Vote.For);
      await governor.connect(alice).castBrainVote(p.proposalId, 2, Vote.For);
      expect(await governor.hasVoted(p.proposalId, alice.address)).to.be.true;
      expect(await governor.hasVoted(p.proposalId, bob.address)).to.be.false;
      await toVoteEnd(p.proposalId);
      expect(await governor.state(p.proposalId)).to.equal(State.Succeeded);
    });

    it("nothing passes without a GigaBrain set", async function () {
      const { governor, alice, owners, propose, toVoteStart, toVoteEnd, deliverSet } =
        await loadFixture(afterYearOne);
      const p = await propose({ by: alice, brainId: 1 });
      await deliverSet([]); // in force at the snapshot
      await toVoteStart(p.proposalId);
      await expect(
        governor.connect(owners[1]).castBrainVote(p.proposalId, 1, Vote.For),
      ).to.be.revertedWithCustomError(governor, "NotGigaBrain");
      await toVoteEnd(p.proposalId);
      expect(await governor.proposalElectorate(p.proposalId)).to.equal(0n);
      expect(await governor.state(p.proposalId)).to.equal(State.Defeated);
    });
  });

  describe("votes", function () {
    it("name a Brain, owned by the voter, in the snapshot set, once, with a valid support", async function () {
      const { governor, alice, bob, propose, toVoteStart } = await loadFixture(deployGovernance);
      const p = await propose();
      await expect(
        governor.connect(alice).castBrainVote(p.proposalId, 1, Vote.For),
      ).to.be.revertedWithCustomError(governor, "GovernorUnexpectedProposalState");
      await toVoteStart(p.proposalId);
      await expect(governor.connect(alice).castVote(p.proposalId, Vote.For)).to.be.revertedWithCustomError(
        governor,
        "BrainIdRequired",
      );
      await expect(governor.connect(alice).castBrainVote(p.proposalId, 2, Vote.For))
        .to.be.revertedWithCustomError(governor, "NotBrainOwner")
        .withArgs(2n, alice.address, bob.address);
      const snapshot = await governor.proposalSnapshot(p.proposalId);
      await expect(governor.connect(alice).castBrainVote(p.proposalId, 1, 3)).to.be.revertedWithCustomError(
        governor,
        "GovernorInvalidVoteType",
      );
      await expect(governor.connect(alice).castBrainVote(p.proposalId, 1, Vote.For))
        .to.emit(governor, "BrainVoteCast")
        .withArgs(p.proposalId, 1n, alice.address, Vote.For);
      expect(await governor.hasBrainVoted(p.proposalId, 1)).to.be.true;
      expect(await governor.hasBrainVoted(p.proposalId, 2)).to.be.false;
      await expect(governor.connect(alice).castBrainVote(p.proposalId, 1, Vote.Against))
        .to.be.revertedWithCustomError(governor, "BrainAlreadyVoted")
        .withArgs(p.proposalId, 1n);
      // The Governor's own entry point with the Brain id as params works too.
      const params = ethers.AbiCoder.defaultAbiCoder().encode(["uint256"], [2]);
      await governor.connect(bob).castVoteWithReasonAndParams(p.proposalId, Vote.Against, "no", params);
      expect((await governor.proposalTally(p.proposalId)).againstVotes).to.equal(1n);
      expect(await governor.getVotesWithParams(bob.address, snapshot, params)).to.equal(1n);
      expect(await governor.getVotes(bob.address, snapshot)).to.equal(0n);
    });

    it("a Brain made a GigaBrain after the snapshot does not vote; one dropped after it still does", async function () {
      const { governor, labs, carol, propose, toVoteStart, deliverSet } = await loadFixture(deployGovernance);
      const p = await propose();
      await toVoteStart(p.proposalId);
      await deliverSet([0, 6]); // #6 (labs) joins, #3 (carol) leaves, after the snapshot
      const snapshot = await governor.proposalSnapshot(p.proposalId);
      await expect(governor.connect(labs).castBrainVote(p.proposalId, 6, Vote.Against))
        .to.be.revertedWithCustomError(governor, "NotGigaBrain")
        .withArgs(6n, snapshot);
      await governor.connect(carol).castBrainVote(p.proposalId, 3, Vote.Against);
      expect(await governor.proposalElectorate(p.proposalId)).to.equal(6n);
    });

    it("a set delivered during the voting delay is the proposal's snapshot", async function () {
      const { governor, labs, alice, propose, toVoteStart, deliverSet } = await loadFixture(deployGovernance);
      const p = await propose();
      await deliverSet([0, 6]);
      await toVoteStart(p.proposalId);
      await governor.connect(labs).castBrainVote(p.proposalId, 6, Vote.Against);
      await expect(
        governor.connect(alice).castBrainVote(p.proposalId, 1, Vote.Against),
      ).to.be.revertedWithCustomError(governor, "NotGigaBrain");
      expect(await governor.proposalElectorate(p.proposalId)).to.equal(2n);
    });

    it("a Brain bought (minted) after the snapshot does not vote, even once it is a GigaBrain", async function () {
      const { governor, brain, pepe, frank, propose, toVoteStart, deliverSet } =
        await loadFixture(deployGovernance);
      const p = await propose();
      await toVoteStart(p.proposalId);
      await pepe.mint(frank.address, PEPE(10_000));
      await pepe.connect(frank).approve(await brain.getAddress(), ethers.MaxUint256);
      await brain.connect(frank).mintByBurn(ethers.MaxUint256);
      expect(await brain.ownerOf(7)).to.equal(frank.address);
      await deliverSet([...GIGA, 7]);
      await expect(
        governor.connect(frank).castBrainVote(p.proposalId, 7, Vote.Against),
      ).to.be.revertedWithCustomError(governor, "NotGigaBrain");
    });

    it("a snapshot GigaBrain bought after the snapshot votes by its new owner, not its seller", async function () {
      const { governor, brain, alice, frank, propose, toVoteStart } = await loadFixture(deployGovernance);
      const p = await propose();
      await toVoteStart(p.proposalId);
      await brain.connect(alice).transferFrom(alice.address, frank.address, 1);
      await expect(governor.connect(alice).castBrainVote(p.proposalId, 1, Vote.Against))
        .to.be.revertedWithCustomError(governor, "NotBrainOwner")
        .withArgs(1n, alice.address, frank.address);
      await governor.connect(frank).castBrainVote(p.proposalId, 1, Vote.Against);
    });

    it("a Brain sold mid-vote cannot vote twice", async function () {
      const { governor, brain, alice, frank, propose, toVoteStart } = await loadFixture(deployGovernance);
      const p = await propose();
      await toVoteStart(p.proposalId);
      await governor.connect(alice).castBrainVote(p.proposalId, 1, Vote.Against);
      await brain.connect(alice).transferFrom(alice.address, frank.address, 1);
      await expect(governor.connect(frank).castBrainVote(p.proposalId, 1, Vote.Against))
        .to.be.revertedWithCustomError(governor, "BrainAlreadyVoted")
        .withArgs(p.proposalId, 1n);
      expect((await governor.proposalTally(p.proposalId)).againstVotes).to.equal(1n);
    });

    it("no vote after the deadline", async function () {
      const { governor, alice, propose, toVoteEnd } = await loadFixture(deployGovernance);
      const p = await propose();
      await toVoteEnd(p.proposalId);
      await expect(
        governor.connect(alice).castBrainVote(p.proposalId, 1, Vote.Against),
      ).to.be.revertedWithCustomError(governor, "GovernorUnexpectedProposalState");
    });
  });

  describe("late quorum", function () {
    it("a vote reaching the quorum in the last moments keeps the vote open lateQuorumVoteExtension longer", async function () {
      const { governor, owners, alice, propose, toVoteStart } = await loadFixture(afterYearOne);
      const p = await propose({ by: alice, brainId: 1 });
      await toVoteStart(p.proposalId);
      const deadline = await governor.proposalDeadline(p.proposalId);
      await governor.connect(owners[1]).castBrainVote(p.proposalId, 1, Vote.For);
      await time.increaseTo(deadline - 60n);
      const tx = governor.connect(owners[2]).castBrainVote(p.proposalId, 2, Vote.For);
      const extended = BigInt(await time.latest()) + 1n + BigInt(PARAMS.voteExtension);
      await expect(tx).to.emit(governor, "ProposalExtended").withArgs(p.proposalId, extended);
      expect(await governor.proposalDeadline(p.proposalId)).to.equal(extended);
      await time.increaseTo(deadline + 1n);
      expect(await governor.state(p.proposalId)).to.equal(State.Active);
      // The other side had time to answer.
      for (const i of [3, 4, 5])
        await governor.connect(owners[i]).castBrainVote(p.proposalId, i, Vote.Against);
      await time.increaseTo(extended + 1n);
      expect(await governor.state(p.proposalId)).to.equal(State.Defeated);
    });

    it("a quorum reached early does not move the deadline", async function () {
      const { governor, owners, alice, propose, toVoteStart } = await loadFixture(afterYearOne);
      const p = await propose({ by: alice, brainId: 1 });
      await toVoteStart(p.proposalId);
      const deadline = await governor.proposalDeadline(p.proposalId);
      await governor.connect(owners[1]).castBrainVote(p.proposalId, 1, Vote.For);
      await expect(governor.connect(owners[2]).castBrainVote(p.proposalId, 2, Vote.For)).not.to.emit(
        governor,
        "ProposalExtended",
      );
      expect(await governor.proposalDeadline(p.proposalId)).to.equal(deadline);
    });

    it("the extension changes only through governance", async function () {
      const { governor, alice } = await loadFixture(deployGovernance);
      await expect(governor.connect(alice).setLateQuorumVoteExtension(1))
        .to.be.revertedWithCustomError(governor, "GovernorOnlyExecutor")
        .withArgs(alice.address);
    });
  });

  describe("cancel", function () {
    it("the proposer cancels while Pending or Active; a cancelled proposal never runs", async function () {
      const { governor, timelock, labs, alice, propose, toVoteStart, toVoteEnd } =
        await loadFixture(deployGovernance);
      const pending = await propose();
      const active = await propose();
      await expect(governor.connect(alice).cancel(...pending.args))
        .to.be.revertedWithCustomError(governor, "GovernorUnableToCancel")
        .withArgs(pending.proposalId, alice.address);
      await expect(governor.connect(labs).cancel(...pending.args))
        .to.emit(governor, "ProposalCanceled")
        .withArgs(pending.proposalId);
      await toVoteStart(active.proposalId);
      await governor.connect(labs).cancel(...active.args);
      await toVoteEnd(active.proposalId);
      for (const p of [pending, active]) {
        expect(await governor.state(p.proposalId)).to.equal(State.Canceled);
        await expect(governor.queue(...p.args)).to.be.revertedWithCustomError(
          governor,
          "GovernorUnexpectedProposalState",
        );
        await expect(governor.execute(...p.args)).to.be.revertedWithCustomError(
          governor,
          "GovernorUnexpectedProposalState",
        );
        // The same actions and description cannot be proposed again (the id is taken).
        await expect(
          governor.connect(labs).propose(p.args[0], p.args[1], p.args[2], p.description),
        ).to.be.revertedWithCustomError(governor, "GovernorUnexpectedProposalState");
      }
      expect(await timelock.getMinDelay()).to.equal(BigInt(PARAMS.ethDelay));
    });

    it("no cancel once the vote is over, not even by the proposer", async function () {
      const { governor, labs, propose, toVoteEnd } = await loadFixture(deployGovernance);
      const p = await propose();
      await toVoteEnd(p.proposalId);
      await expect(governor.connect(labs).cancel(...p.args))
        .to.be.revertedWithCustomError(governor, "GovernorUnableToCancel")
        .withArgs(p.proposalId, labs.address);
      await governor.queue(...p.args);
      await expect(governor.connect(labs).cancel(...p.args)).to.be.revertedWithCustomError(
        governor,
        "GovernorUnableToCancel",
      );
    });
  });

  describe("expiry and the timelock", function () {
    it("a successful proposal not queued within the grace period expires", async function () {
      const { governor, propose, toVoteEnd } = await loadFixture(deployGovernance);
      const p = await propose();
      await toVoteEnd(p.proposalId);
      await time.increase(PARAMS.gracePeriod);
      expect(await governor.state(p.proposalId)).to.equal(State.Expired);
      await expect(governor.queue(...p.args)).to.be.revertedWithCustomError(
        governor,
        "GovernorUnexpectedProposalState",
      );
    });

    it("a queued proposal not executed within the grace period expires and cannot run, not even on the timelock", async function () {
      const { governor, timelock, alice, propose, toVoteEnd } = await loadFixture(deployGovernance);
      const p = await propose();
      await toVoteEnd(p.proposalId);
      await governor.queue(...p.args);
      const eta = await governor.proposalEta(p.proposalId);
      await time.increaseTo(eta + BigInt(PARAMS.gracePeriod) + 1n);
      expect(await governor.state(p.proposalId)).to.equal(State.Expired);
      await expect(governor.execute(...p.args)).to.be.revertedWithCustomError(
        governor,
        "GovernorUnexpectedProposalState",
      );
      const salt = ethers.zeroPadValue(
        ethers.toBeHex((BigInt(await governor.getAddress()) << 96n) ^ BigInt(p.args[3])),
        32,
      );
      await expect(
        timelock.connect(alice).executeBatch(p.args[0], p.args[1], p.args[2], ethers.ZeroHash, salt),
      )
        .to.be.revertedWithCustomError(timelock, "AccessControlUnauthorizedAccount")
        .withArgs(alice.address, await timelock.EXECUTOR_ROLE());
    });

    it("nothing reaches the timelock but the governor", async function () {
      const { timelock, alice } = await loadFixture(deployGovernance);
      await expect(
        timelock
          .connect(alice)
          .schedule(alice.address, 0, "0x", ethers.ZeroHash, ethers.ZeroHash, PARAMS.ethDelay),
      ).to.be.revertedWithCustomError(timelock, "AccessControlUnauthorizedAccount");
    });
  });

  describe("proposal ids", function () {
    it("the same actions and description cannot be proposed twice; a #proposer= suffix reserves a description", async function () {
      const { governor, labs, alice, actions } = await loadFixture(deployGovernance);
      const a = await actions(1n);
      await governor.connect(labs).propose(a.targets, a.values, a.calldatas, "same");
      await expect(
        governor.connect(labs).propose(a.targets, a.values, a.calldatas, "same"),
      ).to.be.revertedWithCustomError(governor, "GovernorUnexpectedProposalState");
      // Another description makes another proposal.
      await governor.connect(labs).propose(a.targets, a.values, a.calldatas, "same, again");
      const g = await afterYearOneFrom(governor);
      const reserved = `mine#proposer=${alice.address.toLowerCase()}`;
      await expect(g.connect(labs).proposeWithBrain(0, a.targets, a.values, a.calldatas, reserved))
        .to.be.revertedWithCustomError(governor, "GovernorRestrictedProposer")
        .withArgs(labs.address);
      await g.connect(alice).proposeWithBrain(1, a.targets, a.values, a.calldatas, reserved);
    });
  });
});

/** Moves past the optimistic period and returns the governor. */
async function afterYearOneFrom<T extends { optimisticPeriodEnd(): Promise<bigint> }>(
  governor: T,
): Promise<T> {
  await time.increaseTo((await governor.optimisticPeriodEnd()) + 1n);
  return governor;
}
