import { expect } from "chai";
import { readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import pino from "pino";
import type { Address } from "viem";
import { FileBlobStore, defaultBlobDir } from "../../../compute/gateway/blob-store";
import { LeaderLease } from "../../../compute/gateway/leader";
import type { EscrowInfo } from "../../../compute/gateway/service";
import { Wakeups, wakeChannel } from "../../../compute/gateway/wakeups";
import { blobHash, randomHex } from "../../../protocol/gateway";
import {
  BRAIN,
  REDIS_URL,
  type Members,
  type TestGateway,
  TestMiner,
  deletePrefix,
  newAccount,
  signedClaim,
  sleep,
  startTestGateway,
  uniquePrefix,
} from "./helpers";

/**
 * Several replicas of one Brain's gateway on one Redis prefix (docs/gateway.md "Replicas"):
 * wake-ups cross replicas, one leader runs the monitor and settles, rate limits are counted once,
 * and blobs are files with their metadata in Redis. Locks last 1 s, miners time out after 1.5 s
 * and the leader lease after 1.5 s here.
 */
describe("gateway: replicas on one prefix", function () {
  this.timeout(60_000);
  const cleanups: Array<() => Promise<void>> = [];
  const log = pino({ level: "silent" });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  /** Two replicas on one fresh prefix, sharing members; the first one started leads. */
  async function twoReplicas(
    name: string,
    extra: Parameters<typeof startTestGateway>[1] = {},
  ): Promise<{ r1: TestGateway; r2: TestGateway; prefix: string; members: Members }> {
    const prefix = uniquePrefix(name);
    const members: Members = { miners: new Set(), validators: new Set() };
    const options = { leaderLeaseMs: 1_500, ...extra };
    const r1 = await startTestGateway(prefix, options, members);
    const r2 = await startTestGateway(prefix, options, members);
    cleanups.push(async () => {
      await Promise.all([r1.close(), r2.close()]);
      await deletePrefix(prefix);
    });
    return { r1, r2, prefix, members };
  }

  /** A miner polling through `gw`, registered and live. */
  async function minerOn(gw: TestGateway, members: Members): Promise<TestMiner> {
    const m = new TestMiner(gw.client);
    members.miners.add(m.address);
    await m.polledOnce();
    cleanups.push(() => m.stop());
    return m;
  }

  it("carries wake-ups between replicas on one channel, not back to their sender", async () => {
    const prefix = uniquePrefix("wake");
    const conns = [new Redis(REDIS_URL), new Redis(REDIS_URL), new Redis(REDIS_URL), new Redis(REDIS_URL)];
    cleanups.push(async () => {
      for (const c of conns) c.disconnect();
    });
    const got: string[][] = [[], []];
    const a = new Wakeups(conns[0]!, conns[1]!, wakeChannel(prefix, BRAIN), (k) => got[0]!.push(k), log);
    const b = new Wakeups(conns[2]!, conns[3]!, wakeChannel(prefix, BRAIN), (k) => got[1]!.push(k), log);
    await a.start();
    await b.start();
    a.publish("job:j1");
    b.publish("miner:0xabc");
    for (let i = 0; i < 100 && (got[0]!.length === 0 || got[1]!.length === 0); i++) await sleep(10);
    expect(got).to.deep.equal([["miner:0xabc"], ["job:j1"]]);
  });

  it("gives the lease to one replica at a time, and to another once it is given up or abandoned", async () => {
    const prefix = uniquePrefix("lease");
    const redis = new Redis(REDIS_URL);
    cleanups.push(async () => {
      redis.disconnect();
      await deletePrefix(prefix);
    });
    const key = `${prefix}:gw:${BRAIN}:leader`;
    const one = new LeaderLease(redis, key, 600, log);
    const two = new LeaderLease(redis, key, 600, log);
    await one.start();
    await two.start();
    expect([one.isLeader, two.isLeader]).to.deep.equal([true, false]);
    // Renewed: still the leader well past its lifetime.
    await sleep(900);
    expect([one.isLeader, two.isLeader]).to.deep.equal([true, false]);
    await one.stop();
    expect(one.isLeader).to.equal(false);
    await two.tryOnce();
    expect(two.isLeader).to.equal(true);
    expect(await redis.get(key)).to.equal(two.id);
    // A replica that stops acting without a word: the lease moves once it expires.
    two.abandon();
    const three = new LeaderLease(redis, key, 600, log);
    await three.start();
    expect(three.isLeader).to.equal(false);
    await sleep(700);
    await three.tryOnce();
    expect(three.isLeader).to.equal(true);
    await three.stop();
  });

  it("serves one session through both: opened on one, jobs submitted and waited on through the other", async () => {
    const { r1, r2, members } = await twoReplicas("serve");
    const miner = (await minerOn(r2, members)).start();
    const session = await r1.client.openSession({ brainId: BRAIN, mode: "plain" });
    const { jobId } = await r2.client.submitJob(session.sessionId, {
      kind: "generate",
      tokens: [5],
      maxTokens: 2,
    });
    // A client long-polling replica 1 sees the result the miner posted to replica 2.
    const view = await r1.client.waitForJob(jobId, 20_000);
    expect(view.state).to.equal("completed");
    expect(view.result!.miner).to.equal(miner.address);
    expect((await r2.client.getJob(jobId)).state).to.equal("completed");
    expect((await r1.client.getSession(session.sessionId)).units.completion).to.equal(2);
  });

  it("wakes a miner long-polling one replica with a job queued on the other", async () => {
    const { r1, r2, members } = await twoReplicas("wake-miner");
    const miner = await minerOn(r2, members);
    const session = await r1.client.openSession({ brainId: BRAIN, mode: "plain" });
    const poll = r2.client.pollWork(miner.signer, 20_000);
    await sleep(300);
    const { jobId } = await r1.client.submitJob(session.sessionId, {
      kind: "generate",
      tokens: [1],
      maxTokens: 1,
    });
    const item = await poll;
    expect(item?.jobId).to.equal(jobId);
  });

  it("carries on through the other replica when one is killed mid-session: no job lost, the lease moves", async () => {
    const { r1, r2, prefix, members } = await twoReplicas("kill");
    expect([r1.replica.isLeader(), r2.replica.isLeader()]).to.deep.equal([true, false]);
    const health = async (gw: TestGateway) =>
      ((await (await fetch(`${gw.url}/health`)).json()) as { leader: boolean }).leader;
    expect([await health(r1), await health(r2)]).to.deep.equal([true, false]);
    // The session sticks to a miner on replica 1 (the only live one when it opens).
    const doomed = (await minerOn(r1, members)).start();
    const session = await r1.client.openSession({ brainId: BRAIN, mode: "plain" });
    expect(session.miner).to.equal(doomed.address);
    const survivor = (await minerOn(r2, members)).start();
    const first = await r2.client.submitJob(session.sessionId, {
      kind: "generate",
      tokens: [1],
      maxTokens: 1,
    });
    expect((await r2.client.waitForJob(first.jobId, 20_000)).result!.miner).to.equal(doomed.address);

    // Replica 1's host goes down with its miner, two jobs still waiting in that miner's queue.
    doomed.paused = true;
    await sleep(400);
    const queued = [];
    for (const t of [2, 3]) {
      queued.push(
        await r1.client.submitJob(session.sessionId, { kind: "generate", tokens: [t], maxTokens: 1 }),
      );
    }
    await r1.kill();

    // Replica 2 takes the lease once it expires; its monitor moves the session and both jobs.
    for (const { jobId } of queued) {
      const view = await r2.client.waitForJob(jobId, 30_000);
      expect(view.state).to.equal("completed");
      expect(view.result!.miner).to.equal(survivor.address);
    }
    expect(r2.replica.isLeader()).to.equal(true);
    expect(await health(r2)).to.equal(true);
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.get(`${prefix}:gw:${BRAIN}:leader`)).to.equal(r2.replica.id);
    } finally {
      redis.disconnect();
    }
    expect((await r2.client.getSession(session.sessionId)).miner).to.equal(survivor.address);
    const last = await r2.client.submitJob(session.sessionId, {
      kind: "generate",
      tokens: [9],
      maxTokens: 1,
    });
    expect((await r2.client.waitForJob(last.jobId, 20_000)).state).to.equal("completed");
  });

  /** Two replicas serving paid sessions of one account, with a miner polling the second. */
  async function paidReplicas(name: string, extra: Parameters<typeof startTestGateway>[1] = {}) {
    const account = newAccount();
    const escrows = new Map<string, EscrowInfo>();
    const replicas = await twoReplicas(name, {
      freeSessions: false,
      escrowOf: async (id: string): Promise<EscrowInfo> =>
        escrows.get(id) ?? {
          brainId: BRAIN,
          open: false,
          account: account.address,
          promptUnits: 0,
          maxCompletionUnits: 0,
        },
      isApp: async (_a: Address, _b: Address) => false,
      ...extra,
    });
    (await minerOn(replicas.r2, replicas.members)).start();
    /** A paid session opened through `gw`, with one job completed. */
    const servedSession = async (gw: TestGateway, requestId: string) => {
      escrows.set(requestId, {
        brainId: BRAIN,
        open: true,
        account: account.address,
        promptUnits: 1,
        maxCompletionUnits: 50,
      });
      const session = await gw.client.openSession({
        brainId: BRAIN,
        mode: "plain",
        requestId,
        claim: await signedClaim(account, requestId, "plain"),
      });
      const { jobId } = await gw.client.submitJob(session.sessionId, {
        kind: "generate",
        tokens: [1],
        maxTokens: 3,
      });
      expect((await gw.client.waitForJob(jobId, 20_000)).state).to.equal("completed");
      return session;
    };
    return { ...replicas, servedSession };
  }

  it("settles only from the leader: a close sent to another replica is settled there, once", async () => {
    const { r1, r2, servedSession } = await paidReplicas("settle");
    expect([r1.replica.isLeader(), r2.replica.isLeader()]).to.deep.equal([true, false]);
    const requestId = "700";
    const session = await servedSession(r2, requestId);
    const closed = await r2.client.closeSession(session.sessionId);
    expect(closed.settlement).to.deep.include({ requestId, txHash: `0x${"ab".repeat(32)}`, error: null });
    expect(r1.settled.map((s) => [s.requestId, s.completionUnits])).to.deep.equal([
      [requestId, closed.units.completion],
    ]);
    expect(r2.settled).to.deep.equal([]);
  });

  it("keeps a settlement queued while no replica leads, answers the close in bounded time, and settles it later", async () => {
    const { r1, r2, servedSession } = await paidReplicas("settle-later", {
      leaderLeaseMs: 3_000,
      settleWaitMs: 300,
    });
    const session = await servedSession(r2, "701");
    // The leader dies: its lease stays taken until it expires.
    await r1.kill();
    const closed = await r2.client.closeSession(session.sessionId);
    expect(closed.settlement!.txHash).to.equal(null);
    expect(closed.settlement!.error).to.match(/handed to the leading gateway replica/);
    for (let i = 0; i < 100 && r2.settled.length === 0; i++) await sleep(100);
    expect(r2.replica.isLeader()).to.equal(true);
    expect(r2.settled.map((s) => s.requestId)).to.deep.equal(["701"]);
    expect(r1.settled).to.deep.equal([]);
  });

  it("counts the client rate limit once across replicas", async () => {
    const { r1, r2 } = await twoReplicas("ratelimit", { rateLimit: { max: 4, timeWindowMs: 60_000 } });
    const head = (gw: TestGateway) =>
      fetch(`${gw.url}/v1/blobs/${"0".repeat(64)}`, { method: "HEAD" }).then((r) => r.status);
    expect([await head(r1), await head(r2), await head(r1), await head(r2)]).to.deep.equal([
      404, 404, 404, 404,
    ]);
    expect(await head(r1)).to.equal(429);
    expect(await head(r2)).to.equal(429);
  });

  it("believes X-Forwarded-For only with --trust-proxy", async () => {
    const spoofed = (gw: TestGateway, ip: string) =>
      fetch(`${gw.url}/v1/blobs/${"0".repeat(64)}`, {
        method: "HEAD",
        headers: { "x-forwarded-for": ip },
      }).then((r) => r.status);
    const limit = { rateLimit: { max: 2, timeWindowMs: 60_000 } };
    // Without it, a client that makes up addresses is still counted as its connection's.
    const prefixes = [uniquePrefix("xff-off"), uniquePrefix("xff-on"), uniquePrefix("xff-hop")];
    const plain = await startTestGateway(prefixes[0]!, limit);
    const trusting = await startTestGateway(prefixes[1]!, { ...limit, trustProxy: "127.0.0.1" });
    const oneHop = await startTestGateway(prefixes[2]!, { ...limit, trustProxy: 1 });
    cleanups.push(async () => {
      await Promise.all([plain.close(), trusting.close(), oneHop.close()]);
      for (const p of prefixes) await deletePrefix(p);
    });
    const off = [];
    for (const ip of ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) off.push(await spoofed(plain, ip));
    expect(off).to.deep.equal([404, 404, 429]);
    // Behind a trusted proxy each forwarded client has its own budget.
    const on = [];
    for (const ip of ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1", "10.0.0.1"])
      on.push(await spoofed(trusting, ip));
    expect(on).to.deep.equal([404, 404, 404, 404, 429]);
    // One trusted hop: the address the nearest proxy saw, whatever the client wrote before it.
    const hop = [];
    for (const ip of ["1.1.1.1, 10.0.0.1", "2.2.2.2, 10.0.0.1", "10.0.0.1", "10.0.0.2"])
      hop.push(await spoofed(oneHop, ip));
    expect(hop).to.deep.equal([404, 404, 429, 404]);
  });

  it("keeps blobs as files shared by the replicas, with only their metadata in Redis", async () => {
    const { r1, r2, prefix, members } = await twoReplicas("blobs");
    const miner = await minerOn(r2, members);
    const bytes = crypto.getRandomValues(new Uint8Array(60_000));
    const hash = blobHash(bytes);
    await r1.client.putBlob(bytes);
    expect(Buffer.from(await r2.client.getBlob(miner.signer, hash)).equals(Buffer.from(bytes))).to.equal(
      true,
    );
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.get(`${prefix}:gw:${BRAIN}:blob:${hash}`)).to.equal(String(bytes.length));
    } finally {
      redis.disconnect();
    }
    expect(await readdir(defaultBlobDir(prefix, BRAIN))).to.deep.equal([hash]);
  });

  it("keeps blobs' bytes in Redis with --blob-dir redis", async () => {
    const { r1, r2, prefix, members } = await twoReplicas("blobs-redis", { blobDir: "redis" });
    const miner = await minerOn(r2, members);
    const bytes = crypto.getRandomValues(new Uint8Array(1_000));
    const hash = blobHash(bytes);
    await r1.client.putBlob(bytes);
    expect(Buffer.from(await r2.client.getBlob(miner.signer, hash)).equals(Buffer.from(bytes))).to.equal(
      true,
    );
    const redis = new Redis(REDIS_URL);
    try {
      expect(
        (await redis.getBuffer(`${prefix}:gw:${BRAIN}:blob:${hash}`))!.equals(Buffer.from(bytes)),
      ).to.equal(true);
    } finally {
      redis.disconnect();
    }
  });

  it("writes blob files atomically, honours their expiry and sweeps expired files", async () => {
    const prefix = uniquePrefix("blobstore");
    const dir = path.join(os.tmpdir(), `based-blob-test-${randomHex(4)}`);
    const redis = new Redis(REDIS_URL);
    const key = (h: string) => `${prefix}:gw:${BRAIN}:blob:${h}`;
    const store = new FileBlobStore(redis, key, dir, 1_000);
    cleanups.push(async () => {
      redis.disconnect();
      await rm(dir, { recursive: true, force: true });
      await deletePrefix(prefix);
    });
    const a = Buffer.from("kept");
    const b = Buffer.alloc(2_000, 1);
    const ha = blobHash(a);
    const hb = blobHash(b);
    await store.put(ha, a, 300);
    await store.put(hb, b, 60_000);
    expect(await store.has(ha)).to.equal(true);
    expect((await store.get(ha))!.equals(a)).to.equal(true);
    // Reads are bounded: a file over the store's limit is not read.
    expect(await store.get(hb)).to.equal(null);
    expect((await readdir(dir)).sort()).to.deep.equal([ha, hb].sort());
    await store.keep([ha], 60_000);
    await sleep(400);
    expect(await store.has(ha)).to.equal(true);
    await store.delete(hb);
    expect(await store.has(hb)).to.equal(false);
    await redis.pexpire(key(ha), 1);
    await sleep(20);
    expect(await store.has(ha)).to.equal(false);
    expect(await store.get(ha)).to.equal(null);
    expect(await store.sweep(0)).to.equal(1);
    expect(await readdir(dir)).to.deep.equal([]);
    // Names are hashes only: nothing else becomes a path.
    await store.put("../x", a, 1_000).then(
      () => expect.fail("accepted a path as a hash"),
      (err: Error) => expect(err.message).to.match(/not a blob hash/),
    );
  });
});
