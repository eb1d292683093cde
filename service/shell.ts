/**
 * The one way a long-running service of the network starts and stops: the attester, the relayer,
 * a Brain's gateway, miner and validator are each a `ServiceDefinition` run by this shell, from
 * their `main.ts` (`serviceMain`) or from a `based … start` command (`runService`).
 *
 * The shell owns what every service needs the same way:
 * - configuration: the service's own options (flags, validated by its zod schema) and the shared
 *   settings from sdk/config.ts (flags, then environment, then config file), one error for both;
 * - logging: pino JSON lines tagged with the service's name, at `info` unless configured;
 * - health: `GET /health` on `--health-port` when asked, with what the service reports;
 * - shutdown: the first SIGINT/SIGTERM aborts `ctx.signal` and the service finishes or hands back
 *   its work; past `shutdownTimeoutMs` the shell gives up on it; a second signal exits at once. A
 *   process that runs one service (`serviceMain`, `exitProcess`) exits once it stopped or was given
 *   up on, whatever it left behind: a stop is bounded by `shutdownTimeoutMs` + `EXIT_GRACE_MS`.
 */
import http from "node:http";
import { parseArgs } from "node:util";
import pino, { type Logger } from "pino";
import { z } from "zod";
import { type BasedConfig, type ConfigOverrides, loadConfig } from "../sdk/node/config";
import { BasedError } from "../sdk/errors";

export type FlagSpec = {
  type: "string" | "boolean";
  multiple?: boolean;
  /** One line for `--help`. */
  description: string;
};

export type ServiceContext<O> = {
  options: O;
  config: BasedConfig;
  log: Logger;
  /** Aborted on the first SIGINT or SIGTERM: take no new work, finish or hand back what is in flight. */
  signal: AbortSignal;
  /** What `GET /health` reports beside `ok`, the service's name and its uptime. */
  setHealth(report: () => Record<string, unknown>): void;
};

export type ServiceDefinition<O, R = void> = {
  /** `attester`, `gateway`, …: the `service` field of every log line. */
  name: string;
  /** One paragraph for `--help`. */
  summary: string;
  /** The service's own flags (kebab-case; camelCase keys in `options`). */
  flags: Record<string, FlagSpec>;
  options: z.ZodType<O>;
  /** Environment variables the service reads as options (name → option key); flags win. */
  env?: Record<string, string>;
  /** How long a stop may take before the shell gives up on it (default 30 s). */
  shutdownTimeoutMs?: number;
  /** Runs until `ctx.signal` aborts (or the work is done), then cleans up and returns. */
  run(ctx: ServiceContext<O>): Promise<R>;
};

/** Flags every service takes: they set the shared configuration, not the service's options. */
export const SHELL_FLAGS: Record<string, FlagSpec> = {
  config: { type: "string", description: "config file (JSON; default ~/.config/based/config.json)" },
  deployments: { type: "string", description: "deployments file (default: the devnet's)" },
  "health-port": { type: "string", description: "serve GET /health on this port of 127.0.0.1" },
  help: { type: "boolean", description: "print this help" },
};

/** Shared settings a service may also take as flags (when it declares them). */
const CONFIG_FLAGS: Record<string, keyof ConfigOverrides> = {
  config: "configFile",
  deployments: "deploymentsFile",
  gateway: "gatewayUrl",
  "model-cache": "modelCacheDir",
  "redis-url": "redisUrl",
};

const healthPort = z.coerce.number().int().min(0).max(65_535);

export type RunInput = {
  /** Parsed flags, camelCase keys (from commander or `parseArgs`). */
  flags: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  /** Where log lines go: 1 (stdout) for a service process, 2 when a command prints its result on stdout. */
  logTo?: 1 | 2;
  /**
   * The process runs this service alone (`based miner|validator start`): once the service has
   * stopped, or been given up on, the process exits within `EXIT_GRACE_MS` even when something
   * the service abandoned (a request, a timer, a worker) still holds it open.
   */
  exitProcess?: boolean;
};

