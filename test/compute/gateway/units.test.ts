import { expect } from "chai";
import { countsForUnits, passUnits, sessionUnits } from "../../../compute/gateway/units";

/**
 * A unit is one token row through the whole plan, bucket padding included, counted from the jobs
 * the gateway handed out: each step accounts for the rows that went through it, the session for
 * the rows of the step that carried the most. Labels cannot lower the bill.
 */
describe("oracle gateway units: rows through the plan, counted from the passes", () => {
  it("counts a prompt pass as its whole bucket and each single-row pass as one", () => {
    const plan = ["L0.qkv", "L0.attnOut", "L1.qkv", "L1.mlpUp"];
    const counts: Record<string, number> = {};
    for (const step of plan) {
      counts[`${step}@16`] = 1;
      counts[`${step}@1`] = 5;
    }
    expect(passUnits(counts)).to.equal(21);
    expect(sessionUnits(counts, 16)).to.deep.equal({ prompt: 16, completion: 5 });
    expect(passUnits({})).to.equal(0);
  });

  it("bills the step that carried the most rows, whatever the labels say", () => {
    // 50 single-row passes labelled as prompt-bucket passes are 50 × 16 rows.
    expect(passUnits({ "L0.qkv@16": 50, "L0.qkv@1": 1 })).to.equal(801);
    // Work spread over differently named steps is billed by the busiest one.
    expect(passUnits({ "L0.qkv@1": 3, "L7.mlpDown@32": 2 })).to.equal(64);
    // Per-head steps each carry the pass's rows: one pass, not one per head.
    expect(passUnits({ "L0.h0.q@16": 1, "L0.h1.q@16": 1, "L0.h0.q@1": 2, "L0.h1.q@1": 2 })).to.equal(18);
  });

  it("never bills less than the prompt units charged, and adds plain tokens", () => {
    expect(sessionUnits({ "L0.qkv@16": 1 }, 32)).to.deep.equal({ prompt: 32, completion: 0 });
    expect(sessionUnits({}, 3, 7)).to.deep.equal({ prompt: 3, completion: 7 });
  });

  it("records every bucketed step", () => {
    for (const step of ["L0.qkv@1", "L0.qkv@16", "L0.h3.q@1", "L11.mlpDown@8"])
      expect(countsForUnits(step), step).to.equal(true);
    for (const step of ["L0.qkv", "L0.qkv@", "L0.qkv@x"]) expect(countsForUnits(step), step).to.equal(false);
  });
});
