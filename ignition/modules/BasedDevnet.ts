import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import type { NamedArtifactContractDeploymentFuture } from "@nomicfoundation/ignition-core";
import { deployBasedContracts } from "./based-contracts";

/**
 * The BasedAI chain on devnet: the Based deployment (based-contracts.ts, same parameters) plus an
 * open BASED faucet (`faucetMaxPerCall` [1,000,000 BASED]) holding the minter role, granted before
 * the deployer renounces BASED's admin role.
 */
export default buildModule("BasedDevnet", (m) => {
  let faucet: NamedArtifactContractDeploymentFuture<"DevnetBasedFaucet"> | undefined;
  const based = deployBasedContracts(m, (basedToken) => {
    faucet = m.contract("DevnetBasedFaucet", [basedToken, m.getParameter("faucetMaxPerCall", 10n ** 24n)]);
    return [faucet];
  });
  if (!faucet) throw new Error("the BASED faucet was not deployed");
  return { ...based, faucet };
});
