/**
 * What the gateway tests share: a gateway on real Redis under a unique key prefix, members as an
 * in-memory set (in place of the Network contract's `roleOf`), and miners that are real
 * `GatewayClient` pollers with their own keys, computing something trivial but checkable.
 */
import { expect } from "chai";
import http from "node:http";
import { rm } from "node:fs/promises";
import { defaultBlobDir } from "../../../compute/gateway/blob-store";
import { deleteRedisPrefix } from "../../../compute/gateway/redis-prefix";
import { type Address, type Hex, getAddress } from "viem";
import { type PrivateKeyAccount, generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  DEFAULT_REDIS_URL,
  DELIVERY_TYPES,
  type GatewayDomain,
  LEASE_HEADERS,
  type Lease,
  SIGNATURE_HEADERS,
  type WorkItem,
  deliveryDomain,
  deliveryMessage,
  encodeTokens,
  bytesOf,
  jobHash,
  leaseMac,
  outputsHash,
  type SessionKeys,
  randomHex,
  sessionClaimTypedData,
  signedRequestMessage,
  toBase64,
} from "../../../protocol/gateway";
import { sha256Hex } from "../../../protocol/hash";
import { type GatewayOptions, type RunningGateway, startGateway } from "../../../compute/gateway/server";
import { GatewayClient, GatewayError, type SignerOptions } from "../../../sdk/gateway-client";

export const REDIS_URL = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
export const BRAIN = 3;
export const DOMAIN: GatewayDomain = {
  chainId: 32323,
  network: getAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
  brainId: BRAIN,
};
export const DELIVERY = {
  chainId: 32323,
  computeMarket: getAddress("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"),
};

/** The test gateways' `settle` fails for this request id, as a reverted transaction would. */
export const FAILING_REQUEST = "66";

export const uniquePrefix = (name: string) => `test-gw-${name}-${randomHex(4)}`;

/** Deletes every key under `prefix` (other suites share this Redis), and its gateways' blob files. */
export async function deletePrefix(prefix: string): Promise<void> {
  await deleteRedisPrefix(REDIS_URL, prefix);
  await rm(defaultBlobDir(prefix, BRAIN), { recursive: true, force: true });
}

export type Members = { miners: Set<Address>; validators: Set<Address> };

export type TestGateway = RunningGateway & {
  members: Members;
  client: GatewayClient;
  settled: Array<Parameters<NonNullable<GatewayOptions["settle"]>>[0]>;
  /** Request ids the gateway refunded (ComputeMarket `refund`), in order. */
  refunded: string[];
};

/** A gateway on a unique prefix with short locks and timeouts, so failover happens in seconds. */
export async function startTestGateway(
  prefix: string,
  extra: Partial<GatewayOptions> = {},
  members: Members = { miners: new Set(), validators: new Set() },
): Promise<TestGateway> {
  const settled: TestGateway["settled"] = [];
  const refunded: TestGateway["refunded"] = [];
  const running = await startGateway({
    port: 0,
    brainId: BRAIN,
    redisUrl: REDIS_URL,
    prefix,
    domain: DOMAIN,
    delivery: DELIVERY,
    isMember: async (a, role) => (role === "miner" ? members.miners : members.validators).has(a),
    settle: async (s) => {
      if (s.requestId === FAILING_REQUEST)
        throw new Error(`execution reverted: RequestExpired(${s.requestId})`);
      settled.push(s);
      return `0x${"ab".repeat(32)}` as Hex;
    },
    refund: async ({ requestId }) => {
      if (requestId === FAILING_REQUEST) throw new Error(`execution reverted: RequestNotOpen(${requestId})`);
      refunded.push(requestId);
      return `0x${"cd".repeat(32)}` as Hex;
    },
    lockMs: 1_000,
    minerTimeoutMs: 1_500,
    // Most suites open sessions without escrow; escrows.test.ts checks the default (refused).
    freeSessions: true,
    ...extra,
  });
  return {
    ...running,
    members,
    settled,
    refunded,
    client: new GatewayClient({ url: running.url, timeoutMs: 10_000 }),
  };
}

export const signerOf = (account: PrivateKeyAccount): SignerOptions => ({ account, domain: DOMAIN });
export const newAccount = () => privateKeyToAccount(generatePrivateKey());

/** What the test miners compute: each input's bytes reversed; a plain job counts up from its last token. */
export function expectedOutputs(item: WorkItem): Uint8Array[] {
  if (item.job.kind === "linear") return item.job.inputs.map((b) => bytesOf(b).slice().reverse());
  const last = item.job.tokens[item.job.tokens.length - 1]!;
  return [encodeTokens(Array.from({ length: item.job.maxTokens }, (_, i) => last + i + 1))];
}

/** A miner's Delivery, as compute/miner/node.ts signs it: over the job it was given (`item`). */
export async function deliverySignature(
  account: PrivateKeyAccount,
  item: Pick<WorkItem, "jobId" | "job">,
  hash: Hex,
): Promise<Hex> {
  return account.signTypedData({
    domain: deliveryDomain(DELIVERY.chainId, DELIVERY.computeMarket),
    types: DELIVERY_TYPES,
    primaryType: "Delivery",
    message: deliveryMessage(BRAIN, await jobHash(item.jobId, item.job), hash),
  });
}

