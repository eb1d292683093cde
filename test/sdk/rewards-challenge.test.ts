/**
 * sdk/rewards.ts against Consensus on Hardhat's in-process chain (the economy fixture of the
 * contract tests): a challenge is refused before anything is sent when Consensus would refuse it,
 * approves exactly its bond, and reports the lapse block; a lapsed challenge's bond is burned.
 */
import { expect } from "chai";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import { type Address, type Hex, erc20Abi, keccak256, toHex } from "viem";
import { emissionBetween } from "../../oracle/consensus/emission";
import { rewardsTree } from "../../protocol/report";
import type { ChainContext } from "../../sdk/chain";
import type { Deployments } from "../../sdk/deployments";
import {
  challengeReport,
  claimReward,
  explainConsensusError,
  getEpochReport,
  listRewards,
  settleLapsedChallenge,
} from "../../sdk/rewards";
import { BASED, PARAMS, deployEconomy } from "../contracts/based/economy-fixture";
import { inProcessContext, refusal } from "../helpers/in-process";

const BURN: Address = "0x000000000000000000000000000000000000dEaD";
/** A devnet account the fixture neither funds nor approves to Consensus. */
const CHALLENGER = 12;

/** A context on the in-process chain for the fixture's contracts, signing with devnet account `index`. */
function inProcess(contracts: Record<string, Address>, index: number): ChainContext {
  const deployments = {
    version: 1,
    network: "in-process",
    createdAt: new Date(0).toISOString(),
    ethereum: undefined as never,
    based: { chainId: 31337, rpcUrl: "http://in-process", startBlock: 0, contracts },
  } as unknown as Deployments;
  return inProcessContext({ signer: index, name: "based", deployments });
}

/** The economy with epoch 0's report accepted (pending its window), and a context per account. */
async function reported() {
  const f = await deployEconomy();
  const [start, end] = await f.consensus.epochBounds(0n);
  const amount = emissionBetween(start, end);
  const alice = f.alice.address as Address;
  const tree = await rewardsTree([
    { account: alice, amount: amount - 1n },
    { account: f.bob.address as Address, amount: 1n },
  ]);
  const inputsHash = keccak256(toHex("inputs 0"));
  await f.mineToEndOf(0n);
  await f.deliverReport({
    epoch: 0n,
    revision: 0,
    rewardsRoot: tree.root as Hex,
    pruningRoot: keccak256(toHex("pruning 0")),
    inputsHash,
    brainIds: [1],
    brainTotals: [amount],
  });
  const contracts: Record<string, Address> = {
    BasedToken: (await f.based.getAddress()) as Address,
    BrainRegistry: (await f.registry.getAddress()) as Address,
    Network: (await f.network.getAddress()) as Address,
    Staking: (await f.staking.getAddress()) as Address,
    Emission: (await f.emission.getAddress()) as Address,
    Consensus: (await f.consensus.getAddress()) as Address,
    ComputeMarket: (await f.consensus.getAddress()) as Address, // unused here
    MessageInbox: (await f.inbox.getAddress()) as Address,
  };
  return { f, amount, tree, inputsHash, contracts, alice };
}

