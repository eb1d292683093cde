import { Command, CommanderError } from "commander";
import packageJson from "../package.json";
import { registerAccountCommands } from "./commands/account";
import { registerBrainCommands } from "./commands/brain";
import { registerGovCommands } from "./commands/gov";
import { registerBridgeCommands } from "./commands/bridge";
import { registerMinerCommands } from "./commands/miner";
import { registerModelCommands } from "./commands/model";
import { registerPromptCommands } from "./commands/prompt";
import { registerNetworkCommands } from "./commands/register";
import { registerRewardsCommands } from "./commands/rewards";
import { registerStakeCommands } from "./commands/stake";
import { registerValidatorCommands } from "./commands/validator";
import { type GlobalOptions, type Wrap, createCommandContext } from "./core/context";
import { reportError } from "./ui/output";

const HELP_FOOTER = `
Configuration (flags win over environment variables, which win over the config file):
  BASED_CONFIG        config file (JSON; default ~/.config/based/config.json)
                      fields: ethereumRpcUrl, basedRpcUrl, privateKey, deploymentsFile, logLevel,
                      gatewayUrl, modelCache, keystore, redisUrl, attesters
  BASED_PRIVATE_KEY   signing key (0x + 64 hex); on devnet the dev account is used when unset.
                      Keys are never taken from flags, so they stay out of shell history.
  BASED_DEPLOYMENTS   deployments file (default: .devnet/deployments.json, written by npm run devnet)
  BASED_ETH_RPC_URL   Ethereum JSON-RPC (default: the one in the deployments file)
  BASED_RPC_URL       BasedAI-chain JSON-RPC (default: the one in the deployments file)
  BASED_GATEWAY_URL   the Brain's gateway (--gateway wins; on devnet http://127.0.0.1:7200)
  BASED_MODEL_CACHE   where Brains' models are fetched and verified (default ~/.cache/based/models)
  BASED_KEYSTORE      where the keys of encrypted prompts are kept (default ~/.config/based/keys)
  BASED_ATTESTERS     attesters' URLs, comma-separated (default on devnet: the four local ones)
  BASED_LOG_LEVEL     fatal|error|warn|info|debug|trace|silent (logs go to stderr)

Exit codes: 0 done, 1 unexpected failure, 2 bad input or config, 3 refused by a contract rule,
4 environment not ready (no devnet, unreachable RPC, missing deployments).

Start here: \`npm run devnet\` in one terminal, then \`based brain mint --burn\` in another.
On the BasedAI chain: \`based brain config <id>\` (as the Brain's wallet), \`based register\`,
\`based stake add\`, \`based rewards claim\`. Governance (GigaBrains and PEPE holders): \`based gov list\`.`;

/** Builds the `based` program (exported so tests can inspect it without a process). */
export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command("based")
    .description("BasedAI: mint Brains, bridge BASED, stake, register and send encrypted prompts")
    .version(packageJson.version)
    .option("--json", "print one JSON document on stdout (for scripts)")
    .option("--config <file>", "config file to read instead of the default")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", HELP_FOOTER)
    .exitOverride();

  const wrap: Wrap =
    (fn) =>
    async (...params) => {
      const command = params.at(-1) as Command;
      const globals = command.optsWithGlobals<GlobalOptions>();
      try {
        const ctx = createCommandContext(globals);
        await fn(ctx, params.slice(0, -2) as string[], command.opts());
      } catch (err) {
        setExitCode(reportError(err, globals.json === true));
      }
    };

  registerBrainCommands(program, wrap);
  registerModelCommands(program, wrap);
  registerBridgeCommands(program, wrap);
  registerNetworkCommands(program, wrap);
  registerStakeCommands(program, wrap);
  registerRewardsCommands(program, wrap);
  registerGovCommands(program, wrap);
  registerAccountCommands(program, wrap);
  registerPromptCommands(program, wrap);
  registerMinerCommands(program, wrap);
  registerValidatorCommands(program, wrap);
  return program;
}

/** Entry point of bin/based.js. */
export async function main(argv: string[]): Promise<void> {
  let exitCode = 0;
  const program = buildProgram((code) => (exitCode = code));
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; usage mistakes get 2 (commander printed why).
      exitCode = err.exitCode === 0 ? 0 : 2;
    } else {
      exitCode = reportError(err, argv.includes("--json"));
    }
  }
  process.exitCode = exitCode;
}
