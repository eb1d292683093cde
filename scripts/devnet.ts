/**
 * `npm run devnet`: a whole local BasedAI network with embedded defaults.
 *
 * - Ethereum: a Hardhat node on 127.0.0.1:8545 (chain id 31337, a block per transaction and an empty one every 12 s);
 * - the BasedAI chain: a Hardhat node on 127.0.0.1:9545 (chain id 32323, 10-second blocks);
 * - both sides deployed with Ignition, GigaBrain governance included; every admin role ends with a
 *   timelock or a guardian multisig (docs/governance.md); devnet accounts #0–#4 get PEPE and BASED;
 * - four attesters (devnet accounts 10–13, HTTP 7101–7104; threshold 3) and a relayer (account 14);
 * - the deployments file that the SDK, the `based` command and the services read.
 * It prints what it started and runs until Ctrl-C (or SIGTERM), then stops everything and removes
 * the deployments file (which would be stale): SIGTERM to every child, SIGKILL to those still
 * running after STOP_BOUND_MS or at a second Ctrl-C (scripts/devnet/children.ts), then it exits.
 *
 * Flags (all optional): --eth-port, --based-port, --attester-port (first of four),
 * --based-block-time <seconds>, --state-dir <dir> (default .devnet), --pepecoin <address>,
 * --no-epoch-reports (the attesters do not compute and sign epoch reports: for tests that sign
 * their own), --gateway-port (Brain #3's gateway, default 7200), --redis-url (default
 * redis://127.0.0.1:6379), --no-brain-services (no gateway, miners or validators: for tests that
 * bring their own).
 */
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { createPublicClient, formatEther, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import { loadConfig } from "../sdk/node/config";
import { deleteRedisPrefix } from "../compute/gateway/redis-prefix";
import { attesterThreshold } from "../protocol/message";
import { addressSchema } from "../protocol/schemas";
import { readDeployments } from "../sdk/node/deployments-file";
import { devnetRedisPrefix, prepareDevnetBrain } from "./devnet/brain-services";
import { Children, exited } from "./devnet/children";
import { startBasedClock, startEthereumClock, writeDevnetDeployments } from "./devnet/network";
import {
  DEVNET_ACCOUNTS,
  DEVNET_ATTESTER_ACCOUNTS,
  DEVNET_ATTESTER_PORT,
  DEVNET_BASED,
  DEVNET_BASED_PER_ACCOUNT,
  DEVNET_BRAIN,
  DEVNET_ETHEREUM,
  DEVNET_ECONOMY,
  DEVNET_GOVERNANCE,
  DEVNET_GUARDIAN_ACCOUNTS,
  DEVNET_PEPE_PER_ACCOUNT,
  DEVNET_RELAYER_ACCOUNT,
  devnetPrivateKey,
} from "../sdk/devnet";

const ROOT = path.resolve(__dirname, "..");
const HARDHAT_CLI = require.resolve("hardhat/internal/cli/bootstrap.js");
const TSX = ["--require", "tsx/cjs"];
const BASED_BIN = path.join(ROOT, "bin", "based.js");

const port = z.coerce.number().int().min(1).max(65535);
const optionsSchema = z.object({
  ethPort: port.default(DEVNET_ETHEREUM.port),
  basedPort: port.default(DEVNET_BASED.port),
  attesterPort: port.default(DEVNET_ATTESTER_PORT),
  basedBlockTime: z.coerce.number().min(0.1).max(600).default(DEVNET_BASED.blockTimeSeconds),
  stateDir: z.string().min(1).default(path.join(ROOT, ".devnet")),
  pepecoin: addressSchema.optional(),
  epochReports: z.boolean().default(true),
  gatewayPort: port.default(DEVNET_BRAIN.gatewayPort),
  redisUrl: z.string().regex(/^rediss?:\/\//, "expected a redis:// URL"),
  brainServices: z.boolean().default(true),
});
type Options = z.infer<typeof optionsSchema>;

const log = pino({
  level: process.env.BASED_LOG_LEVEL ?? "info",
  transport: process.stdout.isTTY
    ? { target: "pino-pretty", options: { ignore: "pid,hostname" } }
    : undefined,
});

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      "eth-port": { type: "string" },
      "based-port": { type: "string" },
      "attester-port": { type: "string" },
      "based-block-time": { type: "string" },
      "state-dir": { type: "string" },
      pepecoin: { type: "string" },
      "no-epoch-reports": { type: "boolean" },
      "gateway-port": { type: "string" },
      "redis-url": { type: "string" },
      "no-brain-services": { type: "boolean" },
    },
    strict: true,
  });
  const parsed = optionsSchema.safeParse({
    ethPort: values["eth-port"],
    basedPort: values["based-port"],
    attesterPort: values["attester-port"],
    basedBlockTime: values["based-block-time"],
    stateDir: values["state-dir"],
    pepecoin: values.pepecoin,
    epochReports: values["no-epoch-reports"] !== true,
    gatewayPort: values["gateway-port"],
    // --redis-url, else what every service would use (BASED_REDIS_URL, the config file, the default).
    redisUrl: values["redis-url"] ?? loadConfig(process.env).redisUrl,
    brainServices: values["no-brain-services"] !== true,
  });
  if (!parsed.success) {
    console.error(`devnet: ${z.prettifyError(parsed.error)}`);
    process.exit(2);
  }
  return { ...parsed.data, stateDir: path.resolve(parsed.data.stateDir) };
}

