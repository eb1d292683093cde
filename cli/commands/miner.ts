import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import pino, { type Level } from "pino";
import { type Address, type LocalAccount, zeroAddress } from "viem";
import { z } from "zod";
import { type EngineFault } from "../../compute/miner/engine";
import { detectHardware } from "../../compute/miner/hardware";
import type { MinerCounters } from "../../compute/miner/node";
import { runMinerService } from "../../compute/miner/service";
import { DEFAULT_GATEWAY_PORT } from "../../protocol/gateway";
import { getBrainConfig } from "../../sdk/brain-config";
import { connectBased } from "../../sdk/bridge";
import { DEVNET_CHAIN_IDS } from "../../sdk/devnet";
import { BASED, brainNotActive, economyContracts } from "../../sdk/economy";
import { BasedError } from "../../sdk/errors";
import { GatewayClient } from "../../sdk/gateway-client";
import { getMembership, registerMember } from "../../sdk/network";
import { parseBrainId, parseInteger } from "../core/args";
import type { Wrap } from "../core/context";

/** Where http(s) task models are cached unless --model-cache says otherwise. */
export const DEFAULT_MODEL_CACHE = path.join(
  process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"),
  "based",
  "models",
);

const urlSchema = z.string().url("expected an http(s) URL such as http://127.0.0.1:7200");

function gatewayUrl(flag: string | undefined, chainId: number): string {
  const raw = flag ?? process.env.BASED_GATEWAY_URL;
  if (raw === undefined || raw === "") {
    if (DEVNET_CHAIN_IDS.includes(chainId)) return `http://127.0.0.1:${DEFAULT_GATEWAY_PORT}`;
    throw new BasedError(
      "input",
      "NoGateway",
      "No gateway is configured for this network.",
      "Pass --gateway <url> (or set BASED_GATEWAY_URL) with the Brain's gateway.",
    );
  }
  const parsed = urlSchema.safeParse(raw);
  if (!parsed.success || !/^https?:/.test(raw)) {
    throw new BasedError(
      "input",
      "InvalidArgument",
      `Invalid gateway URL "${raw}": expected http(s)://host:port.`,
    );
  }
  return raw;
}

/** The hidden fault switch for tests of validators (a dishonest miner). */
function faultFromEnv(): EngineFault | undefined {
  const raw = process.env.BASED_MINER_FAULT;
  if (raw === undefined || raw === "") return undefined;
  if (raw === "wrong-results") return raw;
  throw new BasedError("input", "InvalidConfig", `BASED_MINER_FAULT="${raw}" is not a known fault.`);
}