describe("sdk/rewards: challenging an epoch report and settling a lapsed challenge", function () {
  it("refuses before sending what Consensus would refuse, then challenges with exactly the bond approved", async () => {
    const { f, tree, inputsHash, contracts, alice } = await loadFixture(reported);
    const ctx = inProcess(contracts, CHALLENGER);
    const me = ctx.walletClient!.account.address;
    const root = keccak256(toHex("the challenger's root"));
    const balanceOf = (who: Address) =>
      ctx.publicClient.readContract({
        address: contracts.BasedToken!,
        abi: erc20Abi,
        functionName: "balanceOf",
        args: [who],
      });
    const nonce = () => ctx.publicClient.getTransactionCount({ address: me });

    const pending = await getEpochReport(ctx, 0);
    expect(pending).to.include({
      status: "pending",
      final: false,
      lapsesAt: null,
      bond: 0n,
      challenger: null,
    });
    // 10 % of epoch 0's emission is below the floor.
    expect(pending.challengeBond).to.equal(PARAMS.minChallengeBond);

    const sent = await nonce();
    const same = await refusal(challengeReport(ctx, { epoch: 0, rewardsRoot: tree.root as Hex }));
    expect(same).to.include({ kind: "refused", code: "SameResult" });
    const none = await refusal(challengeReport(ctx, { epoch: 5, rewardsRoot: root }));
    expect(none).to.include({ code: "NoReport" });
    const bad = await refusal(challengeReport(ctx, { epoch: 0, rewardsRoot: "0x1234" }));
    expect(bad).to.include({ kind: "input", code: "InvalidRoot" });
    const poor = await refusal(challengeReport(ctx, { epoch: 0, rewardsRoot: root }));
    expect(poor).to.include({ code: "InsufficientBased" });
    expect(poor.details).to.include({ needed: BASED(100).toString(), balance: "0" });
    expect(await nonce()).to.equal(sent);

    await f.based.connect(f.alice).transfer(me, BASED(150));
    const steps: string[] = [];
    const done = await challengeReport(ctx, {
      epoch: 0,
      rewardsRoot: root.toUpperCase().replace("0X", "0x") as Hex,
      onStep: (s) => steps.push(s),
    });
    const block = Number(await ctx.publicClient.getBlockNumber());
    expect(steps).to.deep.equal(["check", "approve", "send", "confirm"]);
    expect(done).to.deep.include({
      epoch: 0,
      challenger: me,
      rewardsRoot: root,
      bond: BASED(100),
      lapsesAt: block + Number(PARAMS.challengeTimeout),
    });
    expect(done.transactionHash).to.match(/^0x[0-9a-f]{64}$/);
    expect(await balanceOf(me)).to.equal(BASED(50));
    const allowance = await ctx.publicClient.readContract({
      address: contracts.BasedToken!,
      abi: erc20Abi,
      functionName: "allowance",
      args: [me, contracts.Consensus!],
    });
    expect(allowance).to.equal(0n); // exactly the bond was approved, and taken

    const challenged = await getEpochReport(ctx, 0);
    expect(challenged).to.deep.include({
      status: "challenged",
      final: false,
      finalizesAt: done.lapsesAt,
      lapsesAt: done.lapsesAt,
      challenger: me,
      challengedRoot: root,
      bond: BASED(100),
      inputsHash,
    });

    const again = await refusal(challengeReport(ctx, { epoch: 0, rewardsRoot: keccak256(toHex("other")) }));
    expect(again).to.include({ code: "ChallengeClosed" });
    expect(again.details).to.include({ closedAt: String(done.lapsesAt) });

    const claim = await refusal(claimReward(inProcess(contracts, 1), { epoch: 0, tree }));
    expect(claim).to.include({ code: "ReportChallenged" });
    expect(claim.message).to.include(
      `when the attesters' revision is accepted, or at block ${done.lapsesAt} without one`,
    );

    const early = await refusal(settleLapsedChallenge(ctx, 0));
    expect(early).to.include({ code: "NoLapsedChallenge" });
    expect(early.details).to.include({ lapsesAt: String(done.lapsesAt) });

    const list = await listRewards(ctx, { account: alice, attesterUrls: [] });
    expect(list.rows).to.have.length(1);
    expect(list.rows[0]).to.deep.include({
      epoch: 0,
      status: "challenged",
      final: false,
      amount: null,
      finalizesAt: done.lapsesAt,
      lapsesAt: done.lapsesAt,
    });
  });

  it("a challenge no revision answers lapses: the report is final as reported and anyone burns the bond", async () => {
    const { f, tree, contracts, alice } = await loadFixture(reported);
    const challenger = inProcess(contracts, CHALLENGER);
    await f.based.connect(f.alice).transfer(challenger.walletClient!.account.address, BASED(100));
    const { lapsesAt } = await challengeReport(challenger, {
      epoch: 0,
      rewardsRoot: keccak256(toHex("wrong")),
    });
    const now = Number(await challenger.publicClient.getBlockNumber());
    await mine(lapsesAt - now);

    const lapsed = await getEpochReport(challenger, 0);
    expect(lapsed).to.include({ status: "challenged", final: true, lapsesAt });
    const [row] = (await listRewards(challenger, { account: alice, attesterUrls: [] })).rows;
    expect(row).to.include({ status: "challenged", final: true, lapsesAt });

    // Claims open without anyone settling it.
    const claimed = await claimReward(inProcess(contracts, 1), { epoch: 0, tree });
    expect(claimed.account).to.equal(alice);

    const burnedBefore = await f.based.balanceOf(BURN);
    const settled = await settleLapsedChallenge(inProcess(contracts, 2), 0);
    expect(settled).to.include({ epoch: 0, bond: BASED(100) });
    expect((await f.based.balanceOf(BURN)) - burnedBefore).to.equal(BASED(100));
    expect(await getEpochReport(challenger, 0)).to.include({
      status: "settled",
      final: true,
      lapsesAt: null,
    });

    const twice = await refusal(settleLapsedChallenge(challenger, 0));
    expect(twice).to.include({ code: "NoLapsedChallenge" });
    expect(twice.details).to.deep.equal({ epoch: "0" });
  });

  it("a report past its window can no longer be challenged: the refusal names the block it closed", async () => {
    const { contracts } = await loadFixture(reported);
    const ctx = inProcess(contracts, 1);
    const { finalizesAt } = await getEpochReport(ctx, 0);
    const now = Number(await ctx.publicClient.getBlockNumber());
    // The chain is at the window's last block: a transaction lands at finalizesAt at the earliest.
    await mine(finalizesAt - 1 - now);
    const closed = await refusal(challengeReport(ctx, { epoch: 0, rewardsRoot: keccak256(toHex("late")) }));
    expect(closed).to.include({ code: "ChallengeClosed" });
    expect(closed.message).to.include(`closed at block ${finalizesAt}`);
    expect(closed.details).to.deep.equal({ epoch: "0", closedAt: String(finalizesAt) });
  });

  it("explains Consensus's challenge errors with what to do next", () => {
    const mismatch = explainConsensusError({
      name: "InputsHashMismatch",
      args: [keccak256(toHex("a")), keccak256(toHex("b"))],
    });
    expect(mismatch).to.include({ kind: "refused", code: "InputsHashMismatch" });
    expect(mismatch.message).to.include(keccak256(toHex("a")));
    expect(explainConsensusError({ name: "ChallengeClosed", args: [4n] }).details).to.deep.equal({
      epoch: "4",
    });
    expect(explainConsensusError({ name: "SameResult", args: [] }).hint).to.include("different rewards root");
    const notYet = explainConsensusError({ name: "NoLapsedChallenge", args: [4n, 120n] });
    expect(notYet.message).to.include("before block 120");
    for (const name of ["ChallengeClosed", "InputsHashMismatch", "SameResult", "NoLapsedChallenge"]) {
      const err = explainConsensusError({ name, args: [1n, 0n] });
      expect(err.hint, name)
        .to.be.a("string")
        .and.not.match(/--|based /);
    }
  });
});
