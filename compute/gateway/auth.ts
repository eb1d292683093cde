/**
 * Signed requests of miners and validators (protocol.ts `signedRequestMessage`): EIP-191 over the
 * gateway's domain, method, path, body hash, a single-use nonce and an expiry. A request passes
 * when the signature recovers to the address it names, the expiry lies ahead (and not too far),
 * the signer is a member of the Brain in the wanted role, and the nonce was never seen before.
 * Leased requests (a signature once per lease, then an HMAC per request) are checked the same way,
 * with the lease's secret in place of the key.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { type Address, type Hex, recoverMessageAddress } from "viem";
import { z } from "zod";
import { errorLine } from "../../sdk/errors";
import {
  API_PREFIX,
  type GatewayDomain,
  LEASE_HEADERS,
  LIMITS,
  SIGNATURE_HEADERS,
  leaseIdSchema,
  leaseMacSchema,
  nonceSchema,
  signatureSchema,
  signedRequestMessage,
} from "../../protocol/gateway";
import { sha256Hex } from "../../protocol/hash";
import { checksummedAddressSchema } from "../../protocol/schemas";
import { GatewayRefusal } from "./errors";

export type MemberRole = "miner" | "validator";

/**
 * What this process's gateways spent on authentication: signatures recovered (EIP-191, ~1.4 ms of
 * CPU each) and lease MACs checked (microseconds). Tests read it to see that leased requests
 * recover no signature.
 */
export const authCounters = { signatureRecoveries: 0, leaseMacs: 0 };

export type SignedRequestCheck = {
  domain: GatewayDomain;
  method: string;
  /** Path with query string, as received. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The raw body; undefined or empty when there was none. */
  body: Uint8Array | undefined;
  /** Roles any one of which admits the signer. */
  roles: readonly MemberRole[];
  isMember(address: Address, role: MemberRole): Promise<boolean>;
  /** Records the nonce; false when it was used before. */
  claimNonce(address: Address, nonce: string, ttlMs: number): Promise<boolean>;
  nowMs?: number;
};

const headersSchema = z.object({
  [SIGNATURE_HEADERS.address]: checksummedAddressSchema,
  [SIGNATURE_HEADERS.nonce]: nonceSchema,
  [SIGNATURE_HEADERS.expiry]: z
    .string()
    .regex(/^[0-9]{1,12}$/, "expected unix seconds")
    .transform(Number),
  [SIGNATURE_HEADERS.signature]: signatureSchema,
});

const single = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** Refuses an expiry that has passed or lies too far ahead; returns now in unix seconds. */
function checkExpiry(expiry: number, nowMs: number | undefined): number {
  const nowS = Math.floor((nowMs ?? Date.now()) / 1000);
  if (expiry <= nowS) {
    throw new GatewayRefusal(
      401,
      "SignatureExpired",
      `the request's signature expired at ${expiry} (now ${nowS}); sign each request afresh and check this machine's clock`,
    );
  }
  if (expiry > nowS + LIMITS.maxSignatureLifetimeS) {
    throw new GatewayRefusal(
      401,
      "SignatureExpiryTooFar",
      `the request's expiry lies ${expiry - nowS} s ahead; at most ${LIMITS.maxSignatureLifetimeS} s is accepted`,
    );
  }
  return nowS;
}

/** The first of `roles` in which `address` is a member (503 when that cannot be read, 403 when none). */
async function memberRole(
  c: Pick<SignedRequestCheck, "domain" | "isMember">,
  address: Address,
  roles: readonly MemberRole[],
): Promise<MemberRole> {
  let role: MemberRole | undefined;
  try {
    for (const r of roles) {
      if (await c.isMember(address, r)) {
        role = r;
        break;
      }
    }
  } catch (err) {
    throw new GatewayRefusal(
      503,
      "MembershipUnavailable",
      `could not check ${address}'s membership of Brain #${c.domain.brainId} (${errorLine(err)}); retry shortly`,
    );
  }
  if (!role) {
    const wanted = roles.join(" or ");
    throw new GatewayRefusal(
      403,
      "NotMember",
      `${address} is not a registered ${wanted} of Brain #${c.domain.brainId} in the Network contract; register first (\`based miner start --brain ${c.domain.brainId}\` or \`based validator start --brain ${c.domain.brainId}\` do it)`,
    );
  }
  return role;
}

/** What can be checked of a signed request before its body is read. */
export type SignedHeadersCheck = Pick<
  SignedRequestCheck,
  "domain" | "headers" | "roles" | "isMember" | "nowMs"
>;

