/**
 * The miner service: `based miner start --brain <id>` (or `tsx compute/miner/main.ts --brain <id>`).
 * It reads the Brain's configuration on the BasedAI chain, registers its key as a miner when it is
 * not a member yet ("memorize": pays the fee, declares its device and storage), fetches the task
 * model and checks its content hash, then answers the gateway's jobs (compute/miner/service.ts)
 * until it is stopped.
 */
import { type Address, type LocalAccount, zeroAddress } from "viem";
import { z } from "zod";
import { parseBytes } from "../../zkllm/evaluator";
import { getBrainConfig } from "../../sdk/brain-config";
import { chainSettings, gatewayUrlFor } from "../../sdk/node/config";
import { DEVNET_CHAIN_IDS } from "../../sdk/devnet";
import { brainNotActive, economyContracts } from "../../sdk/economy";
import { BasedError } from "../../sdk/errors";
import { GatewayClient } from "../../sdk/gateway-client";
import { type ServiceDefinition, serviceMain } from "../../service/shell";
import { ensureMember } from "../membership";
import { detectHardware } from "./hardware";
import type { MinerCounters } from "./node";
import { runMinerService } from "./service";
import { connectBased } from "../../sdk/chain";

const whole = (min: number, max: number) =>
  z.coerce
    .number({ error: "expected a whole number" })
    .int("expected a whole number")
    .min(min, `at least ${min}`)
    .max(max, `at most ${max}`);

export const minerOptionsSchema = z.object({
  brain: whole(0, 1023),
  /** Evaluator threads (default: one per core). */
  workers: whole(1, 256).optional(),
  /** Plaintext cache budget of each worker, e.g. "3GiB" (default 3 GiB; at most 3.5 GiB). */
  memoryBudget: z
    .string()
    .transform((text, ctx) => {
      try {
        return parseBytes(text);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
  /** GiB of storage declared when registering. */
  storage: whole(0, 2 ** 32 - 1).default(0),
  register: z.boolean().default(true),
  concurrency: whole(1, 64).default(2),
  endpoint: z.string().min(1).default("pull"),
  /** A dishonest miner, for tests of validators (BASED_MINER_FAULT). */
  fault: z.enum(["wrong-results"], { error: "is not a known fault (wrong-results)" }).optional(),
  configPollMs: whole(100, 3_600_000).optional(),
});
export type MinerOptions = z.infer<typeof minerOptionsSchema>;

export type MinerSummary = { brainId: number; address: Address; gateway: string } & MinerCounters;

export const minerService: ServiceDefinition<MinerOptions, MinerSummary> = {
  name: "miner",
  summary:
    "A Brain's miner: registers if needed, loads the Brain's task model and answers its gateway's jobs\n(encrypted plan steps over ciphertexts, or plain generation with ZK off).",
  flags: {
    brain: { type: "string", description: "Brain id (0–1023)" },
    gateway: {
      type: "string",
      description: "the Brain's gateway (default BASED_GATEWAY_URL, or the devnet's)",
    },
    workers: { type: "string", description: "evaluator threads (default: one per core)" },
    "memory-budget": {
      type: "string",
      description: "plaintext cache per worker, e.g. 3GiB (default 3GiB, at most 3.5GiB)",
    },
    storage: { type: "string", description: "storage you offer in GiB, declared when registering" },
    "model-cache": { type: "string", description: "where task models fetched over http(s) are kept" },
    "no-register": { type: "boolean", description: "refuse to start unless already a miner of the Brain" },
    concurrency: { type: "string", description: "jobs worked on at once (default 2)" },
    endpoint: { type: "string", description: "the endpoint recorded when registering (default pull)" },
  },
  env: { BASED_MINER_FAULT: "fault", BASED_MINER_CONFIG_POLL_MS: "configPollMs" },
  options: minerOptionsSchema,
  // Jobs in flight finish or are handed back; a plan step takes seconds, a generation longer.
  shutdownTimeoutMs: 60_000,
  async run({ options, config, log: serviceLog, signal, setHealth }) {
    const brainId = options.brain;
    const based = await connectBased(chainSettings(config), { withAccount: true });
    const account = based.walletClient!.account as LocalAccount;
    const url = gatewayUrlFor(config, DEVNET_CHAIN_IDS.includes(based.chain.id));
    const log = serviceLog.child({ brainId, miner: account.address });
    if (based.usingDevnetKey) log.info("no key configured: using the devnet dev account");

    const brain = await getBrainConfig(based, brainId);
    if (!brain.active) throw brainNotActive(brainId);
    if (!brain.task) {
      throw new BasedError(
        "refused",
        "NoTask",
        `Brain #${brainId} has no task yet: there is no model to serve.`,
        `The Brain's wallet sets one with \`based brain config ${brainId} --model <uri> --content-hash <hash>\`.`,
      );
    }

    const hardware = detectHardware();
    log.info({ device: hardware.device, detail: hardware.detail, cores: hardware.cores }, "hardware");
    await ensureMember(based, {
      brainId,
      role: "miner",
      register: options.register,
      endpoint: options.endpoint,
      device: hardware.device,
      storageGiB: options.storage,
      log,
    });

    const computeMarket = based.deployments.based?.contracts.ComputeMarket as Address | undefined;
    if (!computeMarket) {
      log.warn(
        "the deployments file names no ComputeMarket: deliveries are signed for address 0 (nothing settles)",
      );
    }
    const counters: MinerCounters = { completed: 0, released: 0, lost: 0 };
    setHealth(() => ({ brainId, miner: account.address, ...counters }));
    await runMinerService({
      brainId,
      client: new GatewayClient({ url }),
      signer: {
        account,
        domain: { chainId: based.chain.id, network: economyContracts(based).Network, brainId },
      },
      delivery: { chainId: based.chain.id, computeMarket: computeMarket ?? zeroAddress },
      readConfig: () => getBrainConfig(based, brainId),
      initial: brain,
      modelCache: config.modelCacheDir,
      workers: options.workers,
      memoryBudget: options.memoryBudget,
      executionProviders: hardware.executionProviders,
      concurrency: options.concurrency,
      // Short polls: a shutdown waits for the polls under way (what they bring is released).
      pollWaitMs: 5_000,
      configPollMs: options.configPollMs,
      fault: options.fault,
      signal,
      logger: log,
      counters,
    });
    return { brainId, address: account.address, gateway: url, ...counters };
  },
};

if (require.main === module) serviceMain(minerService);
