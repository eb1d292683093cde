/**
 * Builds the ONNX graph of a GPT-2 checkpoint (opset 17) with onnx-proto:
 * input_ids int64 [1, T] → logits float [1, T, vocab], T ≤ n_positions.
 *
 * Only plain opset-17 operators are used (LayerNormalization, MatMul, Softmax, the tanh GELU
 * written out), so any onnxruntime build, CPU or CUDA, runs it. The graph recomputes the whole
 * sequence on every call; incremental decoding lives in forward.ts.
 */
import fs from "node:fs";
import { onnx } from "onnx-proto";
import { type Gpt2Checkpoint, innerDim } from "./checkpoint";

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;
export const INPUT_NAME = "input_ids";
export const OUTPUT_NAME = "logits";

/** Additive causal mask value; large enough that exp() underflows to exactly 0 in float32. */
const MASK_VALUE = -1e9;

const { FLOAT, INT64 } = onnx.TensorProto.DataType;
const ATTR = onnx.AttributeProto.AttributeType;

/** INT, INTS or FLOAT attribute values (FLOAT is boxed so `1` is not mistaken for an INT). */
type Attr = number | number[] | { float: number };

class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private counter = 0;

  floatTensor(name: string, dims: number[], data: Float32Array): string {
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: raw });
    return name;
  }

  int64Tensor(name: string, dims: number[], values: number[]): string {
    const raw = new Uint8Array(8 * values.length);
    const view = new DataView(raw.buffer);
    values.forEach((v, i) => view.setBigInt64(8 * i, BigInt(v), true));
    this.initializers.push({ name, dims, dataType: INT64, rawData: raw });
    return name;
  }

  scalar(name: string, value: number): string {
    return this.floatTensor(name, [], new Float32Array([value]));
  }

  /** Adds a node and returns its output names. */
  nodeN(
    op: string,
    inputs: string[],
    outputs: number | string[],
    attrs: Record<string, Attr> = {},
    name?: string,
  ): string[] {
    const id = this.counter++;
    const nodeName = name ?? `${op}_${id}`;
    const outs =
      typeof outputs === "number"
        ? Array.from({ length: outputs }, (_, i) => `${nodeName}_out${i}`)
        : outputs;
    const attribute: onnx.IAttributeProto[] = Object.entries(attrs).map(([key, v]) => {
      if (typeof v === "number") return { name: key, type: ATTR.INT, i: v };
      if (Array.isArray(v)) return { name: key, type: ATTR.INTS, ints: v };
      return { name: key, type: ATTR.FLOAT, f: v.float };
    });
    this.nodes.push({ opType: op, name: nodeName, input: inputs, output: outs, attribute });
    return outs;
  }

  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, name?: string): string {
    return this.nodeN(op, inputs, 1, attrs, name)[0]!;
  }
}

export interface OnnxExportOptions {
  /** Stored in the model's doc_string and metadata. */
  modelName?: string;
}

