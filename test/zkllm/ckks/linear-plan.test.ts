import { expect } from "chai";
import fc from "fast-check";
import { ZkllmInputError } from "../../../zkllm/ckks/errors";
import {
  checkLinearStep,
  layoutLinearInputs,
  linearBabyRotations,
  linearBiasSlots,
  linearDiagonal,
  linearInputIndex,
  linearTerms,
  planLinear,
  readLinearOutputs,
  weightAccessor,
  type LinearPlanStep,
  type Tensor,
  type WeightLayout,
} from "../../../zkllm/ckks/linear";
import { galoisElementForStep, PARAM_SETS, type ParamSetId } from "../../../zkllm/ckks/params";
import { createPlan, parsePlan, planGpt2Block, planRotations } from "../../../zkllm/ckks/plan";
import { matvec, maxAbsDiff, randomVector, randomWeight } from "./helpers";

/** Rotation of a slot vector as SEAL's rotateVector does it: left by k. */
function rotate(v: Float64Array, k: number): Float64Array {
  const n = v.length;
  return Float64Array.from({ length: n }, (_, i) => v[(i + k) % n] as number);
}

/**
 * Runs a step's schedule on plain slot vectors, exactly as the server does on ciphertexts
 * (hoisted baby rotations, per-giant sums, Horner giant steps, bias at g = 0).
 */
function simulate(
  step: LinearPlanStep,
  weight: Tensor,
  bias: Tensor | undefined,
  x: Float64Array[],
): Float64Array[] {
  const { layout } = step;
  const T = layout.tokensPerCiphertext;
  const inputs = layoutLinearInputs(step, x);
  const w = weightAccessor(step, weight);
  const outputs: Float64Array[] = [];
  for (let group = 0; group < layout.groups; group++) {
    const rotated = (chunk: number, copy: number, baby: number) =>
      rotate(inputs[linearInputIndex(step, group, chunk, copy)] as Float64Array, baby * T);
    step.outputs.forEach((_, o) => {
      const byGiant = linearTerms(step, o);
      let result: Float64Array | undefined;
      for (let g = byGiant.length - 1; g >= 0; g--) {
        const acc = new Float64Array(layout.slots);
        for (const term of byGiant[g] ?? []) {
          const d = linearDiagonal(step, w, o, term);
          if (!d) continue;
          const v = rotated(term.chunk, term.copy, term.baby);
          for (let i = 0; i < acc.length; i++)
            acc[i] = (acc[i] as number) + (d[i] as number) * (v[i] as number);
        }
        if (g === 0 && bias) {
          const b = linearBiasSlots(step, bias, o);
          for (let i = 0; i < acc.length; i++) acc[i] = (acc[i] as number) + (b[i] as number);
        }
        if (result) {
          result = rotate(result, layout.span * T);
          for (let i = 0; i < acc.length; i++) result[i] = (result[i] as number) + (acc[i] as number);
        } else {
          result = acc;
        }
      }
      outputs.push(result as Float64Array);
    });
  }
  return readLinearOutputs(step, outputs);
}

