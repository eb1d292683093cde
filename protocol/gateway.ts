/**
 * The Brain gateway's wire protocol (docs/architecture.md §1, §5): what clients, miners and validators send
 * and receive, as zod schemas that the gateway validates and the SDK, miner and validator share.
 * No I/O here beyond hashing and signing helpers.
 *
 * One gateway routes one Brain. A client opens a *session* (its evaluation keys, uploaded once as
 * content-addressed blobs) and submits *jobs*: in encrypted mode one job is one plan step over the
 * client's ciphertexts (`ServerCall` of zkllm/hybrid/encrypted-backend.ts); in plain mode one job
 * is a whole greedy generation over token ids. A session sticks to one miner while that miner lives.
 *
 * Miners and validators sign every request (EIP-191 personal message over `signedRequestMessage`,
 * with a single-use nonce and an expiry); the gateway checks the signer is a registered member of
 * the Brain in the Network contract. Miners also sign each result as an EIP-712 `Delivery`
 * (ComputeMarket's domain), which is what the gateway later posts to settle the user's escrow.
 *
 * A miner never learns which ComputeMarket request (or account) pays for a job: its work item
 * carries a random session id and job id, the job and a lock token, nothing else. Its `Delivery`
 * binds the Brain, the JOB it was given (`jobHash`, computed by the miner itself from the work
 * item) and what it returned (`outputsHash`), so a validator's canary (no escrow) and a user's
 * paid prompt look and sign the same. The gateway (the Brain owner's) maps jobs to escrows: it
 * settles a session's request with the delivery of that session's last job, and is trusted to
 * pick the right one as it is already trusted to count the units. ComputeMarket lets one
 * delivery pay one request at most (`DeliveryAlreadyUsed`).
 */
import {
  type Address,
  type Hex,
  encodeAbiParameters,
  getAddress,
  keccak256,
  parseAbiParameters,
  toHex,
} from "viem";
import { z } from "zod";
import { keccak256Hasher, sha256Hex } from "./hash";
import { checksummedAddressSchema, inferenceModeSchema, lowercaseBytes32Schema } from "./schemas";

export const API_PREFIX = "/v1";
export const DEFAULT_GATEWAY_PORT = 7200;
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/** Limits a gateway enforces (bytes are of the decoded payloads). */
export const LIMITS = {
  /** A key blob (Galois keys of a plan are ~7 MiB at N=8192; room for larger models). */
  maxBlobBytes: 64 * 1024 * 1024,
  /** Ciphertexts of one job, together. */
  maxJobBytes: 16 * 1024 * 1024,
  /** Ciphertexts in one job. */
  maxJobInputs: 64,
  /** Prompt tokens of a plain job. */
  maxPlainTokens: 4096,
  /** Longest long-poll a caller may ask for. */
  maxWaitMs: 30_000,
  /** How far in the future a signed request's expiry may lie. */
  maxSignatureLifetimeS: 300,
  /**
   * Blob bytes a paid gateway stores per ComputeMarket request (within a blob lifetime): one key
   * set is at most two blobs (Galois and relinearization keys) of at most `maxBlobBytes` each,
   * and twice that lets a client send the set again when it expired before its session opened.
   */
  maxBlobBytesPerRequest: 4 * 64 * 1024 * 1024,
} as const;

// ---------------------------------------------------------------------------------------------
// Primitives

export const sha256HexSchema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, "expected a sha256 digest: 64 lowercase hex characters");
export const signatureSchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{130}$/, "expected a 65-byte signature as 0x-prefixed hex")
  .transform((s) => s as Hex);
export const base64Schema = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "expected base64");
/**
 * A ciphertext (or any byte string) on the wire: base64 in a JSON body, raw bytes in a framed one
 * (`FRAMES_CONTENT_TYPE`, where the decoder puts a `Uint8Array` in its place). `bytesOf` reads both.
 */
export const bytesSchema = z.union([
  z
    .custom<Uint8Array>((v) => v instanceof Uint8Array, "expected bytes")
    .meta({ type: "string", contentMediaType: "application/octet-stream" }),
  base64Schema,
]);
export type Bytes = z.infer<typeof bytesSchema>;

