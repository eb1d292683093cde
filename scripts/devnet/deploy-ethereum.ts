/**
 * Deploys the Ethereum side to a running devnet node with Ignition, funds the devnet accounts
 * with PEPE and writes a deployment fragment (JSON) for scripts/devnet.ts. Run as
 * `hardhat run --network localhost scripts/devnet/deploy-ethereum.ts` with DEVNET_OUT (output),
 * DEVNET_ATTESTERS (comma-separated, ascending) and optionally DEVNET_PEPECOIN (an existing
 * Pepecoin: then no TestPepecoin is deployed and nobody is funded).
 */
import fs from "node:fs";
import path from "node:path";
import hre from "hardhat";
import type { Address } from "viem";
import EthereumModule from "../../ignition/modules/Ethereum";
import EthereumDevnetModule from "../../ignition/modules/EthereumDevnet";
import {
  DEVNET_ACCOUNTS,
  DEVNET_FUNDED_ACCOUNTS,
  DEVNET_GOVERNANCE,
  DEVNET_GUARDIAN_ACCOUNTS,
  DEVNET_PEPE_PER_ACCOUNT,
} from "../../sdk/devnet";
import { addressOf, devnetEnv, freshDeploymentId } from "./deploy-common";

async function main(): Promise<void> {
  const { out, attesters, rpcUrl } = devnetEnv(hre);
  const pepecoinAddress = process.env.DEVNET_PEPECOIN || undefined;
  const signers = await hre.ethers.getSigners();
  const labs = signers[DEVNET_ACCOUNTS.labs]!.address;
  const { deploymentId, discard } = freshDeploymentId(hre, "ethereum", rpcUrl);

  const startBlock = await hre.ethers.provider.getBlockNumber();
  const guardianOwners = DEVNET_GUARDIAN_ACCOUNTS.map((i) => signers[i]!.address);
  const params = { labs, attesters, basedChainId: 32323, guardianOwners, ...DEVNET_GOVERNANCE };
  const deployed = pepecoinAddress
    ? await hre.ignition.deploy(EthereumModule, {
        parameters: { Ethereum: { ...params, pepecoin: pepecoinAddress } },
        deploymentId,
      })
    : await hre.ignition.deploy(EthereumDevnetModule, {
        parameters: { EthereumDevnet: params },
        deploymentId,
      });

  discard();
  const contracts: Record<string, Address> = {
    Pepecoin: await addressOf(deployed.pepecoin),
    BrainNFT: await addressOf(deployed.brainNFT),
    WrappedBased: await addressOf(deployed.wrappedBased),
    MessageInbox: await addressOf(deployed.messageInbox),
    EthereumBridge: await addressOf(deployed.ethereumBridge),
    GigaBrainSets: await addressOf(deployed.gigaBrainSets),
    GigaBrainGovernor: await addressOf(deployed.gigaBrainGovernor),
    PepecoinHouse: await addressOf(deployed.pepecoinHouse),
    EthereumTimelock: await addressOf(deployed.ethereumTimelock),
    GovernanceOutbox: await addressOf(deployed.governanceOutbox),
    EthereumGuardian: await addressOf(deployed.ethereumGuardian),
  };

  if (!pepecoinAddress) {
    const faucet = await hre.ethers.getContractAt("TestPepecoin", contracts.Pepecoin!);
    for (const signer of signers.slice(0, DEVNET_FUNDED_ACCOUNTS)) {
      await (await faucet.mint(signer.address, DEVNET_PEPE_PER_ACCOUNT)).wait();
    }
  }

  const { chainId } = await hre.ethers.provider.getNetwork();
  const fragment = {
    chainId: Number(chainId),
    rpcUrl,
    startBlock,
    contracts,
    testPepecoin: !pepecoinAddress,
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(fragment, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
