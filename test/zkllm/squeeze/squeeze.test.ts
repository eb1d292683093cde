import { expect } from "chai";
import fc from "fast-check";
import {
  type Linear,
  applyLinear,
  foldLayerNormAffine,
  keptHeadRows,
  keptQkvColumns,
  scaleColumns,
  selectColumns,
  selectRows,
} from "../../../zkllm/squeeze/fusion";
import { normaliseScores, selectHeads } from "../../../zkllm/squeeze/heads";
import { PAPER_QUANTIZE_PARAMS, descale, dynamicQuantize } from "../../../zkllm/squeeze/quantize";

const close = (actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-12) => {
  expect(actual.length).to.equal(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!), `index ${i}: ${actual[i]} vs ${expected[i]}`).to.be.at.most(
      tol,
    );
  }
};

describe("zkllm/squeeze/quantize: the whitepaper's dynamic quantization (§5.1)", () => {
  // Hand-computed: row 0 has σ = √0.145 ≈ 0.381 > T, so S = α = 0.5; row 1 has σ ≈ 0.0112 ≤ T, so S = 1/α = 2.
  const x = [0, 0.3, 0.7, 1.0, 0.01, 0.02, 0.03, 0.04];
  const params = { threshold: 0.1, alpha: 0.5, levels: 3 };

  it("computes σ_i per sample, S_i = α above T and 1/α otherwise, and Q_i = (max − min)/(L − 1)", () => {
    const r = dynamicQuantize(x, 4, { ...params, rounding: "floor" });
    close(r.sigma, [Math.sqrt(0.145), Math.sqrt(0.000125)], 1e-12);
    close(r.scale, [0.5, 2]);
    close(r.step, [0.25, 0.03], 1e-15);
    close(r.min, [0, 0.02], 1e-15);
  });

  it("floor rounding follows the paper's formula q = ⌊(y − min)/Q⌋·Q + min", () => {
    const r = dynamicQuantize(x, 4, { ...params, rounding: "floor" });
    close(r.values, [0, 0, 0.25, 0.5, 0.02, 0.02, 0.05, 0.08], 1e-12);
  });

  it("nearest rounding maps each value to its nearest level", () => {
    const r = dynamicQuantize(x, 4, { ...params, rounding: "nearest" });
    close(r.values, [0, 0.25, 0.25, 0.5, 0.02, 0.05, 0.05, 0.08], 1e-12);
  });

  it("descale undoes S_i, and the error is at most one step (floor) or half a step (nearest)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -8, max: 8, noNaN: true }), { minLength: 16, maxLength: 16 }),
        fc.constantFrom<"floor" | "nearest">("floor", "nearest"),
        (row, rounding) => {
          const r = dynamicQuantize(row, 8, { ...PAPER_QUANTIZE_PARAMS, levels: 16, rounding });
          const back = descale(r.values, 8, r.scale);
          for (let i = 0; i < row.length; i++) {
            const bound =
              (rounding === "floor" ? 1 : 0.5) * (r.step[Math.floor(i / 8)]! / r.scale[Math.floor(i / 8)]!);
            expect(Math.abs(back[i]! - row[i]!)).to.be.at.most(bound + 1e-9);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a constant sample is left as it is (Q = 0) and bad parameters are refused", () => {
    expect(Array.from(dynamicQuantize([3, 3, 3], 3, params).values)).to.deep.equal([
      3 / 0.5,
      3 / 0.5,
      3 / 0.5,
    ]);
    expect(() => dynamicQuantize([1, 2, 3], 2, params)).to.throw(RangeError);
    expect(() => dynamicQuantize([1, 2], 2, { ...params, levels: 1 })).to.throw(RangeError);
    expect(() => dynamicQuantize([1, 2], 2, { ...params, alpha: 0 })).to.throw(RangeError);
  });
});

describe("zkllm/squeeze/heads: head significance S(h) > θ under a budget C_max (§7.1)", () => {
  const scores = normaliseScores([
    [4, 3, 2, 1],
    [1, 1, 6, 2],
  ]);
  const cost = [
    [10, 10, 10, 10],
    [10, 10, 10, 10],
  ];

  it("normalised scores of a layer sum to 1", () => {
    for (const layer of scores) expect(layer.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-12);
  });

  it("keeps heads above θ, best first, and never exceeds the budget", () => {
    const all = selectHeads(scores, cost, 0.15, 1000);
    expect(all.kept).to.deep.equal([
      [true, true, true, false],
      [false, false, true, true],
    ]);
    const tight = selectHeads(scores, cost, 0.15, 30);
    expect(tight.cost).to.be.at.most(30);
    // One head per layer first (20), then the next best (layer 0 head 1) fills the budget.
    expect(tight.kept).to.deep.equal([
      [true, true, false, false],
      [false, false, true, false],
    ]);
    expect(tight.fullCost).to.equal(80);
  });

  it("respects any budget and always keeps one head per layer (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.double({ min: 0.01, max: 1, noNaN: true }), { minLength: 4, maxLength: 4 }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.integer({ min: 0, max: 200 }),
        (raw, theta, extra) => {
          const s = normaliseScores(raw);
          const c = s.map((layer) => layer.map((_, h) => 5 + h));
          const floor = s.reduce((acc, layer) => acc + 5 + layer.indexOf(Math.max(...layer)), 0);
          const sel = selectHeads(s, c, theta, floor + extra);
          expect(sel.cost).to.be.at.most(floor + extra);
          for (const layer of sel.kept) expect(layer.some(Boolean)).to.equal(true);
          sel.kept.forEach((layer, l) =>
            layer.forEach((k, h) => {
              if (k && s[l]![h]! <= theta) expect(s[l]![h]).to.equal(Math.max(...s[l]!));
            }),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("refuses a budget that cannot pay for one head per layer", () => {
    expect(() => selectHeads(scores, cost, 0.1, 19)).to.throw(RangeError, /budget/);
  });
});

describe("zkllm/squeeze/fusion: folded and pruned projections compute the same values", () => {
  const rand = (n: number, seed: number) => {
    let s = seed;
    return Float32Array.from(
      { length: n },
      () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1,
    );
  };
  const d = 8;
  const layer: Linear = {
    weight: rand(d * 3 * d, 1),
    bias: rand(3 * d, 2),
    inFeatures: d,
    outFeatures: 3 * d,
  };

  it("LayerNorm's affine folded into the next projection equals applying it first", () => {
    const gamma = rand(d, 3);
    const beta = rand(d, 4);
    const xhat = rand(d, 5);
    const affine = Array.from(xhat, (v, i) => v * gamma[i]! + beta[i]!);
    close(applyLinear(foldLayerNormAffine(gamma, beta, layer), xhat), applyLinear(layer, affine), 1e-5);
  });

  it("scaling query columns by 1/√d_head equals scaling the query afterwards", () => {
    const x = rand(d, 6);
    const scaled = applyLinear(scaleColumns(layer, 0, d, 0.5), x);
    const plain = applyLinear(layer, x);
    close(
      scaled.subarray(0, d),
      Array.from(plain.subarray(0, d), (v) => v * 0.5),
      1e-6,
    );
    close(scaled.subarray(d), plain.subarray(d), 1e-6);
  });

  it("pruning heads keeps exactly their q/k/v columns and W_O rows", () => {
    const kept = [true, false];
    const columns = keptQkvColumns(d, 2, kept);
    expect(columns).to.deep.equal([0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19]);
    const x = rand(d, 7);
    const full = applyLinear(layer, x);
    close(
      applyLinear(selectColumns(layer, columns), x),
      columns.map((c) => full[c]!),
      1e-6,
    );

    const wo: Linear = { weight: rand(d * d, 8), bias: rand(d, 9), inFeatures: d, outFeatures: d };
    const rows = keptHeadRows(d, 2, kept);
    const headOut = rand(d, 10);
    const zeroed = Float32Array.from(headOut, (v, i) => (rows.includes(i) ? v : 0));
    close(
      applyLinear(
        selectRows(wo, rows),
        rows.map((r) => headOut[r]!),
      ),
      applyLinear(wo, zeroed),
      1e-6,
    );
  });
});