/** Builds the ModelProto; pure (no I/O). The weights are referenced, not copied, until encoding. */
export function buildGpt2Onnx(ckpt: Gpt2Checkpoint, options: OnnxExportOptions = {}): onnx.IModelProto {
  const c = ckpt.config;
  const w = ckpt.weights;
  const d = c.n_embd;
  const nHead = c.n_head;
  const hd = d / nHead;
  const eps = c.layer_norm_epsilon;
  const g = new GraphBuilder();

  const wte = g.floatTensor("transformer.wte.weight", [c.vocab_size, d], w.wte);
  const wpe = g.floatTensor("transformer.wpe.weight", [c.n_positions, d], w.wpe);
  const mask = new Float32Array(c.n_positions * c.n_positions);
  for (let i = 0; i < c.n_positions; i++)
    for (let j = i + 1; j < c.n_positions; j++) mask[i * c.n_positions + j] = MASK_VALUE;
  const causal = g.floatTensor("causal_mask", [c.n_positions, c.n_positions], mask);
  const zero1 = g.int64Tensor("const_zero_1", [1], [0]);
  const zero2 = g.int64Tensor("const_zero_2", [2], [0, 0]);
  const axis0 = g.int64Tensor("const_axis_0", [1], [0]);
  const axes01 = g.int64Tensor("const_axes_01", [2], [0, 1]);
  const split3 = g.int64Tensor("const_split_qkv", [3], [d, d, d]);
  const headsShape = g.int64Tensor("const_heads_shape", [4], [0, 0, nHead, hd]);
  const mergeShape = g.int64Tensor("const_merge_shape", [3], [0, 0, d]);
  const attnScale = g.scalar("const_attn_scale", 1 / Math.sqrt(hd));
  const half = g.scalar("const_half", 0.5);
  const one = g.scalar("const_one", 1);
  const geluA = g.scalar("const_gelu_a", 0.044715);
  const geluC = g.scalar("const_gelu_c", Math.sqrt(2 / Math.PI));

  // T as a 1-element tensor, used to slice the position table and the mask.
  const seqLen = g.node("Shape", [INPUT_NAME], { start: 1, end: 2 }, "seq_len");
  const seqLen2 = g.node("Concat", [seqLen, seqLen], { axis: 0 }, "seq_len_2");
  const positions = g.node("Slice", [wpe, zero1, seqLen, axis0], {}, "positions");
  const maskTT = g.node("Slice", [causal, zero2, seqLen2, axes01], {}, "mask_tt");
  const tokens = g.node("Gather", [wte, INPUT_NAME], { axis: 0 }, "token_embeddings");
  let x = g.node("Add", [tokens, positions], {}, "embeddings");

  const linear = (
    input: string,
    weight: Float32Array,
    bias: Float32Array,
    nIn: number,
    nOut: number,
    name: string,
  ) => {
    const W = g.floatTensor(`${name}.weight`, [nIn, nOut], weight);
    const B = g.floatTensor(`${name}.bias`, [nOut], bias);
    return g.node("Add", [g.node("MatMul", [input, W]), B]);
  };
  const layerNorm = (input: string, weight: Float32Array, bias: Float32Array, name: string) => {
    const W = g.floatTensor(`${name}.weight`, [d], weight);
    const B = g.floatTensor(`${name}.bias`, [d], bias);
    return g.node("LayerNormalization", [input, W, B], { axis: -1, epsilon: { float: eps } }, name);
  };

  w.layers.forEach((layer, l) => {
    const p = `transformer.h.${l}`;
    const h = layerNorm(x, layer.ln1Weight, layer.ln1Bias, `${p}.ln_1`);
    const qkv = linear(h, layer.attnWeight, layer.attnBias, d, 3 * d, `${p}.attn.c_attn`);
    const [q, k, v] = g.nodeN("Split", [qkv, split3], 3, { axis: 2 });
    const heads = (t: string, perm: number[]) =>
      g.node("Transpose", [g.node("Reshape", [t, headsShape])], { perm });
    const qh = heads(q!, [0, 2, 1, 3]); // [1, H, T, hd]
    const kt = heads(k!, [0, 2, 3, 1]); // [1, H, hd, T]
    const vh = heads(v!, [0, 2, 1, 3]);
    const scores = g.node("Add", [g.node("Mul", [g.node("MatMul", [qh, kt]), attnScale]), maskTT]);
    const probs = g.node("Softmax", [scores], { axis: -1 });
    const ctx = g.node("Reshape", [
      g.node("Transpose", [g.node("MatMul", [probs, vh])], { perm: [0, 2, 1, 3] }),
      mergeShape,
    ]);
    x = g.node("Add", [x, linear(ctx, layer.attnProjWeight, layer.attnProjBias, d, d, `${p}.attn.c_proj`)]);

    const h2 = layerNorm(x, layer.ln2Weight, layer.ln2Bias, `${p}.ln_2`);
    const inner = innerDim(c);
    const f = linear(h2, layer.fcWeight, layer.fcBias, d, inner, `${p}.mlp.c_fc`);
    // gelu_new(f) = 0.5 f (1 + tanh(√(2/π) (f + 0.044715 f³)))
    const cube = g.node("Mul", [f, g.node("Mul", [f, f])]);
    const inner1 = g.node("Mul", [geluC, g.node("Add", [f, g.node("Mul", [geluA, cube])])]);
    const gelu = g.node("Mul", [g.node("Mul", [half, f]), g.node("Add", [one, g.node("Tanh", [inner1])])]);
    x = g.node("Add", [x, linear(gelu, layer.fcProjWeight, layer.fcProjBias, inner, d, `${p}.mlp.c_proj`)]);
  });

  const final = layerNorm(x, w.lnFWeight, w.lnFBias, "transformer.ln_f");
  // Tied head: transpose wte inside the graph (constant-folded at load) rather than storing it twice.
  const headT = w.lmHead
    ? g.node("Transpose", [g.floatTensor("lm_head.weight", [c.vocab_size, d], w.lmHead)], { perm: [1, 0] })
    : g.node("Transpose", [wte], { perm: [1, 0] }, "lm_head_tied");
  g.nodeN("MatMul", [final, headT], [OUTPUT_NAME], {}, "lm_head");

  const seqDim = { dimParam: "sequence" };
  return {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    producerName: "basedai-zkllm",
    producerVersion: "1",
    docString: `GPT-2 (${c.n_layer} layers, d=${d}, ${nHead} heads, vocab ${c.vocab_size}, context ${c.n_positions})`,
    metadataProps: [
      { key: "model_name", value: options.modelName ?? "gpt2" },
      { key: "n_positions", value: String(c.n_positions) },
      { key: "vocab_size", value: String(c.vocab_size) },
    ],
    graph: {
      name: options.modelName ?? "gpt2",
      node: g.nodes,
      initializer: g.initializers,
      input: [
        {
          name: INPUT_NAME,
          type: { tensorType: { elemType: INT64, shape: { dim: [{ dimValue: 1 }, seqDim] } } },
        },
      ],
      output: [
        {
          name: OUTPUT_NAME,
          type: {
            tensorType: {
              elemType: FLOAT,
              shape: { dim: [{ dimValue: 1 }, seqDim, { dimValue: c.vocab_size }] },
            },
          },
        },
      ],
    },
  };
}

/** Serialises to the .onnx protobuf bytes (deterministic: same checkpoint, same bytes). */
export function encodeOnnx(model: onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

export function exportGpt2Onnx(
  ckpt: Gpt2Checkpoint,
  file: string,
  options: OnnxExportOptions = {},
): Uint8Array {
  const bytes = encodeOnnx(buildGpt2Onnx(ckpt, options));
  fs.writeFileSync(file, bytes);
  return bytes;
}
