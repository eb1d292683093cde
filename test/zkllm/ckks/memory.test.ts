import { expect } from "chai";
import { createClient } from "../../../zkllm/ckks/client";
import {
  MAX_MEMORY_BUDGET,
  ModelMemoryError,
  checkMemoryFit,
  formatBytes,
  parseBytes,
  workersToCache,
} from "../../../zkllm/ckks/memory";
import {
  checkLinearStep,
  linearRotationUnits,
  outputOwners,
  rotationShares,
  outputPlaintextBytes,
  planLinear,
  plaintextShareKey,
} from "../../../zkllm/ckks/linear";
import { createPlan, planMemory } from "../../../zkllm/ckks/plan";
import { createEvaluatorPool } from "../../../zkllm/ckks/pool";
import { createEvaluator } from "../../../zkllm/ckks/server";
import { encryptedBackend } from "../../../zkllm/hybrid/encrypted-backend";
import { randomVector, randomWeight } from "./helpers";

const paramSet = "n8192-q100" as const;
const MiB = 1024 ** 2;

/** One 384×256 product planned for 4 workers, as a generation step and a T = 1 prompt step. */
function sharedPlan() {
  const base = {
    paramSet,
    inFeatures: 256,
    outFeatures: 384,
    weight: "w",
    bias: null,
    weightLayout: "in-out" as const,
    parallelism: 4,
    maxTokensPerCiphertext: 1,
  };
  const one = planLinear({ ...base, id: "p@1", tokens: 1 });
  const four = planLinear({ ...base, id: "p@4", tokens: 4 });
  return { one, four, plan: createPlan(paramSet, [one, four]) };
}

const weights = { w: randomWeight(384, 256, "in-out", 11) };

