import { Writable } from "node:stream";
import { expect } from "chai";
import pino from "pino";
import { type Hex, recoverTypedDataAddress } from "viem";
import {
  DELIVERY_TYPES,
  type JobView,
  blobHash,
  decodeTokens,
  deliveryDomain,
  deliveryMessage,
  jobHash,
  bytesOf,
  fromBase64,
  outputsHash,
  toBase64,
} from "../../../protocol/gateway";
import {
  BRAIN,
  DELIVERY,
  FAILING_REQUEST,
  type TestGateway,
  TestMiner,
  deletePrefix,
  expectedOutputs,
  newAccount,
  randomInput,
  signedClaim,
  signerOf,
  expectRefusal,
  startTestGateway,
  uniquePrefix,
} from "./helpers";

/** Reads a job's server-sent events until the stream ends. */
async function readEvents(url: string, jobId: string): Promise<{ event: string; view: JobView }[]> {
  const res = await fetch(`${url}/v1/jobs/${jobId}/events`);
  expect(res.headers.get("content-type")).to.match(/^text\/event-stream/);
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((block) => block.startsWith("event:"))
    .map((block) => {
      const [eventLine, dataLine] = block.split("\n");
      return {
        event: eventLine!.slice("event: ".length),
        view: JSON.parse(dataLine!.slice("data: ".length)),
      };
    });
}

/**
 * The Brain gateway's main paths on real Redis and real HTTP: keys uploaded once, jobs followed by
 * long poll and by server-sent events, sessions sticking to one miner, compute units and the
 * settlement on close, validator samples and miner statistics, and logs without payloads.
 */
