import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import { type Address, type Hex, getAddress } from "viem";
import { BASED, EPOCH_REPORT, FUNDING, PARAMS, deployEconomy } from "./economy-fixture";
import { LOCAL_CHAIN, type Message } from "../messaging/messages";
import {
  type ReportPayload,
  type RewardsTree,
  encodeReportPayload,
  reportNonce,
  rewardProof,
  rewardsTree,
} from "../../../protocol/report";
import { emissionBetween } from "../../../oracle/consensus/emission";

type Economy = Awaited<ReturnType<typeof deployEconomy>>;

/** What the fixture minted before Emission existed (the stand-in for bridged-in BASED). */
const INITIAL_FUNDING = 12n * FUNDING;
const CHALLENGED = 2n;

type Action =
  | { kind: "mine"; blocks: number }
  | { kind: "report"; split: number; overpay: boolean }
  | { kind: "retry" }
  | { kind: "stake"; who: number; brainId: number; amount: bigint }
  | { kind: "unstake"; who: number; brainId: number }
  | { kind: "withdraw"; who: number }
  | { kind: "claim" }
  | { kind: "challenge"; outcome: "upheld" | "rejected" | "lapsed" };

const who = fc.integer({ min: 0, max: 11 });
const brainId = fc.constantFrom(1, 2, 3);
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("mine" as const), blocks: fc.integer({ min: 1, max: 40 }) }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("report" as const),
      split: fc.integer({ min: 0, max: 100 }),
      // A wrong tree that sums to more than the emission: claims must still stop at the emission.
      overpay: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("retry" as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("stake" as const),
      who,
      brainId,
      amount: fc.bigInt({ min: 1n, max: BASED(1_000) }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("unstake" as const), who, brainId }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("withdraw" as const), who }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("claim" as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("challenge" as const),
      outcome: fc.constantFrom("upheld" as const, "rejected" as const, "lapsed" as const),
    }),
  },
);

/** The test's memory of one run: every tree it built (by root) and the messages that failed. */
interface Run {
  f: Economy;
  trees: Map<string, RewardsTree>;
  failed: Message[];
  reports: number;
}

function messageOf(p: ReportPayload): Message {
  return {
    srcChainId: LOCAL_CHAIN,
    dstChainId: LOCAL_CHAIN,
    nonce: reportNonce(p.epoch, p.revision),
    kind: EPOCH_REPORT,
    payload: encodeReportPayload(p),
  };
}

/** Rewards of `amount` for three accounts, split by `split` percent (some may be zero). */
async function treeOf(run: Run, amount: bigint, split: number): Promise<RewardsTree> {
  const [a, b, c] = [run.f.alice, run.f.bob, run.f.frank].map((s) => getAddress(s.address) as Address);
  const first = (amount * BigInt(split)) / 100n;
  const second = (amount - first) / 3n;
  const tree = await rewardsTree([
    { account: a!, amount: first },
    { account: b!, amount: second },
    { account: c!, amount: amount - first - second },
  ]);
  run.trees.set(tree.root, tree);
  return tree;
}

