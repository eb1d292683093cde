/**
 * Encrypted generation at real size: the shipped model and a GPT-2-small-shaped checkpoint
 * (124M parameters, random weights, GPT-2's vocabulary), with 1, 2, … evaluator workers, beside
 * plain onnxruntime. Run: `npx tsx bench/zkllm/gpt2-small.ts [--workers 1,2] [--tokens 4]`.
 *
 * Each configuration runs in its own process, so its peak RSS (the whole process, its worker
 * threads included) is its own. Figures: miner start (keys, the workers' warm-up: every plaintext
 * of the worker's share encoded), the prompt pass (a 20-token prompt, to the first new token),
 * seconds per generated token after it, peak RSS, and whether the tokens equal plain onnxruntime's.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { createClient } from "../../zkllm/ckks/client";
import { createEvaluator } from "../../zkllm/ckks/server";
import { openModel } from "../../zkllm/client";
import { convertModel } from "../../zkllm/convert";
import { encryptedBackend } from "../../zkllm/hybrid/encrypted-backend";
import { serverWeights } from "../../zkllm/hybrid/engine-plan";
import { readModelDir } from "../../zkllm/model-dir";
import { OnnxGpt2Runner } from "../../zkllm/model/onnx-runner";
import { generateIds } from "../../zkllm/generate";
import { loadTokenizer } from "../../zkllm/tokenizer";
import { GPT2_SMALL_SHAPE, writeRandomCheckpoint } from "../../zkllm/model/random-checkpoint";
import { writeGpt2Tokenizer } from "../../zkllm/tokenizer/gpt2-vocab";

const SHIPPED = path.resolve(__dirname, "..", "..", "zkllm", "models", "brain-gpt2-tiny");
const PROMPT =
  "The history of the city begins with a small village on the river, where the first people built their";

type Figures = {
  mode: string;
  workers: number;
  startS: number;
  promptS: number;
  tokenS: number;
  tokensPerS: number;
  peakRssGiB: number;
  ids: number[];
  /** Where the time went, over the whole generation (s): client encryption, server, decryption. */
  split?: { encryptS: number; serverS: number; decryptS: number };
};

/**
 * The engine's error where users see it: the last position's logits of an encrypted prompt pass
 * against onnxruntime's, and the plain top-2 margin beside it.
 */
async function logitError(dir: string, promptTokens: number): Promise<{ maxAbs: number; margin: number }> {
  const model = openModel(readModelDir(dir));
  const ids = model.tokenizer.encode(PROMPT).slice(0, promptTokens);
  const plan = model.plan();
  const client = await createClient({ paramSet: plan.engine.paramSet });
  const evaluator = await createEvaluator({
    plan: plan.engine,
    weights: serverWeights(model.split().server),
  });
  const keys = evaluator.loadEvalKeys(client.makeEvalKeysForPlan(plan.engine));
  const backend = encryptedBackend(
    client,
    plan.engine,
    async (id, inputs) => evaluator.evaluate(id, inputs, keys),
    plan.buckets,
  );
  const encrypted = await model.session(backend).step(ids);
  keys.delete();
  evaluator.delete();
  client.delete();
  const runner = await OnnxGpt2Runner.create(path.join(dir, "model.onnx"), {
    maxPositions: model.nPositions,
  });
  const { data, vocab } = await runner.logits(ids);
  await runner.release();
  const plain = data.subarray(data.length - vocab);
  let maxAbs = 0;
  for (let i = 0; i < vocab; i++) maxAbs = Math.max(maxAbs, Math.abs(plain[i]! - encrypted[i]!));
  const sorted = [...plain].sort((a, b) => b - a);
  return { maxAbs, margin: sorted[0]! - sorted[1]! };
}

