import { expect } from "chai";
import { aucWithInterval, distinguishability, seededRandom } from "./classifier";

/** The privacy tests' classifier must itself be right: blind on noise, sharp on a real signal. */
describe("test helper: the cross-validated classifier", () => {
  const random = seededRandom(7);
  const rows = (n: number, shift: number) =>
    Array.from({ length: n }, () => [random() + shift, random(), random() * 10]);

  it("finds nothing in noise: the AUC's interval contains 0.5", () => {
    const x = [...rows(200, 0), ...rows(200, 0)];
    const y = [...Array<number>(200).fill(0), ...Array<number>(200).fill(1)];
    const { low, high } = distinguishability(x, y);
    expect(low).to.be.below(0.5);
    expect(high).to.be.above(0.5);
  });

  it("finds a feature that differs: the AUC is near 1", () => {
    const x = [...rows(200, 0), ...rows(200, 0.8)];
    const y = [...Array<number>(200).fill(0), ...Array<number>(200).fill(1)];
    expect(distinguishability(x, y).low).to.be.above(0.9);
  });

  it("computes the AUC as the probability that a positive outranks a negative", () => {
    // positives 3, 1 vs negatives 2, 0: pairs (3>2, 3>0, 1<2, 1>0) → 3 of 4.
    expect(aucWithInterval([3, 1, 2, 0], [1, 1, 0, 0]).auc).to.equal(0.75);
    expect(() => aucWithInterval([1, 2], [1, 0])).to.throw(RangeError);
  });
});
