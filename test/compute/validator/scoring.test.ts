import { expect } from "chai";
import fc from "fast-check";
import { type Address, getAddress } from "viem";
import {
  CAUGHT,
  type MinerObservation,
  type ScoringState,
  emptyObservation,
  scoreOf,
  updateScores,
  weightsFor,
  weightsToCommit,
} from "../../../compute/validator/scoring";

const addr = (i: number) => getAddress(`0x${(i + 1).toString(16).padStart(40, "0")}`);
const [A, B, C, D] = [0, 1, 2, 3].map(addr) as [Address, Address, Address, Address];
const miners = (...as: Address[]) => as.map((account, uid) => ({ uid: uid + 10, account }));

function obs(partial: {
  ok?: number;
  wrong?: number;
  failed?: number;
  match?: number;
  mismatch?: number;
  lat?: number[];
  available?: boolean;
}): MinerObservation {
  return {
    canaries: { ok: partial.ok ?? 0, wrong: partial.wrong ?? 0, failed: partial.failed ?? 0 },
    replays: { match: partial.match ?? 0, mismatch: partial.mismatch ?? 0 },
    latenciesMs: partial.lat ?? [],
    available: partial.available ?? true,
  };
}

const observationArb = fc.record({
  canaries: fc.record({ ok: fc.nat(5), wrong: fc.nat(5), failed: fc.nat(5) }),
  replays: fc.record({ match: fc.nat(5), mismatch: fc.nat(5) }),
  latenciesMs: fc.array(fc.double({ min: 1, max: 10_000, noNaN: true }), { maxLength: 4 }),
  available: fc.boolean(),
});
const stateArb = fc.record({
  correctness: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
  availability: fc.double({ min: 0, max: 1, noNaN: true }),
  latency: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
  rounds: fc.nat(100),
});

