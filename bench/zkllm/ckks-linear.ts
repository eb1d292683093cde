/**
 * Benchmarks of the CKKS engine's encrypted linear layers.
 *
 *   npx tsx bench/zkllm/ckks-linear.ts [--quick] [--sets n8192-q100,n8192-q60,n4096-q69]
 *                                      [--only ops,layers,sizes,pool] [--json out.json]
 *
 * Prints (as Markdown): time per SEAL operation, a d=128 layer's four products (384×128 QKV,
 * 128×128 attention output, 512×128 MLP up, 128×512 MLP down) per parameter set, one GPT-2-small
 * layer (768×2304, 768×768, 768×3072, 3072×768), ciphertext and evaluation-key sizes (zstd blobs),
 * and pool scaling with 1 and 2 workers. Times are medians of warm runs on one thread unless a
 * pool is named; "server" is `evaluate()` including the checks, deserialization and
 * serialization of its ciphertexts.
 */
import { cpus, loadavg } from "node:os";
import { Worker } from "node:worker_threads";
import { writeFileSync } from "node:fs";
import { createClient, type CkksClient } from "../../zkllm/ckks/client";
import { planLinear, type LinearPlanStep, type Tensor } from "../../zkllm/ckks/linear";
import { getCkksContext, PARAM_SETS, type OpCosts, type ParamSetId } from "../../zkllm/ckks/params";
import { createPlan, planRotations, type EnginePlan } from "../../zkllm/ckks/plan";
import { createEvaluatorPool } from "../../zkllm/ckks/pool";
import { loadSeal } from "../../zkllm/ckks/seal";
import { loadCiphertext, saveCiphertext } from "../../zkllm/ckks/serialize";
import { createEvaluator, type CkksEvaluator, type EvalKeys } from "../../zkllm/ckks/server";

const args = process.argv.slice(2);
const QUICK = args.includes("--quick");
const argValue = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const SETS = (argValue("--sets") ?? "n8192-q100,n8192-q60,n4096-q69").split(",") as ParamSetId[];
const JSON_OUT = argValue("--json");
/** `--only ops,layers,sizes,pool` runs a subset of the sections. */
const ONLY = argValue("--only")?.split(",");
const want = (section: "ops" | "layers" | "sizes" | "pool") => !ONLY || ONLY.includes(section);
const results: Record<string, unknown> = {};

// ------------------------------------------------------------------------------------------------
// helpers

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Fastest of the timed runs of the last `time` call (the least disturbed by other processes). */
let lastMin = 0;

/** Median milliseconds of `fn` after `warmMs` of warm-up (V8 tiers WASM up after ~1–2 s). */
function time(fn: () => void, reps: number, warmMs = 300): number {
  const end = performance.now() + warmMs;
  while (performance.now() < end) fn();
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  lastMin = Math.min(...samples);
  return median(samples);
}

async function timeAsync(fn: () => Promise<unknown>, reps: number): Promise<number> {
  await fn();
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

/** GPT-2-like magnitudes: |w| ≤ 0.1, |b| ≤ 0.5, |x| ≤ 2. */
function tensor(shape: number[], seed: number, scale: number): Tensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float32Array.from({ length: n }, () => r() * 2 * scale) };
}

type Product = { id: string; inF: number; out: number };
const D128: Product[] = [
  { id: "attn.c_attn (QKV)", inF: 128, out: 384 },
  { id: "attn.c_proj", inF: 128, out: 128 },
  { id: "mlp.c_fc", inF: 128, out: 512 },
  { id: "mlp.c_proj", inF: 512, out: 128 },
];
const D768: Product[] = [
  { id: "attn.c_attn (QKV)", inF: 768, out: 2304 },
  { id: "attn.c_proj", inF: 768, out: 768 },
  { id: "mlp.c_fc", inF: 768, out: 3072 },
  { id: "mlp.c_proj", inF: 3072, out: 768 },
];

type Layer = {
  plan: EnginePlan;
  steps: LinearPlanStep[];
  weights: Record<string, Tensor>;
};

function buildLayer(paramSet: ParamSetId, products: Product[], tokens: number, prefix: string): Layer {
  const weights: Record<string, Tensor> = {};
  const steps = products.map((p, k) => {
    // Hugging Face GPT-2 stores these as Conv1D weights, [in, out].
    weights[`${prefix}${k}.w`] = tensor([p.inF, p.out], 1000 + k, 0.1);
    weights[`${prefix}${k}.b`] = tensor([p.out], 2000 + k, 0.5);
    return planLinear({
      id: `${prefix}${k}`,
      paramSet,
      inFeatures: p.inF,
      outFeatures: p.out,
      tokens,
      weight: `${prefix}${k}.w`,
      bias: `${prefix}${k}.b`,
      weightLayout: "in-out",
    });
  });
  return { plan: createPlan(paramSet, steps), steps, weights };
}

