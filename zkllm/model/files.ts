/**
 * Checkpoints on disk (node-only): Hugging Face GPT-2 directories and safetensors files, read and
 * written through the pure parsers of ./checkpoint.ts and ./safetensors.ts.
 *
 * A directory holds config.json and its weights either as one model.safetensors or, as
 * `save_pretrained` writes models above its shard size, as model.safetensors.index.json plus the
 * shards its weight_map names. Hugging Face never writes both; where both exist (a directory
 * normalized in place, see writeNormalizedCheckpoint) the single file wins, because it is the
 * one written last. Tensors may be stored as F32, F16, BF16 or F64 and load as float32;
 * pytorch_model.bin is not read (unpickling runs code).
 *
 * Shard names are checked lexically to stay inside the directory, not through realpath: the
 * Hugging Face cache's snapshot directories are symbolic links into ../../blobs.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { Gpt2Tokenizer, readTokenizerTexts, tokenizerFilesIn } from "../tokenizer";
import {
  CheckpointError,
  type Gpt2Checkpoint,
  type Gpt2Config,
  type TensorSource,
  checkpointFromTensors,
  checkpointToTensors,
  parseGpt2ConfigText,
} from "./checkpoint";
import {
  type F32Tensor,
  type SerializeOptions,
  SafetensorsError,
  SafetensorsFile,
  type StoredFloatDType,
  serializeSafetensors,
} from "./safetensors";

export const CONFIG_FILE = "config.json";
export const WEIGHTS_FILE = "model.safetensors";
export const SHARD_INDEX_FILE = "model.safetensors.index.json";

export function readSafetensorsFile(file: string): SafetensorsFile {
  return SafetensorsFile.parse(fs.readFileSync(file));
}

export function writeSafetensorsFile(
  file: string,
  tensors: ReadonlyMap<string, F32Tensor> | Readonly<Record<string, F32Tensor>>,
  metadata?: Readonly<Record<string, string>>,
  options?: SerializeOptions,
): void {
  fs.writeFileSync(file, serializeSafetensors(tensors, metadata, options));
}

const shardIndexSchema = z.object({
  metadata: z.record(z.string(), z.unknown()).optional(),
  weight_map: z.record(z.string(), z.string().min(1)),
});

/** A checkpoint directory's tensors, wherever they are stored. */
export interface CheckpointTensors {
  layout: "single" | "sharded";
  /** The weight files read, relative to the directory (the index first when sharded). */
  files: string[];
  /** Every stored tensor's dtype, by name (the unused ones too). */
  dtypes: ReadonlyMap<string, string>;
  source: TensorSource;
}

/** Errors that already name their file, so that loadCheckpoint does not name another. */
const located = new WeakSet<Error>();

function locatedError(file: string, message: string): CheckpointError {
  const e = new CheckpointError(`${file}: ${message}`);
  located.add(e);
  return e;
}

function parseSafetensorsAt(file: string): SafetensorsFile {
  try {
    return readSafetensorsFile(file);
  } catch (e) {
    if (e instanceof SafetensorsError) throw locatedError(file, e.message);
    throw e;
  }
}

function sourceOf(fileOf: ReadonlyMap<string, { path: string; file: SafetensorsFile }>): TensorSource {
  return {
    names: () => fileOf.keys(),
    get: (name) => {
      const at = fileOf.get(name);
      if (!at) throw new CheckpointError(`no tensor named "${name}"`);
      try {
        return at.file.getF32(name);
      } catch (e) {
        // Named after the file, since a sharded checkpoint's reader would not know where to look.
        if (e instanceof SafetensorsError) throw locatedError(at.path, e.message);
        throw e;
      }
    },
  };
}

