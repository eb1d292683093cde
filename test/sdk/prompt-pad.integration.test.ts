import { expect } from "chai";
import type { Address } from "viem";
import { sessionUnits } from "../../compute/gateway/units";
import {
  type CloseSessionResult,
  type JobView,
  type OpenSession,
  type SessionView,
  type SubmitJob,
  blobHash,
  bytesOf,
  outputsHash,
  toBase64,
} from "../../protocol/gateway";
import { GatewayClient } from "../../sdk/gateway-client";
import { freshKeys } from "../../sdk/key-rotation";
import { generateAnswer, runPrompt } from "../../sdk/prompt";
import { openModelDir } from "../../sdk/node/model-cache";
import { plainBackend } from "../../zkllm/client";
import { type CkksEvaluator, type EvalKeys, createEvaluator } from "../../zkllm/evaluator";
import { serverWeights } from "../../zkllm/hybrid/engine-plan";
import { SHIPPED_MODEL_DIR } from "../zkllm/model/helpers";

const SHIPPED = openModelDir(SHIPPED_MODEL_DIR, "encrypted");
const MINER = "0x00000000000000000000000000000000000000A1" as Address;

/**
 * A gateway in this process: one miner's evaluator runs each linear job at once, and the units
 * are counted as compute/gateway/units.ts counts them (free session: every row is completion).
 */
class LocalGateway extends GatewayClient {
  readonly blobs = new Map<string, Uint8Array>();
  readonly steps: Record<string, number> = {};
  private keys: EvalKeys | undefined;
  private readonly jobs = new Map<string, JobView>();

  constructor(private readonly evaluator: CkksEvaluator) {
    super({ url: "http://127.0.0.1:1" });
  }
  override hasBlob(hash: string): Promise<boolean> {
    return Promise.resolve(this.blobs.has(hash));
  }
  override putBlob(bytes: Uint8Array): Promise<string> {
    this.blobs.set(blobHash(bytes), bytes);
    return Promise.resolve(blobHash(bytes));
  }
  override openSession(body: OpenSession): Promise<SessionView> {
    if (body.mode !== "encrypted") throw new Error("encrypted sessions only");
    this.keys = this.evaluator.loadEvalKeys({ galois: this.blobs.get(body.keys.galois!)! });
    return Promise.resolve({
      sessionId: "s".repeat(24),
      brainId: 3,
      mode: "encrypted",
      miner: MINER,
      expiresAt: Date.now() + 60_000,
      requestId: null,
      units: { prompt: 0, completion: 0 },
      state: "open",
    });
  }
  override async submitJob(_session: string, job: SubmitJob): Promise<{ jobId: string }> {
    if (job.kind !== "linear") throw new Error("linear jobs only");
    const outputs = this.evaluator.evaluate(job.step, job.inputs.map(bytesOf), this.keys!);
    this.steps[job.step] = (this.steps[job.step] ?? 0) + 1;
    const jobId = `j${this.jobs.size}`.padEnd(24, "0");
    this.jobs.set(jobId, {
      jobId,
      sessionId: "s".repeat(24),
      state: "completed",
      miner: MINER,
      attempts: 1,
      result: {
        outputs: outputs.map(toBase64),
        outputHash: (await outputsHash(outputs)).toLowerCase() as `0x${string}`,
        jobHash: `0x${"22".repeat(32)}`,
        signature: `0x${"11".repeat(65)}`,
        miner: MINER,
      },
      error: null,
    });
    return { jobId };
  }
  override async runJob(sessionId: string, job: SubmitJob): Promise<JobView> {
    return this.waitForJob((await this.submitJob(sessionId, job)).jobId);
  }
  override waitForJob(jobId: string): Promise<JobView> {
    return Promise.resolve(this.jobs.get(jobId)!);
  }
  override closeSession(sessionId: string): Promise<CloseSessionResult> {
    this.keys?.delete();
    return Promise.resolve({ sessionId, units: sessionUnits(this.steps, 0), settlement: null });
  }
}

describe("sdk/prompt: --pad, encrypted, through an in-process miner", function () {
  this.timeout(180_000);
  let evaluator: CkksEvaluator;
  before(async () => {
    const plan = SHIPPED.plan();
    evaluator = await createEvaluator({ plan: plan.engine, weights: serverWeights(SHIPPED.split().server) });
  });
  after(() => evaluator?.delete());

  it("the gateway counts maxTokens passes, the answer stops at the end-of-text token, keys are fresh", async () => {
    const prompt = SHIPPED.tokenizer.encode("The jury said");
    const reference = await generateAnswer(SHIPPED, plainBackend(SHIPPED.split().server), prompt, {
      maxTokens: 5,
    });
    // The greedy answer's second token plays the end-of-text token.
    const eosId = reference.ids[1]!;
    const run = async (pad: boolean) => {
      const gateway = new LocalGateway(evaluator);
      const result = await runPrompt({
        gateway,
        brainId: 3,
        model: SHIPPED,
        prompt,
        maxTokens: 5,
        mode: "encrypted",
        openKeys: freshKeys,
        eosId,
        pad,
      });
      return { result, steps: gateway.steps };
    };
    const plain = await run(false);
    const padded = await run(true);
    // One prefill bucket (16 rows) for the prompt, then one row per pass after the first.
    expect(plain.result.ids).to.deep.equal(reference.ids.slice(0, 2));
    expect(plain.result.units).to.deep.equal({ prompt: 0, completion: 16 + 1 });
    expect(padded.result.ids).to.deep.equal(plain.result.ids);
    expect(padded.result.text).to.equal(plain.result.text);
    expect(padded.result.passes).to.equal(5);
    expect(padded.result.units).to.deep.equal({ prompt: 0, completion: 16 + 4 });
    // What the gateway saw is what a 5-token answer shows it: one prompt pass, 4 single-row passes.
    const rows = (steps: Record<string, number>) =>
      Object.entries(steps)
        .filter(([id]) => id.endsWith("@1"))
        .map(([, n]) => n);
    expect(new Set(rows(padded.steps))).to.deep.equal(new Set([4]));
    expect(plain.result.freshKeys).to.equal(true);
    expect(padded.result.freshKeys).to.equal(true);
  });
});
