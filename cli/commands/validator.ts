import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import pino, { type Level } from "pino";
import { resolveModel } from "../../sdk/model-cache";
import { DEFAULT_GATEWAY_PORT } from "../../protocol/gateway";
import { runValidator } from "../../compute/validator/service";
import { getBrainConfig } from "../../sdk/brain-config";
import { connectBased } from "../../sdk/bridge";
import { BASED, signerOf } from "../../sdk/economy";
import { BasedError } from "../../sdk/errors";
import { getMembership, registerMember } from "../../sdk/network";
import { getStakePositions, stakeBased } from "../../sdk/staking";
import { parseBrainId, parseEndpoint, parseTokenAmount } from "../core/args";
import type { Wrap } from "../core/context";

/** Environment variable naming the Brain's gateway. */
export const GATEWAY_URL_ENV = "BASED_GATEWAY_URL";

type StartOptions = {
  brain: string;
  gateway?: string;
  stateDir?: string;
  model?: string;
  canaryInterval: string;
  register: boolean;
  stake?: string;
  endpoint?: string;
};

function gatewayUrlOf(raw: string | undefined, devnet: boolean): string {
  const url = raw ?? process.env[GATEWAY_URL_ENV];
  if (url === undefined || url === "") {
    if (devnet) return `http://127.0.0.1:${DEFAULT_GATEWAY_PORT}`;
    throw new BasedError(
      "input",
      "NoGateway",
      "No gateway URL: the validator reaches the Brain's miners through its gateway.",
      `Pass --gateway <url> or set ${GATEWAY_URL_ENV} (the Brain's owner publishes it).`,
    );
  }
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http(s)");
  } catch {
    throw new BasedError(
      "input",
      "InvalidArgument",
      `Invalid gateway URL "${url}": expected http(s)://host:port.`,
    );
  }
  return url;
}

/** Seconds, whole or decimal, from 0.1 to a day. */
function parseSeconds(raw: string, what: string): number {
  const n = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 0.1 && n <= 86_400)) {
    throw new BasedError(
      "input",
      "InvalidArgument",
      `Invalid ${what} "${raw}": expected seconds from 0.1 to 86400.`,
    );
  }
  return n;
}

