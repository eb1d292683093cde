import type { ContractFuture, IgnitionModuleBuilder } from "@nomicfoundation/ignition-core";

/** The Pepecoin contract: deployed (TestPepecoin on devnet) or an existing address. */
type Pepecoin = ContractFuture<string>;

/**
 * The Ethereum side shared by every deployment: BrainNFT on the given Pepecoin, and wBASED.
 * Parameters (all optional except where the calling module requires Pepecoin):
 * - `labs`: receiver of the reserved Brains #0–#6 and #47 (default: account 0)
 * - `governance`: owner of WrappedBased, the GigaBrain timelock once it exists (default: account 0)
 * - `bridge`: the only minter/burner of wBASED, the EthereumBridge once it exists (default: account 0)
 */
export function deployEthereumContracts(m: IgnitionModuleBuilder, pepecoin: Pepecoin) {
  const deployer = m.getAccount(0);
  const labs = m.getParameter("labs", deployer);
  const governance = m.getParameter("governance", deployer);
  const bridge = m.getParameter("bridge", deployer);

  const brainNFT = m.contract("BrainNFT", [pepecoin, labs]);
  const wrappedBased = m.contract("WrappedBased", [bridge, governance]);
  return { brainNFT, wrappedBased };
}
