import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { DEFAULT_REDIS_URL } from "../../protocol/gateway";
import { deleteRedisPrefix } from "../../compute/gateway/redis-prefix";
import { devnetRedisPrefix } from "../../scripts/devnet/brain-services";

export const ROOT = path.resolve(__dirname, "..", "..");

/**
 * A TCP port that was free a moment ago. Chosen below Linux's ephemeral range (32768–60999):
 * a port the OS hands out for outgoing connections (the services' own RPC traffic) could be
 * taken between this check and the service binding it.
 */
export function freePort(): Promise<number> {
  return freePortRange(1);
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

export type RunningDevnet = {
  process: ChildProcess;
  stateDir: string;
  deploymentsFile: string;
  rpcUrl: string;
  basedRpcUrl: string;
  attesterPort: number;
  /** Brain #3's gateway (running only with `brainServices`). */
  gatewayUrl: string;
  output: () => string;
  /** Sends SIGINT (Ctrl-C) and resolves with the exit code. */
  stop(): Promise<number | null>;
};

/** Ports this process handed out already: never twice, even to parallel callers. */
const handedOut = new Set<number>();

/** `count` consecutive TCP ports that were free a moment ago, below the ephemeral range. */
export async function freePortRange(count: number): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * (12_000 - count));
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if (ports.some((p) => handedOut.has(p))) continue;
    ports.forEach((p) => handedOut.add(p));
    const free = await Promise.all(
      Array.from(
        { length: count },
        (_, i) =>
          new Promise<boolean>((resolve) => {
            const server = net.createServer();
            server.once("error", () => resolve(false));
            server.listen(base + i, "127.0.0.1", () => server.close(() => resolve(true)));
          }),
      ),
    );
    if (free.every(Boolean)) return base;
    ports.forEach((p) => handedOut.delete(p));
  }
}

export type DevnetOptions = {
  /** Seconds between BasedAI-chain blocks (the devnet default is 10; tests use 1). */
  basedBlockTime?: number;
  /** False: the attesters do not report epochs (for tests that sign their own reports). */
  epochReports?: boolean;
  /** True: Brain #3's gateway, two miners and two validators too (as `npm run devnet` runs them). */
  brainServices?: boolean;
  timeoutMs?: number;
};

/** Starts `npm run devnet` (scripts/devnet.ts) on free ports and waits until it is ready. */
export async function startDevnet(options: DevnetOptions = {}): Promise<RunningDevnet> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const stateDir = tempDir("based-devnet");
  const port = await freePort();
  const basedPort = await freePort();
  const attesterPort = await freePortRange(4);
  const gatewayPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      "--require",
      "tsx/cjs",
      "scripts/devnet.ts",
      "--eth-port",
      String(port),
      "--based-port",
      String(basedPort),
      "--attester-port",
      String(attesterPort),
      "--based-block-time",
      String(options.basedBlockTime ?? 1),
      "--state-dir",
      stateDir,
      ...(options.epochReports === false ? ["--no-epoch-reports"] : []),
      ...(options.brainServices === true ? ["--gateway-port", String(gatewayPort)] : ["--no-brain-services"]),
    ],
    { cwd: ROOT, env: { ...process.env, BASED_LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  const deadline = Date.now() + timeoutMs;
  while (!output.includes("devnet ready")) {
    if (child.exitCode !== null) throw new Error(`devnet exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`devnet not ready after ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    process: child,
    stateDir,
    deploymentsFile: path.join(stateDir, "deployments.json"),
    rpcUrl: `http://127.0.0.1:${port}`,
    basedRpcUrl: `http://127.0.0.1:${basedPort}`,
    attesterPort,
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill("SIGINT");
      const code = await exited;
      // Its gateway's queues and blobs: other suites share this Redis.
      if (options.brainServices === true)
        await deleteRedisPrefix(process.env.REDIS_URL ?? DEFAULT_REDIS_URL, devnetRedisPrefix(stateDir));
      return code;
    },
  };
}

export type CliResult = {
  status: number | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown>;
};

/** Runs `based …` (bin/based.js) to completion with the given environment. */
export function based(args: string[], env: NodeJS.ProcessEnv): CliResult {
  const result = spawnSync(process.execPath, [path.join(ROOT, "bin", "based.js"), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  let json: Record<string, unknown> = {};
  if (args.includes("--json")) {
    try {
      json = JSON.parse(result.stdout) as Record<string, unknown>;
    } catch {
      throw new Error(`based ${args.join(" ")} printed no JSON:\n${result.stdout}\n${result.stderr}`);
    }
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, json };
}

/**
 * `node <args>` run to completion without blocking the event loop (so several can run side by
 * side); stdout is parsed as JSON when `--json` is among the arguments.
 */
export function runNode(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("close", (status) => {
      clearTimeout(timer);
      let json: Record<string, unknown> = {};
      if (args.includes("--json")) {
        try {
          json = JSON.parse(stdout) as Record<string, unknown>;
        } catch {
          reject(new Error(`${args.join(" ")} printed no JSON:\n${stdout}\n${stderr}`));
          return;
        }
      }
      resolve({ status, stdout, stderr, json });
    });
  });
}

/** `based …` (bin/based.js) as `runNode` runs it. */
export function basedAsync(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return runNode([path.join(ROOT, "bin", "based.js"), ...args], env);
}
