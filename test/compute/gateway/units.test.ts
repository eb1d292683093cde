import { expect } from "chai";
import { completionUnits, countsForUnits } from "../../../compute/gateway/units";

/**
 * Completion units are generated tokens, counted from the shape of encrypted work (the gateway
 * never sees tokens): one per single-row pass through layer 0's first product, plus one for the
 * prompt pass, whose logits give the first token. Other layers and products never count.
 */
describe("oracle gateway units: generated tokens counted from layer 0's passes", () => {
  it("counts fused passes: the prompt pass (any bucket) is one token, each L0.qkv@1 one more", () => {
    expect(completionUnits({ "L0.qkv@16": 2, "L0.qkv@1": 5 })).to.equal(6);
    expect(completionUnits({ "L0.qkv@8": 1 })).to.equal(1);
    expect(completionUnits({ "L0.qkv@1": 3 })).to.equal(3);
    expect(completionUnits({})).to.equal(0);
  });

  it("counts per-head passes on the lowest kept head only", () => {
    const heads = { "L0.h2.q@16": 1, "L0.h2.q@1": 4, "L0.h5.q@16": 1, "L0.h5.q@1": 4 };
    expect(completionUnits(heads)).to.equal(5);
    // A lower head that never ran a prompt pass still stands for the passes.
    expect(completionUnits({ "L0.h0.q@1": 2, "L0.h3.q@16": 1, "L0.h3.q@1": 2 })).to.equal(2);
  });

  it("adds the tokens plain jobs returned", () => {
    expect(completionUnits({}, 7)).to.equal(7);
    expect(completionUnits({ "L0.qkv@16": 1 }, 2)).to.equal(3);
  });

  it("records only layer 0's first products", () => {
    for (const step of ["L0.qkv@1", "L0.qkv@16", "L0.h3.q@1"])
      expect(countsForUnits(step), step).to.equal(true);
    for (const step of ["L1.qkv@1", "L0.attnOut@1", "L0.h3.k@1", "L0.mlpUp@1", "L10.qkv@1", "L0.qkv"]) {
      expect(countsForUnits(step), step).to.equal(false);
    }
  });
});
