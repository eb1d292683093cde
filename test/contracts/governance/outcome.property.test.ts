import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import { GIGA, PARAMS, PEPE, State, Vote, deployGovernance } from "./fixture";

/** The fixture's six GigaBrains, #0 (labs) and #1 … #5 (alice … eve): half and a third are whole
 *  numbers, so both boundaries are reachable. */
const BRAINS = GIGA;
const Q = PARAMS.vetoQuorum;

async function withPepe() {
  const g = await deployGovernance();
  const houseAddr = await g.house.getAddress();
  for (const who of [g.frank, g.g1]) {
    await g.pepe.mint(who.address, PEPE(10_000_000));
    await g.pepe.connect(who).approve(houseAddr, ethers.MaxUint256);
  }
  return g;
}

/** A Brain's ballot: none, or Against / For / Abstain. */
const ballot: fc.Arbitrary<number | null> = fc.oneof(
  // Half of the Brains stay silent, so that turnouts around the quorum (2 of 6) are common.
  { weight: 3, arbitrary: fc.constant(null) },
  { weight: 3, arbitrary: fc.constantFrom(Vote.Against, Vote.For, Vote.Abstain) },
);
/** PEPE locked on one side: often at the quorum's edges. */
const locked = fc.oneof(fc.constantFrom(0n, Q - 1n, Q, Q + 1n), fc.bigInt({ min: 1n, max: 2n * Q }));

describe("Governance outcome (property)", function () {
  it("a proposal passes exactly when the rules of its regime and the Pepecoin veto say so", async function () {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.array(ballot, { minLength: BRAINS.length, maxLength: BRAINS.length }),
        locked,
        locked,
        async (optimistic, ballots, against, forLocked) => {
          const g = await loadFixture(withPepe);
          const { governor, house, alice, frank, g1 } = g;
          if (!optimistic) await time.increaseTo((await governor.optimisticPeriodEnd()) + 1n);
          const p = optimistic ? await g.propose() : await g.propose({ by: alice, brainId: 1 });
          await g.toVoteStart(p.proposalId);
          for (const [i, brainId] of BRAINS.entries()) {
            const support = ballots[i];
            if (support === null || support === undefined) continue;
            await governor.connect(g.owners[brainId]).castBrainVote(p.proposalId, brainId, support);
          }
          if (against > 0n) await house.connect(frank).lock(p.proposalId, 0, against);
          if (forLocked > 0n) await house.connect(g1).lock(p.proposalId, 1, forLocked);
          await g.toVoteEnd(p.proposalId);

          const count = (s: number) => ballots.filter((b) => b === s).length;
          const [f, a, ab] = [count(Vote.For), count(Vote.Against), count(Vote.Abstain)];
          const vetoed = against > forLocked && against >= Q;
          const passes = optimistic
            ? !vetoed && 2 * a <= BRAINS.length
            : !vetoed && 3 * (f + a + ab) >= BRAINS.length && f > a;
          expect(await house.vetoed(p.proposalId)).to.equal(vetoed);
          expect(await governor.state(p.proposalId)).to.equal(passes ? State.Succeeded : State.Defeated);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("every tally of the six GigaBrains, in both regimes, gives the outcome of the rules (no PEPE)", async function () {
    const cases: [boolean, number, number, number][] = [];
    for (const optimistic of [true, false]) {
      for (let f = 0; f <= BRAINS.length; f++) {
        for (let a = 0; f + a <= BRAINS.length; a++) {
          for (let ab = 0; f + a + ab <= BRAINS.length; ab++) cases.push([optimistic, f, a, ab]);
        }
      }
    }
    for (const [optimistic, f, a, ab] of cases) {
      const g = await loadFixture(withPepe);
      const { governor, alice } = g;
      if (!optimistic) await time.increaseTo((await governor.optimisticPeriodEnd()) + 1n);
      const p = optimistic ? await g.propose() : await g.propose({ by: alice, brainId: 1 });
      await g.toVoteStart(p.proposalId);
      const ballots = [...Array<number>(f).fill(Vote.For), ...Array<number>(a).fill(Vote.Against)];
      ballots.push(...Array<number>(ab).fill(Vote.Abstain));
      for (const [i, support] of ballots.entries()) {
        await governor.connect(g.owners[i]).castBrainVote(p.proposalId, BRAINS[i]!, support);
      }
      await g.toVoteEnd(p.proposalId);
      const passes = optimistic ? 2 * a <= BRAINS.length : 3 * (f + a + ab) >= BRAINS.length && f > a;
      expect(
        await governor.state(p.proposalId),
        `${optimistic ? "optimistic" : "GigaBrain"} ${f}/${a}/${ab}`,
      ).to.equal(passes ? State.Succeeded : State.Defeated);
    }
  });
});
