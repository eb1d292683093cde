/**
 * Configuration of everything that runs on a person's machine (the `based` command and the
 * services), from one place: flags (passed in by the caller) win over environment variables, which
 * win over the config file, which wins over the defaults. Every "where is X" (the deployments, the
 * RPCs, the key, the Brain's gateway, the model cache, the keystore and its key rotation, Redis, the attesters) is
 * answered here once.
 *
 * Names that earlier versions read keep working for a while: their value is used when the new name
 * is unset, and `deprecations` says what to rename (callers log it).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { DEFAULT_GATEWAY_PORT, DEFAULT_REDIS_URL } from "../../protocol/gateway";
import { privateKeySchema } from "../../protocol/schemas";
import { DEFAULT_DEPLOYMENTS_FILE, readDeployments } from "./deployments-file";
import type { ChainSettings } from "../chain";
import { BasedError } from "../errors";
import { DEFAULT_KEY_ROTATION, type KeyRotation, keyRotationSchema } from "../key-rotation";

const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);
export type LogLevel = z.infer<typeof logLevel>;

const httpUrl = z
  .string()
  .url("expected an http(s) URL such as http://127.0.0.1:7200")
  .refine((u) => /^https?:\/\//.test(u), "expected an http(s) URL such as http://127.0.0.1:7200")
  .transform((u) => u.replace(/\/+$/, ""));
const redisUrl = z.string().regex(/^rediss?:\/\/\S+$/, "expected a redis:// or rediss:// URL");
const urlList = z
  .string()
  .transform((s) =>
    s
      .split(",")
      .map((u) => u.trim())
      .filter((u) => u !== ""),
  )
  .pipe(z.array(httpUrl).min(1, "no URL given"));

/** The optional JSON config file (`--config`, else BASED_CONFIG, else ~/.config/based/config.json). */
export const configFileSchema = z
  .object({
    /** JSON-RPC endpoint of Ethereum (default: the one in the deployments file). */
    ethereumRpcUrl: z.string().url().optional(),
    /** JSON-RPC endpoint of the BasedAI chain (default: the one in the deployments file). */
    basedRpcUrl: z.string().url().optional(),
    /** The key that signs transactions. Prefer this file (mode 600) or BASED_PRIVATE_KEY to flags,
     *  which would land in the shell history. */
    privateKey: privateKeySchema.optional(),
    /** The deployments file written by `npm run devnet` or a real deployment. */
    deploymentsFile: z.string().min(1).optional(),
    logLevel: logLevel.optional(),
    /** The Brain's gateway that prompts, miners and validators talk to. */
    gatewayUrl: httpUrl.optional(),
    /** Where task models named by Brains are fetched to and verified. */
    modelCache: z.string().min(1).optional(),
    /** Where the CKKS keys of encrypted prompts are kept. */
    keystore: z.string().min(1).optional(),
    /** How often encrypted prompts (and validators' canaries) make a fresh key set: session, never, every:N. */
    keyRotation: keyRotationSchema.optional(),
    /** The Redis a gateway keeps its queues in. */
    redisUrl: redisUrl.optional(),
    /** Attesters' HTTP endpoints, asked for signatures and proofs. */
    attesters: z.array(httpUrl).min(1).optional(),
  })
  .strict();

export type ConfigFile = z.infer<typeof configFileSchema>;

export type BasedConfig = {
  deploymentsFile: string;
  ethereumRpcUrl?: string;
  basedRpcUrl?: string;
  privateKey?: `0x${string}`;
  logLevel: LogLevel;
  /** Set when a flag, the environment or the file names one; `gatewayUrlFor` adds the devnet's. */
  gatewayUrl?: string;
  modelCacheDir: string;
  keystoreDir: string;
  /** When encrypted prompts make a fresh key set (sdk/key-rotation.ts); default `"session"`. */
  keyRotation: KeyRotation;
  redisUrl: string;
  /** Set when the environment or the file names them; `attesterUrlsFor` adds the devnet's. */
  attesterUrls?: string[];
  /** The config file that was read, if any. */
  configFile?: string;
  /** Old names that were used, as "OLD is deprecated: use NEW". */
  deprecations: string[];
};

