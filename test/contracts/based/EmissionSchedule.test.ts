import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import fc from "fast-check";
import { ethers } from "hardhat";
import {
  BLOCKS_PER_HALVING as B,
  INITIAL_REWARD,
  ONE,
  blockReward,
  emissionBetween,
  tftWeight,
  totalEmission,
} from "../../../oracle/consensus/emission";

const BASED = 10n ** 18n;

async function deploy() {
  const harness = await (await ethers.getContractFactory("EmissionScheduleHarness")).deploy();
  const token = await (
    await ethers.getContractFactory("BasedToken")
  ).deploy((await ethers.getSigners())[0]!.address);
  return { harness, token };
}

describe("EmissionSchedule: BASED issuance by block height (docs/architecture.md §3)", () => {
  it("pays 10 BASED per block, halving every 3,155,760 blocks", async () => {
    const { harness } = await loadFixture(deploy);
    for (const [h, reward] of [
      [0n, 10n * BASED],
      [B - 1n, 10n * BASED],
      [B, 5n * BASED],
      [2n * B, (5n * BASED) / 2n],
      [63n * B, INITIAL_REWARD >> 63n],
      [64n * B, 0n],
      [10n ** 30n, 0n],
    ] as const) {
      expect(await harness.blockReward(h), `h=${h}`).to.equal(reward);
      expect(blockReward(h), `h=${h}`).to.equal(reward);
    }
  });

  it("emission across a halving boundary equals the hand-computed sum", async () => {
    const { harness } = await loadFixture(deploy);
    // Blocks B-5 … B+4: five at 10 BASED, five at 5 BASED.
    expect(await harness.emissionBetween(B - 5n, B + 5n)).to.equal(75n * BASED);
    expect(emissionBetween(B - 5n, B + 5n)).to.equal(75n * BASED);
    // A whole first year, and across two boundaries.
    expect(await harness.emissionBetween(0n, B)).to.equal(B * 10n * BASED);
    expect(emissionBetween(B - 1n, 2n * B + 1n)).to.equal(10n * BASED + B * 5n * BASED + (5n * BASED) / 2n);
    expect(await harness.emissionBetween(7n, 7n)).to.equal(0n);
    expect(await harness.emissionBetween(9n, 3n)).to.equal(0n);
  });

  it("the whole schedule is BasedToken's cap, to the wei", async () => {
    const { harness, token } = await loadFixture(deploy);
    const cap = await token.cap();
    expect(await harness.totalEmission()).to.equal(cap);
    expect(totalEmission()).to.equal(cap);
    expect(emissionBetween(0n, 10n ** 12n)).to.equal(cap);
  });

  it("consecutive epochs add up exactly, and the TypeScript twin equals the contract (property)", async () => {
    const { harness } = await loadFixture(deploy);
    const height = fc.bigInt({ min: 0n, max: 70n * B });
    fc.assert(
      fc.property(height, height, height, (x, y, z) => {
        const [a, b, c] = [x, y, z].sort((p, q) => (p < q ? -1 : p > q ? 1 : 0)) as [bigint, bigint, bigint];
        expect(emissionBetween(a, c)).to.equal(emissionBetween(a, b) + emissionBetween(b, c));
      }),
      { numRuns: 500 },
    );
    await fc.assert(
      fc.asyncProperty(height, height, async (a, b) => {
        expect(await harness.emissionBetween(a, b)).to.equal(emissionBetween(a, b));
        expect(await harness.tftWeight(a)).to.equal(tftWeight(a));
      }),
      { numRuns: 40 },
    );
  });

  it("β(t) is 0 up to year 2, rises linearly to 0.9 at year 4, then is 1", async () => {
    const { harness } = await loadFixture(deploy);
    expect(await harness.tftWeight(0n)).to.equal(0n);
    expect(await harness.tftWeight(2n * B)).to.equal(0n);
    expect(await harness.tftWeight(3n * B)).to.equal((45n * ONE) / 100n);
    expect(await harness.tftWeight(4n * B)).to.equal((9n * ONE) / 10n);
    expect(await harness.tftWeight(4n * B + 1n)).to.equal(ONE);
    let previous = 0n;
    for (let h = 2n * B; h <= 4n * B + 1n; h += B / 7n) {
      const w = tftWeight(h);
      expect(w >= previous).to.equal(true);
      previous = w;
    }
    expect(() => blockReward(-1n)).to.throw(RangeError);
  });
});