/** `based miner start`: serve a Brain's jobs from its gateway (DESIGN.md §5). */
export function registerMinerCommands(program: Command, wrap: Wrap): void {
  const miner = program
    .command("miner")
    .description("run a miner node for a Brain (encrypted or plain inference)");

  miner
    .command("start")
    .description("register with a Brain if needed, load its task model and answer its gateway's jobs")
    .requiredOption("--brain <id>", "Brain id (0–1023)")
    .option("--gateway <url>", "the Brain's gateway (default: BASED_GATEWAY_URL, or the devnet's)")
    .option("--workers <n>", "evaluator threads (default: one per core)")
    .option("--storage <GiB>", "storage you offer, declared when registering", "0")
    .option("--model-cache <dir>", "where task models fetched over http(s) are kept", DEFAULT_MODEL_CACHE)
    .option("--no-register", "do not register: refuse to start unless already a miner of the Brain")
    .option("--concurrency <n>", "jobs worked on at once", "2")
    .option(
      "--endpoint <text>",
      "the endpoint recorded when registering (miners pull work, so nothing connects to it)",
      "pull",
    )
    .addHelpText(
      "after",
      `
The miner reads the Brain's configuration on the BasedAI chain (its task model and ZK mode),
registers your key as a miner when it is not a member yet ("memorize": pays the Brain's fee,
declares the detected device, GPU or CPU, and --storage), fetches the task model from its URI
(file:// or http(s)://) and refuses it unless its content hash is the one the Brain names. Then
it pulls jobs from the Brain's gateway, runs them (encrypted: plan steps over ciphertexts on the
evaluator pool; ZK off: plain onnxruntime generation) and posts each result with its signed
delivery. It follows task changes (the Brain's configuration is read every 10 s) and stops
gracefully on Ctrl-C or SIGTERM: jobs in flight finish or are given back to the gateway.

Logs are JSON lines on stderr (never prompts, ciphertexts or tokens); "miner ready" is logged
once it polls. The key comes from BASED_PRIVATE_KEY (the devnet dev account on devnet).

Examples:
  based miner start --brain 3
  based miner start --brain 3 --gateway https://gw.example.org --workers 8 --storage 200`,
    )
    .action(
      wrap(async (ctx, _args, options) => {
        const opts = options as {
          brain: string;
          gateway?: string;
          workers?: string;
          storage: string;
          modelCache: string;
          register: boolean;
          concurrency: string;
          endpoint: string;
        };
        const brainId = parseBrainId(opts.brain);
        const workers =
          opts.workers === undefined ? undefined : parseInteger(opts.workers, "--workers", 1, 256);
        const storageGiB = parseInteger(opts.storage, "--storage", 0, 2 ** 32 - 1);
        const concurrency = parseInteger(opts.concurrency, "--concurrency", 1, 64);
        const fault = faultFromEnv();
        const configPollMs = process.env.BASED_MINER_CONFIG_POLL_MS
          ? parseInteger(process.env.BASED_MINER_CONFIG_POLL_MS, "BASED_MINER_CONFIG_POLL_MS", 100, 3_600_000)
          : undefined;
        const modelCache = path.resolve(opts.modelCache);

        const based = await connectBased(ctx.config, { withAccount: true });
        const account = based.walletClient!.account as LocalAccount;
        const url = gatewayUrl(opts.gateway, based.chain.id);
        // A service logs its progress: info unless BASED_LOG_LEVEL asks otherwise (the CLI's
        // default, warn, would hide "miner ready").
        const level = (process.env.BASED_LOG_LEVEL ? ctx.config.logLevel : "info") as Level | "silent";
        const log = pino(
          { level, base: { service: "miner", brainId, miner: account.address } },
          pino.destination(2),
        );
        if (based.usingDevnetKey) log.info("no key configured: using the devnet dev account");

        const config = await getBrainConfig(based, brainId);
        if (!config.active) throw brainNotActive(brainId);
        if (!config.task) {
          throw new BasedError(
            "refused",
            "NoTask",
            `Brain #${brainId} has no task yet: there is no model to serve.`,
            `The Brain's wallet sets one with \`based brain config ${brainId} --model <uri> --content-hash <hash>\`.`,
          );
        }

        const hardware = detectHardware();
        log.info({ device: hardware.device, detail: hardware.detail, cores: hardware.cores }, "hardware");
        const membership = await getMembership(based, brainId, account.address);
        if (membership.role === "validator") {
          throw new BasedError(
            "refused",
            "WrongRole",
            `${account.address} is a validator of Brain #${brainId} (uid ${membership.uid}); one key holds one role.`,
            "Run the miner with another key (BASED_PRIVATE_KEY).",
          );
        }
        if (membership.role === "none") {
          if (!opts.register) {
            throw new BasedError(
              "refused",
              "NotRegistered",
              `${account.address} is not a miner of Brain #${brainId}, and --no-register was given.`,
              `Register with \`based register --brain ${brainId} --role miner --endpoint <text>\`, or start without --no-register.`,
            );
          }
          log.info(
            { fee: BASED(config.registrationFee), device: hardware.device, storageGiB },
            "registering as a miner",
          );
          const done = await registerMember(based, brainId, {
            role: "miner",
            endpoint: opts.endpoint,
            device: hardware.device,
            storageGiB,
            onStep: (step, detail) => log.debug({ step }, detail),
          });
          log.info(
            { uid: done.uid, fee: BASED(done.fee), tx: done.transactionHash },
            "registered as a miner",
          );
        } else {
          log.info({ uid: membership.uid }, "already a miner of the Brain");
        }

        const computeMarket = based.deployments.based?.contracts.ComputeMarket as Address | undefined;
        if (!computeMarket) {
          log.warn(
            "the deployments file names no ComputeMarket: deliveries are signed for address 0 (nothing settles)",
          );
        }
        const stop = new AbortController();
        const onSignal = (name: string) => {
          if (stop.signal.aborted) {
            log.warn(
              `${name} again: stopping now; unfinished jobs return to the queue when their locks expire`,
            );
            process.exit(130);
          }
          log.info(`${name}: shutting down (jobs in flight finish or are given back; again to force)`);
          stop.abort();
        };
        const onInt = () => onSignal("SIGINT");
        const onTerm = () => onSignal("SIGTERM");
        process.on("SIGINT", onInt);
        process.on("SIGTERM", onTerm);
        const counters: MinerCounters = { completed: 0, released: 0, lost: 0 };
        try {
          await runMinerService({
            brainId,
            client: new GatewayClient({ url }),
            signer: {
              account,
              domain: { chainId: based.chain.id, network: economyContracts(based).Network, brainId },
            },
            delivery: { chainId: based.chain.id, computeMarket: computeMarket ?? zeroAddress },
            readConfig: () => getBrainConfig(based, brainId),
            initial: config,
            modelCache,
            workers,
            executionProviders: hardware.executionProviders,
            concurrency,
            // Short polls: a shutdown waits for the polls under way (what they bring is released).
            pollWaitMs: 5_000,
            configPollMs,
            fault,
            signal: stop.signal,
            logger: log,
            counters,
          });
        } finally {
          process.off("SIGINT", onInt);
          process.off("SIGTERM", onTerm);
        }
        ctx.out.result(
          { miner: { brainId, address: account.address, gateway: url, ...counters } },
          () =>
            `Miner ${account.address} stopped: ${counters.completed} jobs answered, ${counters.released} given back${counters.lost ? `, ${counters.lost} left to expire` : ""}.`,
        );
      }),
    );
}
