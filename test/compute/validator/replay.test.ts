import path from "node:path";
import { expect } from "chai";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { type Sample, blobHash, outputsHash, toBase64 } from "../../../protocol/gateway";
import { Replayer } from "../../../compute/validator/replay";
import { devnetPrivateKey } from "../../../sdk/devnet";
import { type CkksClient, createClient } from "../../../zkllm/ckks/client";
import type { LinearPlanStep } from "../../../zkllm/ckks/linear";
import { findStep } from "../../../zkllm/ckks/plan";
import { createEvaluator } from "../../../zkllm/ckks/server";
import { readPlan } from "../../../zkllm/model-dir";
import { splitForPlan } from "../../../zkllm/zkllm-plan";
import { loadCheckpoint } from "../../../zkllm/model/files";
import { serverWeights } from "../../../zkllm/hybrid/engine-plan";

const MODEL_DIR = path.resolve(__dirname, "..", "..", "..", "zkllm", "models", "brain-gpt2-tiny");
const MINER = privateKeyToAccount(devnetPrivateKey(16)).address;

/**
 * Replays against the validator's own evaluator: a job is what a miner got (input ciphertexts
 * under a client's key, the session's evaluation keys) and what it answered (the output hash).
 */
describe("validator replays: re-evaluating a miner's job gives the same bytes", function () {
  this.timeout(180_000);

  const plan = readPlan(MODEL_DIR);
  let client: CkksClient;
  let replayer: Replayer;
  const blobs = new Map<string, Uint8Array>();
  const fetched: string[] = [];
  const fetchBlob = async (hash: string) => {
    fetched.push(hash);
    const b = blobs.get(hash);
    if (!b) throw new Error(`gateway refused (404 NotFound): blob ${hash} is gone`);
    return b;
  };
  let galois: string;
  /** A miner's honest answer and the answer of one that ran another layer's weights. */
  let job: { step: string; inputs: Uint8Array[]; honest: Uint8Array[]; wrong: Uint8Array[] };
  let honestHash: Hex;

  const sample = (over: Partial<Sample> = {}): Sample => ({
    jobId: "job-00000001",
    miner: MINER,
    step: job.step,
    paramSet: plan.engine.paramSet,
    keys: { galois, relin: null },
    inputs: job.inputs.map(toBase64),
    outputHash: honestHash,
    latencyMs: 120,
    completedAt: Date.now(),
    ...over,
  });

  before(async () => {
    client = await createClient({ paramSet: plan.engine.paramSet });
    const keys = client.makeEvalKeysForPlan(plan.engine);
    galois = blobHash(keys.galois!);
    blobs.set(galois, keys.galois!);
    // The miner's evaluator, separate from the validator's.
    const split = splitForPlan(loadCheckpoint(MODEL_DIR), plan);
    const miner = await createEvaluator({ plan: plan.engine, weights: serverWeights(split.server) });
    const loaded = miner.loadEvalKeys(keys);
    const step = findStep(plan.engine, "L0.mlpUp@1") as LinearPlanStep;
    const row = Float64Array.from({ length: step.inFeatures }, (_, i) => Math.sin(i) * 0.5);
    const inputs = client.encryptLinearInputs(step, [row]);
    job = {
      step: step.id,
      inputs,
      honest: miner.evaluate(step.id, inputs, loaded),
      // What compute/miner/engine.ts's "wrong-results" fault does: the same shape from another layer.
      wrong: miner.evaluate("L1.mlpUp@1", inputs, loaded),
    };
    honestHash = await outputsHash(job.honest);
    loaded.delete();
    miner.delete();
    replayer = await Replayer.create(MODEL_DIR, { keyCacheSize: 1 });
  });

  after(() => {
    replayer?.close();
    client?.delete();
  });

  it("an honest job matches; one whose outputs are another computation's mismatches", async () => {
    expect(await replayer.check(sample(), fetchBlob)).to.deep.include({ verdict: "match", miner: MINER });
    const wrong = await replayer.check(
      sample({ jobId: "job-00000002", outputHash: await outputsHash(job.wrong) }),
      fetchBlob,
    );
    expect(wrong).to.deep.include({
      verdict: "mismatch",
      jobId: "job-00000002",
      miner: MINER,
      step: "L0.mlpUp@1",
    });
    // The outputs decrypt to plausible numbers; only their hash gives the miner away.
    expect(await outputsHash(job.wrong)).to.not.equal(await outputsHash(job.honest));
    // The session's keys were fetched once and kept.
    expect(fetched).to.deep.equal([galois]);
  });

  it("a tampered output hash mismatches; a tampered input no longer matches the signed hash", async () => {
    const flipped = `0x${"ab".repeat(32)}` as const;
    expect((await replayer.check(sample({ outputHash: flipped }), fetchBlob)).verdict).to.equal("mismatch");
    // Inputs swapped for a fresh encryption of the same row: another ciphertext, so other outputs.
    const step = findStep(plan.engine, job.step) as LinearPlanStep;
    const row = Float64Array.from({ length: step.inFeatures }, (_, i) => Math.sin(i) * 0.5);
    const other = client.encryptLinearInputs(step, [row]).map(toBase64);
    expect((await replayer.check(sample({ inputs: other }), fetchBlob)).verdict).to.equal("mismatch");
  });

  it("what cannot be judged is skipped, with the reason, and the evaluator stays usable", async () => {
    const cases: [Partial<Sample>, RegExp][] = [
      [{ paramSet: "n4096-q109" }, /parameter set/],
      [{ step: "L9.qkv@1" }, /not in the plan/],
      [{ keys: { galois: "f".repeat(64), relin: null } }, /keys unavailable/],
      [
        { inputs: [toBase64(new Uint8Array([1, 2, 3]))] },
        /inputs refused: (BadRequest|MalformedBlob|TruncatedBlob)/,
      ],
      [{ inputs: job.inputs.map(() => toBase64(new Uint8Array(64))) }, /inputs refused: \w+/],
    ];
    for (const [over, reason] of cases) {
      const r = await replayer.check(sample(over), fetchBlob);
      expect(r.verdict, JSON.stringify(over).slice(0, 80)).to.equal("skipped");
      expect(r.reason).to.match(reason);
    }
    expect((await replayer.check(sample(), fetchBlob)).verdict).to.equal("match");
  });
});
