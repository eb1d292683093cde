/**
 * Runs a Brain's gateway: `tsx compute/gateway/main.ts --deployments <file> --brain <id>
 * [--port 7200] [--host 127.0.0.1] [--redis-url redis://…] [--prefix based] [--lock-ms 60000]
 * [--miner-timeout-ms 45000] [--rate-limit 6000]`, with the key that settles payments in GATEWAY_PRIVATE_KEY (the
 * account ComputeMarket names as the Brain's gateway). Membership comes from the Network contract
 * on the BasedAI chain; without ComputeMarket or without a key, sessions are served but not settled.
 * Logs one JSON line "gateway ready" with its url once it listens; SIGTERM/SIGINT stop it cleanly.
 */
import { type Address, createWalletClient, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import { chainOf, publicClientOf } from "../../sdk/chains";
import { readDeployments } from "../../sdk/deployments";
import { getMembership } from "../../sdk/network";
import type { BasedContext } from "../../sdk/bridge";
import { getBrainGateway, getRequest, settleRequest } from "../../sdk/market";
import { privateKeySchema } from "../../protocol/schemas";
import { loadServiceConfig, serviceLogger } from "../../service/config";
import { DEFAULT_GATEWAY_PORT } from "../../protocol/gateway";
import { type GatewayOptions, startGateway } from "./server";

const gatewayConfigSchema = z.object({
  deployments: z.string().min(1),
  brain: z.coerce.number().int().min(0).max(1023),
  port: z.coerce.number().int().min(0).max(65535).default(DEFAULT_GATEWAY_PORT),
  host: z.string().min(1).default("127.0.0.1"),
  redisUrl: z
    .string()
    .regex(/^rediss?:\/\//, "expected a redis:// or rediss:// URL")
    .optional(),
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, "expected letters, digits, '_', '.' or '-'")
    .default("based"),
  lockMs: z.coerce.number().int().min(100).optional(),
  minerTimeoutMs: z.coerce.number().int().min(100).optional(),
  /** Client requests per IP per minute (all client routes together). */
  rateLimit: z.coerce.number().int().min(1).optional(),
  privateKey: privateKeySchema.optional(),
});

/** Membership answers are reused this long (every signed request asks). */
const MEMBER_CACHE_MS = 5_000;

async function main(): Promise<void> {
  const config = loadServiceConfig(
    gatewayConfigSchema,
    {
      deployments: { type: "string" },
      brain: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      "redis-url": { type: "string" },
      prefix: { type: "string" },
      "lock-ms": { type: "string" },
      "miner-timeout-ms": { type: "string" },
      "rate-limit": { type: "string" },
    },
    // REDIS_URL is read by startGateway when --redis-url is absent (a flag beats the environment).
    { privateKey: process.env.GATEWAY_PRIVATE_KEY },
  );
  const log = serviceLogger("gateway").child({ brain: config.brain });
  const deployments = readDeployments(config.deployments);
  const based = deployments.based;
  if (!based) throw new Error(`${config.deployments} has no BasedAI chain: start the full devnet`);
  const chain = chainOf(based, "BasedAI", "BASED");
  const publicClient = publicClientOf(chain);
  const network = based.contracts.Network;
  const computeMarket = based.contracts.ComputeMarket as Address | undefined;
  const ctx: BasedContext = { deployments, chain, publicClient, usingDevnetKey: false };

  // Keyed by account, not (account, role): one chain read answers a check for either role.
  const cache = new Map<Address, { at: number; role: string }>();
  const isMember: GatewayOptions["isMember"] = async (account, role) => {
    const hit = cache.get(account);
    if (hit && Date.now() - hit.at < MEMBER_CACHE_MS) return hit.role === role;
    const { role: held } = await getMembership(ctx, config.brain, account);
    cache.set(account, { at: Date.now(), role: held });
    return held === role;
  };

  const options: GatewayOptions = {
    host: config.host,
    port: config.port,
    brainId: config.brain,
    redisUrl: config.redisUrl,
    prefix: config.prefix,
    domain: { chainId: based.chainId, network, brainId: config.brain },
    isMember,
    logger: log,
    lockMs: config.lockMs,
    minerTimeoutMs: config.minerTimeoutMs,
    rateLimit: config.rateLimit ? { max: config.rateLimit, timeWindowMs: 60_000 } : undefined,
  };

  if (computeMarket) {
    options.delivery = { chainId: based.chainId, computeMarket };
    options.escrowOf = async (requestId) => {
      const r = await getRequest(ctx, BigInt(requestId));
      return {
        brainId: r.brainId,
        open: r.status === "open",
        promptUnits: r.promptUnits,
        maxCompletionUnits: r.maxCompletionUnits,
      };
    };
    if (config.privateKey) {
      const account = privateKeyToAccount(config.privateKey);
      const payer: BasedContext = {
        ...ctx,
        walletClient: createWalletClient({ chain, account, transport: http(chain.rpcUrls.default.http[0]) }),
      };
      options.settle = async (s) => {
        const settled = await settleRequest(payer, {
          requestId: BigInt(s.requestId),
          completionUnits: s.completionUnits,
          resultHash: s.resultHash,
          signature: s.signature,
        });
        log.info(
          { requestId: s.requestId, txHash: settled.txHash, miner: settled.miner, units: s.completionUnits },
          "request settled",
        );
        return settled.txHash;
      };
      const named = await getBrainGateway(ctx, config.brain).catch(() => undefined);
      if (named !== undefined && named !== account.address) {
        log.warn(
          { gateway: named, key: account.address },
          "ComputeMarket names another account as this Brain's gateway: settlements will be refused until the Brain's wallet names this key",
        );
      }
    } else {
      log.warn("GATEWAY_PRIVATE_KEY is not set: sessions are served but their escrows are not settled");
    }
  } else {
    log.warn(
      "the deployments have no ComputeMarket: Delivery signatures are not checked and nothing is settled",
    );
  }

  const gateway = await startGateway(options);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "gateway stopping");
    await gateway.close();
    log.info("gateway stopped");
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((err) => {
  const message = err instanceof Error ? err.message : String(err);
  console.error(message);
  const hint = err && typeof err === "object" && "hint" in err ? String(err.hint) : "";
  if (hint && !message.includes(hint)) console.error(hint);
  process.exit(1);
});
