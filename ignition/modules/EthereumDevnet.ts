import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { deployEthereumContracts } from "./ethereum-contracts";

/** The Ethereum side on devnet: a TestPepecoin (open faucet) stands in for Pepecoin. */
export default buildModule("EthereumDevnet", (m) => {
  const pepecoin = m.contract("TestPepecoin", [], { id: "Pepecoin" });
  return { pepecoin, ...deployEthereumContracts(m, pepecoin) };
});
