import type { Command } from "commander";
import { validatorService } from "../../compute/validator/main";
import { runService } from "../../service/shell";
import type { Wrap } from "../core/context";

/** `based validator …`: run a validator of a Brain. */
export function registerValidatorCommands(program: Command, wrap: Wrap): void {
  const validator = program
    .command("validator")
    .description("run a validator of a Brain: canaries, replays, scores and weights")
    .addHelpText(
      "after",
      `
A validator checks a Brain's miners and sets their weights on the BasedAI chain: it sends canary
prompts (its own keys, rotated like users' keys: BASED_KEY_ROTATION or keyRotation, default a
fresh set per canary; answers it knows; sized and spaced like the Brain's users' requests on
chain once there are 20 of them, and like typical chat prompts before), replays a sample
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
      "the Brain's gateway (default: BASED_GATEWAY_URL; on devnet http://127.0.0.1:7200)",
    )
    .option(
      "--state-dir <dir>",
      "where scores, the pending commitment and canary keys live (default: ~/.config/based/validator)",
    )
    .option(
      "--model <dir>",
      "the Brain's model directory (default: fetched from the Brain's task and verified)",
    )
    .option("--canary-interval <s>", "mean seconds between canaries (the gaps are random; default 60)")
    .option(
      "--canaries-per-round <n>",
      "canaries per scoring round (default 3); with fewer, scores and weights follow the miners sooner",
    )
    .option(
      "--model-cache <dir>",
      "where task models fetched over http(s) are kept (default: BASED_MODEL_CACHE)",
    )
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
        const summary = await runService(validatorService, {
          flags: { ...options, config: ctx.configFile },
          logTo: 2,
          // Once it stopped (or was given up on), nothing it left behind keeps the command running.
          exitProcess: true,
        });
        ctx.out.result(
          { validator: summary },
          () =>
            `Validator ${summary.account} of Brain #${summary.brainId} stopped (state in ${summary.stateDir}).`,
        );
      }),
    );
}
