import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import { BASED, FUNDING, PARAMS, deployEconomy } from "./economy-fixture";

type Economy = Awaited<ReturnType<typeof deployEconomy>>;

const ZERO = ethers.ZeroAddress;
const MAX = ethers.MaxUint256;
const BRAINS = [1n, 2n] as const;

type Action =
  | { kind: "stake"; who: number; brain: number; amount: bigint }
  | { kind: "unstake"; who: number; brain: number; percent: number }
  | { kind: "withdraw"; who: number; entries: bigint }
  | { kind: "wait"; seconds: number };

const who = fc.integer({ min: 0, max: 2 });
const brain = fc.integer({ min: 0, max: 1 });
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("stake" as const),
      who,
      brain,
      amount: fc.bigInt({ min: 1n, max: BASED(1_000) }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("unstake" as const),
      who,
      brain,
      percent: fc.integer({ min: 1, max: 100 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("withdraw" as const),
      who,
      // A count of entries: zero (refused), a few, or huge ones up to type(uint256).max.
      entries: fc.oneof(
        fc.constant(MAX),
        fc.bigInt({ min: 0n, max: 4n }),
        fc.bigInt({ min: MAX - 1_000n, max: MAX }),
        fc.bigInt({ min: 2n ** 128n, max: MAX }),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("wait" as const),
      // Often exactly the unbonding period (an entry matures at its boundary), else a random wait.
      seconds: fc.oneof(
        fc.constant(Number(PARAMS.unbondingPeriod)),
        fc.integer({ min: 1, max: Number(PARAMS.unbondingPeriod) }),
        fc.integer({ min: Number(PARAMS.unbondingPeriod), max: 3 * Number(PARAMS.unbondingPeriod) }),
      ),
    }),
  },
);

interface Entry {
  amount: bigint;
  releaseAt: bigint;
}

/** The test's model of each staker: its queue (pending entries, oldest first) and its totals. */
interface Model {
  queue: Entry[];
  unbonded: Entry[]; // every unbonding ever made
  withdrawn: bigint;
}

/** The next block's timestamp, set explicitly so the model knows each transaction's time. */
async function nextTimestamp(): Promise<bigint> {
  const t = BigInt(await time.latest()) + 1n;
  await time.setNextBlockTimestamp(t);
  return t;
}

async function step(f: Economy, models: Model[], a: Action) {
  switch (a.kind) {
    case "wait":
      // An explicit timestamp: a refused withdraw (refused at gas estimation, so never mined) leaves
      // its next-block timestamp pending, which would swallow an evm_increaseTime.
      await time.setNextBlockTimestamp(BigInt(await time.latest()) + BigInt(a.seconds));
      await mine();
      return;
    case "stake": {
      const s = f.signers[2 + a.who]!;
      await f.staking.connect(s).stake(BRAINS[a.brain]!, ZERO, a.amount);
      return;
    }
    case "unstake": {
      const s = f.signers[2 + a.who]!;
      const staked = await f.staking.stakeOf(BRAINS[a.brain]!, ZERO, s.address);
      if (staked === 0n) return;
      const amount = (staked * BigInt(a.percent) + 99n) / 100n;
      const t = await nextTimestamp();
      await f.staking.connect(s).unstake(BRAINS[a.brain]!, ZERO, amount);
      const entry = { amount, releaseAt: t + PARAMS.unbondingPeriod };
      models[a.who]!.queue.push(entry);
      models[a.who]!.unbonded.push(entry);
      return;
    }
    case "withdraw": {
      const s = f.signers[2 + a.who]!;
      const m = models[a.who]!;
      const t = await nextTimestamp();
      if (a.entries === 0n) {
        await expect(f.staking.connect(s).withdraw(0n))
          .to.be.revertedWithCustomError(f.staking, "InvalidAmount")
          .withArgs(0n);
        return;
      }
      let taken = 0;
      let expected = 0n;
      while (taken < m.queue.length && BigInt(taken) < a.entries && m.queue[taken]!.releaseAt <= t) {
        expected += m.queue[taken++]!.amount;
      }
      if (expected === 0n) {
        // Any revert other than this custom error (a panic above all) fails here.
        await expect(f.staking.connect(s).withdraw(a.entries))
          .to.be.revertedWithCustomError(f.staking, "NothingToWithdraw")
          .withArgs(m.queue[0]?.releaseAt ?? 0n);
        return;
      }
      const tx = await f.staking.connect(s).withdraw(a.entries);
      await expect(tx).to.emit(f.staking, "Withdrawn").withArgs(s.address, expected);
      m.queue.splice(0, taken);
      m.withdrawn += expected;
      return;
    }
  }
}

/** Every BASED is accounted for, the queues match the model, and nothing unmatured was paid out. */
async function check(f: Economy, models: Model[]) {
  const now = BigInt(await time.latest());
  let pendingAll = 0n;
  for (const [k, m] of models.entries()) {
    const s = f.signers[2 + k]!;
    const queue = await f.staking.unbondings(s.address);
    expect(queue.map((u) => ({ amount: u.amount, releaseAt: u.releaseAt }))).to.deep.equal(m.queue);
    const pending = m.queue.reduce((sum, e) => sum + e.amount, 0n);
    pendingAll += pending;
    let staked = 0n;
    for (const b of BRAINS) staked += await f.staking.stakeOf(b, ZERO, s.address);
    // Conservation per staker: wallet + staked + unbonding is what it was funded with.
    expect((await f.based.balanceOf(s.address)) + staked + pending).to.equal(FUNDING);
    // What was withdrawn never exceeds what was unbonded and has matured.
    const matured = m.unbonded.filter((e) => e.releaseAt <= now).reduce((sum, e) => sum + e.amount, 0n);
    expect(m.withdrawn).to.be.lessThanOrEqual(matured);
  }
  // Conservation for the contract: it holds exactly the stake plus every queue.
  const held = await f.based.balanceOf(await f.staking.getAddress());
  expect(held).to.equal((await f.staking.totalStake()) + pendingAll);
}

describe("Staking unbonding (property)", function () {
  it("stake / unstake / withdraw(count or max) / time: no panic, withdrawals within matured unbondings, BASED conserved", async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 8, maxLength: 32 }), async (actions) => {
        const f = await loadFixture(deployEconomy);
        const models: Model[] = [0, 1, 2].map(() => ({ queue: [], unbonded: [], withdrawn: 0n }));
        // Every staker starts with some stake so unstakes happen early.
        for (let k = 0; k < 3; k++) {
          for (const b of BRAINS) await f.staking.connect(f.signers[2 + k]!).stake(b, ZERO, BASED(100));
        }
        await check(f, models);
        for (const a of actions) {
          await step(f, models, a);
          await check(f, models);
        }
      }),
      { numRuns: 30 },
    );
  });
});
