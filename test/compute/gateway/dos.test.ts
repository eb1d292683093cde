import { expect } from "chai";
import { BoundedMap, FailureBudget } from "../../../compute/gateway/bounded";
import type { Address } from "viem";
import type { EscrowInfo } from "../../../compute/gateway/service";
import {
  type BlobClaim,
  LIMITS,
  type SessionKeys,
  blobClaimHeaders,
  randomHex,
} from "../../../protocol/gateway";
import { sha256Hex } from "../../../protocol/hash";
import {
  BRAIN,
  type TestGateway,
  MiB,
  TestMiner,
  answerBeforeBody,
  deletePrefix,
  expectRefusal,
  newAccount,
  signedClaim,
  signedHeaders,
  startTestGateway,
  uniquePrefix,
} from "./helpers";

describe("gateway denial of service: nothing large is read before it is allowed", function () {
  this.timeout(60_000);
  const started: { g: TestGateway; prefix: string }[] = [];
  const start = async (extra: Parameters<typeof startTestGateway>[1] = {}) => {
    const prefix = uniquePrefix("dos");
    const g = await startTestGateway(prefix, extra);
    started.push({ g, prefix });
    return g;
  };
  after(async () => {
    for (const { g, prefix } of started) {
      await g.close();
      await deletePrefix(prefix);
    }
  });

  it("attack: a stranger's 80 MiB result body is refused before it is read (no signature: 401; not a member: 403)", async () => {
    const g = await start();
    const path = `/v1/miner/jobs/${randomHex(8)}/result`;
    const unsigned = await answerBeforeBody(g.url, path, { "content-type": "application/json" }, 80 * MiB);
    expect(unsigned.status).to.equal(401);
    expect(unsigned.body.error).to.equal("SignatureMissing");
    const stranger = newAccount();
    const headers = await signedHeaders(stranger, { method: "POST", path, body: "{}" });
    const named = await answerBeforeBody(g.url, path, headers, 80 * MiB);
    expect(named.status).to.equal(403);
    expect(named.body.error).to.equal("NotMember");
    // A member's well-formed headers get the body read (and then its signature checked).
    const miner = newAccount();
    g.members.miners.add(miner.address);
    const res = await fetch(`${g.url}${path}`, {
      method: "POST",
      headers: await signedHeaders(miner, { method: "POST", path, body: "{}" }),
      body: "{}",
    });
    expect(res.status).to.not.equal(401);
    expect(res.status).to.not.equal(403);
  });

  it("attack: an address that keeps failing signed checks is refused unread for the rest of the minute (429)", async () => {
    const g = await start({ maxSignatureFailures: 3 });
    const path = "/v1/miner/work";
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${g.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      expect(res.status).to.equal(401);
    }
    const miner = newAccount();
    g.members.miners.add(miner.address);
    const blocked = await answerBeforeBody(
      g.url,
      path,
      await signedHeaders(miner, { method: "POST", path, body: "{}" }),
      80 * MiB,
    );
    expect(blocked.status).to.equal(429);
    expect(blocked.body.error).to.equal("TooManyFailures");
    expect(blocked.body.message).to.match(/retry in \d+ s/);
  });

  it("attack: anonymous blob uploads to a --free-sessions gateway are bounded per address (BlobQuotaExceeded), checked before the body is read", async () => {
    const g = await start({ blobQuotaBytes: 5_000 });
    const put = (bytes: Uint8Array) =>
      fetch(`${g.url}/v1/blobs/${sha256Hex(bytes)}`, {
        method: "PUT",
        headers: { "content-type": "application/octet-stream" },
        body: bytes,
      });
    const first = crypto.getRandomValues(new Uint8Array(3_000));
    expect((await put(first)).status).to.equal(201);
    const second = await put(crypto.getRandomValues(new Uint8Array(3_000)));
    expect(second.status).to.equal(429);
    expect(((await second.json()) as { error: string }).error).to.equal("BlobQuotaExceeded");
    // A 64 MiB upload is refused from its announced length, before its bytes are read.
    const big = await answerBeforeBody(
      g.url,
      `/v1/blobs/${"ab".repeat(32)}`,
      { "content-type": "application/octet-stream" },
      64 * MiB,
    );
    expect(big.status).to.equal(429);
    expect(big.body.error).to.equal("BlobQuotaExceeded");
    // What was stored is still served (to members) and known (to anyone).
    expect((await fetch(`${g.url}/v1/blobs/${sha256Hex(first)}`, { method: "HEAD" })).status).to.equal(200);
  });

  it("caches keyed by what strangers choose stay bounded", () => {
    const map = new BoundedMap<string, number>(3);
    for (let i = 0; i < 1_000; i++) map.set(`k${i}`, i);
    expect(map.size).to.equal(3);
    expect(map.get("k999")).to.equal(999);
    expect(map.get("k0")).to.equal(undefined);
    // Recently used entries survive.
    map.get("k997");
    map.set("new", 1);
    expect(map.get("k997")).to.equal(997);
    expect(map.get("k998")).to.equal(undefined);
    expect(() => new BoundedMap(0)).to.throw(RangeError);

    const budget = new FailureBudget(2, 1_000, 2);
    budget.fail("a", 0);
    expect(budget.retryAfterS("a", 10)).to.equal(0);
    budget.fail("a", 10);
    expect(budget.retryAfterS("a", 10)).to.equal(1);
    expect(budget.retryAfterS("a", 1_000)).to.equal(0);
    for (let i = 0; i < 100; i++) budget.fail(`ip${i}`, 20);
    expect(budget.retryAfterS("a", 20)).to.equal(0);
  });
});

