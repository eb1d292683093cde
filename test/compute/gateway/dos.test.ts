import { expect } from "chai";
import http from "node:http";
import { BoundedMap, FailureBudget } from "../../../compute/gateway/bounded";
import { randomHex } from "../../../protocol/gateway";
import { sha256Hex } from "../../../protocol/hash";
import {
  type TestGateway,
  deletePrefix,
  newAccount,
  signedHeaders,
  startTestGateway,
  uniquePrefix,
} from "./helpers";

const MiB = 1024 * 1024;

/**
 * Starts a request that announces `announced` bytes, sends only the first MiB of them and waits
 * for an answer: a gateway that checks before reading answers at once; one that reads first
 * would wait for bytes that never come.
 */
function answerBeforeBody(
  url: string,
  path: string,
  headers: Record<string, string>,
  announced: number,
): Promise<{ status: number; body: { error?: string; message?: string } }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, {
      method: path.includes("/blobs/") ? "PUT" : "POST",
      headers: { ...headers, "content-length": String(announced) },
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error("no answer while the body was still being sent: the gateway read it first"));
    }, 8_000);
    req.on("response", (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString("utf8")));
      res.on("end", () => {
        clearTimeout(timer);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || "{}") as { error?: string } });
      });
    });
    req.on("error", () => undefined);
    req.write(Buffer.alloc(MiB, 0x20));
  });
}

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

  it("attack: anonymous blob uploads are bounded per address (BlobQuotaExceeded), checked before the body is read", async () => {
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