/** `based validator …`: run a validator of a Brain. */
export function registerValidatorCommands(program: Command, wrap: Wrap): void {
  const validator = program
    .command("validator")
    .description("run a validator of a Brain: canaries, replays, scores and weights")
    .addHelpText(
      "after",
      `
A validator checks a Brain's miners and sets their weights on the BasedAI chain: it sends canary
prompts (its own keys, answers it knows, shaped and timed like users' prompts), replays a sample
of the miners' jobs (homomorphic evaluation is deterministic, so output hashes must match),
scores correctness, availability and latency, and commits its weights in each epoch and reveals
them in the next.`,
    );

  validator
    .command("start")
    .description("register (if needed), stake (if asked) and run the validator until Ctrl-C")
    .requiredOption("--brain <id>", "Brain id (0–1023)")
    .option(
      "--gateway <url>",
      `the Brain's gateway (default: $${GATEWAY_URL_ENV}; on devnet http://127.0.0.1:${DEFAULT_GATEWAY_PORT})`,
    )
    .option(
      "--state-dir <dir>",
      "where scores, the pending commitment and canary keys live",
      path.join(os.homedir(), ".config", "based", "validator"),
    )
    .option(
      "--model <dir>",
      "the Brain's model directory (default: fetched from the Brain's task and verified)",
    )
    .option("--canary-interval <s>", "mean seconds between canaries (the gaps are random)", "60")
    .option("--no-register", "do not register as a validator when not registered yet (fail instead)")
    .option(
      "--stake <BASED>",
      "make sure at least this much BASED is staked to this validator (stakes the difference)",
    )
    .option(
      "--endpoint <host:port>",
      "the endpoint to register with (default: the gateway URL it validates through)",
    )
    .addHelpText(
      "after",
      `
The key is BASED_PRIVATE_KEY (or privateKey in the config file); on devnet the dev account is used
when none is set. Logs (JSON lines, info level unless BASED_LOG_LEVEL says otherwise) go to stderr
and never carry prompts, tokens or ciphertexts. The state directory keeps the salt of the pending
commitment (file mode 600): keep it, or a restart cannot reveal that epoch's weights.

Examples:
  based validator start --brain 3 --stake 1000
  based validator start --brain 3 --gateway https://gw.example.org --state-dir /var/lib/based-validator`,
    )
    .action(
      wrap(async (ctx, _args, options) => {
        const opts = options as StartOptions;
        const brainId = parseBrainId(opts.brain);
        const intervalS = parseSeconds(opts.canaryInterval, "--canary-interval");
        const stake = opts.stake === undefined ? undefined : parseTokenAmount(opts.stake, "--stake");
        const stateDir = path.resolve(opts.stateDir!);
        const level = (process.env.BASED_LOG_LEVEL ? ctx.config.logLevel : "info") as Level | "silent";
        const log = pino({ level, base: { service: "validator" } }, pino.destination(2));
        const onStep = (_step: string, detail: string) => log.info(detail);

        const based = await connectBased(ctx.config, { withAccount: true });
        const gatewayUrl = gatewayUrlOf(opts.gateway, based.deployments.network === "devnet");
        const me = signerOf(based);
        if (based.usingDevnetKey) log.info("no key configured: using the devnet dev account");

        const membership = await getMembership(based, brainId, me);
        if (membership.role === "miner") {
          throw new BasedError(
            "refused",
            "WrongRole",
            `${me} is a miner of Brain #${brainId} (uid ${membership.uid}); one account holds one role per Brain.`,
            "Run the validator with another key (BASED_PRIVATE_KEY).",
          );
        }
        if (membership.role === "none") {
          if (!opts.register) {
            throw new BasedError(
              "refused",
              "NotRegistered",
              `${me} is not a validator of Brain #${brainId}.`,
              `Leave out --no-register to register now, or run \`based register --brain ${brainId} --role validator --endpoint host:port\`.`,
            );
          }
          const endpoint = parseEndpoint(opts.endpoint ?? gatewayUrl);
          const done = await registerMember(based, brainId, { role: "validator", endpoint, onStep });
          log.info({ brain: brainId, uid: done.uid, fee: done.fee.toString() }, "registered as a validator");
        }

        if (stake !== undefined && stake > 0n) {
          const { positions } = await getStakePositions(based, me);
          const have =
            positions.find((p) => p.brainId === brainId && p.validator.toLowerCase() === me.toLowerCase())
              ?.amount ?? 0n;
          if (have < stake) {
            const staked = await stakeBased(based, { brainId, validator: me, amount: stake - have, onStep });
            log.info(
              { brain: brainId, staked: BASED(staked.amount), position: BASED(staked.position) },
              "staked to this validator",
            );
          } else {
            log.info({ brain: brainId, position: BASED(have) }, "stake already in place");
          }
        }

        const config = await getBrainConfig(based, brainId);
        let modelDir = opts.model === undefined ? undefined : path.resolve(opts.model);
        if (!modelDir) {
          if (!config.task) {
            throw new BasedError(
              "refused",
              "NoTask",
              `Brain #${brainId} has no task (model) set: there is nothing to validate.`,
              `The Brain's owner sets one with \`based brain config ${brainId} --model-uri … --content-hash …\`; or pass --model <dir>.`,
            );
          }
          log.info({ uri: config.task.modelUri }, "fetching the Brain's model");
          modelDir = await resolveModel(
            config.task.modelUri,
            config.task.contentHash,
            path.join(stateDir, "models"),
          );
        }

        const controller = new AbortController();
        const stop = (signal: NodeJS.Signals) => {
          if (controller.signal.aborted) return;
          log.info({ signal }, "stopping: finishing the current check");
          controller.abort();
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
        try {
          await runValidator({
            based,
            brainId,
            gatewayUrl,
            modelDir,
            mode: config.zkMode ? "encrypted" : "plain",
            stateDir,
            canaryIntervalMs: intervalS * 1000,
            signal: controller.signal,
            log,
          });
        } finally {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
        }
        ctx.out.result(
          { validator: { brainId, account: me, stopped: true, stateDir, stake: stake ?? null } },
          () => `Validator ${me} of Brain #${brainId} stopped (state in ${stateDir}).`,
        );
      }),
    );
}
