import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Redis } from "ioredis";
import pino, { type Logger } from "pino";
import { type Address, type Hex, recoverTypedDataAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { MinerEngine } from "../../../compute/miner/engine";
import { modelContentHash } from "../../../sdk/node/model-cache";
import { type MinerCounters, runMiner } from "../../../compute/miner/node";
import { type MinerBrainView, runMinerService } from "../../../compute/miner/service";
import {
  DELIVERY_TYPES,
  type GatewayDomain,
  deliveryDomain,
  deliveryMessage,
  type Bytes,
  bytesOf,
  jobHash,
  outputsHash,
  toBase64,
} from "../../../protocol/gateway";
import { type RunningGateway, startGateway } from "../../../compute/gateway/server";
import { GatewayClient, GatewayError } from "../../../sdk/gateway-client";
import { type CkksClient, createClient } from "../../../zkllm/ckks/client";
import type { LinearPlanStep } from "../../../zkllm/ckks/linear";
import { findStep } from "../../../zkllm/ckks/plan";
import { loadPlanWeights } from "../../../zkllm/evaluator";
import { tempDir } from "../../helpers/processes";
import { waitFor } from "../../helpers/oracle";
import { linearProduct, maxDiff, seededVector } from "./helpers";

const MODEL_DIR = path.resolve(__dirname, "..", "..", "..", "zkllm", "models", "brain-gpt2-tiny");
const BRAIN = 3;
const DOMAIN: GatewayDomain = {
  chainId: 32323,
  network: "0x000000000000000000000000000000000000bEEF",
  brainId: BRAIN,
};
const DELIVERY = { chainId: 32323, computeMarket: "0x000000000000000000000000000000000000c0DE" as Address };
const TOLERANCE = 1e-2;

/** A pino logger into an array, with a hook to act on a line the moment it is logged. */
function memoryLogger(): { logger: Logger; lines: string[]; on: (msg: string, fn: () => void) => void } {
  const lines: string[] = [];
  const hooks: { msg: string; fn: () => void }[] = [];
  const logger = pino(
    { level: "debug" },
    {
      write(line: string) {
        lines.push(line);
        const msg = (JSON.parse(line) as { msg?: string }).msg;
        for (const h of hooks.splice(0)) {
          if (h.msg === msg) h.fn();
          else hooks.push(h);
        }
      },
    },
  );
  return { logger, lines, on: (msg, fn) => hooks.push({ msg, fn }) };
}

describe("compute/miner/node: a miner answers a session's jobs through the Brain's gateway", function () {
  this.timeout(120_000);
  const prefix = `test-miner-${Math.random().toString(36).slice(2, 10)}`;
  const { plan, weights } = loadPlanWeights(MODEL_DIR);
  const members = new Set<Address>();
  let gateway: RunningGateway;
  let api: GatewayClient;
  let engine: MinerEngine;
  let user: CkksClient;
  let galoisHash: string;

  const newMiner = () => {
    const account = privateKeyToAccount(generatePrivateKey());
    members.add(account.address);
    return { account, domain: DOMAIN };
  };

  const product = (s: LinearPlanStep, x: Float64Array) => linearProduct(weights, s, x);

  /** Opens an encrypted session once a miner is live (the gateway refuses while none polls). */
  const openSession = async () => {
    let sessionId = "";
    await waitFor(
      "a live miner to open a session with",
      async () => {
        try {
          sessionId = (
            await api.openSession({
              brainId: BRAIN,
              mode: "encrypted",
              paramSet: plan.engine.paramSet,
              keys: { galois: galoisHash, relin: null },
            })
          ).sessionId;
          return true;
        } catch (error) {
          if (error instanceof GatewayError && error.code === "NoMinerAvailable") return false;
          throw error;
        }
      },
      20_000,
    );
    return sessionId;
  };

  const submit = async (sessionId: string, stepId: string, seed: number) => {
    const step = findStep(plan.engine, stepId)!;
    const xs = Array.from({ length: step.tokens }, (_, t) => seededVector(step.inFeatures, seed * 100 + t));
    const inputs = user.encryptLinearInputs(step, xs);
    const { jobId } = await api.submitJob(sessionId, {
      kind: "linear",
      step: stepId,
      inputs: inputs.map(toBase64),
    });
    return { jobId, stepId, step, xs, inputs };
  };

  /** The decrypted answer of a job, checked row by row against the plaintext product. */
  const expectProduct = (job: { step: LinearPlanStep; xs: Float64Array[] }, outputs: Bytes[]) => {
    const ys = user.decryptLinearOutputs(job.step, outputs.map(bytesOf));
    job.xs.forEach((x, t) =>
      expect(maxDiff(ys[t]!, product(job.step, x)), `row ${t}`).to.be.below(TOLERANCE),
    );
  };

  before(async () => {
    gateway = await startGateway({
      port: 0,
      // Free sessions (no ComputeMarket here): the gateway refuses them by default.
      freeSessions: true,
      brainId: BRAIN,
      prefix,
      domain: DOMAIN,
      delivery: DELIVERY,
      isMember: async (address, role) => role === "miner" && members.has(address),
      lockMs: 20_000,
      // Miners of earlier tests count as gone soon after they stop, so sessions move on quickly.
      minerTimeoutMs: 2_000,
      maxAttempts: 2,
    });
    api = new GatewayClient({ url: gateway.url });
    engine = await MinerEngine.create(MODEL_DIR, { workers: 1 });
    user = await createClient({ paramSet: plan.engine.paramSet });
    galoisHash = await api.putBlob(user.makeEvalKeysForPlan(plan.engine).galois!);
  });

  after(async () => {
    await gateway?.close();
    await engine?.close();
    user?.delete();
    const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it("answers linear jobs with signed deliveries that decrypt to the plaintext products, and logs no payload", async () => {
    const stop = new AbortController();
    const signer = newMiner();
    const { logger, lines } = memoryLogger();
    const counters: MinerCounters = { completed: 0, released: 0, lost: 0 };
    const running = runMiner({
      client: api,
      signer,
      engine,
      delivery: DELIVERY,
      pollWaitMs: 1_000,
      signal: stop.signal,
      logger,
      counters,
    });
    try {
      const sessionId = await openSession();
      const jobs = [
        await submit(sessionId, "L0.qkv@1", 1),
        await submit(sessionId, "L0.attnOut@1", 2),
        await submit(sessionId, "L1.mlpDown@1", 3),
      ];
      for (const job of jobs) {
        const view = await api.waitForJob(job.jobId, 60_000);
        expect(view.state, view.error ?? "").to.equal("completed");
        const outputs = view.result!.outputs.map(bytesOf);
        expect(view.result!.miner).to.equal(signer.account.address);
        expect(view.result!.outputHash).to.equal(await outputsHash(outputs));
        // The Delivery binds the miner's Brain, the job as the client submitted it and the result.
        const submitted = await jobHash(job.jobId, {
          kind: "linear",
          step: job.stepId,
          paramSet: plan.engine.paramSet,
          keys: { galois: galoisHash, relin: null },
          inputs: job.inputs.map(toBase64),
        });
        expect(view.result!.jobHash).to.equal(submitted);
        const deliverer = await recoverTypedDataAddress({
          domain: deliveryDomain(DELIVERY.chainId, DELIVERY.computeMarket),
          types: DELIVERY_TYPES,
          primaryType: "Delivery",
          message: deliveryMessage(BRAIN, submitted, view.result!.outputHash as Hex),
          signature: view.result!.signature,
        });
        expect(deliverer).to.equal(signer.account.address);
        expectProduct(job, view.result!.outputs);
      }
      expect(counters.completed).to.equal(3);

      // A step the model does not have is refused by the miner (released with the reason) until
      // the gateway gives up on it; the miner keeps serving.
      const { jobId: bad } = await api.submitJob(sessionId, {
        kind: "linear",
        step: "L7.qkv@1",
        inputs: jobs[0]!.inputs.map(toBase64),
      });
      const failed = await api.waitForJob(bad, 60_000);
      expect(failed.state).to.equal("failed");
      expect(counters.released).to.equal(2);
      const refused = lines.filter((l) => l.includes('"job refused"'));
      expect(refused).to.have.length(2);
      expect(refused[0]).to.contain("Unknown plan step").and.to.contain("L7.qkv@1");
      const after = await submit(sessionId, "L0.qkv@1", 4);
      expect((await api.waitForJob(after.jobId, 60_000)).state).to.equal("completed");

      // Logs carry ids and hashes, never ciphertexts.
      const logged = lines.join("\n");
      for (const job of [...jobs, after])
        expect(logged).to.not.contain(toBase64(job.inputs[0]!).slice(0, 64));
      expect(lines.some((l) => l.includes('"miner ready"'))).to.equal(true);
    } finally {
      stop.abort();
      await running;
    }
    expect(lines.at(-1)).to.contain('"miner stopped"');
  });

  it("on shutdown, a job in flight finishes and is delivered within the grace period", async () => {
    const stop = new AbortController();
    const { logger, on } = memoryLogger();
    const counters: MinerCounters = { completed: 0, released: 0, lost: 0 };
    on("job taken", () => stop.abort());
    const running = runMiner({
      client: api,
      signer: newMiner(),
      engine,
      delivery: DELIVERY,
      pollWaitMs: 1_000,
      graceMs: 60_000,
      signal: stop.signal,
      logger,
      counters,
    });
    const sessionId = await openSession();
    const job = await submit(sessionId, "L0.qkv@16", 5);
    await running;
    expect(stop.signal.aborted).to.equal(true);
    const view = await api.getJob(job.jobId);
    expect(view.state).to.equal("completed");
    expect(counters).to.deep.equal({ completed: 1, released: 0, lost: 0 });
  });

  it("on shutdown, a job still running when the grace period ends is given back, and another miner answers it", async () => {
    const stop = new AbortController();
    const { logger, on, lines } = memoryLogger();
    const counters: MinerCounters = { completed: 0, released: 0, lost: 0 };
    on("job taken", () => stop.abort());
    // An engine without the session's keys: the job must fetch them, so it is still running when
    // the (zero) grace period ends.
    const fresh = await MinerEngine.create(MODEL_DIR, { workers: 1, generate: false });
    const running = runMiner({
      client: api,
      signer: newMiner(),
      engine: fresh,
      delivery: DELIVERY,
      pollWaitMs: 1_000,
      graceMs: 0,
      signal: stop.signal,
      logger,
      counters,
    });
    const sessionId = await openSession();
    const job = await submit(sessionId, "L0.mlpUp@16", 6);
    await running;
    await fresh.close();
    expect(counters).to.deep.equal({ completed: 0, released: 1, lost: 0 });
    expect(lines.some((l) => l.includes("the miner shut down before the job finished"))).to.equal(true);
    const waiting = await api.getJob(job.jobId);
    expect(waiting.state).to.equal("queued");

    // Nothing is lost: a second miner takes the session over and answers the job.
    const other = new AbortController();
    const second = newMiner();
    const secondRun = runMiner({
      client: api,
      signer: second,
      engine,
      delivery: DELIVERY,
      pollWaitMs: 1_000,
      signal: other.signal,
      logger: pino({ level: "silent" }),
    });
    try {
      const view = await api.waitForJob(job.jobId, 60_000);
      expect(view.state).to.equal("completed");
      expect(view.result!.miner).to.equal(second.account.address);
      expectProduct(job, view.result!.outputs);
    } finally {
      other.abort();
      await secondRun;
    }
  });

  it("the service follows the Brain: a task change reloads the engine on the new model and jobs go on; ZK off starts plain mode", async () => {
    // Another model: the shipped one with a different generation config (so another content hash).
    const next = tempDir("miner-next-model");
    const cache = tempDir("miner-cache");
    for (const f of fs.readdirSync(MODEL_DIR)) fs.copyFileSync(path.join(MODEL_DIR, f), path.join(next, f));
    fs.writeFileSync(
      path.join(next, "generation_config.json"),
      JSON.stringify({ eos_token_id: 4095, note: "v2" }),
    );
    const taskOf = (dir: string) => ({
      modelUri: pathToFileURL(dir).href,
      contentHash: modelContentHash(dir),
      templateId: 0,
      sourceRepo: "",
      sourceCommit: "",
    });
    let view: MinerBrainView = { active: true, task: taskOf(MODEL_DIR), pendingTask: null, zkMode: true };
    const loaded: { contentHash: Hex; zkMode: boolean; linear: boolean }[] = [];
    const stop = new AbortController();
    const { logger } = memoryLogger();
    const service = runMinerService({
      brainId: BRAIN,
      client: api,
      signer: newMiner(),
      delivery: DELIVERY,
      readConfig: async () => view,
      initial: view,
      modelCache: cache,
      workers: 1,
      pollWaitMs: 500,
      configPollMs: 200,
      signal: stop.signal,
      logger,
      onEngine: (e, task) => loaded.push({ ...task, linear: e.info.linear }),
    });
    try {
      await waitFor("the first engine", async () => loaded.length === 1, 30_000);
      const sessionId = await openSession();
      const a = await submit(sessionId, "L0.qkv@1", 7);
      expect((await api.waitForJob(a.jobId, 60_000)).state).to.equal("completed");

      view = { ...view, task: taskOf(next) };
      await waitFor("the engine on the new task", async () => loaded.length === 2, 30_000);
      expect(loaded[1]).to.deep.equal({ contentHash: modelContentHash(next), zkMode: true, linear: true });
      const b = await submit(sessionId, "L0.qkv@1", 8);
      const done = await api.waitForJob(b.jobId, 60_000);
      expect(done.state).to.equal("completed");
      expectProduct(b, done.result!.outputs);

      // ZK off: plain mode, the evaluator pool is not started.
      view = { ...view, zkMode: false };
      await waitFor("the plain-mode engine", async () => loaded.length === 3, 30_000);
      expect(loaded[2]).to.include({ zkMode: false, linear: false });
    } finally {
      stop.abort();
      await service;
      fs.rmSync(next, { recursive: true, force: true });
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });
});
