import { deleteRedisPrefix } from "../../compute/gateway/redis-prefix";
import fs from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { expect } from "chai";
import Redis from "ioredis";
import pino from "pino";
import { type Address, getAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { MinerEngine, generationEosId } from "../../compute/miner/engine";
import { runMiner } from "../../compute/miner/node";
import { type GatewayDomain, randomHex } from "../../protocol/gateway";
import { type RunningGateway, startGateway } from "../../compute/gateway/server";
import { GatewayClient } from "../../sdk/gateway-client";
import { type PromptResult, promptUnits, runPrompt } from "../../sdk/prompt";
import { OnnxGpt2Runner, generateGreedy } from "../../zkllm/evaluator";
import { loadTokenizer } from "../../zkllm/tokenizer";
import { tempDir } from "../helpers/processes";
import { type Haystack, dumpRedis, findSecrets } from "../helpers/secrets";
import { SHIPPED_MODEL_DIR } from "../zkllm/model/helpers";
import { keystoreKeys } from "../../sdk/node/keystore";
import { openModelDir } from "../../sdk/node/model-cache";

const BRAIN = 3;
const tokenizer = loadTokenizer(SHIPPED_MODEL_DIR);
const SHIPPED = openModelDir(SHIPPED_MODEL_DIR, "encrypted");

/** Polls `check` until it gives a value (or fails after `timeoutMs`). */
async function poll<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Deletes every Redis key under `prefix`. */
function deletePrefix(prefix: string): Promise<number> {
  return deleteRedisPrefix(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", prefix);
}

/**
 * End to end in one process: the real gateway on Redis, a real miner (engine + node loop) and the
 * user's side, each talking HTTP. Gateway and miner logs are captured to be searched too.
 */
describe("sdk/prompt: encrypted prompts through a real gateway and miner", function () {
  this.timeout(300_000);
  const prefix = `test-prompt-${randomHex(6)}`;
  const keystoreDir = path.join(tempDir("based-prompt-keys"), "keys");
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString("utf8"));
      done();
    },
  });
  const logger = pino({ level: "debug" }, logStream);
  const minerAccount = privateKeyToAccount(generatePrivateKey());
  const domain: GatewayDomain = {
    chainId: 31337,
    network: getAddress("0x000000000000000000000000000000000000bA5e"),
    brainId: BRAIN,
  };
  let gateway: RunningGateway;
  let engine: MinerEngine;
  let miner: { stop(): Promise<void> } | undefined;
  let client: GatewayClient;
  let runner: OnnxGpt2Runner;
  const eosId = generationEosId(SHIPPED_MODEL_DIR);
  /** Everything the services stored while prompts ran, for the secrecy check. */
  const midSession: Promise<Haystack[]>[] = [];

  before(async () => {
    gateway = await startGateway({
      port: 0,
      // Free sessions (no ComputeMarket here): the gateway refuses them by default.
      freeSessions: true,
      brainId: BRAIN,
      prefix,
      domain,
      isMember: async (address: Address, role) => role === "miner" && address === minerAccount.address,
      logger: logger.child({ service: "gateway" }),
    });
    client = new GatewayClient({ url: gateway.url });
    engine = await MinerEngine.create(SHIPPED_MODEL_DIR, { workers: 1 });
    miner = startMiner();
    runner = await OnnxGpt2Runner.create(path.join(SHIPPED_MODEL_DIR, "model.onnx"), { maxPositions: 128 });
  });

  function startMiner(): { stop(): Promise<void> } {
    const abort = new AbortController();
    const running = runMiner({
      client: new GatewayClient({ url: gateway.url }),
      signer: { account: minerAccount, domain },
      engine,
      delivery: { chainId: 31337, computeMarket: getAddress("0x000000000000000000000000000000000000c0de") },
      pollWaitMs: 1_000,
      signal: abort.signal,
      logger: logger.child({ service: "miner" }),
    });
    return {
      async stop() {
        abort.abort();
        await running.catch(() => undefined);
      },
    };
  }

  after(async () => {
    await miner?.stop();
    await engine?.close();
    await gateway?.close();
    await runner?.release();
    fs.rmSync(path.dirname(keystoreDir), { recursive: true, force: true });
    // Other test files share this Redis: leave nothing behind.
    await deletePrefix(prefix);
  });

  const PROMPTS = ["The jury said", "The city council voted"];
  const results: PromptResult[] = [];

  it("the decrypted answers equal plaintext inference, token by token as they decrypt; keys go up once", async () => {
    for (const [i, text] of PROMPTS.entries()) {
      const streamed: { id: number; text: string }[] = [];
      const steps: string[] = [];
      const result = await runPrompt({
        gateway: client,
        brainId: BRAIN,
        model: SHIPPED,
        prompt: text,
        maxTokens: 6,
        mode: "encrypted",
        openKeys: keystoreKeys(keystoreDir, "never"),
        onStep: (s) => steps.push(s),
        onToken: (id, piece) => {
          streamed.push({ id, text: piece });
          // Snapshot what the gateway holds while the session is live (jobs, ciphertexts, keys).
          if (streamed.length === 3) midSession.push(dumpRedis(prefix));
        },
      });
      results.push(result);
      const expected = await generateGreedy(runner.source(), tokenizer.encode(text), { maxTokens: 6, eosId });
      expect(result.ids, text).to.deep.equal(expected);
      expect(result.promptIds).to.deep.equal(tokenizer.encode(text));
      expect(streamed.map((s) => s.id)).to.deep.equal(result.ids);
      expect(streamed.map((s) => s.text).join("")).to.equal(result.text);
      expect(result.text).to.equal(tokenizer.decode(expected));
      expect(result.miners).to.deep.equal([minerAccount.address]);
      // A free session: every row through the plan is a completion unit — the prompt bucket (padding
      // included), then one row per further token.
      expect(result.units).to.deep.equal({
        prompt: 0,
        completion: promptUnits(result.promptIds) + result.ids.length - 1,
      });
      expect(result.close.sessionId).to.equal(result.sessionId);
      expect((await client.getSession(result.sessionId)).state).to.equal("closed");
      expect(result.transfer!.requests).to.be.greaterThan(result.ids.length);
      // Content-addressed keys (a kept set, --keys never): the first session uploads them, the
      // second finds them there. The default policy makes a fresh set per prompt: a new upload.
      if (i === 0) {
        expect(result.keysUploaded).to.be.greaterThan(1_000_000);
        expect(steps.some((s) => s.startsWith("uploading keys"))).to.equal(true);
      } else {
        expect(result.keysUploaded).to.equal(0);
        expect(steps.some((s) => s.startsWith("uploading keys"))).to.equal(false);
      }
      expect(steps).to.include("prompt pass");
    }
    expect(results[1]!.sessionId).not.to.equal(results[0]!.sessionId);
  });

  it("the prompts' text and token ids appear nowhere in Redis or in the gateway's and miner's logs", async () => {
    expect(results).to.have.length(PROMPTS.length);
    const during = (await Promise.all(midSession)).flat();
    const afterwards = await dumpRedis(prefix);
    // The search sees real traffic: the snapshots hold megabytes (keys and ciphertexts).
    const bytes = (hs: Haystack[]) => hs.reduce((a, h) => a + h.bytes.length, 0);
    expect(bytes(during)).to.be.greaterThan(1_000_000);
    expect(logs.length).to.be.greaterThan(10);
    const logHaystack = { name: "gateway and miner logs", bytes: new TextEncoder().encode(logs.join("")) };
    const everything = [...during, ...afterwards, logHaystack];
    for (const [i, text] of PROMPTS.entries()) {
      const r = results[i]!;
      expect(findSecrets(everything, { text, ids: r.promptIds }), text).to.deep.equal([]);
      // Nor the answers (the same encodings a plain job's result uses, found in the next test).
      expect(findSecrets(everything, { text: r.text, ids: r.ids }), r.text).to.deep.equal([]);
    }
  });

  it("plain mode gives the same answer, and the same search finds its prompt and answer ids in Redis", async () => {
    const text = "His father had been";
    const promptIds = tokenizer.encode(text);
    // With the miner away the job waits in Redis, so its payload can be looked at before it runs.
    await miner!.stop();
    miner = undefined;
    const streamed: number[] = [];
    const pending = runPrompt({
      gateway: client,
      brainId: BRAIN,
      model: SHIPPED,
      prompt: text,
      maxTokens: 6,
      mode: "plain",
      onToken: (id) => streamed.push(id),
    });
    pending.catch(() => undefined);
    const queued = await poll(
      "the plain job's payload in Redis",
      async () => {
        const found = findSecrets(await dumpRedis(prefix), { text, ids: promptIds });
        return found.length > 0 ? found : undefined;
      },
      20_000,
    );
    expect(
      queued.some((f) => f.includes("token ids (JSON)")),
      queued.join("\n"),
    ).to.equal(true);
    miner = startMiner();
    const result = await pending;

    const expected = await generateGreedy(runner.source(), promptIds, { maxTokens: 6, eosId });
    expect(result.ids).to.deep.equal(expected);
    expect(streamed).to.deep.equal(expected);
    expect(result.text).to.equal(tokenizer.decode(expected));
    expect(result.promptIds).to.deep.equal(promptIds);
    expect(result.keysUploaded).to.equal(0);
    expect(result.miners).to.deep.equal([minerAccount.address]);
    expect(result.units.completion).to.equal(expected.length);
    // The answer stays in the job's result (base64 u32 ids): found too.
    const answer = findSecrets(await dumpRedis(prefix), { text: result.text, ids: result.ids });
    expect(
      answer.some((f) => f.includes("token ids (u32 bytes, base64)")),
      answer.join("\n"),
    ).to.equal(true);
  });

  it("keys that expire between the check and the session are uploaded again", async () => {
    // The gateway drops the keys (as their TTL would); this client still hears "we have them" once.
    const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
    const blobKeys = await redis.keys(`${prefix}:gw:${BRAIN}:blob:*`);
    expect(blobKeys).to.have.length.greaterThan(0);
    await redis.del(...blobKeys);
    redis.disconnect();
    class Stale extends GatewayClient {
      lied = false;
      override async hasBlob(hash: string): Promise<boolean> {
        if (!this.lied) {
          this.lied = true;
          return true;
        }
        return super.hasBlob(hash);
      }
    }
    const stale = new Stale({ url: gateway.url });
    const result = await runPrompt({
      gateway: stale,
      brainId: BRAIN,
      model: SHIPPED,
      prompt: PROMPTS[0]!,
      maxTokens: 1,
      mode: "encrypted",
      openKeys: keystoreKeys(keystoreDir, "never"),
    });
    expect(stale.lied).to.equal(true);
    expect(result.keysUploaded).to.be.greaterThan(1_000_000);
    expect(result.ids).to.deep.equal(results[0]!.ids.slice(0, 1));
  });

  it("a rate-limited gateway (429) is waited out, not reported as a failure", async () => {
    const limitedPrefix = `${prefix}-limited`;
    const limited = await startGateway({
      port: 0,
      // Free sessions (no ComputeMarket here): the gateway refuses them by default.
      freeSessions: true,
      brainId: BRAIN,
      prefix: limitedPrefix,
      domain,
      isMember: async (address: Address, role) => role === "miner" && address === minerAccount.address,
      rateLimit: { max: 3, timeWindowMs: 1_000 },
    });
    const abort = new AbortController();
    const limitedMiner = runMiner({
      client: new GatewayClient({ url: limited.url }),
      signer: { account: minerAccount, domain },
      engine,
      delivery: { chainId: 31337, computeMarket: getAddress("0x000000000000000000000000000000000000c0de") },
      pollWaitMs: 1_000,
      signal: abort.signal,
      logger: pino({ level: "silent" }),
    });
    /** Counts the refusals the prompt had to wait out. */
    class Counting extends GatewayClient {
      refusals = 0;
      private count<T>(p: Promise<T>): Promise<T> {
        return p.catch((err: unknown) => {
          if ((err as { status?: number }).status === 429) this.refusals++;
          throw err;
        });
      }
      override openSession(...a: Parameters<GatewayClient["openSession"]>) {
        return this.count(super.openSession(...a));
      }
      override submitJob(...a: Parameters<GatewayClient["submitJob"]>) {
        return this.count(super.submitJob(...a));
      }
      override submitAndWait(...a: Parameters<GatewayClient["submitAndWait"]>) {
        return this.count(super.submitAndWait(...a));
      }
      override getJob(...a: Parameters<GatewayClient["getJob"]>) {
        return this.count(super.getJob(...a));
      }
      override closeSession(...a: Parameters<GatewayClient["closeSession"]>) {
        return this.count(super.closeSession(...a));
      }
    }
    const counting = new Counting({ url: limited.url });
    try {
      // Back to back, so the limit of 3 a second is certainly exceeded.
      for (const text of ["The jury said", "She said that"]) {
        const result = await runPrompt({
          gateway: counting,
          brainId: BRAIN,
          model: SHIPPED,
          prompt: text,
          maxTokens: 3,
          mode: "plain",
        });
        expect(result.ids).to.deep.equal(
          await generateGreedy(runner.source(), tokenizer.encode(text), { maxTokens: 3, eosId }),
        );
      }
      expect(counting.refusals).to.be.greaterThan(0);
    } finally {
      abort.abort();
      await limitedMiner.catch(() => undefined);
      await limited.close();
      await deletePrefix(limitedPrefix);
    }
  });

  it("a refused session and an aborted prompt leave no open session behind", async () => {
    // The gateway serves Brain #3 only.
    const refused = await runPrompt({
      gateway: client,
      brainId: BRAIN + 1,
      model: SHIPPED,
      prompt: "The jury said",
      maxTokens: 2,
      mode: "encrypted",
      openKeys: keystoreKeys(keystoreDir, "never"),
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused, "a session for another Brain").to.be.instanceOf(Error);
    expect(String((refused as Error).message)).to.match(/gateway refused \(4\d\d/);

    // Aborted after the first token: the session is closed before the error comes back.
    const stop = new AbortController();
    let sessionId: string | undefined;
    const aborted = await runPrompt({
      gateway: client,
      brainId: BRAIN,
      model: SHIPPED,
      prompt: "The jury said",
      maxTokens: 6,
      mode: "encrypted",
      openKeys: keystoreKeys(keystoreDir, "never"),
      signal: stop.signal,
      onStep: (s) => {
        const m = /^session (\S+)/.exec(s);
        if (m) sessionId = m[1];
      },
      onToken: () => stop.abort(),
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((aborted as Error)?.name).to.equal("AbortError");
    expect(sessionId).to.be.a("string");
    expect((await client.getSession(sessionId!)).state).to.equal("closed");
  });
});
