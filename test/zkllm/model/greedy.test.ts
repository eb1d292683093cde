import { expect } from "chai";
import { type LogitsSource, generateGreedy } from "../../../zkllm/model/greedy";

/**
 * A scripted source: the next token is always (last fed token + 1) mod vocab, so every answer is
 * known in advance. It records what was fed, to check the loop never feeds its last token.
 */
function counting(vocab: number, maxSequence: number) {
  const fed: number[][] = [];
  const source: LogitsSource = {
    maxSequence,
    async step(ids) {
      fed.push([...ids]);
      const logits = new Float64Array(vocab);
      logits[(ids.at(-1)! + 1) % vocab] = 1;
      return logits;
    },
  };
  return { source, fed };
}

describe("zkllm/model/greedy: the one greedy loop", () => {
  it("feeds the prompt once, then each token but the last, and stops at maxTokens", async () => {
    const { source, fed } = counting(10, 100);
    expect(await generateGreedy(source, [1, 2], { maxTokens: 3 })).to.deep.equal([3, 4, 5]);
    expect(fed).to.deep.equal([[1, 2], [3], [4]]);
  });

  it("stops after the end-of-text id, which ends the answer", async () => {
    const { source } = counting(10, 100);
    expect(await generateGreedy(source, [5], { maxTokens: 10, eosId: 8 })).to.deep.equal([6, 7, 8]);
  });

  it("stops where the source's context ends (prompt + answer = maxSequence)", async () => {
    // An onnx-like source (maxSequence = n_positions = 6) and a hybrid-like one (n + 1 = 7).
    expect(await generateGreedy(counting(10, 6).source, [0, 1, 2, 3], { maxTokens: 10 })).to.deep.equal([
      4, 5,
    ]);
    expect(await generateGreedy(counting(10, 7).source, [0, 1, 2, 3], { maxTokens: 10 })).to.deep.equal([
      4, 5, 6,
    ]);
    // A prompt that already fills the context still gets one token.
    expect(await generateGreedy(counting(10, 4).source, [0, 1, 2, 3], { maxTokens: 10 })).to.deep.equal([4]);
  });

  it("calls onToken as each token is known, marking the last one", async () => {
    const { source, fed } = counting(10, 100);
    const seen: Array<[number, boolean, number]> = [];
    const ids = await generateGreedy(source, [0], {
      maxTokens: 3,
      onToken: (id, last) => seen.push([id, last, fed.length]),
    });
    expect(ids).to.deep.equal([1, 2, 3]);
    // Each token is handed out before the step that feeds it back.
    expect(seen).to.deep.equal([
      [1, false, 1],
      [2, false, 2],
      [3, true, 3],
    ]);
  });

  it("breaks ties towards the lowest id, and asks for nothing when maxTokens is 0", async () => {
    const flat: LogitsSource = { maxSequence: 100, step: async () => new Float64Array(5) };
    expect(await generateGreedy(flat, [1], { maxTokens: 2 })).to.deep.equal([0, 0]);
    const { source, fed } = counting(10, 100);
    expect(await generateGreedy(source, [1], { maxTokens: 0 })).to.deep.equal([]);
    expect(fed).to.deep.equal([]);
  });
});
