/**
 * Seeded random GPT-2 checkpoints of any shape, so converter tests can exercise a
 * GPT-2-small-shaped model (12 layers, d=768, 12 heads) without downloading one.
 */
import {
  type Gpt2Checkpoint,
  type Gpt2Config,
  type Gpt2LayerWeights,
  innerDim,
  parseGpt2Config,
} from "./checkpoint";
import { type SaveCheckpointOptions, saveCheckpoint } from "./files";
import { createRng } from "./forward";

export interface RandomCheckpointShape {
  nLayer: number;
  nEmbd: number;
  nHead: number;
  vocabSize: number;
  nPositions: number;
  seed: number;
  /** Standard deviation of the projection weights (GPT-2 initialises with 0.02). */
  std?: number;
  /** Store an untied lm_head.weight. */
  untiedHead?: boolean;
}

/** GPT-2 small's shape (124M parameters; the vocabulary of ../tokenizer/gpt2-vocab.ts), less the seed. */
export const GPT2_SMALL_SHAPE = {
  nLayer: 12,
  nEmbd: 768,
  nHead: 12,
  vocabSize: 50_257,
  nPositions: 1024,
} as const satisfies Omit<RandomCheckpointShape, "seed">;

export function randomCheckpoint(shape: RandomCheckpointShape): Gpt2Checkpoint {
  const config: Gpt2Config = parseGpt2Config({
    model_type: "gpt2",
    vocab_size: shape.vocabSize,
    n_positions: shape.nPositions,
    n_embd: shape.nEmbd,
    n_layer: shape.nLayer,
    n_head: shape.nHead,
    activation_function: "gelu_new",
    layer_norm_epsilon: 1e-5,
    tie_word_embeddings: !shape.untiedHead,
    bos_token_id: shape.vocabSize - 1,
    eos_token_id: shape.vocabSize - 1,
  });
  const rng = createRng(shape.seed);
  const std = shape.std ?? 0.02;
  // Box–Muller on the seeded uniform source.
  const normal = (n: number, scale: number, mean = 0): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - rng()));
      const a = 2 * Math.PI * rng();
      out[i] = mean + scale * r * Math.cos(a);
      if (i + 1 < n) out[i + 1] = mean + scale * r * Math.sin(a);
    }
    return out;
  };
  const d = config.n_embd;
  const inner = innerDim(config);
  const layers: Gpt2LayerWeights[] = [];
  for (let l = 0; l < config.n_layer; l++) {
    layers.push({
      // Non-trivial LayerNorm affines and biases, so a converter that drops them is caught.
      ln1Weight: normal(d, 0.1, 1),
      ln1Bias: normal(d, 0.05),
      attnWeight: normal(d * 3 * d, std),
      attnBias: normal(3 * d, std),
      attnProjWeight: normal(d * d, std),
      attnProjBias: normal(d, std),
      ln2Weight: normal(d, 0.1, 1),
      ln2Bias: normal(d, 0.05),
      fcWeight: normal(d * inner, std),
      fcBias: normal(inner, std),
      fcProjWeight: normal(inner * d, std),
      fcProjBias: normal(d, std),
    });
  }
  return {
    config,
    weights: {
      wte: normal(config.vocab_size * d, std),
      wpe: normal(config.n_positions * d, std / 2),
      layers,
      lnFWeight: normal(d, 0.1, 1),
      lnFBias: normal(d, 0.05),
      ...(shape.untiedHead ? { lmHead: normal(config.vocab_size * d, std) } : {}),
    },
  };
}

/**
 * Writes a random checkpoint in Hugging Face layout: config.json + model.safetensors, or sharded
 * and in half precision as `options` asks.
 */
export function writeRandomCheckpoint(
  dir: string,
  shape: RandomCheckpointShape,
  options: SaveCheckpointOptions = {},
): Gpt2Checkpoint {
  const ckpt = randomCheckpoint(shape);
  saveCheckpoint(dir, ckpt, options);
  return ckpt;
}
