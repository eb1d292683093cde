/**
 * What a fresh key set costs on the shipped model (issue 17: evaluation-key rotation): a new CKKS
 * secret key plus the Galois and relinearization keys the plan needs, made as the keystore makes
 * them (sdk/node/keystore.ts, `createClient` + `makeEvalKeysForPlan`), and then the same through
 * the keystore itself (files written, fsync'ed), with the sizes a session uploads.
 *
 *   npx tsx bench/zkllm/keygen.ts [--runs 5] [--model zkllm/models/brain-gpt2-tiny] [--json]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { createClient, exportSecretKey, openModel, planRotations } from "../../zkllm/client";
import { readModelDir } from "../../zkllm/model-dir";
import { openKeystore } from "../../sdk/node/keystore";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    model: { type: "string", default: "zkllm/models/brain-gpt2-tiny" },
    json: { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  return {
    min: s[0]!,
    median: s[Math.floor(s.length / 2)]!,
    max: s.at(-1)!,
  };
}

async function main() {
  const model = openModel(readModelDir(values.model!));
  const plan = model.plan().engine;
  const rotations = new Set(planRotations(plan)).size;

  const engineMs: number[] = [];
  let galoisBytes = 0;
  let relinBytes = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const client = await createClient({ paramSet: plan.paramSet });
    exportSecretKey(client);
    const blobs = client.makeEvalKeysForPlan(plan);
    engineMs.push(performance.now() - t0);
    galoisBytes = blobs.galois?.length ?? 0;
    relinBytes = blobs.relin?.length ?? 0;
    client.delete();
  }

  const keystoreMs: number[] = [];
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "based-keygen-"));
  try {
    for (let i = 0; i < runs; i++) {
      const dir = path.join(root, String(i));
      const t0 = performance.now();
      const ks = await openKeystore(dir, plan.paramSet, plan);
      keystoreMs.push(performance.now() - t0);
      ks.client.delete();
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }

  const result = {
    model: values.model,
    paramSet: plan.paramSet,
    rotations,
    relinearization: relinBytes > 0,
    galoisMiB: galoisBytes / 2 ** 20,
    relinMiB: relinBytes / 2 ** 20,
    runs,
    engineMs: stats(engineMs),
    keystoreMs: stats(keystoreMs),
    cpu: `${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length}`,
    node: process.version,
  };
  if (values.json) {
    console.log(JSON.stringify(result, null, 1));
    return;
  }
  const f = (x: { min: number; median: number; max: number }) =>
    `median ${x.median.toFixed(0)} ms (min ${x.min.toFixed(0)}, max ${x.max.toFixed(0)})`;
  console.log(
    `${result.model}: ${result.paramSet}, ${rotations} rotations, relinearization ${result.relinearization}`,
  );
  console.log(`keys: Galois ${result.galoisMiB.toFixed(1)} MiB, relin ${result.relinMiB.toFixed(1)} MiB`);
  console.log(`fresh key set (secret + evaluation keys), ${runs} runs: ${f(result.engineMs)}`);
  console.log(`the same through the keystore (files written):   ${f(result.keystoreMs)}`);
  console.log(`${result.cpu}, Node ${result.node}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
