import { expect } from "chai";
import { agreementText, lossyPlanWarning, planLine, planSummary } from "../../../cli/ui/plan";

describe("cli/ui/plan: telling users whether a Brain's encrypted answers may differ from plain ones", () => {
  const quantized = { lossy: true, reasons: ["256-level activation quantization"], agreement: 0.988 };
  const lossless = { lossy: false, reasons: [] };

  it("a measured agreement reads as a percentage with one decimal", () => {
    expect(agreementText(0.988)).to.equal("98.8 %");
    expect(agreementText(1)).to.equal("100.0 %");
    expect(agreementText(0.9)).to.equal("90.0 %");
  });

  it("`based prompt` warns before a lossy plan runs, with its reasons and agreement, and says nothing otherwise", () => {
    expect(lossyPlanWarning(3, quantized)).to.equal(
      "warning: Brain #3's plan is lossy (256-level activation quantization; measured agreement 98.8 %): the encrypted answer may differ from the plain one.",
    );
    expect(
      lossyPlanWarning(5, {
        lossy: true,
        reasons: ["256-level activation quantization", "2 of 8 attention heads dropped"],
      }),
    ).to.equal(
      "warning: Brain #5's plan is lossy (256-level activation quantization, 2 of 8 attention heads dropped; agreement not measured): the encrypted answer may differ from the plain one.",
    );
    expect(lossyPlanWarning(3, lossless)).to.equal(undefined);
    expect(lossyPlanWarning(3, null)).to.equal(undefined); // a plain prompt
  });

  it("`based brain show` has one line for the plan: lossy, lossless, or why it is unknown", () => {
    expect(planSummary(lossless)).to.equal("lossless: the encrypted answer equals the plain one");
    expect(planLine({ available: true, modelDir: "/m", ...quantized })).to.equal(
      "  encrypted plan lossy (256-level activation quantization; measured agreement 98.8 %): the encrypted answer may differ from the plain one",
    );
    expect(planLine({ available: true, modelDir: "/m", ...lossless })).to.equal(
      "  encrypted plan lossless: the encrypted answer equals the plain one",
    );
    expect(planLine({ available: false, reason: "the Brain has no task model" })).to.equal(
      "  encrypted plan unknown: the Brain has no task model",
    );
  });
});
