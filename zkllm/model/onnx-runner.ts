/**
 * Runs an exported GPT-2 graph (onnx-export.ts) with onnxruntime-node: the "plain mode" a miner
 * uses when a brain turns ZK off (docs/architecture.md §5).
 */
import fs from "node:fs";
import * as ort from "onnxruntime-node";
import type { LogitsSource } from "./greedy";
import { INPUT_NAME, OUTPUT_NAME } from "./onnx-export";

export type ExecutionProvider = "cuda" | "cpu";

export interface GpuProbe {
  /** Whether an NVIDIA driver is visible to this process. */
  gpuPresent: boolean;
  /** Whether this onnxruntime-node build ships the CUDA provider's libraries. */
  cudaBundled: boolean;
}

/** Looks for a GPU without loading anything that could crash on a machine without one. */
export function probeGpu(): GpuProbe {
  const gpuPresent = fs.existsSync("/proc/driver/nvidia/version") || fs.existsSync("/dev/nvidiactl");
  let cudaBundled = false;
  try {
    cudaBundled = ort.listSupportedBackends().some((b) => b.name === "cuda" && b.bundled);
  } catch {
    cudaBundled = false;
  }
  return { gpuPresent, cudaBundled };
}

/** Pure choice: CUDA first (with CPU as fallback for unsupported nodes) only where a GPU exists. */
export function chooseExecutionProviders(probe: GpuProbe): ExecutionProvider[] {
  return probe.gpuPresent ? ["cuda", "cpu"] : ["cpu"];
}

export interface OnnxRunnerOptions {
  executionProviders?: ExecutionProvider[];
  /** Upper bound on sequence length (the model's n_positions); generation stops there. */
  maxPositions?: number;
  intraOpThreads?: number;
}

export class OnnxGpt2Runner {
  private constructor(
    private readonly session: ort.InferenceSession,
    /** The providers the session actually runs with (CUDA may have fallen back to CPU). */
    readonly executionProviders: ExecutionProvider[],
    readonly maxPositions: number,
    /** Why CUDA was not used, when it was asked for and failed. */
    readonly fallbackReason?: string,
  ) {}

  static async create(model: string | Uint8Array, options: OnnxRunnerOptions = {}): Promise<OnnxGpt2Runner> {
    const wanted = options.executionProviders ?? chooseExecutionProviders(probeGpu());
    const base: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: "all",
      ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
    };
    const open = (eps: ExecutionProvider[]) =>
      typeof model === "string"
        ? ort.InferenceSession.create(model, { ...base, executionProviders: eps })
        : ort.InferenceSession.create(model, { ...base, executionProviders: eps });
    let session: ort.InferenceSession;
    let used = wanted;
    let fallbackReason: string | undefined;
    try {
      session = await open(wanted);
    } catch (e) {
      // The CUDA provider's libraries are a separate download that offline installs skip.
      if (!wanted.includes("cuda")) throw e;
      fallbackReason = (e as Error).message;
      used = ["cpu"];
      session = await open(used);
    }
    if (!session.inputNames.includes(INPUT_NAME) || !session.outputNames.includes(OUTPUT_NAME)) {
      await session.release();
      throw new Error(
        `not a GPT-2 graph from onnx-export: expects input "${INPUT_NAME}" and output "${OUTPUT_NAME}"`,
      );
    }
    const maxPositions = options.maxPositions ?? Number.MAX_SAFE_INTEGER;
    return new OnnxGpt2Runner(session, used, maxPositions, fallbackReason);
  }

  /** Logits [T, vocab] (row-major) for every position. */
  async logits(ids: ReadonlyArray<number>): Promise<{ data: Float32Array; vocab: number }> {
    if (ids.length === 0) throw new RangeError("need at least one token");
    if (ids.length > this.maxPositions)
      throw new RangeError(`${ids.length} tokens exceed ${this.maxPositions} positions`);
    const input = new ort.Tensor(
      "int64",
      BigInt64Array.from(ids, (i) => BigInt(i)),
      [1, ids.length],
    );
    const out = await this.session.run({ [INPUT_NAME]: input });
    const logits = out[OUTPUT_NAME];
    if (!logits) throw new Error(`session produced no "${OUTPUT_NAME}"`);
    const vocab = logits.dims[2]!;
    const data = logits.data as Float32Array;
    // Copy out so the result does not alias onnxruntime's output buffer.
    const copy = Float32Array.from(data);
    for (const t of Object.values(out)) t.dispose();
    input.dispose();
    return { data: copy, vocab };
  }

  /**
   * A fresh sequence for the greedy loop (model/greedy.ts): every step recomputes the whole
   * sequence (there is no KV cache in the exported graph), and decoding stops once prompt and
   * answer fill `maxPositions`, as forward.ts's `generate` does.
   */
  source(): LogitsSource {
    const ids: number[] = [];
    return {
      maxSequence: this.maxPositions,
      step: async (next) => {
        ids.push(...next);
        const { data, vocab } = await this.logits(ids);
        return data.subarray((ids.length - 1) * vocab, ids.length * vocab);
      },
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