describe("gateway denial of service: a paid gateway stores blobs only for an open request's claim", function () {
  this.timeout(60_000);
  const account = newAccount();
  const attacker = newAccount();
  const escrows = new Map<string, EscrowInfo>();
  let nextRequest = 500;
  const newRequest = (): string => {
    const id = String(nextRequest++);
    escrows.set(id, {
      brainId: BRAIN,
      open: true,
      account: account.address,
      promptUnits: 4,
      maxCompletionUnits: 8,
    });
    return id;
  };
  const reads: string[] = [];
  const paid = {
    freeSessions: false,
    escrowOf: async (id: string): Promise<EscrowInfo> => {
      reads.push(id);
      return (
        escrows.get(id) ?? {
          brainId: BRAIN,
          open: false,
          account: account.address,
          promptUnits: 0,
          maxCompletionUnits: 0,
        }
      );
    },
    isApp: async (_account: Address, _app: Address) => false,
  };
  const started: { g: TestGateway; prefix: string }[] = [];
  const start = async (extra: Parameters<typeof startTestGateway>[1] = {}) => {
    const prefix = uniquePrefix("dos-paid");
    const g = await startTestGateway(prefix, { ...paid, ...extra });
    started.push({ g, prefix });
    return g;
  };
  after(async () => {
    for (const { g, prefix } of started) {
      await g.close();
      await deletePrefix(prefix);
    }
  });

  const blob = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  const keysOf = (galois: Uint8Array, relin?: Uint8Array): SessionKeys => ({
    galois: sha256Hex(galois),
    relin: relin ? sha256Hex(relin) : null,
  });
  const claimFor = async (requestId: string, keys: SessionKeys, by = account): Promise<BlobClaim> => ({
    requestId,
    keys,
    claim: await signedClaim(by, requestId, "encrypted", keys),
  });
  const put = (g: TestGateway, bytes: Uint8Array, headers: Record<string, string> = {}) =>
    fetch(`${g.url}/v1/blobs/${sha256Hex(bytes)}`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream", ...headers },
      body: bytes,
    });
  const codeOf = async (res: Response) => ({
    status: res.status,
    error: ((await res.json()) as { error: string }).error,
  });

  it("attack: an anonymous upload is refused before its body is read (402 EscrowRequired), and so are a bare request id (401) and a stranger's claim (403)", async () => {
    const g = await start();
    const hash = "ab".repeat(32);
    const path = `/v1/blobs/${hash}`;
    const octets = { "content-type": "application/octet-stream" };
    const anonymous = await answerBeforeBody(g.url, path, octets, 64 * MiB);
    expect(anonymous.status).to.equal(402);
    expect(anonymous.body.error).to.equal("EscrowRequired");
    expect(anonymous.body.message).to.match(/x-based-request-id/);
    const id = newRequest();
    const bare = await answerBeforeBody(g.url, path, { ...octets, "x-based-request-id": id }, 64 * MiB);
    expect(bare.status).to.equal(401);
    expect(bare.body.error).to.equal("ClaimRequired");
    expect(reads, "refused without a chain read").to.deep.equal([]);
    const keys: SessionKeys = { galois: hash, relin: null };
    const strangers = blobClaimHeaders(await claimFor(id, keys, attacker));
    const stranger = await answerBeforeBody(g.url, path, { ...octets, ...strangers }, 64 * MiB);
    expect(stranger.status).to.equal(403);
    expect(stranger.body.error).to.equal("NotRequestOwner");
    // A request that is not open (unknown, settled, reclaimed or refunded) stores nothing either.
    const closed = blobClaimHeaders(await claimFor("77", keys));
    const notOpen = await answerBeforeBody(g.url, path, { ...octets, ...closed }, 64 * MiB);
    expect(notOpen.status).to.equal(400);
    expect(notOpen.body.error).to.equal("EscrowInvalid");
    expect((await fetch(`${g.url}${path}`, { method: "HEAD" })).status).to.equal(404);
  });

  it("attack: a claim over other keys uploads nothing — neither another blob under it, nor this one with its keys rewritten", async () => {
    const g = await start();
    const id = newRequest();
    const [key, other] = [blob(2_000), blob(2_000)];
    const claim = await claimFor(id, keysOf(key));
    const wrongBlob = await codeOf(await put(g, other, blobClaimHeaders(claim)));
    expect(wrongBlob).to.deep.equal({ status: 403, error: "BlobNotClaimed" });
    expect(reads, "refused without a chain read").to.not.include(id);
    // Naming this blob among the keys breaks the signature, which covers them.
    const rewritten = { ...claim, keys: keysOf(key, other) };
    const forged = await codeOf(await put(g, other, blobClaimHeaders(rewritten)));
    expect(forged).to.deep.equal({ status: 403, error: "NotRequestOwner" });
    // An expired claim, and one with a header missing:
    const old = {
      ...claim,
      claim: await signedClaim(account, id, "encrypted", claim.keys, Math.floor(Date.now() / 1000) - 1),
    };
    expect(await codeOf(await put(g, key, blobClaimHeaders(old)))).to.deep.equal({
      status: 401,
      error: "ClaimExpired",
    });
    const partial: Record<string, string> = blobClaimHeaders(claim);
    delete partial["x-based-claim-signature"];
    expect(await codeOf(await put(g, key, partial))).to.deep.equal({ status: 401, error: "ClaimRequired" });
    expect((await fetch(`${g.url}/v1/blobs/${sha256Hex(other)}`, { method: "HEAD" })).status).to.equal(404);
    expect((await fetch(`${g.url}/v1/blobs/${sha256Hex(key)}`, { method: "HEAD" })).status).to.equal(404);
  });

  it("honest flow: the account signs its session's claim first, uploads both keys with it and opens the session with the same claim", async () => {
    const g = await start();
    const m = new TestMiner(g.client);
    g.members.miners.add(m.address);
    await m.polledOnce();
    const id = newRequest();
    const [galois, relin] = [blob(3_000), blob(1_000)];
    const keys = keysOf(galois, relin);
    const claim = await claimFor(id, keys);
    expect(await g.client.putBlob(galois, claim)).to.equal(keys.galois);
    expect(await g.client.putBlob(relin, claim)).to.equal(keys.relin);
    const session = await g.client.openSession({
      brainId: BRAIN,
      mode: "encrypted",
      paramSet: "n8192",
      keys,
      requestId: id,
      claim: claim.claim,
    });
    expect(session.requestId).to.equal(id);
    // Without the claim, the client's upload is refused as any anonymous one.
    await expectRefusal(g.client.putBlob(blob(100)), 402, "EscrowRequired");
  });

  it("attack: one request's claim stores at most its quota, checked before the body is read; other requests have their own", async () => {
    const g = await start({ blobQuotaPerRequestBytes: 5_000, blobQuotaBytes: 1_000 });
    const id = newRequest();
    const [galois, relin] = [blob(3_000), blob(3_000)];
    const claim = await claimFor(id, keysOf(galois, relin));
    // The per-IP quota of free gateways (1,000 bytes here) does not apply: the request pays.
    expect((await put(g, galois, blobClaimHeaders(claim))).status).to.equal(201);
    const over = await put(g, relin, blobClaimHeaders(claim));
    const body = (await over.json()) as { error: string; message: string };
    expect({ status: over.status, error: body.error }).to.deep.equal({
      status: 429,
      error: "BlobQuotaExceeded",
    });
    expect(body.message).to.match(new RegExp(`request ${id} has had 3000 blob bytes`));
    // Announced larger than what is left: refused before the bytes are read.
    const big = await answerBeforeBody(
      g.url,
      `/v1/blobs/${claim.keys.relin}`,
      { "content-type": "application/octet-stream", ...blobClaimHeaders(claim) },
      64 * MiB,
    );
    expect(big.status).to.equal(429);
    expect(big.body.error).to.equal("BlobQuotaExceeded");
    // Another request (from the same address) has its own quota.
    const second = newRequest();
    const claim2 = await claimFor(second, keysOf(relin));
    expect((await put(g, relin, blobClaimHeaders(claim2))).status).to.equal(201);
  });

  it("the default quota per request is one key set of the largest blobs, twice", () => {
    expect(LIMITS.maxBlobBytesPerRequest).to.equal(2 * 2 * LIMITS.maxBlobBytes);
  });
});
