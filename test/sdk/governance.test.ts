/**
 * sdk/governance.ts against the governance contracts on Hardhat's in-process chain (the fixture of
 * the contract tests, test/contracts/governance/fixture.ts): proposals in both regimes, GigaBrain
 * votes and their refusals, PEPE locks, queue and execute with a BasedAI-chain call followed to the
 * BasedAI timelock, list and show. Refusals are checked to send nothing.
 */
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { type Address } from "viem";
import type { ChainContext, ChainName } from "../../sdk/chain";
import type { Deployments } from "../../sdk/deployments";
import {
  cancelProposal,
  castVote,
  executeBasedCall,
  executeProposal,
  explainGovernanceError,
  getBasedCall,
  getGigaBrains,
  getProposal,
  governanceContracts,
  listProposals,
  lockPepe,
  parseGovernanceCall,
  propose,
  proposalTitle,
  queueProposal,
  unlockPepe,
} from "../../sdk/governance";
import { PARAMS, PEPE, YEAR, deployGovernance } from "../contracts/governance/fixture";
import { ETH_CHAIN, Kind, LOCAL_CHAIN, deliver } from "../contracts/messaging/messages";
import { inProcessContext, refusal } from "../helpers/in-process";

/** The fixture with a Deployments object naming its contracts (both chains are the one network). */
async function deployed() {
  const f = await deployGovernance();
  const addr = async (c: { getAddress(): Promise<string> }) => (await c.getAddress()) as Address;
  const filler = (await f.brain.getAddress()) as Address; // required names this test never calls
  const deployments = {
    version: 1,
    network: "in-process",
    createdAt: new Date(0).toISOString(),
    ethereum: {
      chainId: 31337,
      rpcUrl: "http://in-process",
      startBlock: 0,
      testPepecoin: true,
      contracts: {
        Pepecoin: await addr(f.pepe),
        BrainNFT: await addr(f.brain),
        WrappedBased: filler,
        MessageInbox: await addr(f.ethInbox),
        GigaBrainSets: await addr(f.sets),
        GigaBrainGovernor: await addr(f.governor),
        PepecoinHouse: await addr(f.house),
        EthereumTimelock: await addr(f.timelock),
        GovernanceOutbox: await addr(f.outbox),
      },
    },
    based: {
      chainId: 31337,
      rpcUrl: "http://in-process",
      startBlock: 0,
      contracts: {
        MessageInbox: await addr(f.basedInbox),
        BasedTimelock: await addr(f.basedTimelock),
        GovernanceCallReceiver: await addr(f.receiver),
        BasedGuardian: await addr(f.guardian),
      },
    },
  } as unknown as Deployments;
  // frank has PEPE to lock.
  await f.pepe.mint(f.frank.address, PEPE(3_000_000));
  return { f, deployments };
}

/** A context for `name` on the in-process chain, signing as Hardhat account `account`. */
const ctxOf = (deployments: Deployments, account: string, name: ChainName = "ethereum"): ChainContext =>
  inProcessContext({ signer: account as Address, name, deployments });

const nonce = (ctx: ChainContext) =>
  ctx.publicClient.getTransactionCount({ address: ctx.walletClient!.account.address });

