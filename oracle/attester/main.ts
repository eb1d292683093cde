/**
 * Runs one attester: `tsx oracle/attester/main.ts --deployments <file> --state-dir <dir>
 * [--port 7101] [--finality-depth 2] [--allow-zero-finality] [--poll-ms 1000]`, with its key in
 * ATTESTER_PRIVATE_KEY. The key is its identity in the attester set. Beside the watched events it
 * reports epochs (oracle/epoch/reporter.ts), keeping them in `<state-dir>/epochs-<address>/`.
 */
import path from "node:path";
import { privateKeyToAccount } from "viem/accounts";
import { chainOf, publicClientOf } from "../../sdk/chains";
import { readDeployments } from "../../sdk/deployments";
import { attesterConfigSchema, loadServiceConfig, serviceLogger } from "../../service/config";
import { EpochReporter } from "../epoch/reporter";
import { EconomyLogs } from "../epoch/snapshot";
import { EpochStore } from "../epoch/store";
import { Attester, type Inbox } from "./attester";
import { Journal } from "../signing/journal";
import { attesterServer } from "./server";
import { brainWatch, bridgeWatch } from "./sources";

async function main(): Promise<void> {
  const config = loadServiceConfig(
    attesterConfigSchema,
    {
      deployments: { type: "string" },
      port: { type: "string" },
      "state-dir": { type: "string" },
      "finality-depth": { type: "string" },
      "allow-zero-finality": { type: "boolean" },
      "poll-ms": { type: "string" },
      "no-epoch-reports": { type: "boolean" },
    },
    { privateKey: process.env.ATTESTER_PRIVATE_KEY },
  );
  const account = privateKeyToAccount(config.privateKey);
  const log = serviceLogger("attester").child({ attester: account.address });
  const deployments = readDeployments(config.deployments);
  if (!deployments.based)
    throw new Error(`${config.deployments} has no BasedAI chain: start the full devnet`);
  const e = deployments.ethereum;
  const b = deployments.based;
  const ethereum = { chainId: e.chainId, client: publicClientOf(chainOf(e, "Ethereum")) };
  const based = { chainId: b.chainId, client: publicClientOf(chainOf(b, "BasedAI", "BASED")) };
  const ethInbox = e.contracts.MessageInbox;
  const ethBridge = e.contracts.EthereumBridge;
  if (!ethInbox || !ethBridge)
    throw new Error("the deployments file lacks the Ethereum MessageInbox or EthereumBridge");

  const inboxes = new Map<number, Inbox>([
    [e.chainId, { ...ethereum, address: ethInbox }],
    [b.chainId, { ...based, address: b.contracts.MessageInbox }],
  ]);
  const journal = new Journal(path.join(config.stateDir, `attester-${account.address}.jsonl`));
  const attester = new Attester({
    account,
    journal,
    inboxes,
    finalityDepth: config.finalityDepth,
    startBlocks: new Map([
      [e.chainId, BigInt(e.startBlock)],
      [b.chainId, BigInt(b.startBlock)],
    ]),
    watches: [
      brainWatch(ethereum, based, e.contracts.BrainNFT),
      bridgeWatch(ethereum, based, ethBridge, "ethereum"),
      bridgeWatch(based, ethereum, b.contracts.BasedBridge, "based"),
    ],
    log,
  });

  const economy = {
    BrainRegistry: b.contracts.BrainRegistry,
    Network: b.contracts.Network,
    Staking: b.contracts.Staking,
    Consensus: b.contracts.Consensus,
  };
  const epochs = new EpochStore(path.join(config.stateDir, `epochs-${account.address}`));
  const reporter = new EpochReporter({
    sign: (m) => attester.sign(m),
    store: epochs,
    source: {
      client: based.client,
      contracts: economy,
      logs: new EconomyLogs(based.client, economy, BigInt(b.startBlock)),
      chainId: BigInt(b.chainId),
    },
    finalityDepth: config.finalityDepth,
    log: log.child({ part: "epochs" }),
  });

  const server = attesterServer(attester, epochs);
  const address = await server.listen({ host: "127.0.0.1", port: config.port });
  log.info({ address, finalityDepth: config.finalityDepth }, "attester listening");

  let stopping = false;
  const stop = async () => {
    stopping = true;
    await server.close();
    journal.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());

  // Two loops: recomputing many epochs must not hold back the signing of watched events.
  const loop = async (what: string, poll: () => Promise<unknown>) => {
    while (!stopping) {
      try {
        await poll();
      } catch (err) {
        log.warn({ err: (err as Error).message.split("\n")[0] }, `${what} failed; retrying`);
      }
      await new Promise((r) => setTimeout(r, config.pollMs));
    }
  };
  await Promise.all([
    loop("poll", () => attester.poll()),
    !config.noEpochReports ? loop("epoch report", () => reporter.poll()) : Promise.resolve(),
  ]);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
