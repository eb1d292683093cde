/**
 * Member leases in Redis (docs/gateway.md "Signed requests"): a miner or validator signs one
 * request for a lease and MACs the rest with its secret. Leases live under the gateway's prefix
 * (`<prefix>:gw:<brainId>:lease:<id>`), so every replica of a gateway on one Redis honours a lease
 * any of them gave. A key outlives its lease by `GRACE_MS`, so that a lease used just after it ran
 * out is refused as expired (renew it) rather than unknown.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";
import { type Lease, LEASE_LIMITS, leaseSecretSchema, memberRoleSchema } from "../../protocol/gateway";
import { checksummedAddressSchema } from "../../protocol/schemas";
import type { MemberRole, StoredLease } from "./auth";
import type { Address } from "viem";

const GRACE_MS = 120_000;

const storedSchema = z.object({
  address: checksummedAddressSchema,
  roles: z.array(memberRoleSchema).min(1),
  secret: leaseSecretSchema,
  expiresAt: z.number().int(),
});

export class LeaseStore {
  constructor(
    private readonly redis: Redis,
    /** The gateway store's key base, `<prefix>:gw:<brainId>`. */
    private readonly base: string,
    private readonly lifetimeS: number = LEASE_LIMITS.leaseLifetimeS,
  ) {}

  key = (leaseId: string) => `${this.base}:lease:${leaseId}`;

  /** A new lease of `address` in `roles`: a random id and a random 256-bit secret. */
  async issue(address: Address, roles: MemberRole[], nowMs = Date.now()): Promise<Lease> {
    const lease: Lease = {
      leaseId: randomBytes(16).toString("hex"),
      secret: randomBytes(32).toString("hex"),
      expiresAt: Math.floor(nowMs / 1000) + this.lifetimeS,
      roles,
    };
    const stored: StoredLease = { address, roles, secret: lease.secret, expiresAt: lease.expiresAt };
    await this.redis.set(
      this.key(lease.leaseId),
      JSON.stringify(stored),
      "PX",
      this.lifetimeS * 1000 + GRACE_MS,
    );
    return lease;
  }

  /** The lease, or undefined when this Redis holds none of that id (or holds something else there). */
  async get(leaseId: string): Promise<StoredLease | undefined> {
    const raw = await this.redis.get(this.key(leaseId));
    if (raw === null) return undefined;
    try {
      const parsed = storedSchema.safeParse(JSON.parse(raw));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }
}