describe("zkllm/ckks memory: bounded plaintext caches, shared layouts, sharded pools", function () {
  this.timeout(120_000);

  it("a T = 1 prompt step shares the generation step's plaintexts; the plan counts them once", () => {
    const { one, four, plan } = sharedPlan();
    expect(one.outputs.length).to.be.at.least(2);
    expect(four.layout.tokensPerCiphertext).to.equal(1);
    expect(plaintextShareKey(four)).to.equal(plaintextShareKey(one));
    expect(four.memory).to.deep.equal(one.memory);
    expect(planMemory(plan, 1).totalBytes).to.equal(one.memory.bytes);
    // Interleaving the 4 rows (no bound on T) multiplies the plaintexts.
    const interleaved = planLinear({
      id: "i@4",
      paramSet,
      inFeatures: 256,
      outFeatures: 384,
      tokens: 4,
      weight: "w",
      weightLayout: "in-out",
      parallelism: 4,
    });
    expect(interleaved.layout.tokensPerCiphertext).to.equal(4);
    expect(plaintextShareKey(interleaved)).to.not.equal(plaintextShareKey(one));
    expect(interleaved.memory.bytes).to.be.at.least(3 * one.memory.bytes);
  });

  it("output owners: deterministic, every output once, every worker busy when there are enough outputs", () => {
    const { one } = sharedPlan();
    for (const workers of [1, 2, 3, 4, 16]) {
      const owners = outputOwners(one, workers);
      expect(owners).to.deep.equal(outputOwners(one, workers));
      expect(owners).to.have.length(one.outputs.length);
      const used = new Set(owners);
      expect(used.size).to.equal(Math.min(workers, one.outputs.length));
      for (const k of used) expect(k).to.be.within(0, workers - 1);
    }
    const perWorker = planMemory(sharedPlan().plan, 2).perWorkerBytes;
    expect(perWorker[0]! + perWorker[1]!).to.equal(one.memory.bytes);
    expect(Math.max(...perWorker)).to.be.below(one.memory.bytes);
  });

  it("rotation shares: every unit once, rotations balanced, an input's units kept with its first rotation", () => {
    const steps = [
      sharedPlan().one,
      planLinear({
        id: "q",
        paramSet,
        inFeatures: 768,
        outFeatures: 2304,
        tokens: 1,
        weight: "w",
        parallelism: 2,
      }),
      planLinear({
        id: "b",
        paramSet,
        inFeatures: 256,
        outFeatures: 64,
        tokens: 8,
        weight: "w",
        babySteps: 1,
      }),
    ];
    for (const step of steps) {
      const units = linearRotationUnits(step);
      expect(units.filter((u) => u.baby === 0)).to.have.length(step.inputCiphertexts);
      for (const workers of [1, 2, 3, 16]) {
        const shares = rotationShares(step, workers);
        expect(shares).to.have.length(workers);
        expect(shares.flat().sort((a, b) => a - b)).to.deep.equal(units.map((_, i) => i));
        for (const list of shares) expect(list).to.deep.equal([...list].sort((a, b) => a - b));
        const rotations = shares.map((list) => list.filter((u) => units[u]!.baby > 0).length);
        expect(Math.max(...rotations) - Math.min(...rotations)).to.be.at.most(1);
        units.forEach((unit, i) => {
          const next = units[i + 1];
          if (unit.baby !== 0 || !next || next.baby === 0) return;
          const owner = (u: number) => shares.findIndex((list) => list.includes(u));
          expect(owner(i), `unit ${i}`).to.equal(owner(i + 1));
        });
      }
    }
    expect(() => rotationShares(steps[0]!, 0)).to.throw(RangeError);
  });

  it("a plan that lies about its memory is refused", () => {
    const { one } = sharedPlan();
    expect(() => checkLinearStep({ ...one, memory: { ...one.memory, bytes: 1 } })).to.throw(
      /memory differs from the layout's/,
    );
  });

  it("memory checks: refuses what cannot fit, naming the limit; warns when a share re-encodes", () => {
    const { plan, one } = sharedPlan();
    const largest = Math.max(...one.outputs.map((_, o) => outputPlaintextBytes(one, o)));
    expect(() => checkMemoryFit(plan, 1, MAX_MEMORY_BUDGET + 1)).to.throw(
      ModelMemoryError,
      /4.00 GiB WebAssembly memory/,
    );
    expect(() => checkMemoryFit(plan, 1, largest - 1)).to.throw(ModelMemoryError, /at once, more than the/);
    const tight = checkMemoryFit(plan, 1, largest);
    expect(tight.cached).to.equal(false);
    expect(tight.summary.join("\n")).to.match(/re-encoded for every token/);
    const roomy = checkMemoryFit(plan, 2, one.memory.bytes);
    expect(roomy.cached).to.equal(true);
    expect(roomy.summary).to.have.length(1);
    expect(workersToCache(plan, one.memory.bytes)).to.equal(1);
    expect(workersToCache(plan, largest)).to.be.greaterThan(1);
    expect(parseBytes("3GiB")).to.equal(3 * 1024 ** 3);
    expect(parseBytes("512 MiB")).to.equal(512 * MiB);
    expect(parseBytes("2.5gb")).to.equal(2.5e9);
    expect(parseBytes("1000")).to.equal(1000);
    expect(() => parseBytes("lots")).to.throw(/is not a size/);
    expect(formatBytes(3 * 1024 ** 3)).to.equal("3.00 GiB");
  });

  it("an evaluator within a budget evicts least recently used outputs and still gives the same bytes", async () => {
    const { one, four, plan } = sharedPlan();
    const client = await createClient({ paramSet });
    const blobs = client.makeEvalKeysForPlan(plan);
    const x1 = client.encryptLinearInputs(one, [randomVector(256, 1)]);
    const x4 = client.encryptLinearInputs(
      four,
      [2, 3, 4, 5].map((s) => randomVector(256, s)),
    );
    const free = await createEvaluator({ plan, weights });
    const largest = Math.max(...one.outputs.map((_, o) => outputPlaintextBytes(one, o)));
    const small = await createEvaluator({ plan, weights, memoryBudget: 2 * largest });
    try {
      const kf = free.loadEvalKeys(blobs);
      const ks = small.loadEvalKeys(blobs);
      const expected1 = free.evaluate("p@1", x1, kf);
      const expected4 = free.evaluate("p@4", x4, kf);
      // The prompt step (4 groups) reused every plaintext of the generation step.
      expect(free.cacheStats()).to.include({
        misses: one.outputs.length,
        hits: 4 * one.outputs.length,
        evictions: 0,
      });
      expect(free.cacheBytes()).to.equal(one.memory.bytes);
      for (let round = 0; round < 2; round++) {
        const got1 = small.evaluate("p@1", x1, ks);
        const got4 = small.evaluate("p@4", x4, ks);
        got1.forEach((b, i) => expect(Buffer.compare(b, expected1[i]!)).to.equal(0));
        got4.forEach((b, i) => expect(Buffer.compare(b, expected4[i]!)).to.equal(0));
        expect(small.cacheBytes()).to.be.at.most(2 * largest);
      }
      const stats = small.cacheStats();
      expect(stats.evictions).to.be.greaterThan(0);
      expect(stats.budget).to.equal(2 * largest);
      // Warm-up stops at the budget instead of thrashing.
      small.clearCache();
      expect(small.prepare("p@1")).to.equal(false);
      expect(small.cacheBytes()).to.be.at.most(2 * largest);
      kf.delete();
      ks.delete();
    } finally {
      free.delete();
      small.delete();
      client.delete();
    }
  });

  it("a pool shards the model: each worker encodes only its outputs, and the answer is the one-thread answer", async () => {
    const { one, plan } = sharedPlan();
    const client = await createClient({ paramSet });
    const blobs = client.makeEvalKeysForPlan(plan);
    const x1 = client.encryptLinearInputs(one, [randomVector(256, 9)]);
    const single = await createEvaluator({ plan, weights });
    const expected = single.evaluate("p@1", x1, single.loadEvalKeys(blobs));
    single.delete();
    const pool = createEvaluatorPool({ plan, weights, size: 2 });
    try {
      const progress: number[] = [];
      expect(await pool.prepare(undefined, (done) => progress.push(done))).to.equal(true);
      expect(progress).to.deep.equal([1, 2]);
      const stats = await pool.stats();
      const share = planMemory(plan, 2).perWorkerBytes;
      expect(stats.map((s) => s.cacheBytes)).to.deep.equal(share);
      const keysId = await pool.registerKeys(blobs);
      const got = await pool.evaluate("p@1", x1, keysId);
      got.forEach((b, i) => expect(Buffer.compare(b, expected[i]!)).to.equal(0));
      // Serving encoded nothing new: each worker already held its share.
      const after = await pool.stats();
      expect(after.map((s) => s.cache.misses)).to.deep.equal(stats.map((s) => s.cache.misses));
    } finally {
      await pool.close();
      client.delete();
    }
  });

  it("prompt rows always travel in prompt buckets; only a generated token travels alone", async () => {
    const { plan } = sharedPlan();
    const client = await createClient({ paramSet });
    const evaluator = await createEvaluator({ plan, weights });
    const keys = evaluator.loadEvalKeys(client.makeEvalKeysForPlan(plan));
    const asked: string[] = [];
    const backend = encryptedBackend(
      client,
      plan,
      async (id, inputs) => {
        asked.push(id);
        return evaluator.evaluate(id, inputs, keys);
      },
      { prefill: 4 },
    );
    try {
      const rows = (n: number) => Float64Array.from({ length: n * 256 }, (_, i) => Math.sin(i));
      await backend.evaluate("p", rows(5), 5, "prompt");
      expect(asked).to.deep.equal(["p@4", "p@4"]);
      asked.length = 0;
      await backend.evaluate("p", rows(1), 1, "prompt");
      expect(asked).to.deep.equal(["p@4"]);
      asked.length = 0;
      const y = await backend.evaluate("p", rows(1), 1, "generate");
      expect(asked).to.deep.equal(["p@1"]);
      expect(y).to.have.length(384);
    } finally {
      keys.delete();
      evaluator.delete();
      client.delete();
    }
  });
});
