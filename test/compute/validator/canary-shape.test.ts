import { expect } from "chai";
import { CanaryPrompts } from "../../../compute/validator/canary";
import { loadTokenizer } from "../../../zkllm/tokenizer";
import { SHIPPED_MODEL_DIR } from "../../zkllm/model/helpers";
import {
  type HistoryRequest,
  MIN_HISTORY,
  USER_LIKE_SHAPE,
  cryptoUniform,
  gapsFromHistory,
  jitteredGap,
  shapeFromHistory,
} from "../../../compute/validator/canary-shape";

const BUCKET = 16;
const CONTEXT = 128;

/** A history of `n` requests cycling through `kinds`, one every `gap` seconds. */
function history(kinds: [number, number][], n: number, gap = 10): HistoryRequest[] {
  return Array.from({ length: n }, (_, i) => {
    const [promptUnits, maxCompletionUnits] = kinds[i % kinds.length]!;
    return { promptUnits, maxCompletionUnits, timestamp: 1_700_000_000 + i * gap };
  });
}

/** Two-sample Kolmogorov–Smirnov statistic. */
function ks(a: number[], b: number[]): number {
  const xs = [...new Set([...a, ...b])].sort((x, y) => x - y);
  const cdf = (s: number[], x: number) => s.filter((v) => v <= x).length / s.length;
  return Math.max(...xs.map((x) => Math.abs(cdf(a, x) - cdf(b, x))));
}