/** The bytes of a wire byte string: itself when already bytes, else decoded from base64. */
export function bytesOf(b: Bytes): Uint8Array {
  return typeof b === "string" ? fromBase64(b) : b;
}

/** A wire byte string as base64 (what a JSON body carries). */
export function base64Of(b: Bytes): string {
  return typeof b === "string" ? b : toBase64(b);
}
/** A ComputeMarket request id (uint256) as a decimal string. */
export const requestIdSchema = z.string().regex(/^[0-9]{1,78}$/, "expected a request id as a decimal string");
export const jobIdSchema = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, "expected a job id");
export const sessionIdSchema = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, "expected a session id");
/** A plan step id as zkllm's plans name them (e.g. `l0.qkv@16`). */
export const stepIdSchema = z.string().regex(/^[A-Za-z0-9_.:@-]{1,64}$/, "expected a plan step id");
export const paramSetSchema = z.string().regex(/^[a-z0-9-]{1,32}$/, "expected a parameter-set id");

/** The sha256 (hex) that names a content-addressed blob. */
export function blobHash(bytes: Uint8Array): string {
  return sha256Hex(bytes);
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

export function fromBase64(text: string): Uint8Array {
  const b = Buffer.from(text, "base64");
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * The hash of a job's outputs: keccak256 over each output's keccak256, in order. Replays compare
 * it, miners sign it (as `Delivery.resultHash`), and it does not depend on base64 or framing.
 */
export async function outputsHash(outputs: readonly Uint8Array[]): Promise<Hex> {
  if (outputs.length === 0) return keccak256("0x");
  // Miner, gateway and client each hash every output (~130 KiB) on a token's critical path:
  // hash-wasm's Keccak is about 20x faster than viem's on them (docs/benchmarks.md; the same
  // digests: test/protocol/merkle.test.ts).
  const keccak = await keccak256Hasher();
  const digests = new Uint8Array(32 * outputs.length);
  outputs.forEach((o, i) => keccak.hashInto(o, digests, 32 * i));
  return toHex(keccak.hash(digests));
}

/** Token ids as the bytes a plain job carries: little-endian u32 each. */
export function encodeTokens(ids: readonly number[]): Uint8Array {
  const out = new Uint8Array(ids.length * 4);
  const view = new DataView(out.buffer);
  ids.forEach((id, i) => view.setUint32(i * 4, id, true));
  return out;
}

export function decodeTokens(bytes: Uint8Array): number[] {
  if (bytes.length % 4 !== 0) throw new RangeError("token bytes are not a whole number of u32");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 4 }, (_, i) => view.getUint32(i * 4, true));
}

// ---------------------------------------------------------------------------------------------
// Clients

/** Evaluation keys of a session, by blob hash (null where the plan needs none). */
export const sessionKeysSchema = z.strictObject({
  galois: sha256HexSchema.nullable(),
  relin: sha256HexSchema.nullable(),
});
export type SessionKeys = z.infer<typeof sessionKeysSchema>;

/**
 * Proof that whoever opens a session may spend its request: the request's account, or an app the
 * account authorized in ComputeMarket, signs `SessionClaim` (EIP-712, `sessionClaimTypedData`).
 */
export const sessionClaimSchema = z.strictObject({
  /** Unix seconds; the gateway refuses a claim past it or more than `LIMITS.maxSignatureLifetimeS` ahead. */
  expiry: z.number().int().min(0),
  signature: signatureSchema,
});
export type SessionClaim = z.infer<typeof sessionClaimSchema>;

/**
 * Headers of a blob upload to a paid gateway (one without `--free-sessions`): the open request
 * the blob is for, the keys of the session it will open (`<galois>:<relin>`, "-" for a key the
 * plan does not need; the blob must be one of them) and that session's claim (`SessionClaim`
 * over the request, this Brain, those keys and the expiry), checked before the body is read. The
 * bytes count against the request's quota (`LIMITS.maxBlobBytesPerRequest`).
 */
export const BLOB_CLAIM_HEADERS = {
  requestId: "x-based-request-id",
  keys: "x-based-claim-keys",
  expiry: "x-based-claim-expiry",
  signature: "x-based-claim-signature",
} as const;

/** What a paid blob upload names: the request, the session's keys and its claim. */
export type BlobClaim = { requestId: string; keys: SessionKeys; claim: SessionClaim };

