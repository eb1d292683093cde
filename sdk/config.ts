import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { privateKeySchema } from "../protocol/schemas";
import { DEFAULT_DEPLOYMENTS_FILE } from "./deployments";
import { BasedError } from "./errors";

const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

/** The optional JSON config file (BASED_CONFIG, default ~/.config/based/config.json). */
export const configFileSchema = z
  .object({
    /** JSON-RPC endpoint of Ethereum (default: the one in the deployments file). */
    ethereumRpcUrl: z.string().url().optional(),
    /** The key that signs transactions. Prefer this file (mode 600) or BASED_PRIVATE_KEY to flags,
     *  which would land in the shell history. */
    privateKey: privateKeySchema.optional(),
    /** The deployments file written by `npm run devnet` or a real deployment. */
    deploymentsFile: z.string().min(1).optional(),
    logLevel: logLevel.optional(),
  })
  .strict();

export type ConfigFile = z.infer<typeof configFileSchema>;

export type BasedConfig = {
  deploymentsFile: string;
  ethereumRpcUrl?: string;
  privateKey?: `0x${string}`;
  logLevel: z.infer<typeof logLevel>;
  /** The config file that was read, if any. */
  configFile?: string;
};

export const DEFAULT_CONFIG_FILE = path.join(os.homedir(), ".config", "based", "config.json");

/** The environment variables the SDK reads, each validated like the config file's fields. */
const envSchema = z.object({
  BASED_CONFIG: z.string().min(1).optional(),
  BASED_DEPLOYMENTS: z.string().min(1).optional(),
  BASED_ETH_RPC_URL: z.string().url().optional(),
  BASED_PRIVATE_KEY: privateKeySchema.optional(),
  BASED_LOG_LEVEL: logLevel.optional(),
});

function inputError(source: string, error: z.ZodError): BasedError {
  return new BasedError(
    "input",
    "InvalidConfig",
    `${source} is invalid: ${z.prettifyError(error)}`,
    "Fix the value or remove it to use the default. `based --help` lists the variables and the config file fields.",
  );
}

/** Reads the config file and environment (environment wins), validating both. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): BasedConfig {
  const vars = envSchema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith("BASED_") && v !== "")),
  );
  if (!vars.success) throw inputError("The environment", vars.error);

  const configFile = vars.data.BASED_CONFIG ?? DEFAULT_CONFIG_FILE;
  let file: ConfigFile = {};
  if (fs.existsSync(configFile)) {
    let json: unknown;
    try {
      json = JSON.parse(fs.readFileSync(configFile, "utf8"));
    } catch (err) {
      throw new BasedError("input", "InvalidConfig", `${configFile} is not JSON: ${(err as Error).message}`);
    }
    const parsed = configFileSchema.safeParse(json);
    if (!parsed.success) throw inputError(`Config file ${configFile}`, parsed.error);
    file = parsed.data;
  } else if (vars.data.BASED_CONFIG !== undefined) {
    throw new BasedError(
      "input",
      "ConfigMissing",
      `BASED_CONFIG points at ${configFile}, which does not exist.`,
    );
  }

  const deploymentsFile = vars.data.BASED_DEPLOYMENTS ?? file.deploymentsFile ?? DEFAULT_DEPLOYMENTS_FILE;
  return {
    deploymentsFile: path.resolve(deploymentsFile),
    ethereumRpcUrl: vars.data.BASED_ETH_RPC_URL ?? file.ethereumRpcUrl,
    privateKey: vars.data.BASED_PRIVATE_KEY ?? file.privateKey,
    logLevel: vars.data.BASED_LOG_LEVEL ?? file.logLevel ?? "warn",
    configFile: fs.existsSync(configFile) ? configFile : undefined,
  };
}
