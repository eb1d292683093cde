/**
 * A Brain's gateway service: `tsx compute/gateway/main.ts --brain <id> [--deployments <file>]
 * [--port 7200] [--host 127.0.0.1] [--redis-url redis://…] [--prefix based] [--lock-ms 60000]
 * [--miner-timeout-ms 45000] [--rate-limit 6000] [--free-sessions] [--trust-proxy <hops|cidrs>]
 * [--blob-dir <dir>]`, with the key that settles
 * payments in BASED_PRIVATE_KEY (the account ComputeMarket names as the Brain's gateway).
 * Membership comes from the Network contract on the BasedAI chain. Sessions must name a
 * ComputeMarket request claimed by its account (or an app it authorized); `--free-sessions`
 * (devnet) also serves sessions without one. Without a key, paid sessions are served but not
 * settled. Logs one JSON line "gateway ready" with its url once it listens.
 */
import type { Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import { DEFAULT_GATEWAY_PORT } from "../../protocol/gateway";
import { chainContext, basedDeployment } from "../../sdk/chain";
import { chainSettings } from "../../sdk/node/config";
import { getAppAllowance, getBrainGateway, getRequest, refundRequest, settleRequest } from "../../sdk/market";
import { getMembership } from "../../sdk/network";
import { type ServiceDefinition, serviceMain } from "../../service/shell";
import { type GatewayOptions, startGateway } from "./server";
import { BoundedMap } from "./bounded";

export const gatewayOptionsSchema = z.object({
  brain: z.coerce.number().int().min(0).max(1023),
  port: z.coerce.number().int().min(0).max(65535).default(DEFAULT_GATEWAY_PORT),
  host: z.string().min(1).default("127.0.0.1"),
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, "expected letters, digits, '_', '.' or '-'")
    .default("based"),
  lockMs: z.coerce.number().int().min(100).optional(),
  minerTimeoutMs: z.coerce.number().int().min(100).optional(),
  /** Client requests per IP per minute (all client routes together). */
  rateLimit: z.coerce.number().int().min(1).optional(),
  /** Serve sessions without a ComputeMarket request (devnet: validators' canaries, tests). */
  freeSessions: z.boolean().default(false),
  /** Proxies believed about X-Forwarded-For: a number of hops, or addresses and CIDR ranges. */
  trustProxy: z
    .string()
    .regex(
      /^(\d{1,2}|[0-9A-Fa-f.:/]+(,[0-9A-Fa-f.:/]+)*)$/,
      "expected a number of hops or a comma-separated list of addresses and CIDR ranges",
    )
    .optional(),
  /** Where blob files live (shared by the replicas on one host), or "redis". */
  blobDir: z.string().min(1).optional(),
  /** How long an uploaded blob is kept after its last use (seconds). */
  blobTtlS: z.coerce.number().int().min(60).max(86_400).optional(),
  /** `--free-sessions`: blob bytes one address may upload per blob lifetime (MiB). */
  freeBlobQuotaMib: z.coerce.number().int().min(1).max(1_048_576).optional(),
});

/** Membership answers are reused this long (every signed request asks). */
const MEMBER_CACHE_MS = 5_000;