describe("validator scoring: observations → scores → u16 weights", () => {
  it("hand cases: honest and fast first, slow second, caught cheat far below, silent miner 0", () => {
    const state = updateScores(
      {},
      {
        [A]: obs({ ok: 3, match: 2, lat: [100, 110, 90] }),
        [B]: obs({ ok: 3, match: 2, lat: [200, 220, 180] }),
        [C]: obs({ ok: 2, wrong: 1, match: 2, lat: [100] }),
        [D]: emptyObservation(),
      },
    );
    // The median of the miners' medians is 100 ms: A is at it, B twice as slow.
    expect(scoreOf(state[A])).to.equal(1);
    expect(scoreOf(state[B])).to.be.closeTo(0.75, 1e-12);
    expect(scoreOf(state[C])).to.be.closeTo((CAUGHT * 4) / 5, 1e-12);
    expect(state[D], "never observed: no state").to.equal(undefined);
    const w = weightsFor(state, miners(A, B, C, D));
    expect(w.map((x) => x.weight)).to.deep.equal([65_535, 49_151, 2_621, 0]);
    expect(weightsToCommit(w, 2)).to.deep.equal({ uids: [10, 11], weights: [65_535, 49_151] });
    expect(weightsToCommit(w, 16)).to.deep.equal({ uids: [10, 11, 12], weights: [65_535, 49_151, 2_621] });
  });

  it("trust is lost at once and regained slowly; failed canaries and absence lower availability", () => {
    let s: ScoringState = updateScores({}, { [A]: obs({ ok: 2 }), [B]: obs({ ok: 2 }) });
    expect(scoreOf(s[A])).to.equal(1);
    s = updateScores(s, { [A]: obs({ mismatch: 1, match: 9 }), [B]: obs({ ok: 1, failed: 1 }) });
    expect(s[A]!.correctness).to.be.closeTo(CAUGHT * 0.9, 1e-12);
    // B: availability EMA 1 → 1 + 0.25·(0.5 − 1).
    expect(s[B]!.availability).to.be.closeTo(0.875, 1e-12);
    s = updateScores(s, { [A]: obs({ ok: 1 }), [B]: obs({ ok: 1 }) });
    expect(s[A]!.correctness).to.be.closeTo(CAUGHT * 0.9 + 0.25 * (1 - CAUGHT * 0.9), 1e-12);
    expect(scoreOf(s[A])).to.be.below(scoreOf(s[B]));
    // A round where B is not observed at all: it was not there.
    const gone = updateScores(s, { [A]: obs({ ok: 1 }) });
    expect(gone[B]!.availability).to.be.below(s[B]!.availability);
    expect(gone[B]!.correctness).to.equal(s[B]!.correctness);
    // Unchecked but available: unverified correctness (½), below a verified miner.
    const fresh = updateScores({}, { [A]: obs({}), [B]: obs({ ok: 1 }) });
    expect(scoreOf(fresh[A])).to.equal(0.5);
    expect(scoreOf(fresh[B])).to.equal(1);
    expect(() => updateScores({}, {}, { alpha: 0 })).to.throw(/EMA rate/);
  });

  it("a miner with any wrong answer scores below an equally available honest one, whatever their shared history", () => {
    fc.assert(
      fc.property(
        observationArb,
        fc.option(stateArb, { nil: undefined }),
        fc.integer({ min: 1, max: 5 }),
        (o, prev, bad) => {
          // The cheat: the same observation with `bad` wrong canaries; the honest twin answered them right.
          const cheat: MinerObservation = {
            ...o,
            canaries: { ...o.canaries, wrong: o.canaries.wrong + bad },
          };
          const honest: MinerObservation = {
            ...o,
            canaries: { ...o.canaries, ok: o.canaries.ok + o.canaries.wrong + bad, wrong: 0 },
            replays: { match: o.replays.match + o.replays.mismatch, mismatch: 0 },
          };
          const before: ScoringState = prev ? { [A]: prev, [B]: prev } : {};
          const s = updateScores(before, { [A]: cheat, [B]: honest });
          const [c, h] = [scoreOf(s[A]), scoreOf(s[B])];
          expect(c).to.be.below(h);
          expect(c).to.be.at.most(CAUGHT);
          const w = weightsFor(s, miners(A, B));
          expect(w[0]!.weight).to.be.below(w[1]!.weight);
        },
      ),
    );
  });

  it("weights are u16, the best is 65535 whenever anyone scored, all 0 otherwise; never observed → 0", () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(observationArb, { nil: undefined }), { minLength: 1, maxLength: 8 }),
        (list) => {
          const all = list.map((_, i) => addr(i));
          const round: Record<Address, MinerObservation> = {};
          list.forEach((o, i) => {
            if (o) round[all[i]!] = o;
          });
          const s = updateScores({}, round);
          const w = weightsFor(s, miners(...all));
          for (const x of w) {
            expect(Number.isInteger(x.weight) && x.weight >= 0 && x.weight <= 65_535).to.equal(true);
            expect(x.score).to.be.within(0, 1);
            const o = round[x.miner];
            const silent =
              !o ||
              (!o.available &&
                o.latenciesMs.length === 0 &&
                Object.values(o.canaries).every((n) => n === 0) &&
                Object.values(o.replays).every((n) => n === 0));
            if (silent) expect(x.weight, "never observed").to.equal(0);
          }
          const max = Math.max(...w.map((x) => x.weight));
          expect(max).to.equal(w.some((x) => x.score > 0) ? 65_535 : 0);
        },
      ),
    );
  });

  it("permutation invariance: the order of miners and of observations does not change anyone's weight", () => {
    fc.assert(
      fc.property(
        fc.array(observationArb, { minLength: 1, maxLength: 6 }),
        fc.array(observationArb, { minLength: 1, maxLength: 6 }),
        fc.infiniteStream(fc.nat()),
        (first, second, randoms) => {
          const n = Math.min(first.length, second.length);
          const all = Array.from({ length: n }, (_, i) => addr(i));
          const roundOf = (list: MinerObservation[], order: number[]) =>
            Object.fromEntries(order.map((i) => [all[i]!, list[i]!])) as Record<Address, MinerObservation>;
          const identity = all.map((_, i) => i);
          const shuffled = [...identity];
          const it = randoms[Symbol.iterator]();
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = it.next().value! % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
          }
          const run = (order: number[]) => {
            const s = updateScores(updateScores({}, roundOf(first, order)), roundOf(second, order));
            const m = miners(...all);
            const w = weightsFor(
              s,
              order.map((i) => m[i]!),
            );
            return Object.fromEntries(w.map((x) => [x.miner, x.weight]));
          };
          expect(run(shuffled)).to.deep.equal(run(identity));
        },
      ),
    );
  });
});
