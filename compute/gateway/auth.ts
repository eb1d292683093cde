/**
 * Signed requests of miners and validators (protocol.ts `signedRequestMessage`): EIP-191 over the
 * gateway's domain, method, path, body hash, a single-use nonce and an expiry. A request passes
 * when the signature recovers to the address it names, the expiry lies ahead (and not too far),
 * the signer is a member of the Brain in the wanted role, and the nonce was never seen before.
 */
import { type Address, type Hex, recoverMessageAddress } from "viem";
import { z } from "zod";
import { errorLine } from "../../sdk/errors";
import {
  type GatewayDomain,
  LIMITS,
  SIGNATURE_HEADERS,
  nonceSchema,
  signatureSchema,
  signedRequestMessage,
} from "../../protocol/gateway";
import { sha256Hex } from "../../protocol/hash";
import { checksummedAddressSchema } from "../../protocol/schemas";
import { GatewayRefusal } from "./errors";

export type MemberRole = "miner" | "validator";

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
  const nowS = Math.floor((c.nowMs ?? Date.now()) / 1000);
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
  let role: MemberRole | undefined;
  try {
    for (const r of c.roles) {
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
    const wanted = c.roles.join(" or ");
    throw new GatewayRefusal(
      403,
      "NotMember",
      `${address} is not a registered ${wanted} of Brain #${c.domain.brainId} in the Network contract; register first (\`based miner start --brain ${c.domain.brainId}\` or \`based validator start --brain ${c.domain.brainId}\` do it)`,
    );
  }
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
