import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import {
  CheckpointError,
  checkpointFromTensors,
  checkpointToTensors,
  mapSource,
  parseGpt2Config,
} from "../../../zkllm/model/checkpoint";
import { loadCheckpoint, saveCheckpoint } from "../../../zkllm/model/files";
import { randomCheckpoint } from "../../../zkllm/model/random-checkpoint";
import { type F32Tensor } from "../../../zkllm/model/safetensors";
import { SHIPPED_MODEL_DIR } from "./helpers";

describe("zkllm/model/checkpoint", () => {
  const shape = { nLayer: 2, nEmbd: 16, nHead: 2, vocabSize: 40, nPositions: 12, seed: 3 };

  it("loads the shipped model with the declared shapes", () => {
    const ckpt = loadCheckpoint(SHIPPED_MODEL_DIR);
    const c = ckpt.config;
    expect(c.n_layer).to.be.greaterThanOrEqual(2);
    expect(c.n_embd).to.be.greaterThanOrEqual(128);
    expect(c.n_head).to.be.greaterThanOrEqual(4);
    expect(ckpt.weights.layers).to.have.length(c.n_layer);
    expect(ckpt.weights.wte.length).to.equal(c.vocab_size * c.n_embd);
    expect(ckpt.weights.layers[0]!.attnWeight.length).to.equal(3 * c.n_embd * c.n_embd);
    expect(ckpt.weights.lmHead, "tied head").to.equal(undefined);
  });

  it("round-trips a random checkpoint through the Hugging Face layout on disk", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ckpt-"));
    try {
      const ckpt = randomCheckpoint({ ...shape, untiedHead: true });
      saveCheckpoint(dir, ckpt);
      const back = loadCheckpoint(dir);
      expect(back.config).to.deep.equal(ckpt.config);
      expect(back.weights.lmHead).to.deep.equal(ckpt.weights.lmHead);
      expect(back.weights.layers[1]!.fcProjWeight).to.deep.equal(ckpt.weights.layers[1]!.fcProjWeight);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is seeded: the same seed gives the same weights", () => {
    expect(randomCheckpoint(shape).weights.wte).to.deep.equal(randomCheckpoint(shape).weights.wte);
    expect(randomCheckpoint(shape).weights.wte).not.to.deep.equal(
      randomCheckpoint({ ...shape, seed: 4 }).weights.wte,
    );
  });

  it("accepts bare GPT2Model names, HF's attention-mask buffers and a stored copy of the tied head", () => {
    const ckpt = randomCheckpoint(shape);
    const bare = new Map<string, F32Tensor>();
    for (const [name, t] of checkpointToTensors(ckpt)) bare.set(name.replace(/^transformer\./, ""), t);
    bare.set("h.0.attn.bias", { shape: [1, 1, 12, 12], data: new Float32Array(144) });
    bare.set("lm_head.weight", { shape: [40, 16], data: ckpt.weights.wte.slice() });
    const back = checkpointFromTensors(ckpt.config, mapSource(bare));
    expect(back.weights.lmHead).to.equal(undefined);
    expect(back.weights.layers[0]!.ln1Bias).to.deep.equal(ckpt.weights.layers[0]!.ln1Bias);
  });

  it("names missing, mis-shaped and unexpected tensors", () => {
    const ckpt = randomCheckpoint(shape);
    const tensors = checkpointToTensors(ckpt);
    const without = new Map(tensors);
    without.delete("transformer.h.1.mlp.c_fc.bias");
    expect(() => checkpointFromTensors(ckpt.config, mapSource(without))).to.throw(
      CheckpointError,
      /h\.1\.mlp\.c_fc\.bias/,
    );

    const wrong = new Map(tensors);
    wrong.set("transformer.h.0.attn.c_attn.weight", { shape: [48, 16], data: new Float32Array(768) });
    expect(() => checkpointFromTensors(ckpt.config, mapSource(wrong))).to.throw(
      CheckpointError,
      /\[48,16\], expected \[16,48\]/,
    );

    const extra = new Map(tensors);
    extra.set("transformer.h.2.ln_1.weight", { shape: [16], data: new Float32Array(16) });
    expect(() => checkpointFromTensors(ckpt.config, mapSource(extra))).to.throw(
      CheckpointError,
      /unexpected tensors/,
    );

    expect(() => checkpointFromTensors(ckpt.config, mapSource(new Map()))).to.throw(
      CheckpointError,
      /not a GPT-2/,
    );
    const untied = parseGpt2Config({ ...ckpt.config, tie_word_embeddings: false });
    expect(() => checkpointFromTensors(untied, mapSource(tensors))).to.throw(CheckpointError, /lm_head/);
  });

  it("validates config.json", () => {
    const base = { vocab_size: 10, n_positions: 8, n_embd: 16, n_layer: 1, n_head: 4 };
    const c = parseGpt2Config(base);
    expect(c.layer_norm_epsilon).to.equal(1e-5);
    expect(c.activation_function).to.equal("gelu_new");
    expect(() => parseGpt2Config({ ...base, n_head: 3 })).to.throw(CheckpointError, /divisible/);
    expect(() => parseGpt2Config({ ...base, activation_function: "relu" })).to.throw(
      CheckpointError,
      /activation_function/,
    );
    expect(() => parseGpt2Config({ ...base, model_type: "llama" })).to.throw(CheckpointError, /model_type/);
    expect(() => parseGpt2Config({ ...base, n_layer: 0 })).to.throw(CheckpointError, /n_layer/);
    expect(() => parseGpt2Config({ ...base, scale_attn_by_inverse_layer_idx: true })).to.throw(
      CheckpointError,
    );
  });

  it("reports missing files and non-JSON configs", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ckpt-bad-"));
    try {
      expect(() => loadCheckpoint(dir)).to.throw(CheckpointError, /config\.json does not exist/);
      fs.writeFileSync(path.join(dir, "config.json"), "{");
      expect(() => loadCheckpoint(dir)).to.throw(CheckpointError, /model\.safetensors does not exist/);
      fs.writeFileSync(path.join(dir, "model.safetensors"), "");
      expect(() => loadCheckpoint(dir)).to.throw(CheckpointError, /not JSON/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
