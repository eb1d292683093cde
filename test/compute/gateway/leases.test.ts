/**
 * Member leases (issue 17): a miner or validator signs once for a lease and MACs every later
 * request with its secret, so the gateway recovers one signature per lease instead of one per
 * request. The attacks a signature stops are stopped by the MAC too; the old scheme still works.
 */
import { expect } from "chai";
import http from "node:http";
import { Redis } from "ioredis";
import { authCounters } from "../../../compute/gateway/auth";
import { LeaseStore } from "../../../compute/gateway/leases";
import { LEASE_HEADERS, LEASE_LIMITS, type Lease, leaseSchema, randomHex } from "../../../protocol/gateway";
import { GatewayClient } from "../../../sdk/gateway-client";
import {
  BRAIN,
  DOMAIN,
  MiB,
  REDIS_URL,
  type TestGateway,
  TestMiner,
  answerBeforeBody,
  deletePrefix,
  expectRefusal,
  newAccount,
  leasedHeaders,
  signedHeaders,
  signerOf,
  startTestGateway,
  uniquePrefix,
} from "./helpers";

type Refusal = { status: number; error: string; message: string };

describe("gateway member leases: one signature per lease, a MAC per request", function () {
  this.timeout(60_000);
  const prefix = uniquePrefix("leases");
  let gw: TestGateway;
  let redis: Redis;
  let store: LeaseStore;
  const miner = newAccount();
  const validator = newAccount();

  before(async () => {
    // Many refusals from one address here: the failure budget is checked on a gateway of its own.
    gw = await startTestGateway(prefix, { maxSignatureFailures: 1_000 });
    gw.members.miners.add(miner.address);
    gw.members.validators.add(validator.address);
    redis = new Redis(REDIS_URL);
    store = new LeaseStore(redis, `${prefix}:gw:${BRAIN}`);
  });

  after(async () => {
    await gw?.close();
    redis?.disconnect();
    await deletePrefix(prefix);
  });

  const send = async (path: string, body: string, headers: Record<string, string>): Promise<Response> =>
    fetch(`${gw.url}${path}`, { method: "POST", body, headers });
  const refusal = async (res: Response): Promise<Refusal> => ({
    status: res.status,
    ...((await res.json()) as { error: string; message: string }),
  });
  /** A lease taken by hand: the signed request, as GatewayClient sends it. */
  const takeLease = async (account = miner): Promise<Lease> => {
    const path = "/v1/members/lease";
    const res = await send(path, "{}", await signedHeaders(account, { method: "POST", path, body: "{}" }));
    expect(res.status, await res.clone().text()).to.equal(201);
    expect(res.headers.get("cache-control")).to.equal("no-store");
    return leaseSchema.parse(await res.json());
  };

  const work = "/v1/miner/work";
  const poll = JSON.stringify({ waitMs: 0 });

  it("a signed request takes a lease: a 256-bit secret, the member's roles, 10 minutes", async () => {
    const now = Math.floor(Date.now() / 1000);
    const lease = await takeLease();
    expect(lease.roles).to.deep.equal(["miner"]);
    expect(lease.secret).to.match(/^[0-9a-f]{64}$/);
    expect(lease.expiresAt - now).to.be.within(
      LEASE_LIMITS.leaseLifetimeS - 1,
      LEASE_LIMITS.leaseLifetimeS + 1,
    );
    // Kept in Redis under the gateway's prefix (every replica on that Redis sees it), with a TTL.
    const stored = await store.get(lease.leaseId);
    expect(stored).to.deep.include({ address: miner.address, roles: ["miner"], secret: lease.secret });
    expect(await redis.pttl(store.key(lease.leaseId))).to.be.greaterThan(LEASE_LIMITS.leaseLifetimeS * 1000);
    expect((await takeLease(validator)).roles).to.deep.equal(["validator"]);
    // Its MAC admits requests.
    expect(
      (await send(work, poll, await leasedHeaders(lease, { method: "POST", path: work, body: poll }))).status,
    ).to.equal(204);
  });

  it("GatewayClient takes one lease, shared by concurrent calls, then recovers no signature per request", async () => {
    const client = new GatewayClient({ url: gw.url, timeoutMs: 10_000 });
    const m = new TestMiner(client);
    gw.members.miners.add(m.address);
    const before = { ...authCounters };
    // Eight lanes at once: one login.
    await Promise.all(Array.from({ length: 8 }, () => client.pollWork(m.signer, 0)));
    expect(client.leasesTaken).to.equal(1);
    expect(authCounters.signatureRecoveries - before.signatureRecoveries).to.equal(1);

    m.start();
    try {
      const session = await gw.client.openSession({ brainId: BRAIN, mode: "plain" });
      const jobs = [];
      for (let i = 0; i < 5; i++) {
        jobs.push(
          (await gw.client.submitJob(session.sessionId, { kind: "generate", tokens: [i], maxTokens: 2 }))
            .jobId,
        );
      }
      for (const id of jobs) expect((await gw.client.waitForJob(id, 20_000)).state).to.equal("completed");
    } finally {
      await m.stop();
    }
    // Polls and results, all MAC'd: still the one signature of the lease.
    expect(client.leasesTaken).to.equal(1);
    expect(authCounters.signatureRecoveries - before.signatureRecoveries).to.equal(1);
    expect(authCounters.leaseMacs - before.leaseMacs).to.be.greaterThan(8 + 5);
  });

  it("the old scheme still works: leases: false signs (and the gateway recovers) every request", async () => {
    const client = new GatewayClient({ url: gw.url, timeoutMs: 10_000, leases: false });
    const before = authCounters.signatureRecoveries;
    for (let i = 0; i < 3; i++) expect(await client.pollWork(signerOf(miner), 0)).to.equal(undefined);
    expect(client.leasesTaken).to.equal(0);
    expect(authCounters.signatureRecoveries - before).to.equal(3);
  });

  it("attack: a wrong MAC, or a MAC over another body, path or Brain (401 BadMac)", async () => {
    const lease = await takeLease();
    const wrong = await leasedHeaders(lease, { method: "POST", path: work, body: poll });
    wrong[LEASE_HEADERS.mac] = randomHex(32);
    expect(await refusal(await send(work, poll, wrong))).to.include({ status: 401, error: "BadMac" });
    const cases = [
      { method: "POST", path: work, body: JSON.stringify({ waitMs: 5 }) },
      { method: "POST", path: `/v1/miner/jobs/${randomHex(8)}/release`, body: poll },
      { method: "GET", path: work, body: poll },
      { method: "POST", path: work, body: poll, domain: { ...DOMAIN, brainId: BRAIN + 1 } },
      { method: "POST", path: work, body: poll, domain: { ...DOMAIN, chainId: 1 } },
    ];
    for (const c of cases) {
      const r = await refusal(await send(work, poll, await leasedHeaders(lease, c)));
      expect(r, JSON.stringify(c)).to.include({ status: 401, error: "BadMac" });
    }
    // Another member's secret under this lease id (a lease id seen in transit, or guessed).
    const other = await takeLease(validator);
    const forged = await leasedHeaders(
      { leaseId: lease.leaseId, secret: other.secret },
      { method: "POST", path: work, body: poll },
    );
    expect(await refusal(await send(work, poll, forged))).to.include({ status: 401, error: "BadMac" });
    // Naming another address than the lease's.
    const named = await leasedHeaders(lease, { method: "POST", path: work, body: poll });
    named["x-based-address"] = validator.address;
    expect(await refusal(await send(work, poll, named))).to.include({ status: 401, error: "LeaseNotYours" });
  });

  it("attack: a replayed nonce (409), an expired request (401), an unknown or expired lease (401)", async () => {
    const lease = await takeLease();
    const headers = await leasedHeaders(lease, { method: "POST", path: work, body: poll });
    expect((await send(work, poll, headers)).status).to.equal(204);
    expect(await refusal(await send(work, poll, headers))).to.include({
      status: 409,
      error: "NonceReplayed",
    });
    // A nonce used with a signature cannot be used again with the lease: one nonce store.
    const nonce = randomHex(16);
    expect(
      (await send(work, poll, await signedHeaders(miner, { method: "POST", path: work, body: poll, nonce })))
        .status,
    ).to.equal(204);
    expect(
      await refusal(
        await send(work, poll, await leasedHeaders(lease, { method: "POST", path: work, body: poll, nonce })),
      ),
    ).to.include({ status: 409, error: "NonceReplayed" });

    const now = Math.floor(Date.now() / 1000);
    const old = await leasedHeaders(lease, { method: "POST", path: work, body: poll, expiry: now - 1 });
    expect(await refusal(await send(work, poll, old))).to.include({ status: 401, error: "SignatureExpired" });

    const unknown = await leasedHeaders(
      { leaseId: randomHex(16), secret: lease.secret },
      { method: "POST", path: work, body: poll },
    );
    expect(await refusal(await send(work, poll, unknown))).to.include({ status: 401, error: "LeaseUnknown" });

    // A lease taken 11 minutes ago (its key outlives it briefly, so it is told apart from unknown).
    const expired = await store.issue(
      miner.address,
      ["miner"],
      Date.now() - (LEASE_LIMITS.leaseLifetimeS + 60) * 1000,
    );
    const r = await refusal(
      await send(work, poll, await leasedHeaders(expired, { method: "POST", path: work, body: poll })),
    );
    expect(r).to.include({ status: 401, error: "LeaseExpired" });
    expect(r.message).to.include("/v1/members/lease");
  });

  it("attack: a miner's lease on a validator route, a removed member's lease, a lease for a lease (403, 403, 401)", async () => {
    const lease = await takeLease();
    const samples = "/v1/validator/samples?limit=1";
    const res = await fetch(`${gw.url}${samples}`, {
      headers: await leasedHeaders(lease, { method: "GET", path: samples, body: "" }),
    });
    expect(await refusal(res)).to.include({ status: 403, error: "NotMember" });

    const pruned = newAccount();
    gw.members.miners.add(pruned.address);
    const prunedLease = await takeLease(pruned);
    expect(
      (await send(work, poll, await leasedHeaders(prunedLease, { method: "POST", path: work, body: poll })))
        .status,
    ).to.equal(204);
    gw.members.miners.delete(pruned.address);
    const after = await refusal(
      await send(work, poll, await leasedHeaders(prunedLease, { method: "POST", path: work, body: poll })),
    );
    expect(after).to.include({ status: 403, error: "NotMember" });
    expect(after.message).to.include(pruned.address);

    // A member whose role changed since its lease: told to take a new one.
    gw.members.validators.add(pruned.address);
    const changed = await fetch(`${gw.url}${samples}`, {
      headers: await leasedHeaders(prunedLease, { method: "GET", path: samples, body: "" }),
    });
    expect(await refusal(changed)).to.include({ status: 401, error: "LeaseStale" });
    gw.members.validators.delete(pruned.address);

    // A lease is only ever taken with a signature: a stolen secret cannot extend itself.
    const path = "/v1/members/lease";
    expect(
      await refusal(await send(path, "{}", await leasedHeaders(lease, { method: "POST", path, body: "{}" }))),
    ).to.include({
      status: 401,
      error: "LeaseNotAccepted",
    });
    // Nor does a stranger get one.
    const stranger = newAccount();
    expect(
      await refusal(
        await send(path, "{}", await signedHeaders(stranger, { method: "POST", path, body: "{}" })),
      ),
    ).to.include({
      status: 403,
      error: "NotMember",
    });
  });

  it("attack: malformed lease headers are refused (401 LeaseMalformed) and never crash the gateway", async () => {
    const lease = await takeLease();
    const good = await leasedHeaders(lease, { method: "POST", path: work, body: poll });
    const bent: Array<[string, string | undefined]> = [
      [LEASE_HEADERS.lease, ""],
      [LEASE_HEADERS.lease, "x".repeat(32)],
      [LEASE_HEADERS.lease, `${lease.leaseId}00`],
      [LEASE_HEADERS.lease, "../../etc/passwd"],
      [LEASE_HEADERS.lease, "A".repeat(8000)],
      [LEASE_HEADERS.mac, "zz"],
      [LEASE_HEADERS.mac, randomHex(31)],
      [LEASE_HEADERS.mac, undefined],
      [LEASE_HEADERS.nonce, undefined],
      [LEASE_HEADERS.expiry, "soon"],
      [LEASE_HEADERS.expiry, undefined],
    ];
    for (const [name, value] of bent) {
      const headers = { ...good };
      if (value === undefined) delete headers[name];
      else headers[name] = value;
      const r = await refusal(await send(work, poll, headers));
      expect(r, `${name}: ${value?.slice(0, 40)}`).to.include({ status: 401, error: "LeaseMalformed" });
    }
    // A repeated header (fetch joins them with ", ").
    const doubled = new Headers(good);
    doubled.append(LEASE_HEADERS.lease, lease.leaseId);
    const r = await fetch(`${gw.url}${work}`, { method: "POST", body: poll, headers: doubled });
    expect((await refusal(r)).error).to.equal("LeaseMalformed");
    expect((await fetch(`${gw.url}/health`)).status).to.equal(200);
    expect(
      (await send(work, poll, await leasedHeaders(lease, { method: "POST", path: work, body: poll }))).status,
    ).to.equal(204);
  });

  it("GatewayClient renews its lease before it ends, and once more when the gateway lost or expired it (Redis flushed)", async () => {
    const client = new GatewayClient({ url: gw.url, timeoutMs: 10_000 });
    const m = signerOf(miner);
    await client.pollWork(m, 0);
    expect(client.leasesTaken).to.equal(1);
    // Lost: every lease key of this gateway deleted.
    const keys = await redis.keys(`${prefix}:gw:${BRAIN}:lease:*`);
    expect(keys).to.not.be.empty;
    await redis.del(...keys);
    expect(await client.pollWork(m, 0)).to.equal(undefined);
    expect(client.leasesTaken).to.equal(2);
    // Expired: the lease's record rewritten as past its end.
    const [key] = await redis.keys(`${prefix}:gw:${BRAIN}:lease:*`);
    const stored = JSON.parse((await redis.get(key!))!) as { expiresAt: number };
    await redis.set(
      key!,
      JSON.stringify({ ...stored, expiresAt: Math.floor(Date.now() / 1000) - 1 }),
      "PX",
      60_000,
    );
    expect(await client.pollWork(m, 0)).to.equal(undefined);
    expect(client.leasesTaken).to.equal(3);
    // Near its end (less than a minute left), the client takes a new lease before it sends.
    const realNow = Date.now;
    const shift = (LEASE_LIMITS.leaseLifetimeS - LEASE_LIMITS.leaseRenewBeforeS + 5) * 1000;
    Date.now = () => realNow() + shift;
    try {
      expect(await client.pollWork(m, 0)).to.equal(undefined);
      expect(client.leasesTaken).to.equal(4);
      expect(await client.pollWork(m, 0)).to.equal(undefined);
      expect(client.leasesTaken).to.equal(4);
    } finally {
      Date.now = realNow;
    }
    // A refusal that is not about the lease is not retried with a new one.
    const stranger = newAccount();
    await expectRefusal(client.pollWork(signerOf(stranger), 0), 403, "NotMember");
    expect(client.leasesTaken).to.equal(4);
  });

  it("attack: refused leased requests count against the IP's failure budget, and an unknown lease's 80 MiB body is never read", async () => {
    const p2 = uniquePrefix("leases-budget");
    const g = await startTestGateway(p2, { maxSignatureFailures: 3 });
    try {
      const path = `/v1/miner/jobs/${randomHex(8)}/result`;
      const unknown = await leasedHeaders(
        { leaseId: randomHex(16), secret: randomHex(32) },
        { method: "POST", path, body: "{}" },
      );
      const unread = await answerBeforeBody(g.url, path, unknown, 80 * MiB);
      expect(unread).to.deep.include({ status: 401 });
      expect(unread.body.error).to.equal("LeaseUnknown");
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${g.url}${work}`, {
          method: "POST",
          body: poll,
          headers: { ...unknown, [LEASE_HEADERS.lease]: "nope" },
        });
        expect(res.status).to.equal(401);
      }
      g.members.miners.add(miner.address);
      const res = await fetch(`${g.url}${work}`, {
        method: "POST",
        body: poll,
        headers: await signedHeaders(miner, { method: "POST", path: work, body: poll }),
      });
      expect(await refusal(res)).to.include({ status: 429, error: "TooManyFailures" });
    } finally {
      await g.close();
      await deletePrefix(p2);
    }
  });

  it("a client of a gateway without leases (404 on the lease route) falls back to signing every request", async () => {
    // An older gateway: this one behind a proxy that knows no lease route.
    const proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (req.url === "/v1/members/lease") {
          res.writeHead(404, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: "NotFound", message: "no route" }));
          return;
        }
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(([k]) => k.startsWith("x-based-") || k === "content-type"),
        ) as Record<string, string>;
        void fetch(`${gw.url}${req.url}`, {
          method: req.method,
          headers,
          body: chunks.length ? Buffer.concat(chunks) : undefined,
        }).then(async (r) => {
          res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "text/plain" });
          res.end(Buffer.from(await r.arrayBuffer()));
        });
      });
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    try {
      const { port } = proxy.address() as { port: number };
      const client = new GatewayClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 5_000 });
      const before = authCounters.signatureRecoveries;
      for (let i = 0; i < 2; i++) expect(await client.pollWork(signerOf(miner), 0)).to.equal(undefined);
      expect(client.leasesTaken).to.equal(0);
      expect(authCounters.signatureRecoveries - before).to.equal(2);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });
});
