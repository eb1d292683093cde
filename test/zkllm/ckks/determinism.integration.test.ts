import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { createClient } from "../../../zkllm/ckks/client";
import { planLinear } from "../../../zkllm/ckks/linear";
import { createPlan } from "../../../zkllm/ckks/plan";
import { createEvaluator } from "../../../zkllm/ckks/server";
import { fixtureWeights, hashOutputs } from "./fixtures/replay-lib";
import { randomVector } from "./helpers";

const ROOT = resolve(__dirname, "..", "..", "..");
const run = promisify(execFile);

describe("zkllm/ckks determinism: same inputs, keys and step give byte-identical outputs", function () {
  this.timeout(120_000);
  let dir: string;

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("in one process, after re-encoding, and in two separate Node processes (one through a pool)", async () => {
    const paramSet = "n8192-q100";
    // Rotations (baby and giant), a bias and several tokens: every kind of operation is replayed.
    const step = planLinear({
      id: "replay",
      paramSet,
      inFeatures: 128,
      outFeatures: 192,
      tokens: 3,
      weight: "w",
      bias: "b",
      babySteps: 2,
      maxCopies: 1,
      maxWindow: 8,
    });
    expect(step.rotations.length).to.be.greaterThan(1);
    const plan = createPlan(paramSet, [step]);
    const client = await createClient({ paramSet });
    const keyBlobs = client.makeEvalKeysForPlan(plan);
    const inputs = client.encryptLinearInputs(
      step,
      Array.from({ length: 3 }, (_, t) => randomVector(128, 70 + t)),
    );
    client.delete();

    const server = await createEvaluator({ plan, weights: fixtureWeights(step) });
    const keys = server.loadEvalKeys(keyBlobs);
    const first = hashOutputs(server.evaluate("replay", inputs, keys));
    expect(hashOutputs(server.evaluate("replay", inputs, keys))).to.equal(first);
    server.clearCache(); // re-encoded plaintexts must give the same bytes too
    expect(hashOutputs(server.evaluate("replay", inputs, keys))).to.equal(first);
    keys.delete();
    server.delete();

    dir = mkdtempSync(join(tmpdir(), "zkllm-replay-"));
    writeFileSync(join(dir, "plan.json"), JSON.stringify(plan));
    writeFileSync(join(dir, "keys.galois.bin"), keyBlobs.galois as Uint8Array);
    inputs.forEach((blob, i) => writeFileSync(join(dir, `input-${i}.bin`), blob));
    const script = join(__dirname, "fixtures", "replay.ts");
    const replay = (...extra: string[]) =>
      run(process.execPath, ["--require", "tsx/cjs", script, dir, ...extra], { cwd: ROOT, timeout: 90_000 });
    // Two independent processes; the second evaluates in a pool's worker thread, under tsx.
    const [a, b] = await Promise.all([replay(), replay("--pool")]);
    expect(a.stdout.trim()).to.match(/^[0-9a-f]{64}$/);
    expect(a.stdout.trim()).to.equal(b.stdout.trim());
    expect(a.stdout.trim()).to.equal(first);
  });
});
