import assert from "node:assert/strict";
import { expect } from "chai";
import fc from "fast-check";
import { type Address, getAddress, zeroHash } from "viem";
import type {
  BrainSnapshot,
  CarryState,
  EpochResult,
  EpochSnapshot,
  MinerSnapshot,
  RewardLine,
  ValidatorSnapshot,
} from "../../../oracle/consensus/epoch-types";
import { Role } from "../../../protocol/report";
import {
  EMPTY_CARRY,
  UNALLOCATED_BRAIN,
  UNALLOCATED_RECIPIENT,
  RewardsInputError,
  apportionExact,
  computeEpoch,
  encodeSnapshot,
  inputsHashOf,
  nearestRank,
} from "../../../oracle/consensus/rewards";
import { settled } from "../../helpers/settled";

/**
 * The reward computation of an epoch (oracle/consensus/rewards.ts): a hand-worked network, each
 * rule on its own (split, cap, bonus, permits, fallbacks, carry), and properties over random
 * snapshots (exact sum, determinism, independence of the listing order).
 * (Loops check with node:assert: hardhat-chai-matchers makes each chai assertion cost about a ms.)
 */

const A = (n: number): Address => getAddress(`0x${n.toString(16).padStart(40, "0")}`);
const json = (x: unknown) => JSON.stringify(x, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));
const clone = <T>(x: T): T => structuredClone(x);

/** Everything of a result that is data (the trees by their roots). */
function dataOf(r: EpochResult) {
  return json({
    epoch: r.epoch,
    lines: r.lines,
    rewardsRoot: r.rewardsTree.root,
    pruningLeaves: r.pruningLeaves,
    pruningRoot: r.pruningRoot,
    inputsHash: r.inputsHash,
    brainIds: r.brainIds,
    brainTotals: r.brainTotals,
    brainStats: r.brainStats,
    carry: r.carry,
  });
}

/** lines as "brainId kind account amount" strings. */
const show = (lines: readonly RewardLine[]) =>
  lines.map((l) => `${l.brainId} ${l.kind} ${l.account} ${l.amount}`);
const totalOf = (r: EpochResult, brainId: number) => r.brainStats.find((s) => s.brainId === brainId)!.total;
const amountOf = (r: EpochResult, brainId: number, kind: RewardLine["kind"], account: Address) =>
  r.lines.find((l) => l.brainId === brainId && l.kind === kind && l.account === account)?.amount ?? 0n;

function validator(
  uid: number,
  account: Address,
  delegators: [Address, bigint][],
  takeBps = 1_800,
  registeredAt = 0n,
): ValidatorSnapshot {
  return {
    uid,
    account,
    registeredAt,
    stake: delegators.reduce((s, [, a]) => s + a, 0n),
    takeBps,
    delegators: delegators.map(([a, amount]) => ({ account: a, amount })),
  };
}
const miner = (uid: number, account: Address, registeredAt = 0n): MinerSnapshot => ({
  uid,
  account,
  registeredAt,
});

/** A Brain with defaults: earns, the default split, brainStake = its validators' and stakers' stake. */
function brain(
  b: Omit<Partial<BrainSnapshot>, "weights"> & {
    brainId: number;
    weights?: [number, [number, number][]][] | BrainSnapshot["weights"];
  },
): BrainSnapshot {
  const validators = b.validators ?? [];
  const brainStakers = b.brainStakers ?? [];
  const weights = (b.weights ?? []).map((w) =>
    Array.isArray(w) ? { validatorUid: w[0], block: REVEAL, weights: w[1] } : w,
  );
  return {
    brainId: b.brainId,
    earns: b.earns ?? true,
    ownerRecipient: b.ownerRecipient ?? A(0xf000 + b.brainId),
    split: b.split ?? { ownerBps: 2_500, minersBps: 3_750, validatorsBps: 3_750 },
    brainStake:
      b.brainStake ??
      validators.reduce((s, v) => s + v.stake, 0n) + brainStakers.reduce((s, p) => s + p.amount, 0n),
    brainStakers,
    validators,
    miners: b.miners ?? [],
    weights,
  };
}

const START = 1_000n;
const END = 1_030n;
const REVEAL = 1_010n;

function snapshot(brains: BrainSnapshot[], emission: bigint, totalStake?: bigint, epoch = 5n): EpochSnapshot {
  return {
    epoch,
    startBlock: START,
    endBlock: END,
    emission,
    totalStake: totalStake ?? brains.reduce((s, b) => s + b.brainStake, 0n),
    tftWeight: 0n,
    brains,
  };
}

// ── the hand-worked network ──
const O1 = A(0x101);
const V1 = A(0x111);
const D1 = A(0x112);
const BS1 = A(0x113);
const M1 = A(0x121);
const M2 = A(0x122);
const O2 = A(0x201);
const V20 = A(0x211);
const D2 = A(0x212);
const V21 = A(0x213);
const V22 = A(0x214);
const BS2 = A(0x215);
const M3 = A(0x221);
const M4 = A(0x222);

function handWorked(): EpochSnapshot {
  return snapshot(
    [
      brain({
        brainId: 1,
        ownerRecipient: O1,
        validators: [
          validator(0, V1, [
            [V1, 400n],
            [D1, 600n],
          ]),
        ],
        miners: [miner(1, M1), miner(2, M2)],
        brainStakers: [{ account: BS1, amount: 500n }],
        weights: [
          [
            0,
            [
              [1, 3],
              [2, 1],
            ],
          ],
        ],
      }),
      brain({
        brainId: 2,
        ownerRecipient: O2,
        split: { ownerBps: 1_000, minersBps: 6_000, validatorsBps: 3_000 },
        validators: [
          validator(0, V20, [
            [V20, 1_000n],
            [D2, 2_000n],
          ]),
          validator(1, V21, [[V21, 3_000n]], 0),
          validator(2, V22, [[V22, 3_000n]], 1_000),
        ],
        miners: [miner(3, M3), miner(4, M4)],
        brainStakers: [{ account: BS2, amount: 1_000n }],
        weights: [
          [0, [[3, 1]]],
          [1, [[3, 65_535]]],
          [2, [[4, 7]]],
        ],
      }),
      brain({
        brainId: 3,
        earns: false,
        validators: [validator(0, A(0x311), [[A(0x311), 988_500n]])],
        miners: [miner(1, A(0x321))],
        weights: [[0, [[1, 1]]]],
      }),
    ],
    2_500_000n,
    1_000_000n,
  );
}

