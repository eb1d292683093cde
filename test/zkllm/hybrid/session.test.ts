import { expect } from "chai";
import { Gpt2Forward, generate } from "../../../zkllm/model/forward";
import { randomCheckpoint } from "../../../zkllm/model/random-checkpoint";
import { generateGreedy } from "../../../zkllm/model/greedy";
import { HybridSession, plainBackend } from "../../../zkllm/hybrid/session";
import { splitModel } from "../../../zkllm/hybrid/split-model";

const ckpt = randomCheckpoint({
  nLayer: 2,
  nEmbd: 32,
  nHead: 4,
  vocabSize: 64,
  nPositions: 32,
  seed: 7,
  std: 0.2,
});
const prompt = [3, 14, 15, 9, 26, 5];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("zkllm/hybrid: the hybrid split computes the model exactly (plaintext backend)", () => {
  const reference = new Gpt2Forward(ckpt);
  const vocab = ckpt.config.vocab_size;

  for (const fuse of [false, true]) {
    it(`client + server products equal the plain forward pass (fusion ${fuse ? "on" : "off"})`, async () => {
      const split = splitModel(ckpt, { fuse });
      const session = new HybridSession(split.client, plainBackend(split.server));
      const logits = await session.step(prompt);
      const expected = reference.forward(prompt).subarray((prompt.length - 1) * vocab);
      expect(maxAbsDiff(logits, expected)).to.be.below(1e-5);
    });
  }

  it("the prompt in one round trip, then one token at a time, equals recomputing from scratch", async () => {
    const split = splitModel(ckpt, { fuse: true });
    const incremental = new HybridSession(split.client, plainBackend(split.server));
    await incremental.step(prompt.slice(0, 4));
    const a = await incremental.step(prompt.slice(4, 5));
    const b = await incremental.step(prompt.slice(5));
    const full = reference.forward(prompt);
    expect(maxAbsDiff(a, full.subarray(4 * vocab, 5 * vocab))).to.be.below(1e-5);
    expect(maxAbsDiff(b, full.subarray(5 * vocab, 6 * vocab))).to.be.below(1e-5);
  });

  it("greedy generation through the session equals the reference generator", async () => {
    const split = splitModel(ckpt, { fuse: true });
    const session = new HybridSession(split.client, plainBackend(split.server));
    const ours = await generateGreedy(session, prompt, { maxTokens: 12 });
    expect(ours).to.deep.equal(generate(reference, prompt, { maxNewTokens: 12 }));
  });

  it("pruning heads equals running every head with the pruned heads' outputs zeroed", async () => {
    const kept = [
      [true, false, true, false],
      [false, true, true, true],
    ];
    const pruned = splitModel(ckpt, { fuse: true, keptHeads: kept });
    expect(pruned.server.find((s) => s.id === "L0.qkv")!.outFeatures).to.equal(3 * 2 * 8);
    expect(pruned.server.find((s) => s.id === "L0.attnOut")!.inFeatures).to.equal(2 * 8);
    const prunedLogits = await new HybridSession(pruned.client, plainBackend(pruned.server)).step(prompt);

    const full = splitModel(ckpt, { fuse: true });
    const masked = new HybridSession(full.client, plainBackend(full.server), {
      onHeadOutput: (layer, head, output) => {
        if (!kept[layer]![head]) output.fill(0);
      },
    });
    expect(maxAbsDiff(prunedLogits, await masked.step(prompt))).to.be.below(1e-9);
  });

  it("refuses token ids outside the vocabulary, empty steps and a full context", async () => {
    const split = splitModel(ckpt);
    const session = new HybridSession(split.client, plainBackend(split.server));
    let error: unknown;
    await session.step([64]).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(RangeError);
    error = undefined;
    await session.step([]).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(RangeError);
    error = undefined;
    await session.step(Array.from({ length: 33 }, () => 1)).catch((e: unknown) => (error = e));
    expect(String(error)).to.include("context");
    expect(() =>
      splitModel(ckpt, {
        keptHeads: [
          [false, false, false, false],
          [true, true, true, true],
        ],
      }),
    ).to.throw(RangeError);
  });
});
