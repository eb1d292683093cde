/**
 * A devnet whose oracle processes the tests control one by one: two Hardhat nodes (Ethereum with
 * a block per transaction, the BasedAI chain with interval blocks), both sides deployed by the
 * devnet's own deploy scripts (scripts/devnet/deploy-*.ts), then N attesters and a relayer, each a
 * separate `node --require tsx/cjs oracle/…/main.ts` process that a test may kill (SIGTERM or
 * SIGKILL) and start again with the same state directory, as an operator would.
 *
 * `npm run devnet` (scripts/devnet.ts) runs the same pieces but owns its children; use this when a
 * test or a benchmark needs to stop and restart an individual attester or the relayer.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import {
  type Account,
  type Address,
  type Chain,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { attesterThreshold } from "../../protocol/message";
import { type ChainName, chainContext, deploymentOf, requireWallet } from "../../sdk/chain";
import { jsonRpc, startBasedClock, writeDevnetDeployments } from "../../scripts/devnet/network";
import type { Deployments } from "../../sdk/deployments";
import { DEVNET_ATTESTER_ACCOUNTS, DEVNET_RELAYER_ACCOUNT, devnetPrivateKey } from "../../sdk/devnet";
import { ROOT, freePort, freePortRange, tempDir } from "./processes";

const HARDHAT_CLI = require.resolve("hardhat/internal/cli/bootstrap.js");
const TSX = ["--require", "tsx/cjs"];

export type OracleNetworkOptions = {
  /** Attesters to run (keys: devnet accounts 10, 11, …); default 4, threshold floor(2n/3)+1. */
  attesters?: number;
  /** Seconds between BasedAI-chain blocks (default 1). */
  basedBlockTime?: number;
  /** Poll interval of the attesters and the relayer (default 250 ms). */
  pollMs?: number;
  /** Blocks an event must be buried under before the attesters sign it (default 0). */
  finalityDepth?: number;
  timeoutMs?: number;
};

/** One oracle service process that can be stopped and started again. */
export type Service = {
  name: string;
  /** Its HTTP endpoint (attesters only). */
  url?: string;
  /** The account it signs with. */
  address: Address;
  running(): boolean;
  start(): Promise<void>;
  /** Stops it with `signal` (SIGTERM: clean shutdown; SIGKILL: a crash) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** What it logged so far (all its runs). */
  log(): string;
};

export type ChainHandle = {
  chainId: number;
  rpcUrl: string;
  client: PublicClient<Transport, Chain>;
  /** A wallet client of devnet account `index` on this chain. */
  wallet(index: number): WalletClient<Transport, Chain, Account>;
  rpc(method: string, params?: unknown[]): Promise<unknown>;
};

export type OracleNetwork = {
  stateDir: string;
  deploymentsFile: string;
  deployments: Deployments;
  ethereum: ChainHandle;
  based: ChainHandle;
  attesters: Service[];
  attesterUrls: string[];
  threshold: number;
  relayer: Service;
  /** Stops every process (SIGKILL after a grace period). */
  stop(): Promise<void>;
};

/** Polls `check` until it returns something other than undefined/false, or fails with `what`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs: number,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError ? ` (last error: ${(lastError as Error).message.split("\n")[0]})` : "";
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Every process this module started, so a crashed test run still kills them on exit. */
const everyChild = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of everyChild) if (child.exitCode === null) child.kill("SIGKILL");
});

function spawnLogged(args: string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const out = fs.openSync(logFile, "a");
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", out, out],
  });
  fs.closeSync(out);
  everyChild.add(child);
  child.once("exit", () => everyChild.delete(child));
  return child;
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals, graceMs = 5_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited(child);
  clearTimeout(timer);
}

function service(
  name: string,
  address: Address,
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
  ready: () => Promise<boolean>,
  url?: string,
): Service {
  let child: ChildProcess | undefined;
  return {
    name,
    url,
    address,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    async start() {
      if (this.running()) throw new Error(`${name} is already running`);
      fs.appendFileSync(logFile, `\n--- start ${new Date().toISOString()} ---\n`);
      child = spawnLogged(args, env, logFile);
      const current = child;
      await waitFor(
        `${name} to start (log: ${logFile})`,
        async () => {
          if (current.exitCode !== null) throw new Error(`${name} exited with ${current.exitCode}`);
          return ready();
        },
        60_000,
        200,
      );
    },
    async stop(signal = "SIGTERM") {
      await stopChild(child, signal);
    },
    log: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : ""),
  };
}

function chainHandle(deployments: Deployments, name: ChainName): ChainHandle {
  const deployment = deploymentOf(deployments, name);
  return {
    chainId: deployment.chainId,
    rpcUrl: deployment.rpcUrl,
    client: chainContext({ deployments }, name).publicClient,
    wallet: (index) =>
      requireWallet(chainContext({ deployments }, name, privateKeyToAccount(devnetPrivateKey(index)))),
    rpc: (method, params) => jsonRpc(deployment.rpcUrl, method, params),
  };
}

