import path from "node:path";
import { expect } from "chai";
import { Redis } from "ioredis";
import pino, { type Logger } from "pino";
import type { Address } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { MinerEngine } from "../../../compute/miner/engine";
import { runMiner } from "../../../compute/miner/node";
import { DEFAULT_REDIS_URL, type GatewayDomain } from "../../../protocol/gateway";
import { type RunningGateway, startGateway } from "../../../compute/gateway/server";
import {
  type CanaryPrompt,
  CanaryPrompts,
  type Reference,
  TOKEN_TOLERANCE,
  USER_LIKE_SHAPE,
  createReference,
  runCanary,
} from "../../../compute/validator/canary";
import { Replayer } from "../../../compute/validator/replay";
import { type ScoringState, scoreOf, updateScores, weightsFor } from "../../../compute/validator/scoring";
import { jitteredGap, runRound } from "../../../compute/validator/service";
import { GatewayClient } from "../../../sdk/gateway-client";
import { loadTokenizer } from "../../../zkllm/tokenizer";
import { tempDir } from "../../helpers/processes";

const MODEL_DIR = path.resolve(__dirname, "..", "..", "..", "zkllm", "models", "brain-gpt2-tiny");
const BRAIN = 3;
const DOMAIN: GatewayDomain = {
  chainId: 32323,
  network: "0x000000000000000000000000000000000000bEEF",
  brainId: BRAIN,
};
const DELIVERY = { chainId: 32323, computeMarket: "0x000000000000000000000000000000000000c0DE" as Address };

function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: pino({ level: "debug" }, { write: (l: string) => void lines.push(l) }), lines };
}

/** Canary prompts that remember what they drew (to search the logs for them). */
class RecordingPrompts extends CanaryPrompts {
  readonly drawn: CanaryPrompt[] = [];
  override draw(): CanaryPrompt {
    const p = super.draw();
    this.drawn.push(p);
    return p;
  }
}

