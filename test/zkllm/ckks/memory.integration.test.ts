import { expect } from "chai";
import { createClient } from "../../../zkllm/ckks/client";
import { planLinear } from "../../../zkllm/ckks/linear";
import { getCkksContext } from "../../../zkllm/ckks/params";
import { createPlan } from "../../../zkllm/ckks/plan";
import { loadSeal } from "../../../zkllm/ckks/seal";
import { openBlob, writeBlob } from "../../../zkllm/ckks/serialize";
import { createEvaluator } from "../../../zkllm/ckks/server";
import { randomVector, randomWeight } from "./helpers";

describe("zkllm/ckks memory: every SEAL object is freed", function () {
  this.timeout(120_000);

  it("1,000 evaluate requests (good and bad) do not grow the WASM heap after warm-up", async () => {
    const paramSet = "n4096-q69";
    // Small, but with every operation: giant-step rotations, rescales, bias, two tokens.
    const step = planLinear({
      id: "small",
      paramSet,
      inFeatures: 64,
      outFeatures: 64,
      tokens: 2,
      weight: "w",
      bias: "b",
      maxCopies: 1,
      maxWindow: 4,
    });
    expect(step.estimate.rotateGiant).to.be.greaterThan(0);
    const plan = createPlan(paramSet, [step]);
    const client = await createClient({ paramSet });
    const server = await createEvaluator({
      plan,
      weights: { w: randomWeight(64, 64, "out-in", 1), b: { shape: [64], data: randomVector(64, 2) } },
    });
    const runtime = await loadSeal();
    const keys = server.loadEvalKeys(client.makeEvalKeysForPlan(plan));
    const inputs = client.encryptLinearInputs(step, [randomVector(64, 3), randomVector(64, 4)]);
    // A coefficient above the modulus behind valid headers (refused before SEAL allocates).
    const ctx = await getCkksContext(paramSet);
    const raw = Uint8Array.from(openBlob(inputs[0] as Uint8Array, "ciphertext", ctx.set));
    raw.fill(0xff, 300, 308);
    const broken = writeBlob("ciphertext", ctx.set, raw);

    const request = (i: number) => {
      if (i % 10 === 9) {
        expect(() => server.evaluate("small", [broken, ...inputs.slice(1)], keys)).to.throw(
          /outside its modulus/,
        );
      } else {
        const out = server.evaluate("small", inputs, keys);
        if (i % 100 === 0) client.decryptLinearOutputs(step, out);
      }
    };
    for (let i = 0; i < 100; i++) request(i); // warm-up: SEAL's memory pool reaches its working size
    const warm = runtime.heapBytes();
    for (let i = 0; i < 1000; i++) request(i);
    const after = runtime.heapBytes();
    expect(warm).to.be.a("number").and.greaterThan(0);
    expect(after, `heap grew from ${warm} to ${after} bytes`).to.equal(warm);
    keys.delete();
    server.delete();
    client.delete();
  });
});
