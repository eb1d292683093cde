import { expect } from "chai";
import path from "node:path";
import { type WorkItem, blobHash, decodeTokens, outputsHash, toBase64 } from "../../../protocol/gateway";
import { MinerEngine, generationEosId } from "../../../compute/miner/engine";
import { type CkksClient, createClient } from "../../../zkllm/ckks/client";
import { ZkllmInputError } from "../../../zkllm/ckks/errors";
import type { LinearPlanStep } from "../../../zkllm/ckks/linear";
import { findStep } from "../../../zkllm/ckks/plan";
import { OnnxGpt2Runner, generateGreedy, loadPlanWeights } from "../../../zkllm/evaluator";
import { loadTokenizer } from "../../../zkllm/tokenizer";
import { linearProduct, maxDiff, seededVector } from "./helpers";

const MODEL_DIR = path.resolve(__dirname, "..", "..", "..", "zkllm", "models", "brain-gpt2-tiny");
/** CKKS (n8192-q100) against float64 on the shipped model's products: ~1e-4 observed. */
const TOLERANCE = 1e-2;

/** A session's keys as the gateway serves them: blobs by hash, counting fetches. */
function blobStore(blobs: Uint8Array[]) {
  const byHash = new Map(blobs.map((b) => [blobHash(b), b]));
  const store = {
    fetches: 0,
    fetch: async (hash: string) => {
      store.fetches++;
      const b = byHash.get(hash);
      if (!b) throw new Error(`no blob ${hash}`);
      return b;
    },
  };
  return store;
}

function linearItem(
  step: LinearPlanStep,
  inputs: Uint8Array[],
  galois: string | null,
  overrides: Partial<Extract<WorkItem["job"], { kind: "linear" }>> = {},
): WorkItem {
  return {
    jobId: "job-00000001",
    lockToken: "lock-token-1",
    sessionId: "session-0001",
    job: {
      kind: "linear",
      step: step.id,
      paramSet: step.paramSet,
      keys: { galois, relin: null },
      inputs: inputs.map(toBase64),
      ...overrides,
    },
  };
}

