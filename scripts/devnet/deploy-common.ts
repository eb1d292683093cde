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

/** The node is new on every devnet start, so an old Ignition journal for it would be stale. */
export function freshDeploymentId(hre: HardhatRuntimeEnvironment, side: string, rpcUrl: string): string {
  const id = `devnet-${side}-${new URL(rpcUrl).port}`;
  fs.rmSync(path.join(hre.config.paths.ignition, "deployments", id), { recursive: true, force: true });
  return id;
}

export async function addressOf(contract: { getAddress(): Promise<string> }): Promise<Address> {
  return (await contract.getAddress()) as Address;
}
