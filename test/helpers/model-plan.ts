import fs from "node:fs";
import path from "node:path";
import { tempDir } from "./processes";

export const SHIPPED_MODEL = path.resolve(__dirname, "..", "..", "zkllm", "models", "brain-gpt2-tiny");

/** The squeeze section of a zkllm-plan.json, as far as these tests change it. */
type Squeeze = {
  quantize: { threshold: number; alpha: number; levels: number; rounding?: string } | null;
  heads: {
    theta: number;
    budgetFraction: number;
    scores: number[][];
    kept: boolean[][];
    cost: number;
    fullCost: number;
  } | null;
  agreement?: number;
};

/**
 * Head selection with every head of the shipped model (2 layers × 4 heads) kept; drop some by
 * editing `kept` (the shipped plan itself has no head selection).
 */
export function withHeadSelection(squeeze: Squeeze): NonNullable<Squeeze["heads"]> {
  squeeze.heads ??= {
    theta: 0.05,
    budgetFraction: 1,
    scores: [
      [0.25, 0.25, 0.25, 0.25],
      [0.25, 0.25, 0.25, 0.25],
    ],
    kept: [
      [true, true, true, true],
      [true, true, true, true],
    ],
    cost: 131072,
    fullCost: 131072,
  };
  return squeeze.heads;
}

/** A lossy squeeze: 256-level activation quantization, measured at 98.8 % agreement. */
export const QUANTIZED = (squeeze: Squeeze) => {
  squeeze.quantize = { threshold: 0.1, alpha: 0.5, levels: 256, rounding: "nearest" };
  squeeze.agreement = 0.988;
};

/** A lossless squeeze: no quantization, every head kept, no agreement recorded. */
export const LOSSLESS = (squeeze: Squeeze) => {
  squeeze.quantize = null;
  if (squeeze.heads) squeeze.heads.kept = squeeze.heads.kept.map((layer) => layer.map(() => true));
  delete squeeze.agreement;
};

/**
 * A copy of the shipped model in a temp directory whose plan's squeeze
 * section `edit` changed: the plan stays made for the same weights (its modelSha256), so it
 * loads, and the directory's content hash is its own (`modelContentHash`).
 */
export function modelWithPlan(edit: (squeeze: Squeeze) => void, prefix = "based-plan-model"): string {
  const dir = tempDir(prefix);
  for (const name of fs.readdirSync(SHIPPED_MODEL))
    fs.copyFileSync(path.join(SHIPPED_MODEL, name), path.join(dir, name));
  const file = path.join(dir, "zkllm-plan.json");
  const plan = JSON.parse(fs.readFileSync(file, "utf8")) as { squeeze: Squeeze };
  edit(plan.squeeze);
  fs.writeFileSync(file, JSON.stringify(plan, null, 1));
  return dir;
}
