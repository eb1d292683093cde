/**
 * Hugging Face GPT-2 checkpoints (config.json + model.safetensors) ⇄ typed weights.
 *
 * Conv1D layout throughout: a projection weight is [in, out] row-major, so y = x·W + b.
 * Pure: the files' contents in, typed weights out (reading and writing directories: ./files.ts).
 */
import { z } from "zod";
import { type F32Tensor, SafetensorsFile } from "./safetensors";

export class CheckpointError extends Error {
  override name = "CheckpointError";
}

const positiveInt = z.number().int().positive();

/** The config.json fields the forward pass depends on; anything that would change the maths is pinned. */
export const gpt2ConfigSchema = z
  .object({
    model_type: z.literal("gpt2").default("gpt2"),
    vocab_size: positiveInt,
    n_positions: positiveInt,
    n_embd: positiveInt,
    n_layer: positiveInt,
    n_head: positiveInt,
    n_inner: z.union([positiveInt, z.null()]).default(null),
    layer_norm_epsilon: z.number().positive().default(1e-5),
    activation_function: z.enum(["gelu_new", "gelu_pytorch_tanh"]).default("gelu_new"),
    scale_attn_weights: z.literal(true).default(true),
    scale_attn_by_inverse_layer_idx: z.literal(false).default(false),
    tie_word_embeddings: z.boolean().default(true),
    bos_token_id: z.number().int().nonnegative().optional(),
    eos_token_id: z.number().int().nonnegative().optional(),
  })
  .refine((c) => c.n_embd % c.n_head === 0, { message: "n_embd must be divisible by n_head" });

export type Gpt2Config = z.output<typeof gpt2ConfigSchema>;

export interface Gpt2LayerWeights {
  ln1Weight: Float32Array; // [d]
  ln1Bias: Float32Array; // [d]
  attnWeight: Float32Array; // [d, 3d]: q | k | v columns
  attnBias: Float32Array; // [3d]
  attnProjWeight: Float32Array; // [d, d]
  attnProjBias: Float32Array; // [d]
  ln2Weight: Float32Array;
  ln2Bias: Float32Array;
  fcWeight: Float32Array; // [d, inner]
  fcBias: Float32Array; // [inner]
  fcProjWeight: Float32Array; // [inner, d]
  fcProjBias: Float32Array; // [d]
}

export interface Gpt2Weights {
  wte: Float32Array; // [vocab, d]
  wpe: Float32Array; // [n_positions, d]
  layers: Gpt2LayerWeights[];
  lnFWeight: Float32Array;
  lnFBias: Float32Array;
  /** [vocab, d]; absent when tied to wte (GPT-2's default). */
  lmHead?: Float32Array;
}

export interface Gpt2Checkpoint {
  config: Gpt2Config;
  weights: Gpt2Weights;
}

export function innerDim(config: Gpt2Config): number {
  return config.n_inner ?? 4 * config.n_embd;
}

export function parseGpt2Config(json: unknown): Gpt2Config {
  const r = gpt2ConfigSchema.safeParse(json);
  if (!r.success)
    throw new CheckpointError(`config.json is not a supported GPT-2 config:\n${z.prettifyError(r.error)}`);
  return r.data;
}

/** Hugging Face buffers that are not weights (the causal mask and its fill value). */
const IGNORED = /^(transformer\.)?h\.\d+\.attn\.(bias|masked_bias)$/;

const LAYER_FIELDS: ReadonlyArray<[keyof Gpt2LayerWeights, string, (c: Gpt2Config) => number[]]> = [
  ["ln1Weight", "ln_1.weight", (c) => [c.n_embd]],
  ["ln1Bias", "ln_1.bias", (c) => [c.n_embd]],
  ["attnWeight", "attn.c_attn.weight", (c) => [c.n_embd, 3 * c.n_embd]],
  ["attnBias", "attn.c_attn.bias", (c) => [3 * c.n_embd]],
  ["attnProjWeight", "attn.c_proj.weight", (c) => [c.n_embd, c.n_embd]],
  ["attnProjBias", "attn.c_proj.bias", (c) => [c.n_embd]],
  ["ln2Weight", "ln_2.weight", (c) => [c.n_embd]],
  ["ln2Bias", "ln_2.bias", (c) => [c.n_embd]],
  ["fcWeight", "mlp.c_fc.weight", (c) => [c.n_embd, innerDim(c)]],
  ["fcBias", "mlp.c_fc.bias", (c) => [innerDim(c)]],
  ["fcProjWeight", "mlp.c_proj.weight", (c) => [innerDim(c), c.n_embd]],
  ["fcProjBias", "mlp.c_proj.bias", (c) => [c.n_embd]],
];

/** Source of named float tensors: a parsed safetensors file or an in-memory map. */
export interface TensorSource {
  names(): Iterable<string>;
  get(name: string): F32Tensor;
}