/**
 * The checks that need no body: the signature headers are there and well formed, the expiry is
 * near, and the address they name is a member in a wanted role. A gateway runs them before it
 * reads a body, so a stranger cannot make it read (and parse) a large one; the signature itself,
 * which covers the body's hash, is checked after (`verifySignedRequest`).
 */
export async function checkSignedHeaders(c: SignedHeadersCheck): Promise<{
  address: Address;
  role: MemberRole;
  nonce: string;
  expiry: number;
  signature: string;
  nowS: number;
}> {
  const raw = Object.fromEntries(Object.values(SIGNATURE_HEADERS).map((h) => [h, single(c.headers[h])]));
  if (Object.values(raw).some((v) => v === undefined)) {
    throw new GatewayRefusal(
      401,
      "SignatureMissing",
      `this route is for the Brain's miners and validators: sign the request with the headers ${Object.values(SIGNATURE_HEADERS).join(", ")} (GatewayClient does it when given a signer)`,
    );
  }
  const parsed = headersSchema.safeParse(raw);
  if (!parsed.success) {
    throw new GatewayRefusal(
      401,
      "SignatureMalformed",
      `malformed signature headers: ${z.prettifyError(parsed.error)}`,
    );
  }
  const h = parsed.data;
  const address = h[SIGNATURE_HEADERS.address];
  const expiry = h[SIGNATURE_HEADERS.expiry];
  const nowS = checkExpiry(expiry, c.nowMs);
  const role = await memberRole(c, address, c.roles);
  return {
    address,
    role,
    nonce: h[SIGNATURE_HEADERS.nonce],
    expiry,
    signature: h[SIGNATURE_HEADERS.signature],
    nowS,
  };
}

/** Checks a signed request; returns the member's address or throws a `GatewayRefusal`. */
export async function verifySignedRequest(
  c: SignedRequestCheck,
): Promise<{ address: Address; role: MemberRole }> {
  const { address, role, nonce, expiry, signature, nowS } = await checkSignedHeaders(c);
  const message = signedRequestMessage(c.domain, {
    method: c.method,
    path: c.path,
    bodySha256: sha256Hex(c.body ?? new Uint8Array()),
    nonce,
    expiry,
  });
  let signer: Address;
  authCounters.signatureRecoveries++;
  try {
    signer = await recoverMessageAddress({ message, signature: signature as Hex });
  } catch {
    signer = "0x0000000000000000000000000000000000000000";
  }
  if (signer !== address) {
    throw new GatewayRefusal(
      401,
      "BadSignature",
      `the signature is not ${address}'s over this request (method, path, body, nonce, expiry and this gateway's chain ${c.domain.chainId}, Network ${c.domain.network}, Brain #${c.domain.brainId}); sign exactly what is sent`,
    );
  }

  // Last, so that refused requests do not burn nonces; kept until the expiry has passed.
  const ttlMs = (expiry - nowS + 1) * 1000;
  if (!(await c.claimNonce(address, nonce, ttlMs))) {
    throw new GatewayRefusal(
      409,
      "NonceReplayed",
      `nonce ${nonce} of ${address} was already used; every signed request needs a fresh nonce`,
    );
  }
  return { address, role };
}

// -- leases -----------------------------------------------------------------------------------

/** A lease as the gateway keeps it (Redis, `lease:<id>`). */
export type StoredLease = { address: Address; roles: MemberRole[]; secret: string; expiresAt: number };

export type LeasedHeadersCheck = SignedHeadersCheck & {
  getLease(leaseId: string): Promise<StoredLease | undefined>;
};

const leaseHeadersSchema = z.object({
  [LEASE_HEADERS.lease]: leaseIdSchema,
  [LEASE_HEADERS.mac]: leaseMacSchema,
  [LEASE_HEADERS.nonce]: nonceSchema,
  [LEASE_HEADERS.expiry]: z
    .string()
    .regex(/^[0-9]{1,12}$/, "expected unix seconds")
    .transform(Number),
});

/** Whether a request names a lease (then it is checked as a leased request, not a signed one). */
export const isLeased = (headers: Record<string, string | string[] | undefined>) =>
  headers[LEASE_HEADERS.lease] !== undefined;

export type LeasedHeaders = {
  address: Address;
  role: MemberRole;
  secret: string;
  nonce: string;
  expiry: number;
  mac: string;
  nowS: number;
};

/**
 * The checks of a leased request that need no body (run before it is read, like
 * `checkSignedHeaders`): the headers are well formed, the expiry near, the lease known and live,
 * it admits one of the route's roles, and its address is still a member in that role (the
 * membership answer is as fresh as `isMember`'s: a member pruned mid-lease is refused).
 */
