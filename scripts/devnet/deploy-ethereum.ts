/**
 * Deploys the Ethereum side to a running devnet node with Ignition, funds the devnet accounts
 * with PEPE and writes the deployments file. Run by scripts/devnet.ts as
 * `hardhat run --network localhost scripts/devnet/deploy-ethereum.ts` with
 * DEVNET_DEPLOYMENTS_FILE (output) and optionally DEVNET_PEPECOIN (an existing Pepecoin: then no
 * TestPepecoin is deployed and nobody is funded).
 */
import fs from "node:fs";
import path from "node:path";
import hre from "hardhat";
import type { Address } from "viem";
import EthereumModule from "../../ignition/modules/Ethereum";
import EthereumDevnetModule from "../../ignition/modules/EthereumDevnet";
import { writeDeployments } from "../../sdk/deployments";
import { DEVNET_ACCOUNTS, DEVNET_FUNDED_ACCOUNTS, DEVNET_PEPE_PER_ACCOUNT } from "../../sdk/devnet";

async function main(): Promise<void> {
  const out = process.env.DEVNET_DEPLOYMENTS_FILE;
  if (!out) throw new Error("DEVNET_DEPLOYMENTS_FILE is not set");
  const pepecoinAddress = process.env.DEVNET_PEPECOIN;
  const rpcUrl = (hre.network.config as { url?: string }).url ?? "http://127.0.0.1:8545";
  const signers = await hre.ethers.getSigners();
  const labs = signers[DEVNET_ACCOUNTS.labs]!.address;

  // The node is new on every devnet start, so an old Ignition journal for it would be stale.
  const deploymentId = `devnet-${new URL(rpcUrl).port || "8545"}`;
  fs.rmSync(path.join(hre.config.paths.ignition, "deployments", deploymentId), {
    recursive: true,
    force: true,
  });

  const startBlock = await hre.ethers.provider.getBlockNumber();
  const deployed = pepecoinAddress
    ? await hre.ignition.deploy(EthereumModule, {
        parameters: { Ethereum: { pepecoin: pepecoinAddress, labs } },
        deploymentId,
      })
    : await hre.ignition.deploy(EthereumDevnetModule, {
        parameters: { EthereumDevnet: { labs } },
        deploymentId,
      });

  const addressOf = async (contract: { getAddress(): Promise<string> }) =>
    (await contract.getAddress()) as Address;
  const addresses = {
    Pepecoin: await addressOf(deployed.pepecoin),
    BrainNFT: await addressOf(deployed.brainNFT),
    WrappedBased: await addressOf(deployed.wrappedBased),
  };

  if (!pepecoinAddress) {
    const faucet = await hre.ethers.getContractAt("TestPepecoin", addresses.Pepecoin);
    for (const signer of signers.slice(0, DEVNET_FUNDED_ACCOUNTS)) {
      await (await faucet.mint(signer.address, DEVNET_PEPE_PER_ACCOUNT)).wait();
    }
  }

  const { chainId } = await hre.ethers.provider.getNetwork();
  writeDeployments(out, {
    version: 1,
    network: "devnet",
    createdAt: new Date().toISOString(),
    ethereum: {
      chainId: Number(chainId),
      rpcUrl,
      startBlock,
      contracts: addresses,
      testPepecoin: !pepecoinAddress,
    },
  });
  console.log(JSON.stringify(addresses));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
