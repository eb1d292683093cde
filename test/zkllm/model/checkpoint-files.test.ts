import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { CheckpointError, type Gpt2Checkpoint, checkpointToTensors } from "../../../zkllm/model/checkpoint";
import { Gpt2Forward } from "../../../zkllm/model/forward";
import {
  SHARD_INDEX_FILE,
  loadCheckpoint,
  readSafetensorsFile,
  saveCheckpoint,
  shardFileName,
  writeNormalizedCheckpoint,
  writeSafetensorsFile,
} from "../../../zkllm/model/files";
import { randomCheckpoint, writeRandomCheckpoint } from "../../../zkllm/model/random-checkpoint";
import { floatToBfloat16, floatToHalf, serializeSafetensors } from "../../../zkllm/model/safetensors";
import {
  ENDOFTEXT,
  buildTokenizerJson,
  bytesToUnicode,
  loadTokenizer,
  mergesText,
  vocabJsonText,
} from "../../../zkllm/tokenizer";
import { maxAbsDiff } from "./helpers";

const SHAPE = { nLayer: 2, nEmbd: 32, nHead: 2, vocabSize: 300, nPositions: 16, seed: 11 };

function sha256(file: string): string {
  return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
}

/** Every float32 weight, in a fixed order, for comparing checkpoints. */
function allWeights(ckpt: Gpt2Checkpoint): Float32Array {
  const w = ckpt.weights;
  const parts = [w.wte, w.wpe, w.lnFWeight, w.lnFBias, ...w.layers.flatMap((l) => Object.values(l))];
  if (w.lmHead) parts.push(w.lmHead);
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Bit-for-bit equality (chai's deep equality walks typed arrays element by element, slowly). */
function expectSameWeights(a: Gpt2Checkpoint, b: Gpt2Checkpoint): void {
  const [x, y] = [allWeights(a), allWeights(b)];
  expect(Buffer.from(x.buffer).equals(Buffer.from(y.buffer)), "same weights").to.equal(true);
}

describe("zkllm/model/files: Hugging Face checkpoint directories", () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ckpt-files-"));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe("sharded safetensors", () => {
    it("saves shards and an index as save_pretrained does, and loads them back exactly", () => {
      const ckpt = writeRandomCheckpoint(tmp, { ...SHAPE, untiedHead: true }, { shards: 3 });
      const names = fs.readdirSync(tmp).sort();
      expect(names).to.deep.equal([
        "config.json",
        "model-00001-of-00003.safetensors",
        "model-00002-of-00003.safetensors",
        "model-00003-of-00003.safetensors",
        SHARD_INDEX_FILE,
      ]);
      const index = readJson(path.join(tmp, SHARD_INDEX_FILE)) as {
        metadata: { total_size: number };
        weight_map: Record<string, string>;
      };
      expect(index.weight_map["transformer.wte.weight"]).to.equal(shardFileName(1, 3));
      expect(index.weight_map["lm_head.weight"]).to.equal(shardFileName(3, 3));
      expect(Object.keys(index.weight_map)).to.have.length(4 + 2 * 12 + 1);
      expect(index.metadata.total_size).to.equal(4 * allWeights(ckpt).length);
      for (let i = 1; i <= 3; i++) {
        expect(readSafetensorsFile(path.join(tmp, shardFileName(i, 3))).tensors.size).to.be.greaterThan(0);
      }
      const back = loadCheckpoint(tmp);
      expect(back.config).to.deep.equal(ckpt.config);
      expectSameWeights(back, ckpt);
    });

    it("prefers model.safetensors when a directory holds both layouts", () => {
      const sharded = randomCheckpoint(SHAPE);
      saveCheckpoint(tmp, sharded, { shards: 2 });
      const other = randomCheckpoint({ ...SHAPE, seed: 12 });
      writeSafetensorsFile(path.join(tmp, "model.safetensors"), checkpointToTensors(other));
      expectSameWeights(loadCheckpoint(tmp), other);
    });

    it("removes the other layout's weights when saving, so a stale file cannot shadow new ones", () => {
      saveCheckpoint(tmp, randomCheckpoint(SHAPE));
      saveCheckpoint(tmp, randomCheckpoint({ ...SHAPE, seed: 5 }), { shards: 2 });
      expect(fs.existsSync(path.join(tmp, "model.safetensors"))).to.equal(false);
      saveCheckpoint(tmp, randomCheckpoint(SHAPE));
      expect(fs.existsSync(path.join(tmp, SHARD_INDEX_FILE))).to.equal(false);
    });

    describe("refuses broken indexes, naming the file", () => {
      const index = () => path.join(tmp, SHARD_INDEX_FILE);
      const edit = (f: (ix: { weight_map: Record<string, string> }) => void) => {
        const ix = readJson(index()) as { weight_map: Record<string, string> };
        f(ix);
        fs.writeFileSync(index(), JSON.stringify(ix));
      };
      beforeEach(() => writeRandomCheckpoint(tmp, SHAPE, { shards: 2 }));

      it("a missing shard", () => {
        fs.rmSync(path.join(tmp, shardFileName(2, 2)));
        expect(() => loadCheckpoint(tmp)).to.throw(
          CheckpointError,
          /model-00002-of-00002\.safetensors.*does not exist/,
        );
      });

      it("a tensor the map names but its shard lacks", () => {
        edit((ix) => (ix.weight_map["transformer.h.9.ln_1.weight"] = shardFileName(1, 2)));
        expect(() => loadCheckpoint(tmp)).to.throw(
          CheckpointError,
          /maps tensor "transformer\.h\.9\.ln_1\.weight" to model-00001-of-00002\.safetensors.*does not hold it/,
        );
      });

      it("a tensor mapped to one shard but stored in another", () => {
        edit((ix) => (ix.weight_map["transformer.wte.weight"] = shardFileName(2, 2)));
        expect(() => loadCheckpoint(tmp)).to.throw(
          CheckpointError,
          /holds tensor "transformer\.wte\.weight"/,
        );
      });

      it("a tensor stored in two shards", () => {
        const [first, second] = [1, 2].map((i) => path.join(tmp, shardFileName(i, 2)));
        const a = readSafetensorsFile(first!);
        const b = readSafetensorsFile(second!);
        const merged = new Map([...b.tensors.keys()].map((n) => [n, b.getF32(n)]));
        merged.set("transformer.wte.weight", a.getF32("transformer.wte.weight"));
        writeSafetensorsFile(second!, merged);
        expect(() => loadCheckpoint(tmp)).to.throw(
          CheckpointError,
          /"transformer\.wte\.weight" is stored twice/,
        );
      });

      it("a tensor in a shard that the map does not list", () => {
        edit((ix) => delete ix.weight_map["transformer.ln_f.bias"]);
        expect(() => loadCheckpoint(tmp)).to.throw(CheckpointError, /does not list/);
      });

      it("a shard path that escapes the directory", () => {
        const outside = path.join(tmp, "..", `${path.basename(tmp)}-outside.safetensors`);
        edit((ix) => (ix.weight_map["transformer.wte.weight"] = `../${path.basename(outside)}`));
        expect(() => loadCheckpoint(tmp)).to.throw(CheckpointError, /lies outside/);
        edit((ix) => (ix.weight_map["transformer.wte.weight"] = "/etc/passwd"));
        expect(() => loadCheckpoint(tmp)).to.throw(CheckpointError, /lies outside/);
      });

      it("an index that is not JSON or not an index", () => {
        fs.writeFileSync(index(), "{");
        expect(() => loadCheckpoint(tmp)).to.throw(
          CheckpointError,
          /model\.safetensors\.index\.json is not JSON/,
        );
        fs.writeFileSync(index(), JSON.stringify({ weight_map: { a: 3 } }));
        expect(() => loadCheckpoint(tmp)).to.throw(CheckpointError, /not a safetensors shard index/);
        fs.writeFileSync(index(), JSON.stringify({ metadata: {}, weight_map: {} }));
        expect(() => loadCheckpoint(tmp)).to.throw(CheckpointError, /weight_map is empty/);
      });

      it("a corrupt shard", () => {
        fs.writeFileSync(path.join(tmp, shardFileName(1, 2)), Buffer.alloc(4));
        expect(() => loadCheckpoint(tmp)).to.throw(
          CheckpointError,
          /model-00001-of-00002\.safetensors: file too short/,
        );
      });
    });

    it("names pytorch_model.bin when it is all there is", () => {
      saveCheckpoint(tmp, randomCheckpoint(SHAPE));
      fs.rmSync(path.join(tmp, "model.safetensors"));
      expect(() => loadCheckpoint(tmp)).to.throw(CheckpointError, /only safetensors/);
      fs.writeFileSync(path.join(tmp, "pytorch_model.bin"), "");
      expect(() => loadCheckpoint(tmp)).to.throw(CheckpointError, /pytorch_model\.bin is not read/);
    });
  });

  describe("half precision", () => {
    it("rounds to nearest even, keeps subnormals, and overflows to infinity", () => {
      expect(floatToHalf(1)).to.equal(0x3c00);
      expect(floatToHalf(-2)).to.equal(0xc000);
      expect(floatToHalf(65504)).to.equal(0x7bff);
      expect(floatToHalf(65520)).to.equal(0x7c00);
      expect(floatToHalf(2 ** -24)).to.equal(1);
      expect(floatToHalf(2 ** -26)).to.equal(0);
      expect(floatToHalf(1 + 2 ** -11)).to.equal(0x3c00); // tie, to even
      expect(floatToHalf(1 + 3 * 2 ** -11)).to.equal(0x3c02); // tie, to even (up)
      expect(floatToHalf(NaN) & 0x7c00).to.equal(0x7c00);
      expect(floatToBfloat16(1)).to.equal(0x3f80);
      expect(floatToBfloat16(-1.5)).to.equal(0xbfc0);
      expect(floatToBfloat16(1 + 2 ** -8)).to.equal(0x3f80);
      expect(floatToBfloat16(1 + 3 * 2 ** -8)).to.equal(0x3f82);
    });

    for (const [dtype, bits] of [
      ["F16", 11],
      ["BF16", 8],
    ] as const) {
      it(`loads ${dtype} checkpoints (single and sharded) as float32 within ${dtype}'s precision`, () => {
        const ckpt = randomCheckpoint(SHAPE);
        for (const shards of [1, 2]) {
          saveCheckpoint(tmp, ckpt, { dtype, shards });
          expect(readJson(path.join(tmp, "config.json")).torch_dtype).to.equal(
            dtype === "F16" ? "float16" : "bfloat16",
          );
          const [a, b] = [allWeights(loadCheckpoint(tmp)), allWeights(ckpt)];
          let worst = 0;
          for (let i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (Math.abs(b[i]!) * 2 ** -bits + 2 ** -24));
          }
          expect(worst, "error in units of half an ulp").to.be.at.most(1);
          expect(worst, "really rounded").to.be.greaterThan(0);
        }
      });
    }

    it("refuses a weight stored as an integer dtype, naming the file and the tensor", () => {
      const ckpt = randomCheckpoint(SHAPE);
      saveCheckpoint(tmp, ckpt);
      const file = path.join(tmp, "model.safetensors");
      const st = readSafetensorsFile(file);
      const bytes = serializeSafetensors(new Map([...st.tensors.keys()].map((n) => [n, st.getF32(n)])));
      // Relabel one F32 tensor as I32 (same width, so the file stays well-formed).
      const headerLen = Number(Buffer.from(bytes).readBigUInt64LE(0));
      const header = Buffer.from(bytes.subarray(8, 8 + headerLen)).toString("utf8");
      const relabelled = header.replace(/("transformer\.ln_f\.bias":\{"dtype":)"F32"/, '$1"I32"');
      expect(relabelled).not.to.equal(header);
      fs.writeFileSync(
        file,
        Buffer.concat([bytes.subarray(0, 8), Buffer.from(relabelled), bytes.subarray(8 + headerLen)]),
      );
      expect(() => loadCheckpoint(tmp)).to.throw(
        CheckpointError,
        /model\.safetensors: tensor "transformer\.ln_f\.bias" has dtype I32/,
      );
    });
  });

  it("loads a 1,024-position GPT-2 config (n_positions and n_ctx) and runs a full-length context", () => {
    const ckpt = randomCheckpoint({ ...SHAPE, nPositions: 1024 });
    saveCheckpoint(tmp, ckpt);
    const configPath = path.join(tmp, "config.json");
    fs.writeFileSync(configPath, JSON.stringify({ ...readJson(configPath), n_ctx: 1024 }));
    const back = loadCheckpoint(tmp);
    expect(back.config.n_positions).to.equal(1024);
    expect(back.weights.wpe.length).to.equal(1024 * SHAPE.nEmbd);
    const ids = Array.from({ length: 1024 }, (_, i) => (i * 7) % SHAPE.vocabSize);
    const model = new Gpt2Forward(back);
    const logits = model.forward(ids);
    expect(logits.length).to.equal(1024 * SHAPE.vocabSize);
    expect(maxAbsDiff(logits, new Gpt2Forward(ckpt).forward(ids))).to.equal(0);
    expect(() => model.forward([...ids, 0])).to.throw(RangeError, /exceed the model's n_positions \(1024\)/);
  });

  describe("writeNormalizedCheckpoint", () => {
    const out = () => path.join(tmp, "out");
    const hf = () => path.join(tmp, "hf");

    it("copies a single float32 checkpoint byte for byte, with its tokenizer and optional files", () => {
      writeRandomCheckpoint(hf(), SHAPE);
      writeTinyTokenizer(hf());
      fs.writeFileSync(path.join(hf(), "generation_config.json"), '{"max_length": 50}\n');
      fs.writeFileSync(path.join(hf(), "tokenizer_config.json"), '{"model_max_length": 1024}\n');
      fs.writeFileSync(path.join(hf(), "README.md"), "not copied");
      const r = writeNormalizedCheckpoint(hf(), out());
      expect(r.files).to.deep.equal([
        "config.json",
        "model.safetensors",
        "vocab.json",
        "merges.txt",
        "tokenizer_config.json",
        "generation_config.json",
      ]);
      expect(fs.readdirSync(out()).sort()).to.deep.equal([...r.files].sort());
      for (const f of r.files) expect(sha256(path.join(out(), f)), f).to.equal(sha256(path.join(hf(), f)));
      expect(r.weightsSha256).to.equal(sha256(path.join(hf(), "model.safetensors")));
    });

    it("re-serializes sharded half-precision weights as one float32 file, and derives vocab.json + merges.txt", () => {
      writeRandomCheckpoint(hf(), SHAPE, { shards: 2, dtype: "F16" });
      writeTinyTokenizer(hf(), true);
      const r = writeNormalizedCheckpoint(hf(), out());
      expect(r.files).to.deep.equal(["config.json", "model.safetensors", "vocab.json", "merges.txt"]);
      expect(r.weightsSha256).to.equal(sha256(path.join(out(), "model.safetensors")));
      const st = readSafetensorsFile(path.join(out(), "model.safetensors"));
      expect([...st.tensors.values()].every((t) => t.dtype === "F32")).to.equal(true);
      expectSameWeights(loadCheckpoint(out()), loadCheckpoint(hf()));
      expect(fs.readFileSync(path.join(out(), "config.json"), "utf8")).to.equal(
        fs.readFileSync(path.join(hf(), "config.json"), "utf8"),
      );
      expect(loadTokenizer(out()).encode("hello")).to.deep.equal(loadTokenizer(hf()).encode("hello"));
    });

    it("skips the tokenizer when the checkpoint has none", () => {
      writeRandomCheckpoint(hf(), SHAPE);
      expect(writeNormalizedCheckpoint(hf(), out()).files).to.deep.equal([
        "config.json",
        "model.safetensors",
      ]);
    });

    it("in place, writes only what is missing and touches no input", () => {
      writeRandomCheckpoint(hf(), SHAPE, { shards: 2 });
      writeTinyTokenizer(hf(), true);
      const before = new Map(fs.readdirSync(hf()).map((f) => [f, sha256(path.join(hf(), f))]));
      const r = writeNormalizedCheckpoint(hf(), path.join(hf(), "."));
      for (const [f, h] of before) expect(sha256(path.join(hf(), f)), f).to.equal(h);
      expect(
        fs
          .readdirSync(hf())
          .filter((f) => !before.has(f))
          .sort(),
      ).to.deep.equal(["merges.txt", "model.safetensors", "vocab.json"]);
      expect(r.weightsSha256).to.equal(sha256(path.join(hf(), "model.safetensors")));
      // A second run finds everything there and writes nothing.
      const again = writeNormalizedCheckpoint(hf(), hf());
      expect(again).to.deep.equal(r);
    });

    it("writes nothing for a checkpoint or tokenizer that does not load", () => {
      writeRandomCheckpoint(hf(), SHAPE, { shards: 2 });
      fs.rmSync(path.join(hf(), shardFileName(1, 2)));
      expect(() => writeNormalizedCheckpoint(hf(), out())).to.throw(CheckpointError, /does not exist/);
      expect(fs.existsSync(out())).to.equal(false);
      writeRandomCheckpoint(hf(), SHAPE);
      fs.writeFileSync(path.join(hf(), "vocab.json"), "{}");
      expect(() => writeNormalizedCheckpoint(hf(), out())).to.throw(/has vocab\.json but no merges\.txt/);
      expect(fs.existsSync(out())).to.equal(false);
    });

    it("refuses a tokenizer with more tokens than the model's vocab_size", () => {
      writeRandomCheckpoint(hf(), { ...SHAPE, vocabSize: 100 });
      writeTinyTokenizer(hf());
      expect(() => writeNormalizedCheckpoint(hf(), out())).to.throw(
        CheckpointError,
        /261 tokens but .*vocab_size is 100/,
      );
    });
  });
});

/** The 256 byte tokens, four merges and <|endoftext|>: 261 tokens, as vocab.json + merges.txt or tokenizer.json. */
function writeTinyTokenizer(dir: string, asTokenizerJson = false): void {
  const tokens = [...bytesToUnicode()];
  const merges: Array<[string, string]> = [
    ["h", "e"],
    ["l", "l"],
    ["he", "ll"],
    ["hell", "o"],
  ];
  for (const [a, b] of merges) tokens.push(a + b);
  tokens.push(ENDOFTEXT);
  if (asTokenizerJson) {
    fs.writeFileSync(path.join(dir, "tokenizer.json"), buildTokenizerJson(tokens, merges));
  } else {
    fs.writeFileSync(path.join(dir, "vocab.json"), vocabJsonText(tokens.map((t, i) => [t, i] as const)));
    fs.writeFileSync(path.join(dir, "merges.txt"), mergesText(merges));
  }
}