/** Starts both chains, deploys, and starts the attesters and the relayer; see the file comment. */
export async function startOracleNetwork(options: OracleNetworkOptions = {}): Promise<OracleNetwork> {
  const count = options.attesters ?? DEVNET_ATTESTER_ACCOUNTS.length;
  const pollMs = options.pollMs ?? 250;
  const basedBlockTime = options.basedBlockTime ?? 1;
  // Services log at info to files in the state directory (the relayer's readiness is its start line).
  const logLevel = "info";
  const stateDir = tempDir("based-oracle");
  const deploymentsFile = path.join(stateDir, "deployments.json");
  const logFile = (name: string) => path.join(stateDir, `${name}.log`);
  const [ethPort, basedPort, attesterPort] = await Promise.all([
    freePort(),
    freePort(),
    freePortRange(count),
  ]);
  const ethRpc = `http://127.0.0.1:${ethPort}`;
  const basedRpc = `http://127.0.0.1:${basedPort}`;
  const nodes: ChildProcess[] = [];
  const services: Service[] = [];

  const stop = async () => {
    await Promise.all(services.map((s) => s.stop("SIGTERM")));
    await Promise.all(nodes.map((n) => stopChild(n, "SIGTERM")));
  };

  try {
    const node = (port: number, chain: string) =>
      spawnLogged(
        [HARDHAT_CLI, "node", "--hostname", "127.0.0.1", "--port", String(port)],
        { DEVNET_CHAIN: chain },
        logFile(chain),
      );
    nodes.push(node(ethPort, "ethereum"), node(basedPort, "based"));
    const compile = spawnLogged([HARDHAT_CLI, "compile", "--quiet"], {}, logFile("deploy"));
    await exited(compile);
    if (compile.exitCode !== 0) throw new Error(`compilation failed: see ${logFile("deploy")}`);
    for (const [url, n] of [
      [ethRpc, nodes[0]!],
      [basedRpc, nodes[1]!],
    ] as const) {
      await waitFor(
        `the node at ${url}`,
        async () => {
          if (n.exitCode !== null) throw new Error(`node exited with ${n.exitCode}`);
          return (await jsonRpc(url, "eth_chainId")) !== undefined;
        },
        60_000,
        250,
      );
    }

    const attesterKeys = Array.from({ length: count }, (_, i) =>
      devnetPrivateKey(DEVNET_ATTESTER_ACCOUNTS[0] + i),
    );
    const attesterAddresses = attesterKeys.map((k) => privateKeyToAccount(k).address);
    const sorted = [...attesterAddresses].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    const ethOut = path.join(stateDir, "ethereum.deploy.json");
    const basedOut = path.join(stateDir, "based.deploy.json");
    const deploy = (script: string, network: string, out: string, env: NodeJS.ProcessEnv) => {
      const child = spawnLogged(
        [HARDHAT_CLI, "run", "--no-compile", "--network", network, script],
        { ...env, DEVNET_OUT: out, DEVNET_ATTESTERS: sorted.join(",") },
        logFile("deploy"),
      );
      return exited(child).then(() => child.exitCode);
    };
    const codes = await Promise.all([
      deploy("scripts/devnet/deploy-ethereum.ts", "localhost", ethOut, { DEVNET_ETH_RPC: ethRpc }),
      deploy("scripts/devnet/deploy-based.ts", "basedLocal", basedOut, { DEVNET_BASED_RPC: basedRpc }),
    ]);
    if (codes.some((c) => c !== 0)) {
      throw new Error(`deployment failed:\n${fs.readFileSync(logFile("deploy"), "utf8").slice(-4000)}`);
    }
    const deployments = writeDevnetDeployments(
      deploymentsFile,
      { ethereum: ethOut, based: basedOut },
      sorted,
    );
    await startBasedClock(basedRpc, basedBlockTime);

    const attesters = attesterKeys.map((key, i) => {
      const port = attesterPort + i;
      const url = `http://127.0.0.1:${port}`;
      return service(
        `attester ${i + 1}`,
        attesterAddresses[i]!,
        [
          ...TSX,
          "oracle/attester/main.ts",
          "--deployments",
          deploymentsFile,
          "--state-dir",
          stateDir,
          "--port",
          String(port),
          "--ethereum-finality",
          `depth:${options.finalityDepth ?? 0}`,
          "--based-finality",
          `depth:${options.finalityDepth ?? 0}`,
          ...(options.finalityDepth ? [] : ["--allow-zero-finality"]),
          "--poll-ms",
          String(pollMs),
        ],
        { BASED_LOG_LEVEL: logLevel, BASED_PRIVATE_KEY: key },
        logFile(`attester-${i + 1}`),
        async () => {
          try {
            return (await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) })).ok;
          } catch {
            return false;
          }
        },
        url,
      );
    });
    const attesterUrls = attesters.map((a) => a.url!);
    const relayerKey = devnetPrivateKey(DEVNET_RELAYER_ACCOUNT);
    const relayerLog = logFile("relayer");
    const relayer = service(
      "relayer",
      privateKeyToAccount(relayerKey).address,
      [
        ...TSX,
        "oracle/relayer/main.ts",
        "--deployments",
        deploymentsFile,
        "--state-dir",
        stateDir,
        "--poll-ms",
        String(pollMs),
        ...attesterUrls.flatMap((u) => ["--attester", u]),
      ],
      { BASED_LOG_LEVEL: logLevel, BASED_PRIVATE_KEY: relayerKey },
      relayerLog,
      // Ready once this run logged its start line (the file holds every run, so count them).
      async () => {
        const text = fs.readFileSync(relayerLog, "utf8");
        const runs = text.split("--- start ").length - 1;
        return text.split('"msg":"relayer started"').length - 1 >= runs;
      },
    );
    services.push(...attesters, relayer);
    await Promise.all(services.map((s) => s.start()));

    return {
      stateDir,
      deploymentsFile,
      deployments,
      ethereum: chainHandle(deployments, "ethereum"),
      based: chainHandle(deployments, "based"),
      attesters,
      attesterUrls,
      threshold: attesterThreshold(count),
      relayer,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
