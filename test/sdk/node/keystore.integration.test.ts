import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { type LinearPlanStep, planLinear } from "../../../zkllm/ckks/linear";
import { type EnginePlan, createPlan } from "../../../zkllm/ckks/plan";
import { createEvaluator } from "../../../zkllm/ckks/server";
import { BasedError } from "../../../sdk/errors";
import { evalKeysId, openKeystore } from "../../../sdk/node/keystore";
import { runNode, tempDir } from "../../helpers/processes";

const PARAM_SET = "n4096-q69" as const;
/** These tests are about a kept key set (the "never" policy; rotation: keystore-rotation.test.ts). */
const KEPT = { rotation: "never" } as const;
const IN = 128;
const OUT = 64;

/** A one-step plan small enough for fast keys; `babySteps` changes its rotations (another key set). */
function smallPlan(babySteps?: number): { plan: EnginePlan; step: LinearPlanStep } {
  const step = planLinear({
    id: "w@1",
    paramSet: PARAM_SET,
    inFeatures: IN,
    outFeatures: OUT,
    tokens: 1,
    weight: "w",
    bias: null,
    weightLayout: "in-out",
    ...(babySteps ? { babySteps } : {}),
  });
  return { plan: createPlan(PARAM_SET, [step]), step };
}

const WEIGHT = Float32Array.from({ length: IN * OUT }, (_, i) => ((i * 7) % 13) / 20 - 0.3);
const X = Float64Array.from({ length: IN }, (_, i) => (i % 5) / 4 - 0.5);
const expected = Array.from({ length: OUT }, (_, j) => {
  let s = 0;
  for (let i = 0; i < IN; i++) s += X[i]! * WEIGHT[i * OUT + j]!;
  return s;
});

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const mode = (p: string) => fs.statSync(p).mode & 0o777;

async function refusal(run: () => Promise<unknown>): Promise<BasedError> {
  try {
    await run();
  } catch (err) {
    expect(err).to.be.instanceOf(BasedError);
    return err as BasedError;
  }
  throw new Error("expected a refusal");
}

