/**
 * Encrypted vs plain generation on the shipped model, and what each Cerberus Squeezing stage
 * does to the work per token. Run: `npx tsx bench/zkllm/generate.ts [--tokens 16] [--prompts 4]`.
 *
 * For each configuration it generates greedily for the first prompts of the test set, one prompt
 * at a time (a user's generation speed), and reports tokens per second, the time split
 * (client encrypt / server / client decrypt / client rest), homomorphic actions per token by kind,
 * bytes per token each way, the evaluation-key size, and agreement with plaintext greedy.
 */
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  CALIBRATION_TEXT,
  type SqueezeSettings,
  SQUEEZE_DEFAULT,
  SQUEEZE_LOSSY,
  SQUEEZE_OFF,
  planModel,
} from "../../zkllm/convert";
import { generateIds } from "../../zkllm/generate";
import { loadCheckpoint, sha256OfFile } from "../../zkllm/model/files";
import { loadTokenizer } from "../../zkllm/tokenizer";

const MODEL = path.resolve(__dirname, "..", "..", "zkllm", "models", "brain-gpt2-tiny");
const PROMPTS = [
  "The jury said",
  "In the morning, she",
  "He looked at the",
  "The city council voted",
  "There was a",
  "It is not",
];

const CONFIGS: [string, SqueezeSettings][] = [
  ["squeezing off (per-head projections, no quantization)", SQUEEZE_OFF],
  ["+ fusion only", { ...SQUEEZE_OFF, fuse: true }],
  ["+ quantization only (L=256)", { ...SQUEEZE_OFF, quantize: SQUEEZE_LOSSY.quantize }],
  ["+ head selection only (θ=0.12)", { ...SQUEEZE_OFF, heads: { theta: 0.12, budgetFraction: 1 } }],
  ["shipped default, lossless (fusion only)", SQUEEZE_DEFAULT],
  ["lossy opt-in (fusion + L=256 + θ=0.05)", SQUEEZE_LOSSY],
  ["aggressive (fusion + L=256 + θ=0.2)", { ...SQUEEZE_LOSSY, heads: { theta: 0.2, budgetFraction: 1 } }],
];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { tokens: { type: "string" }, prompts: { type: "string" } } });
  const maxTokens = Number(values.tokens ?? 16);
  const tokenizer = loadTokenizer(MODEL);
  const prompts = PROMPTS.slice(0, Number(values.prompts ?? 4)).map((p) => tokenizer.encode(p));
  const ckpt = loadCheckpoint(MODEL);
  const sha = sha256OfFile(path.join(MODEL, "model.safetensors"));
  const calibration = CALIBRATION_TEXT.map((t) => tokenizer.encode(t));

  console.log(
    `# ZK-LLM generation, shipped model (${os.cpus()[0]?.model}, ${os.cpus().length} cores, Node ${process.version})`,
  );
  console.log(`${prompts.length} prompts × ${maxTokens} tokens, one prompt at a time\n`);

  // Warm up V8 and SEAL once so the first configuration is not charged for it.
  await generateIds(MODEL, [prompts[0]!], {
    mode: "encrypted",
    maxTokens: 2,
    plan: await planModel(ckpt, sha, SQUEEZE_DEFAULT, calibration),
  });

  const plain: number[][] = [];
  let plainTps = 0;
  for (const p of prompts) {
    const r = await generateIds(MODEL, [p], { mode: "plain", maxTokens });
    plain.push(r.ids[0]!);
    plainTps += r.timings.tokensPerSecond / prompts.length;
  }
  console.log(`plain (onnxruntime-node, CPU, full recompute per token): ${plainTps.toFixed(1)} tokens/s\n`);

  console.log(
    "| configuration | enc. tokens/s | plain/enc | encrypt ms/tok | server ms/tok | decrypt ms/tok | actions/tok | multiplyPlain | rotate | rescale | encrypt | KiB up/tok | KiB down/tok | eval keys MiB | same as plain |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const [name, settings] of CONFIGS) {
    const plan = await planModel(ckpt, sha, settings, calibration);
    let tps = 0;
    let same = 0;
    let total = 0;
    const sums = { encryptMs: 0, serverMs: 0, decryptMs: 0, up: 0, down: 0 };
    let actions: Record<string, number> = {};
    let keyBytes = 0;
    for (const [i, p] of prompts.entries()) {
      const r = await generateIds(MODEL, [p], { mode: "encrypted", maxTokens, plan });
      const ids = r.ids[0]!;
      const e = r.encrypted!;
      tps += r.timings.tokensPerSecond / prompts.length;
      sums.encryptMs += e.transfer.encryptMs / ids.length / prompts.length;
      sums.serverMs += e.transfer.serverMs / ids.length / prompts.length;
      sums.decryptMs += e.transfer.decryptMs / ids.length / prompts.length;
      sums.up += e.bytesUpPerToken / prompts.length;
      sums.down += e.bytesDownPerToken / prompts.length;
      for (const [k, v] of Object.entries(e.actionsPerToken))
        actions[k] = (actions[k] ?? 0) + v / prompts.length;
      keyBytes = e.evalKeyBytes;
      ids.forEach((id, t) => {
        total++;
        if (id === plain[i]![t]) same++;
      });
    }
    const a = (k: string) => (actions[k] ?? 0).toFixed(0);
    const heads = plan.squeeze.heads?.kept.flat();
    const kept = heads ? `, ${heads.filter(Boolean).length} of ${heads.length} heads` : "";
    console.log(
      `| ${name}${kept} | ${tps.toFixed(2)} | ${(plainTps / tps).toFixed(0)}× | ${sums.encryptMs.toFixed(1)} | ${sums.serverMs.toFixed(1)} | ${sums.decryptMs.toFixed(1)} | ${a("total")} | ${a("multiplyPlain")} | ${a("rotate")} | ${a("rescale")} | ${a("encrypt")} | ${(sums.up / 1024).toFixed(0)} | ${(sums.down / 1024).toFixed(0)} | ${(keyBytes / 2 ** 20).toFixed(1)} | ${((100 * same) / total).toFixed(1)} % |`,
    );
    actions = {};
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