function reference(step: LinearPlanStep, weights: Record<string, Tensor>, x: Float64Array[]): Float64Array[] {
  const w = weights[step.weight] as Tensor;
  const b = weights[step.bias as string] as Tensor;
  return x.map((v) =>
    Float64Array.from({ length: step.outFeatures }, (_, r) => {
      let s = b.data[r] as number;
      for (let c = 0; c < step.inFeatures; c++)
        s += (w.data[c * step.outFeatures + r] as number) * (v[c] as number);
      return s;
    }),
  );
}

function inputsFor(step: LinearPlanStep, seed: number): Float64Array[] {
  const r = rng(seed);
  return Array.from({ length: step.tokens }, () =>
    Float64Array.from({ length: step.inFeatures }, () => r() * 4),
  );
}

type StepRun = {
  id: string;
  shape: string;
  serverMs: number;
  /** Fastest run. */
  serverMinMs: number;
  multiplyPlain: number;
  rotations: number;
  rescales: number;
  inputs: number;
  outputs: number;
  inBytes: number;
  outBytes: number;
  maxAbsError: number;
  layout: string;
};

function runLayer(
  layer: Layer,
  client: CkksClient,
  server: CkksEvaluator,
  keys: EvalKeys,
  products: Product[],
  reps: number,
): StepRun[] {
  return layer.steps.map((step, k) => {
    const x = inputsFor(step, 50 + k);
    const inputs = client.encryptLinearInputs(step, x);
    let outputs: Uint8Array[] = [];
    const serverMs = time(
      () => {
        outputs = server.evaluate(step.id, inputs, keys);
      },
      reps,
      QUICK ? 0 : 200,
    );
    const y = client.decryptLinearOutputs(step, outputs);
    const expected = reference(step, layer.weights, x);
    let err = 0;
    y.forEach((row, t) =>
      row.forEach((v, i) => (err = Math.max(err, Math.abs(v - (expected[t]?.[i] as number))))),
    );
    const L = step.layout;
    return {
      id: products[k]?.id ?? step.id,
      shape: `${step.inFeatures}→${step.outFeatures}`,
      serverMs,
      serverMinMs: lastMin,
      multiplyPlain: step.estimate.multiplyPlain,
      rotations: step.estimate.rotate + step.estimate.rotateGiant,
      rescales: step.estimate.rescale,
      inputs: step.inputCiphertexts,
      outputs: step.outputCiphertexts,
      inBytes: inputs.reduce((a, b) => a + b.length, 0),
      outBytes: outputs.reduce((a, b) => a + b.length, 0),
      maxAbsError: err,
      layout: `p=${L.chunk} T=${L.tokensPerCiphertext} C=${L.copies} B=${L.babySteps} W=[${step.outputs.map((o) => o.window).join(",")}]`,
    };
  });
}

function printLayer(title: string, runs: StepRun[]): void {
  console.log(`\n#### ${title}\n`);
  console.log(
    "| product | shape | server ms, median (min) | multiply-plain | rotations | rescales | cts in/out | bytes in/out | max abs err | layout |",
  );
  console.log("|---|---|---:|---:|---:|---:|---|---|---:|---|");
  for (const r of runs) {
    console.log(
      `| ${r.id} | ${r.shape} | ${fmt(r.serverMs)} (${fmt(r.serverMinMs)}) | ${r.multiplyPlain} | ${r.rotations} | ${r.rescales} | ${r.inputs}/${r.outputs} | ${kib(r.inBytes)} / ${kib(r.outBytes)} | ${r.maxAbsError.toExponential(1)} | ${r.layout} |`,
    );
  }
  const total = runs.reduce((a, r) => a + r.serverMs, 0);
  const totalMin = runs.reduce((a, r) => a + r.serverMinMs, 0);
  const bytesIn = runs.reduce((a, r) => a + r.inBytes, 0);
  const bytesOut = runs.reduce((a, r) => a + r.outBytes, 0);
  console.log(
    `| **layer** | | **${fmt(total)}** (${fmt(totalMin)}) | ${runs.reduce((a, r) => a + r.multiplyPlain, 0)} | ${runs.reduce((a, r) => a + r.rotations, 0)} | ${runs.reduce((a, r) => a + r.rescales, 0)} | | ${kib(bytesIn)} / ${kib(bytesOut)} | | |`,
  );
}

