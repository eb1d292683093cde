import { expect } from "chai";
import { z } from "zod";
import {
  LEASE_HEADERS,
  LIMITS,
  SIGNATURE_HEADERS,
  type WorkItem,
  blobHash,
  jobIdSchema,
  openSessionSchema,
  outputsHash,
  postResultSchema,
  randomHex,
  toBase64,
} from "../../../protocol/gateway";
import { checksummedAddressSchema } from "../../../protocol/schemas";
import { startGateway } from "../../../compute/gateway/server";
import { BasedError } from "../../../sdk/errors";
import { GatewayError } from "../../../sdk/gateway-client";
import {
  BRAIN,
  DOMAIN,
  type TestGateway,
  TestMiner,
  deletePrefix,
  deliverySignature,
  expectedOutputs,
  newAccount,
  randomInput,
  signedHeaders,
  startTestGateway,
  uniquePrefix,
} from "./helpers";

type ErrorBody = { error: string; message: string };

type JsonSchema = {
  required?: string[];
  properties?: Record<string, JsonSchema>;
  oneOf?: JsonSchema[];
  pattern?: string;
  maximum?: number;
};
type Operation = {
  security?: Array<Record<string, string[]>>;
  "x-based-roles"?: string[];
  parameters?: Array<{ name: string; in: string; required: boolean; schema: JsonSchema }>;
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: JsonSchema }> }>;
};
type OpenApi = {
  openapi: string;
  info: { title: string };
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, { type: string; in: string; name: string }> };
};

