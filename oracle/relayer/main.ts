/**
 * Runs a relayer: `tsx oracle/relayer/main.ts --deployments <file> --state-dir <dir>
 * --attester http://127.0.0.1:7101 --attester … [--poll-ms 1000]`, paying gas with the key in
 * RELAYER_PRIVATE_KEY. Anyone can run one; they cannot forge messages, only deliver them.
 */
import path from "node:path";
import { createWalletClient, http, nonceManager } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { chainOf, publicClientOf } from "../../sdk/chains";
import { readDeployments } from "../../sdk/deployments";
import { loadServiceConfig, relayerConfigSchema, serviceLogger } from "../../service/config";
import { type RelayTarget, Relayer } from "./relayer";

async function main(): Promise<void> {
  const config = loadServiceConfig(
    relayerConfigSchema,
    {
      deployments: { type: "string" },
      attester: { type: "string", multiple: true },
      "state-dir": { type: "string" },
      "poll-ms": { type: "string" },
    },
    { privateKey: process.env.RELAYER_PRIVATE_KEY },
  );
  const log = serviceLogger("relayer");
  const deployments = readDeployments(config.deployments);
  if (!deployments.based)
    throw new Error(`${config.deployments} has no BasedAI chain: start the full devnet`);
  const account = privateKeyToAccount(config.privateKey, { nonceManager });
  const targets = new Map<number, RelayTarget>();
  for (const [deployment, name, symbol] of [
    [deployments.ethereum, "Ethereum", "ETH"],
    [deployments.based, "BasedAI", "BASED"],
  ] as const) {
    const inbox = deployment.contracts.MessageInbox;
    if (!inbox) throw new Error(`the deployments file lacks the ${name} MessageInbox`);
    const chain = chainOf(deployment, name, symbol);
    targets.set(deployment.chainId, {
      chainId: deployment.chainId,
      inbox,
      client: publicClientOf(chain),
      wallet: createWalletClient({ chain, account, transport: http(deployment.rpcUrl) }),
    });
  }
  const relayer = new Relayer({
    attesterUrls: config.attester,
    targets,
    stateFile: path.join(config.stateDir, "relayer.json"),
    log,
  });
  log.info({ attesters: config.attester, relayer: account.address }, "relayer started");
  let stopping = false;
  process.once("SIGINT", () => (stopping = true));
  process.once("SIGTERM", () => (stopping = true));
  while (!stopping) {
    try {
      await relayer.poll();
    } catch (err) {
      log.warn({ err: (err as Error).message.split("\n")[0] }, "relay round failed; retrying");
    }
    await new Promise((r) => setTimeout(r, config.pollMs));
  }
  // Let the transactions already sent be confirmed (and recorded) before leaving, for a while.
  await Promise.race([relayer.settle(), new Promise((r) => setTimeout(r, 10_000))]);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