// ------------------------------------------------------------------------------------------------
// 1. per-operation costs

async function opCosts(
  paramSet: ParamSetId,
): Promise<OpCosts & { encode: number; serialize: number; deserialize: number }> {
  const ctx = await getCkksContext(paramSet);
  const { seal, evaluator: ev, encoder } = ctx;
  const client = await createClient({ paramSet });
  const keyGen = seal.KeyGenerator(ctx.context);
  const galois = keyGen.createGaloisKeys(Int32Array.from([1]));
  const values = Float64Array.from({ length: ctx.slots }, (_, i) => Math.sin(i));
  const plain = seal.PlainText();
  encoder.encode(values, ctx.weightScale, plain);
  const blob = client.encryptSlots(values);
  const ct = loadCiphertext(ctx, blob, { seeded: "required" });
  const prod = seal.CipherText();
  const tmp = seal.CipherText();
  ev.multiplyPlain(ct, plain, prod);
  const reps = QUICK ? 20 : 60;
  const warm = QUICK ? 100 : 600;
  const costs = {
    encode: time(() => encoder.encode(values, ctx.weightScale, plain), reps, warm),
    multiplyPlain: time(() => ev.multiplyPlain(ct, plain, tmp), reps * 3, warm),
    add: time(() => ev.add(prod, prod, tmp), reps * 3, warm),
    rotate: time(() => ev.rotateVector(ct, 1, galois, tmp), reps, warm),
    rotateRescaled: 0,
    rescale: 0,
    loadInput: time(() => loadCiphertext(ctx, blob, { seeded: "required" }).delete(), reps, warm),
    saveOutput: 0,
    encrypt: time(() => client.encryptSlots(values), reps, warm),
    decrypt: 0,
    perKiB: PARAM_SETS[paramSet].costs.perKiB,
    serialize: 0,
    deserialize: 0,
  };
  let out = prod;
  if (ctx.set.rescale) {
    costs.rescale = time(() => ev.rescaleToNext(prod, tmp), reps, warm);
    const low = seal.CipherText();
    ev.rescaleToNext(prod, low);
    costs.rotateRescaled = time(() => ev.rotateVector(low, 1, galois, tmp), reps, warm);
    out = low;
  } else {
    costs.rotateRescaled = costs.rotate;
  }
  const outBlob = saveCiphertext(ctx, out);
  costs.saveOutput = time(() => saveCiphertext(ctx, out), reps, warm);
  costs.serialize = costs.saveOutput;
  costs.deserialize = time(() => loadCiphertext(ctx, outBlob, { seeded: "forbidden" }).delete(), reps, warm);
  costs.decrypt = time(() => client.decryptSlots(outBlob), reps, warm);
  for (const o of [plain, ct, prod, tmp, galois, keyGen]) o.delete();
  if (out !== prod) out.delete();
  client.delete();
  return costs;
}

/**
 * How much parallelism the machine gives right now: the same pure-JS loop in 1 and in 2 threads
 * (2× the work). On an idle 2-core machine this is ~2×; when other processes hold the cores it
 * is what any pool can reach, so it is printed beside the pool figures.
 */
async function machineParallelism(): Promise<number> {
  const code = `const { parentPort } = require("node:worker_threads");
    let x = 0; for (let i = 0; i < 2e8; i++) x = (x + i * 7) % 1000003; parentPort.postMessage(x);`;
  const run = async (threads: number) => {
    const t0 = performance.now();
    await Promise.all(
      Array.from(
        { length: threads },
        () =>
          new Promise<void>((resolve, reject) => {
            const w = new Worker(code, { eval: true });
            w.once("message", () => void w.terminate().then(() => resolve()));
            w.once("error", reject);
          }),
      ),
    );
    return performance.now() - t0;
  };
  const one = await run(1);
  const two = await run(2);
  return (2 * one) / two;
}