/** The routes a fastify app holds, as `method /path/{param}`, read from `printRoutes` (its only listing). */
function registeredRoutes(printed: string): string[] {
  const routes: string[] = [];
  const stack: string[] = [];
  for (const line of printed.split("\n")) {
    const m = /^([│ ]*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    stack.length = m[1]!.length / 4;
    stack.push(m[2]!);
    const path = stack.join("").replace(/:(\w+)/g, "{$1}");
    for (const method of m[3]?.split(", ") ?? []) routes.push(`${method.toLowerCase()} ${path}`);
  }
  return routes;
}

/** The fields a zod object schema cannot do without. */
const requiredOf = (shape: Record<string, z.ZodType>) =>
  Object.entries(shape)
    .filter(([, field]) => !field.safeParse(undefined).success)
    .map(([name]) => name);

async function refusal(res: Response): Promise<ErrorBody & { status: number }> {
  return { status: res.status, ...((await res.json()) as ErrorBody) };
}

/**
 * What the gateway refuses, and that refusing never takes it down: unsigned, unregistered,
 * replayed, expired and tampered signatures; malformed, oversized and wrong-kind submissions;
 * results with a wrong hash, a forged Delivery signature or a stale lock; too many requests; no
 * miner; no Redis. Every refusal is `{error, message}` with the status that fits.
 */
describe("oracle gateway: refusals with clear errors, and the gateway keeps serving", function () {
  this.timeout(60_000);
  const prefix = uniquePrefix("refusals");
  let gw: TestGateway;
  let miner: TestMiner;
  const keyBytes = crypto.getRandomValues(new Uint8Array(1000));

  before(async () => {
    // Long locks: the result tests hold one job across several posts.
    gw = await startTestGateway(prefix, { lockMs: 30_000 });
    miner = new TestMiner(gw.client);
    gw.members.miners.add(miner.address);
    await miner.polledOnce();
    await gw.client.putBlob(keyBytes);
  });

  after(async () => {
    await miner?.stop();
    await gw?.close();
    await deletePrefix(prefix);
  });

  const post = (
    path: string,
    body: string,
    headers: Record<string, string> = { "content-type": "application/json" },
  ) => fetch(`${gw.url}${path}`, { method: "POST", body, headers });

  const openSession = () =>
    gw.client.openSession({
      brainId: BRAIN,
      mode: "encrypted",
      paramSet: "n8192",
      keys: { galois: blobHash(keyBytes), relin: null },
    });

  describe("signed requests", () => {
    const body = JSON.stringify({ waitMs: 0 });
    const path = "/v1/miner/work";

    it("refuses an unregistered signer (403) and lets it in once registered", async () => {
      const stranger = newAccount();
      const res = await post(path, body, await signedHeaders(stranger, { method: "POST", path, body }));
      const r = await refusal(res);
      expect(r).to.include({ status: 403, error: "NotMember" });
      expect(r.message).to.include(stranger.address).and.include(`Brain #${BRAIN}`);
      gw.members.miners.add(stranger.address);
      const again = await post(path, body, await signedHeaders(stranger, { method: "POST", path, body }));
      expect(again.status).to.equal(204);
      gw.members.miners.delete(stranger.address);
    });

    it("refuses a replayed nonce (409)", async () => {
      const headers = await signedHeaders(miner.account, { method: "POST", path, body });
      expect((await post(path, body, headers)).status).to.equal(204);
      expect(await refusal(await post(path, body, headers))).to.include({
        status: 409,
        error: "NonceReplayed",
      });
    });

    it("refuses an expired signature and one that claims too long a life (401)", async () => {
      const now = Math.floor(Date.now() / 1000);
      const old = await signedHeaders(miner.account, { method: "POST", path, body, expiry: now - 1 });
      expect(await refusal(await post(path, body, old))).to.include({
        status: 401,
        error: "SignatureExpired",
      });
      const far = await signedHeaders(miner.account, {
        method: "POST",
        path,
        body,
        expiry: now + LIMITS.maxSignatureLifetimeS + 60,
      });
      expect(await refusal(await post(path, body, far))).to.include({
        status: 401,
        error: "SignatureExpiryTooFar",
      });
    });

    it("refuses a signature over another body, path or Brain (401), and unsigned calls", async () => {
      const signedOther = await signedHeaders(miner.account, {
        method: "POST",
        path,
        body: JSON.stringify({ waitMs: 5 }),
      });
      expect(await refusal(await post(path, body, signedOther))).to.include({
        status: 401,
        error: "BadSignature",
      });
      const otherPath = await signedHeaders(miner.account, {
        method: "POST",
        path: "/v1/miner/jobs/jxxxxxxxx/result",
        body,
      });
      expect(await refusal(await post(path, body, otherPath))).to.include({
        status: 401,
        error: "BadSignature",
      });
      const otherBrain = await signedHeaders(miner.account, {
        method: "POST",
        path,
        body,
        domain: { ...DOMAIN, brainId: 4 },
      });
      expect(await refusal(await post(path, body, otherBrain))).to.include({
        status: 401,
        error: "BadSignature",
      });
      // Another key's signature under this miner's address.
      const forged = await signedHeaders(newAccount(), { method: "POST", path, body });
      forged["x-based-address"] = miner.address;
      expect(await refusal(await post(path, body, forged))).to.include({
        status: 401,
        error: "BadSignature",
      });
      expect(await refusal(await post(path, body))).to.include({ status: 401, error: "SignatureMissing" });
      const garbled = await signedHeaders(miner.account, { method: "POST", path, body });
      garbled["x-based-nonce"] = "not hex";
      expect(await refusal(await post(path, body, garbled))).to.include({
        status: 401,
        error: "SignatureMalformed",
      });
    });
  });

  describe("submissions", () => {
    it("refuses malformed bodies with the field at fault", async () => {
      const r1 = await refusal(
        await post("/v1/sessions", JSON.stringify({ brainId: BRAIN, mode: "secret" })),
      );
      expect(r1).to.include({ status: 400, error: "InvalidRequest" });
      expect(r1.message).to.include("mode");
      const r2 = await refusal(await post("/v1/sessions", "{not json"));
      expect(r2).to.include({ status: 400, error: "InvalidJson" });
      const r3 = await refusal(
        await post("/v1/sessions", "brainId=3", { "content-type": "application/x-www-form-urlencoded" }),
      );
      expect(r3).to.include({ status: 415, error: "UnsupportedMediaType" });
      const r4 = await refusal(
        await post("/v1/sessions", JSON.stringify({ brainId: BRAIN, mode: "plain", extra: 1 })),
      );
      expect(r4).to.include({ status: 400, error: "InvalidRequest" });
      expect(r4.message).to.include("extra");
      const r5 = await refusal(await fetch(`${gw.url}/v1/jobs/${"x".repeat(3)}`));
      expect(r5).to.include({ status: 400, error: "InvalidRequest" });
      const r6 = await refusal(await fetch(`${gw.url}/v1/jobs/jmissing0000?waitMs=99999999`));
      expect(r6).to.include({ status: 400, error: "InvalidRequest" });
      expect(await refusal(await fetch(`${gw.url}/v1/jobs/jmissing0000`))).to.include({
        status: 404,
        error: "JobNotFound",
      });
    });

    it("refuses jobs of the wrong kind or parameters for their session", async () => {
      const s = await openSession();
      const jobs = `/v1/sessions/${s.sessionId}/jobs`;
      const wrongKind = await refusal(
        await post(jobs, JSON.stringify({ kind: "generate", tokens: [1], maxTokens: 2 })),
      );
      expect(wrongKind).to.include({ status: 400, error: "WrongJobKind" });
      const tooMany = await refusal(
        await post(
          jobs,
          JSON.stringify({
            kind: "linear",
            step: "L0.qkv@1",
            inputs: Array(LIMITS.maxJobInputs + 1).fill("AAAA"),
          }),
        ),
      );
      expect(tooMany).to.include({ status: 400, error: "InvalidRequest" });
      const badStep = await refusal(
        await post(jobs, JSON.stringify({ kind: "linear", step: "L0 qkv", inputs: ["AAAA"] })),
      );
      expect(badStep).to.include({ status: 400, error: "InvalidRequest" });
      const notBase64 = await refusal(
        await post(jobs, JSON.stringify({ kind: "linear", step: "L0.qkv@1", inputs: ["**"] })),
      );
      expect(notBase64).to.include({ status: 400, error: "InvalidRequest" });
      const unknown = await refusal(
        await post(
          `/v1/sessions/snotasession0/jobs`,
          JSON.stringify({ kind: "linear", step: "L0.qkv@1", inputs: ["AAAA"] }),
        ),
      );
      expect(unknown).to.include({ status: 404, error: "SessionNotFound" });
    });

    it("refuses oversized jobs and bodies (413)", async () => {
      const s = await openSession();
      const jobs = `/v1/sessions/${s.sessionId}/jobs`;
      // Within the body limit, but more ciphertext bytes than a job may carry.
      const half = toBase64(new Uint8Array(LIMITS.maxJobBytes / 2 + 3));
      const big = await refusal(
        await post(jobs, JSON.stringify({ kind: "linear", step: "L0.qkv@1", inputs: [half, half] })),
      );
      expect(big).to.include({ status: 413, error: "JobTooLarge" });
      // Past the body limit: refused while reading.
      const huge = "A".repeat(Math.ceil(LIMITS.maxJobBytes / 3) * 4 + 200_000);
      const tooLarge = await refusal(
        await post(jobs, JSON.stringify({ kind: "linear", step: "L0.qkv@1", inputs: [huge] })),
      );
      expect(tooLarge).to.include({ status: 413, error: "PayloadTooLarge" });
      const bigSession = await refusal(
        await post("/v1/sessions", JSON.stringify({ pad: "x".repeat(100_000) })),
      );
      expect(bigSession).to.include({ status: 413, error: "PayloadTooLarge" });
    });

    it("still serves after all of that: a job completes", async () => {
      await miner.polledOnce();
      miner.start();
      const s = await openSession();
      const { jobId } = await gw.client.submitJob(s.sessionId, {
        kind: "linear",
        step: "L0.qkv@1",
        inputs: [randomInput()],
      });
      expect((await gw.client.waitForJob(jobId, 20_000)).state).to.equal("completed");
      await miner.stop();
      expect(((await (await fetch(`${gw.url}/health`)).json()) as { ok: boolean }).ok).to.equal(true);
    });
  });

  describe("results", () => {
    let item: WorkItem;
    let holder: TestMiner;

    before(async () => {
      holder = new TestMiner(gw.client);
      gw.members.miners.add(holder.address);
      await Promise.all([holder.polledOnce(), miner.polledOnce()]);
      // The session goes to either live miner: that one takes the job and holds it.
      const s = await openSession();
      holder = s.miner === holder.address ? holder : miner;
      await gw.client.submitJob(s.sessionId, { kind: "linear", step: "L0.qkv@1", inputs: [randomInput()] });
      item = (await gw.client.pollWork(holder.signer, 5_000))!;
      expect(item).to.not.equal(undefined);
    });

    const resultFor = async (
      over: Partial<{
        lockToken: string;
        outputs: string[];
        outputHash: `0x${string}`;
        signature: `0x${string}`;
      }> = {},
    ) => {
      const outputs = expectedOutputs(item);
      const outputHash = await outputsHash(outputs);
      return {
        lockToken: item.lockToken,
        outputs: outputs.map(toBase64),
        outputHash,
        signature: await deliverySignature(holder.account, item, outputHash),
        ...over,
      };
    };

    it("refuses a result whose hash is not the outputs' (400) and keeps the job with its miner", async () => {
      const e = await gw.client
        .postResult(holder.signer, item.jobId, await resultFor({ outputHash: `0x${"11".repeat(32)}` }))
        .catch((err: GatewayError) => err);
      expect(e).to.be.instanceOf(GatewayError);
      expect((e as GatewayError).code).to.equal("OutputHashMismatch");
      expect((await gw.client.getJob(item.jobId)).state).to.equal("active");
    });

    it("refuses a Delivery signature forged by another key (400)", async () => {
      const outputs = expectedOutputs(item);
      const forged = await deliverySignature(newAccount(), item, await outputsHash(outputs));
      const e = await gw.client
        .postResult(holder.signer, item.jobId, await resultFor({ signature: forged }))
        .catch((err: GatewayError) => err);
      expect((e as GatewayError).status).to.equal(400);
      expect((e as GatewayError).code).to.equal("BadDeliverySignature");
    });

    it("refuses the miner's own Delivery over another job than the one it was given (400)", async () => {
      const outputHash = await outputsHash(expectedOutputs(item));
      for (const other of [
        { jobId: "jOtherJob0000", job: item.job },
        {
          jobId: item.jobId,
          job:
            item.job.kind === "generate"
              ? { ...item.job, maxTokens: item.job.maxTokens + 1 }
              : { ...item.job, step: `${item.job.step}x` },
        },
      ]) {
        const e = await gw.client
          .postResult(
            holder.signer,
            item.jobId,
            await resultFor({ signature: await deliverySignature(holder.account, other, outputHash) }),
          )
          .catch((err: GatewayError) => err);
        expect((e as GatewayError).code).to.equal("BadDeliverySignature");
      }
      expect((await gw.client.getJob(item.jobId)).state).to.equal("active");
    });

    it("refuses a wrong lock token (409) and another miner's post (409)", async () => {
      const e1 = await gw.client
        .postResult(holder.signer, item.jobId, await resultFor({ lockToken: randomHex(16) }))
        .catch((err: GatewayError) => err);
      expect((e1 as GatewayError).code).to.equal("LockLost");
      const other = holder === miner ? newAccount() : miner.account;
      gw.members.miners.add(other.address);
      const e2 = await gw.client
        .postResult({ account: other, domain: DOMAIN }, item.jobId, await resultFor())
        .catch((err: GatewayError) => err);
      expect((e2 as GatewayError).code).to.equal("JobNotHeld");
    });

    it("accepts the correct result afterwards and counts the refusals against the miner", async () => {
      await gw.client.postResult(holder.signer, item.jobId, await resultFor());
      const view = await gw.client.getJob(item.jobId);
      expect(view.state).to.equal("completed");
      expect(view.attempts).to.equal(1);
      const validator = newAccount();
      gw.members.validators.add(validator.address);
      const stats = await gw.client.minerStats({ account: validator, domain: DOMAIN });
      // The wrong hash, the forged signature and the two Deliveries over other jobs.
      expect(stats.find((s) => s.address === holder.address)!.failed).to.equal(4);
    });
  });

  it("rate-limits client routes per IP (429) but not miners", async () => {
    const p2 = uniquePrefix("ratelimit");
    const limited = await startTestGateway(p2, { rateLimit: { max: 3, timeWindowMs: 60_000 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await fetch(`${limited.url}/v1/jobs/jnotthere000`)).status);
      expect(statuses).to.deep.equal([404, 404, 404, 429]);
      const r = await refusal(await fetch(`${limited.url}/v1/sessions/snotthere000`));
      expect(r).to.include({ status: 429, error: "RateLimited" });
      expect(r.message).to.match(/retry in/);
      const m = new TestMiner(limited.client);
      limited.members.miners.add(m.address);
      for (let i = 0; i < 5; i++) expect(await limited.client.pollWork(m.signer, 0)).to.equal(undefined);
    } finally {
      await limited.close();
      await deletePrefix(p2);
    }
  });

  it("refuses a session when no miner is live (503 NoMinerAvailable)", async () => {
    const p3 = uniquePrefix("nominer");
    const lonely = await startTestGateway(p3);
    try {
      const e = await lonely.client
        .openSession({ brainId: BRAIN, mode: "plain" })
        .catch((err: GatewayError) => err);
      expect((e as GatewayError).status).to.equal(503);
      expect((e as GatewayError).code).to.equal("NoMinerAvailable");
      expect((e as GatewayError).message).to.include("based miner start --brain 3");
    } finally {
      await lonely.close();
      await deletePrefix(p3);
    }
  });

  it("fails to start at once, saying how to start Redis, when Redis is unreachable", async () => {
    const started = Date.now();
    const err = await startGateway({
      port: 0,
      brainId: BRAIN,
      redisUrl: "redis://127.0.0.1:1",
      domain: DOMAIN,
      isMember: async () => false,
    }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(BasedError);
    expect((err as BasedError).code).to.equal("RedisUnreachable");
    expect((err as BasedError).message)
      .to.include("redis-server")
      .and.include("REDIS_URL")
      .and.include("redis://127.0.0.1:1");
    expect(Date.now() - started).to.be.lessThan(10_000);
  });

  it("describes every route in an OpenAPI 3.1 document at /docs, generated from the routes' schemas", async () => {
    const res = await fetch(`${gw.url}/docs`);
    expect(res.headers.get("content-type")).to.match(/application\/json/);
    const doc = (await res.json()) as OpenApi;
    expect(doc.openapi).to.equal("3.1.0");
    expect(doc.info.title).to.equal(`BasedAI Brain gateway (Brain #${BRAIN})`);
    const expected = [
      "put /v1/blobs/{hash}",
      "head /v1/blobs/{hash}",
      "get /v1/blobs/{hash}",
      "post /v1/sessions",
      "get /v1/sessions/{id}",
      "post /v1/sessions/{id}/jobs",
      "post /v1/sessions/{id}/close",
      "get /v1/jobs/{id}",
      "get /v1/jobs/{id}/events",
      "post /v1/miner/work",
      "post /v1/miner/jobs/{id}/result",
      "post /v1/miner/jobs/{id}/release",
      "get /v1/validator/samples",
      "get /v1/validator/miners",
      "post /v1/members/lease",
      "get /health",
      "get /docs",
    ];
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m} ${p}`),
    );
    expect(documented.sort()).to.deep.equal(expected.sort());
    // The document is the server's own route table: every route it registered is in it (the HEAD
    // twin fastify adds beside a GET route is documented by that GET)...
    const registered = registeredRoutes(gw.app.printRoutes({ commonPrefix: false }));
    expect(registered).to.include.members(expected);
    const undocumented = registered.filter(
      (r) => !documented.includes(r) && !(r.startsWith("head ") && documented.includes(`get ${r.slice(5)}`)),
    );
    expect(undocumented).to.deep.equal([]);
    // ...and every documented route exists on the server.
    for (const entry of expected) {
      const [method, p] = entry.split(" ") as [string, string];
      const url = p.replace(/\{(\w+)\}/g, ":$1");
      expect(gw.app.hasRoute({ method: method.toUpperCase() as "GET", url }), entry).to.equal(true);
    }
    const op = (entry: string): Operation => {
      const [method, p] = entry.split(" ") as [string, string];
      return doc.paths[p]![method]!;
    };

    // Request bodies come from the zod schemas: one branch per kind of session, each requiring
    // what the zod branch requires (and not the optional escrow).
    const open = op("post /v1/sessions").requestBody!.content["application/json"]!.schema;
    expect(open.oneOf).to.have.length(2);
    openSessionSchema.options.forEach((branch, i) => {
      const required = requiredOf(branch.shape);
      expect(open.oneOf![i]!.required).to.have.members(required);
      expect(required).to.include("brainId").and.not.include("requestId");
    });
    const result = op("post /v1/miner/jobs/{id}/result").requestBody!.content["application/json"]!.schema;
    expect(result.required).to.have.members(requiredOf(postResultSchema.shape));
    expect(result.required).to.include("lockToken");
    // Paths and queries too: the job id's pattern, the wait's ceiling.
    const job = op("get /v1/jobs/{id}").parameters!;
    expect(job.find((p) => p.name === "id")).to.deep.include({ in: "path", required: true });
    expect(job.find((p) => p.name === "id")!.schema.pattern).to.equal(z.toJSONSchema(jobIdSchema).pattern);
    expect(job.find((p) => p.name === "waitMs")).to.deep.include({ in: "query", required: false });
    expect(job.find((p) => p.name === "waitMs")!.schema.maximum).to.equal(LIMITS.maxWaitMs);
    // Responses: the wire side of schemas ending in a transform (an address is a pattern, not `{}`).
    const session = op("get /v1/sessions/{id}").responses["200"]!.content!["application/json"]!.schema;
    expect(session.properties!.miner!.pattern)
      .to.equal(z.toJSONSchema(checksummedAddressSchema, { io: "input" }).pattern)
      .and.to.be.a("string");
    expect(
      op("post /v1/sessions").responses["400"]!.content!["application/json"]!.schema.required,
    ).to.deep.equal(["error", "message"]);

    // Bytes and streams are documented as what they are.
    expect(op("put /v1/blobs/{hash}").requestBody!.content).to.have.all.keys("application/octet-stream");
    expect(op("get /v1/blobs/{hash}").responses["200"]!.content).to.have.all.keys("application/octet-stream");
    expect(op("get /v1/jobs/{id}/events").responses["200"]!.content).to.have.all.keys("text/event-stream");
    expect(op("post /v1/miner/work").responses["204"]).to.not.have.property("content");

    // Signed routes name the schemes (a signature, or a lease's MAC) and their roles; the lease
    // route takes a signature only; client routes are anonymous.
    expect(doc.components.securitySchemes.memberSignature).to.include({
      type: "apiKey",
      in: "header",
      name: SIGNATURE_HEADERS.signature,
    });
    expect(doc.components.securitySchemes.memberLease).to.include({
      type: "apiKey",
      in: "header",
      name: LEASE_HEADERS.mac,
    });
    for (const entry of expected) {
      const signed = /miner|validator|members|get \/v1\/blobs/.test(entry);
      const security =
        entry === "post /v1/members/lease"
          ? [{ memberSignature: [] }]
          : [{ memberSignature: [] }, { memberLease: [] }];
      expect(op(entry).security, entry).to.deep.equal(signed ? security : undefined);
      if (signed) expect(op(entry)["x-based-roles"], entry).to.be.an("array").that.is.not.empty;
    }
    expect(
      op("post /v1/members/lease").responses["201"]!.content!["application/json"]!.schema.required,
    ).to.have.members(["leaseId", "secret", "expiresAt", "roles"]);
  });
});