/** The headers that carry `c` on `PUT /v1/blobs/:hash`. */
export function blobClaimHeaders(c: BlobClaim): Record<string, string> {
  return {
    [BLOB_CLAIM_HEADERS.requestId]: c.requestId,
    [BLOB_CLAIM_HEADERS.keys]: `${c.keys.galois ?? "-"}:${c.keys.relin ?? "-"}`,
    [BLOB_CLAIM_HEADERS.expiry]: String(c.claim.expiry),
    [BLOB_CLAIM_HEADERS.signature]: c.claim.signature,
  };
}

const blobClaimHeadersSchema = z.object({
  [BLOB_CLAIM_HEADERS.requestId]: requestIdSchema,
  [BLOB_CLAIM_HEADERS.keys]: z
    .string()
    .regex(/^([0-9a-f]{64}|-):([0-9a-f]{64}|-)$/, "expected <galois>:<relin>, sha256 hex or '-'"),
  [BLOB_CLAIM_HEADERS.expiry]: z.string().regex(/^[0-9]{1,12}$/, "expected unix seconds"),
  [BLOB_CLAIM_HEADERS.signature]: signatureSchema,
});

/**
 * The blob claim in request headers: undefined when none of its headers is there, an error
 * message when they are there but incomplete or malformed.
 */
export function parseBlobClaimHeaders(
  headers: Record<string, string | string[] | undefined>,
): BlobClaim | { error: string } | undefined {
  const names = Object.values(BLOB_CLAIM_HEADERS);
  if (names.every((n) => headers[n] === undefined)) return undefined;
  const r = blobClaimHeadersSchema.safeParse(headers);
  if (!r.success) {
    const i = r.error.issues[0]!;
    return {
      error: `header ${String(i.path[0])}: ${headers[String(i.path[0])] === undefined ? "missing" : i.message}`,
    };
  }
  const h = r.data;
  const [galois, relin] = h[BLOB_CLAIM_HEADERS.keys].split(":").map((k) => (k === "-" ? null : k)) as [
    string | null,
    string | null,
  ];
  return {
    requestId: h[BLOB_CLAIM_HEADERS.requestId],
    keys: { galois, relin },
    claim: { expiry: Number(h[BLOB_CLAIM_HEADERS.expiry]), signature: h[BLOB_CLAIM_HEADERS.signature] },
  };
}

/** POST /v1/sessions */
export const openSessionSchema = z.discriminatedUnion("mode", [
  z.strictObject({
    brainId: z.number().int().min(0).max(1023),
    mode: z.literal("encrypted"),
    paramSet: paramSetSchema,
    keys: sessionKeysSchema,
    /**
     * The ComputeMarket escrow this session's work is paid from. Absent: a free session, refused
     * unless the gateway runs with `--free-sessions` (devnet).
     */
    requestId: requestIdSchema.optional(),
    /** With `requestId`: the signed claim on it (required). */
    claim: sessionClaimSchema.optional(),
  }),
  z.strictObject({
    brainId: z.number().int().min(0).max(1023),
    mode: z.literal("plain"),
    requestId: requestIdSchema.optional(),
    claim: sessionClaimSchema.optional(),
  }),
]);
export type OpenSession = z.infer<typeof openSessionSchema>;

export const sessionViewSchema = z.object({
  sessionId: sessionIdSchema,
  brainId: z.number().int(),
  mode: inferenceModeSchema,
  /** The miner the session sticks to now. */
  miner: checksummedAddressSchema,
  /** Unix ms after which an idle session and its blobs are dropped. */
  expiresAt: z.number().int(),
  requestId: requestIdSchema.nullable(),
  /**
   * Compute units (a unit is one token row through the whole plan, bucket padding included),
   * counted by the gateway from the completed jobs (compute/gateway/units.ts): `prompt` as
   * ComputeMarket charges it (the escrow's), `completion` the rows beyond it — rows = Σ jobs ×
   * bucket rows of the step that carried the most. Plain jobs: tokens returned.
   */
  units: z.object({ prompt: z.number().int(), completion: z.number().int() }),
  state: z.enum(["open", "closed"]),
});
export type SessionView = z.infer<typeof sessionViewSchema>;