export type MinerAction = "answer" | "vanish" | "hold" | "release";

/**
 * A miner: long-polls its gateway and answers with `expectedOutputs`. `decide` may make it vanish
 * (stop polling, never answer: a crash), hold a job without answering while it keeps polling (a
 * stall), or release the job.
 */
export class TestMiner {
  readonly signer: SignerOptions;
  readonly done: string[] = [];
  readonly taken: WorkItem[] = [];
  paused = false;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    public client: GatewayClient,
    private readonly decide: (item: WorkItem, miner: TestMiner) => MinerAction = () => "answer",
    /** Its key (a fresh one by default; pass another miner's to run a second process of it). */
    readonly account: PrivateKeyAccount = newAccount(),
  ) {
    this.signer = signerOf(account);
  }

  get address(): Address {
    return this.account.address;
  }

  start(): this {
    this.loop = this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Resolves once this miner has polled (so the gateway counts it live). */
  async polledOnce(): Promise<void> {
    await this.client.pollWork(this.signer, 0);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.paused) {
        await sleep(50);
        continue;
      }
      let item: WorkItem | undefined;
      try {
        item = await this.client.pollWork(this.signer, 300);
      } catch {
        await sleep(100);
        continue;
      }
      if (!item) continue;
      this.taken.push(item);
      const action = this.decide(item, this);
      if (action === "vanish") {
        this.stopped = true;
        return;
      }
      if (action === "hold") continue;
      try {
        if (action === "release") {
          await this.client.releaseJob(this.signer, item.jobId, item.lockToken, "shutting down");
          continue;
        }
        const outputs = expectedOutputs(item);
        const outputHash = await outputsHash(outputs);
        await this.client.postResult(this.signer, item.jobId, {
          lockToken: item.lockToken,
          outputs: outputs.map(toBase64),
          outputHash,
          signature: await deliverySignature(this.account, item, outputHash),
        });
        this.done.push(item.jobId);
      } catch {
        // a refused or lost result: the gateway retries the job
      }
    }
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a hand-built member request says; tests bend each part. */
type HandBuilt = {
  method: string;
  path: string;
  body: string;
  nonce?: string;
  expiry?: number;
  domain?: GatewayDomain;
};

/** The canonical message of a hand-built request, with the nonce and expiry headers it names. */
function handBuilt(f: HandBuilt): { message: string; headers: Record<string, string> } {
  const nonce = f.nonce ?? randomHex(16);
  const expiry = f.expiry ?? Math.floor(Date.now() / 1000) + 60;
  const message = signedRequestMessage(f.domain ?? DOMAIN, {
    method: f.method,
    path: f.path,
    bodySha256: sha256Hex(f.body),
    nonce,
    expiry,
  });
  return {
    message,
    headers: {
      [SIGNATURE_HEADERS.nonce]: nonce,
      [SIGNATURE_HEADERS.expiry]: String(expiry),
      "content-type": "application/json",
    },
  };
}

/** Headers of a signed request, built by hand so tests can bend each part. */
export async function signedHeaders(
  account: PrivateKeyAccount,
  f: HandBuilt,
): Promise<Record<string, string>> {
  const { message, headers } = handBuilt(f);
  return {
    [SIGNATURE_HEADERS.address]: account.address,
    [SIGNATURE_HEADERS.signature]: await account.signMessage({ message }),
    ...headers,
  };
}

/** Headers of a leased request, built by hand so tests can bend each part. */
export async function leasedHeaders(
  lease: Pick<Lease, "leaseId" | "secret">,
  f: HandBuilt,
): Promise<Record<string, string>> {
  const { message, headers } = handBuilt(f);
  return {
    [LEASE_HEADERS.lease]: lease.leaseId,
    [LEASE_HEADERS.mac]: await leaseMac(lease.secret, message),
    ...headers,
  };
}

/** Random ciphertext-like bytes as a job input. */
export const randomInput = (n = 256) => toBase64(crypto.getRandomValues(new Uint8Array(n)));

/** A claim on `requestId` signed by `signer` (the request's account, an app, or an attacker). */
export async function signedClaim(
  signer: PrivateKeyAccount,
  requestId: string,
  mode: "encrypted" | "plain",
  keys?: SessionKeys,
  expiry = Math.floor(Date.now() / 1000) + 120,
): Promise<{ expiry: number; signature: Hex }> {
  const signature = await signer.signTypedData(
    sessionClaimTypedData(DELIVERY.chainId, DELIVERY.computeMarket, {
      requestId,
      brainId: BRAIN,
      mode,
      keys,
      expiry,
    }),
  );
  return { expiry, signature };
}

/** Awaits `p`, which must fail with a GatewayError of this status and code; returns the error. */
export async function expectRefusal(
  p: Promise<unknown>,
  status: number,
  code: string,
): Promise<GatewayError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(GatewayError);
    const e = err as GatewayError;
    expect({ status: e.status, code: e.code }, e.message).to.deep.equal({ status, code });
    return e;
  }
  throw new Error(`expected a ${status} ${code} refusal`);
}

export const MiB = 1024 * 1024;

/**
 * Starts a request that announces `announced` bytes, sends only the first MiB of them and waits
 * for an answer: a gateway that checks before reading answers at once; one that reads first
 * would wait for bytes that never come.
 */
export function answerBeforeBody(
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
