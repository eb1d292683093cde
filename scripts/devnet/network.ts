/**
 * Steps of bringing up the two-chain devnet that `npm run devnet` (scripts/devnet.ts) and the
 * test harness that runs the oracle as separately killable processes (test/helpers/oracle.ts)
 * both take.
 */
import fs from "node:fs";
import { type Deployments } from "../../sdk/deployments";
import { writeDeployments } from "../../sdk/node/deployments-file";

/** One JSON-RPC call to a devnet node (Hardhat's evm_* methods included). */
export async function jsonRpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

/** Joins the fragments the two deploy scripts wrote into the deployments file, and writes it. */
export function writeDevnetDeployments(
  file: string,
  fragments: { ethereum: string; based: string },
  attesters: readonly `0x${string}`[],
): Deployments {
  const deployments: Deployments = {
    version: 1,
    network: "devnet",
    createdAt: new Date().toISOString(),
    ethereum: JSON.parse(fs.readFileSync(fragments.ethereum, "utf8")) as Deployments["ethereum"],
    based: JSON.parse(fs.readFileSync(fragments.based, "utf8")) as NonNullable<Deployments["based"]>,
    attesters: { version: 1, addresses: [...attesters] },
  };
  writeDeployments(file, deployments);
  return deployments;
}

/**
 * Ethereum keeps a block per transaction and also gets one every `slotSeconds` (Ethereum's slot):
 * without empty blocks its clock stood still between transactions, and what reads the time of the
 * latest block (a governor's vote opening, a timelock's eta) waited for someone's transaction.
 */
export async function startEthereumClock(ethRpc: string, slotSeconds: number): Promise<void> {
  await jsonRpc(ethRpc, "evm_setIntervalMining", [Math.round(slotSeconds * 1000)]);
}

/** Deployed with a block per transaction (fast); from now on the BasedAI chain keeps its own time. */
export async function startBasedClock(basedRpc: string, blockTimeSeconds: number): Promise<void> {
  await jsonRpc(basedRpc, "evm_setAutomine", [false]);
  await jsonRpc(basedRpc, "evm_setIntervalMining", [Math.round(blockTimeSeconds * 1000)]);
}