/** POST /v1/sessions/:id/jobs */
export const submitJobSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("linear"),
    step: stepIdSchema,
    inputs: z.array(bytesSchema).min(1).max(LIMITS.maxJobInputs),
  }),
  z.strictObject({
    kind: z.literal("generate"),
    /** Prompt token ids. */
    tokens: z.array(z.number().int().min(0).max(0xffffffff)).min(1).max(LIMITS.maxPlainTokens),
    maxTokens: z.number().int().min(1).max(1024),
  }),
]);
export type SubmitJob = z.infer<typeof submitJobSchema>;

export const jobStateSchema = z.enum(["queued", "active", "completed", "failed"]);
export type JobState = z.infer<typeof jobStateSchema>;

/** GET /v1/jobs/:id (also each `state` event of GET /v1/jobs/:id/events) */
export const jobViewSchema = z.object({
  jobId: jobIdSchema,
  sessionId: sessionIdSchema,
  state: jobStateSchema,
  miner: checksummedAddressSchema.nullable(),
  attempts: z.number().int(),
  result: z
    .object({
      /** Output ciphertexts (linear) or one blob of u32 token ids (generate): base64 in JSON, bytes in frames. */
      outputs: z.array(bytesSchema),
      outputHash: lowercaseBytes32Schema,
      /** The job the miner was given (`jobHash`), as its Delivery signs it. */
      jobHash: lowercaseBytes32Schema,
      /** The miner's EIP-712 Delivery signature over (brainId, jobHash, outputHash). */
      signature: signatureSchema,
      miner: checksummedAddressSchema,
    })
    .nullable(),
  error: z.string().nullable(),
});
export type JobView = z.infer<typeof jobViewSchema>;

/** POST /v1/sessions/:id/close: what the gateway settled. */
export const closeSessionResultSchema = z.object({
  sessionId: sessionIdSchema,
  units: z.object({ prompt: z.number().int(), completion: z.number().int() }),
  /** The settlement transaction, when the session had an escrow. */
  settlement: z
    .object({
      requestId: requestIdSchema,
      txHash: lowercaseBytes32Schema.nullable(),
      error: z.string().nullable(),
      /** True when no job completed and the gateway refunded the whole escrow (txHash: the refund). */
      refunded: z.boolean().optional(),
    })
    .nullable(),
});
export type CloseSessionResult = z.infer<typeof closeSessionResultSchema>;

/** The body of every error response. */
export const errorBodySchema = z.object({ error: z.string(), message: z.string() });

// ---------------------------------------------------------------------------------------------
// Miners

/** POST /v1/miner/work: long-poll for the next job of this miner. 204 when none came in time. */
export const pollWorkSchema = z.strictObject({
  waitMs: z.number().int().min(0).max(LIMITS.maxWaitMs).default(20_000),
});

/**
 * What a miner is given for one job. It names no ComputeMarket request and no account: the
 * session id is random (it only groups a session's jobs, whose keys the miner caches), so a
 * canary and a paid prompt look alike. The miner's Delivery binds `jobHash(jobId, job)`.
 */
export const workItemSchema = z.object({
  jobId: jobIdSchema,
  /** Proves this miner holds the job; results and releases must carry it. */
  lockToken: z.string().min(8).max(128),
  sessionId: sessionIdSchema,
  job: z.discriminatedUnion("kind", [
    z.object({
      kind: z.literal("linear"),
      step: stepIdSchema,
      paramSet: paramSetSchema,
      keys: sessionKeysSchema,
      inputs: z.array(bytesSchema),
    }),
    z.object({
      kind: z.literal("generate"),
      tokens: z.array(z.number().int().min(0).max(0xffffffff)),
      maxTokens: z.number().int().min(0).max(0xffffffff),
    }),
  ]),
});
export type WorkItem = z.infer<typeof workItemSchema>;
/** The work of a job, as a miner receives it. */
export type WorkJob = WorkItem["job"];

/** POST /v1/miner/jobs/:id/result */
export const postResultSchema = z.strictObject({
  lockToken: z.string().min(8).max(128),
  outputs: z.array(bytesSchema).max(LIMITS.maxJobInputs * 4),
  outputHash: lowercaseBytes32Schema,
  signature: signatureSchema,
});
export type PostResult = z.infer<typeof postResultSchema>;