function readShardIndex(dir: string, indexPath: string): CheckpointTensors {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(indexPath, "utf8"));
  } catch (e) {
    throw new CheckpointError(`${indexPath} is not JSON: ${(e as Error).message}`);
  }
  const parsed = shardIndexSchema.safeParse(json);
  if (!parsed.success) {
    throw new CheckpointError(
      `${indexPath} is not a safetensors shard index:\n${z.prettifyError(parsed.error)}`,
    );
  }
  const weightMap = parsed.data.weight_map;
  if (Object.keys(weightMap).length === 0) throw new CheckpointError(`${indexPath}: weight_map is empty`);
  const root = path.resolve(dir);
  // Shards by their path relative to the directory, so "./a" and "a" are one shard.
  const shardOf = new Map<string, string>();
  const shardPaths = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    const full = path.resolve(root, shard);
    const rel = path.relative(root, full);
    if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) {
      throw new CheckpointError(
        `${indexPath}: tensor "${tensor}" is mapped to "${shard}", which lies outside ${dir}`,
      );
    }
    shardOf.set(tensor, rel);
    if (!shardPaths.has(rel)) {
      if (!fs.existsSync(full)) {
        throw new CheckpointError(`${indexPath} names the shard ${shard}, but ${full} does not exist`);
      }
      shardPaths.set(rel, full);
    }
  }
  const fileOf = new Map<string, { path: string; file: SafetensorsFile }>();
  const dtypes = new Map<string, string>();
  const rels = [...shardPaths.keys()].sort();
  for (const rel of rels) {
    const shard = { path: shardPaths.get(rel)!, file: parseSafetensorsAt(shardPaths.get(rel)!) };
    for (const [name, info] of shard.file.tensors) {
      const earlier = fileOf.get(name);
      if (earlier) {
        throw new CheckpointError(
          `tensor "${name}" is stored twice: in ${earlier.path} and in ${shard.path}`,
        );
      }
      const mapped = shardOf.get(name);
      if (mapped !== rel) {
        // An unmapped tensor would load or be skipped depending on the reader: refuse it.
        throw new CheckpointError(
          `${shard.path} holds tensor "${name}", which ${indexPath} ` +
            (mapped === undefined ? "does not list" : `maps to ${mapped}`),
        );
      }
      fileOf.set(name, shard);
      dtypes.set(name, info.dtype);
    }
  }
  for (const [tensor, rel] of shardOf) {
    if (!fileOf.has(tensor)) {
      throw new CheckpointError(
        `${indexPath} maps tensor "${tensor}" to ${rel}, but ${path.join(dir, rel)} does not hold it`,
      );
    }
  }
  return { layout: "sharded", files: [SHARD_INDEX_FILE, ...rels], dtypes, source: sourceOf(fileOf) };
}

/** Which weights layout a directory holds (model.safetensors wins), or why it holds none. */
function weightsLayout(dir: string): "single" | "sharded" {
  if (fs.existsSync(path.join(dir, WEIGHTS_FILE))) return "single";
  if (fs.existsSync(path.join(dir, SHARD_INDEX_FILE))) return "sharded";
  const bin = fs.existsSync(path.join(dir, "pytorch_model.bin"))
    ? "; pytorch_model.bin is not read: save the model with safe_serialization=True"
    : " (only safetensors checkpoints are supported)";
  throw new CheckpointError(`${path.join(dir, WEIGHTS_FILE)} does not exist, nor ${SHARD_INDEX_FILE}${bin}`);
}

/** Opens the weights of a checkpoint directory: model.safetensors, else the shard index. */
export function openCheckpointTensors(dir: string): CheckpointTensors {
  if (weightsLayout(dir) === "single") {
    const single = path.join(dir, WEIGHTS_FILE);
    const file = parseSafetensorsAt(single);
    const at = { path: single, file };
    const fileOf = new Map([...file.tensors.keys()].map((n) => [n, at]));
    const dtypes = new Map([...file.tensors].map(([n, t]) => [n, t.dtype as string]));
    return { layout: "single", files: [WEIGHTS_FILE], dtypes, source: sourceOf(fileOf) };
  }
  return readShardIndex(dir, path.join(dir, SHARD_INDEX_FILE));
}

