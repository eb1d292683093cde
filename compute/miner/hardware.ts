/**
 * What a miner declares when it registers (docs/architecture.md §3: "Miners declare GPU/CPU and storage") and
 * which onnxruntime execution providers its plain-mode inference uses (§5: CUDA where a GPU
 * exists, CPU otherwise). Detection only looks: it never loads a GPU library, so it cannot crash
 * on a machine without one.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import { type ExecutionProvider, chooseExecutionProviders } from "../../zkllm/evaluator";

export type Hardware = {
  device: "gpu" | "cpu";
  /** For logs: the GPU(s) or the CPU model, and the execution providers. */
  detail: string;
  cores: number;
  memoryBytes: number;
  /** onnxruntime execution providers plain-mode inference asks for, in order. */
  executionProviders: ExecutionProvider[];
};

/** How detection looks at the machine (injectable so the GPU branch can be tested without one). */
export type HardwareProbe = {
  exists(file: string): boolean;
  /** `nvidia-smi -L`'s output, or undefined when it is missing, fails or hangs. */
  nvidiaSmi(): string | undefined;
};

/** How long `nvidia-smi -L` may take: a wedged driver must not hold up the miner's start. */
const NVIDIA_SMI_TIMEOUT_MS = 3_000;

export const systemProbe: HardwareProbe = {
  exists: (file) => fs.existsSync(file),
  nvidiaSmi() {
    try {
      const r = spawnSync("nvidia-smi", ["-L"], {
        timeout: NVIDIA_SMI_TIMEOUT_MS,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      });
      return r.status === 0 && r.stdout.trim() !== "" ? r.stdout : undefined;
    } catch {
      return undefined;
    }
  },
};

/** GPU when an NVIDIA device is present (/dev/nvidia0, or `nvidia-smi -L` succeeds); CPU otherwise. */
export function detectHardware(probe: HardwareProbe = systemProbe): Hardware {
  const cores = os.availableParallelism();
  const memoryBytes = os.totalmem();
  const smi = probe.nvidiaSmi();
  const gpu = probe.exists("/dev/nvidia0") || smi !== undefined;
  const executionProviders = chooseExecutionProviders({ gpuPresent: gpu, cudaBundled: false });
  const eps = `onnxruntime: ${executionProviders.join(", ")}`;
  if (gpu) {
    // `nvidia-smi -L` prints "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-…)"; keep the names.
    const names = (smi ?? "")
      .split("\n")
      .map((l) => /^GPU \d+: (.*?)(?: \(UUID:.*)?$/.exec(l.trim())?.[1])
      .filter((n): n is string => n !== undefined);
    const what = names.length > 0 ? names.join("; ") : "NVIDIA GPU (/dev/nvidia0)";
    return { device: "gpu", detail: `${what} (${eps})`, cores, memoryBytes, executionProviders };
  }
  const cpu = os.cpus()[0]?.model.trim() || os.arch();
  return {
    device: "cpu",
    detail: `${cpu} × ${cores} (${eps})`,
    cores,
    memoryBytes,
    executionProviders,
  };
}