/** POST /v1/miner/jobs/:id/release: give a job back (shutdown, or it cannot run it). */
export const releaseJobSchema = z.strictObject({
  lockToken: z.string().min(8).max(128),
  reason: z.string().max(500),
});

// ---------------------------------------------------------------------------------------------
// Validators

/** GET /v1/validator/samples?limit=N: recently completed jobs to replay. */
export const sampleSchema = z.object({
  jobId: jobIdSchema,
  miner: checksummedAddressSchema,
  step: stepIdSchema,
  paramSet: paramSetSchema,
  keys: sessionKeysSchema,
  inputs: z.array(base64Schema),
  outputHash: lowercaseBytes32Schema,
  latencyMs: z.number(),
  completedAt: z.number().int(),
});
export type Sample = z.infer<typeof sampleSchema>;

/** GET /v1/validator/miners: what the gateway saw of each miner. */
export const minerStatsSchema = z.object({
  address: checksummedAddressSchema,
  /** Unix ms of its last poll. */
  lastSeen: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  /** Jobs taken back from it because its lock expired (it stalled or died). */
  stalled: z.number().int(),
  p50LatencyMs: z.number().nullable(),
});
export type MinerStats = z.infer<typeof minerStatsSchema>;

// ---------------------------------------------------------------------------------------------
// Signed requests (miners and validators)

export const SIGNATURE_HEADERS = {
  address: "x-based-address",
  nonce: "x-based-nonce",
  expiry: "x-based-expiry",
  signature: "x-based-signature",
} as const;

/** Who a gateway is: signatures name it so they cannot be replayed at another Brain or chain. */
export type GatewayDomain = { chainId: number; network: Address; brainId: number };

export type SignedRequestFields = {
  method: string;
  /** Path with query string, as sent (e.g. `/v1/validator/samples?limit=5`). */
  path: string;
  /** sha256 (hex) of the raw body; of the empty string when there is none. */
  bodySha256: string;
  nonce: string;
  /** Unix seconds. */
  expiry: number;
};

export const nonceSchema = z
  .string()
  .regex(/^[0-9a-f]{16,64}$/, "expected a nonce of 16–64 lowercase hex characters");