describe("sdk/governance: proposals, GigaBrain votes, PEPE locks, queue and execute", function () {
  it("reads the deployments' governance, or says this deployment has none", async () => {
    const { deployments } = await loadFixture(deployed);
    expect(governanceContracts(deployments).GovernanceCallReceiver).to.match(/^0x/);
    const bare = {
      ...deployments,
      ethereum: {
        ...deployments.ethereum,
        contracts: { ...deployments.ethereum.contracts, GigaBrainGovernor: undefined },
      },
    } as unknown as Deployments;
    const err = await refusal(
      Promise.resolve().then(() => governanceContracts(bare)),
      "NoGovernance",
    );
    expect(err.message).to.match(/this deployment has no governance/i);
  });

  it("the GigaBrain set in force and the BasedAI block it is from", async () => {
    const { f, deployments } = await loadFixture(deployed);
    const set = await getGigaBrains(ctxOf(deployments, f.labs.address));
    expect(set).to.deep.include({ version: 1, basedBlock: 1100, brainIds: [0, 1, 2, 3, 4, 5] });
    await f.deliverSet([1, 7, 1023]);
    const next = await getGigaBrains(ctxOf(deployments, f.labs.address));
    expect(next).to.deep.include({ version: 2, basedBlock: 1200, brainIds: [1, 7, 1023] });
  });

  it("optimistic period: only labs proposes, without a Brain; a BasedAI-chain call goes through GovernanceOutbox.send", async () => {
    const { f, deployments } = await loadFixture(deployed);
    const labs = ctxOf(deployments, f.labs.address);
    const alice = ctxOf(deployments, f.alice.address);
    const calls = [
      parseGovernanceCall(deployments, "PepecoinHouse.setVetoQuorum(2000000e18)"),
      parseGovernanceCall(deployments, "BasedGuardian.changeThreshold(3)"),
    ];
    expect(calls.map((c) => c.chain)).to.deep.equal(["ethereum", "based"]);

    const before = await nonce(alice);
    const notLabs = await refusal(propose(alice, { title: "raise the veto", calls }), "NotLabsProposer");
    expect(notLabs.message).to.include(f.alice.address);
    await refusal(propose(labs, { title: "raise the veto", calls, brainId: 0 }), "OptimisticPeriodActive");
    expect(await nonce(alice)).to.equal(before);

    const p = await propose(labs, { title: "raise the veto", calls });
    expect(p.regime).to.equal("optimistic");
    expect(p.brainId).to.equal(null);
    expect(p.description).to.match(/#proposer=0x[0-9a-f]{40}$/);
    expect(proposalTitle(p.description)).to.equal("raise the veto");
    expect(p.actions[1]!.target).to.equal(await f.outbox.getAddress());
    expect(p.voteStart).to.equal(Number(await f.governor.proposalSnapshot(p.proposalId)));
    // The same calls under the same title again: refused before sending.
    await refusal(propose(labs, { title: "raise the veto", calls }), "ProposalExists");
  });

  it("votes: refused before the start, for another's Brain, a non-GigaBrain, twice, and after the end", async () => {
    const { f, deployments } = await loadFixture(deployed);
    const labs = ctxOf(deployments, f.labs.address);
    const alice = ctxOf(deployments, f.alice.address);
    const calls = [parseGovernanceCall(deployments, "PepecoinHouse.setVetoQuorum(7)")];
    const { proposalId } = await propose(labs, { title: "seven", calls });

    await refusal(castVote(alice, { proposalId, brainId: 1, support: "for" }), "VoteNotOpen");
    await f.toVoteStart(proposalId);
    const before = await nonce(alice);
    const notOwner = await refusal(
      castVote(alice, { proposalId, brainId: 2, support: "for" }),
      "NotBrainOwner",
    );
    expect(notOwner.details).to.include({ brainId: "2", owner: f.bob.address });
    // Brain #6 is labs' but not a GigaBrain.
    await refusal(castVote(labs, { proposalId, brainId: 6, support: "against" }), "NotGigaBrain");
    expect(await nonce(alice)).to.equal(before);

    const voted = await castVote(alice, { proposalId, brainId: 1, support: "for" });
    expect(voted).to.include({ brainId: 1, voter: f.alice.address, support: "for" });
    await refusal(castVote(alice, { proposalId, brainId: 1, support: "against" }), "BrainAlreadyVoted");
    // Sold to carol after voting: the Brain's vote is spent.
    await f.brain.connect(f.alice).transferFrom(f.alice.address, f.carol.address, 1);
    await refusal(
      castVote(ctxOf(deployments, f.carol.address), { proposalId, brainId: 1, support: "against" }),
      "BrainAlreadyVoted",
    );
    await castVote(ctxOf(deployments, f.bob.address), { proposalId, brainId: 2, support: "abstain" });

    // A Brain that became a GigaBrain after the snapshot does not vote on it.
    await f.deliverSet([0, 1, 2, 3, 4, 5, 6]);
    await refusal(castVote(labs, { proposalId, brainId: 6, support: "for" }), "NotGigaBrain");

    await f.toVoteEnd(proposalId);
    await refusal(castVote(labs, { proposalId, brainId: 0, support: "for" }), "VoteClosed");
    const shown = await getProposal(labs, proposalId);
    expect(shown.gigaBrains).to.deep.equal({
      for: 1,
      against: 0,
      abstain: 1,
      electorate: 6,
      quorum: 0,
      quorumReached: true,
    });
    expect(shown.state).to.equal("succeeded");
  });

  it("PEPE: locked while the vote is active (approval as needed), taken back once it is over", async () => {
    const { f, deployments } = await loadFixture(deployed);
    const labs = ctxOf(deployments, f.labs.address);
    const frank = ctxOf(deployments, f.frank.address);
    const { proposalId } = await propose(labs, {
      title: "eight",
      calls: [parseGovernanceCall(deployments, "PepecoinHouse.setVetoQuorum(8)")],
    });
    await refusal(lockPepe(frank, { proposalId, support: "against", amount: PEPE(1) }), "VoteNotOpen");
    await f.toVoteStart(proposalId);
    await refusal(
      lockPepe(frank, { proposalId, support: "against", amount: PEPE(5_000_000) }),
      "InsufficientPepe",
    );

    const first = await lockPepe(frank, { proposalId, support: "for", amount: PEPE(500_000) });
    expect(first.approvalHash).to.match(/^0x/);
    expect(first).to.include({ lockedFor: PEPE(500_000), lockedAgainst: 0n, vetoed: false });
    const second = await lockPepe(frank, { proposalId, support: "against", amount: PEPE(2_000_000) });
    expect(second).to.include({ lockedAgainst: PEPE(2_000_000), vetoed: true });

    await refusal(unlockPepe(frank, proposalId), "VoteNotOver");
    const shown = await getProposal(labs, proposalId, { account: f.frank.address as Address });
    expect(shown.pepe).to.deep.include({
      for: PEPE(500_000),
      against: PEPE(2_000_000),
      vetoQuorum: PARAMS.vetoQuorum,
      vetoed: true,
    });
    expect(shown.pepe.locked).to.deep.include({ for: PEPE(500_000), against: PEPE(2_000_000) });

    await f.toVoteEnd(proposalId);
    await refusal(lockPepe(frank, { proposalId, support: "for", amount: PEPE(1) }), "VoteClosed");
    expect((await getProposal(labs, proposalId)).state).to.equal("defeated");
    const back = await unlockPepe(frank, proposalId);
    expect(back.amount).to.equal(PEPE(2_500_000));
    expect(await f.pepe.balanceOf(f.frank.address)).to.equal(PEPE(3_000_000));
    await refusal(unlockPepe(frank, proposalId), "NothingLocked");
  });

  it("queue, execute, and the BasedAI-chain call followed to the BasedAI timelock; list and show", async () => {
    const { f, deployments } = await loadFixture(deployed);
    const labs = ctxOf(deployments, f.labs.address);
    const frank = ctxOf(deployments, f.frank.address);
    const based = ctxOf(deployments, f.frank.address, "based");
    const calls = [
      parseGovernanceCall(deployments, "PepecoinHouse.setVetoQuorum(2000000e18)"),
      // The BasedAI timelock may change its own delay (and nothing but itself may).
      parseGovernanceCall(deployments, "BasedTimelock.updateDelay(7200)"),
    ];
    const { proposalId } = await propose(labs, { title: "raise the veto", calls });
    await refusal(queueProposal(frank, proposalId), "WrongProposalState");
    await f.toVoteStart(proposalId);
    await f.toVoteEnd(proposalId);
    await refusal(executeProposal(frank, proposalId), "WrongProposalState");

    const queued = await queueProposal(frank, proposalId);
    expect(queued.eta).to.equal(Number(await f.governor.proposalEta(proposalId)));
    await refusal(executeProposal(frank, proposalId), "NotReady");
    await time.increaseTo(queued.eta);
    const done = await executeProposal(frank, proposalId);
    expect(await f.house.vetoQuorum()).to.equal(PEPE(2_000_000));
    expect(done.basedCalls).to.have.length(1);
    const sent = done.basedCalls[0]!;
    expect(sent).to.include({ contract: "BasedTimelock", function: "updateDelay(uint256)" });
    expect(await f.outbox.sent(sent.callHash)).to.equal(true);

    const shown = await getProposal(labs, proposalId);
    expect(shown).to.include({
      state: "executed",
      eta: queued.eta,
      regime: "optimistic",
      title: "raise the veto",
    });
    expect(shown.actions.map((a) => [a.chain, a.contract, a.function])).to.deep.equal([
      ["ethereum", "PepecoinHouse", "setVetoQuorum(uint256)"],
      ["based", "BasedTimelock", "updateDelay(uint256)"],
    ]);
    expect(shown.actions[1]!.based!.operationId).to.equal(sent.operationId);
    expect(shown.actions[0]!.args).to.deep.equal([PEPE(2_000_000)]);

    // Not delivered yet on the BasedAI side.
    expect((await getBasedCall(based, sent.operationId)).status).to.equal("unknown");
    await refusal(executeBasedCall(based, sent.operationId), "OperationUnknown");
    // The attesters deliver the GOVERNANCE_CALL (from Ethereum, here chain 1) to the BasedAI inbox.
    await deliver(
      f.basedInbox,
      {
        srcChainId: ETH_CHAIN,
        dstChainId: LOCAL_CHAIN,
        nonce: sent.message.nonce,
        kind: Kind.GOVERNANCE_CALL,
        payload: sent.message.payload,
      },
      f.quorum,
    );
    expect(await f.basedTimelock.isOperationPending(sent.operationId)).to.equal(true);
    const waiting = await getBasedCall(based, sent.operationId);
    expect(waiting).to.include({
      status: "waiting",
      contract: "BasedTimelock",
      function: "updateDelay(uint256)",
    });
    await refusal(executeBasedCall(based, sent.operationId), "NotReady");
    await time.increaseTo(waiting.readyAt! + 1);
    expect((await getBasedCall(based, sent.operationId)).status).to.equal("ready");
    await executeBasedCall(based, sent.operationId);
    expect((await getBasedCall(based, sent.operationId)).status).to.equal("done");
    expect(await f.basedTimelock.getMinDelay()).to.equal(7_200n);
    await refusal(executeBasedCall(based, sent.operationId), "OperationClosed");

    const list = await listProposals(labs);
    expect(list.map((p) => [p.proposalId, p.state, p.title])).to.deep.equal([
      [proposalId, "executed", "raise the veto"],
    ]);
  });

  it("GigaBrain regime: proposals name an owned GigaBrain; its proposer cancels while pending", async () => {
    const { f, deployments } = await loadFixture(deployed);
    await time.increase(YEAR);
    const labs = ctxOf(deployments, f.labs.address);
    const bob = ctxOf(deployments, f.bob.address);
    const calls = [parseGovernanceCall(deployments, "PepecoinHouse.setVetoQuorum(9)")];
    await refusal(propose(labs, { title: "nine", calls }), "OptimisticPeriodOver");
    await refusal(propose(labs, { title: "nine", calls, brainId: 6 }), "NotGigaBrain");
    await refusal(propose(bob, { title: "nine", calls, brainId: 3 }), "NotBrainOwner");

    const p = await propose(bob, { title: "nine", calls, brainId: 2 });
    expect(p).to.include({ regime: "gigabrain", brainId: 2, proposer: f.bob.address });
    const shown = await getProposal(bob, p.proposalId);
    expect(shown.gigaBrains).to.include({ quorum: 2, electorate: 6, quorumReached: false });
    expect(shown.state).to.equal("pending");

    await refusal(cancelProposal(labs, p.proposalId), "GovernorUnableToCancel");
    await cancelProposal(bob, p.proposalId);
    expect((await getProposal(bob, p.proposalId)).state).to.equal("canceled");
    await refusal(cancelProposal(bob, p.proposalId), "WrongProposalState");
    await refusal(getProposal(bob, 12345n), "ProposalNotFound");
  });

  it("explainGovernanceError says why a vote is refused", () => {
    const vote = explainGovernanceError({ name: "BrainAlreadyVoted", args: [5n, 3n] });
    expect(vote.message).to.include("Brain #3 already voted on proposal 5");
    expect(explainGovernanceError({ name: "NotGigaBrain", args: [9n, 0n] }).message).to.include(
      "not a GigaBrain",
    );
    expect(explainGovernanceError({ name: "VoteNotActive", args: [5n, 3] }).code).to.equal("VoteClosed");
    expect(explainGovernanceError({ name: "SomethingElse", args: [] }).code).to.equal("SomethingElse");
  });
});
