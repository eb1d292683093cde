import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { Tiktoken } from "js-tiktoken/lite";
import gpt2Ranks from "js-tiktoken/ranks/gpt2";
import { loadCheckpoint, readSafetensorsFile, writeNormalizedCheckpoint } from "../../../zkllm/model/files";
import { Gpt2Forward } from "../../../zkllm/model/forward";
import { GPT2_SMALL_SHAPE, writeRandomCheckpoint } from "../../../zkllm/model/random-checkpoint";
import { loadTokenizer } from "../../../zkllm/tokenizer";
import { writeGpt2Tokenizer } from "../../../zkllm/tokenizer/gpt2-vocab";

/**
 * A GPT-2-small-shaped checkpoint (124M parameters, 1,024 positions, GPT-2's vocabulary) saved
 * the way recent transformers versions save one: half precision, sharded, tokenizer.json only.
 */
describe("zkllm/model: a GPT-2-small-shaped Hugging Face directory, end to end", function () {
  this.timeout(300_000);
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gpt2-small-"));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("normalizes to one float32 file and vocab.json + merges.txt that load and agree", () => {
    const hf = path.join(tmp, "hf");
    const out = path.join(tmp, "out");
    writeRandomCheckpoint(hf, { ...GPT2_SMALL_SHAPE, seed: 2019 }, { shards: 3, dtype: "F16" });
    writeGpt2Tokenizer(hf, { format: "tokenizer.json", merges: "pairs" });
    const fromHf = loadCheckpoint(hf);

    const r = writeNormalizedCheckpoint(hf, out);
    expect(r.files).to.deep.equal(["config.json", "model.safetensors", "vocab.json", "merges.txt"]);
    const st = readSafetensorsFile(path.join(out, "model.safetensors"));
    expect(new Set([...st.tensors.values()].map((t) => t.dtype))).to.deep.equal(new Set(["F32"]));

    const ckpt = loadCheckpoint(out);
    expect(ckpt.config).to.include({
      n_layer: 12,
      n_embd: 768,
      n_head: 12,
      vocab_size: 50_257,
      n_positions: 1024,
    });
    expect(Buffer.from(ckpt.weights.wte.buffer).equals(Buffer.from(fromHf.weights.wte.buffer))).to.equal(
      true,
    );

    const tokenizer = loadTokenizer(out);
    expect(tokenizer.vocabSize).to.equal(ckpt.config.vocab_size);
    const text = "The President of the United States said that";
    const ids = tokenizer.encode(text);
    expect(ids).to.deep.equal(new Tiktoken(gpt2Ranks).encode(text));
    const logits = new Gpt2Forward(ckpt).forward(ids);
    expect(logits.length).to.equal(ids.length * 50_257);
    expect(logits.every(Number.isFinite)).to.equal(true);
  });
});
