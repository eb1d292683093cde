/**
 * Checkpoints on disk (node-only): Hugging Face GPT-2 directories (config.json +
 * model.safetensors) and safetensors files, read and written through the pure parsers of
 * ./checkpoint.ts and ./safetensors.ts.
 */
import fs from "node:fs";
import path from "node:path";
import {
  CheckpointError,
  type Gpt2Checkpoint,
  checkpointFromBytes,
  checkpointToTensors,
  parseGpt2ConfigText,
} from "./checkpoint";
import { type F32Tensor, SafetensorsFile, serializeSafetensors } from "./safetensors";

export function readSafetensorsFile(file: string): SafetensorsFile {
  return SafetensorsFile.parse(fs.readFileSync(file));
}

export function writeSafetensorsFile(
  file: string,
  tensors: ReadonlyMap<string, F32Tensor> | Readonly<Record<string, F32Tensor>>,
  metadata?: Readonly<Record<string, string>>,
): void {
  fs.writeFileSync(file, serializeSafetensors(tensors, metadata));
}

/** Loads a Hugging Face GPT-2 directory: config.json + model.safetensors. */
export function loadCheckpoint(dir: string): Gpt2Checkpoint {
  const configPath = path.join(dir, "config.json");
  const weightsPath = path.join(dir, "model.safetensors");
  if (!fs.existsSync(configPath)) throw new CheckpointError(`${configPath} does not exist`);
  if (!fs.existsSync(weightsPath)) {
    throw new CheckpointError(`${weightsPath} does not exist (only safetensors checkpoints are supported)`);
  }
  const config = parseGpt2ConfigText(fs.readFileSync(configPath, "utf8"), configPath);
  return checkpointFromBytes(config, fs.readFileSync(weightsPath));
}

/** Writes config.json + model.safetensors in Hugging Face layout. */
export function saveCheckpoint(dir: string, ckpt: Gpt2Checkpoint): void {
  fs.mkdirSync(dir, { recursive: true });
  const config = { architectures: ["GPT2LMHeadModel"], ...ckpt.config, torch_dtype: "float32" };
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config, null, 2) + "\n");
  writeSafetensorsFile(path.join(dir, "model.safetensors"), checkpointToTensors(ckpt), { format: "pt" });
}
