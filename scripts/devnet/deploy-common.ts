import fs from "node:fs";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { Address } from "viem";

/** What scripts/devnet.ts passes to each deploy script. */
export function devnetEnv(hre: HardhatRuntimeEnvironment) {
  const out = process.env.DEVNET_OUT;
  if (!out) throw new Error("DEVNET_OUT is not set");
  const attesters = (process.env.DEVNET_ATTESTERS ?? "").split(",").filter(Boolean);
  if (attesters.length === 0) throw new Error("DEVNET_ATTESTERS is not set");
  const rpcUrl = (hre.network.config as { url?: string }).url;
  if (!rpcUrl) throw new Error(`network ${hre.network.name} has no url`);
  return { out, attesters, rpcUrl };
}

/**
 * The node is new on every devnet start, so an Ignition journal for it is stale as soon as the
 * devnet stops: start from none, and call the returned `discard` once the deployment is done.
 */
export function freshDeploymentId(
  hre: HardhatRuntimeEnvironment,
  side: string,
  rpcUrl: string,
): { deploymentId: string; discard: () => void } {
  const deploymentId = `devnet-${side}-${new URL(rpcUrl).port}`;
  const dir = path.join(hre.config.paths.ignition, "deployments", deploymentId);
  const discard = () => fs.rmSync(dir, { recursive: true, force: true });
  discard();
  return { deploymentId, discard };
}

export async function addressOf(contract: { getAddress(): Promise<string> }): Promise<Address> {
  return (await contract.getAddress()) as Address;
}