/** How long a process that ran a service alone may take to exit by itself after the stop. */
export const EXIT_GRACE_MS = 2_000;

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Validates the flags (and the variables the service reads) into its options and the shared configuration. */
export function configure<O>(
  def: Pick<ServiceDefinition<O, unknown>, "name" | "options" | "env">,
  input: RunInput,
): { options: O; config: BasedConfig; healthPort?: number } {
  const env = input.env ?? process.env;
  const overrides: ConfigOverrides = { defaultLogLevel: "info" };
  const own: Record<string, unknown> = {};
  /** Where each option came from, to name it in errors: `--workers` or `BASED_MINER_FAULT`. */
  const source: Record<string, string> = {};
  for (const [name, key] of Object.entries(def.env ?? {})) {
    const value = env[name];
    if (value !== undefined && value !== "") {
      own[key] = value;
      source[key] = name;
    }
  }
  for (const [rawKey, value] of Object.entries(input.flags)) {
    if (value === undefined) continue;
    // `--no-register` arrives as { noRegister: true } from parseArgs, { register: false } from commander.
    const negated = /^no[A-Z]/.test(rawKey) && typeof value === "boolean";
    const key = negated ? rawKey[2]!.toLowerCase() + rawKey.slice(3) : rawKey;
    const shared = Object.entries(CONFIG_FLAGS).find(([flag]) => camel(flag) === key)?.[1];
    if (shared) (overrides as Record<string, unknown>)[shared] = value;
    else if (key !== "healthPort" && key !== "help") {
      own[key] = negated ? !value : value;
      source[key] = `--${kebab(rawKey)}`;
    }
  }
  const config = loadConfig(env, overrides);
  const parsed = def.options.safeParse(own);
  if (!parsed.success) {
    const reasons = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? "");
      return `${source[key] ?? (key ? `--${kebab(key)}` : "options")}: ${issue.message}`;
    });
    throw new BasedError(
      "input",
      "InvalidConfig",
      `invalid configuration: ${reasons.join("; ")}`,
      "Fix the flag (`--help` lists them) or the variable, then start again.",
    );
  }
  // An option the schema does not know would be dropped without a word: refuse it instead.
  const unknown = Object.keys(own).filter((k) => !(k in (parsed.data as object)));
  if (unknown.length > 0) {
    throw new BasedError(
      "input",
      "InvalidConfig",
      `invalid configuration: ${unknown.map((k) => source[k] ?? k).join(", ")} is not an option of the ${def.name}`,
      "`--help` lists its options.",
    );
  }
  let port: number | undefined;
  if (input.flags.healthPort !== undefined) {
    const p = healthPort.safeParse(input.flags.healthPort);
    if (!p.success)
      throw new BasedError(
        "input",
        "InvalidConfig",
        "invalid configuration: --health-port must be a port number",
      );
    port = p.data;
  }
  return { options: parsed.data, config, healthPort: port };
}

function serveHealth(
  port: number,
  name: string,
  report: () => Record<string, unknown>,
  log: Logger,
): http.Server {
  const started = Date.now();
  const server = http.createServer((req, res) => {
    if (req.method !== "GET" || req.url !== "/health") {
      res.writeHead(404).end();
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = { ok: true, service: name, uptimeS: Math.round((Date.now() - started) / 1000), ...report() };
    } catch (err) {
      body = { ok: false, service: name, error: (err as Error).message };
    }
    res.writeHead(body.ok ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify(body));
  });
  server.listen(port, "127.0.0.1", () =>
    log.info({ port: (server.address() as { port: number }).port }, "health endpoint"),
  );
  return server;
}

/**
 * Runs a service to its end: configuration, logger, health, signals, bounded shutdown. Throws a
 * `BasedError` for bad configuration (before anything starts) and whatever the service throws.
 */
