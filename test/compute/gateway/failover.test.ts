import { expect } from "chai";
import { blobHash } from "../../../protocol/gateway";
import type { GatewayClient } from "../../../sdk/gateway-client";
import { freePort } from "../../helpers/processes";
import {
  BRAIN,
  DOMAIN,
  type TestGateway,
  TestMiner,
  deletePrefix,
  newAccount,
  randomInput,
  startTestGateway,
  uniquePrefix,
} from "./helpers";

/**
 * Nothing is lost when things fail: a miner that dies holding a job hands the job and its session
 * to a live miner, a stalled job is retried, a released job moves on, and queued work survives a
 * gateway restart (everything is in Redis). Locks last 1 s and miners time out after 1.5 s here.
 */
describe("oracle gateway: failover, retries and restarts", function () {
  this.timeout(60_000);
  const keys = crypto.getRandomValues(new Uint8Array(4096));
  const cleanups: Array<() => Promise<void>> = [];

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function gatewayWithMiners(
    name: string,
    decide: ConstructorParameters<typeof TestMiner>[1][] = [undefined, undefined],
    port = 0,
  ): Promise<{ gw: TestGateway; miners: TestMiner[]; prefix: string }> {
    const prefix = uniquePrefix(name);
    const gw = await startTestGateway(prefix, { port });
    const miners = decide.map((d) => new TestMiner(gw.client, d));
    for (const m of miners) gw.members.miners.add(m.address);
    await Promise.all(miners.map((m) => m.polledOnce()));
    await gw.client.putBlob(keys);
    cleanups.push(async () => {
      await Promise.all(miners.map((m) => m.stop()));
      await gw.close();
      await deletePrefix(prefix);
    });
    return { gw, miners, prefix };
  }

  const openSession = (gw: { client: GatewayClient }) =>
    gw.client.openSession({
      brainId: BRAIN,
      mode: "encrypted",
      paramSet: "n8192",
      keys: { galois: blobHash(keys), relin: null },
    });

  it("opens new sessions on the least loaded miner", async () => {
    const { gw, miners } = await gatewayWithMiners("spread");
    const first = await openSession(gw);
    const second = await openSession(gw);
    expect([first.miner, second.miner].sort()).to.deep.equal(miners.map((m) => m.address).sort());
  });

  it("moves the job and the session of a miner that died mid-job to a live miner", async () => {
    // Whichever miner gets the session vanishes with its first job, as a crashed process would.
    const { gw, miners } = await gatewayWithMiners("failover", [() => "vanish", () => "vanish"]);
    const session = await openSession(gw);
    const victim = miners.find((m) => m.address === session.miner)!;
    const survivor = miners.find((m) => m !== victim)!;
    // The survivor answers; only the victim is started with its fatal habit.
    const honest = new TestMiner(gw.client, undefined, survivor.account);
    victim.start();
    const { jobId } = await gw.client.submitJob(session.sessionId, {
      kind: "linear",
      step: "L0.qkv@16",
      inputs: [randomInput()],
    });
    while (victim.taken.length === 0) await new Promise((r) => setTimeout(r, 20));
    honest.start();
    cleanups.push(() => honest.stop());

    const view = await gw.client.waitForJob(jobId, 30_000);
    expect(view.state).to.equal("completed");
    expect(view.result!.miner).to.equal(survivor.address);
    expect(view.attempts).to.equal(2);
    expect((await gw.client.getSession(session.sessionId)).miner).to.equal(survivor.address);

    // The session's next job goes straight to the survivor.
    const next = await gw.client.submitJob(session.sessionId, {
      kind: "linear",
      step: "L0.qkv@1",
      inputs: [randomInput()],
    });
    expect((await gw.client.waitForJob(next.jobId, 20_000)).result!.miner).to.equal(survivor.address);
    // Rows through the plan: the 16-row prompt bucket and one single-row pass (a free session).
    expect((await gw.client.getSession(session.sessionId)).units.completion).to.equal(17);

    const validator = newAccount();
    gw.members.validators.add(validator.address);
    const stats = await gw.client.minerStats({ account: validator, domain: DOMAIN });
    expect(stats.find((s) => s.address === victim.address)).to.include({ stalled: 1, completed: 0 });
    expect(stats.find((s) => s.address === survivor.address)!.completed).to.equal(2);
  });

  it("retries a stalled job on the same miner when it lives on but missed its lock", async () => {
    // A single miner that sits on its first job past the lock but keeps polling.
    let held = false;
    const { gw, miners } = await gatewayWithMiners("stall", [
      () => {
        if (held) return "answer";
        held = true;
        return "hold";
      },
    ]);
    const session = await openSession(gw);
    miners[0]!.start();
    const { jobId } = await gw.client.submitJob(session.sessionId, {
      kind: "linear",
      step: "L0.qkv@1",
      inputs: [randomInput()],
    });
    const view = await gw.client.waitForJob(jobId, 30_000);
    expect(view.state).to.equal("completed");
    expect(view.attempts).to.equal(2);
    expect(miners[0]!.taken.filter((t) => t.jobId === jobId)).to.have.length(2);
    // The late miner cannot deliver the first hand-out under its expired lock.
    const first = miners[0]!.taken[0]!;
    const late = await gw.client
      .postResult(miners[0]!.signer, jobId, {
        lockToken: first.lockToken,
        outputs: ["AAAA"],
        outputHash: `0x${"00".repeat(32)}`,
        signature: `0x${"00".repeat(65)}`,
      })
      .catch((e: Error) => e);
    expect((late as { code?: string }).code).to.equal("JobNotHeld");
  });

  it("fails a job that miners keep taking without answering, after the last attempt", async () => {
    const prefix = uniquePrefix("attempts");
    const gw = await startTestGateway(prefix, { maxAttempts: 2 });
    const sitter = new TestMiner(gw.client, () => "hold");
    gw.members.miners.add(sitter.address);
    await sitter.polledOnce();
    cleanups.push(async () => {
      await sitter.stop();
      await gw.close();
      await deletePrefix(prefix);
    });
    sitter.start();
    const session = await gw.client.openSession({ brainId: BRAIN, mode: "plain" });
    const { jobId } = await gw.client.submitJob(session.sessionId, {
      kind: "generate",
      tokens: [1],
      maxTokens: 1,
    });
    const view = await gw.client.waitForJob(jobId, 30_000);
    expect(view.state).to.equal("failed");
    expect(view.attempts).to.equal(2);
    expect(view.error).to.match(/took this job 2 times/);
    expect(sitter.taken.filter((t) => t.jobId === jobId)).to.have.length(2);
  });

  it("gives a released job (and its session) to another live miner", async () => {
    const { gw, miners } = await gatewayWithMiners("release", [() => "release", () => "release"]);
    const session = await openSession(gw);
    const leaving = miners.find((m) => m.address === session.miner)!;
    const staying = miners.find((m) => m !== leaving)!;
    const answering = new TestMiner(gw.client, undefined, staying.account);
    leaving.start();
    answering.start();
    cleanups.push(() => answering.stop());
    const { jobId } = await gw.client.submitJob(session.sessionId, {
      kind: "linear",
      step: "L0.qkv@1",
      inputs: [randomInput()],
    });
    const view = await gw.client.waitForJob(jobId, 20_000);
    expect(view.result!.miner).to.equal(staying.address);
    expect(leaving.taken.map((t) => t.jobId)).to.deep.equal([jobId]);
    expect((await gw.client.getSession(session.sessionId)).miner).to.equal(staying.address);
  });

  it("completes jobs queued before a gateway restart on the same Redis prefix", async () => {
    const port = await freePort();
    const { gw, miners, prefix } = await gatewayWithMiners("restart", [undefined], port);
    const session = await openSession(gw);
    const submitted = await Promise.all(
      ["L0.qkv@16", "L0.qkv@1", "L0.qkv@1"].map((step) =>
        gw.client.submitJob(session.sessionId, { kind: "linear", step, inputs: [randomInput()] }),
      ),
    );
    expect((await gw.client.getJob(submitted[0]!.jobId)).state).to.equal("queued");
    // A client's long poll in flight is answered, not cut off or left hanging, by the shutdown.
    const watcher = gw.client.getJob(submitted[0]!.jobId, 20_000);
    await new Promise((r) => setTimeout(r, 100));
    await gw.close();
    expect((await watcher).state).to.equal("queued");

    const again = await startTestGateway(prefix, { port }, gw.members);
    cleanups.push(() => again.close());
    expect(again.url).to.equal(gw.url);
    miners[0]!.start();
    const views = await Promise.all(submitted.map((j) => again.client.waitForJob(j.jobId, 20_000)));
    expect(views.map((v) => v.state)).to.deep.equal(["completed", "completed", "completed"]);
    expect(views.map((v) => v.result!.miner)).to.deep.equal(views.map(() => miners[0]!.address));
    const s = await again.client.getSession(session.sessionId);
    expect(s).to.include({ state: "open", miner: miners[0]!.address });
    expect(s.units.completion).to.equal(16 + 2);
  });
});
