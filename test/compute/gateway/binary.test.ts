import { expect } from "chai";
import { randomBytes } from "node:crypto";
import {
  FRAMES_CONTENT_TYPE,
  type JobView,
  type WorkJob,
  bytesOf,
  encodeFrames,
  jobHash,
  outputsHash,
} from "../../../protocol/gateway";
import { GatewayClient } from "../../../sdk/gateway-client";
import { BRAIN, type TestGateway, TestMiner, deletePrefix, startTestGateway, uniquePrefix } from "./helpers";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Counts the requests `fetch` makes while `run` runs. */
async function counted<T>(run: () => Promise<T>): Promise<{ value: T; calls: string[] }> {
  const calls: string[] = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    calls.push(`${init?.method ?? "GET"} ${String(input).replace(/^http:\/\/[^/]+/, "")}`);
    return realFetch(input, init);
  };
  try {
    return { value: await run(), calls };
  } finally {
    globalThis.fetch = realFetch;
  }
}

/**
 * Ciphertexts as frames (application/vnd.based.frames) on each leg — submit, work item, result,
 * job view — against the JSON path it replaces, and submit-and-wait.
 */
describe("oracle gateway: binary bodies and submit-and-wait", function () {
  this.timeout(60_000);
  const prefix = uniquePrefix("binary");
  let gw: TestGateway;
  let miner: TestMiner;
  let binary: GatewayClient;
  let json: GatewayClient;
  const keys = { galois: crypto.getRandomValues(new Uint8Array(4_000)), relin: null };
  let galois: string;

  before(async () => {
    gw = await startTestGateway(prefix);
    binary = new GatewayClient({ url: gw.url, timeoutMs: 10_000 });
    json = new GatewayClient({ url: gw.url, timeoutMs: 10_000, binary: false });
    miner = new TestMiner(binary);
    gw.members.miners.add(miner.address);
    await miner.polledOnce();
    miner.start();
    galois = await binary.putBlob(keys.galois);
  });

  after(async () => {
    await miner?.stop();
    await gw?.close();
    await deletePrefix(prefix);
  });

  const open = (client: GatewayClient) =>
    client.openSession({
      brainId: BRAIN,
      mode: "encrypted",
      paramSet: "n8192",
      keys: { galois, relin: null },
    });

  /** Puts the miner on `client` once its poll in flight (on the client before) has run out. */
  async function minerOn(client: GatewayClient) {
    if (miner.client === client) return;
    miner.paused = true;
    await new Promise((r) => setTimeout(r, 400));
    miner.client = client;
    miner.paused = false;
  }

  /** Runs one job with `client` (the miner on `minerClient`); the view and the item the miner got. */
  async function run(client: GatewayClient, minerClient: GatewayClient, inputs: Uint8Array[]) {
    await minerOn(minerClient);
    const session = await open(client);
    const view = await client.runJob(
      session.sessionId,
      { kind: "linear", step: "l0.qkv@16", inputs },
      20_000,
    );
    const item = miner.taken.find((t) => t.jobId === view.jobId)!;
    return { view, item, session };
  }

  it("a binary round trip (submit, work item, result, job view) gives the JSON path's bytes and hashes", async () => {
    const inputs = [new Uint8Array(randomBytes(131_072)), crypto.getRandomValues(new Uint8Array(3))];
    const framed = await run(binary, binary, inputs);
    const plain = await run(json, json, inputs);
    for (const { view, item } of [framed, plain]) {
      expect(view.state).to.equal("completed");
      const outputs = view.result!.outputs.map(bytesOf);
      expect(outputs.map(hex)).to.deep.equal(inputs.map((i) => hex(i.slice().reverse())));
      expect(view.result!.outputHash).to.equal(await outputsHash(outputs));
      const job: WorkJob = {
        kind: "linear",
        step: "l0.qkv@16",
        paramSet: "n8192",
        keys: { galois, relin: null },
        inputs,
      };
      expect(view.result!.jobHash).to.equal(await jobHash(view.jobId, job));
      expect(item.job.kind === "linear" && item.job.inputs.map(bytesOf).map(hex)).to.deep.equal(
        inputs.map(hex),
      );
    }
    // Each path travelled as asked: frames decode to bytes, JSON carries base64 strings.
    expect(framed.view.result!.outputs[0]).to.be.instanceOf(Uint8Array);
    expect(framed.item.job.kind === "linear" && framed.item.job.inputs[0]).to.be.instanceOf(Uint8Array);
    expect(plain.view.result!.outputs[0]).to.be.a("string");
    expect(plain.item.job.kind === "linear" && plain.item.job.inputs[0]).to.be.a("string");
    expect(framed.view.result!.outputHash).to.equal(plain.view.result!.outputHash);
    // Either client reads either job: the stored state is the same whichever way it came.
    const crossed: JobView[] = [await json.getJob(framed.view.jobId), await binary.getJob(plain.view.jobId)];
    for (const v of crossed)
      expect(v.result!.outputs.map(bytesOf).map(hex)).to.deep.equal(
        inputs.map((i) => hex(i.slice().reverse())),
      );
    const stripped = (v: JobView) => ({
      ...v,
      result: { ...v.result!, outputs: v.result!.outputs.map(bytesOf).map(hex) },
    });
    expect(stripped(crossed[0]!)).to.deep.equal(stripped(framed.view));
    // The framed answer of GET /v1/jobs/:id says so.
    const res = await fetch(`${gw.url}/v1/jobs/${framed.view.jobId}`, {
      headers: { accept: FRAMES_CONTENT_TYPE },
    });
    expect(res.headers.get("content-type")).to.equal(FRAMES_CONTENT_TYPE);
    const asJson = await fetch(`${gw.url}/v1/jobs/${framed.view.jobId}`);
    expect(asJson.headers.get("content-type")).to.match(/^application\/json/);
  });

  it("a binary result post is signed over the bytes sent (lease MAC and per-request signature)", async () => {
    const signing = new GatewayClient({ url: gw.url, timeoutMs: 10_000, leases: false });
    const { view } = await run(binary, signing, [new Uint8Array([1, 2, 3])]);
    expect(view.state).to.equal("completed");
    expect(hex(bytesOf(view.result!.outputs[0]!))).to.equal("030201");
    expect(miner.done).to.include(view.jobId);
  });

  it("submit-and-wait answers a completed job in one request", async () => {
    await minerOn(binary);
    const session = await open(binary);
    const { value: view, calls } = await counted(() =>
      binary.runJob(session.sessionId, {
        kind: "linear",
        step: "l0.qkv@16",
        inputs: [new Uint8Array([4, 5])],
      }),
    );
    expect(view.state).to.equal("completed");
    // The miner's own requests (in this process) aside.
    expect(calls.filter((c) => !c.includes("/miner/"))).to.deep.equal([
      `POST /v1/sessions/${session.sessionId}/jobs?waitMs=30000`,
    ]);
  });

  it("submit-and-wait answers a job still queued when the wait runs out (202, with its id); runJob then long-polls it", async () => {
    const session = await open(json);
    miner.paused = true;
    await new Promise((r) => setTimeout(r, 400)); // its poll in flight runs out
    try {
      const res = await fetch(`${gw.url}/v1/sessions/${session.sessionId}/jobs?waitMs=300`, {
        method: "POST",
        headers: { "content-type": FRAMES_CONTENT_TYPE, accept: FRAMES_CONTENT_TYPE },
        body: encodeFrames({ kind: "linear", step: "l0.qkv@16", inputs: [new Uint8Array([9])] }),
      });
      expect(res.status).to.equal(202);
      const waited = await binary.submitAndWait(
        session.sessionId,
        { kind: "linear", step: "l0.qkv@16", inputs: [new Uint8Array([8])] },
        300,
      );
      expect(waited.state).to.equal("queued");
      expect(waited.jobId).to.match(/^j/);
      setTimeout(() => (miner.paused = false), 300);
      const done = await binary.waitForJob(waited.jobId, 20_000);
      expect(done.state).to.equal("completed");
      expect(hex(bytesOf(done.result!.outputs[0]!))).to.equal("08");
    } finally {
      miner.paused = false;
    }
  });

  it("without waitMs a submit answers 202 with the job id, as before; JSON with base64 is still accepted", async () => {
    await minerOn(binary);
    const session = await open(json);
    const res = await fetch(`${gw.url}/v1/sessions/${session.sessionId}/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind: "linear", step: "l0.qkv@16", inputs: ["AQID"] }),
    });
    expect(res.status).to.equal(202);
    const { jobId } = (await res.json()) as { jobId: string };
    const view = await json.waitForJob(jobId, 20_000);
    expect(view.result!.outputs).to.deep.equal(["AwIB"]);
  });

  it("declares the framed content type in the OpenAPI document (request bodies and answers)", async () => {
    type Doc = {
      paths: Record<
        string,
        Record<string, { requestBody?: { content: object }; responses: Record<string, { content?: object }> }>
      >;
    };
    const doc = (await (await fetch(`${gw.url}/docs`)).json()) as Doc;
    const submit = doc.paths["/v1/sessions/{id}/jobs"]!.post!;
    expect(submit.requestBody!.content).to.have.keys("application/json", FRAMES_CONTENT_TYPE);
    expect(submit.responses["200"]!.content).to.have.property(FRAMES_CONTENT_TYPE);
    expect(doc.paths["/v1/jobs/{id}"]!.get!.responses["200"]!.content).to.have.property(FRAMES_CONTENT_TYPE);
    expect(doc.paths["/v1/miner/work"]!.post!.responses["200"]!.content).to.have.property(
      FRAMES_CONTENT_TYPE,
    );
    expect(doc.paths["/v1/miner/jobs/{id}/result"]!.post!.requestBody!.content).to.have.property(
      FRAMES_CONTENT_TYPE,
    );
  });

  it("a malformed framed body is a 400 with a clear message, and the gateway goes on", async () => {
    const session = await open(json);
    const post = async (body: Uint8Array) => {
      const res = await fetch(`${gw.url}/v1/sessions/${session.sessionId}/jobs`, {
        method: "POST",
        headers: { "content-type": FRAMES_CONTENT_TYPE },
        body,
      });
      return { status: res.status, body: (await res.json()) as { error: string; message: string } };
    };
    const good = encodeFrames({ kind: "linear", step: "l0.qkv@16", inputs: [new Uint8Array(100)] });
    const truncated = await post(good.subarray(0, good.length - 10));
    expect(truncated.status).to.equal(400);
    expect(truncated.body.error).to.equal("InvalidFrames");
    expect(truncated.body.message).to.match(/application\/vnd\.based\.frames body is malformed: .*truncated/);
    const huge = Uint8Array.from(good);
    new DataView(huge.buffer).setUint32(0, 0xffffffff, true);
    expect((await post(huge)).body.message).to.match(/header has 4294967295 bytes/);
    const notJson = await post(Uint8Array.from([1, 0, 0, 0, 0x7b, 0, 0, 0, 0]));
    expect(notJson.body.message).to.match(/not UTF-8 JSON/);
    const badSchema = await post(encodeFrames({ kind: "linear", step: "l0.qkv@16", inputs: [] }));
    expect(badSchema.status).to.equal(400);
    expect(badSchema.body.message).to.match(/inputs/);
    // A signed result post with a malformed body: refused, not crashed.
    const garbage = new Uint8Array([5, 0, 0]);
    const res = await fetch(`${gw.url}/v1/miner/jobs/j0123456789ab/result`, {
      method: "POST",
      headers: { "content-type": FRAMES_CONTENT_TYPE },
      body: garbage,
    });
    expect(res.status).to.be.oneOf([400, 401]);
    expect((await fetch(`${gw.url}/health`)).status).to.equal(200);
  });
});
