import { expect } from "chai";
import { availableParallelism } from "node:os";
import { createActionCounter } from "../../../zkllm/ckks/actions";
import { createClient } from "../../../zkllm/ckks/client";
import { ZkllmInputError } from "../../../zkllm/ckks/errors";
import { outputOwners, planLinear } from "../../../zkllm/ckks/linear";
import { createPlan } from "../../../zkllm/ckks/plan";
import { createEvaluatorPool } from "../../../zkllm/ckks/pool";
import { createEvaluator } from "../../../zkllm/ckks/server";
import { randomVector, randomWeight } from "./helpers";

describe("zkllm/ckks pool: worker threads give the single-thread bytes", function () {
  this.timeout(120_000);

  it("pooled results (whole and split requests) equal serial results byte for byte", async () => {
    const paramSet = "n8192-q100";
    const qkv = planLinear({
      id: "qkv",
      paramSet,
      inFeatures: 128,
      outFeatures: 384,
      tokens: 3,
      weight: "w",
      bias: "b",
    });
    const down = planLinear({
      id: "down",
      paramSet,
      inFeatures: 256,
      outFeatures: 64,
      tokens: 1,
      weight: "d",
    });
    const plan = createPlan(paramSet, [qkv, down]);
    const weights = {
      w: randomWeight(384, 128, "out-in", 1),
      b: { shape: [384], data: randomVector(384, 2) },
      d: randomWeight(64, 256, "out-in", 3),
    };
    const client = await createClient({ paramSet });
    const keyBlobs = client.makeEvalKeysForPlan(plan);
    const requests = [
      {
        step: "qkv",
        inputs: client.encryptLinearInputs(
          qkv,
          [1, 2, 3].map((s) => randomVector(128, s)),
        ),
      },
      {
        step: "qkv",
        inputs: client.encryptLinearInputs(
          qkv,
          [4, 5, 6].map((s) => randomVector(128, s)),
        ),
      },
      { step: "down", inputs: client.encryptLinearInputs(down, [randomVector(256, 7)]) },
    ];
    const server = await createEvaluator({ plan, weights });
    const keys = server.loadEvalKeys(keyBlobs);
    const serial = requests.map((r) => server.evaluate(r.step, r.inputs, keys));
    const serialActions = server.actions.snapshot();
    keys.delete();
    server.delete();

    const pool = createEvaluatorPool({ plan, weights, size: 2 });
    try {
      expect(pool.size).to.equal(2);
      const keysId = await pool.registerKeys(keyBlobs);
      await pool.prepare();
      const actions = createActionCounter();
      const [whole, split] = await Promise.all([
        Promise.all(requests.map((r) => pool.evaluate(r.step, r.inputs, keysId, { actions }))),
        Promise.all(requests.map((r) => pool.evaluate(r.step, r.inputs, keysId))),
      ]);
      for (const results of [whole, split]) {
        results.forEach((outputs, i) => {
          const expected = serial[i] as Uint8Array[];
          expect(outputs).to.have.length(expected.length);
          outputs.forEach((o, j) =>
            expect(Buffer.compare(o, expected[j] as Uint8Array), `${i}.${j}`).to.equal(0),
          );
        });
      }
      expect(actions.snapshot().multiplyPlain).to.equal(
        2 * qkv.estimate.multiplyPlain + down.estimate.multiplyPlain,
      );
      // The workers share the baby-step rotations: the pool rotates exactly as often as one thread.
      expect(qkv.estimate.rotate).to.be.greaterThan(0);
      expect(new Set(outputOwners(qkv, 2)).size).to.equal(2);
      expect(actions.snapshot().rotate).to.equal(serialActions.rotate);
      // Both workers did work (the split requests alone guarantee it).
      const stats = await pool.stats();
      expect(stats).to.have.length(2);
      for (const s of stats) expect(s.actions.multiplyPlain).to.be.greaterThan(0);

      // Bad input through the pool: a typed error, then the pool keeps serving.
      const failure = await pool.evaluate("qkv", [new Uint8Array(3)], keysId).catch((e: unknown) => e);
      expect(failure).to.be.instanceOf(ZkllmInputError);
      expect((failure as ZkllmInputError).code).to.equal("TruncatedBlob");
      const unknown = await pool.evaluate("nope", [], keysId).catch((e: unknown) => e);
      expect((unknown as ZkllmInputError).code).to.equal("UnknownPlanStep");
      const again = await pool.evaluate("down", requests[2]?.inputs ?? [], keysId);
      expect(Buffer.compare(again[0] as Uint8Array, serial[2]?.[0] as Uint8Array)).to.equal(0);
      await pool.releaseKeys(keysId);
      const released = await pool
        .evaluate("down", requests[2]?.inputs ?? [], keysId)
        .catch((e: unknown) => e);
      expect((released as ZkllmInputError).code).to.equal("BadRequest");
    } finally {
      await pool.close();
      client.delete();
    }
  });

  it("defaults to one worker per core", async () => {
    const plan = createPlan("n4096-q69", []);
    const pool = createEvaluatorPool({ plan, weights: {} });
    expect(pool.size).to.equal(availableParallelism());
    expect(await pool.stats()).to.have.length(availableParallelism());
    await pool.close();
  });
});