/** Reads config.json, after checking that weights exist: a directory's missing parts come first. */
export function readCheckpointConfig(dir: string): Gpt2Config {
  const configPath = path.join(dir, CONFIG_FILE);
  if (!fs.existsSync(configPath)) throw new CheckpointError(`${configPath} does not exist`);
  weightsLayout(dir);
  return parseGpt2ConfigText(fs.readFileSync(configPath, "utf8"), configPath);
}

function checkpointFrom(dir: string, config: Gpt2Config, tensors: CheckpointTensors): Gpt2Checkpoint {
  try {
    return checkpointFromTensors(config, tensors.source);
  } catch (e) {
    if (e instanceof CheckpointError && !located.has(e)) {
      throw locatedError(path.join(dir, tensors.files[0]!), e.message);
    }
    throw e;
  }
}

/**
 * Loads a Hugging Face GPT-2 directory: config.json + model.safetensors, or + the shards of
 * model.safetensors.index.json.
 */
export function loadCheckpoint(dir: string): Gpt2Checkpoint {
  const config = readCheckpointConfig(dir);
  return checkpointFrom(dir, config, openCheckpointTensors(dir));
}

export interface SaveCheckpointOptions {
  /** Split the weights over this many shards plus an index, as save_pretrained does (default 1: one file). */
  shards?: number;
  /** Storage dtype (default F32); config.json's torch_dtype follows it. */
  dtype?: StoredFloatDType;
}

const TORCH_DTYPE: Record<StoredFloatDType, string> = { F32: "float32", F16: "float16", BF16: "bfloat16" };

export function shardFileName(i: number, n: number): string {
  const pad = (k: number) => String(k).padStart(5, "0");
  return `model-${pad(i)}-of-${pad(n)}.safetensors`;
}

/**
 * Writes config.json + model.safetensors (or shards + index) in Hugging Face layout. The other
 * layout's weights, if present, are removed: the reader prefers the single file, so a stale
 * one would shadow fresh shards.
 */