/** What the caller's flags say; they win over everything else. */
export type ConfigOverrides = {
  configFile?: string;
  deploymentsFile?: string;
  gatewayUrl?: string;
  modelCacheDir?: string;
  redisUrl?: string;
  /** `--keys`: session, never or every:N. */
  keyRotation?: string;
  /** The level when nothing sets one (the command: warn; services: info). */
  defaultLogLevel?: LogLevel;
};

/** The environment variables read, each validated like the config file's fields. */
const envSchema = z.object({
  BASED_CONFIG: z.string().min(1).optional(),
  BASED_DEPLOYMENTS: z.string().min(1).optional(),
  BASED_ETH_RPC_URL: z.string().url().optional(),
  BASED_RPC_URL: z.string().url().optional(),
  BASED_PRIVATE_KEY: privateKeySchema.optional(),
  BASED_LOG_LEVEL: logLevel.optional(),
  BASED_GATEWAY_URL: httpUrl.optional(),
  BASED_MODEL_CACHE: z.string().min(1).optional(),
  BASED_KEYSTORE: z.string().min(1).optional(),
  BASED_KEY_ROTATION: keyRotationSchema.optional(),
  BASED_REDIS_URL: redisUrl.optional(),
  BASED_ATTESTERS: urlList.optional(),
});
type EnvName = keyof z.infer<typeof envSchema>;

/** Names earlier versions read, and the name that replaced each. */
export const DEPRECATED_ENV: Readonly<Record<string, EnvName>> = {
  ATTESTER_PRIVATE_KEY: "BASED_PRIVATE_KEY",
  RELAYER_PRIVATE_KEY: "BASED_PRIVATE_KEY",
  GATEWAY_PRIVATE_KEY: "BASED_PRIVATE_KEY",
  REDIS_URL: "BASED_REDIS_URL",
};

function inputError(source: string, error: z.ZodError): BasedError {
  return new BasedError(
    "input",
    "InvalidConfig",
    `${source} is invalid: ${z.prettifyError(error)}`,
    "Fix the value or remove it to use the default; docs/architecture.md lists the variables and the config file's fields.",
  );
}

/** The environment's BASED_ values, with deprecated names filled in where the new one is unset. */
function readEnv(env: NodeJS.ProcessEnv): { vars: Record<string, string>; deprecations: string[] } {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env))
    if (k.startsWith("BASED_") && v !== undefined && v !== "") vars[k] = v;
  const deprecations: string[] = [];
  for (const [old, current] of Object.entries(DEPRECATED_ENV)) {
    const value = env[old];
    if (value === undefined || value === "") continue;
    deprecations.push(`${old} is deprecated: use ${current}`);
    vars[current] ??= value;
  }
  return { vars, deprecations };
}