function portIsFree(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(p, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

async function waitForRpc(url: string, timeoutMs: number): Promise<void> {
  const client = createPublicClient({ transport: http(url, { retryCount: 0, timeout: 2_000 }) });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.getChainId();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`no node answered at ${url} within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Waits until `file` (a service's log) contains `text`; fails early when the service exits. */
async function waitForLog(file: string, text: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const content = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    if (content.includes(text)) return;
    if (child.exitCode !== null) throw new Error(`${path.basename(file, ".log")} exited: see ${file}`);
    if (Date.now() > deadline)
      throw new Error(`${path.basename(file, ".log")} not ready after ${timeoutMs / 1000} s: see ${file}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Brain #3's services: its configuration (scripts/devnet/brain-services.ts), then a gateway, two
 * miners and two validators, each a process with its own log. Queues live in Redis under a prefix
 * of this state directory, emptied first (they described the previous devnet's chains).
 */
async function startBrainServices(
  o: Options,
  deploymentsFile: string,
  basedRpc: string,
  children: Children,
  logFile: (name: string) => string,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const prefix = devnetRedisPrefix(o.stateDir);
  await deleteRedisPrefix(o.redisUrl, prefix);
  log.info({ brain: DEVNET_BRAIN.id }, "configuring Brain #3: the shipped model, prices, its gateway");
  await prepareDevnetBrain(deploymentsFile, basedRpc, log);

  const gatewayUrl = `http://127.0.0.1:${o.gatewayPort}`;
  const gateway = children.start(
    "gateway",
    [
      ...TSX,
      "compute/gateway/main.ts",
      "--deployments",
      deploymentsFile,
      "--brain",
      String(DEVNET_BRAIN.id),
      "--port",
      String(o.gatewayPort),
      "--redis-url",
      o.redisUrl,
      "--prefix",
      prefix,
      // A dead miner's job moves on after 20 s, not the production minute (jobs here take < 2 s).
      "--lock-ms",
      "20000",
      "--miner-timeout-ms",
      "15000",
      // Validators' canaries open sessions without an escrow (they must look like users' prompts,
      // and validators hold no spending account here), as does `based prompt --no-escrow`.
      "--free-sessions",
      // Every client here is 127.0.0.1, and every prompt and canary uploads a fresh 6.6 MiB key set
      // (key rotation per session, the default): two validators' canaries alone upload ~40 MiB a
      // minute. Blobs are dropped 10 minutes after their last use, and one address may upload 2 GiB
      // in that time, so the devnet's users are never refused for the canaries' keys.
      "--blob-ttl-s",
      "600",
      "--free-blob-quota-mib",
      "2048",
    ],
    { ...env, BASED_PRIVATE_KEY: devnetPrivateKey(DEVNET_BRAIN.gatewayAccount) },
    logFile("gateway"),
  );
  await waitForLog(logFile("gateway"), "gateway ready", gateway, 60_000);

  const basedEnv = (account: number) => ({
    ...env,
    BASED_PRIVATE_KEY: devnetPrivateKey(account),
    BASED_DEPLOYMENTS: deploymentsFile,
    BASED_GATEWAY_URL: gatewayUrl,
  });
  log.info("starting two miners and two validators for Brain #3 (they register themselves)");
  const miners = DEVNET_BRAIN.minerAccounts.map((account, i) => {
    const name = `miner-${i + 1}`;
    const child = children.start(
      name,
      [BASED_BIN, "miner", "start", "--brain", String(DEVNET_BRAIN.id), "--workers", "1"],
      basedEnv(account),
      logFile(name),
      "warn",
    );
    return waitForLog(logFile(name), "miner ready", child, 180_000);
  });
  const validators = DEVNET_BRAIN.validatorAccounts.map((account, i) => {
    const name = `validator-${i + 1}`;
    const child = children.start(
      name,
      [
        BASED_BIN,
        "validator",
        "start",
        "--brain",
        String(DEVNET_BRAIN.id),
        "--stake",
        String(DEVNET_BRAIN.validatorStake),
        "--state-dir",
        path.join(o.stateDir, name),
        // A canary every ~20 s per validator, each its own scoring round (production: 3 a round,
        // a minute apart): a dishonest miner shows in the next epoch's weights.
        "--canary-interval",
        "20",
        "--canaries-per-round",
        "1",
      ],
      // Canaries rotate keys as users do (a fresh set per prompt, the default): the gateway's blob
      // quota and lifetime are sized for it above.
      basedEnv(account),
      logFile(name),
      "warn",
    );
    return waitForLog(logFile(name), "validator ready", child, 180_000);
  });
  await Promise.all([...miners, ...validators]);
}

async function main(): Promise<void> {
  const o = parseOptions();
  fs.mkdirSync(o.stateDir, { recursive: true });
  const deploymentsFile = path.join(o.stateDir, "deployments.json");
  const logFile = (name: string) => path.join(o.stateDir, `${name}.log`);
  const attesterPorts = DEVNET_ATTESTER_ACCOUNTS.map((_, i) => o.attesterPort + i);
  const servicePorts = o.brainServices ? [o.gatewayPort] : [];
  for (const p of [o.ethPort, o.basedPort, ...attesterPorts, ...servicePorts]) {
    if (!(await portIsFree(p))) {
      log.error(
        `port ${p} is in use: is another devnet running? Stop it (Ctrl-C) or choose other ports (--help in scripts/devnet.ts).`,
      );
      process.exit(4);
    }
  }
  fs.rmSync(deploymentsFile, { force: true });
  for (const f of fs.readdirSync(o.stateDir)) {
    // Journals and logs of a previous devnet describe chains that no longer exist.
    if (f.endsWith(".log") || f.endsWith(".jsonl") || f === "relayer.json" || f === "pids.json")
      fs.rmSync(path.join(o.stateDir, f));
    else if (/^validator-\d+$/.test(f)) fs.rmSync(path.join(o.stateDir, f), { recursive: true, force: true });
  }

  const children = new Children(log, ROOT);
  children.pidFile = path.join(o.stateDir, "pids.json");
  // SIGTERM to every child, SIGKILL past the bound (or at a second Ctrl-C), then this script exits
  // whatever it was still waiting on.
  const stop = (code: number) => {
    if (children.stopping) {
      log.warn("stopping again: killing what is still running");
      void children.stopAll();
      return;
    }
    log.info("stopping the devnet (again to kill what is still running)");
    fs.rmSync(deploymentsFile, { force: true });
    process.exitCode = code;
    void children.stopAll().then(() => process.exit(code));
  };
  children.onFailure = () => stop(1);
  process.on("SIGINT", () => stop(0));
  process.on("SIGTERM", () => stop(0));

  try {
    log.info("compiling contracts");
    const compile = children.start(
      "compile",
      [HARDHAT_CLI, "compile", "--quiet"],
      {},
      logFile("compile"),
      false,
    );
    if ((await exited(compile)) !== 0) throw new Error(`compilation failed: see ${logFile("compile")}`);

    const ethRpc = `http://127.0.0.1:${o.ethPort}`;
    const basedRpc = `http://127.0.0.1:${o.basedPort}`;
    log.info({ ethRpc, basedRpc }, "starting Ethereum (31337) and the BasedAI chain (32323)");
    const nodeArgs = (p: number) => [HARDHAT_CLI, "node", "--hostname", "127.0.0.1", "--port", String(p)];
    children.start("ethereum node", nodeArgs(o.ethPort), { DEVNET_CHAIN: "ethereum" }, logFile("ethereum"));
    children.start("BasedAI node", nodeArgs(o.basedPort), { DEVNET_CHAIN: "based" }, logFile("based"));
    await Promise.all([waitForRpc(ethRpc, 60_000), waitForRpc(basedRpc, 60_000)]);

    const attesterKeys = DEVNET_ATTESTER_ACCOUNTS.map((i) => devnetPrivateKey(i));
    const attesters = attesterKeys
      .map((k) => privateKeyToAccount(k).address)
      .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    log.info("deploying both sides with Ignition");
    const deploy = (script: string, network: string, out: string, env: NodeJS.ProcessEnv) =>
      exited(
        children.start(
          `deploy ${network}`,
          [HARDHAT_CLI, "run", "--network", network, script],
          { ...env, DEVNET_OUT: out, DEVNET_ATTESTERS: attesters.join(",") },
          logFile("deploy"),
          false,
        ),
      );
    const ethOut = path.join(o.stateDir, "ethereum.deploy.json");
    const basedOut = path.join(o.stateDir, "based.deploy.json");
    const codes = await Promise.all([
      deploy("scripts/devnet/deploy-ethereum.ts", "localhost", ethOut, {
        DEVNET_ETH_RPC: ethRpc,
        DEVNET_PEPECOIN: o.pepecoin ?? "",
      }),
      deploy("scripts/devnet/deploy-based.ts", "basedLocal", basedOut, { DEVNET_BASED_RPC: basedRpc }),
    ]);
    if (codes.some((c) => c !== 0)) throw new Error(`deployment failed: see ${logFile("deploy")}`);

    writeDevnetDeployments(deploymentsFile, { ethereum: ethOut, based: basedOut }, attesters);
    await Promise.all([startBasedClock(basedRpc, o.basedBlockTime), startEthereumClock(ethRpc, 12)]);

    const oracleEnv = { BASED_LOG_LEVEL: process.env.BASED_LOG_LEVEL ?? "info" };
    attesterKeys.forEach((key, i) =>
      children.start(
        `attester ${i + 1}`,
        [
          ...TSX,
          "oracle/attester/main.ts",
          "--deployments",
          deploymentsFile,
          "--state-dir",
          o.stateDir,
          "--port",
          String(attesterPorts[i]),
          // Hardhat answers the `finalized` tag with its head: the devnet signs at depth 0, through
          // the same code path as a real chain (docs/decisions.md "Finality").
          "--ethereum-finality",
          "finalized",
          "--based-finality",
          "finalized",
          "--poll-ms",
          "500",
          ...(o.epochReports ? [] : ["--no-epoch-reports"]),
        ],
        { ...oracleEnv, BASED_PRIVATE_KEY: key },
        logFile(`attester-${i + 1}`),
      ),
    );
    children.start(
      "relayer",
      [
        ...TSX,
        "oracle/relayer/main.ts",
        "--deployments",
        deploymentsFile,
        "--state-dir",
        o.stateDir,
        "--poll-ms",
        "500",
        ...attesterPorts.flatMap((p) => ["--attester", `http://127.0.0.1:${p}`]),
      ],
      { ...oracleEnv, BASED_PRIVATE_KEY: devnetPrivateKey(DEVNET_RELAYER_ACCOUNT) },
      logFile("relayer"),
    );
    if (o.brainServices) await startBrainServices(o, deploymentsFile, basedRpc, children, logFile, oracleEnv);
  } catch (err) {
    log.error((err as Error).message);
    stop(1);
    return;
  }

  const d = readDeployments(deploymentsFile);
  const dev = privateKeyToAccount(devnetPrivateKey(DEVNET_ACCOUNTS.dev));
  const labs = privateKeyToAccount(devnetPrivateKey(DEVNET_ACCOUNTS.labs));
  const e = d.ethereum.contracts;
  const b = d.based!.contracts;
  const rel = (f: string) => path.relative(ROOT, f) || f;
  process.stdout.write(
    [
      "",
      "BasedAI devnet is running.",
      `  Ethereum        ${d.ethereum.rpcUrl}  chain 31337, a block per transaction and one every 12 s`,
      `    Pepecoin      ${e.Pepecoin}${d.ethereum.testPepecoin ? "  (TestPepecoin, open faucet)" : ""}`,
      `    BrainNFT      ${e.BrainNFT}`,
      `    WrappedBased  ${e.WrappedBased}`,
      `    Bridge/Inbox  ${e.EthereumBridge} / ${e.MessageInbox}`,
      `  BasedAI chain   ${d.based!.rpcUrl}  chain 32323, ${o.basedBlockTime}-second blocks`,
      `    BASED         ${b.BasedToken}`,
      `    BrainRegistry ${b.BrainRegistry}`,
      `    Bridge/Inbox  ${b.BasedBridge} / ${b.MessageInbox}`,
      `    Network       ${b.Network}  (memorize: register miners and validators)`,
      `    Staking       ${b.Staking}`,
      `    Consensus     ${b.Consensus}  (epochs of ${DEVNET_ECONOMY.tempo} blocks; Emission ${b.Emission})`,
      `    ComputeMarket ${b.ComputeMarket}  (spending accounts, prompt escrow)`,
      `  Governance      GigaBrainGovernor ${e.GigaBrainGovernor} (labs proposes; votes of ${DEVNET_GOVERNANCE.votingPeriod / 60} min)`,
      `    Timelocks     ${e.EthereumTimelock} / ${b.BasedTimelock} (${DEVNET_GOVERNANCE.ethereumTimelockDelay} s): every admin role, none with a key`,
      `    Guardians     ${e.EthereumGuardian} / ${b.BasedGuardian} (2-of-3 of accounts ${DEVNET_GUARDIAN_ACCOUNTS.join(", ")})`,
      ...(o.brainServices
        ? [
            `  Brain #3        the shipped model (zkllm/models/brain-gpt2-tiny), ZK on; gateway http://127.0.0.1:${o.gatewayPort}`,
            `                  2 miners, 2 validators (accounts ${[...DEVNET_BRAIN.minerAccounts, ...DEVNET_BRAIN.validatorAccounts].join(", ")}); Redis ${o.redisUrl}`,
          ]
        : []),
      `  Oracle          ${d.attesters!.addresses.length} attesters on ${attesterPorts.map((p) => `:${p}`).join(" ")} (threshold ${attesterThreshold(d.attesters!.addresses.length)}), a relayer`,
      `  Dev account     ${dev.address}: ${formatEther(DEVNET_PEPE_PER_ACCOUNT)} PEPE, ${formatEther(DEVNET_BASED_PER_ACCOUNT)} BASED (the based command's default key on devnet)`,
      `  Labs            ${labs.address} (owns the reserved Brains #0–#6 and #47)`,
      `  Deployments     ${rel(deploymentsFile)}   logs ${rel(o.stateDir)}/*.log`,
      "",
      "Try, in another terminal:",
      ...(o.brainServices
        ? ["  npx based account deposit 10", '  npx based prompt --brain 3 "The history of the"']
        : []),
      "  npx based brain mint --burn",
      "  npx based brain show 7",
      "  npx based register --brain 3 --role miner --endpoint 127.0.0.1:9000",
      "",
      "Press Ctrl-C to stop.",
      "",
    ].join("\n"),
  );
  // Machine-readable readiness line for scripts and tests that start the devnet.
  log.info({ deploymentsFile }, "devnet ready");
}

main().catch((err) => {
  log.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
