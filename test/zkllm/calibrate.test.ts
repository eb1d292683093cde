import { expect } from "chai";
import { randomCheckpoint } from "../../zkllm/model/random-checkpoint";
import { evaluateQuality, headSignificance } from "../../zkllm/calibrate";

describe("zkllm/calibrate: measuring heads and quality on token sequences", () => {
  const ckpt = randomCheckpoint({
    nLayer: 2,
    nEmbd: 32,
    nHead: 4,
    vocabSize: 64,
    nPositions: 32,
    seed: 11,
    std: 0.2,
  });
  const sequences = [
    [1, 5, 9, 2, 7, 7, 3, 60, 12, 4],
    [8, 8, 1, 30, 22, 5, 17, 2],
  ];

  it("S(h) of each layer sums to 1, and a head that writes nothing (zero W_O rows) scores 0", async () => {
    const silenced = structuredClone(ckpt);
    const hd = 8;
    silenced.weights.layers[1]!.attnProjWeight.fill(0, 2 * hd * 32, 3 * hd * 32); // head 2 of layer 1
    const scores = await headSignificance(silenced, sequences);
    for (const layer of scores) expect(layer.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-9);
    expect(scores[1]![2]).to.equal(0);
    expect(scores[0]!.every((s) => s > 0)).to.equal(true);
  });

  it("with nothing squeezed, agreement is 100 % and perplexity is unchanged", async () => {
    const report = await evaluateQuality(ckpt, sequences, { fuse: true });
    expect(report.top1Agreement).to.equal(1);
    expect(report.perplexity).to.be.closeTo(report.baselinePerplexity, 1e-9);
    expect(report.positions).to.equal(16);
  });

  it("coarse quantization changes predictions more than fine quantization", async () => {
    const fine = await evaluateQuality(ckpt, sequences, {
      fuse: true,
      session: { quantize: { threshold: 0.1, alpha: 0.5, levels: 4096 } },
    });
    const coarse = await evaluateQuality(ckpt, sequences, {
      fuse: true,
      session: { quantize: { threshold: 0.1, alpha: 0.5, levels: 3 } },
    });
    expect(fine.top1Agreement).to.be.at.least(coarse.top1Agreement);
    expect(Math.abs(fine.perplexity - fine.baselinePerplexity)).to.be.below(
      Math.abs(coarse.perplexity - coarse.baselinePerplexity),
    );
  });
});
