import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { createClient } from "../../zkllm/ckks/client";
import { createEvaluator } from "../../zkllm/ckks/server";
import { SQUEEZE_DEFAULT, SQUEEZE_LOSSY, convertModel, planModel } from "../../zkllm/convert";
import { HELDOUT_DOCUMENTS, tokenWindows } from "../../zkllm/data/brown";
import { generateIds } from "../../zkllm/generate";
import { readPlan } from "../../zkllm/model-dir";
import { loadCheckpoint, saveCheckpoint, sha256OfFile } from "../../zkllm/model/files";
import { Gpt2Forward } from "../../zkllm/model/forward";
import { randomCheckpoint } from "../../zkllm/model/random-checkpoint";
import { encryptedBackend } from "../../zkllm/hybrid/encrypted-backend";
import { serverWeights } from "../../zkllm/hybrid/engine-plan";
import { HybridSession } from "../../zkllm/hybrid/session";
import { evaluateQuality } from "../../zkllm/calibrate";
import { loadTokenizer } from "../../zkllm/tokenizer";
import { planLossiness, splitForPlan } from "../../zkllm/zkllm-plan";
import { PROMPTS, SHIPPED_MODEL_DIR, maxAbsDiff } from "./model/helpers";

/**
 * The ZK-LLM end to end on the shipped model: the client session encrypts, the evaluator works on
 * ciphertexts only, and the answer must be the one plaintext inference (onnxruntime) gives.
 */
