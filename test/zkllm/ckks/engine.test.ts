import { expect } from "chai";
import { emptyActions, totalActions } from "../../../zkllm/ckks/actions";
import { createClient } from "../../../zkllm/ckks/client";
import { ZkllmInputError } from "../../../zkllm/ckks/errors";
import { planLinear, type LinearPlanStep, type Tensor, type WeightLayout } from "../../../zkllm/ckks/linear";
import { galoisElementForStep, getCkksContext, type ParamSetId } from "../../../zkllm/ckks/params";
import { createPlan, planRotations } from "../../../zkllm/ckks/plan";
import {
  BLOB_HEADER_BYTES,
  loadCiphertext,
  readBlobHeader,
  saveCiphertext,
  sealCiphertextBytes,
} from "../../../zkllm/ckks/serialize";
import { createEvaluator } from "../../../zkllm/ckks/server";
import { matvec, maxAbsDiff, randomVector, randomWeight } from "./helpers";

/**
 * Error bounds per parameter set, for |x| ≤ 2, |w| ≤ 0.1, |b| ≤ 1 (GPT-2-like magnitudes); they
 * hold with a wide margin (measured maxima: ~1e-6, ~2e-4 and ~7e-4 respectively).
 */
const BOUND: Record<ParamSetId, number> = { "n8192-q100": 1e-5, "n8192-q60": 1e-3, "n4096-q69": 5e-3 };

type Case = { id: string; inF: number; out: number; tokens: number; layout?: WeightLayout; rows?: number[] };

const CASES: Case[] = [
  { id: "square", inF: 128, out: 128, tokens: 1 },
  { id: "qkv", inF: 128, out: 384, tokens: 1 },
  { id: "down", inF: 512, out: 128, tokens: 1 },
  { id: "multi", inF: 128, out: 384, tokens: 5 },
  { id: "conv1d", inF: 96, out: 200, tokens: 3, layout: "in-out" },
  { id: "heads", inF: 64, out: 192, tokens: 2, rows: [0, 1, 2, 3, 64, 65, 66, 67, 128, 129] },
];