// ------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const runtime = await loadSeal();
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  console.log(`# CKKS linear-layer benchmarks\n`);
  console.log(
    `Machine: ${cpus().length}-core ${process.arch} (${cpu}), Node ${process.versions.node}, node-seal ${runtime.seal.Version}; load average at start ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}; ${new Date().toISOString()}`,
  );
  results.machine = { cores: cpus().length, cpu, node: process.versions.node, loadStart: loadavg() };

  if (want("ops")) {
    console.log("\n### Time per operation (ms, one thread, warm)\n");
    console.log(
      "| parameter set | encode | encrypt (client, seeded + zstd) | multiply-plain | add | rotate | rescale | rotate after rescale | deserialize input | serialize output | deserialize output | decrypt + decode |",
    );
    console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    const costsBySet: Record<string, unknown> = {};
    for (const set of SETS) {
      const c = await opCosts(set);
      costsBySet[set] = c;
      console.log(
        `| ${set} | ${fmt(c.encode)} | ${fmt(c.encrypt)} | ${fmt(c.multiplyPlain)} | ${fmt(c.add)} | ${fmt(c.rotate)} | ${PARAM_SETS[set].rescale ? fmt(c.rescale) : "—"} | ${PARAM_SETS[set].rescale ? fmt(c.rotateRescaled) : "—"} | ${fmt(c.loadInput)} | ${fmt(c.saveOutput)} | ${fmt(c.deserialize)} | ${fmt(c.decrypt)} |`,
      );
    }
    results.opCosts = costsBySet;
  }

  if (want("layers")) {
    // 2. d=128 layer, T = 1 and T = 8
    const layerResults: Record<string, unknown> = {};
    const keySizes: string[] = [];
    for (const set of SETS) {
      for (const tokens of QUICK ? [1] : [1, 8]) {
        const layer = buildLayer(set, D128, tokens, "d128.");
        const client = await createClient({ paramSet: set });
        const server = await createEvaluator({ plan: layer.plan, weights: layer.weights });
        const keyBlobs = client.makeEvalKeysForPlan(layer.plan);
        const keys = server.loadEvalKeys(keyBlobs);
        for (const s of layer.steps) server.prepare(s.id);
        const runs = runLayer(layer, client, server, keys, D128, QUICK ? 3 : 15);
        printLayer(`d=128 layer, ${set}, ${tokens} token${tokens > 1 ? "s" : ""} per request`, runs);
        layerResults[`d128/${set}/T${tokens}`] = runs;
        keySizes.push(
          `| d=128, T=${tokens} | ${set} | ${planRotations(layer.plan).length} | ${kib(keyBlobs.galois?.length ?? 0)} |`,
        );
        keys.delete();
        server.delete();
        client.delete();
      }
    }

    // 3. one GPT-2-small layer (d = 768), T = 1
    for (const set of SETS.filter((s) => s !== "n4096-q69" || !QUICK)) {
      const layer = buildLayer(set, D768, 1, "d768.");
      const client = await createClient({ paramSet: set });
      const server = await createEvaluator({ plan: layer.plan, weights: layer.weights });
      const keyBlobs = client.makeEvalKeysForPlan(layer.plan);
      const keys = server.loadEvalKeys(keyBlobs);
      const heapBefore = runtime.heapBytes();
      const t0 = performance.now();
      for (const s of layer.steps) server.prepare(s.id);
      const prepareMs = performance.now() - t0;
      const runs = runLayer(layer, client, server, keys, D768, QUICK ? 1 : 5);
      printLayer(`GPT-2-small layer (d=768), ${set}, 1 token per request`, runs);
      console.log(
        `\nPlaintext cache: ${mib(server.cacheBytes())} (encoded once in ${fmt(prepareMs)} ms); WASM heap ${mib(heapBefore)} → ${mib(runtime.heapBytes())}.`,
      );
      layerResults[`d768/${set}/T1`] = {
        runs,
        prepareMs,
        cacheBytes: server.cacheBytes(),
        heapBytes: runtime.heapBytes(),
      };
      keySizes.push(
        `| d=768, T=1 | ${set} | ${planRotations(layer.plan).length} | ${kib(keyBlobs.galois?.length ?? 0)} |`,
      );
      keys.delete();
      server.delete();
      client.delete();
    }
    results.layers = layerResults;

    console.log("\n### Evaluation keys (Galois keys for exactly the plan's rotations, seeded, zstd)\n");
    console.log("| plan | parameter set | rotation steps | bytes |");
    console.log("|---|---|---:|---:|");
    for (const line of keySizes) console.log(line);
  }

  if (want("sizes")) {
    console.log("\n### Ciphertext sizes (zstd blobs)\n");
    console.log("| parameter set | input (client → server, seeded) | output (server → client) |");
    console.log("|---|---:|---:|");
    for (const set of SETS) {
      const ctx = await getCkksContext(set);
      const client = await createClient({ paramSet: set });
      const input = client.encryptSlots(Float64Array.from({ length: ctx.slots }, (_, i) => Math.sin(i)));
      const ct = loadCiphertext(ctx, input, { seeded: "required" });
      if (ctx.set.rescale) ctx.evaluator.cipherModSwitchToNext(ct, ct);
      const output = saveCiphertext(ctx, ct);
      ct.delete();
      client.delete();
      console.log(`| ${set} | ${input.length} B | ${output.length} B |`);
    }
  }

  if (want("pool")) {
    // 4. pool scaling
    console.log("\n### Pool scaling (worker_threads)\n");
    const available = await machineParallelism();
    console.log("| workload | parameter set | 1 worker | 2 workers | speed-up |");
    console.log("|---|---|---:|---:|---:|");
    console.log(
      `| reference: a pure-JS loop in 1 vs 2 threads (what the machine allows now) | – | | | ${available.toFixed(2)}× |`,
    );
    const poolSet: ParamSetId = SETS.includes("n8192-q100") ? "n8192-q100" : (SETS[0] as ParamSetId);
    const poolResults: Record<string, unknown> = { machineParallelism: available };
    {
      const layer = buildLayer(poolSet, D128, 1, "d128.");
      const client = await createClient({ paramSet: poolSet });
      const keyBlobs = client.makeEvalKeysForPlan(layer.plan);
      const requests = Array.from({ length: QUICK ? 8 : 32 }, (_, i) => {
        const step = layer.steps[i % layer.steps.length] as LinearPlanStep;
        return { step: step.id, inputs: client.encryptLinearInputs(step, inputsFor(step, i)) };
      });
      const layerRequest = layer.steps.map((step, k) => ({
        step: step.id,
        inputs: client.encryptLinearInputs(step, inputsFor(step, 90 + k)),
      }));
      const measured: Record<number, { throughput: number; layerMs: number }> = {};
      for (const size of [1, 2]) {
        const pool = createEvaluatorPool({ plan: layer.plan, weights: layer.weights, size });
        const keysId = await pool.registerKeys(keyBlobs);
        await pool.prepare();
        // Warm-up: V8 tiers the WASM up in each worker.
        for (let i = 0; i < 3; i++)
          await Promise.all(requests.map((r) => pool.evaluate(r.step, r.inputs, keysId)));
        const batchMs = await timeAsync(
          () => Promise.all(requests.map((r) => pool.evaluate(r.step, r.inputs, keysId))),
          QUICK ? 2 : 5,
        );
        const layerMs = await timeAsync(
          () => Promise.all(layerRequest.map((r) => pool.evaluate(r.step, r.inputs, keysId))),
          QUICK ? 3 : 10,
        );
        measured[size] = { throughput: (requests.length / batchMs) * 1000, layerMs };
        await pool.close();
      }
      const [one, two] = [measured[1], measured[2]] as { throughput: number; layerMs: number }[];
      console.log(
        `| ${requests.length} independent d=128 products (throughput, products/s) | ${poolSet} | ${one?.throughput.toFixed(1)} | ${two?.throughput.toFixed(1)} | ${((two?.throughput ?? 0) / (one?.throughput ?? 1)).toFixed(2)}× |`,
      );
      console.log(
        `| one d=128 layer, its 4 products in parallel (latency, ms) | ${poolSet} | ${fmt(one?.layerMs ?? 0)} | ${fmt(two?.layerMs ?? 0)} | ${((one?.layerMs ?? 0) / (two?.layerMs ?? 1)).toFixed(2)}× |`,
      );
      poolResults.d128 = measured;
      client.delete();
    }
    if (!QUICK) {
      // One big product split over the workers (each recomputes the shared baby-step rotations).
      const layer = buildLayer(poolSet, [D768[2] as Product], 1, "fc.");
      const client = await createClient({ paramSet: poolSet });
      const keyBlobs = client.makeEvalKeysForPlan(layer.plan);
      const step = layer.steps[0] as LinearPlanStep;
      const inputs = client.encryptLinearInputs(step, inputsFor(step, 7));
      const measured: Record<number, number> = {};
      for (const size of [1, 2]) {
        const pool = createEvaluatorPool({ plan: layer.plan, weights: layer.weights, size });
        const keysId = await pool.registerKeys(keyBlobs);
        await pool.prepare();
        measured[size] = await timeAsync(() => pool.evaluate(step.id, inputs, keysId), 3);
        await pool.close();
      }
      console.log(
        `| one 768→3072 product split over the workers (latency, ms) | ${poolSet} | ${fmt(measured[1] ?? 0)} | ${fmt(measured[2] ?? 0)} | ${((measured[1] ?? 0) / (measured[2] ?? 1)).toFixed(2)}× |`,
      );
      poolResults.split768 = measured;
      client.delete();
    }
    results.pool = poolResults;
  }

  console.log(
    `\nLoad average at end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  results.loadEnd = loadavg();
  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(results, null, 2));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