export function saveCheckpoint(dir: string, ckpt: Gpt2Checkpoint, options: SaveCheckpointOptions = {}): void {
  const dtype = options.dtype ?? "F32";
  const n = options.shards ?? 1;
  fs.mkdirSync(dir, { recursive: true });
  const config = { architectures: ["GPT2LMHeadModel"], ...ckpt.config, torch_dtype: TORCH_DTYPE[dtype] };
  fs.writeFileSync(path.join(dir, CONFIG_FILE), JSON.stringify(config, null, 2) + "\n");
  const tensors = checkpointToTensors(ckpt);
  if (n === 1) {
    fs.rmSync(path.join(dir, SHARD_INDEX_FILE), { force: true });
    writeSafetensorsFile(path.join(dir, WEIGHTS_FILE), tensors, { format: "pt" }, { dtype });
    return;
  }
  const entries = [...tensors];
  if (!Number.isInteger(n) || n < 1 || n > entries.length) {
    throw new CheckpointError(`cannot split ${entries.length} tensors into ${n} shards`);
  }
  fs.rmSync(path.join(dir, WEIGHTS_FILE), { force: true });
  const elementBytes = dtype === "F32" ? 4 : 2;
  const totalSize = entries.reduce((s, [, t]) => s + elementBytes * t.data.length, 0);
  // Contiguous runs of about equal size in the state dict's order, as save_pretrained's size cap
  // yields, each shard at least one tensor.
  const weightMap: Record<string, string> = {};
  let start = 0;
  let done = 0;
  for (let i = 1; i <= n; i++) {
    const target = (totalSize * i) / n;
    let end = start + 1;
    done += elementBytes * entries[start]![1].data.length;
    while (end < entries.length - (n - i) && done < target) {
      done += elementBytes * entries[end]![1].data.length;
      end++;
    }
    if (i === n) end = entries.length;
    const name = shardFileName(i, n);
    const shard = new Map(entries.slice(start, end));
    writeSafetensorsFile(path.join(dir, name), shard, { format: "pt" }, { dtype });
    for (const tensor of shard.keys()) weightMap[tensor] = name;
    start = end;
  }
  const sorted = Object.fromEntries(
    Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  const index = { metadata: { total_size: totalSize }, weight_map: sorted };
  fs.writeFileSync(path.join(dir, SHARD_INDEX_FILE), JSON.stringify(index, null, 2) + "\n");
}

/** sha256 (hex) of a file, read in chunks so a multi-gigabyte checkpoint needs no buffer of its size. */
export function sha256OfFile(file: string): string {
  const hash = crypto.createHash("sha256");
  const fd = fs.openSync(file, "r");
  try {
    const chunk = Buffer.alloc(1 << 22);
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}

/** Files copied as they are when present: generation settings the engine does not read but keeps. */
const OPTIONAL_COPIED = ["tokenizer_config.json", "generation_config.json"];

export interface NormalizedCheckpoint {
  /** The directory's normalized files (written, or in place already there), relative to it. */
  files: string[];
  /** sha256 (hex) of outDir's model.safetensors. */
  weightsSha256: string;
}

/**
 * Writes the one layout the rest of the engine reads into outDir: config.json (as is), one
 * float32 model.safetensors, vocab.json + merges.txt (when the checkpoint has a tokenizer), and
 * tokenizer_config.json / generation_config.json when present. model.safetensors is copied byte
 * for byte when it already is one all-F32 file, so its sha256 (the plan's modelSha256) is the
 * input's; otherwise (shards, half precision) the tensors are re-serialized as float32 under
 * GPT2LMHeadModel names, without Hugging Face's attention-mask buffers. The checkpoint and the
 * tokenizer are validated first, so nothing is written for a directory the engine cannot load.
 *
 * When outDir is hfDir only missing files are written, never an input: an existing
 * model.safetensors stays as it is (every reader converts half precision on load), and written
 * beside shards it takes precedence over them.
 */
export function writeNormalizedCheckpoint(hfDir: string, outDir: string): NormalizedCheckpoint {
  const config = readCheckpointConfig(hfDir);
  const tensors = openCheckpointTensors(hfDir);
  const ckpt = checkpointFrom(hfDir, config, tensors);
  const tokenizer = tokenizerFilesIn(hfDir).length > 0 ? readTokenizerTexts(hfDir) : undefined;
  if (tokenizer) {
    const tok = Gpt2Tokenizer.fromText(tokenizer.vocab, tokenizer.merges);
    if (tok.vocabSize > config.vocab_size) {
      throw new CheckpointError(
        `${hfDir}: the tokenizer has ${tok.vocabSize} tokens but config.json's vocab_size is ${config.vocab_size}`,
      );
    }
  }

  const inPlace = path.resolve(hfDir) === path.resolve(outDir);
  fs.mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  // Through a temporary name, so an interrupted run leaves no half-written file behind.
  const put = (name: string, write: (target: string) => void): void => {
    const target = path.join(outDir, name);
    files.push(name);
    if (inPlace && fs.existsSync(target)) return;
    const tmp = `${target}.${process.pid}.tmp`;
    try {
      write(tmp);
      fs.renameSync(tmp, target);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  };
  const copy = (name: string) => put(name, (to) => fs.copyFileSync(path.join(hfDir, name), to));

  copy(CONFIG_FILE);
  const allF32 = [...tensors.dtypes.values()].every((d) => d === "F32");
  if (tensors.layout === "single" && allF32) copy(WEIGHTS_FILE);
  else put(WEIGHTS_FILE, (to) => writeSafetensorsFile(to, checkpointToTensors(ckpt), { format: "pt" }));
  if (tokenizer) {
    // readTokenizerTexts read either both files or neither (tokenizer.json).
    const slow = fs.existsSync(path.join(hfDir, "vocab.json"));
    for (const [name, text] of [
      ["vocab.json", tokenizer.vocab],
      ["merges.txt", tokenizer.merges],
    ] as const) {
      if (slow) copy(name);
      else put(name, (to) => fs.writeFileSync(to, text));
    }
  }
  for (const name of OPTIONAL_COPIED) if (fs.existsSync(path.join(hfDir, name))) copy(name);
  return { files, weightsSha256: sha256OfFile(path.join(outDir, WEIGHTS_FILE)) };
}
