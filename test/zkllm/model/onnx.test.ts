import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { type Gpt2Checkpoint } from "../../../zkllm/model/checkpoint";
import { loadCheckpoint } from "../../../zkllm/model/files";
import { Gpt2Forward, generate } from "../../../zkllm/model/forward";
import { generateGreedy } from "../../../zkllm/model/greedy";
import { ONNX_OPSET, buildGpt2Onnx, encodeOnnx, exportGpt2Onnx } from "../../../zkllm/model/onnx-export";
import { OnnxGpt2Runner, chooseExecutionProviders, probeGpu } from "../../../zkllm/model/onnx-runner";
import { randomCheckpoint, writeRandomCheckpoint } from "../../../zkllm/model/random-checkpoint";
import { type Gpt2Tokenizer as Tokenizer, loadTokenizer } from "../../../zkllm/tokenizer";
import { PROMPTS, SHIPPED_MODEL_DIR, maxAbsDiff } from "./helpers";

async function compareLogits(ckpt: Gpt2Checkpoint, runner: OnnxGpt2Runner, ids: number[]): Promise<number> {
  const ts = new Gpt2Forward(ckpt).forward(ids);
  const { data, vocab } = await runner.logits(ids);
  expect(vocab).to.equal(ckpt.config.vocab_size);
  return maxAbsDiff(ts, data);
}

