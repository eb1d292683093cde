import path from "node:path";
import { expect } from "chai";
import { loadCheckpoint, readSafetensorsFile } from "../../../zkllm/model/files";
import {
  Gpt2Forward,
  argmax,
  createRng,
  generate,
  geluNew,
  layerNorm,
  sampleToken,
} from "../../../zkllm/model/forward";
import { randomCheckpoint } from "../../../zkllm/model/random-checkpoint";
import { type Gpt2Tokenizer, loadTokenizer } from "../../../zkllm/tokenizer";
import { FIXTURE_DIR, SHIPPED_MODEL_DIR, maxAbsDiff } from "./helpers";

describe("zkllm/model/forward: plaintext GPT-2", () => {
  let shipped: Gpt2Forward;
  let tokenizer: Gpt2Tokenizer;
  before(() => {
    shipped = new Gpt2Forward(loadCheckpoint(SHIPPED_MODEL_DIR));
    tokenizer = loadTokenizer(SHIPPED_MODEL_DIR);
  });

  describe("building blocks", () => {
    it("gelu_new matches hand-computed values", () => {
      expect(geluNew(0)).to.equal(0);
      expect(geluNew(1)).to.be.closeTo(0.8411919906, 1e-9);
      expect(geluNew(-1)).to.be.closeTo(-0.1588080094, 1e-9);
      expect(geluNew(10)).to.be.closeTo(10, 1e-9);
    });

    it("layerNorm normalises with biased variance and applies the affine", () => {
      const out = new Float64Array(4);
      layerNorm(
        Float64Array.from([1, 2, 3, 4]),
        Float32Array.from([1, 1, 2, 1]),
        Float32Array.from([0, 0, 0, 1]),
        0,
        out,
      );
      const s = Math.sqrt(1.25);
      expect(Array.from(out).map((v) => +v.toFixed(9))).to.deep.equal(
        [-1.5 / s, -0.5 / s, 1 / s, 1.5 / s + 1].map((v) => +v.toFixed(9)),
      );
    });

    it("argmax breaks ties towards the lowest index", () => {
      expect(argmax([1, 3, 3, 2])).to.equal(1);
      expect(argmax([5, 1, 9, 9], 1, 3)).to.equal(1);
    });

    it("samples reproducibly from a seed, and greedily at temperature 0", () => {
      const logits = Float32Array.from([0.1, 2, 1.9, -3, 0.5]);
      expect(sampleToken(logits)).to.equal(1);
      const draw = (seed: number) => {
        const rng = createRng(seed);
        return Array.from({ length: 50 }, () => sampleToken(logits, { temperature: 1, rng }));
      };
      expect(draw(7)).to.deep.equal(draw(7));
      expect(new Set(draw(7)).size).to.be.greaterThan(2);
      const rng = createRng(1);
      for (let i = 0; i < 50; i++)
        expect([1, 2]).to.include(sampleToken(logits, { temperature: 1, topK: 2, rng }));
      expect(() => sampleToken(logits, { temperature: 1 })).to.throw(/rng/);
    });
  });

  describe("shipped model", () => {
    it("matches the logits the Python training script saved (max abs diff < 1e-3)", () => {
      const fixture = readSafetensorsFile(path.join(FIXTURE_DIR, "brain-gpt2-tiny-logits.safetensors"));
      const prompts = JSON.parse(fixture.metadata.prompts!) as Array<{ text: string; ids: number[] }>;
      expect(prompts.length).to.be.greaterThanOrEqual(3);
      prompts.forEach((p, i) => {
        expect(tokenizer.encode(p.text)).to.deep.equal(p.ids);
        const expected = fixture.getF32(`logits.${i}`);
        expect(expected.shape).to.deep.equal([p.ids.length, shipped.config.vocab_size]);
        expect(maxAbsDiff(shipped.forward(p.ids), expected.data)).to.be.lessThan(1e-3);
      });
    });

    it("KV-cache incremental logits equal a full recompute", () => {
      const ids = tokenizer.encode(
        "The jury further said in term-end presentments that the City Executive Committee",
      );
      const full = shipped.forward(ids);
      const vocab = shipped.config.vocab_size;
      const cache = shipped.createCache();
      const first = shipped.step(cache, ids.slice(0, 5));
      const rest = ids.slice(5).map((id) => shipped.step(cache, [id]));
      const incremental = new Float32Array(full.length);
      incremental.set(first, 0);
      rest.forEach((row, i) => incremental.set(row, (5 + i) * vocab));
      expect(cache.length).to.equal(ids.length);
      expect(maxAbsDiff(incremental, full)).to.be.lessThan(1e-9);
    });

    it("refuses out-of-range ids and contexts longer than n_positions", () => {
      expect(() => shipped.forward([shipped.config.vocab_size])).to.throw(RangeError);
      expect(() => shipped.forward(new Array<number>(shipped.config.n_positions + 1).fill(0))).to.throw(
        RangeError,
      );
    });

    it("writes English-looking text greedily", () => {
      const out = generate(shipped, tokenizer.encode("The President said that"), { maxNewTokens: 12 });
      const text = tokenizer.decode(out);
      expect(text).to.match(/^[\s\w,.'";:()-]+$/);
      expect(
        text.split(/\s+/).filter((w) => /^(the|a|of|to|and|in|that|is|was|he|it)$/i.test(w)).length,
      ).to.be.greaterThan(0);
    });

    it("generation stops at the context limit and at the end-of-text token", () => {
      const nPos = shipped.config.n_positions;
      const prompt = new Array<number>(nPos - 3).fill(tokenizer.encode(" the")[0]!);
      expect(generate(shipped, prompt, { maxNewTokens: 10 })).to.have.length(3);
      expect(generate(shipped, prompt.concat([1, 2, 3]), { maxNewTokens: 10 })).to.have.length(1);
      const greedyFirst = generate(shipped, [1, 2, 3], { maxNewTokens: 1 })[0]!;
      expect(generate(shipped, [1, 2, 3], { maxNewTokens: 10, eosId: greedyFirst })).to.deep.equal([
        greedyFirst,
      ]);
    });
  });

  describe("random checkpoint", () => {
    it("KV cache equals full recompute for an untied head", () => {
      const m = new Gpt2Forward(
        randomCheckpoint({
          nLayer: 3,
          nEmbd: 24,
          nHead: 3,
          vocabSize: 30,
          nPositions: 10,
          seed: 9,
          std: 0.3,
          untiedHead: true,
        }),
      );
      const ids = [3, 1, 4, 1, 5, 9, 2, 6];
      const cache = m.createCache();
      const rows = ids.map((id) => m.step(cache, [id]));
      const inc = new Float32Array(ids.length * 30);
      rows.forEach((r, i) => inc.set(r, i * 30));
      expect(maxAbsDiff(inc, m.forward(ids))).to.be.lessThan(1e-9);
    });
  });
});
