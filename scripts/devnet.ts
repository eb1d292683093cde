/**
 * `npm run devnet`: a whole local BasedAI network with embedded defaults.
 *
 * Starts a Hardhat node as the Ethereum chain (127.0.0.1:8545, chain id 31337), deploys the
 * Ethereum side with Ignition, funds the devnet accounts with PEPE, writes the deployments file
 * that the SDK and the `based` command read, prints what it started, and keeps running until
 * Ctrl-C (then stops the node and removes the deployments file, which would be stale).
 *
 * Flags (all optional): --eth-port <n>, --state-dir <dir> (default .devnet), --pepecoin <address>.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { createPublicClient, formatEther, http } from "viem";
import { z } from "zod";
import { readDeployments } from "../sdk/deployments";
import { DEVNET_ACCOUNTS, DEVNET_ETHEREUM, DEVNET_PEPE_PER_ACCOUNT, devnetPrivateKey } from "../sdk/devnet";
import { privateKeyToAccount } from "viem/accounts";

const ROOT = path.resolve(__dirname, "..");
const HARDHAT_CLI = require.resolve("hardhat/internal/cli/bootstrap.js");

const optionsSchema = z.object({
  ethPort: z.coerce.number().int().min(1).max(65535).default(DEVNET_ETHEREUM.port),
  stateDir: z.string().min(1).default(path.join(ROOT, ".devnet")),
  pepecoin: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, "expected a 20-byte hex address")
    .optional(),
});

const log = pino({
  level: process.env.BASED_LOG_LEVEL ?? "info",
  transport: process.stdout.isTTY
    ? { target: "pino-pretty", options: { ignore: "pid,hostname" } }
    : undefined,
});

function parseOptions() {
  const { values } = parseArgs({
    options: {
      "eth-port": { type: "string" },
      "state-dir": { type: "string" },
      pepecoin: { type: "string" },
    },
    strict: true,
  });
  const parsed = optionsSchema.safeParse({
    ethPort: values["eth-port"],
    stateDir: values["state-dir"],
    pepecoin: values.pepecoin,
  });
  if (!parsed.success) {
    console.error(`devnet: ${z.prettifyError(parsed.error)}`);
    process.exit(2);
  }
  return { ...parsed.data, stateDir: path.resolve(parsed.data.stateDir) };
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

function hardhat(args: string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const out = fs.openSync(logFile, "a");
  return spawn(process.execPath, [HARDHAT_CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", out, out],
  });
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

async function waitForRpc(url: string, node: ChildProcess, timeoutMs: number): Promise<void> {
  const client = createPublicClient({ transport: http(url, { retryCount: 0, timeout: 2_000 }) });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (node.exitCode !== null) throw new Error(`the Ethereum node exited with code ${node.exitCode}`);
    try {
      await client.getChainId();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`the Ethereum node did not answer at ${url} within ${timeoutMs / 1000} s`);
}

async function main(): Promise<void> {
  const options = parseOptions();
  fs.mkdirSync(options.stateDir, { recursive: true });
  const deploymentsFile = path.join(options.stateDir, "deployments.json");
  const nodeLog = path.join(options.stateDir, "ethereum.log");
  const rpcUrl = `http://127.0.0.1:${options.ethPort}`;

  if (!(await portIsFree(options.ethPort))) {
    log.error(
      `port ${options.ethPort} is in use: is another devnet running? Stop it (Ctrl-C) or start this one with --eth-port <n>.`,
    );
    process.exit(4);
  }
  fs.rmSync(deploymentsFile, { force: true });
  fs.writeFileSync(nodeLog, "");

  log.info("compiling contracts");
  const compile = hardhat(["compile", "--quiet"], {}, nodeLog);
  if ((await exited(compile)) !== 0) throw new Error(`compilation failed: see ${nodeLog}`);

  log.info({ rpcUrl }, "starting the Ethereum chain (Hardhat node, chain id 31337)");
  const node = hardhat(["node", "--hostname", "127.0.0.1", "--port", String(options.ethPort)], {}, nodeLog);
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    fs.rmSync(deploymentsFile, { force: true });
    node.kill("SIGTERM");
    process.exitCode = code;
  };
  process.once("SIGINT", () => stop(0));
  process.once("SIGTERM", () => stop(0));
  void exited(node).then((code) => {
    if (!stopping) {
      log.error({ code }, `the Ethereum node stopped unexpectedly: see ${nodeLog}`);
      stop(1);
    }
  });

  try {
    await waitForRpc(rpcUrl, node, 60_000);
    log.info("deploying the Ethereum side with Ignition");
    const deploy = hardhat(
      ["run", "--network", "localhost", "scripts/devnet/deploy-ethereum.ts"],
      {
        DEVNET_ETH_RPC: rpcUrl,
        DEVNET_DEPLOYMENTS_FILE: deploymentsFile,
        DEVNET_PEPECOIN: options.pepecoin ?? "",
      },
      nodeLog,
    );
    if ((await exited(deploy)) !== 0) throw new Error(`deployment failed: see ${nodeLog}`);
  } catch (err) {
    log.error((err as Error).message);
    stop(1);
    return;
  }

  const deployments = readDeployments(deploymentsFile);
  const dev = privateKeyToAccount(devnetPrivateKey(DEVNET_ACCOUNTS.dev));
  const labs = privateKeyToAccount(devnetPrivateKey(DEVNET_ACCOUNTS.labs));
  const c = deployments.ethereum.contracts;
  const lines = [
    "",
    "BasedAI devnet is running.",
    `  Ethereum     ${rpcUrl}  (chain id ${deployments.ethereum.chainId}, log ${path.relative(ROOT, nodeLog)})`,
    `  Pepecoin     ${c.Pepecoin}${deployments.ethereum.testPepecoin ? "  (TestPepecoin, open faucet)" : ""}`,
    `  BrainNFT     ${c.BrainNFT}`,
    `  WrappedBased ${c.WrappedBased}`,
    `  Deployments  ${deploymentsFile}`,
    `  Dev account  ${dev.address}${deployments.ethereum.testPepecoin ? ` with ${formatEther(DEVNET_PEPE_PER_ACCOUNT)} PEPE` : ""} (the based command's default key on devnet)`,
    `  Labs         ${labs.address} (owns the reserved Brains #0–#6 and #47)`,
    "",
    "Try, in another terminal:",
    "  npx based brain mint --burn",
    "  npx based brain show 7",
    "",
    "Press Ctrl-C to stop.",
    "",
  ];
  process.stdout.write(lines.join("\n"));
  // Machine-readable readiness line for scripts and tests that start the devnet.
  log.info({ deploymentsFile }, "devnet ready");
}

main().catch((err) => {
  log.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
