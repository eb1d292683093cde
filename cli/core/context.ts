import pino, { type Logger } from "pino";
import { type BasedConfig, type ConfigOverrides, chainSettings, loadConfig } from "../../sdk/node/config";
import { type Output, createOutput } from "../ui/output";
import { type Spinner, createSpinner } from "../ui/spinner";
import { type ChainContext, type ConnectOptions, connectBased, connectEthereum } from "../../sdk/chain";

/** Options every command accepts (declared once on the program). */
export type GlobalOptions = { json?: boolean; config?: string };

/** What a command needs: validated config, output, logger, and a lazy chain connection. */
export type CommandContext = {
  config: BasedConfig;
  /** The --config file, when given (services started by a command read it again). */
  configFile?: string;
  /** The configuration with a command's own flags (e.g. --gateway) over it, validated. */
  configWith(flags: ConfigOverrides): BasedConfig;
  out: Output;
  log: Logger;
  spinner(): Spinner;
  /** Connects to Ethereum (the deployments file is read then). */
  ethereum(options?: ConnectOptions): Promise<ChainContext>;
  /** Connects to the BasedAI chain. */
  based(options?: ConnectOptions): Promise<ChainContext>;
};

export function createCommandContext(globals: GlobalOptions): CommandContext {
  const config = loadConfig(process.env, { configFile: globals.config });
  // Logs go to stderr so stdout stays the command's result (and valid JSON with --json).
  const log = pino({ level: config.logLevel, base: undefined }, pino.destination(2));
  const json = globals.json === true;
  for (const note of config.deprecations) log.warn(note);
  return {
    config,
    configFile: globals.config,
    configWith: (flags) => loadConfig(process.env, { ...flags, configFile: globals.config }),
    out: createOutput(json),
    log,
    spinner: () => createSpinner(!json),
    ethereum: (options) => connected(connectEthereum(chainSettings(config), options), log),
    based: (options) => connected(connectBased(chainSettings(config), options), log),
  };
}

async function connected(connecting: Promise<ChainContext>, log: Logger): Promise<ChainContext> {
  const ctx = await connecting;
  log.debug(
    { rpc: ctx.chain.rpcUrls.default.http[0], chainId: ctx.chain.id },
    `connected to ${ctx.chain.name}`,
  );
  if (ctx.usingDevnetKey) log.info("no key configured: using the devnet dev account");
  return ctx;
}

/** A command body: positional arguments and the command's own options, already parsed by commander. */
export type Run = (ctx: CommandContext, args: string[], opts: Record<string, unknown>) => Promise<void>;
/** Turns a command body into a commander action with config, output and error handling. */
export type Wrap = (fn: Run) => (...params: unknown[]) => Promise<void>;