function readConfigFile(file: string, explicit: boolean): ConfigFile | undefined {
  if (!fs.existsSync(file)) {
    if (!explicit) return undefined;
    throw new BasedError("input", "ConfigMissing", `The config file ${file} does not exist.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new BasedError("input", "InvalidConfig", `${file} is not JSON: ${(err as Error).message}`);
  }
  const parsed = configFileSchema.safeParse(json);
  if (!parsed.success) throw inputError(`Config file ${file}`, parsed.error);
  return parsed.data;
}

function parseFlag<T>(schema: z.ZodType<T>, value: string | undefined, flag: string): T | undefined {
  if (value === undefined) return undefined;
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw inputError(flag, parsed.error);
  return parsed.data;
}

/** Reads flags, environment and config file (in that order of precedence), validating each. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: ConfigOverrides = {}): BasedConfig {
  const { vars: raw, deprecations } = readEnv(env);
  const parsedEnv = envSchema.safeParse(raw);
  if (!parsedEnv.success) throw inputError("The environment", parsedEnv.error);
  const vars = parsedEnv.data;

  const home = env.HOME && env.HOME !== "" ? env.HOME : os.homedir();
  const configFile =
    flags.configFile ?? vars.BASED_CONFIG ?? path.join(home, ".config", "based", "config.json");
  const explicit = flags.configFile !== undefined || vars.BASED_CONFIG !== undefined;
  const read = readConfigFile(configFile, explicit);
  const file = read ?? {};
  const cacheHome =
    env.XDG_CACHE_HOME && env.XDG_CACHE_HOME !== "" ? env.XDG_CACHE_HOME : path.join(home, ".cache");

  const deploymentsFile = flags.deploymentsFile ?? vars.BASED_DEPLOYMENTS ?? file.deploymentsFile;
  const modelCache = flags.modelCacheDir ?? vars.BASED_MODEL_CACHE ?? file.modelCache;
  const keystore = vars.BASED_KEYSTORE ?? file.keystore;
  return {
    deploymentsFile: deploymentsFile ? path.resolve(deploymentsFile) : DEFAULT_DEPLOYMENTS_FILE,
    ethereumRpcUrl: vars.BASED_ETH_RPC_URL ?? file.ethereumRpcUrl,
    basedRpcUrl: vars.BASED_RPC_URL ?? file.basedRpcUrl,
    privateKey: vars.BASED_PRIVATE_KEY ?? file.privateKey,
    logLevel: vars.BASED_LOG_LEVEL ?? file.logLevel ?? flags.defaultLogLevel ?? "warn",
    gatewayUrl:
      parseFlag(httpUrl, flags.gatewayUrl, "--gateway") ?? vars.BASED_GATEWAY_URL ?? file.gatewayUrl,
    modelCacheDir: modelCache ? path.resolve(modelCache) : path.join(cacheHome, "based", "models"),
    keystoreDir: keystore ? path.resolve(keystore) : path.join(home, ".config", "based", "keys"),
    keyRotation:
      parseFlag(keyRotationSchema, flags.keyRotation, "--keys") ??
      vars.BASED_KEY_ROTATION ??
      file.keyRotation ??
      DEFAULT_KEY_ROTATION,
    redisUrl:
      parseFlag(redisUrl, flags.redisUrl, "--redis-url") ??
      vars.BASED_REDIS_URL ??
      file.redisUrl ??
      DEFAULT_REDIS_URL,
    attesterUrls: vars.BASED_ATTESTERS ?? file.attesters,
    configFile: read ? configFile : undefined,
    deprecations,
  };
}

/** The gateway on this machine that `npm run devnet` starts for its working Brain. */
export const DEVNET_GATEWAY_URL = `http://127.0.0.1:${DEFAULT_GATEWAY_PORT}`;

/**
 * The Brain's gateway: the configured one, else the devnet's on a devnet; elsewhere there is no
 * sensible default (the Brain's owner publishes it).
 */
export function gatewayUrlFor(config: Pick<BasedConfig, "gatewayUrl">, devnet: boolean): string {
  if (config.gatewayUrl !== undefined) return config.gatewayUrl;
  if (devnet) return DEVNET_GATEWAY_URL;
  throw new BasedError(
    "input",
    "NoGateway",
    "No gateway is configured for this network.",
    "Set BASED_GATEWAY_URL (or gatewayUrl in the config file) to the Brain's gateway; its owner publishes it.",
  );
}

/** What connecting to the chains needs (sdk/chain.ts), with the deployments read from their file. */
export function chainSettings(config: BasedConfig): ChainSettings {
  return {
    deployments: readDeployments(config.deploymentsFile),
    ethereumRpcUrl: config.ethereumRpcUrl,
    basedRpcUrl: config.basedRpcUrl,
    privateKey: config.privateKey,
  };
}
