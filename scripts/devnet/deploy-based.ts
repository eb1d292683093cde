/**
 * Deploys the BasedAI chain side to a running devnet node (chain id 32323) with Ignition, gives
 * the devnet accounts BASED from the devnet faucet and writes a deployment fragment for
 * scripts/devnet.ts. Run as `hardhat run --network basedLocal scripts/devnet/deploy-based.ts`
 * with DEVNET_OUT and DEVNET_ATTESTERS.
 */
import fs from "node:fs";
import path from "node:path";
import hre from "hardhat";
import BasedDevnetModule from "../../ignition/modules/BasedDevnet";
import {
  DEVNET_BASED,
  DEVNET_BASED_PER_ACCOUNT,
  DEVNET_BRAIN,
  DEVNET_ECONOMY,
  DEVNET_FUNDED_ACCOUNTS,
  DEVNET_GOVERNANCE,
  DEVNET_GUARDIAN_ACCOUNTS,
} from "../../sdk/devnet";
import { addressOf, devnetEnv, freshDeploymentId } from "./deploy-common";

async function main(): Promise<void> {
  const { out, attesters, rpcUrl } = devnetEnv(hre);
  const { deploymentId, discard } = freshDeploymentId(hre, "based", rpcUrl);
  const startBlock = await hre.ethers.provider.getBlockNumber();
  const signers = await hre.ethers.getSigners();
  const guardianOwners = DEVNET_GUARDIAN_ACCOUNTS.map((i) => signers[i]!.address);
  const deployed = await hre.ignition.deploy(BasedDevnetModule, {
    parameters: {
      BasedDevnet: {
        attesters,
        ethereumChainId: 31337,
        basedChainId: DEVNET_BASED.chainId,
        ...DEVNET_ECONOMY,
        guardianOwners,
        guardianThreshold: DEVNET_GOVERNANCE.guardianThreshold,
        basedTimelockDelay: DEVNET_GOVERNANCE.basedTimelockDelay,
      },
    },
    deploymentId,
  });
  discard();
  const contracts = {
    BasedToken: await addressOf(deployed.basedToken),
    MessageInbox: await addressOf(deployed.messageInbox),
    BasedBridge: await addressOf(deployed.basedBridge),
    BrainRegistry: await addressOf(deployed.brainRegistry),
    Network: await addressOf(deployed.network),
    Staking: await addressOf(deployed.staking),
    Emission: await addressOf(deployed.emission),
    Consensus: await addressOf(deployed.consensus),
    ComputeMarket: await addressOf(deployed.computeMarket),
    DevnetBasedFaucet: await addressOf(deployed.faucet),
    BasedTimelock: await addressOf(deployed.basedTimelock),
    GovernanceCallReceiver: await addressOf(deployed.governanceCallReceiver),
    BasedGuardian: await addressOf(deployed.basedGuardian),
  };
  const faucet = await hre.ethers.getContractAt("DevnetBasedFaucet", contracts.DevnetBasedFaucet);
  for (const signer of signers.slice(0, DEVNET_FUNDED_ACCOUNTS)) {
    await (await faucet.drip(signer.address, DEVNET_BASED_PER_ACCOUNT)).wait();
  }
  // Brain #3's miners and validators pay registration fees and stake.
  for (const i of [...DEVNET_BRAIN.minerAccounts, ...DEVNET_BRAIN.validatorAccounts]) {
    await (await faucet.drip(signers[i]!.address, DEVNET_BRAIN.basedPerServiceAccount)).wait();
  }
  const { chainId } = await hre.ethers.provider.getNetwork();
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ chainId: Number(chainId), rpcUrl, startBlock, contracts }, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