describe("oracle gateway: sessions, jobs, units and settlement", function () {
  this.timeout(60_000);
  const prefix = uniquePrefix("flow");
  const logLines: string[] = [];
  let gw: TestGateway;
  let a: TestMiner;
  let b: TestMiner;
  const keys = {
    galois: crypto.getRandomValues(new Uint8Array(50_000)),
    relin: crypto.getRandomValues(new Uint8Array(20_000)),
  };
  let keyHashes: { galois: string; relin: string };
  // ComputeMarket's requests as escrowOf reads them (in place of the chain).
  const payer = newAccount();
  const escrow = (promptUnits: number, maxCompletionUnits: number, brainId = BRAIN) => ({
    brainId,
    open: true,
    account: payer.address,
    promptUnits,
    maxCompletionUnits,
  });
  const closedEscrow = {
    brainId: BRAIN,
    open: false,
    account: payer.address,
    promptUnits: 0,
    maxCompletionUnits: 0,
  };
  const escrows = new Map([
    ["42", escrow(12, 100)],
    ["7", escrow(3, 10)],
    ["99", escrow(1, 10)],
    ["5", escrow(2, 2)],
    [FAILING_REQUEST, escrow(1, 10)],
    ["13", escrow(1, 10, BRAIN + 1)],
  ]);

  before(async () => {
    const logger = pino(
      { level: "debug" },
      new Writable({
        write(chunk, _enc, done) {
          logLines.push(String(chunk));
          done();
        },
      }),
    );
    gw = await startTestGateway(prefix, {
      logger,
      sampleWindow: 8,
      escrowOf: async (id) => escrows.get(id) ?? closedEscrow,
    });
    a = new TestMiner(gw.client);
    b = new TestMiner(gw.client);
    gw.members.miners.add(a.address).add(b.address);
    await Promise.all([a.polledOnce(), b.polledOnce()]);
    a.start();
    b.start();
    keyHashes = { galois: await gw.client.putBlob(keys.galois), relin: await gw.client.putBlob(keys.relin) };
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await gw?.close();
    await deletePrefix(prefix);
  });

  const openEncrypted = async (requestId?: string) =>
    gw.client.openSession({
      brainId: BRAIN,
      mode: "encrypted",
      paramSet: "n8192",
      keys: keyHashes,
      ...(requestId !== undefined
        ? { requestId, claim: await signedClaim(payer, requestId, "encrypted", keyHashes) }
        : {}),
    });

  it("uploads evaluation keys once: a second putBlob finds them and sends nothing", async () => {
    const calls: string[] = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (input, init) => {
      calls.push(`${init?.method ?? "GET"} ${String(input)}`);
      return realFetch(input, init);
    };
    try {
      expect(await gw.client.putBlob(keys.galois)).to.equal(keyHashes.galois);
    } finally {
      globalThis.fetch = realFetch;
    }
    expect(calls).to.deep.equal([`HEAD ${gw.url}/v1/blobs/${keyHashes.galois}`]);
    expect(await gw.client.hasBlob(blobHash(new Uint8Array([1, 2, 3])))).to.equal(false);
    // Members fetch blobs back, byte for byte; anonymous callers cannot.
    expect(
      Buffer.from(await gw.client.getBlob(a.signer, keyHashes.relin)).equals(Buffer.from(keys.relin)),
    ).to.equal(true);
    const anon = await fetch(`${gw.url}/v1/blobs/${keyHashes.relin}`);
    expect(anon.status).to.equal(401);
    expect(((await anon.json()) as { error: string }).error).to.equal("SignatureMissing");
  });

  it("refuses a blob whose body does not match the sha256 in its path", async () => {
    const res = await fetch(`${gw.url}/v1/blobs/${blobHash(new Uint8Array([9]))}`, {
      method: "PUT",
      body: new Uint8Array([8]),
      headers: { "content-type": "application/octet-stream" },
    });
    expect(res.status).to.equal(400);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).to.equal("BlobHashMismatch");
    expect(body.message).to.include("sha256");
  });

  it("completes a submitted job through the long poll with the miner's hashed, signed result", async () => {
    const session = await openEncrypted();
    expect(session.state).to.equal("open");
    expect([a.address, b.address]).to.include(session.miner);
    const inputs = [randomInput(), randomInput()];
    const { jobId } = await gw.client.submitJob(session.sessionId, {
      kind: "linear",
      step: "L0.qkv@16",
      inputs,
    });
    const view = await gw.client.waitForJob(jobId, 20_000);
    expect(view.state).to.equal("completed");
    expect(view.attempts).to.equal(1);
    const outputs = view.result!.outputs.map(bytesOf);
    expect(outputs.map(toBase64)).to.deep.equal(inputs.map((i) => toBase64(fromBase64(i).slice().reverse())));
    expect(view.result!.outputHash).to.equal(await outputsHash(outputs));
    expect(view.result!.miner).to.equal(session.miner);
  });

  it("streams a job's states as server-sent events until it completes", async () => {
    const session = await openEncrypted();
    const miner = session.miner === a.address ? a : b;
    miner.paused = true;
    await new Promise((r) => setTimeout(r, 400)); // its poll in flight runs out
    const { jobId } = await gw.client.submitJob(session.sessionId, {
      kind: "linear",
      step: "L1.mlpUp@1",
      inputs: [randomInput()],
    });
    const events = readEvents(gw.url, jobId);
    await new Promise((r) => setTimeout(r, 200));
    miner.paused = false;
    const seen = await events;
    expect(seen.every((e) => e.event === "state")).to.equal(true);
    expect(seen[0]!.view.state).to.equal("queued");
    expect(seen.at(-1)!.view.state).to.equal("completed");
    expect(seen.at(-1)!.view.result!.miner).to.equal(session.miner);
    // Each event is a change: no state repeats.
    expect(new Set(seen.map((e) => e.view.state)).size).to.equal(seen.length);
  });

  it("keeps all of a session's jobs on its miner while two miners poll", async () => {
    const first = await openEncrypted();
    const jobs = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        gw.client.submitJob(first.sessionId, {
          kind: "linear",
          step: `L${i % 2}.attnOut@1`,
          inputs: [randomInput(64)],
        }),
      ),
    );
    const views = await Promise.all(jobs.map((j) => gw.client.waitForJob(j.jobId, 20_000)));
    expect(views.map((v) => v.result?.miner)).to.deep.equal(views.map(() => first.miner));
    const other = first.miner === a.address ? b : a;
    expect(other.done.filter((id) => jobs.some((j) => j.jobId === id))).to.deep.equal([]);
    expect((await gw.client.getSession(first.sessionId)).miner).to.equal(first.miner);
  });

  it("counts units as rows through the plan (the busiest step) and settles the last delivery on close", async () => {
    const session = await openEncrypted("42");
    expect(session.requestId).to.equal("42");
    const steps = [
      "L0.qkv@16",
      "L0.attnOut@16",
      "L0.qkv@1",
      "L1.qkv@1",
      "L0.qkv@1",
      "L0.mlpUp@1",
      "L0.qkv@1",
    ];
    let last: JobView | undefined;
    for (const step of steps) {
      const { jobId } = await gw.client.submitJob(session.sessionId, {
        kind: "linear",
        step,
        inputs: [randomInput(32)],
      });
      last = await gw.client.waitForJob(jobId, 20_000);
      expect(last.state).to.equal("completed");
    }
    // L0.qkv carried the most rows: 16 (the prompt bucket) + 3. Prompt units are the escrow's 12,
    // completion units the other 7.
    expect((await gw.client.getSession(session.sessionId)).units).to.deep.equal({
      prompt: 12,
      completion: 7,
    });

    const closed = await gw.client.closeSession(session.sessionId);
    expect(closed.units).to.deep.equal({ prompt: 12, completion: 7 });
    expect(closed.settlement).to.deep.equal({ requestId: "42", txHash: `0x${"ab".repeat(32)}`, error: null });
    expect(gw.settled.at(-1)).to.deep.equal({
      requestId: "42",
      completionUnits: 7,
      jobHash: last!.result!.jobHash,
      resultHash: last!.result!.outputHash,
      signature: last!.result!.signature,
      miner: last!.result!.miner,
    });
    expect((await gw.client.getSession(session.sessionId)).state).to.equal("closed");
    await expectRefusal(gw.client.closeSession(session.sessionId), 409, "SessionClosed");
    await expectRefusal(
      gw.client.submitJob(session.sessionId, { kind: "linear", step: "L0.qkv@1", inputs: [randomInput()] }),
      409,
      "SessionClosed",
    );
  });

  it("closes an unpaid session without settling, and refunds a paid one in which no job ran", async () => {
    const unpaid = await openEncrypted();
    expect((await gw.client.closeSession(unpaid.sessionId)).settlement).to.equal(null);
    const before = gw.settled.length;
    const idle = await openEncrypted("7");
    const closed = await gw.client.closeSession(idle.sessionId);
    expect(closed.settlement).to.deep.equal({
      requestId: "7",
      txHash: `0x${"cd".repeat(32)}`,
      error: null,
      refunded: true,
    });
    expect(gw.refunded).to.include("7");
    expect(gw.settled.length).to.equal(before);
  });

  it("settles no more units than the escrow covers, and reports a failed settlement without failing", async () => {
    const capped = await openEncrypted("5");
    for (const step of ["L0.qkv@16", "L0.qkv@1", "L0.qkv@1", "L0.qkv@1"]) {
      const { jobId } = await gw.client.submitJob(capped.sessionId, {
        kind: "linear",
        step,
        inputs: [randomInput(16)],
      });
      await gw.client.waitForJob(jobId, 20_000);
    }
    const closed = await gw.client.closeSession(capped.sessionId);
    expect(closed.units.completion).to.equal(17);
    expect(closed.settlement!.txHash).to.not.equal(null);
    expect(gw.settled.at(-1)).to.include({ requestId: "5", completionUnits: 2 });

    const failing = await openEncrypted(FAILING_REQUEST);
    const { jobId } = await gw.client.submitJob(failing.sessionId, {
      kind: "linear",
      step: "L0.qkv@16",
      inputs: [randomInput(16)],
    });
    await gw.client.waitForJob(jobId, 20_000);
    const result = await gw.client.closeSession(failing.sessionId);
    expect(result.settlement).to.deep.include({ requestId: FAILING_REQUEST, txHash: null });
    expect(result.settlement!.error).to.match(/settlement failed: execution reverted: RequestExpired/);
    expect((await gw.client.getSession(failing.sessionId)).state).to.equal("closed");
  });

  it("refuses a session paid from a request that is not open, or is another Brain's", async () => {
    const e1 = await expectRefusal(openEncrypted("1234"), 400, "EscrowInvalid");
    expect(e1.message).to.include("not an open ComputeMarket request");
    const e2 = await expectRefusal(openEncrypted("13"), 400, "EscrowInvalid");
    expect(e2.message).to.include(`Brain #${BRAIN + 1}`);
  });

  it("runs plain sessions: token units counted, and prompt tokens never reach the logs", async () => {
    const session = await gw.client.openSession({ brainId: BRAIN, mode: "plain" });
    const { jobId } = await gw.client.submitJob(session.sessionId, {
      kind: "generate",
      tokens: [314159, 271828, 161803],
      maxTokens: 5,
    });
    const view = await gw.client.waitForJob(jobId, 20_000);
    expect(decodeTokens(bytesOf(view.result!.outputs[0]!))).to.deep.equal([
      161804, 161805, 161806, 161807, 161808,
    ]);
    expect((await gw.client.getSession(session.sessionId)).units).to.deep.equal({ prompt: 3, completion: 5 });
    const logs = logLines.join("");
    expect(logs).to.include("job completed");
    for (const secret of ["314159", "271828", "161804", view.result!.outputs[0]!])
      expect(logs).to.not.include(secret);
  });

  it("serves validators a random sample of completed linear jobs with their inputs, and miner statistics", async () => {
    const validator = newAccount();
    gw.members.validators.add(validator.address);
    const samples = await gw.client.samples(signerOf(validator), 3);
    expect(samples).to.have.length(3);
    for (const s of samples) {
      expect(s.keys).to.deep.equal(keyHashes);
      expect(s.paramSet).to.equal("n8192");
      const outputs = expectedOutputs({
        jobId: s.jobId,
        lockToken: "x".repeat(8),
        sessionId: "s".repeat(8),
        job: { kind: "linear", step: s.step, paramSet: s.paramSet, keys: s.keys, inputs: s.inputs },
      });
      expect(s.outputHash).to.equal(await outputsHash(outputs));
      expect([a.address, b.address]).to.include(s.miner);
    }
    // The window holds the 8 most recent linear jobs, no more.
    expect((await gw.client.samples(signerOf(validator), 100)).length).to.equal(8);

    const stats = await gw.client.minerStats(signerOf(validator));
    const byAddress = new Map(stats.map((s) => [s.address, s]));
    const total = [a, b].reduce((n, m) => n + m.done.length, 0);
    expect([a, b].reduce((n, m) => n + byAddress.get(m.address)!.completed, 0)).to.equal(total);
    for (const m of [a, b]) {
      const s = byAddress.get(m.address)!;
      expect(s.failed).to.equal(0);
      expect(s.lastSeen).to.be.greaterThan(Date.now() - 5_000);
      if (s.completed > 0) expect(s.p50LatencyMs).to.be.a("number");
    }
    // Miners are not validators.
    await expectRefusal(gw.client.samples(a.signer, 1), 403, "NotMember");
  });

  it("answers open-session refusals: wrong Brain, missing keys", async () => {
    await expectRefusal(gw.client.openSession({ brainId: BRAIN + 1, mode: "plain" }), 400, "WrongBrain");
    const missing = blobHash(new Uint8Array([4, 5, 6]));
    const e = await expectRefusal(
      gw.client.openSession({
        brainId: BRAIN,
        mode: "encrypted",
        paramSet: "n8192",
        keys: { galois: missing, relin: null },
      }),
      400,
      "KeysMissing",
    );
    expect(e.message).to.include(`PUT /v1/blobs/${missing}`);
  });

  it("answers the health check and an unknown route as JSON", async () => {
    const health = (await (await fetch(`${gw.url}/health`)).json()) as { ok: boolean; liveMiners: number };
    expect(health).to.include({ ok: true, liveMiners: 2 });
    const res = await fetch(`${gw.url}/v1/nowhere`);
    expect(res.status).to.equal(404);
    expect(((await res.json()) as { error: string }).error).to.equal("NotFound");
  });

  it("signs results the way settlement checks them (Delivery over the Brain, the job as submitted and its result)", async () => {
    const session = await openEncrypted("99");
    const inputs = [randomInput()];
    const { jobId } = await gw.client.submitJob(session.sessionId, {
      kind: "linear",
      step: "L0.qkv@1",
      inputs,
    });
    const view = await gw.client.waitForJob(jobId, 20_000);
    // The client knows the job it submitted: the hash the miner signed is that job's.
    const job = await jobHash(jobId, {
      kind: "linear",
      step: "L0.qkv@1",
      paramSet: "n8192",
      keys: keyHashes,
      inputs,
    });
    expect(view.result!.jobHash).to.equal(job);
    const signer = await recoverTypedDataAddress({
      domain: deliveryDomain(DELIVERY.chainId, DELIVERY.computeMarket),
      types: DELIVERY_TYPES,
      primaryType: "Delivery",
      message: deliveryMessage(BRAIN, job, view.result!.outputHash as Hex),
      signature: view.result!.signature as Hex,
    });
    expect(signer).to.equal(session.miner);
  });
});