describe("sdk/keystore: the user's CKKS keys, made once and kept locally", function () {
  this.timeout(120_000);
  const dirs: string[] = [];
  const fresh = () => {
    const d = tempDir("based-keystore");
    dirs.push(d);
    return path.join(d, "keys");
  };
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it("a key made by one process decrypts, after reloading in another, what the first one encrypted", async () => {
    const dir = fresh();
    // The first process: makes the keys, encrypts, prints the ciphertexts and its key hashes.
    const child = `
      const { openKeystore } = require("./sdk/node/keystore");
      const { planLinear } = require("./zkllm/ckks/linear");
      const { createPlan } = require("./zkllm/ckks/plan");
      const { createHash } = require("node:crypto");
      (async () => {
        const step = planLinear({ id: "w@1", paramSet: "${PARAM_SET}", inFeatures: ${IN}, outFeatures: ${OUT},
          tokens: 1, weight: "w", bias: null, weightLayout: "in-out" });
        const ks = await openKeystore(process.env.DIR, "${PARAM_SET}", createPlan("${PARAM_SET}", [step]), { rotation: "never" });
        const x = ${JSON.stringify(Array.from(X))};
        const inputs = ks.client.encryptLinearInputs(step, [x]).map((b) => Buffer.from(b).toString("base64"));
        const galois = createHash("sha256").update(ks.evalKeys.galois).digest("hex");
        process.stdout.write(JSON.stringify({ created: ks.created, inputs, galois }));
        ks.client.delete();
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const run = await runNode(["--require", "tsx/cjs", "-e", child], { DIR: dir }, 90_000);
    expect(run.status, run.stderr).to.equal(0);
    const first = JSON.parse(run.stdout) as { created: boolean; inputs: string[]; galois: string };
    expect(first.created).to.equal(true);

    // This process: reloads the same keys (nothing new made) and decrypts the server's answer.
    const { plan, step } = smallPlan();
    const ks = await openKeystore(dir, PARAM_SET, plan, KEPT);
    expect(ks.created).to.equal(false);
    expect(sha(ks.evalKeys.galois!)).to.equal(first.galois);
    const evaluator = await createEvaluator({ plan, weights: { w: { shape: [IN, OUT], data: WEIGHT } } });
    const keys = evaluator.loadEvalKeys(ks.evalKeys);
    const outputs = evaluator.evaluate(
      step.id,
      first.inputs.map((b) => new Uint8Array(Buffer.from(b, "base64"))),
      keys,
    );
    const [y] = ks.client.decryptLinearOutputs(step, outputs);
    y!.forEach((v, j) => expect(Math.abs(v - expected[j]!)).to.be.below(1e-2));
    keys.delete();
    evaluator.delete();
    ks.client.delete();

    // A fresh key (another keystore) cannot read them: the answer is noise, not W·x.
    const other = await openKeystore(fresh(), PARAM_SET, plan, KEPT);
    const [z] = other.client.decryptLinearOutputs(step, outputs);
    expect(z!.some((v, j) => Math.abs(v - expected[j]!) > 1)).to.equal(true);
    other.client.delete();
  });

  it("evaluation keys are made once and reused byte for byte; another rotation set gets its own file", async () => {
    const dir = fresh();
    const { plan } = smallPlan();
    const a = await openKeystore(dir, PARAM_SET, plan, KEPT);
    const b = await openKeystore(dir, PARAM_SET, plan, KEPT);
    expect(a.created).to.equal(true);
    expect(b.created).to.equal(false);
    expect(Buffer.from(b.evalKeys.galois!).equals(Buffer.from(a.evalKeys.galois!))).to.equal(true);
    expect(b.evalKeys.relin).to.equal(undefined);
    // Galois keys are randomized: the same client making them again gives other bytes.
    const again = a.client.makeEvalKeysForPlan(plan);
    expect(Buffer.from(again.galois!).equals(Buffer.from(a.evalKeys.galois!))).to.equal(false);

    const other = smallPlan(2).plan;
    expect(evalKeysId(other)).not.to.equal(evalKeysId(plan));
    const c = await openKeystore(dir, PARAM_SET, other, KEPT);
    expect(c.created).to.equal(false);
    const keyDir = path.join(dir, PARAM_SET);
    expect(fs.readdirSync(keyDir).sort()).to.deep.equal(
      [
        "secret.key",
        "uses.json",
        `eval-${evalKeysId(plan)}.galois`,
        `eval-${evalKeysId(plan)}.json`,
        `eval-${evalKeysId(other)}.galois`,
        `eval-${evalKeysId(other)}.json`,
      ].sort(),
    );
    const d = await openKeystore(dir, PARAM_SET, plan, KEPT);
    expect(Buffer.from(d.evalKeys.galois!).equals(Buffer.from(a.evalKeys.galois!))).to.equal(true);
    for (const k of [a, b, c, d]) k.client.delete();
  });

  it("the folder is 0700 and every file 0600; loosened permissions are tightened again", async () => {
    const dir = fresh();
    const { plan } = smallPlan();
    (await openKeystore(dir, PARAM_SET, plan, KEPT)).client.delete();
    const keyDir = path.join(dir, PARAM_SET);
    expect(mode(dir)).to.equal(0o700);
    expect(mode(keyDir)).to.equal(0o700);
    for (const f of fs.readdirSync(keyDir)) expect(mode(path.join(keyDir, f)), f).to.equal(0o600);
    fs.chmodSync(path.join(keyDir, "secret.key"), 0o644);
    fs.chmodSync(keyDir, 0o755);
    (await openKeystore(dir, PARAM_SET, plan, KEPT)).client.delete();
    expect(mode(path.join(keyDir, "secret.key"))).to.equal(0o600);
    expect(mode(keyDir)).to.equal(0o700);
  });

  it("a damaged secret key or evaluation-key file is refused with a hint to delete the folder", async () => {
    const dir = fresh();
    const { plan } = smallPlan();
    const first = await openKeystore(dir, PARAM_SET, plan, KEPT);
    first.client.delete();
    const keyDir = path.join(dir, PARAM_SET);
    const secret = path.join(keyDir, "secret.key");
    const good = fs.readFileSync(secret);

    const damage = async (file: string, bytes: Uint8Array, why: RegExp) => {
      const before = fs.readFileSync(file);
      fs.writeFileSync(file, bytes);
      const err = await refusal(() => openKeystore(dir, PARAM_SET, plan, KEPT));
      expect(err.code).to.equal("KeystoreCorrupt");
      expect(err.kind).to.equal("environment");
      expect(err.message).to.contain(file).and.to.match(why);
      expect(err.hint).to.contain(`Delete the folder ${keyDir}`);
      fs.writeFileSync(file, before);
    };
    const flipped = Buffer.from(good);
    flipped[good.length - 100]! ^= 0x01;
    await damage(secret, flipped, /checksum/);
    await damage(secret, good.subarray(0, 1000), /header|length|declares/);
    await damage(secret, Buffer.from("not a key"), /shorter|magic/);
    const galois = path.join(keyDir, `eval-${evalKeysId(plan)}.galois`);
    const g = fs.readFileSync(galois);
    const flippedG = Buffer.from(g);
    flippedG[g.length >> 1]! ^= 0x80;
    await damage(galois, flippedG, /checksum/);
    await damage(path.join(keyDir, `eval-${evalKeysId(plan)}.json`), Buffer.from("{ nope"), /manifest/);

    // Restored files work again, and after deleting the folder (the hint) new keys are made.
    const restored = await openKeystore(dir, PARAM_SET, plan, KEPT);
    expect(restored.created).to.equal(false);
    expect(Buffer.from(restored.evalKeys.galois!).equals(Buffer.from(first.evalKeys.galois!))).to.equal(true);
    restored.client.delete();
    fs.rmSync(keyDir, { recursive: true });
    const remade = await openKeystore(dir, PARAM_SET, plan, KEPT);
    expect(remade.created).to.equal(true);
    remade.client.delete();
  });

  it("a new secret key never reuses evaluation keys made with the old one", async () => {
    const dir = fresh();
    const { plan } = smallPlan();
    const a = await openKeystore(dir, PARAM_SET, plan, KEPT);
    a.client.delete();
    fs.rmSync(path.join(dir, PARAM_SET, "secret.key"));
    const b = await openKeystore(dir, PARAM_SET, plan, KEPT);
    expect(b.created).to.equal(true);
    expect(Buffer.from(b.evalKeys.galois!).equals(Buffer.from(a.evalKeys.galois!))).to.equal(false);
    b.client.delete();
    const c = await openKeystore(dir, PARAM_SET, plan, KEPT);
    expect(Buffer.from(c.evalKeys.galois!).equals(Buffer.from(b.evalKeys.galois!))).to.equal(true);
    c.client.delete();
  });

  it("refuses a plan of another parameter set (its folder comes from sdk/config.ts keystoreDir)", async () => {
    const { plan } = smallPlan();
    const err = await refusal(() => openKeystore(fresh(), "n8192-q100", plan, KEPT));
    expect(err.code).to.equal("WrongParameters");
  });
});