describe("zkllm/model/onnx: export and onnxruntime-node", () => {
  it("chooses CUDA only where a GPU is visible", () => {
    expect(chooseExecutionProviders({ gpuPresent: false, cudaBundled: true })).to.deep.equal(["cpu"]);
    expect(chooseExecutionProviders({ gpuPresent: true, cudaBundled: false })).to.deep.equal(["cuda", "cpu"]);
    const probe = probeGpu();
    expect(probe.gpuPresent).to.be.a("boolean");
  });

  it("builds an opset-17 graph with one int64 input and a float logits output", () => {
    const ckpt = randomCheckpoint({ nLayer: 1, nEmbd: 8, nHead: 2, vocabSize: 11, nPositions: 6, seed: 1 });
    const model = buildGpt2Onnx(ckpt);
    expect(model.opsetImport).to.deep.equal([{ domain: "", version: ONNX_OPSET }]);
    expect(model.graph!.input!.map((i) => i.name)).to.deep.equal(["input_ids"]);
    expect(model.graph!.output!.map((o) => o.name)).to.deep.equal(["logits"]);
    const ops = new Set(model.graph!.node!.map((n) => n.opType));
    for (const op of [
      "Gather",
      "LayerNormalization",
      "MatMul",
      "Softmax",
      "Tanh",
      "Split",
      "Reshape",
      "Transpose",
    ]) {
      expect(ops.has(op), op).to.equal(true);
    }
    // Deterministic bytes: the shipped model.onnx can be checked against a fresh export.
    expect(Buffer.from(encodeOnnx(model)).equals(Buffer.from(encodeOnnx(buildGpt2Onnx(ckpt))))).to.equal(
      true,
    );
  });

  describe("shipped model (zkllm/models/brain-gpt2-tiny)", () => {
    let ckpt: Gpt2Checkpoint;
    let tokenizer: Tokenizer;
    let forward: Gpt2Forward;
    let runner: OnnxGpt2Runner;

    before(async () => {
      ckpt = loadCheckpoint(SHIPPED_MODEL_DIR);
      tokenizer = loadTokenizer(SHIPPED_MODEL_DIR);
      forward = new Gpt2Forward(ckpt);
      runner = await OnnxGpt2Runner.create(path.join(SHIPPED_MODEL_DIR, "model.onnx"), {
        maxPositions: ckpt.config.n_positions,
      });
    });
    after(async () => runner?.release());

    it("ships model.onnx byte-identical to a fresh export of model.safetensors", () => {
      const shipped = fs.readFileSync(path.join(SHIPPED_MODEL_DIR, "model.onnx"));
      const fresh = encodeOnnx(buildGpt2Onnx(ckpt, { modelName: "brain-gpt2-tiny" }));
      expect(shipped.equals(Buffer.from(fresh))).to.equal(true);
    });

    it("onnxruntime logits match the TypeScript forward pass (max abs diff < 1e-3)", async () => {
      for (const text of PROMPTS.slice(0, 5)) {
        expect(await compareLogits(ckpt, runner, tokenizer.encode(text))).to.be.lessThan(1e-3);
      }
      // A full context window, where the causal mask matters most.
      const long = tokenizer.encode(PROMPTS.join(" ").repeat(3)).slice(0, ckpt.config.n_positions);
      expect(long).to.have.length(ckpt.config.n_positions);
      expect(await compareLogits(ckpt, runner, long)).to.be.lessThan(1e-3);
    });

    it("greedy generation: TypeScript (KV cache) and onnxruntime agree token for token on 20 prompts × 16", async () => {
      expect(PROMPTS).to.have.length(20);
      for (const text of PROMPTS) {
        const ids = tokenizer.encode(text);
        const ts = generate(forward, ids, { maxNewTokens: 16 });
        const ort = await generateGreedy(runner.source(), ids, { maxTokens: 16 });
        expect(ort, text).to.deep.equal(ts);
        expect(ts).to.have.length(16);
      }
    });

    it("both generators stop at the same point when the context window fills", async () => {
      const nPos = ckpt.config.n_positions;
      const prompt = tokenizer.encode(PROMPTS.join(" ").repeat(3)).slice(0, nPos - 3);
      const ts = generate(forward, prompt, { maxNewTokens: 10 });
      expect(ts).to.have.length(3);
      expect(await generateGreedy(runner.source(), prompt, { maxTokens: 10 })).to.deep.equal(ts);
    });

    it("refuses sequences longer than the context window", async () => {
      const ids = new Array<number>(ckpt.config.n_positions + 1).fill(0);
      let error: unknown;
      await runner.logits(ids).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(RangeError);
    });
  });

  describe("converter round trip on random Hugging Face checkpoints", () => {
    let dir: string;
    before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpt2-random-"))));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("small model with an untied head: HF dir → ONNX → onnxruntime equals TypeScript", async () => {
      const hfDir = path.join(dir, "small");
      writeRandomCheckpoint(hfDir, {
        nLayer: 3,
        nEmbd: 48,
        nHead: 6,
        vocabSize: 97,
        nPositions: 24,
        seed: 11,
        std: 0.2,
        untiedHead: true,
      });
      const ckpt = loadCheckpoint(hfDir);
      const onnxPath = path.join(hfDir, "model.onnx");
      exportGpt2Onnx(ckpt, onnxPath);
      const runner = await OnnxGpt2Runner.create(onnxPath, { maxPositions: 24 });
      try {
        const ids = Array.from({ length: 24 }, (_, i) => (i * 37) % 97);
        expect(await compareLogits(ckpt, runner, ids)).to.be.lessThan(1e-3);
        expect(await compareLogits(ckpt, runner, [5])).to.be.lessThan(1e-3);
      } finally {
        await runner.release();
      }
    });

    it("GPT-2-small shape (12 layers, d=768, 12 heads): HF dir → ONNX → onnxruntime equals TypeScript", async () => {
      const hfDir = path.join(dir, "gpt2-small-shaped");
      // Small vocabulary and context keep the files (~340 MB) and the test quick; every
      // per-layer tensor has GPT-2 small's exact shape.
      writeRandomCheckpoint(hfDir, {
        nLayer: 12,
        nEmbd: 768,
        nHead: 12,
        vocabSize: 1000,
        nPositions: 32,
        seed: 2024,
      });
      const ckpt = loadCheckpoint(hfDir);
      expect(ckpt.weights.layers).to.have.length(12);
      expect(ckpt.weights.layers[11]!.fcWeight.length).to.equal(768 * 3072);
      const onnxPath = path.join(hfDir, "model.onnx");
      exportGpt2Onnx(ckpt, onnxPath);
      const runner = await OnnxGpt2Runner.create(onnxPath, { maxPositions: 32 });
      try {
        expect(await compareLogits(ckpt, runner, [17, 4, 999, 256, 3])).to.be.lessThan(1e-3);
      } finally {
        await runner.release();
      }
    });
  });
});