describe("validator canaries and rounds against a real gateway and miners", function () {
  this.timeout(300_000);
  const prefix = `test-validator-${Math.random().toString(36).slice(2, 10)}`;
  const members = new Set<Address>();
  const tokenizer = loadTokenizer(MODEL_DIR);
  let gateway: RunningGateway;
  let reference: Reference;
  const validator = privateKeyToAccount(generatePrivateKey());
  const signer = { account: validator, domain: DOMAIN };

  before(async () => {
    members.add(validator.address);
    gateway = await startGateway({
      port: 0,
      // Free sessions (no ComputeMarket here): the gateway refuses them by default.
      freeSessions: true,
      brainId: BRAIN,
      prefix,
      domain: DOMAIN,
      delivery: DELIVERY,
      isMember: async (address, role) =>
        role === "validator"
          ? address === validator.address
          : members.has(address) && address !== validator.address,
      lockMs: 20_000,
      minerTimeoutMs: 5_000,
    });
    reference = await createReference(MODEL_DIR, "encrypted");
  });

  after(async () => {
    await gateway?.close();
    await reference?.close();
    const redis = new Redis(process.env.REDIS_URL ?? DEFAULT_REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it("canary prompts are Brown corpus passages of user-like, random sizes; the reference accepts greedy and refuses the rest", async () => {
    const prompts = new CanaryPrompts(tokenizer, 128);
    const drawn = Array.from({ length: 40 }, () => prompts.draw());
    for (const d of drawn) {
      expect(d.promptIds.length).to.be.within(
        USER_LIKE_SHAPE.promptTokens[0],
        USER_LIKE_SHAPE.promptTokens[1],
      );
      expect(d.maxTokens).to.be.within(USER_LIKE_SHAPE.maxTokens[0], USER_LIKE_SHAPE.maxTokens[1]);
    }
    expect(new Set(drawn.map((d) => d.promptIds.length)).size, "lengths vary").to.be.greaterThan(5);
    expect(new Set(drawn.map((d) => d.promptIds.join(","))).size, "passages vary").to.equal(40);
    expect(() => new CanaryPrompts(tokenizer, 8, { promptTokens: [6, 8], maxTokens: [4, 4] })).to.throw(
      /do not fit/,
    );

    const { promptIds } = drawn[0]!;
    const answer = await reference.generate(promptIds, 5);
    expect(await reference.verify(promptIds, answer, 5)).to.deep.equal({ ok: true });
    const wrong = [...answer];
    wrong[2] = (wrong[2]! + 1) % tokenizer.vocabSize;
    const v = await reference.verify(promptIds, wrong, 5);
    expect(v).to.deep.include({ ok: false, reason: "token", position: 2 });
    expect((v as { gap: number }).gap).to.be.greaterThan(TOKEN_TOLERANCE);
    // Too short without an end-of-text token, or longer than asked: not what greedy decoding gives.
    expect(await reference.verify(promptIds, answer.slice(0, 3), 5)).to.deep.include({
      ok: false,
      reason: "length",
    });
    expect(await reference.verify(promptIds, answer, 4)).to.deep.include({ ok: false, reason: "length" });
    // Plain mode checks against onnxruntime, which agrees with the unsqueezed model.
    const plain = await createReference(MODEL_DIR, "plain");
    try {
      const p = await plain.generate(promptIds, 4);
      expect(await plain.verify(promptIds, p, 4)).to.deep.equal({ ok: true });
    } finally {
      await plain.close();
    }
    // Gaps between canaries are random, not periodic.
    const gaps = Array.from({ length: 200 }, () => jitteredGap(1000));
    expect(Math.min(...gaps)).to.be.at.least(100);
    expect(Math.max(...gaps)).to.be.at.most(4000);
    expect(new Set(gaps).size).to.equal(200);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).to.be.within(600, 1400);
  });

  it("with no miner live, a canary fails (no one to blame); it does not throw", async () => {
    const prompt = new CanaryPrompts(tokenizer, 128, { promptTokens: [4, 8], maxTokens: [2, 2] }).draw();
    const c = await runCanary({
      gatewayUrl: gateway.url,
      brainId: BRAIN,
      reference,
      prompt,
      keystoreDir: path.join(tempDir("based-canary-keys"), "0"),
      // The gateway answers 503 NoMinerAvailable: the canary gives up once this budget is spent.
      retryBudgetMs: 1_000,
    });
    expect(c).to.deep.include({ outcome: "failed", miners: [] });
    expect(c.reason).to.match(/NoMinerAvailable/);
  });

  it("an honest miner and one returning wrong results: canaries and replays catch the second, and its weight ends far below", async () => {
    const stop = new AbortController();
    const engine = await MinerEngine.create(MODEL_DIR, { workers: 1 });
    const honest = privateKeyToAccount(generatePrivateKey());
    const cheat = privateKeyToAccount(generatePrivateKey());
    members.add(honest.address);
    members.add(cheat.address);
    const miner = (account: typeof honest, fault?: "wrong-results") =>
      runMiner({
        client: new GatewayClient({ url: gateway.url }),
        signer: { account, domain: DOMAIN },
        engine,
        delivery: DELIVERY,
        pollWaitMs: 1_000,
        signal: stop.signal,
        logger: pino({ level: "silent" }),
        ...(fault ? { fault } : {}),
      });
    const running = [miner(honest), miner(cheat, "wrong-results")];
    const replayer = await Replayer.create(MODEL_DIR);
    const prompts = new RecordingPrompts(tokenizer, 128, { promptTokens: [4, 14], maxTokens: [2, 3] });
    const keystore = tempDir("based-canary-keys");
    const { logger, lines } = memoryLogger();
    try {
      let state: ScoringState = {};
      const seen = new Set<string>();
      const checked = (m: Address, s: ScoringState) => s[m]?.correctness !== null && s[m] !== undefined;
      const outcomes: Record<string, string[]> = { [honest.address]: [], [cheat.address]: [] };
      const replays: Record<string, string[]> = { [honest.address]: [], [cheat.address]: [] };
      // Sessions go to the least loaded miner, ties at random: a few rounds reach both.
      for (
        let round = 0;
        round < 8 && !(checked(honest.address, state) && checked(cheat.address, state));
        round++
      ) {
        const report = await runRound({
          gatewayUrl: gateway.url,
          signer,
          brainId: BRAIN,
          reference,
          prompts,
          replayer,
          keystoreDir: keystore,
          canaries: 2,
          replays: 6,
          miners: [honest.address, cheat.address],
          seen,
          log: logger,
        });
        for (const c of report.canaries) for (const m of c.miners) outcomes[m]?.push(c.outcome);
        for (const r of report.replays) replays[r.miner]?.push(r.verdict);
        expect(Object.keys(report.observations).sort()).to.deep.equal([honest.address, cheat.address].sort());
        state = updateScores(state, report.observations);
      }
      expect(
        checked(honest.address, state) && checked(cheat.address, state),
        JSON.stringify({ outcomes, replays }),
      ).to.equal(true);
      expect(outcomes[honest.address]!.every((o) => o === "ok")).to.equal(true);
      expect(outcomes[cheat.address]!.every((o) => o === "wrong")).to.equal(true);
      expect(replays[honest.address]!.every((v) => v === "match")).to.equal(true);
      expect(replays[cheat.address]!.every((v) => v === "mismatch")).to.equal(true);

      const [h, c] = [scoreOf(state[honest.address]), scoreOf(state[cheat.address])];
      expect(h).to.be.greaterThan(0.4);
      expect(c).to.be.at.most(0.05);
      const weights = weightsFor(state, [
        { uid: 4, account: honest.address },
        { uid: 5, account: cheat.address },
      ]);
      expect(weights.map((w) => w.weight)[0]).to.equal(65_535);
      expect(weights[1]!.weight).to.be.below(65_535 * 0.1);

      // The logs name miners and verdicts, never a prompt: neither its text nor its token ids.
      const logged = lines.join("\n");
      expect(lines.some((l) => l.includes('"canary answered"'))).to.equal(true);
      expect(lines.some((l) => l.includes('"canary wrong"'))).to.equal(true);
      for (const p of prompts.drawn) {
        expect(logged).to.not.contain(tokenizer.decode(p.promptIds).trim().slice(0, 24));
        expect(logged).to.not.contain(p.promptIds.slice(0, 3).join(","));
      }
    } finally {
      stop.abort();
      await Promise.all(running);
      replayer.close();
      await engine.close();
    }
  });
});
