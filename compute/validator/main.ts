/**
 * The validator service: `based validator start --brain <id>` (or `tsx compute/validator/main.ts
 * --brain <id>`). It registers as a validator of the Brain when it is not one yet, tops its stake up
 * to `--stake`, fetches the Brain's model and checks its content hash, then runs canaries, replays,
 * scores and weights (compute/validator/service.ts) until it is stopped.
 */
import os from "node:os";
import path from "node:path";
import { type Address, parseEther } from "viem";
import { z } from "zod";
import { getBrainConfig } from "../../sdk/brain-config";
import { chainSettings, gatewayUrlFor } from "../../sdk/node/config";
import { BASED } from "../../sdk/economy";
import { BasedError } from "../../sdk/errors";
import { resolveModel } from "../../sdk/node/model-cache";
import { endpointSchema } from "../../sdk/network";
import { getStakePositions, stakeBased } from "../../sdk/staking";
import { type ServiceDefinition, serviceMain } from "../../service/shell";
import { ensureMember } from "../membership";
import { runValidator } from "./service";
import { connectBased, signerOf } from "../../sdk/chain";

export const validatorOptionsSchema = z.object({
  brain: z.coerce
    .number({ error: "expected a whole number" })
    .int()
    .min(0, "ids start at 0")
    .max(1023, "ids end at 1023"),
  stateDir: z
    .string()
    .min(1)
    .default(path.join(os.homedir(), ".config", "based", "validator"))
    .transform((d) => path.resolve(d)),
  /** The Brain's model directory; default: fetched from the Brain's task and verified. */
  model: z
    .string()
    .min(1)
    .transform((d) => path.resolve(d))
    .optional(),
  /** Mean seconds between canaries. */
  canaryInterval: z
    .string()
    .regex(/^\d+(\.\d+)?$/, "expected seconds from 0.1 to 86400")
    .transform(Number)
    .pipe(
      z
        .number()
        .min(0.1, "expected seconds from 0.1 to 86400")
        .max(86_400, "expected seconds from 0.1 to 86400"),
    )
    .default(60),
  /** Canaries per scoring round (each round also replays samples and reads the miners' polls). */
  canariesPerRound: z.coerce
    .number({ error: "expected a whole number from 1 to 100" })
    .int("expected a whole number from 1 to 100")
    .min(1, "expected a whole number from 1 to 100")
    .max(100, "expected a whole number from 1 to 100")
    .default(3),
  register: z.boolean().default(true),
  /** BASED (decimal) that must be staked to this validator. */
  stake: z
    .string()
    .regex(/^\d+(\.\d{1,18})?$/, "expected an amount such as 1000 or 1000.5 (at most 18 decimals)")
    .optional(),
  endpoint: endpointSchema.optional(),
});
export type ValidatorServiceOptions = z.infer<typeof validatorOptionsSchema>;

export type ValidatorSummary = {
  brainId: number;
  account: Address;
  stopped: true;
  stateDir: string;
  stake: bigint | null;
};

export const validatorService: ServiceDefinition<ValidatorServiceOptions, ValidatorSummary> = {
  name: "validator",
  summary:
    "A Brain's validator: canary prompts (its own keys, known answers), replays of sampled jobs,\nscores of correctness, availability and latency, and commit-reveal weights each epoch.",
  flags: {
    brain: { type: "string", description: "Brain id (0–1023)" },
    gateway: {
      type: "string",
      description: "the Brain's gateway (default BASED_GATEWAY_URL, or the devnet's)",
    },
    "state-dir": { type: "string", description: "where scores, the pending commitment and canary keys live" },
    model: { type: "string", description: "the Brain's model directory (default: fetched and verified)" },
    "model-cache": { type: "string", description: "where task models fetched over http(s) are kept" },
    "canary-interval": { type: "string", description: "mean seconds between canaries (default 60)" },
    "canaries-per-round": {
      type: "string",
      description: "canaries per scoring round (default 3; fewer: scores follow the miners sooner)",
    },
    "no-register": { type: "boolean", description: "fail instead of registering as a validator" },
    stake: { type: "string", description: "make sure at least this much BASED is staked to this validator" },
    endpoint: { type: "string", description: "the endpoint to register with (default: the gateway URL)" },
  },
  options: validatorOptionsSchema,
  // runValidator returns within 10 s of the abort (its stop grace), then closes its model.
  shutdownTimeoutMs: 20_000,
  async run({ options, config, log, signal, setHealth }) {
    const brainId = options.brain;
    const stake = options.stake === undefined ? undefined : parseEther(options.stake);
    const onStep = (_step: string, detail: string) => log.info(detail);

    const based = await connectBased(chainSettings(config), { withAccount: true });
    const gatewayUrl = gatewayUrlFor(config, based.deployments.network === "devnet");
    const me = signerOf(based);
    if (based.usingDevnetKey) log.info("no key configured: using the devnet dev account");

    await ensureMember(based, {
      brainId,
      role: "validator",
      register: options.register,
      endpoint: options.endpoint ?? gatewayUrl,
      log,
    });

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

    const brain = await getBrainConfig(based, brainId);
    let modelDir = options.model;
    if (!modelDir) {
      if (!brain.task) {
        throw new BasedError(
          "refused",
          "NoTask",
          `Brain #${brainId} has no task (model) set: there is nothing to validate.`,
          `The Brain's owner sets one with \`based brain config ${brainId} --model-uri … --content-hash …\`; or pass --model <dir>.`,
        );
      }
      log.info({ uri: brain.task.modelUri }, "fetching the Brain's model");
      modelDir = await resolveModel(brain.task.modelUri, brain.task.contentHash, config.modelCacheDir);
    }

    setHealth(() => ({ brainId, validator: me }));
    await runValidator({
      based,
      brainId,
      gatewayUrl,
      modelDir,
      mode: brain.zkMode ? "encrypted" : "plain",
      stateDir: options.stateDir,
      canaryIntervalMs: options.canaryInterval * 1000,
      canariesPerRound: options.canariesPerRound,
      // The users' key rotation policy (keyRotation, BASED_KEY_ROTATION): canaries' keys then
      // rotate as users' do.
      keyRotation: config.keyRotation,
      signal,
      log,
    });
    return { brainId, account: me, stopped: true, stateDir: options.stateDir, stake: stake ?? null };
  },
};

if (require.main === module) serviceMain(validatorService);