export async function checkLeasedHeaders(c: LeasedHeadersCheck): Promise<LeasedHeaders> {
  const names = [LEASE_HEADERS.lease, LEASE_HEADERS.mac, LEASE_HEADERS.nonce, LEASE_HEADERS.expiry];
  const raw = Object.fromEntries(names.map((h) => [h, single(c.headers[h])]));
  if (Object.values(raw).some((v) => v === undefined)) {
    throw new GatewayRefusal(
      401,
      "LeaseMalformed",
      `a leased request carries all of ${names.join(", ")} (GatewayClient does it when given a signer)`,
    );
  }
  const parsed = leaseHeadersSchema.safeParse(raw);
  if (!parsed.success) {
    throw new GatewayRefusal(
      401,
      "LeaseMalformed",
      `malformed lease headers: ${z.prettifyError(parsed.error)}`,
    );
  }
  const h = parsed.data;
  const expiry = h[LEASE_HEADERS.expiry];
  const nowS = checkExpiry(expiry, c.nowMs);
  const leaseId = h[LEASE_HEADERS.lease];
  const lease = await c.getLease(leaseId);
  if (!lease) {
    throw new GatewayRefusal(
      401,
      "LeaseUnknown",
      `this gateway holds no lease ${leaseId} (expired long ago, or never taken here): take one with a signed POST ${API_PREFIX}/members/lease`,
    );
  }
  if (lease.expiresAt <= nowS) {
    throw new GatewayRefusal(
      401,
      "LeaseExpired",
      `lease ${leaseId} expired at ${lease.expiresAt} (now ${nowS}): take a new one with a signed POST ${API_PREFIX}/members/lease`,
    );
  }
  const named = single(c.headers[SIGNATURE_HEADERS.address]);
  if (named !== undefined && named.toLowerCase() !== lease.address.toLowerCase()) {
    throw new GatewayRefusal(
      401,
      "LeaseNotYours",
      `lease ${leaseId} is not ${named}'s; use your own (take one with a signed POST ${API_PREFIX}/members/lease)`,
    );
  }
  const roles = c.roles.filter((r) => lease.roles.includes(r));
  if (roles.length === 0) {
    // Not a lease for this route: a member of another role (403, as a signed request would be), or
    // one whose role changed since it took the lease (401: take a new one).
    const now = await memberRole(c, lease.address, c.roles);
    throw new GatewayRefusal(
      401,
      "LeaseStale",
      `lease ${leaseId} was taken as a ${lease.roles.join(" and ")}; ${lease.address} is now a ${now}: take a new lease with a signed POST ${API_PREFIX}/members/lease`,
    );
  }
  const role = await memberRole(c, lease.address, roles);
  return {
    address: lease.address,
    role,
    secret: lease.secret,
    nonce: h[LEASE_HEADERS.nonce],
    expiry,
    mac: h[LEASE_HEADERS.mac],
    nowS,
  };
}

/**
 * Checks a leased request's MAC over its body (and spends its nonce), given what
 * `checkLeasedHeaders` found before the body was read: HMAC-SHA256 under the lease's secret over
 * `signedRequestMessage`, compared in constant time.
 */
export async function verifyLeasedRequest(
  c: Pick<SignedRequestCheck, "domain" | "method" | "path" | "body" | "claimNonce">,
  h: LeasedHeaders,
): Promise<{ address: Address; role: MemberRole }> {
  const message = signedRequestMessage(c.domain, {
    method: c.method,
    path: c.path,
    bodySha256: sha256Hex(c.body ?? new Uint8Array()),
    nonce: h.nonce,
    expiry: h.expiry,
  });
  authCounters.leaseMacs++;
  const expected = createHmac("sha256", Buffer.from(h.secret, "hex")).update(message).digest();
  const got = Buffer.from(h.mac, "hex");
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
    throw new GatewayRefusal(
      401,
      "BadMac",
      `the MAC is not of this request (method, path, body, nonce, expiry and this gateway's chain ${c.domain.chainId}, Network ${c.domain.network}, Brain #${c.domain.brainId}) under the lease's secret; MAC exactly what is sent`,
    );
  }
  const ttlMs = (h.expiry - h.nowS + 1) * 1000;
  if (!(await c.claimNonce(h.address, h.nonce, ttlMs))) {
    throw new GatewayRefusal(
      409,
      "NonceReplayed",
      `nonce ${h.nonce} of ${h.address} was already used; every request needs a fresh nonce`,
    );
  }
  return { address: h.address, role: h.role };
}