export function safetensorsSource(file: SafetensorsFile): TensorSource {
  return { names: () => file.tensors.keys(), get: (n) => file.getF32(n) };
}

export function mapSource(map: ReadonlyMap<string, F32Tensor>): TensorSource {
  return {
    names: () => map.keys(),
    get: (n) => {
      const t = map.get(n);
      if (!t) throw new CheckpointError(`no tensor named "${n}"`);
      return t;
    },
  };
}

/**
 * Builds typed weights from HF tensor names. Accepts both "transformer.h.0…" (GPT2LMHeadModel)
 * and bare "h.0…" (GPT2Model, as the hub's gpt2 safetensors are saved) names.
 */
export function checkpointFromTensors(config: Gpt2Config, source: TensorSource): Gpt2Checkpoint {
  const names = new Set(source.names());
  const prefix = names.has("transformer.wte.weight") ? "transformer." : names.has("wte.weight") ? "" : null;
  if (prefix === null)
    throw new CheckpointError("no transformer.wte.weight (or wte.weight) tensor: not a GPT-2 checkpoint");
  const used = new Set<string>();
  const take = (name: string, shape: number[]): Float32Array => {
    if (!names.has(name)) throw new CheckpointError(`missing tensor "${name}"`);
    const t = source.get(name);
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
      throw new CheckpointError(
        `tensor "${name}" has shape [${t.shape.join(",")}], expected [${shape.join(",")}]`,
      );
    }
    used.add(name);
    return t.data;
  };
  const c = config;
  const weights: Gpt2Weights = {
    wte: take(`${prefix}wte.weight`, [c.vocab_size, c.n_embd]),
    wpe: take(`${prefix}wpe.weight`, [c.n_positions, c.n_embd]),
    layers: [],
    lnFWeight: take(`${prefix}ln_f.weight`, [c.n_embd]),
    lnFBias: take(`${prefix}ln_f.bias`, [c.n_embd]),
  };
  for (let i = 0; i < c.n_layer; i++) {
    const layer: Partial<Gpt2LayerWeights> = {};
    for (const [field, suffix, shape] of LAYER_FIELDS)
      layer[field] = take(`${prefix}h.${i}.${suffix}`, shape(c));
    weights.layers.push(layer as Gpt2LayerWeights);
  }
  if (names.has("lm_head.weight")) {
    const head = take("lm_head.weight", [c.vocab_size, c.n_embd]);
    // A tied checkpoint may still store a copy of wte; only keep it if it actually differs.
    if (!c.tie_word_embeddings || !sameValues(head, weights.wte)) weights.lmHead = head;
  } else if (!c.tie_word_embeddings) {
    throw new CheckpointError("tie_word_embeddings is false but there is no lm_head.weight");
  }
  const extra = [...names].filter((n) => !used.has(n) && !IGNORED.test(n));
  if (extra.length > 0) {
    const shown = extra.slice(0, 5).join(", ");
    throw new CheckpointError(
      `unexpected tensors for a ${c.n_layer}-layer GPT-2: ${shown}${extra.length > 5 ? ", …" : ""}`,
    );
  }
  return { config, weights };
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** HF tensor names (GPT2LMHeadModel, "transformer." prefix) for writing a checkpoint. */
export function checkpointToTensors(ckpt: Gpt2Checkpoint): Map<string, F32Tensor> {
  const c = ckpt.config;
  const w = ckpt.weights;
  const out = new Map<string, F32Tensor>();
  out.set("transformer.wte.weight", { shape: [c.vocab_size, c.n_embd], data: w.wte });
  out.set("transformer.wpe.weight", { shape: [c.n_positions, c.n_embd], data: w.wpe });
  w.layers.forEach((layer, i) => {
    for (const [field, suffix, shape] of LAYER_FIELDS) {
      out.set(`transformer.h.${i}.${suffix}`, { shape: shape(c), data: layer[field] });
    }
  });
  out.set("transformer.ln_f.weight", { shape: [c.n_embd], data: w.lnFWeight });
  out.set("transformer.ln_f.bias", { shape: [c.n_embd], data: w.lnFBias });
  if (w.lmHead) out.set("lm_head.weight", { shape: [c.vocab_size, c.n_embd], data: w.lmHead });
  return out;
}

/** Parses config.json's text, with the error a reader can act on. */
export function parseGpt2ConfigText(text: string, name = "config.json"): Gpt2Config {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${name} is not JSON: ${(e as Error).message}`);
  }
  return parseGpt2Config(json);
}

/** A checkpoint from its config and the bytes of its model.safetensors. */
export function checkpointFromBytes(config: Gpt2Config, safetensors: Uint8Array): Gpt2Checkpoint {
  return checkpointFromTensors(config, safetensorsSource(SafetensorsFile.parse(safetensors)));
}