describe("compute/miner/engine: the miner runs gateway jobs on the Brain's model", function () {
  this.timeout(180_000);
  const { plan, weights } = loadPlanWeights(MODEL_DIR);
  const step = findStep(plan.engine, "L0.qkv@1")!;
  let engine: MinerEngine;
  let client: CkksClient;
  let galois: Uint8Array;

  const product = (s: LinearPlanStep, x: Float64Array) => linearProduct(weights, s, x);

  before(async () => {
    engine = await MinerEngine.create(MODEL_DIR, { workers: 1, keyCacheSize: 1 });
    client = await createClient({ paramSet: plan.engine.paramSet });
    galois = client.makeEvalKeysForPlan(plan.engine).galois!;
  });

  after(async () => {
    await engine?.close();
    client?.delete();
  });

  it("answers a linear job with ciphertexts that decrypt to the plaintext product", async () => {
    const x = seededVector(step.inFeatures, 1);
    const store = blobStore([galois]);
    const outputs = await engine.run(
      linearItem(step, client.encryptLinearInputs(step, [x]), blobHash(galois)),
      store.fetch,
    );
    expect(outputs).to.have.length(step.outputCiphertexts);
    const [y] = client.decryptLinearOutputs(step, outputs);
    expect(maxDiff(y!, product(step, x))).to.be.below(TOLERANCE);
  });

  it("gives the same bytes for the same job twice, in this thread and in a worker pool (replays compare hashes)", async () => {
    const inputs = client.encryptLinearInputs(step, [seededVector(step.inFeatures, 2)]);
    const store = blobStore([galois]);
    const item = linearItem(step, inputs, blobHash(galois));
    const a = await engine.run(item, store.fetch);
    const b = await engine.run(item, store.fetch);
    expect(await outputsHash(b)).to.equal(await outputsHash(a));
    const pooled = await MinerEngine.create(MODEL_DIR, { workers: 2, generate: false });
    try {
      expect(await outputsHash(await pooled.run(item, store.fetch))).to.equal(await outputsHash(a));
    } finally {
      await pooled.close();
    }
  });

  it("loads a session's keys once, and reloads them after another session evicted them", async () => {
    const store = blobStore([galois]);
    const item = linearItem(step, client.encryptLinearInputs(step, [seededVector(128, 3)]), blobHash(galois));
    // A fresh engine: earlier tests' sessions must not count.
    const own = await MinerEngine.create(MODEL_DIR, { workers: 1, keyCacheSize: 1, generate: false });
    const other = await createClient({ paramSet: plan.engine.paramSet });
    try {
      await own.run(item, store.fetch);
      await own.run(item, store.fetch);
      expect(store.fetches).to.equal(1);

      const otherGalois = other.makeEvalKeysForPlan(plan.engine).galois!;
      const otherStore = blobStore([otherGalois]);
      const otherItem = linearItem(
        step,
        other.encryptLinearInputs(step, [seededVector(128, 4)]),
        blobHash(otherGalois),
      );
      const [y] = other.decryptLinearOutputs(step, await own.run(otherItem, otherStore.fetch));
      expect(maxDiff(y!, product(step, seededVector(128, 4)))).to.be.below(TOLERANCE);
      expect(own.loadedKeySessions).to.equal(1);

      // The first session's keys were released; its next job fetches them again and still works.
      const [z] = client.decryptLinearOutputs(step, await own.run(item, store.fetch));
      expect(store.fetches).to.equal(2);
      expect(maxDiff(z!, product(step, seededVector(128, 3)))).to.be.below(TOLERANCE);
    } finally {
      await own.close();
      other.delete();
    }
  });

  it("refuses an unknown step, another parameter set, a wrong input count and garbage ciphertexts, and keeps working", async () => {
    const store = blobStore([galois]);
    const inputs = client.encryptLinearInputs(step, [seededVector(128, 5)]);
    const refusal = async (item: WorkItem): Promise<ZkllmInputError> => {
      try {
        await engine.run(item, store.fetch);
      } catch (error) {
        expect(error).to.be.instanceOf(ZkllmInputError);
        return error as ZkllmInputError;
      }
      throw new Error("the job was not refused");
    };
    const hash = blobHash(galois);
    const unknown = await refusal(linearItem(step, inputs, hash, { step: "L9.qkv@1" }));
    expect(unknown.code).to.equal("UnknownPlanStep");
    expect(unknown.message).to.contain("L9.qkv@1");
    const params = await refusal(linearItem(step, inputs, hash, { paramSet: "n4096-q69" }));
    expect(params.code).to.equal("WrongParameters");
    expect(params.message).to.contain("n8192-q100");
    const count = await refusal(linearItem(step, [...inputs, ...inputs], hash));
    expect(count.code).to.equal("BadRequest");
    expect(count.message).to.contain(
      `takes ${step.inputCiphertexts} input ciphertexts; got ${2 * step.inputCiphertexts}`,
    );
    const garbage = await refusal(
      linearItem(
        step,
        inputs.map(() => new Uint8Array(64).fill(7)),
        hash,
      ),
    );
    expect(garbage.code).to.equal("MalformedBlob");

    const [y] = client.decryptLinearOutputs(
      step,
      await engine.run(linearItem(step, inputs, hash), store.fetch),
    );
    expect(maxDiff(y!, product(step, seededVector(128, 5)))).to.be.below(TOLERANCE);
  });

  it("answers a generate job with onnxruntime's greedy tokens, and refuses tokens outside the vocabulary", async () => {
    const tokens = loadTokenizer(MODEL_DIR).encode("The jury said");
    const runner = await OnnxGpt2Runner.create(path.join(MODEL_DIR, "model.onnx"), { maxPositions: 128 });
    const expected = await generateGreedy(runner.source(), tokens, {
      maxTokens: 4,
      eosId: generationEosId(MODEL_DIR),
    });
    await runner.release();
    const item: WorkItem = {
      jobId: "job-00000002",
      lockToken: "lock-token-2",
      sessionId: "session-0002",
      job: { kind: "generate", tokens, maxTokens: 4 },
    };
    const outputs = await engine.run(item, blobStore([]).fetch);
    expect(outputs).to.have.length(1);
    expect(decodeTokens(outputs[0]!)).to.deep.equal(expected);

    try {
      await engine.run(
        { ...item, job: { kind: "generate", tokens: [1, 2, 4096], maxTokens: 4 } },
        blobStore([]).fetch,
      );
      expect.fail("an out-of-vocabulary token was accepted");
    } catch (error) {
      expect(error).to.be.instanceOf(ZkllmInputError);
      // The refusal names the position, not the token id (refusals reach the gateway's logs).
      expect((error as Error).message).to.equal("Prompt token 2 is outside the model's vocabulary (0–4095).");
    }
  });

  it("with the wrong-results fault, answers look valid (they decrypt, same shape) but are wrong", async () => {
    const x = seededVector(step.inFeatures, 6);
    const store = blobStore([galois]);
    const item = linearItem(step, client.encryptLinearInputs(step, [x]), blobHash(galois));
    const honest = await engine.run(item, store.fetch);
    const wrong = await engine.run(item, store.fetch, { fault: "wrong-results" });
    expect(wrong).to.have.length(honest.length);
    expect(await outputsHash(wrong)).to.not.equal(await outputsHash(honest));
    const [y] = client.decryptLinearOutputs(step, wrong);
    expect(maxDiff(y!, product(step, x))).to.be.above(0.1);
    // It is another layer's product: a plausible answer, not noise.
    expect(maxDiff(y!, product(findStep(plan.engine, "L1.qkv@1")!, x))).to.be.below(TOLERANCE);

    const tokens = [10, 20, 30];
    const gen: WorkItem = { ...item, job: { kind: "generate", tokens, maxTokens: 3 } };
    const right = decodeTokens((await engine.run(gen, store.fetch))[0]!);
    const bad = decodeTokens((await engine.run(gen, store.fetch, { fault: "wrong-results" }))[0]!);
    expect(bad).to.have.length(right.length);
    expect(bad).to.not.deep.equal(right);
    expect(bad.every((t) => t >= 0 && t < 4096)).to.equal(true);
  });

  it("a plain-mode engine refuses encrypted jobs with a clear reason", async () => {
    const plain = await MinerEngine.create(MODEL_DIR, { linear: false });
    try {
      const item = linearItem(
        step,
        client.encryptLinearInputs(step, [seededVector(128, 7)]),
        blobHash(galois),
      );
      await plain.run(item, blobStore([galois]).fetch).then(
        () => expect.fail("accepted"),
        (error: Error) => expect(error.message).to.contain("plain mode"),
      );
      expect(plain.info).to.include({ linear: false, generate: true, paramSet: null });
    } finally {
      await plain.close();
    }
  });
});
