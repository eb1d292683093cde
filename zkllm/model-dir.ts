/**
 * Reading a converted model directory from disk (node-only): its files' contents for the client
 * door's `openModel` (zkllm/client.ts), and its checked plan for the evaluator side.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { ModelFiles } from "./model-files";
import { PLAN_FILE, type ZkllmPlan, parseZkllmPlan } from "./zkllm-plan";

const WEIGHTS_FILE = "model.safetensors";

/**
 * Reads vocab.json, merges.txt and config.json, and model.safetensors and zkllm-plan.json where
 * they exist. `weights: false` leaves the weights out: a plain-mode client needs only the
 * tokenizer and config (and without the weights the plan cannot be checked or used).
 */
export function readModelDir(dir: string, options: { weights?: boolean } = {}): ModelFiles {
  const text = (name: string) => fs.readFileSync(path.join(dir, name), "utf8");
  const files: ModelFiles = {
    vocab: text("vocab.json"),
    merges: text("merges.txt"),
    config: text("config.json"),
  };
  const weightsPath = path.join(dir, WEIGHTS_FILE);
  if (options.weights !== false && fs.existsSync(weightsPath)) {
    files.weights = fs.readFileSync(weightsPath);
    // node's native hash is several times faster than the client door's portable one.
    files.weightsSha256 = createHash("sha256").update(files.weights).digest("hex");
  }
  if (fs.existsSync(path.join(dir, PLAN_FILE))) files.plan = text(PLAN_FILE);
  return files;
}

/** Reads and validates a model directory's plan, checking it belongs to these weights. */
export function readPlan(modelDir: string): ZkllmPlan {
  const file = path.join(modelDir, PLAN_FILE);
  if (!fs.existsSync(file)) {
    throw new Error(
      `${file} does not exist: convert the checkpoint first (based model convert <hf-dir> --out <dir>)`,
    );
  }
  const weights = fs.readFileSync(path.join(modelDir, WEIGHTS_FILE));
  const sha = createHash("sha256").update(weights).digest("hex");
  return parseZkllmPlan(fs.readFileSync(file, "utf8"), sha, file);
}
