import { expect } from "chai";
import { type Address, type Hex, recoverTypedDataAddress, toHex } from "viem";
import type { EscrowInfo } from "../../../compute/gateway/service";
import {
  DELIVERY_TYPES,
  type OpenSession,
  type SubmitJob,
  deliveryDomain,
  deliveryMessage,
  jobHash,
  outputsHash,
  toBase64,
  workItemSchema,
} from "../../../protocol/gateway";
import type { GatewayError } from "../../../sdk/gateway-client";
import {
  BRAIN,
  DELIVERY,
  FAILING_REQUEST,
  type TestGateway,
  TestMiner,
  deletePrefix,
  deliverySignature,
  expectedOutputs,
  newAccount,
  randomInput,
  signedClaim,
  signedHeaders,
  signerOf,
  sleep,
  expectRefusal,
  startTestGateway,
  uniquePrefix,
} from "./helpers";

/**
 * Security attacks #2 (escrows are not bound to sessions) and #3 (billing chosen by the client),
 * each as the attack it is: a victim's request billed by a stranger, one request backing many
 * sessions, free sessions, abandoned sessions never settled, and units the client picks.
 */
describe("gateway: escrows bound to sessions", function () {
  this.timeout(60_000);
  const prefix = uniquePrefix("escrows");
  const victim = newAccount();
  const app = newAccount();
  const attacker = newAccount();
  let requestIds = 100;
  const escrows = new Map<string, EscrowInfo>();
  /** A fresh open request of the victim's account. */
  const newRequest = (promptUnits = 4, maxCompletionUnits = 100): string => {
    const id = String(requestIds++);
    escrows.set(id, { brainId: BRAIN, open: true, account: victim.address, promptUnits, maxCompletionUnits });
    return id;
  };
  const allowances = new Map<string, bigint>([[`${victim.address}:${app.address}`, 10n ** 18n]]);
  let gw: TestGateway;
  let miner: TestMiner;
  /** Sessions whose jobs the shared miner takes and holds without answering (a job still running). */
  const holdFor = new Set<string>();
  const paidOptions = {
    freeSessions: false,
    escrowOf: async (id: string): Promise<EscrowInfo> =>
      escrows.get(id) ?? {
        brainId: BRAIN,
        open: false,
        account: victim.address,
        promptUnits: 0,
        maxCompletionUnits: 0,
      },
    isApp: async (account: Address, a: Address) => (allowances.get(`${account}:${a}`) ?? 0n) > 0n,
  };

  before(async () => {
    gw = await startTestGateway(prefix, paidOptions);
    miner = new TestMiner(gw.client, (item) => (holdFor.has(item.sessionId) ? "hold" : "answer"));
    gw.members.miners.add(miner.address);
    await miner.polledOnce();
    miner.start();
  });

  after(async () => {
    await miner?.stop();
    await gw?.close();
    await deletePrefix(prefix);
  });

  const openPlain = (body: Partial<OpenSession> = {}) =>
    gw.client.openSession({ brainId: BRAIN, mode: "plain", ...body } as OpenSession);

  it("attack: a session opened on a victim's request is refused", async () => {
    const id = newRequest();
    // Naming the request alone, as anyone who reads the chain can:
    await expectRefusal(openPlain({ requestId: id }), 401, "ClaimRequired");
    // Signing it with one's own key:
    await expectRefusal(
      openPlain({ requestId: id, claim: await signedClaim(attacker, id, "plain") }),
      403,
      "NotRequestOwner",
    );
    // Replaying the victim's claim for other keys (a claim names the session's keys):
    const encrypted = await signedClaim(victim, id, "encrypted", { galois: "a".repeat(64), relin: null });
    await expectRefusal(openPlain({ requestId: id, claim: encrypted }), 403, "NotRequestOwner");
    // An expired claim:
    const old = await signedClaim(victim, id, "plain", undefined, Math.floor(Date.now() / 1000) - 1);
    await expectRefusal(openPlain({ requestId: id, claim: old }), 401, "ClaimExpired");
    // None of this used the request up: the account opens its session, and an app it authorized can too.
    const own = await openPlain({ requestId: id, claim: await signedClaim(victim, id, "plain") });
    expect(own.requestId).to.equal(id);
    const other = newRequest();
    const byApp = await openPlain({ requestId: other, claim: await signedClaim(app, other, "plain") });
    expect(byApp.requestId).to.equal(other);
  });

  it("attack: one request backs one session", async () => {
    const id = newRequest();
    const claim = await signedClaim(victim, id, "plain");
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => openPlain({ requestId: id, claim })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).to.have.length(1);
    for (const r of results) {
      if (r.status === "rejected") expect((r.reason as GatewayError).code).to.equal("RequestInUse");
    }
    await expectRefusal(openPlain({ requestId: id, claim }), 409, "RequestInUse");
  });

  it("attack: a session without escrow is refused (unless --free-sessions)", async () => {
    await expectRefusal(openPlain(), 402, "EscrowRequired");
    const freePrefix = uniquePrefix("escrows-free");
    const free = await startTestGateway(freePrefix, { freeSessions: true });
    const m = new TestMiner(free.client);
    free.members.miners.add(m.address);
    try {
      await m.polledOnce();
      const s = await free.client.openSession({ brainId: BRAIN, mode: "plain" });
      expect(s.requestId).to.equal(null);
    } finally {
      await free.close();
      await deletePrefix(freePrefix);
    }
  });

  it("a miner sees no request id or account: its work item names the job alone, and its Delivery binds that job", async () => {
    const ownPrefix = uniquePrefix("escrows-blind");
    const g = await startTestGateway(ownPrefix, paidOptions);
    const minerKey = newAccount();
    g.members.miners.add(minerKey.address);
    // Request ids with distinctive decimal and hex forms, one per session mode.
    const ids = { plain: "987654321987", encrypted: "987654321988" } as const;
    for (const id of Object.values(ids))
      escrows.set(id, {
        brainId: BRAIN,
        open: true,
        account: victim.address,
        promptUnits: 4,
        maxCompletionUnits: 100,
      });
    const keys = { galois: null, relin: null };
    /** One long poll as the miner, read raw: the bytes and headers a miner gets. */
    const poll = async () => {
      const body = JSON.stringify({ waitMs: 5_000 });
      const res = await fetch(`${g.url}/v1/miner/work`, {
        method: "POST",
        headers: await signedHeaders(minerKey, { method: "POST", path: "/v1/miner/work", body }),
        body,
      });
      return { res, text: res.status === 200 ? await res.text() : "" };
    };
    try {
      await poll(); // live
      for (const mode of ["plain", "encrypted"] as const) {
        const requestId = ids[mode];
        const s = await g.client.openSession({
          brainId: BRAIN,
          mode,
          ...(mode === "encrypted" ? { paramSet: "n8192", keys } : {}),
          requestId,
          claim: await signedClaim(victim, requestId, mode, mode === "encrypted" ? keys : undefined),
        } as OpenSession);
        expect(s.requestId).to.equal(requestId);
        const submitted: SubmitJob =
          mode === "plain"
            ? { kind: "generate", tokens: [1, 2, 3], maxTokens: 4 }
            : { kind: "linear", step: "L0.qkv@1", inputs: [randomInput(64)] };
        const { jobId } = await g.client.submitJob(s.sessionId, submitted);
        const { res, text } = await poll();
        expect(res.status).to.equal(200);
        const raw = [text, ...[...res.headers.entries()].map(([k, v]) => `${k}: ${v}`)]
          .join("\n")
          .toLowerCase();
        for (const secret of [
          requestId,
          toHex(BigInt(requestId)).slice(2),
          toHex(BigInt(requestId), { size: 32 }).slice(2),
          victim.address.slice(2).toLowerCase(),
        ]) {
          expect(raw, `the miner's view holds ${secret}`).to.not.include(secret.toLowerCase());
        }
        const item = workItemSchema.parse(JSON.parse(text));
        expect(Object.keys(item).sort()).to.deep.equal(["job", "jobId", "lockToken", "sessionId"]);
        expect(item.jobId).to.equal(jobId);

        // The miner signs the job it was given; the client, knowing what it submitted, gets the same hash.
        const expectedJob = await jobHash(
          jobId,
          submitted.kind === "linear" ? { ...submitted, paramSet: "n8192", keys } : submitted,
        );
        expect(await jobHash(item.jobId, item.job)).to.equal(expectedJob);
        const outputs = expectedOutputs(item);
        const outputHash = await outputsHash(outputs);
        const signature = await deliverySignature(minerKey, item, outputHash);
        await g.client.postResult(signerOf(minerKey), jobId, {
          lockToken: item.lockToken,
          outputs: outputs.map(toBase64),
          outputHash,
          signature,
        });
        const view = await g.client.getJob(jobId);
        expect(view.result).to.include({ jobHash: expectedJob, outputHash, signature });
        const signer = await recoverTypedDataAddress({
          domain: deliveryDomain(DELIVERY.chainId, DELIVERY.computeMarket),
          types: DELIVERY_TYPES,
          primaryType: "Delivery",
          message: deliveryMessage(BRAIN, expectedJob, outputHash),
          signature: signature as Hex,
        });
        expect(signer).to.equal(minerKey.address);
        // The gateway maps the job back to its escrow: the settlement names the request and that job.
        await g.client.closeSession(s.sessionId);
        expect(g.settled.find((x) => x.requestId === requestId)).to.deep.include({
          jobHash: expectedJob,
          resultHash: outputHash,
          signature,
          miner: minerKey.address,
        });
      }
    } finally {
      await g.close();
      await deletePrefix(ownPrefix);
    }
  });

  it("attack: an abandoned session is settled for the work delivered", async () => {
    const shortPrefix = uniquePrefix("escrows-ttl");
    const short = await startTestGateway(shortPrefix, { ...paidOptions, sessionTtlMs: 1_500 });
    const m = new TestMiner(short.client);
    short.members.miners.add(m.address);
    try {
      await m.polledOnce();
      m.start();
      const id = newRequest(4, 100);
      const s = await short.client.openSession({
        brainId: BRAIN,
        mode: "plain",
        requestId: id,
        claim: await signedClaim(victim, id, "plain"),
      });
      const { jobId } = await short.client.submitJob(s.sessionId, {
        kind: "generate",
        tokens: [1, 2, 3],
        maxTokens: 5,
      });
      const done = await short.client.waitForJob(jobId, 10_000);
      expect(done.state).to.equal("completed");
      // The client walks away without closing: the gateway settles once the session expires.
      for (let i = 0; i < 60 && !short.settled.some((x) => x.requestId === id); i++) await sleep(100);
      const settled = short.settled.find((x) => x.requestId === id);
      expect(settled, "settled on expiry").to.not.equal(undefined);
      expect(settled).to.include({
        completionUnits: 5,
        resultHash: done.result!.outputHash,
        miner: m.address,
      });
      await expectRefusal(
        short.client.submitJob(s.sessionId, { kind: "generate", tokens: [1], maxTokens: 1 }),
        409,
        "SessionClosed",
      );
    } finally {
      await m.stop();
      await short.close();
      await deletePrefix(shortPrefix);
    }
  });

  it("attack: billing chosen by the client — units are counted from complete passes", async () => {
    const id = newRequest(4, 100);
    const s = await gw.client.openSession({
      brainId: BRAIN,
      mode: "encrypted",
      paramSet: "n8192",
      keys: { galois: null, relin: null },
      requestId: id,
      claim: await signedClaim(victim, id, "encrypted", { galois: null, relin: null }),
    });
    // 50 single-row passes labelled as prompt-bucket passes, plus one real one:
    for (const step of [...Array.from({ length: 50 }, () => "L0.qkv@16"), "L0.qkv@1"]) {
      const { jobId } = await gw.client.submitJob(s.sessionId, {
        kind: "linear",
        step,
        inputs: [randomInput(16)],
      });
      await gw.client.waitForJob(jobId, 10_000);
    }
    // Every pass is billed for its rows, bucket padding included: 50 × 16 + 1 rows, whatever their labels.
    const units = (await gw.client.getSession(s.sessionId)).units;
    expect(units.prompt + units.completion).to.equal(50 * 16 + 1);
  });
  const openPaid = async (id: string, g: TestGateway = gw) =>
    g.client.openSession({
      brainId: BRAIN,
      mode: "plain",
      requestId: id,
      claim: await signedClaim(victim, id, "plain"),
    });

  it("a paid session closed before any job refunds its whole escrow at once", async () => {
    const id = newRequest();
    const s = await openPaid(id);
    const closed = await gw.client.closeSession(s.sessionId);
    expect(closed.settlement).to.deep.equal({
      requestId: id,
      txHash: `0x${"cd".repeat(32)}`,
      error: null,
      refunded: true,
    });
    expect(gw.refunded).to.include(id);
    expect(gw.settled.map((x) => x.requestId)).to.not.include(id);
    // A refund the chain refuses is reported, not thrown: the escrow waits for its deadline.
    escrows.set(FAILING_REQUEST, {
      brainId: BRAIN,
      open: true,
      account: victim.address,
      promptUnits: 4,
      maxCompletionUnits: 8,
    });
    const failing = await gw.client.closeSession((await openPaid(FAILING_REQUEST)).sessionId);
    expect(failing.settlement).to.deep.include({ requestId: FAILING_REQUEST, txHash: null });
    expect(failing.settlement!.error).to.match(/its refund failed \(execution reverted: RequestNotOpen/);
    expect(gw.refunded).to.not.include(FAILING_REQUEST);
  });

  it("a paid session that expires before any job is refunded at once, not at the deadline", async () => {
    const shortPrefix = uniquePrefix("escrows-refund-ttl");
    const short = await startTestGateway(shortPrefix, { ...paidOptions, sessionTtlMs: 1_000 });
    const m = new TestMiner(short.client);
    short.members.miners.add(m.address);
    try {
      await m.polledOnce();
      const id = newRequest();
      await openPaid(id, short);
      for (let i = 0; i < 60 && !short.refunded.includes(id); i++) await sleep(100);
      expect(short.refunded, "refunded on expiry").to.include(id);
      expect(short.settled).to.have.length(0);
    } finally {
      await short.close();
      await deletePrefix(shortPrefix);
    }
  });

  it("attack: closing a session while its job runs, to get the result and the refund — no refund", async () => {
    const id = newRequest();
    const s = await openPaid(id);
    holdFor.add(s.sessionId);
    const { jobId } = await gw.client.submitJob(s.sessionId, {
      kind: "generate",
      tokens: [1, 2],
      maxTokens: 3,
    });
    for (let i = 0; i < 50 && !miner.taken.some((t) => t.jobId === jobId); i++) await sleep(50);
    expect(
      miner.taken.some((t) => t.jobId === jobId),
      "the miner holds the job",
    ).to.equal(true);
    const closed = await gw.client.closeSession(s.sessionId);
    expect(closed.settlement).to.deep.include({ requestId: id, txHash: null });
    expect(closed.settlement!.refunded ?? false).to.equal(false);
    expect(closed.settlement!.error).to.match(/still queued or running/);
    expect(gw.refunded).to.not.include(id);
    // A job submitted but not yet taken counts the same: it could still deliver.
    const queued = newRequest();
    const q = await openPaid(queued);
    miner.paused = true;
    try {
      await gw.client.submitJob(q.sessionId, { kind: "generate", tokens: [1], maxTokens: 1 });
      const c = await gw.client.closeSession(q.sessionId);
      expect(c.settlement!.refunded ?? false).to.equal(false);
      expect(gw.refunded).to.not.include(queued);
    } finally {
      miner.paused = false;
    }
  });

  it("a paid session whose jobs all failed is refunded; one with a delivered job still settles, never refunds", async () => {
    const failPrefix = uniquePrefix("escrows-refund-failed");
    const g = await startTestGateway(failPrefix, { ...paidOptions, maxAttempts: 1 });
    const holder = new TestMiner(g.client, () => "hold");
    g.members.miners.add(holder.address);
    try {
      await holder.polledOnce();
      holder.start();
      const id = newRequest();
      const s = await openPaid(id, g);
      const { jobId } = await g.client.submitJob(s.sessionId, {
        kind: "generate",
        tokens: [1],
        maxTokens: 1,
      });
      const failed = await g.client.waitForJob(jobId, 10_000);
      expect(failed.state).to.equal("failed");
      const closed = await g.client.closeSession(s.sessionId);
      expect(closed.settlement).to.deep.include({ requestId: id, refunded: true, error: null });
      expect(g.refunded).to.deep.equal([id]);
    } finally {
      await holder.stop();
      await g.close();
      await deletePrefix(failPrefix);
    }

    const worked = newRequest();
    const s = await openPaid(worked);
    const { jobId } = await gw.client.submitJob(s.sessionId, {
      kind: "generate",
      tokens: [1, 2],
      maxTokens: 3,
    });
    const done = await gw.client.waitForJob(jobId, 10_000);
    expect(done.state).to.equal("completed");
    const closed = await gw.client.closeSession(s.sessionId);
    expect(closed.settlement).to.deep.equal({
      requestId: worked,
      txHash: `0x${"ab".repeat(32)}`,
      error: null,
    });
    expect(gw.settled.find((x) => x.requestId === worked)).to.include({
      completionUnits: 3,
      resultHash: done.result!.outputHash,
    });
    expect(gw.refunded).to.not.include(worked);
  });
});