describe("oracle consensus: epoch rewards (computeEpoch)", function () {
  describe("a hand-worked network", function () {
    it("pays every account what the rules give, to the wei", async function () {
      // Total stake 1,000,000 → a Brain counts up to 5,000 (0.5 %).
      // Brain 1: stake 1,000 (V1: 400 own + 600 of D1) + 500 to the Brain = 1,500 (below the cap).
      //   One validator: consensus = its weights (3:1 → 0.75 / 0.25), validator trust 1 → performance 1.
      // Brain 2: 3 × 3,000 + 1,000 to the Brain = 10,000 → counted 5,000 (the cap).
      //   V20 and V21 put everything on miner 3, V22 on miner 4: miner 4's median (κ = ½) is 0, V22's
      //   weight is clipped away → validator trust 1, 1, 0 → performance (1 + 1 + 0) / 3 = 2/3.
      // Brain 3 does not earn (its 988,500 stake only counts in the total).
      // Top 30 % of the 2 ranked Brains: ⌈0.6⌉ = 1 → Brain 1 (performance 1), weight × 1.25.
      //   weights 1,500 × 1 × 1.25 = 1,875 and 5,000 × 2/3 = 3,333.3… → 9 : 16 of 2,500,000
      //   → Brain 1: 900,000, Brain 2: 1,600,000.
      // Brain 1 (split 25 / 37.5 / 37.5 %): owner 225,000; the rest 675,000 → validators 337,500,
      //   miners 337,500 → M1 0.75 = 253,125, M2 0.25 = 84,375. Validators part 337,500 between the
      //   permitted stake 1,000 and the Brain stakers' 500: 225,000 and 112,500 (BS1). V1's dividend
      //   225,000: take 18 % = 40,500; 184,500 → V1 400/1000 = 73,800, D1 600/1000 = 110,700.
      // Brain 2 (split 10 / 60 / 30 %): owner 160,000; rest 1,440,000 → validators 480,000, miners
      //   960,000 → all to M3 (incentive 1). Validators part between 9,000 and 1,000: 432,000 and
      //   48,000 (BS2). Dividends ½, ½, 0 (V22 has no bonds on miner 3) → 216,000 each. V20: take 18 %
      //   = 38,880, 177,120 → V20 1/3 = 59,040, D2 2/3 = 118,080. V21: take 0 → 216,000 as delegator.
      const r = await computeEpoch(handWorked(), EMPTY_CARRY);
      expect(show(r.lines)).to.deep.equal(
        show([
          { brainId: 1, kind: "owner", account: O1, amount: 225_000n },
          { brainId: 1, kind: "miner", account: M1, amount: 253_125n },
          { brainId: 1, kind: "miner", account: M2, amount: 84_375n },
          { brainId: 1, kind: "validator-take", account: V1, amount: 40_500n },
          { brainId: 1, kind: "delegator", account: V1, amount: 73_800n },
          { brainId: 1, kind: "delegator", account: D1, amount: 110_700n },
          { brainId: 1, kind: "brain-staker", account: BS1, amount: 112_500n },
          { brainId: 2, kind: "owner", account: O2, amount: 160_000n },
          { brainId: 2, kind: "miner", account: M3, amount: 960_000n },
          { brainId: 2, kind: "validator-take", account: V20, amount: 38_880n },
          { brainId: 2, kind: "delegator", account: V20, amount: 59_040n },
          { brainId: 2, kind: "delegator", account: D2, amount: 118_080n },
          { brainId: 2, kind: "delegator", account: V21, amount: 216_000n },
          { brainId: 2, kind: "brain-staker", account: BS2, amount: 48_000n },
        ]),
      );
      expect(r.brainIds).to.deep.equal([1, 2]);
      expect(r.brainTotals).to.deep.equal([900_000n, 1_600_000n]);
      expect(r.brainStats.map((s) => [s.brainId, s.total])).to.deep.equal([
        [1, 900_000n],
        [2, 1_600_000n],
        [3, 0n],
      ]);
      expect(r.brainStats[0]!.performance).to.equal(1);
      expect(r.brainStats[1]!.performance).to.be.closeTo(2 / 3, 1e-15);
      expect(r.brainStats[2]!.performance).to.equal(1); // computed, but Brain 3 does not earn
      expect(r.brainStats[0]!.weight).to.be.closeTo(0.36, 1e-12);
      expect(r.brainStats[1]!.weight).to.be.closeTo(0.64, 1e-12);
      expect(r.brainStats[2]!.weight).to.equal(0);
      expect(r.epoch).to.equal(5n);
    });

    it("builds the rewards tree per account and the pruning order of every member", async function () {
      const r = await computeEpoch(handWorked(), EMPTY_CARRY);
      // V1 and V20 are paid twice (take and own share): one leaf each, their sum.
      const leaves = new Map([...r.rewardsTree.entries()].map(([, [a, amount]]) => [a, BigInt(amount)]));
      expect(leaves.get(V1)).to.equal(40_500n + 73_800n);
      expect(leaves.get(V20)).to.equal(38_880n + 59_040n);
      expect(leaves.size).to.equal(12);
      // Pruning: lowest score first. Brain 2's validators: V22 (no dividends) then V20 and V21 (equal
      // dividends, same registration → lower uid first); miners: M4 (no incentive) then M3.
      const order = r.pruningLeaves.map(([b, role, rank, uid]) => `${b}/${role}/${rank}:${uid}`);
      expect(order).to.deep.equal([
        "1/1/0:0",
        "1/2/0:2",
        "1/2/1:1",
        "2/1/0:2",
        "2/1/1:0",
        "2/1/2:1",
        "2/2/0:4",
        "2/2/1:3",
        "3/1/0:0",
        "3/2/0:1",
      ]);
      expect(r.pruningTree!.root).to.equal(r.pruningRoot);
      expect(r.inputsHash).to.equal(inputsHashOf(handWorked(), EMPTY_CARRY));
    });

    it("carries bonds and accounts per Brain to the next epoch", async function () {
      const r = await computeEpoch(handWorked(), EMPTY_CARRY);
      expect(r.carry.epoch).to.equal(5n);
      expect(Object.keys(r.carry.brains)).to.deep.equal(["1", "2", "3"]);
      const b2 = r.carry.brains[2]!;
      expect(b2.accounts).to.deep.equal([V20, V21, V22, M3, M4]);
      // V20 and V21 share miner 3's bonds equally (max-upscaled to 65,535); V22 has none.
      expect(b2.bonds).to.deep.equal([[[3, 65_535]], [[3, 65_535]], [], [], []]);
      expect(b2.performance).to.be.closeTo(2 / 3, 1e-15);
      // The next epoch accepts it; a carry from another epoch is refused.
      const next = { ...handWorked(), epoch: 6n };
      expect(await settled(computeEpoch(next, r.carry))).not.to.throw();
      expect(await settled(computeEpoch({ ...handWorked(), epoch: 7n }, r.carry))).to.throw(
        RewardsInputError,
        /after epoch 5/,
      );
      expect(await settled(computeEpoch(handWorked(), r.carry))).to.throw(RewardsInputError);
    });
  });

  describe("across Brains", function () {
    /** A Brain with one validator (performance 1 when it sets weights) and one miner. */
    function simple(brainId: number, stake: bigint, o: { earns?: boolean; setWeights?: boolean } = {}) {
      const v = A(0x1000 + brainId);
      return brain({
        brainId,
        earns: o.earns ?? true,
        validators: [validator(0, v, [[v, stake]])],
        miners: [miner(1, A(0x2000 + brainId))],
        weights: o.setWeights === false ? [] : [[0, [[1, 1]]]],
      });
    }

    it("counts a Brain's stake up to 0.5 % of the total stake", async function () {
      // Total 1,000,000 → cap 5,000. Brains of 2,000 and 5,000 split 2 : 5 (no bonus: multiplier 1);
      // a 50,000 Brain still counts 5,000; a 5,000 one and a 5,001 one weigh the same.
      const E = 7_000_000n;
      const run = async (stakes: bigint[]) =>
        (
          await computeEpoch(
            snapshot(
              stakes.map((s, i) => simple(i + 1, s)),
              E,
              1_000_000n,
            ),
            EMPTY_CARRY,
            { bonusMultiplier: 1 },
          )
        ).brainTotals;
      expect(await run([2_000n, 5_000n])).to.deep.equal([2_000_000n, 5_000_000n]);
      expect(await run([2_000n, 50_000n])).to.deep.equal([2_000_000n, 5_000_000n]);
      expect(await run([5_001n, 5_000n])).to.deep.equal([3_500_000n, 3_500_000n]);
      // The cap is computed as Staking.countedStake: ⌊total × 50 / 10,000⌋ (here ⌊999,999 / 200⌋ = 4,999).
      const r = await computeEpoch(
        snapshot([simple(1, 4_999n), simple(2, 9_000n)], E, 999_999n),
        EMPTY_CARRY,
        {
          bonusMultiplier: 1,
        },
      );
      expect(r.brainTotals[0]).to.equal(r.brainTotals[1]);
    });

    it("gives the top 30 % by performance (⌈0.3·n⌉ Brains, ties to the lower brainId) × 1.25", async function () {
      // Four Brains of performance 1 and equal stake: ⌈1.2⌉ = 2 → Brains 1 and 2.
      const four = [1, 2, 3, 4].map((id) => simple(id, 1_000n));
      let r = await computeEpoch(snapshot(four, 4_500_000n, 1_000_000n), EMPTY_CARRY);
      expect(r.brainTotals).to.deep.equal([1_250_000n, 1_250_000n, 1_000_000n, 1_000_000n]);
      r = await computeEpoch(snapshot(four, 4_500_000n, 1_000_000n), EMPTY_CARRY, { bonusMultiplier: 1.5 });
      expect(r.brainTotals).to.deep.equal([1_350_000n, 1_350_000n, 900_000n, 900_000n]); // 1.5 : 1.5 : 1 : 1
      // By performance, not by brainId: Brain 1 at 2/3 (one of its three validators clipped away) is
      // not in the top ⌈0.9⌉ = 1 of three; Brains 2 and 3 (performance 1) tie → the lower brainId, 2.
      const third = A(0x3001);
      const weak = brain({
        brainId: 1,
        validators: [0, 1, 2].map((u) => validator(u, A(0x1100 + u), [[A(0x1100 + u), 1_000n]])),
        miners: [miner(3, third), miner(4, A(0x3002))],
        weights: [
          [0, [[3, 1]]],
          [1, [[3, 1]]],
          [2, [[4, 1]]],
        ],
      });
      r = await computeEpoch(
        snapshot([weak, simple(2, 3_000n), simple(3, 3_000n)], 3_000_000n, 1_000_000n),
        EMPTY_CARRY,
      );
      const [s1, s2, s3] = r.brainStats;
      expect(s1!.performance).to.be.closeTo(2 / 3, 1e-15);
      // weights 3,000 × 2/3 = 2,000, 3,000 × 1.25 = 3,750 and 3,000 → of 3,000,000: 685,714.29,
      // 1,285,714.29, 1,028,571.43 → the odd wei to the largest remainder (Brain 3).
      expect([s1!.total, s2!.total, s3!.total]).to.deep.equal([685_714n, 1_285_714n, 1_028_572n]);
      // Non-earning Brains and Brains of performance 0 are not ranked: with Brain 2 not earning and
      // Brain 3 without weights, the one ranked Brain (1) gets the bonus alone.
      const noWeights = simple(3, 3_000n, { setWeights: false });
      r = await computeEpoch(
        snapshot([weak, simple(2, 3_000n, { earns: false }), noWeights], 3_000_000n, 1_000_000n),
        EMPTY_CARRY,
      );
      expect(r.brainIds).to.deep.equal([1]);
    });

    it("pays nothing to Brains that do not earn (inactive, or a stake Brain before unlockAt)", async function () {
      const r = await computeEpoch(
        snapshot(
          [simple(1, 1_000n, { earns: false }), simple(2, 1_000n), simple(3, 4_000n, { earns: false })],
          999n,
        ),
        EMPTY_CARRY,
      );
      expect(r.brainIds).to.deep.equal([2]);
      expect(r.brainTotals).to.deep.equal([999n]);
      expect(r.lines.every((l) => l.brainId === 2)).to.equal(true);
      // Their members are still in the pruning order (scored by Yuma), and their state carried.
      expect(new Set(r.pruningLeaves.map((l) => l[0]))).to.deep.equal(new Set([1, 2, 3]));
      expect(Object.keys(r.carry.brains)).to.deep.equal(["1", "2", "3"]);
    });

    it("falls back to counted stake, then to equal shares, and refuses an epoch where no Brain earns", async function () {
      // No earning Brain has weights (performance 0): by counted stake, 1,000 : 3,000 (cap 5,000).
      let r = await computeEpoch(
        snapshot(
          [
            simple(1, 1_000n, { setWeights: false }),
            simple(2, 3_000n, { setWeights: false }),
            simple(3, 9n, { earns: false }),
          ],
          4_000_001n,
          1_000_000n,
        ),
        EMPTY_CARRY,
      );
      expect(r.brainTotals).to.deep.equal([1_000_000n, 3_000_001n]);
      expect(r.brainStats.map((s) => s.weight)).to.deep.equal([0.25, 0.75, 0]);
      // Within those Brains nobody earned incentive or dividends: everything to the owner.
      expect(show(r.lines)).to.deep.equal(
        show([
          { brainId: 1, kind: "owner", account: A(0xf001), amount: 1_000_000n },
          { brainId: 2, kind: "owner", account: A(0xf002), amount: 3_000_001n },
        ]),
      );
      // A Brain whose weight is 0 gets nothing while another has weight.
      r = await computeEpoch(
        snapshot([simple(1, 1_000n, { setWeights: false }), simple(2, 3_000n)], 1_000n, 1_000_000n),
        EMPTY_CARRY,
      );
      expect(r.brainIds).to.deep.equal([2]);
      // No stake at all: equally among the earning Brains (the odd wei to the lower brainId).
      const empty = (id: number) => brain({ brainId: id, miners: [miner(0, A(0x5000 + id))] });
      r = await computeEpoch(
        snapshot([empty(1), empty(2), { ...empty(3), earns: false }], 1_001n),
        EMPTY_CARRY,
      );
      expect(r.brainTotals).to.deep.equal([501n, 500n]);
      // Nobody earns: the whole emission is unallocated (to 0x…dEaD under the pseudo-Brain 65,535),
      // so the epoch is still reported and the next ones can be.
      for (const brains of [[{ ...empty(1), earns: false }], []]) {
        r = await computeEpoch(snapshot(brains, 1_001n), EMPTY_CARRY);
        expect(r.brainIds).to.deep.equal([UNALLOCATED_BRAIN]);
        expect(r.brainTotals).to.deep.equal([1_001n]);
        expect(r.lines).to.deep.equal([
          { account: UNALLOCATED_RECIPIENT, amount: 1_001n, brainId: UNALLOCATED_BRAIN, kind: "unallocated" },
        ]);
        expect(r.brainStats.every((b) => b.total === 0n)).to.be.true;
      }
    });
  });

  describe("weights date from the commitment", function () {
    it("a miner registered between a validator's commit and its reveal is not paid the weight meant for its uid's previous holder", async function () {
      const V = A(0x7001);
      const early = A(0x7002);
      const late = A(0x7003);
      const make = (committedAt?: bigint) =>
        brain({
          brainId: 1,
          validators: [validator(0, V, [[V, 1_000n]])],
          // uid 2 was taken by `late` at block 1,005: after the commitment (1,002), before the reveal.
          miners: [miner(1, early, 900n), miner(2, late, 1_005n)],
          weights: [
            {
              validatorUid: 0,
              block: REVEAL,
              ...(committedAt === undefined ? {} : { committedAt }),
              weights: [
                [1, 30_000],
                [2, 30_000],
              ],
            },
          ],
        });
      const committed = await computeEpoch(snapshot([make(1_002n)], 1_000_000n), EMPTY_CARRY);
      expect(amountOf(committed, 1, "miner", late)).to.equal(0n);
      expect(amountOf(committed, 1, "miner", early) > 0n).to.be.true;
      // Without the commit block, the reveal block stands in and the newcomer is paid.
      const revealed = await computeEpoch(snapshot([make()], 1_000_000n), EMPTY_CARRY);
      expect(amountOf(revealed, 1, "miner", late) > 0n).to.be.true;
      expect(committed.inputsHash).to.not.equal(revealed.inputsHash);
      // A commitment after its reveal is malformed.
      expect(await settled(computeEpoch(snapshot([make(REVEAL + 1n)], 1_000_000n), EMPTY_CARRY))).to.throw(
        /committed at block/,
      );
    });
  });

  describe("within a Brain", function () {
    const O = A(0xf001);
    const V = A(0x111);
    const W = A(0x112);
    const X = A(0x121);
    const Y = A(0x122);

    it("gives the owner its split, and a custom split is followed exactly (remainder to the miners)", async function () {
      const b = brain({
        brainId: 1,
        validators: [validator(0, V, [[V, 100n]], 0)],
        miners: [miner(1, X)],
        weights: [[0, [[1, 9]]]],
      });
      let r = await computeEpoch(snapshot([b], 1_000_003n, 1_000_000n), EMPTY_CARRY);
      // owner ⌊1,000,003 × 25 %⌋ = 250,000; rest 750,003 → validators ⌊750,003 / 2⌋ = 375,001, miners 375,002.
      expect(show(r.lines)).to.deep.equal(
        show([
          { brainId: 1, kind: "owner", account: O, amount: 250_000n },
          { brainId: 1, kind: "miner", account: X, amount: 375_002n },
          { brainId: 1, kind: "delegator", account: V, amount: 375_001n },
        ]),
      );
      r = await computeEpoch(
        snapshot(
          [{ ...b, split: { ownerBps: 1_234, minersBps: 0, validatorsBps: 8_766 } }],
          1_000_003n,
          1_000_000n,
        ),
        EMPTY_CARRY,
      );
      // owner ⌊1,000,003 × 0.1234⌋ = 123,400; everything else to the validators.
      expect(amountOf(r, 1, "owner", O)).to.equal(123_400n);
      expect(amountOf(r, 1, "delegator", V)).to.equal(876_603n);
      expect(amountOf(r, 1, "miner", X)).to.equal(0n);
      r = await computeEpoch(
        snapshot(
          [{ ...b, split: { ownerBps: 10_000, minersBps: 0, validatorsBps: 0 } }],
          1_000_003n,
          1_000_000n,
        ),
        EMPTY_CARRY,
      );
      expect(show(r.lines)).to.deep.equal(
        show([{ brainId: 1, kind: "owner", account: O, amount: 1_000_003n }]),
      );
    });

    it("pays a miner scored higher by consensus more than one scored lower", async function () {
      const b = brain({
        brainId: 1,
        validators: [0, 1, 2].map((u) => validator(u, A(0x100 + u), [[A(0x100 + u), BigInt(1_000 + u)]])),
        miners: [miner(3, X), miner(4, Y)],
        weights: [
          [
            0,
            [
              [3, 60],
              [4, 40],
            ],
          ],
          [
            1,
            [
              [3, 70],
              [4, 30],
            ],
          ],
          [
            2,
            [
              [3, 10],
              [4, 90],
            ],
          ],
        ],
      });
      // Permits: 70th percentile of 1,000 / 1,001 / 1,002 is 1,002 → only uid 2 (scores X 0.1, Y 0.9).
      let r = await computeEpoch(snapshot([b], 10n ** 21n, 10n ** 9n), EMPTY_CARRY);
      expect(amountOf(r, 1, "miner", Y)).to.be.greaterThan(amountOf(r, 1, "miner", X));
      // With all three permitted (equal stakes): the median favours X (0.6, 0.7 vs 0.1).
      const equal = {
        ...b,
        validators: b.validators.map((v) => validator(v.uid, v.account, [[v.account, 1_000n]])),
      };
      r = await computeEpoch(
        snapshot([{ ...equal, brainStake: 3_000n }], 10n ** 21n, 10n ** 9n),
        EMPTY_CARRY,
      );
      expect(amountOf(r, 1, "miner", X)).to.be.greaterThan(amountOf(r, 1, "miner", Y));
      expect(r.pruningLeaves.filter((l) => l[1] === Role.Miner).map((l) => l[3])).to.deep.equal([4, 3]);
    });

    it("gives a permit only at or above the 70th-percentile stake (nearest rank), as Staking", async function () {
      // Stakes 100, 200, 300, 400 → index ⌈2.8⌉ − 1 = 2 → 300: uids 2 and 3 hold permits. uids 0 and
      // 1 weight miner X and are not counted; 2 and 3 weight Y, which gets all the incentive.
      const vs = [100n, 200n, 300n, 400n].map((s, u) => validator(u, A(0x100 + u), [[A(0x100 + u), s]], 0));
      const r = await computeEpoch(
        snapshot(
          [
            brain({
              brainId: 1,
              validators: vs,
              miners: [miner(4, X), miner(5, Y)],
              weights: [
                [0, [[4, 1]]],
                [1, [[4, 1]]],
                [2, [[5, 1]]],
                [3, [[5, 1]]],
              ],
            }),
          ],
          1_000_000n,
          10n ** 9n,
        ),
        EMPTY_CARRY,
      );
      expect(amountOf(r, 1, "miner", X)).to.equal(0n);
      expect(amountOf(r, 1, "miner", Y)).to.equal(375_000n);
      // Dividends by bonds: 300 : 400 of the validators part.
      expect(amountOf(r, 1, "delegator", A(0x102))).to.equal(160_714n);
      expect(amountOf(r, 1, "delegator", A(0x103))).to.equal(214_286n);
      expect(r.lines.some((l) => l.account === A(0x100) || l.account === A(0x101))).to.equal(false);
      expect(nearestRank([400n, 100n, 300n, 200n], 7_000)).to.equal(300n);
      expect(nearestRank([5n], 7_000)).to.equal(5n);
      expect(nearestRank([0n, 0n, 7n], 7_000)).to.equal(7n); // ⌈2.1⌉ − 1 = 2
      expect(nearestRank([], 7_000)).to.equal(0n);
    });

    it("pays nothing for self-weights or for weights on uids that are not miners", async function () {
      const base = brain({
        brainId: 1,
        validators: [validator(0, V, [[V, 100n]], 0), validator(1, W, [[W, 100n]], 0)],
        miners: [miner(2, X)],
        weights: [
          [0, [[2, 1]]],
          [1, [[2, 1]]],
        ],
      });
      const plain = await computeEpoch(snapshot([base], 1_000_000n, 10n ** 9n), EMPTY_CARRY);
      const selfish = await computeEpoch(
        snapshot(
          [
            {
              ...base,
              weights: [
                {
                  validatorUid: 0,
                  block: REVEAL,
                  weights: [
                    [0, 65_535],
                    [1, 65_535],
                    [2, 1],
                    [9, 65_535],
                  ],
                },
                { validatorUid: 1, block: REVEAL, weights: [[2, 1]] },
              ],
            },
          ],
          1_000_000n,
          10n ** 9n,
        ),
        EMPTY_CARRY,
      );
      expect(show(selfish.lines)).to.deep.equal(show(plain.lines));
      expect(selfish.lines.filter((l) => l.kind === "miner").map((l) => l.account)).to.deep.equal([X]);
      expect(selfish.inputsHash).not.to.equal(plain.inputsHash);
    });

    it("splits a dividend into the take and the delegations; Brain stakers share the validators part by stake", async function () {
      const Z = A(0x130);
      const b = brain({
        brainId: 1,
        validators: [
          validator(
            0,
            V,
            [
              [V, 1n],
              [W, 2n],
            ],
            1_000,
          ),
        ],
        miners: [miner(1, X)],
        brainStakers: [
          { account: Y, amount: 1n },
          { account: Z, amount: 2n },
        ],
        weights: [[0, [[1, 1]]]],
        split: { ownerBps: 0, minersBps: 0, validatorsBps: 10_000 },
      });
      const r = await computeEpoch(snapshot([b], 1_000_001n, 10n ** 9n), EMPTY_CARRY);
      // 1,000,001 between permitted stake 3 and Brain stake 3: 500,001 and 500,000 (ties to the
      // validators). Dividend 500,001: take 10 % = 50,000; 450,001 → V 1/3 = 150,000 (the odd wei to
      // the larger remainder: W), W 300,001. Brain stakers 500,000 → Y 166,667, Z 333,333.
      expect(show(r.lines)).to.deep.equal(
        show([
          { brainId: 1, kind: "validator-take", account: V, amount: 50_000n },
          { brainId: 1, kind: "delegator", account: V, amount: 150_000n },
          { brainId: 1, kind: "delegator", account: W, amount: 300_001n },
          { brainId: 1, kind: "brain-staker", account: Y, amount: 166_667n },
          { brainId: 1, kind: "brain-staker", account: Z, amount: 333_333n },
        ]),
      );
      expect(apportionExact(450_001n, [1n, 2n])).to.deep.equal([150_000n, 300_001n]);
      expect(apportionExact(10n, [1n, 1n, 1n])).to.deep.equal([4n, 3n, 3n]);
      expect(() => apportionExact(1n, [0n])).to.throw(RangeError);
    });

    it("sends the miners part to the owner without incentive, the validators' pool without dividends", async function () {
      // No miners and no weights: the owner keeps the miners part and the validators' pool; the Brain
      // stakers still get theirs (validators part 375,000 between 100 and 300 → 93,750 and 281,250).
      const b = brain({
        brainId: 1,
        validators: [validator(0, V, [[V, 100n]])],
        brainStakers: [{ account: Y, amount: 300n }],
      });
      const r = await computeEpoch(snapshot([b], 1_000_000n, 10n ** 9n), EMPTY_CARRY);
      expect(show(r.lines)).to.deep.equal(
        show([
          { brainId: 1, kind: "owner", account: O, amount: 250_000n + 375_000n + 93_750n },
          { brainId: 1, kind: "brain-staker", account: Y, amount: 281_250n },
        ]),
      );
    });

    it("ignores a reveal from before the validator's (re)registration", async function () {
      const at = (block: bigint) =>
        computeEpoch(
          snapshot(
            [
              brain({
                brainId: 1,
                validators: [validator(0, V, [[V, 100n]], 0, 1_005n)],
                miners: [miner(1, X)],
                weights: [{ validatorUid: 0, block, weights: [[1, 1]] }],
              }),
            ],
            1_000n,
            10n ** 9n,
          ),
          EMPTY_CARRY,
        );
      expect(amountOf(await at(1_004n), 1, "miner", X)).to.equal(0n);
      expect((await at(1_004n)).brainStats[0]!.performance).to.equal(0);
      expect(amountOf(await at(1_006n), 1, "miner", X)).to.equal(375n);
    });

    it("merges an account's delegations to two validators into one line", async function () {
      const b = brain({
        brainId: 1,
        validators: [
          validator(0, V, [
            [V, 100n],
            [Y, 100n],
          ]),
          validator(1, W, [
            [W, 100n],
            [Y, 100n],
          ]),
        ],
        miners: [miner(2, X)],
        weights: [
          [0, [[2, 1]]],
          [1, [[2, 1]]],
        ],
      });
      const r = await computeEpoch(snapshot([b], 1_000_000n, 10n ** 9n), EMPTY_CARRY);
      expect(r.lines.filter((l) => l.account === Y)).to.have.length(1);
      // 375,000 of dividends, ½ each; take 18 % = 33,750 each; 153,750 each → Y 76,875 × 2.
      expect(amountOf(r, 1, "delegator", Y)).to.equal(153_750n);
    });
  });

  describe("carry", function () {
    const V = A(0x111);
    const W = A(0x112);
    const X = A(0x121);
    const b = brain({
      brainId: 1,
      validators: [validator(0, V, [[V, 100n]], 0), validator(1, W, [[W, 100n]], 0)],
      miners: [miner(2, X)],
      weights: [
        [0, [[2, 1]]],
        [1, [[2, 1]]],
      ],
    });
    /** uid 0 alone held miner 2's bonds last epoch. */
    const carry: CarryState = {
      epoch: 4n,
      brains: { 1: { bonds: [[[2, 65_535]], [], []], accounts: [V, W, X], performance: 1 } },
    };

    it("grows dividends from the carried bonds (EMA 0.9)", async function () {
      // Bonds on miner 2: 0.9 × (1, 0) + 0.1 × (½, ½) = (0.95, 0.05) → dividends 95 : 5 of 375,000.
      const r = await computeEpoch(snapshot([b], 1_000_000n, 10n ** 9n), carry);
      expect(amountOf(r, 1, "delegator", V)).to.equal(356_250n);
      expect(amountOf(r, 1, "delegator", W)).to.equal(18_750n);
      // Stored max-upscaled: 65,535 and ⌊0.05 / 0.95 × 65,535⌋ = 3,449.
      expect(r.carry.brains[1]!.bonds).to.deep.equal([[[2, 65_535]], [[2, 3_449]], []]);
    });

    it("drops the bonds of a uid whose account changed", async function () {
      // uid 0 is now held by U: it does not inherit V's bonds → ½ each.
      const U = A(0x11f);
      const replaced = { ...b, validators: [validator(0, U, [[U, 100n]], 0), b.validators[1]!] };
      const r = await computeEpoch(snapshot([replaced], 1_000_000n, 10n ** 9n), carry);
      expect(amountOf(r, 1, "delegator", U)).to.equal(187_500n);
      expect(amountOf(r, 1, "delegator", W)).to.equal(187_500n);
      // ... and a new miner account on uid 2 drops the column: the same ½ each.
      const Xn = A(0x12f);
      const r2 = await computeEpoch(
        snapshot([{ ...b, miners: [miner(2, Xn)] }], 1_000_000n, 10n ** 9n),
        carry,
      );
      expect(amountOf(r2, 1, "delegator", V)).to.equal(187_500n);
      expect(r2.carry.brains[1]!.accounts).to.deep.equal([V, W, Xn]);
    });
  });

  describe("inputs and outputs", function () {
    it("uses a zero pruning root when no Brain has a member", async function () {
      const r = await computeEpoch(snapshot([brain({ brainId: 7 })], 10n), EMPTY_CARRY);
      expect(r.pruningTree).to.equal(undefined);
      expect(r.pruningRoot).to.equal(zeroHash);
      expect(r.pruningLeaves).to.deep.equal([]);
      expect(show(r.lines)).to.deep.equal(
        show([{ brainId: 7, kind: "owner", account: A(0xf007), amount: 10n }]),
      );
    });

    it("changes the inputs hash with any input: a stake, a weight, a take, a registration, the carry", async function () {
      const base = handWorked();
      const h = inputsHashOf(base, EMPTY_CARRY);
      const variants: [string, (s: EpochSnapshot) => void][] = [
        ["epoch", (s) => (s.epoch = 6n)],
        ["emission", (s) => (s.emission += 1n)],
        ["tftWeight", (s) => (s.tftWeight = 1n)],
        ["totalStake", (s) => (s.totalStake += 1n)],
        [
          "a delegation",
          (s) => {
            const v = s.brains[0]!.validators[0]!;
            v.delegators[1]!.amount += 1n;
            v.stake += 1n;
            s.brains[0]!.brainStake += 1n;
            s.totalStake += 1n;
          },
        ],
        ["a weight", (s) => (s.brains[0]!.weights[0]!.weights[0]![1] = 4)],
        ["a reveal block", (s) => (s.brains[0]!.weights[0]!.block += 1n)],
        ["a take", (s) => (s.brains[1]!.validators[0]!.takeBps = 1_799)],
        ["a registration", (s) => (s.brains[1]!.miners[0]!.registeredAt = 1n)],
        [
          "a split",
          (s) => (s.brains[0]!.split = { ownerBps: 2_500, minersBps: 3_751, validatorsBps: 3_749 }),
        ],
        ["earns", (s) => (s.brains[2]!.earns = true)],
        ["the recipient", (s) => (s.brains[0]!.ownerRecipient = A(0x999))],
      ];
      const seen = new Set([h]);
      for (const [what, change] of variants) {
        const s = clone(base);
        change(s);
        const hash = inputsHashOf(s, EMPTY_CARRY);
        assert.ok(!seen.has(hash), `${what} does not change the hash`);
        seen.add(hash);
      }
      const carry = (await computeEpoch({ ...base, epoch: 4n }, EMPTY_CARRY)).carry;
      const withCarry = inputsHashOf(base, carry);
      assert.ok(!seen.has(withCarry));
      const bumped = clone(carry);
      bumped.brains[1]!.bonds[0]![0]![1] -= 1;
      assert.notEqual(inputsHashOf(base, bumped), withCarry);
      // performance is reporting only
      const perf = clone(carry);
      perf.brains[1]!.performance = 0.5;
      assert.equal(inputsHashOf(base, perf), withCarry);
      // The encoding is canonical: the same whatever the listing order or address case.
      const lettered = clone(base);
      lettered.brains[0]!.ownerRecipient = A(0xabcdef);
      const shuffled = clone(lettered);
      shuffled.brains.reverse();
      shuffled.brains[1]!.validators.reverse();
      shuffled.brains[2]!.ownerRecipient = shuffled.brains[2]!.ownerRecipient.toLowerCase() as Address;
      expect(shuffled.brains[2]!.ownerRecipient).not.to.equal(lettered.brains[0]!.ownerRecipient);
      expect(encodeSnapshot(shuffled)).to.equal(encodeSnapshot(lettered));
      expect(inputsHashOf(shuffled, EMPTY_CARRY)).to.equal(inputsHashOf(lettered, EMPTY_CARRY));
    });

    it("refuses malformed snapshots with a clear error", async function () {
      const cases: [RegExp, (s: EpochSnapshot) => void][] = [
        [/uid 0 is both a validator and a miner/, (s) => (s.brains[0]!.miners[0]!.uid = 0)],
        [/does not sum to 10,000/, (s) => (s.brains[0]!.split.ownerBps = 2_501)],
        [/delegations summing to/, (s) => (s.brains[0]!.validators[0]!.stake += 1n)],
        [/not a validator of the Brain/, (s) => (s.brains[0]!.weights[0]!.validatorUid = 1)],
        [/listed twice/, (s) => s.brains.push(clone(s.brains[0]!))],
        [/names uid 1 twice/, (s) => s.brains[0]!.weights[0]!.weights.push([1, 5])],
        [/not before the epoch's end/, (s) => (s.brains[0]!.weights[0]!.block = END)],
        [/below its validators'/, (s) => (s.brains[0]!.brainStake -= 1n)],
        [/totalStake .* is below/, (s) => (s.totalStake = 1n)],
        [/are empty/, (s) => (s.endBlock = s.startBlock)],
        [/no emission/, (s) => (s.emission = 0n)],
        [/not an address/, (s) => (s.brains[0]!.validators[0]!.delegators[0]!.account = "0x12" as Address)],
        [/lists .* twice/, (s) => s.brains[0]!.brainStakers.push({ ...s.brains[0]!.brainStakers[0]! })],
        [/holds uids/, (s) => (s.brains[0]!.miners[1]!.account = M1)],
      ];
      for (const [message, change] of cases) {
        const s = clone(handWorked());
        change(s);
        await assert.rejects(computeEpoch(s, EMPTY_CARRY), (e: unknown) => {
          assert.ok(e instanceof RewardsInputError, `${String(e)} for ${message}`);
          assert.match(e.message, message);
          return true;
        });
      }
    });
  });

  describe("properties", function () {
    const usually = <T>(value: T, other: fc.Arbitrary<T>) =>
      fc.oneof({ arbitrary: fc.constant(value), weight: 4 }, { arbitrary: other, weight: 1 });
    /** A block: usually `usual`, sometimes anywhere before the epoch's end (outdated weights, new members). */
    const block = (usual: bigint) => usually(usual, fc.bigInt({ min: 0n, max: END - 1n }));
    /** A random network: Brains with validators (delegations from a small pool), miners, weights. */
    const arbBrain = (brainId: number) =>
      fc
        .record({
          earns: fc.boolean(),
          owner: usually(2_500, fc.integer({ min: 0, max: 10_000 })),
          miners: usually(3_750, fc.integer({ min: 0, max: 10_000 })),
          uids: fc.uniqueArray(fc.integer({ min: 0, max: 11 }), { maxLength: 8 }),
          nValidators: fc.integer({ min: 0, max: 5 }),
          validators: fc.array(
            fc.record({
              take: fc.integer({ min: 0, max: 1_800 }),
              delegations: fc.oneof(
                { arbitrary: fc.constant<{ who: number; amount: bigint }[]>([]), weight: 1 }, // a validator without stake
                {
                  weight: 5,
                  arbitrary: fc.uniqueArray(
                    fc.record({
                      who: fc.integer({ min: 0, max: 5 }),
                      amount: fc.bigInt({ min: 1n, max: 10n ** 24n }),
                    }),
                    { minLength: 1, maxLength: 3, selector: (d) => d.who },
                  ),
                },
              ),
              registeredAt: block(0n),
              weights: fc.option(
                fc.uniqueArray(
                  // an index into the Brain's uids (≥ their number: a uid without a member)
                  fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 65_535 })),
                  {
                    maxLength: 6,
                    selector: (w) => w[0],
                  },
                ),
              ),
              reveal: block(START),
            }),
            { minLength: 8, maxLength: 8 },
          ),
          minerRegisteredAt: fc.array(block(0n), { minLength: 8, maxLength: 8 }),
          stakers: fc.uniqueArray(
            fc.record({
              who: fc.integer({ min: 0, max: 5 }),
              amount: fc.bigInt({ min: 1n, max: 10n ** 24n }),
            }),
            { maxLength: 3, selector: (d) => d.who },
          ),
          orphanStake: fc.bigInt({ min: 0n, max: 10n ** 20n }),
        })
        .map((c): BrainSnapshot => {
          const owner = c.owner;
          const minersBps = Math.min(c.miners, 10_000 - owner);
          const nV = Math.min(c.nValidators, c.uids.length);
          const pool = (who: number) => A(0x9000 + who);
          const validators = c.uids.slice(0, nV).map((uid, k) => {
            const v = c.validators[k]!;
            const self = A(brainId * 0x100 + uid + 1);
            const dels = v.delegations.map(
              (d) => [d.who === 0 ? self : pool(d.who), d.amount] as [Address, bigint],
            );
            return validator(uid, self, dels, v.take, v.registeredAt);
          });
          const miners = c.uids
            .slice(nV)
            .map((uid, k) => miner(uid, A(brainId * 0x100 + uid + 1), c.minerRegisteredAt[k]!));
          const weights = validators.flatMap((v, k) => {
            const w = c.validators[k]!.weights;
            if (w === null) return [];
            // index → a miner, else a validator, else a uid without a member
            const named = w.map(([i, x]): [number, number] => [
              i < miners.length
                ? miners[i]!.uid
                : i - miners.length < nV
                  ? c.uids[i - miners.length]!
                  : 100 + i,
              x,
            ]);
            return [{ validatorUid: v.uid, block: c.validators[k]!.reveal, weights: named }];
          });
          const brainStakers = c.stakers.map((s) => ({ account: pool(s.who), amount: s.amount }));
          const b = brain({
            brainId,
            earns: c.earns,
            split: { ownerBps: owner, minersBps, validatorsBps: 10_000 - owner - minersBps },
            validators,
            miners,
            brainStakers,
            weights,
          });
          return { ...b, brainStake: b.brainStake + c.orphanStake };
        });

    const arbSnapshot = fc
      .uniqueArray(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 5 })
      .chain((ids) =>
        fc.record({
          brains: fc.tuple(...ids.map(arbBrain)),
          emission: fc.bigInt({ min: 1n, max: 10n ** 24n }),
          extraStake: fc.bigInt({ min: 0n, max: 10n ** 26n }),
          tftWeight: fc.bigInt({ min: 0n, max: 10n ** 18n }),
          seed: fc.integer(),
        }),
      )
      .map(({ brains, emission, extraStake, tftWeight, seed }) => {
        const s = snapshot(brains, emission);
        return { snap: { ...s, totalStake: s.totalStake + extraStake, tftWeight }, seed };
      });

    /** A deterministic shuffle (of every list whose order the function must not depend on). */
    function shuffled(s: EpochSnapshot, seed: number): EpochSnapshot {
      let x = seed >>> 0 || 1;
      const rand = () => ((x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0) % 1_000_003) / 1_000_003;
      const mix = <T>(a: T[]) => {
        for (let i = a.length - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1));
          [a[i], a[j]] = [a[j]!, a[i]!];
        }
        return a;
      };
      const t = clone(s);
      mix(t.brains);
      for (const b of t.brains) {
        mix(b.validators);
        mix(b.miners);
        mix(b.weights);
        mix(b.brainStakers);
        for (const v of b.validators) mix(v.delegators);
        for (const w of b.weights) mix(w.weights);
      }
      return t;
    }

    function checkResult(s: EpochSnapshot, r: EpochResult) {
      let sum = 0n;
      for (const l of r.lines) {
        assert.ok(l.amount > 0n, `a line of ${l.amount}`);
        sum += l.amount;
      }
      assert.equal(sum, s.emission);
      assert.equal(
        r.brainTotals.reduce((a, b) => a + b, 0n),
        s.emission,
      );
      for (let i = 1; i < r.brainIds.length; i++) assert.ok(r.brainIds[i - 1]! < r.brainIds[i]!);
      for (const b of s.brains) {
        const total = r.lines.filter((l) => l.brainId === b.brainId).reduce((a, l) => a + l.amount, 0n);
        if (!b.earns) assert.equal(total, 0n);
        assert.equal(totalOf(r, b.brainId), total);
      }
      const members = s.brains.reduce((n, b) => n + b.validators.length + b.miners.length, 0);
      assert.equal(r.pruningLeaves.length, members);
      assert.equal(r.pruningRoot, members === 0 ? zeroHash : r.pruningTree!.root);
      for (const st of r.brainStats) assert.ok(st.performance >= 0 && st.performance <= 1 && st.weight >= 0);
    }

    it("sums exactly to the emission, never negative, deterministic and independent of the listing order, over two epochs", async function () {
      this.timeout(60_000);
      await fc.assert(
        fc.asyncProperty(arbSnapshot, async ({ snap, seed }) => {
          const before = json(snap);
          const first: EpochResult = await computeEpoch(snap, EMPTY_CARRY);
          if (snap.brains.every((b) => !b.earns)) {
            assert.deepEqual(first.brainIds, [UNALLOCATED_BRAIN]);
            assert.equal(first.brainTotals[0], snap.emission);
            return;
          }
          checkResult(snap, first);
          assert.equal(json(snap), before, "the input was modified");
          const again = await computeEpoch(clone(snap), EMPTY_CARRY);
          assert.equal(dataOf(again), dataOf(first));
          const mixed = await computeEpoch(shuffled(snap, seed), EMPTY_CARRY);
          assert.equal(dataOf(mixed), dataOf(first));
          // The next epoch, from the carried state.
          const next = { ...snap, epoch: snap.epoch + 1n };
          const second = await computeEpoch(next, first.carry);
          checkResult(next, second);
          assert.equal(dataOf(await computeEpoch(shuffled(next, seed + 1), first.carry)), dataOf(second));
          assert.notEqual(second.inputsHash, first.inputsHash);
        }),
        { numRuns: 150 },
      );
    });
  });
});