export async function runService<O, R>(def: ServiceDefinition<O, R>, input: RunInput): Promise<R> {
  const { options, config, healthPort: port } = configure(def, input);
  const log = pino(
    { name: def.name, level: config.logLevel, base: { service: def.name } },
    pino.destination({ fd: input.logTo ?? 1, sync: true }),
  );
  for (const note of config.deprecations) log.warn(note);

  const controller = new AbortController();
  let report: () => Record<string, unknown> = () => ({});
  const health = port === undefined ? undefined : serveHealth(port, def.name, () => report(), log);
  const timeoutMs = def.shutdownTimeoutMs ?? 30_000;
  let giveUp: NodeJS.Timeout | undefined;
  let abandoned: () => void = () => {};
  let givenUp: BasedError | undefined;
  const gaveUp = new Promise<never>((_, reject) => {
    abandoned = () => {
      givenUp = new BasedError(
        "environment",
        "ShutdownTimeout",
        `${def.name} did not stop within ${timeoutMs / 1000} s; exiting with its work unfinished.`,
        "Work it held is handed back when its locks expire.",
      );
      reject(givenUp);
    };
  });
  gaveUp.catch(() => {});
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      log.warn({ signal }, `${signal} again: stopping now`);
      process.exit(130);
    }
    log.info({ signal }, `${def.name} stopping (again to force)`);
    controller.abort();
    giveUp = setTimeout(abandoned, timeoutMs);
    giveUp.unref();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await Promise.race([
      def.run({ options, config, log, signal: controller.signal, setHealth: (r) => (report = r) }),
      gaveUp,
    ]);
  } finally {
    clearTimeout(giveUp);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    health?.close();
    log.info(`${def.name} stopped`);
    if (input.exitProcess) {
      // Unref'd: a process with nothing left open exits by itself first, with its own code.
      setTimeout(() => {
        log.warn(`${def.name} left work behind that holds the process open; exiting`);
        const code = process.exitCode;
        process.exit(typeof code === "number" ? code : (givenUp?.exitCode ?? 0));
      }, EXIT_GRACE_MS).unref();
    }
  }
}

function helpText(def: ServiceDefinition<unknown, unknown>): string {
  const flags = { ...def.flags, ...SHELL_FLAGS };
  const width = Math.max(...Object.keys(flags).map((f) => f.length)) + 4;
  const lines = Object.entries(flags).map(
    ([flag, spec]) =>
      `  --${flag}${spec.type === "string" ? " <value>" : ""}`.padEnd(width + 12) + spec.description,
  );
  return `${def.summary}\n\nOptions:\n${lines.join("\n")}\n\nThe key is BASED_PRIVATE_KEY (or privateKey in the config file); \`based --help\` lists the other variables.\n`;
}

/** The whole of a service's `main.ts`: flags from argv, exit codes as the `based` command's. */
export function serviceMain<O, R>(def: ServiceDefinition<O, R>, argv = process.argv.slice(2)): void {
  const flags = { ...def.flags, ...SHELL_FLAGS };
  const start = async (): Promise<number> => {
    let values: Record<string, unknown>;
    try {
      values = parseArgs({
        args: argv,
        options: Object.fromEntries(
          Object.entries(flags).map(([f, s]) => [f, { type: s.type, multiple: s.multiple === true }]),
        ),
        strict: true,
      }).values;
    } catch (err) {
      throw new BasedError("input", "InvalidConfig", `invalid configuration: ${(err as Error).message}`);
    }
    if (values.help) {
      process.stdout.write(helpText(def as ServiceDefinition<unknown, unknown>));
      return 0;
    }
    const camelCased = Object.fromEntries(Object.entries(values).map(([k, v]) => [camel(k), v]));
    await runService(def, { flags: camelCased });
    return 0;
  };
  start().then(
    (code) => process.exit(code),
    (err: unknown) => {
      const based = err instanceof BasedError ? err : undefined;
      process.stderr.write(
        based
          ? `${based.message}\n${based.hint ? `  → ${based.hint}\n` : ""}`
          : `${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(based ? based.exitCode : 1);
    },
  );
}
