/**
 * Splits a GPT-2 checkpoint for hybrid encrypted inference (docs/architecture.md §5): the weight-bearing
 * products go to the server (they run on ciphertexts there), everything else stays with the
 * client. Cerberus Squeezing's structural stages are applied here:
 * - head selection: pruned heads lose their q/k/v columns and their rows of W_O;
 * - fusion: LayerNorm's affine folds into the next product and 1/√d_head into the query columns,
 *   so the client sends bare normalised rows and adds one fused bias.
 * Biases stay with the client: adding a plaintext vector after decryption is free, and it keeps
 * the server's product linear in its input (which the dynamic quantization's scale relies on).
 */
import type { Gpt2Checkpoint } from "../model/checkpoint";
import { innerDim } from "../model/checkpoint";
import {
  type Linear,
  foldLayerNormAffine,
  keptHeadRows,
  keptQkvColumns,
  scaleColumns,
  selectColumns,
  selectRows,
} from "../squeeze/fusion";

export type StepRole = "qkv" | "attnOut" | "mlpUp" | "mlpDown";
export const STEP_ROLES: readonly StepRole[] = ["qkv", "attnOut", "mlpUp", "mlpDown"];

/** One product the server evaluates: y = x · W (no bias), W [in, out]. */
export type ServerStep = {
  /** e.g. `L0.qkv`; the plan step id the protocol names. */
  id: string;
  layer: number;
  role: StepRole;
  inFeatures: number;
  outFeatures: number;
  weight: Float32Array;
};

export type ClientLayer = {
  /**
   * Without fusion the attention runs as the whitepaper writes it (§7.1.1): separate W_i^Q, W_i^K,
   * W_i^V products per head and one W_O slice per head, summed by the client. With fusion the
   * projections are merged into one product each.
   */
  perHead: boolean;
  /** LayerNorm affine applied by the client; absent when fused into the next product. */
  ln1?: { gamma: Float32Array; beta: Float32Array };
  ln2?: { gamma: Float32Array; beta: Float32Array };
  /** Kept head indices, ascending. */
  heads: number[];
  /** Biases the client adds after each product. */
  bias: Record<StepRole, Float32Array>;
  /** Factor on attention scores (1/√d_head, or 1 when fused into the query columns). */
  scoreScale: number;
};

export type ClientModel = {
  d: number;
  nHead: number;
  headDim: number;
  inner: number;
  vocab: number;
  nPositions: number;
  eps: number;
  wte: Float32Array;
  wpe: Float32Array;
  lnF: { gamma: Float32Array; beta: Float32Array };
  lmHead: Float32Array;
  layers: ClientLayer[];
};

export type SplitOptions = {
  /** kept[layer][head]; default every head. */
  keptHeads?: boolean[][];
  /** Merge the attention projections, and fold LayerNorm affines and the attention scale into
   *  the server's weights. */
  fuse?: boolean;
};

export type SplitModel = { client: ClientModel; server: ServerStep[] };

export function stepId(layer: number, role: StepRole): string {
  return `L${layer}.${role}`;
}

/** Per-head projections of the unfused attention. */
export const HEAD_PARTS = ["q", "k", "v"] as const;
export type HeadPart = (typeof HEAD_PARTS)[number] | "o";

/** The step of one head's projection when attention is not fused, e.g. `L0.h2.q`. */
export function headStepId(layer: number, part: HeadPart, head: number): string {
  return `L${layer}.h${head}.${part}`;
}

export function splitModel(ckpt: Gpt2Checkpoint, options: SplitOptions = {}): SplitModel {
  const c = ckpt.config;
  const d = c.n_embd;
  const hd = d / c.n_head;
  const inner = innerDim(c);
  const fuse = options.fuse ?? false;
  const server: ServerStep[] = [];
  const layers: ClientLayer[] = [];

  ckpt.weights.layers.forEach((w, l) => {
    const keptMask = options.keptHeads?.[l] ?? Array.from({ length: c.n_head }, () => true);
    if (keptMask.length !== c.n_head || !keptMask.some(Boolean)) {
      throw new RangeError(`layer ${l}: kept-head mask must have ${c.n_head} entries with at least one kept`);
    }
    const heads = keptMask.flatMap((k, h) => (k ? [h] : []));
    const dk = heads.length * hd;

    let qkv: Linear = { weight: w.attnWeight, bias: w.attnBias, inFeatures: d, outFeatures: 3 * d };
    if (fuse) {
      qkv = foldLayerNormAffine(w.ln1Weight, w.ln1Bias, qkv);
      qkv = scaleColumns(qkv, 0, d, 1 / Math.sqrt(hd));
    }
    qkv = selectColumns(qkv, keptQkvColumns(d, c.n_head, keptMask));
    const attnOut = selectRows(
      { weight: w.attnProjWeight, bias: w.attnProjBias, inFeatures: d, outFeatures: d },
      keptHeadRows(d, c.n_head, keptMask),
    );
    let mlpUp: Linear = { weight: w.fcWeight, bias: w.fcBias, inFeatures: d, outFeatures: inner };
    if (fuse) mlpUp = foldLayerNormAffine(w.ln2Weight, w.ln2Bias, mlpUp);
    const mlpDown: Linear = { weight: w.fcProjWeight, bias: w.fcProjBias, inFeatures: inner, outFeatures: d };

    const linears: Record<StepRole, Linear> = { qkv, attnOut, mlpUp, mlpDown };
    const push = (id: string, role: StepRole, lin: Linear) =>
      server.push({
        id,
        layer: l,
        role,
        inFeatures: lin.inFeatures,
        outFeatures: lin.outFeatures,
        weight: lin.weight,
      });
    for (const role of STEP_ROLES) {
      if (fuse || role === "mlpUp" || role === "mlpDown") {
        push(stepId(l, role), role, linears[role]);
        continue;
      }
      heads.forEach((h, k) => {
        const cols = (part: number) => Array.from({ length: hd }, (_, i) => part * dk + k * hd + i);
        if (role === "qkv") {
          HEAD_PARTS.forEach((part, p) => push(headStepId(l, part, h), role, selectColumns(qkv, cols(p))));
        } else {
          const rows = Array.from({ length: hd }, (_, i) => k * hd + i);
          push(headStepId(l, "o", h), role, selectRows(attnOut, rows));
        }
      });
    }
    if (qkv.outFeatures !== 3 * dk) throw new Error("internal: qkv width does not match the kept heads");
    layers.push({
      perHead: !fuse,
      ln1: fuse ? undefined : { gamma: w.ln1Weight, beta: w.ln1Bias },
      ln2: fuse ? undefined : { gamma: w.ln2Weight, beta: w.ln2Bias },
      heads,
      bias: { qkv: qkv.bias, attnOut: attnOut.bias, mlpUp: mlpUp.bias, mlpDown: mlpDown.bias },
      scoreScale: fuse ? 1 : 1 / Math.sqrt(hd),
    });
  });

  return {
    server,
    client: {
      d,
      nHead: c.n_head,
      headDim: hd,
      inner,
      vocab: c.vocab_size,
      nPositions: c.n_positions,
      eps: c.layer_norm_epsilon,
      wte: ckpt.weights.wte,
      wpe: ckpt.weights.wpe,
      lnF: { gamma: ckpt.weights.lnFWeight, beta: ckpt.weights.lnFBias },
      lmHead: ckpt.weights.lmHead ?? ckpt.weights.wte,
      layers,
    },
  };
}