describe("compute/validator/canary-shape: canaries sized and timed like the Brain's users", () => {
  it("sizes: maxTokens as often as users ask for it, prompt lengths uniform within the charged bucket", () => {
    // 50 % ask (16 units, 8 tokens), 30 % (32, 64), 20 % (128, 4).
    const kinds: [number, number][] = [
      [16, 8],
      [32, 64],
      [16, 8],
      [128, 4],
      [32, 64],
      [16, 8],
      [16, 8],
      [32, 64],
      [128, 4],
      [16, 8],
    ];
    const sampler = shapeFromHistory(history(kinds, 200), { bucket: BUCKET, nPositions: CONTEXT });
    expect(sampler).to.include({ source: "history", requests: 200, dropped: 0 });
    const N = 20_000;
    const draws = Array.from({ length: N }, () => sampler.draw());
    const freq = (m: number) => draws.filter((d) => d.maxTokens === m).length / N;
    expect(freq(8)).to.be.closeTo(0.5, 0.02);
    expect(freq(64)).to.be.closeTo(0.3, 0.02);
    expect(freq(4)).to.be.closeTo(0.2, 0.02);
    expect(draws.every((d) => [4, 8, 64].includes(d.maxTokens))).to.equal(true);
    // Each prompt length lies in its request's bucket, uniformly: (units − 16, units].
    const lengths = (m: number) => draws.filter((d) => d.maxTokens === m).map((d) => d.promptTokens);
    expect(Math.min(...lengths(8))).to.equal(1);
    expect(Math.max(...lengths(8))).to.equal(16);
    expect(Math.min(...lengths(64))).to.equal(17);
    expect(Math.max(...lengths(64))).to.equal(32);
    expect(Math.min(...lengths(4))).to.equal(113);
    expect(Math.max(...lengths(4))).to.equal(128);
    const within = lengths(8);
    for (let len = 1; len <= 16; len++) {
      expect(within.filter((l) => l === len).length / within.length, `length ${len}`).to.be.closeTo(
        1 / 16,
        0.015,
      );
    }
    // A plain Brain's units are exact lengths (bucket 1).
    const plain = shapeFromHistory(history([[7, 3]], 30), { bucket: 1, nPositions: CONTEXT });
    expect(plain.draw()).to.deep.equal({ promptTokens: 7, maxTokens: 3 });
  });

  it("sizes drawn match the history's as a two-sample test does (KS distance small)", () => {
    const kinds: [number, number][] = Array.from({ length: 37 }, (_, i) => [
      16 * (1 + (i % 5)),
      1 + ((i * 7) % 40),
    ]);
    const past = history(kinds, 300);
    const sampler = shapeFromHistory(past, { bucket: BUCKET, nPositions: CONTEXT });
    const drawn = Array.from({ length: 3_000 }, () => sampler.draw());
    // Critical value at α = 0.001 for n = 300, m = 3000: 1.95 · sqrt((n + m) / (n m)) ≈ 0.118.
    expect(
      ks(
        drawn.map((d) => d.maxTokens),
        past.map((r) => r.maxCompletionUnits),
      ),
    ).to.be.below(0.118);
    const bucketOf = (len: number) => Math.ceil(len / BUCKET) * BUCKET;
    expect(
      ks(
        drawn.map((d) => bucketOf(d.promptTokens)),
        past.map((r) => r.promptUnits),
      ),
    ).to.be.below(0.118);
  });

  it("falls back to USER_LIKE_SHAPE with fewer than MIN_HISTORY usable requests; bad entries are dropped", () => {
    expect(MIN_HISTORY).to.equal(20);
    const few = shapeFromHistory(history([[16, 8]], MIN_HISTORY - 1), {
      bucket: BUCKET,
      nPositions: CONTEXT,
    });
    expect(few.source).to.equal("fallback");
    for (let i = 0; i < 500; i++) {
      const d = few.draw();
      expect(d.promptTokens).to.be.within(USER_LIKE_SHAPE.promptTokens[0], USER_LIKE_SHAPE.promptTokens[1]);
      expect(d.maxTokens).to.be.within(USER_LIKE_SHAPE.maxTokens[0], USER_LIKE_SHAPE.maxTokens[1]);
    }
    expect(shapeFromHistory([], { bucket: BUCKET, nPositions: CONTEXT }).source).to.equal("fallback");
    // 20 good requests and bad ones of every kind: the bad are dropped, the good suffice.
    const bad = [
      { promptUnits: 0, maxCompletionUnits: 4, timestamp: 1 },
      { promptUnits: 16, maxCompletionUnits: 0, timestamp: 1 },
      { promptUnits: 1.5, maxCompletionUnits: 4, timestamp: 1 },
      { promptUnits: 144, maxCompletionUnits: 4, timestamp: 1 },
      { promptUnits: Number.NaN, maxCompletionUnits: 4, timestamp: 1 },
      null as unknown as HistoryRequest,
    ];
    const mixed = shapeFromHistory([...history([[32, 5]], MIN_HISTORY), ...bad], {
      bucket: BUCKET,
      nPositions: CONTEXT,
    });
    expect(mixed).to.include({ source: "history", requests: MIN_HISTORY, dropped: bad.length });
    for (let i = 0; i < 200; i++) expect(mixed.draw().maxTokens).to.equal(5);
    const thin = shapeFromHistory([...history([[32, 5]], MIN_HISTORY - 1), ...bad], {
      bucket: BUCKET,
      nPositions: CONTEXT,
    });
    expect(thin.source).to.equal("fallback");
  });

  it("bad options are refused", () => {
    const h = history([[16, 8]], 30);
    expect(() => shapeFromHistory(h, { bucket: 0, nPositions: CONTEXT })).to.throw(RangeError, /bucket/);
    expect(() => shapeFromHistory(h, { bucket: 16, nPositions: 1 })).to.throw(RangeError, /context/);
    expect(() =>
      shapeFromHistory(h, {
        bucket: 16,
        nPositions: CONTEXT,
        fallback: { promptTokens: [5, 4], maxTokens: [1, 1] },
      }),
    ).to.throw(RangeError, /shape/);
    expect(() => gapsFromHistory(h, 0)).to.throw(RangeError);
    expect(() => gapsFromHistory(h, Number.NaN)).to.throw(RangeError);
  });

  it("gaps: the configured mean, the users' shape (normalised), smoothed off the block lattice", () => {
    // Bursty users: 9 requests 10 s apart, then a 910 s pause; mean gap 100 s.
    const times: HistoryRequest[] = [];
    let t = 1_700_000_000;
    for (let i = 0; i < 200; i++) {
      times.push({ promptUnits: 16, maxCompletionUnits: 8, timestamp: t });
      t += i % 10 === 9 ? 910 : 10;
    }
    const sampler = gapsFromHistory([...times].reverse(), 60_000);
    expect(sampler).to.include({ source: "history", gaps: 199 });
    const N = 40_000;
    const gaps = Array.from({ length: N }, () => sampler.draw());
    const mean = gaps.reduce((a, b) => a + b, 0) / N;
    expect(mean).to.be.closeTo(60_000, 60_000 * 0.05);
    // Shape: ~90 % short gaps (10 s ± 5 s of 100 s, scaled to 6 s ± 3 s), ~10 % long (~546 s).
    const short = gaps.filter((g) => g < 10_000).length / N;
    expect(short).to.be.closeTo(180 / 199, 0.02);
    expect(gaps.filter((g) => g > 500_000).length / N).to.be.closeTo(19 / 199, 0.02);
    // No lattice: the short gaps are spread over their block, not one value.
    // (6 s ± 3 s holds 6,000 whole milliseconds; 36,000 draws cover most of them.)
    expect(new Set(gaps.filter((g) => g < 10_000).map((g) => Math.round(g))).size).to.be.greaterThan(4_000);
    // Requests all in one block give no shape; too few gaps neither: the jittered fallback.
    const sameBlock = history([[16, 8]], 40, 0);
    expect(gapsFromHistory(sameBlock, 1000).source).to.equal("fallback");
    expect(gapsFromHistory(history([[16, 8]], MIN_HISTORY), 1000).source).to.equal("fallback");
    expect(gapsFromHistory(history([[16, 8]], MIN_HISTORY + 1), 1000).source).to.equal("history");
    const fallback = gapsFromHistory([], 1000);
    const fb = Array.from({ length: 2000 }, () => fallback.draw());
    expect(Math.min(...fb)).to.be.at.least(100);
    expect(Math.max(...fb)).to.be.at.most(4000);
    // Zero gaps (several requests in one block) keep the mean exact after smoothing.
    const bursts = history([[16, 8]], 100, 0).map((r, i) => ({
      ...r,
      timestamp: r.timestamp + 10 * Math.floor(i / 3),
    }));
    const b = gapsFromHistory(bursts, 1000);
    const bm = Array.from({ length: N }, () => b.draw()).reduce((a, x) => a + x, 0) / N;
    expect(bm).to.be.closeTo(1000, 50);
  });

  it("randomness is crypto-grade by default: uniform in [0, 1), and jitteredGap accepts it", () => {
    const xs = Array.from({ length: 10_000 }, cryptoUniform);
    expect(Math.min(...xs)).to.be.at.least(0);
    expect(Math.max(...xs)).to.be.below(1);
    expect(xs.reduce((a, b) => a + b, 0) / xs.length).to.be.closeTo(0.5, 0.02);
    expect(jitteredGap(1000, () => 0)).to.equal(100);
  });

  it("canary prompts take the drawn size (Brown corpus text of exactly that many tokens), cut to the context", () => {
    const prompts = new CanaryPrompts(loadTokenizer(SHIPPED_MODEL_DIR), CONTEXT);
    const sampler = shapeFromHistory(history([[48, 9]], 30), { bucket: BUCKET, nPositions: CONTEXT });
    for (let i = 0; i < 20; i++) {
      const size = sampler.draw();
      const c = prompts.draw(size);
      expect(c.promptIds).to.have.length(size.promptTokens);
      expect(size.promptTokens).to.be.within(33, 48);
      expect(c.maxTokens).to.equal(9);
    }
    const huge = prompts.draw({ promptTokens: 500, maxTokens: 50 });
    expect(huge.promptIds).to.have.length(CONTEXT - 1);
    expect(huge.maxTokens).to.equal(2);
  });
});