/** The EIP-191 message a miner or validator signs for one request. */
export function signedRequestMessage(domain: GatewayDomain, f: SignedRequestFields): string {
  return [
    "BasedAI gateway request",
    `chain: ${domain.chainId}`,
    `network: ${getAddress(domain.network)}`,
    `brain: ${domain.brainId}`,
    `method: ${f.method.toUpperCase()}`,
    `path: ${f.path}`,
    `body: ${f.bodySha256}`,
    `nonce: ${f.nonce}`,
    `expiry: ${f.expiry}`,
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Deliveries (ComputeMarket's EIP-712 domain)

/**
 * `Delivery(uint256 brainId, bytes32 jobHash, bytes32 resultHash)`: a miner of Brain `brainId`
 * says it was given the job `jobHash` (`jobHash` below, over its work item) and returned outputs
 * hashing to `resultHash` (`outputsHash`). It names no request: the gateway settles a session's
 * request with the delivery of that session's last job (ComputeMarket.settle takes the request
 * id, the job hash, the result hash and this signature), and ComputeMarket lets a delivery pay
 * one request at most.
 */
export const DELIVERY_TYPES = {
  Delivery: [
    { name: "brainId", type: "uint256" },
    { name: "jobHash", type: "bytes32" },
    { name: "resultHash", type: "bytes32" },
  ],
} as const;

/** Domain separation of the two kinds of job in `jobHash`. */
const JOB_TAGS = {
  linear: keccak256(toHex("BasedAI gateway job: linear")),
  generate: keccak256(toHex("BasedAI gateway job: generate")),
} as const;
const LINEAR_JOB_FIELDS = parseAbiParameters(
  "bytes32 tag, string jobId, string step, string paramSet, string galois, string relin, bytes32 inputs",
);
const GENERATE_JOB_FIELDS = parseAbiParameters("bytes32 tag, string jobId, bytes tokens, uint32 maxTokens");

/**
 * The hash of a job, over exactly what a miner receives for it (a work item's `jobId` and `job`):
 * keccak256 of the ABI encoding of the kind's tag (domain separation), the job id, and
 *  - linear: the plan step, the parameter set, the Galois and relinearization key hashes ("" for
 *    none) and `outputsHash` over the decoded inputs;
 *  - generate: the prompt's token ids as `encodeTokens` bytes and `maxTokens`.
 * The job id is random (it names no account), and it makes every job's delivery distinct: two
 * plain sessions with the same prompt get the same greedy outputs, yet each must be able to settle
 * its own request. Pure: the miner computes it from the work item it got (it never takes one from
 * the gateway), the gateway from the job it queued.
 */
export async function jobHash(jobId: string, job: WorkJob): Promise<Hex> {
  if (job.kind === "linear") {
    return keccak256(
      encodeAbiParameters(LINEAR_JOB_FIELDS, [
        JOB_TAGS.linear,
        jobId,
        job.step,
        job.paramSet,
        job.keys.galois ?? "",
        job.keys.relin ?? "",
        await outputsHash(job.inputs.map(bytesOf)),
      ]),
    );
  }
  return keccak256(
    encodeAbiParameters(GENERATE_JOB_FIELDS, [
      JOB_TAGS.generate,
      jobId,
      toHex(encodeTokens(job.tokens)),
      job.maxTokens,
    ]),
  );
}

export function deliveryDomain(chainId: number, computeMarket: Address) {
  return { name: "BasedAI ComputeMarket", version: "1", chainId, verifyingContract: computeMarket } as const;
}

export const SESSION_CLAIM_TYPES = {
  SessionClaim: [
    { name: "requestId", type: "uint256" },
    { name: "brainId", type: "uint256" },
    { name: "keys", type: "bytes32" },
    { name: "expiry", type: "uint64" },
  ],
} as const;

/**
 * What a session's evaluation keys hash to in a claim: keccak256 of "<mode>:<galois>:<relin>"
 * ("-" for a key the plan does not need; a plain session: "plain:-:-"). A claim names the keys so
 * that one seen in transit opens no session with other keys.
 */
export function sessionKeysDigest(mode: "encrypted" | "plain", keys?: SessionKeys): Hex {
  return keccak256(toHex(`${mode}:${keys?.galois ?? "-"}:${keys?.relin ?? "-"}`));
}

/**
 * The EIP-712 typed data of a session claim, in ComputeMarket's domain (as Delivery): sign it
 * with the request's account (or an app it authorized), e.g. `walletClient.signTypedData(…)`.
 */
export type SessionClaimFields = {
  requestId: string;
  brainId: number;
  mode: "encrypted" | "plain";
  /** The session's evaluation keys (encrypted sessions). */
  keys?: SessionKeys;
  /** Unix seconds. */
  expiry: number;
};

export function sessionClaimTypedData(chainId: number, computeMarket: Address, c: SessionClaimFields) {
  return {
    domain: deliveryDomain(chainId, computeMarket),
    types: SESSION_CLAIM_TYPES,
    primaryType: "SessionClaim",
    message: {
      requestId: BigInt(c.requestId),
      brainId: BigInt(c.brainId),
      keys: sessionKeysDigest(c.mode, c.keys),
      expiry: BigInt(c.expiry),
    },
  } as const;
}

/** The Delivery a miner of Brain `brainId` signs for job `jobHash` and result `resultHash`. */
export function deliveryMessage(brainId: number, jobHash: Hex, resultHash: Hex) {
  return { brainId: BigInt(brainId), jobHash, resultHash } as const;
}

/** A random hex id (nonces, lock tokens). */
export function randomHex(bytes = 16): string {
  return toHex(crypto.getRandomValues(new Uint8Array(bytes))).slice(2);
}

// ---------------------------------------------------------------------------------------------
// Member leases: sign once, then MAC each request (docs/gateway.md "Signed requests")

/**
 * A miner or validator takes a lease with one signed request (`POST /v1/members/lease`, signed as
 * above) and then authenticates each request with an HMAC-SHA256 under the lease's secret over the
 * same `signedRequestMessage` (method, path, body hash, nonce, expiry, domain), sent with the
 * lease id, the nonce and the expiry: no signature to recover per request.
 */
export const LEASE_HEADERS = {
  lease: "x-based-lease",
  mac: "x-based-mac",
  /** The same nonce and expiry headers as a signed request's. */
  nonce: SIGNATURE_HEADERS.nonce,
  expiry: SIGNATURE_HEADERS.expiry,
} as const;

export const LEASE_LIMITS = {
  /** How long a lease lives after it is taken. */
  leaseLifetimeS: 600,
  /** A client takes a new lease when its current one has less than this left. */
  leaseRenewBeforeS: 60,
} as const;

export const leaseIdSchema = z
  .string()
  .regex(/^[0-9a-f]{32}$/, "expected a lease id of 32 lowercase hex characters");
/** A lease's secret: 32 random bytes, lowercase hex; the HMAC key is those bytes. */
export const leaseSecretSchema = z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex characters");
export const leaseMacSchema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, "expected an HMAC-SHA256 of 64 lowercase hex characters");
export const memberRoleSchema = z.enum(["miner", "validator"]);

/** The lease route's body: nothing to say (the signature names the member). */
export const takeLeaseSchema = z.strictObject({});

export const leaseSchema = z.object({
  leaseId: leaseIdSchema,
  secret: leaseSecretSchema.describe("the HMAC-SHA256 key (hex of 32 bytes); keep it like a private key"),
  expiresAt: z.number().int().describe("unix seconds"),
  roles: z.array(memberRoleSchema).min(1).describe("the roles the lease admits"),
});
export type Lease = z.infer<typeof leaseSchema>;

/** A lease's secret imported as an HMAC-SHA256 key (WebCrypto). */
export type LeaseKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

/** Imports a lease's secret for `leaseMacWith`. */
export function leaseKey(secret: string): Promise<LeaseKey> {
  return crypto.subtle.importKey(
    "raw",
    Uint8Array.from(secret.match(/../g) ?? [], (b) => parseInt(b, 16)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

/** The MAC of a leased request: HMAC-SHA256 keyed by the secret's bytes over `message`, lowercase hex. */
export async function leaseMac(secret: string, message: string): Promise<string> {
  return leaseMacWith(await leaseKey(secret), message);
}

/** `leaseMac` with a key already imported (a client imports its lease's key once). */
export async function leaseMacWith(key: LeaseKey, message: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(message));
  return Array.from(new Uint8Array(mac), (b) => b.toString(16).padStart(2, "0")).join("");
}

// ---------------------------------------------------------------------------------------------
// Framed binary bodies (docs/gateway.md "Binary bodies")

/**
 * The content type of a framed body: ciphertexts travel as raw bytes instead of base64 in JSON.
 * Layout (all integers u32 little-endian):
 *
 *     headerLength, header (UTF-8 JSON), frameCount, then per frame: length, bytes
 *
 * The header is the message as JSON with each byte string replaced by `{"$frame": i}` (i: the
 * index of its frame); the decoder puts the frame's bytes (a `Uint8Array`) in its place, so the
 * result is validated by the same zod schemas as a JSON body (`bytesSchema` takes either). Every
 * frame is referenced exactly once.
 */
export const FRAMES_CONTENT_TYPE = "application/vnd.based.frames";

/** What a framed body may hold; the decoder refuses anything beyond before it copies a byte. */
export const FRAME_LIMITS = {
  /** The whole body: the largest result (outputs of `LIMITS.maxJobInputs * 4` ciphertexts) and room. */
  maxBodyBytes: 4 * LIMITS.maxJobBytes + 64 * 1024,
  /** The JSON header. */
  maxHeaderBytes: 64 * 1024,
  /** Frames in one body (a result's outputs at most). */
  maxFrames: LIMITS.maxJobInputs * 4,
  /** One frame. */
  maxFrameBytes: LIMITS.maxJobBytes,
} as const;

export type FrameLimits = { [K in keyof typeof FRAME_LIMITS]: number };

/** A framed body that cannot be decoded; `message` says where and why. */
export class FrameError extends Error {
  override readonly name = "FrameError";
}

/** Replaces each Uint8Array in `value` by a frame reference, collecting the bytes in `frames`. */
function toHeader(value: unknown, frames: Uint8Array[]): unknown {
  if (value instanceof Uint8Array) {
    frames.push(value);
    return { $frame: frames.length - 1 };
  }
  if (Array.isArray(value)) return value.map((v) => toHeader(v, frames));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toHeader(v, frames);
    return out;
  }
  return value;
}

/** Encodes `message` (any JSON value whose byte strings are Uint8Arrays) as a framed body. */
export function encodeFrames(message: unknown): Uint8Array {
  const frames: Uint8Array[] = [];
  const header = new TextEncoder().encode(JSON.stringify(toHeader(message, frames)));
  const size = 8 + header.length + frames.reduce((a, f) => a + 4 + f.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, header.length, true);
  out.set(header, 4);
  let at = 4 + header.length;
  view.setUint32(at, frames.length, true);
  at += 4;
  for (const f of frames) {
    view.setUint32(at, f.length, true);
    out.set(f, at + 4);
    at += 4 + f.length;
  }
  return out;
}

/**
 * Decodes a framed body into the message it carries (frames as Uint8Array views of `body`, not
 * copies). Throws `FrameError` on a truncated body, a length over `limits`, trailing bytes, a
 * header that is not JSON, or a frame reference that is missing, repeated or out of range.
 */
export function decodeFrames(body: Uint8Array, limits: FrameLimits = FRAME_LIMITS): unknown {
  if (body.length > limits.maxBodyBytes) {
    throw new FrameError(`the framed body has ${body.length} bytes; at most ${limits.maxBodyBytes}`);
  }
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const u32 = (at: number, what: string): number => {
    if (at + 4 > body.length) {
      throw new FrameError(`the framed body is truncated: ${what} at byte ${at} of ${body.length}`);
    }
    return view.getUint32(at, true);
  };
  const headerLength = u32(0, "the header length");
  if (headerLength > limits.maxHeaderBytes) {
    throw new FrameError(`the header has ${headerLength} bytes; at most ${limits.maxHeaderBytes}`);
  }
  if (4 + headerLength > body.length) {
    throw new FrameError(
      `the framed body is truncated: a ${headerLength}-byte header in ${body.length} bytes`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body.subarray(4, 4 + headerLength)));
  } catch (err) {
    throw new FrameError(`the header is not UTF-8 JSON: ${(err as Error).message}`);
  }
  let at = 4 + headerLength;
  const count = u32(at, "the frame count");
  if (count > limits.maxFrames)
    throw new FrameError(`the body has ${count} frames; at most ${limits.maxFrames}`);
  at += 4;
  const frames: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const length = u32(at, `frame ${i}'s length`);
    if (length > limits.maxFrameBytes) {
      throw new FrameError(`frame ${i} has ${length} bytes; at most ${limits.maxFrameBytes}`);
    }
    if (at + 4 + length > body.length) {
      throw new FrameError(
        `the framed body is truncated: frame ${i} needs ${length} bytes at byte ${at + 4} of ${body.length}`,
      );
    }
    frames.push(body.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  if (at !== body.length) throw new FrameError(`${body.length - at} bytes follow the last frame`);
  const used = new Array<boolean>(count).fill(false);
  const fromHeader = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(fromHeader);
    if (value !== null && typeof value === "object") {
      const o = value as Record<string, unknown>;
      if ("$frame" in o) {
        const i = o.$frame;
        if (
          Object.keys(o).length !== 1 ||
          typeof i !== "number" ||
          !Number.isInteger(i) ||
          i < 0 ||
          i >= count
        ) {
          throw new FrameError(
            `the header refers to frame ${JSON.stringify(i)}; the body has frames 0 to ${count - 1}`,
          );
        }
        if (used[i]) throw new FrameError(`the header refers to frame ${i} twice`);
        used[i] = true;
        return frames[i];
      }
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(o)) out[k] = fromHeader(v);
      return out;
    }
    return value;
  };
  const message = fromHeader(header);
  const unused = used.indexOf(false);
  if (unused >= 0) throw new FrameError(`frame ${unused} is not referred to by the header`);
  return message;
}

/** Whether an Accept (or Content-Type) header names the framed content type. */
export function wantsFrames(header: string | string[] | undefined): boolean {
  const h = Array.isArray(header) ? header.join(",") : header;
  return h !== undefined && h.toLowerCase().includes(FRAMES_CONTENT_TYPE);
}