describe("zkllm/ckks engine: encrypted W·x + b with SEAL", function () {
  this.timeout(120_000);

  it("encrypt/decrypt round trip keeps every slot (N=8192 and N=4096)", async () => {
    for (const paramSet of ["n8192-q100", "n8192-q60", "n4096-q69"] as const) {
      const client = await createClient({ paramSet });
      const values = randomVector(client.slots, 1, 3);
      const decrypted = client.decryptSlots(
        // Encrypted inputs are seeded and at level 0: re-save them as a server would return them.
        reencodeAsOutput(await getCkksContext(paramSet), client.encryptSlots(values)),
      );
      expect(decrypted.length).to.equal(client.slots);
      expect(maxAbsDiff([decrypted], [values]), paramSet).to.be.lessThan(
        paramSet === "n8192-q100" ? 1e-8 : 1e-4,
      );
      expect(client.actions.snapshot()).to.include({ encode: 1, encrypt: 1, decrypt: 1 });
      client.delete();
    }
  });

  for (const paramSet of ["n8192-q100", "n8192-q60", "n4096-q69"] as const) {
    it(`${paramSet}: matches plain W·x + b within ${BOUND[paramSet]} (square, non-square, multi-token, Conv1D, row subsets)`, async () => {
      const weights: Record<string, Tensor> = {};
      const steps = CASES.map((c, k) => {
        const layout = c.layout ?? "out-in";
        weights[`${c.id}.w`] = randomWeight(c.out, c.inF, layout, 100 + k);
        weights[`${c.id}.b`] = { shape: [c.out], data: randomVector(c.out, 200 + k, 0.5) };
        return planLinear({
          id: c.id,
          paramSet,
          inFeatures: c.inF,
          outFeatures: c.out,
          tokens: c.tokens,
          weight: `${c.id}.w`,
          bias: `${c.id}.b`,
          weightLayout: layout,
          rows: c.rows,
        });
      });
      const plan = createPlan(paramSet, steps);
      const client = await createClient({ paramSet });
      const server = await createEvaluator({ plan, weights });
      const keys = server.loadEvalKeys(client.makeEvalKeysForPlan(plan));
      try {
        for (const [k, step] of steps.entries()) {
          const c = CASES[k] as Case;
          const x = Array.from({ length: c.tokens }, (_, t) => randomVector(c.inF, 300 + 10 * k + t, 1));
          const before = server.actions.snapshot();
          const outputs = server.evaluate(step.id, client.encryptLinearInputs(step, x), keys);
          expect(outputs).to.have.length(step.outputCiphertexts);
          const y = client.decryptLinearOutputs(step, outputs);
          const expected = matvec(
            weights[`${c.id}.w`] as Tensor,
            c.layout ?? "out-in",
            weights[`${c.id}.b`],
            x,
            c.rows,
          );
          expect(y).to.have.length(c.tokens);
          expect(maxAbsDiff(y, expected), `${paramSet} ${c.id}`).to.be.lessThan(BOUND[paramSet]);
          // The actions counted match the plan's estimate of the schedule.
          const after = server.actions.snapshot();
          expect(after.multiplyPlain - before.multiplyPlain, c.id).to.equal(step.estimate.multiplyPlain);
          expect(after.rotate - before.rotate, c.id).to.equal(
            step.estimate.rotate + step.estimate.rotateGiant,
          );
          expect(after.rescale - before.rescale, c.id).to.equal(step.estimate.rescale);
        }
      } finally {
        keys.delete();
        server.delete();
        client.delete();
      }
    });
  }

  it("evaluation keys hold exactly the plan's rotations; a step needing another one fails clearly", async () => {
    const paramSet = "n8192-q100";
    const wide = planLinear({
      id: "wide",
      paramSet,
      inFeatures: 128,
      outFeatures: 128,
      tokens: 1,
      weight: "w",
      babySteps: 4,
      maxCopies: 1,
      maxWindow: 16,
    });
    const plan = createPlan(paramSet, [wide]);
    const weights = { w: randomWeight(128, 128, "out-in", 5) };
    const client = await createClient({ paramSet });
    const server = await createEvaluator({ plan, weights });
    const full = server.loadEvalKeys(client.makeEvalKeysForPlan(plan));
    const expectedElements = planRotations(plan).map((s) => galoisElementForStep(s, 8192));
    expect([...full.galoisElements].sort((a, b) => a - b)).to.deep.equal(
      expectedElements.sort((a, b) => a - b),
    );
    expect(full.hasRelinearization).to.equal(false);

    const partial = server.loadEvalKeys(client.makeEvalKeys(wide.rotations.slice(0, 1)));
    const inputs = client.encryptLinearInputs(wide, [randomVector(128, 9)]);
    expect(() => server.evaluate("wide", inputs, partial))
      .to.throw(ZkllmInputError, /lack/)
      .with.property("code", "MissingRotationKey");
    // With the right keys the same request succeeds.
    expect(server.evaluate("wide", inputs, full)).to.have.length(wide.outputCiphertexts);
    for (const k of [full, partial]) k.delete();
    server.delete();
    client.delete();
  });

  it("ciphertexts round-trip through blobs byte for byte, with a checked header", async () => {
    const ctx = await getCkksContext("n8192-q100");
    const client = await createClient({ paramSet: "n8192-q100" });
    const blob = client.encryptSlots([1, 2, 3]);
    const header = readBlobHeader(blob);
    expect(header.kind).to.equal("ciphertext");
    expect(header.paramSet.id).to.equal("n8192-q100");
    expect(header.rawLength).to.equal(sealCiphertextBytes(8192, 2, true));
    expect(blob.length).to.equal(BLOB_HEADER_BYTES + header.payloadLength);
    const ct = loadCiphertext(ctx, blob, { seeded: "required" });
    const again = saveCiphertext(ctx, ct);
    const ct2 = loadCiphertext(ctx, again, { seeded: "forbidden" });
    expect(Buffer.compare(saveCiphertext(ctx, ct2), again)).to.equal(0);
    expect(readBlobHeader(again).rawLength).to.equal(sealCiphertextBytes(8192, 2, false));
    ct.delete();
    ct2.delete();
    client.delete();
  });

  it("counts client and server actions per request", async () => {
    const paramSet = "n4096-q69";
    const step: LinearPlanStep = planLinear({
      id: "s",
      paramSet,
      inFeatures: 64,
      outFeatures: 64,
      tokens: 2,
      weight: "w",
      bias: "b",
    });
    const plan = createPlan(paramSet, [step]);
    const client = await createClient({ paramSet });
    const server = await createEvaluator({
      plan,
      weights: {
        w: randomWeight(64, 64, "out-in", 1),
        b: { shape: [64], data: new Float32Array(64).fill(0.25) },
      },
    });
    const keys = server.loadEvalKeys(client.makeEvalKeysForPlan(plan));
    server.prepare("s");
    const encodesForPlaintexts = server.actions.snapshot().encode;
    expect(encodesForPlaintexts).to.equal(step.estimate.multiplyPlain + step.outputs.length);
    const perRequest = { ...emptyActions() };
    const counter = {
      count: (k: keyof typeof perRequest, n = 1) => (perRequest[k] += n),
      snapshot: () => ({ ...perRequest }),
      reset: () => undefined,
    };
    const outputs = server.evaluate(
      "s",
      client.encryptLinearInputs(step, [randomVector(64, 1), randomVector(64, 2)]),
      keys,
      {
        actions: counter,
      },
    );
    client.decryptLinearOutputs(step, outputs);
    expect(perRequest.multiplyPlain).to.equal(step.estimate.multiplyPlain);
    expect(perRequest.addPlain).to.equal(step.estimate.addPlain);
    expect(perRequest.encode).to.equal(0); // plaintexts were cached by prepare()
    expect(totalActions(perRequest)).to.be.greaterThan(0);
    expect(client.actions.snapshot()).to.include({
      encrypt: step.inputCiphertexts,
      decrypt: step.outputCiphertexts,
    });
    keys.delete();
    server.delete();
    client.delete();
  });
});

/** Loads a client blob as a server would and saves it back (unseeded), so decryptSlots accepts it. */
function reencodeAsOutput(ctx: Awaited<ReturnType<typeof getCkksContext>>, blob: Uint8Array): Uint8Array {
  const ct = loadCiphertext(ctx, blob, { seeded: "required" });
  try {
    if (ctx.set.rescale) {
      // Outputs of rescaling sets live one level down; a mod-switch keeps the values.
      ctx.evaluator.cipherModSwitchToNext(ct, ct);
    }
    return saveCiphertext(ctx, ct);
  } finally {
    ct.delete();
  }
}
