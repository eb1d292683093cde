import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { deployBasedContracts } from "./based-contracts";

/** The BasedAI chain on a public network: parameters and roles in based-contracts.ts. */
export default buildModule("Based", (m) => deployBasedContracts(m));