async function step(run: Run, a: Action) {
  const { f } = run;
  const signer = (i: number) => f.signers[i]!;
  switch (a.kind) {
    case "mine":
      await mine(a.blocks);
      return;
    case "report": {
      // The next report, delivered whether or not its epoch is over (if not, it is rejected for good).
      const epoch = await f.consensus.nextEpoch();
      const [start, end] = await f.consensus.epochBounds(epoch);
      const amount = emissionBetween(start, end);
      const tree = await treeOf(run, a.overpay ? (amount * 5n) / 4n : amount, a.split);
      const p: ReportPayload = {
        epoch,
        revision: 0,
        rewardsRoot: tree.root as Hex,
        pruningRoot: ethers.id(`pruning ${run.reports}`) as Hex,
        inputsHash: ethers.id(`inputs ${run.reports++}`) as Hex,
        brainIds: [1, 2],
        brainTotals: [amount / 3n, amount - amount / 3n],
      };
      const tx = await f.deliverReport(p);
      const receipt = await tx.wait();
      const rejected = receipt!.logs.some(
        (log) => f.consensus.interface.parseLog(log)?.name === "ReportRejected",
      );
      const over = BigInt(receipt!.blockNumber) >= end;
      expect(rejected, `report of epoch ${epoch} (over: ${over})`).to.equal(!over);
      // A rejected report is spent: retrying it must fail and change nothing.
      if (rejected) run.failed.push(messageOf(p));
      return;
    }
    case "retry": {
      const m = run.failed.shift();
      if (!m) return;
      await expect(f.inbox.retry(m)).to.be.revertedWithCustomError(f.inbox, "NotFailed");
      return;
    }
    case "stake":
      await f.staking.connect(signer(a.who)).stake(a.brainId, ethers.ZeroAddress, a.amount);
      return;
    case "unstake": {
      const s = signer(a.who);
      const staked = await f.staking.stakeOf(a.brainId, ethers.ZeroAddress, s.address);
      if (staked === 0n) return;
      await f.staking.connect(s).unstake(a.brainId, ethers.ZeroAddress, (staked + 1n) / 2n);
      return;
    }
    case "withdraw": {
      const s = signer(a.who);
      if ((await f.staking.unbondings(s.address)).length === 0) return;
      await time.increase(PARAMS.unbondingPeriod);
      await f.staking.connect(s).withdraw(10n);
      return;
    }
    case "claim": {
      const next = await f.consensus.nextEpoch();
      for (let epoch = 0n; epoch < next; epoch++) {
        if (!(await f.consensus.isFinal(epoch))) continue;
        const tree = run.trees.get((await f.consensus.report(epoch)).rewardsRoot)!;
        for (const [, [account]] of tree.entries()) {
          if (await f.consensus.claimed(epoch, account)) continue;
          const { amount, proof } = rewardProof(tree, account as Address)!;
          const r = await f.consensus.report(epoch);
          if (r.claimed + amount > r.amount) {
            await expect(f.consensus.claim(epoch, account, amount, proof))
              .to.be.revertedWithCustomError(f.consensus, "ClaimExceedsEmission")
              .withArgs(epoch);
            continue;
          }
          await f.consensus.claim(epoch, account, amount, proof);
        }
      }
      return;
    }
    case "challenge": {
      const next = await f.consensus.nextEpoch();
      if (next === 0n) return;
      const epoch = next - 1n;
      const r = await f.consensus.report(epoch);
      const now = BigInt(await ethers.provider.getBlockNumber());
      if (r.status !== 1n || now + 1n >= r.finalizesAt) return;
      const alternative = await treeOf(run, r.amount, 97);
      if (alternative.root === r.rewardsRoot) return;
      await f.consensus.connect(signer(7)).challenge(epoch, r.inputsHash, alternative.root);
      if (a.outcome === "lapsed") {
        // No revision: final as reported once the timeout passes; the bond waits to be burned.
        await mine(PARAMS.challengeTimeout);
        expect(await f.consensus.isFinal(epoch)).to.equal(true);
        if (run.reports % 2 === 0) await f.consensus.settleLapsedChallenge(epoch);
        return;
      }
      await f.deliverReport({
        epoch,
        revision: 1,
        rewardsRoot: (a.outcome === "upheld" ? alternative.root : r.rewardsRoot) as Hex,
        pruningRoot: r.pruningRoot as Hex,
        inputsHash: r.inputsHash as Hex,
        brainIds: [7],
        brainTotals: [r.amount],
      });
      expect((await f.consensus.report(epoch)).status).to.equal(3n);
      return;
    }
  }
}

/** The supply bound and the accounting of what Emission minted and Consensus holds. */
async function checkSupply(f: Economy) {
  const supply = await f.based.totalSupply();
  expect(supply).to.be.lessThanOrEqual((await f.emission.emittedByNow()) + INITIAL_FUNDING);

  const mintedUpTo = await f.emission.mintedUpTo();
  const released = await f.emission.queryFilter(f.emission.filters.Released());
  const minted = released.reduce((s, e) => s + e.args.amount, 0n);
  expect(minted).to.equal(emissionBetween(f.genesisBlock, mintedUpTo));
  // Nothing but Emission mints after the fixture, and nothing burns.
  expect(supply - INITIAL_FUNDING).to.equal(minted);
  expect(mintedUpTo).to.be.lessThanOrEqual(BigInt(await ethers.provider.getBlockNumber()));
  const next = await f.consensus.nextEpoch();
  expect(mintedUpTo).to.equal((await f.consensus.epochBounds(next))[0]);

  // Consensus holds exactly the unclaimed emission of the reported epochs plus open bonds, and
  // no epoch paid out more than its emission, whatever its tree said.
  const claims = await f.consensus.queryFilter(f.consensus.filters.Claimed());
  let owed = 0n;
  for (let epoch = 0n; epoch < next; epoch++) {
    const r = await f.consensus.report(epoch);
    const paid = claims.filter((c) => c.args.epoch === epoch).reduce((sum, c) => sum + c.args.amount, 0n);
    expect(paid, `claims of epoch ${epoch}`).to.equal(r.claimed);
    expect(paid <= r.amount, `epoch ${epoch} paid ${paid} of ${r.amount}`).to.equal(true);
    owed += r.amount - r.claimed;
    if (r.status === CHALLENGED) owed += r.bond;
  }
  expect(await f.based.balanceOf(await f.consensus.getAddress())).to.equal(owed);
}

describe("BASED supply (property)", function () {
  it("never exceeds the emission so far plus the initial funding, and no epoch pays out more than its emission, whatever happens (wrong trees, challenges upheld, rejected or lapsed)", async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 4, maxLength: 16 }), async (actions) => {
        const f = await loadFixture(deployEconomy);
        const run: Run = { f, trees: new Map(), failed: [], reports: 0 };
        await checkSupply(f);
        for (const a of actions) {
          await step(run, a);
          await checkSupply(f);
        }
      }),
      { numRuns: 25 },
    );
  });
});