describe("zkllm/ckks linear planning (pure)", () => {
  it("the layouts compute W·x + b exactly (plain simulation of the server schedule)", () => {
    const sets = Object.keys(PARAM_SETS) as ParamSetId[];
    fc.assert(
      fc.property(
        fc.record({
          set: fc.constantFrom(...sets),
          inF: fc.integer({ min: 1, max: 300 }),
          out: fc.integer({ min: 1, max: 300 }),
          tokens: fc.integer({ min: 1, max: 9 }),
          layout: fc.constantFrom<WeightLayout>("out-in", "in-out"),
          maxCopies: fc.constantFrom(1, 2, 8),
          fullReduction: fc.boolean(),
          withBias: fc.boolean(),
          seed: fc.integer({ min: 1, max: 1e6 }),
        }),
        (c) => {
          const step = planLinear({
            id: "s",
            paramSet: c.set,
            inFeatures: c.inF,
            outFeatures: c.out,
            tokens: c.tokens,
            weight: "w",
            bias: c.withBias ? "b" : null,
            weightLayout: c.layout,
            maxCopies: c.maxCopies,
            fullReduction: c.fullReduction,
          });
          checkLinearStep(step);
          const weight = randomWeight(c.out, c.inF, c.layout, c.seed);
          const bias = c.withBias ? { shape: [c.out], data: randomVector(c.out, c.seed + 1) } : undefined;
          const x = Array.from({ length: c.tokens }, (_, t) => randomVector(c.inF, c.seed + 10 + t));
          const y = simulate(step, weight, bias, x);
          expect(maxAbsDiff(y, matvec(weight, c.layout, bias, x))).to.be.lessThan(1e-9);
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  });

  it("forced layouts (baby steps, copies, narrow windows, row subsets) stay exact", () => {
    const cases: Parameters<typeof planLinear>[0][] = [
      {
        id: "a",
        paramSet: "n8192-q100",
        inFeatures: 256,
        outFeatures: 96,
        tokens: 3,
        weight: "w",
        chunk: 64,
      },
      {
        id: "b",
        paramSet: "n8192-q100",
        inFeatures: 128,
        outFeatures: 128,
        tokens: 1,
        weight: "w",
        babySteps: 4,
      },
      {
        id: "c",
        paramSet: "n4096-q69",
        inFeatures: 200,
        outFeatures: 70,
        tokens: 5,
        weight: "w",
        maxCopies: 4,
        maxWindow: 32,
        chunk: 64,
        babySteps: 2,
      },
      {
        id: "d",
        paramSet: "n8192-q60",
        inFeatures: 64,
        outFeatures: 48,
        tokens: 2,
        weight: "w",
        rows: [47, 0, 5, 5, 12],
      },
    ];
    for (const options of cases) {
      const step = planLinear({ ...options, bias: "b" });
      checkLinearStep(step);
      const weight = randomWeight(options.outFeatures, options.inFeatures, "out-in", 3);
      const bias = { shape: [options.outFeatures], data: randomVector(options.outFeatures, 4) };
      const x = Array.from({ length: options.tokens }, (_, t) => randomVector(options.inFeatures, 20 + t));
      const y = simulate(step, weight, bias, x);
      expect(maxAbsDiff(y, matvec(weight, "out-in", bias, x, options.rows)), options.id).to.be.lessThan(1e-9);
    }
  });

  it("uses every slot: multiply-plain count stays near tokens·out·in / slots for the d=128 layer", () => {
    for (const [inF, out] of [
      [128, 384],
      [128, 128],
      [128, 512],
      [512, 128],
    ] as const) {
      const step = planLinear({
        id: "x",
        paramSet: "n8192-q100",
        inFeatures: inF,
        outFeatures: out,
        tokens: 1,
        weight: "w",
      });
      const ideal = Math.ceil((out * inF) / step.layout.slots);
      expect(step.estimate.multiplyPlain, `${out}x${inF}`).to.be.within(ideal, 2 * ideal);
      expect(step.inputCiphertexts).to.be.at.most(8);
    }
  });

  it("lists exactly the rotations its schedule performs, and SEAL's Galois elements for them", () => {
    const step = planLinear({
      id: "r",
      paramSet: "n8192-q100",
      inFeatures: 128,
      outFeatures: 384,
      tokens: 2,
      weight: "w",
      babySteps: 4,
      maxCopies: 1,
      maxWindow: 32,
    });
    const T = step.layout.tokensPerCiphertext;
    const expected = new Set(linearBabyRotations(step, 0).map((i) => i * T));
    if (step.outputs.some((o) => o.giantSteps > 1)) expected.add(step.layout.span * T);
    expect(step.rotations).to.deep.equal([...expected].sort((a, b) => a - b));
    expect(step.rotations).to.deep.equal([2, 4, 6, 8]);
    // SEAL: rotating left by k uses the Galois element 3^k mod 2N.
    expect(galoisElementForStep(1, 8192)).to.equal(3);
    expect(galoisElementForStep(2, 8192)).to.equal(9);
    expect(galoisElementForStep(-1, 8192)).to.equal(Number(3n ** 4095n % 16384n));
    expect(() => galoisElementForStep(4096, 8192)).to.throw(RangeError);
  });

  it("low-scale parameter sets never rotate inputs before the product (key-switching noise)", () => {
    for (const paramSet of ["n8192-q60", "n4096-q69"] as const) {
      const step = planLinear({
        id: "q",
        paramSet,
        inFeatures: 768,
        outFeatures: 768,
        tokens: 4,
        weight: "w",
      });
      expect(step.layout.babySteps).to.equal(1);
    }
  });

  it("plans round-trip through JSON and tampered plans are refused", () => {
    const steps = [
      planLinear({
        id: "h0.qkv",
        paramSet: "n8192-q100",
        inFeatures: 128,
        outFeatures: 384,
        tokens: 1,
        weight: "w",
      }),
      planLinear({
        id: "h0.proj",
        paramSet: "n8192-q100",
        inFeatures: 128,
        outFeatures: 128,
        tokens: 1,
        weight: "p",
      }),
    ];
    const plan = createPlan("n8192-q100", steps);
    expect(parsePlan(JSON.stringify(plan))).to.deep.equal(plan);
    expect(planRotations(plan)).to.deep.equal(
      [...new Set(steps.flatMap((s) => s.rotations))].sort((a, b) => a - b),
    );

    const tamper = (edit: (p: ReturnType<typeof structuredClone<typeof plan>>) => void) => {
      const copy = structuredClone(plan);
      edit(copy);
      return JSON.stringify(copy);
    };
    const bad = [
      "{not json",
      tamper((p) => ((p.steps[0] as LinearPlanStep).layout.groups = 1000)),
      tamper((p) => ((p.steps[0] as LinearPlanStep).rotations = [1, 2, 3])),
      tamper((p) => ((p.steps[0] as LinearPlanStep).outputs[0]!.rows = 1e6)),
      tamper((p) => ((p.steps[0] as LinearPlanStep).layout.chunk = 96)),
      tamper((p) => ((p.steps[1] as LinearPlanStep).id = "h0.qkv")),
      tamper((p) => ((p.steps[1] as LinearPlanStep).paramSet = "n4096-q69")),
      tamper((p) => ((p as { version: number }).version = 2)),
    ];
    for (const json of bad) expect(() => parsePlan(json), json.slice(0, 60)).to.throw(ZkllmInputError);
  });

  it("plans a Hugging Face GPT-2 block (Conv1D tensors) for generation and for a prompt", () => {
    const gen = planGpt2Block({
      paramSet: "n8192-q100",
      layer: 1,
      width: 128,
      tokens: 1,
      prefix: "transformer.",
    });
    const prompt = planGpt2Block({ paramSet: "n8192-q100", layer: 1, width: 128, tokens: 8 });
    expect(gen.map((s) => [s.id, s.weight, s.inFeatures, s.outFeatures])).to.deep.equal([
      ["transformer.h.1.attn.c_attn@T1", "transformer.h.1.attn.c_attn.weight", 128, 384],
      ["transformer.h.1.attn.c_proj@T1", "transformer.h.1.attn.c_proj.weight", 128, 128],
      ["transformer.h.1.mlp.c_fc@T1", "transformer.h.1.mlp.c_fc.weight", 128, 512],
      ["transformer.h.1.mlp.c_proj@T1", "transformer.h.1.mlp.c_proj.weight", 512, 128],
    ]);
    expect(
      gen.every((s) => s.weightLayout === "in-out" && s.bias === s.weight.replace(/weight$/, "bias")),
    ).to.equal(true);
    const plan = createPlan("n8192-q100", [...gen, ...prompt]);
    expect(plan.steps).to.have.length(8);
    expect(planRotations(plan).length).to.be.at.most(16);
  });

  it("refuses impossible requests with clear errors", () => {
    expect(() =>
      planLinear({ id: "z", paramSet: "n8192-q100", inFeatures: 0, outFeatures: 4, tokens: 1, weight: "w" }),
    ).to.throw(ZkllmInputError, /inFeatures/);
    expect(() =>
      planLinear({
        id: "z",
        paramSet: "n8192-q100",
        inFeatures: 4,
        outFeatures: 4,
        tokens: 1,
        weight: "w",
        rows: [4],
      }),
    ).to.throw(ZkllmInputError, /row 4/);
    const step = planLinear({
      id: "z",
      paramSet: "n8192-q100",
      inFeatures: 4,
      outFeatures: 4,
      tokens: 2,
      weight: "w",
    });
    expect(() => layoutLinearInputs(step, [[1, 2, 3, 4]])).to.throw(ZkllmInputError, /2 token vectors/);
    expect(() => weightAccessor(step, { shape: [4, 5], data: new Float32Array(20) })).to.throw(
      ZkllmInputError,
      /shape/,
    );
  });
});