/** One configuration, in this process (the child). */
async function child(
  dir: string,
  mode: "plain" | "encrypted",
  workers: number,
  tokens: number,
  promptTokens: number,
): Promise<void> {
  const ids = loadTokenizer(dir).encode(PROMPT).slice(0, promptTokens);
  const result = await generateIds(dir, [ids], { mode, maxTokens: tokens, workers });
  const t = result.timings;
  const figures: Figures = {
    mode,
    workers,
    startS: t.setupMs / 1000,
    promptS: (t.promptMs ?? Number.NaN) / 1000,
    tokenS: t.secondsPerToken ?? Number.NaN,
    tokensPerS: t.tokensPerSecond,
    peakRssGiB: process.resourceUsage().maxRSS / 1024 ** 2,
    ids: result.ids[0]!,
    ...(result.encrypted
      ? {
          split: {
            encryptS: result.encrypted.transfer.encryptMs / 1000,
            serverS: result.encrypted.transfer.serverMs / 1000,
            decryptS: result.encrypted.transfer.decryptMs / 1000,
          },
        }
      : {}),
  };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

function run(dir: string, mode: string, workers: number, tokens: number, promptTokens: number): Figures {
  const out = execFileSync(
    process.execPath,
    [
      "--import",
      "tsx",
      __filename,
      ...["--child", dir, "--mode", mode, "--workers", String(workers)],
      ...["--tokens", String(tokens), "--prompt-tokens", String(promptTokens)],
    ],
    { encoding: "utf8", maxBuffer: 1 << 24, stdio: ["ignore", "pipe", "inherit"] },
  );
  return JSON.parse(out.trim().split("\n").pop()!) as Figures;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: "string" },
      mode: { type: "string" },
      workers: { type: "string" },
      tokens: { type: "string" },
      keep: { type: "string" },
      "prompt-tokens": { type: "string" },
      only: { type: "string" },
    },
  });
  const tokens = Number(values.tokens ?? 4);
  const promptTokens = Number(values["prompt-tokens"] ?? 20);
  if (values.child && values.mode === "error") {
    process.stdout.write(`${JSON.stringify(await logitError(values.child, promptTokens))}\n`);
    return;
  }
  if (values.child) {
    const mode = values.mode as "plain" | "encrypted";
    await child(values.child, mode, Number(values.workers ?? 1), tokens, promptTokens);
    return;
  }
  const workerCounts = (values.workers ?? "1,2").split(",").map(Number);
  const tmp = values.keep ?? fs.mkdtempSync(path.join(os.tmpdir(), "bench-gpt2-small-"));
  const task = path.join(tmp, "task");
  if (!fs.existsSync(path.join(task, "zkllm-plan.json"))) {
    const hf = path.join(tmp, "hf");
    writeRandomCheckpoint(hf, { ...GPT2_SMALL_SHAPE, seed: 2019 });
    writeGpt2Tokenizer(hf, { format: "vocab+merges" });
    const t0 = performance.now();
    const report = await convertModel(hf, task);
    console.log(
      `converted GPT-2 small in ${((performance.now() - t0) / 1000).toFixed(1)} s; plaintexts ${(report.memory.totalBytes / 1024 ** 3).toFixed(2)} GiB; per worker ${report.memory.perWorker.map((w) => `${w.workers}: ${(w.bytes / 1024 ** 3).toFixed(2)} GiB`).join(", ")}`,
    );
  }
  console.log(`machine: ${os.cpus()[0]?.model} × ${os.availableParallelism()}, Node ${process.version}`);
  console.log(
    `| model | mode | workers | start (s) | prompt pass, ${promptTokens} tokens (s) | s per generated token | tokens/s | peak RSS (GiB) | tokens = plain | client encrypt / server / decrypt (s) |`,
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  const models = [
    ["shipped (d=128, 2 layers)", SHIPPED],
    ["GPT-2 small shape (124M)", task],
  ] as const;
  for (const [name, dir] of models.filter(
    ([, d]) => !values.only || (values.only === "small") === (d === task),
  )) {
    const plain = run(dir, "plain", 1, tokens, promptTokens);
    // NaN crosses the process boundary as null: both mean "not measured here".
    const fmt = (v: number | null, digits: number) =>
      v === null || Number.isNaN(v) ? "–" : v.toFixed(digits);
    const row = (f: Figures) =>
      `| ${name} | ${f.mode} | ${f.mode === "plain" ? "–" : f.workers} | ${fmt(f.startS, 1)} | ${fmt(f.promptS, 1)} | ${fmt(f.tokenS, 2)} | ${f.tokensPerS.toFixed(2)} | ${f.peakRssGiB.toFixed(2)} | ${f.mode === "plain" ? "–" : f.ids.join(",") === plain.ids.join(",") ? "yes" : "no"} | ${f.split ? `${f.split.encryptS.toFixed(1)} / ${f.split.serverS.toFixed(1)} / ${f.split.decryptS.toFixed(1)}` : "–"} |`;
    console.log(row(plain));
    for (const w of workerCounts) console.log(row(run(dir, "encrypted", w, tokens, promptTokens)));
  }
  for (const [name, dir] of models.filter(
    ([, d]) => !values.only || (values.only === "small") === (d === task),
  )) {
    const out = execFileSync(
      process.execPath,
      ["--import", "tsx", __filename, "--child", dir, "--mode", "error", "--prompt-tokens", "4"],
      { encoding: "utf8", maxBuffer: 1 << 24, stdio: ["ignore", "pipe", "inherit"] },
    );
    const e = JSON.parse(out.trim().split("\n").pop()!) as { maxAbs: number; margin: number };
    console.log(
      `${name}: largest |encrypted − onnxruntime| logit after a 4-token prompt ${e.maxAbs.toExponential(2)} (plain top-2 margin there ${e.margin.toFixed(4)})`,
    );
  }
  if (!values.keep) fs.rmSync(tmp, { recursive: true, force: true });
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