describe("zkllm: encrypted generation on the shipped model", function () {
  this.timeout(600_000);
  const ckpt = loadCheckpoint(SHIPPED_MODEL_DIR);
  const tokenizer = loadTokenizer(SHIPPED_MODEL_DIR);
  const prompts = PROMPTS.map((p) => tokenizer.encode(p));
  const modelSha = sha256OfFile(path.join(SHIPPED_MODEL_DIR, "model.safetensors"));

  it("with the shipped plan, encrypted greedy equals onnxruntime greedy on 20 prompts × 16 tokens", async () => {
    expect(prompts).to.have.length(20);
    const shipped = readPlan(SHIPPED_MODEL_DIR);
    // The shipped plan is lossless by construction: fusion only, every head, no quantization.
    expect(planLossiness(shipped)).to.deep.equal({ lossy: false, reasons: [] });
    const plain = await generateIds(SHIPPED_MODEL_DIR, prompts, { mode: "plain", maxTokens: 16 });
    expect(plain.ids.every((ids) => ids.length === 16)).to.equal(true);
    // (Squeezing off, with per-head products, is checked against plaintext logits below.)
    const encrypted = await generateIds(SHIPPED_MODEL_DIR, prompts, {
      mode: "encrypted",
      maxTokens: 16,
      plan: shipped,
    });
    expect(encrypted.ids).to.deep.equal(plain.ids);
    expect(encrypted.encrypted!.actionsPerToken.encrypt).to.be.greaterThan(0);
    expect(encrypted.encrypted!.actionsPerToken.multiplyPlain).to.be.greaterThan(0);
  });

  it("lossy squeezing is opt-in: its plan records its measured agreement (≥ 97 %), and the perplexity change is small", async () => {
    const calibration = tokenWindows((t) => tokenizer.encode(t), HELDOUT_DOCUMENTS, 32, 4);
    const plan = await planModel(ckpt, modelSha, SQUEEZE_LOSSY, calibration);
    const lossiness = planLossiness(plan);
    expect(lossiness.lossy).to.equal(true);
    expect(lossiness.reasons).to.include("256-level activation quantization");
    expect(lossiness.agreement).to.be.a("number").and.to.be.at.least(0.9);
    const sequences = tokenWindows((t) => tokenizer.encode(t), HELDOUT_DOCUMENTS, 128, 8);
    const quality = await evaluateQuality(ckpt, sequences, {
      fuse: plan.squeeze.fuse,
      keptHeads: plan.squeeze.heads?.kept,
      session: plan.squeeze.quantize ? { quantize: plan.squeeze.quantize } : {},
    });
    expect(quality.top1Agreement).to.be.at.least(0.97);
    expect(Math.abs(quality.perplexity / quality.baselinePerplexity - 1)).to.be.below(0.02);

    // And on ciphertexts: the squeezed encrypted generation agrees with plaintext greedy.
    const sample = prompts.slice(0, 6);
    const encrypted = await generateIds(SHIPPED_MODEL_DIR, sample, {
      mode: "encrypted",
      maxTokens: 16,
      plan,
    });
    const plain = await generateIds(SHIPPED_MODEL_DIR, sample, { mode: "plain", maxTokens: 16 });
    let same = 0;
    let total = 0;
    encrypted.ids.forEach((ids, i) =>
      ids.forEach((id, t) => {
        total++;
        // Count agreement up to the first divergence of each sequence (later tokens condition on it).
        if (ids.slice(0, t + 1).every((v, j) => v === plain.ids[i]![j])) same++;
      }),
    );
    expect(same / total).to.be.at.least(0.9);
  });

  it("fusion keeps the logits equal to plaintext within CKKS error, with fewer homomorphic actions", async () => {
    const ids = prompts[3]!;
    const expected = new Gpt2Forward(ckpt).forward(ids).subarray((ids.length - 1) * ckpt.config.vocab_size);
    const actions: number[] = [];
    for (const fuse of [false, true]) {
      const plan = await planModel(ckpt, modelSha, { fuse, quantize: null, heads: null }, []);
      const split = splitForPlan(ckpt, plan);
      const client = await createClient({ paramSet: plan.engine.paramSet });
      const evaluator = await createEvaluator({ plan: plan.engine, weights: serverWeights(split.server) });
      const keys = evaluator.loadEvalKeys(client.makeEvalKeysForPlan(plan.engine));
      const backend = encryptedBackend(client, plan.engine, async (id, inputs) =>
        evaluator.evaluate(id, inputs, keys),
      );
      const logits = await new HybridSession(split.client, backend).step(ids);
      expect(maxAbsDiff(logits, expected), `fuse=${fuse}`).to.be.below(1e-3);
      const counts = { ...client.actions.snapshot() };
      const server = evaluator.actions.snapshot();
      actions.push(
        Object.values(counts).reduce((a, b) => a + b, 0) + Object.values(server).reduce((a, b) => a + b, 0),
      );
      keys.delete();
      evaluator.delete();
      client.delete();
    }
    expect(actions[1]).to.be.below(actions[0]!);
  });

  it("`based model convert` round trip: the shipped model, re-planned, is the shipped plan", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "zkllm-convert-"));
    try {
      const shipped = await convertModel(SHIPPED_MODEL_DIR, path.join(out, "tiny"), {
        squeeze: SQUEEZE_DEFAULT,
      });
      expect(shipped.onnxMaxAbsDiff).to.be.below(1e-3);
      expect(readPlan(path.join(out, "tiny")).engine.steps.length).to.equal(shipped.planSteps);
      const plain = await generateIds(path.join(out, "tiny"), [prompts[0]!], { mode: "plain", maxTokens: 4 });
      expect(plain.ids[0]).to.have.length(4);

      // Converting the shipped checkpoint again gives the shipped plan: the committed plan is what
      // the converter makes today (re-plan it with `based model convert` after changing the planner).
      expect(fs.readFileSync(path.join(out, "tiny", "zkllm-plan.json"), "utf8")).to.equal(
        fs.readFileSync(path.join(SHIPPED_MODEL_DIR, "zkllm-plan.json"), "utf8"),
      );
      // A plan belongs to its weights: swapping the checkpoint is refused.
      const other = path.join(out, "other");
      saveCheckpoint(
        other,
        randomCheckpoint({ nLayer: 2, nEmbd: 128, nHead: 4, vocabSize: 4096, nPositions: 128, seed: 5 }),
      );
      fs.copyFileSync(path.join(other, "model.safetensors"), path.join(out, "tiny", "model.safetensors"));
      expect(() => readPlan(path.join(out, "tiny"))).to.throw(/other weights/);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
