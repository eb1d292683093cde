/**
 * Writes model.onnx next to a Hugging Face GPT-2 checkpoint and checks it against the
 * TypeScript forward pass. Usage: npx tsx scripts/train/export-onnx.ts [model-dir]
 */
import path from "node:path";
import { loadCheckpoint } from "../../zkllm/model/files";
import { Gpt2Forward } from "../../zkllm/model/forward";
import { exportGpt2Onnx } from "../../zkllm/model/onnx-export";
import { OnnxGpt2Runner } from "../../zkllm/model/onnx-runner";

async function main(): Promise<void> {
  const dir = path.resolve(
    process.argv[2] ?? path.join(__dirname, "..", "..", "zkllm", "models", "brain-gpt2-tiny"),
  );
  const ckpt = loadCheckpoint(dir);
  const out = path.join(dir, "model.onnx");
  const bytes = exportGpt2Onnx(ckpt, out, { modelName: path.basename(dir) });
  console.log(`wrote ${out} (${(bytes.length / 1e6).toFixed(2)} MB)`);

  const ids = Array.from(
    { length: Math.min(16, ckpt.config.n_positions) },
    (_, i) => (i * 101) % ckpt.config.vocab_size,
  );
  const expected = new Gpt2Forward(ckpt).forward(ids);
  const runner = await OnnxGpt2Runner.create(out, { maxPositions: ckpt.config.n_positions });
  const { data } = await runner.logits(ids);
  await runner.release();
  let diff = 0;
  for (let i = 0; i < data.length; i++) diff = Math.max(diff, Math.abs(data[i]! - expected[i]!));
  console.log(
    `onnxruntime (${runner.executionProviders.join(",")}) vs TypeScript forward: max abs diff ${diff.toExponential(2)}`,
  );
  if (!(diff < 1e-3)) throw new Error("ONNX export disagrees with the TypeScript forward pass");
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