export const gatewayService: ServiceDefinition<z.infer<typeof gatewayOptionsSchema>> = {
  name: "gateway",
  summary:
    "A Brain's gateway: the HTTP API of its clients, miners and validators, with the jobs queued in\nRedis; it settles each prompt's escrow with the miner's signed result.",
  flags: {
    brain: { type: "string", description: "the Brain it serves (0–1023)" },
    port: { type: "string", description: `HTTP port (default ${DEFAULT_GATEWAY_PORT})` },
    host: { type: "string", description: "interface to listen on (default 127.0.0.1)" },
    "redis-url": {
      type: "string",
      description: "Redis (default BASED_REDIS_URL, else redis://127.0.0.1:6379)",
    },
    prefix: { type: "string", description: "prefix of its Redis keys (default based)" },
    "lock-ms": { type: "string", description: "how long a miner holds a job before it moves on" },
    "miner-timeout-ms": { type: "string", description: "silence after which a miner counts as gone" },
    "rate-limit": { type: "string", description: "client requests per IP per minute" },
    "trust-proxy": {
      type: "string",
      description:
        "behind a load balancer: hops (a number) or proxy addresses/CIDR ranges (comma separated) whose X-Forwarded-For is believed (default: none)",
    },
    "blob-dir": {
      type: "string",
      description:
        "directory of uploaded blobs, shared by replicas on one host (default under the OS temp dir; `redis`: in Redis)",
    },
    "blob-ttl-s": {
      type: "string",
      description:
        "how long an uploaded blob (evaluation keys) is kept after its last use, in seconds (default 3600)",
    },
    "free-blob-quota-mib": {
      type: "string",
      description:
        "with --free-sessions: MiB of blobs one address may upload per blob lifetime (default 256); a devnet, where every client is 127.0.0.1, needs more",
    },
    "free-sessions": {
      type: "boolean",
      description: "also serve sessions without a ComputeMarket request (devnet only: nobody pays)",
    },
  },
  options: gatewayOptionsSchema,
  async run({ options: flags, config: shared, log: serviceLog, signal, setHealth }) {
    const log = serviceLog.child({ brain: flags.brain });
    const settings = chainSettings(shared);
    const based = basedDeployment(settings.deployments);
    const network = based.contracts.Network;
    const computeMarket = based.contracts.ComputeMarket as Address | undefined;
    // The key, when there is one, is the account that settles; reads go through the same context.
    const account = shared.privateKey ? privateKeyToAccount(shared.privateKey) : undefined;
    const ctx = chainContext(settings, "based", account);

    // Keyed by account, not (account, role): one chain read answers a check for either role.
    // Bounded: every signed request names an address, and strangers can name fresh ones.
    const cache = new BoundedMap<Address, { at: number; role: string }>(10_000);
    const isMember: GatewayOptions["isMember"] = async (account, role) => {
      const hit = cache.get(account);
      if (hit && Date.now() - hit.at < MEMBER_CACHE_MS) return hit.role === role;
      const { role: held } = await getMembership(ctx, flags.brain, account);
      cache.set(account, { at: Date.now(), role: held });
      return held === role;
    };

    const options: GatewayOptions = {
      host: flags.host,
      port: flags.port,
      brainId: flags.brain,
      redisUrl: shared.redisUrl,
      prefix: flags.prefix,
      domain: { chainId: based.chainId, network, brainId: flags.brain },
      isMember,
      logger: log,
      lockMs: flags.lockMs,
      minerTimeoutMs: flags.minerTimeoutMs,
      rateLimit: flags.rateLimit ? { max: flags.rateLimit, timeWindowMs: 60_000 } : undefined,
      freeSessions: flags.freeSessions,
      trustProxy:
        flags.trustProxy === undefined
          ? undefined
          : /^\d+$/.test(flags.trustProxy)
            ? Number(flags.trustProxy)
            : flags.trustProxy,
      blobDir: flags.blobDir,
      ...(flags.blobTtlS !== undefined ? { blobTtlMs: flags.blobTtlS * 1000 } : {}),
      ...(flags.freeBlobQuotaMib !== undefined ? { blobQuotaBytes: flags.freeBlobQuotaMib * 2 ** 20 } : {}),
    };
    if (flags.freeSessions) log.warn("--free-sessions: sessions without an escrow are served unpaid");

    if (computeMarket) {
      options.delivery = { chainId: based.chainId, computeMarket };
      options.escrowOf = async (requestId) => {
        const r = await getRequest(ctx, BigInt(requestId));
        return {
          brainId: r.brainId,
          open: r.status === "open",
          account: r.account,
          promptUnits: r.promptUnits,
          maxCompletionUnits: r.maxCompletionUnits,
        };
      };
      options.isApp = async (owner, app) => (await getAppAllowance(ctx, owner, app)) > 0n;
      if (account) {
        options.settle = async (s) => {
          const settled = await settleRequest(ctx, {
            requestId: BigInt(s.requestId),
            completionUnits: s.completionUnits,
            jobHash: s.jobHash,
            resultHash: s.resultHash,
            signature: s.signature,
          });
          log.info(
            {
              requestId: s.requestId,
              txHash: settled.txHash,
              miner: settled.miner,
              units: s.completionUnits,
            },
            "request settled",
          );
          return settled.txHash;
        };
        options.refund = async (s) => {
          const refunded = await refundRequest(ctx, BigInt(s.requestId));
          log.info(
            { requestId: s.requestId, txHash: refunded.txHash, amount: refunded.amount.toString() },
            "request refunded (no job completed)",
          );
          return refunded.txHash;
        };
        const named = await getBrainGateway(ctx, flags.brain).catch(() => undefined);
        if (named !== undefined && named !== account.address) {
          log.warn(
            { gateway: named, key: account.address },
            "ComputeMarket names another account as this Brain's gateway: settlements will be refused until the Brain's wallet names this key",
          );
        }
      } else {
        log.warn("BASED_PRIVATE_KEY is not set: sessions are served but their escrows are not settled");
      }
    } else {
      log.warn(
        "the deployments have no ComputeMarket: Delivery signatures are not checked, sessions naming a request are refused, and nothing is settled",
      );
    }

    const gateway = await startGateway(options);
    setHealth(() => ({ brainId: flags.brain }));
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    await gateway.close();
  },
};

if (require.main === module) serviceMain(gatewayService);
