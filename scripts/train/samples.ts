/**
 * Prints sample continuations of the shipped model as Markdown (for docs/model.md): greedy
 * (TypeScript forward with KV cache, cross-checked against onnxruntime) and sampled.
 * Usage: npx tsx scripts/train/samples.ts [model-dir]
 */
import path from "node:path";
import { loadCheckpoint } from "../../zkllm/model/files";
import { Gpt2Forward, createRng, generate } from "../../zkllm/model/forward";
import { generateGreedy } from "../../zkllm/model/greedy";
import { OnnxGpt2Runner } from "../../zkllm/model/onnx-runner";
import { loadTokenizer } from "../../zkllm/tokenizer";

const PROMPTS = [
  "The jury said",
  "In the morning, she",
  "The President of the United States",
  "He looked at the",
  "The new school",
];
const NEW_TOKENS = 40;
const SEED = 2024;

async function main(): Promise<void> {
  const dir = path.resolve(
    process.argv[2] ?? path.join(__dirname, "..", "..", "zkllm", "models", "brain-gpt2-tiny"),
  );
  const ckpt = loadCheckpoint(dir);
  const tok = loadTokenizer(dir);
  const model = new Gpt2Forward(ckpt);
  const runner = await OnnxGpt2Runner.create(path.join(dir, "model.onnx"), {
    maxPositions: ckpt.config.n_positions,
  });
  const show = (s: string) => s.replace(/\n/g, "\\n");
  console.log(
    `Greedy and sampled (temperature 0.8, top-k 40, seed ${SEED}) continuations, ${NEW_TOKENS} tokens:\n`,
  );
  const rng = createRng(SEED);
  for (const prompt of PROMPTS) {
    const ids = tok.encode(prompt);
    const greedy = generate(model, ids, { maxNewTokens: NEW_TOKENS });
    const viaOrt = await generateGreedy(runner.source(), ids, { maxTokens: NEW_TOKENS });
    if (greedy.join() !== viaOrt.join()) throw new Error(`greedy mismatch for ${JSON.stringify(prompt)}`);
    const sampled = generate(model, ids, { maxNewTokens: NEW_TOKENS, temperature: 0.8, topK: 40, rng });
    console.log(`- greedy (TypeScript = onnxruntime): **${prompt}**${show(tok.decode(greedy))}`);
    console.log(`- sampled: **${prompt}**${show(tok.decode(sampled))}\n`);
  }
  await runner.release();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
