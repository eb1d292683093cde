import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { deployEthereumContracts } from "./ethereum-contracts";

/**
 * The Ethereum side on a network where Pepecoin exists. Required parameter `pepecoin`
 * (mainnet: 0xA9E8aCf069C58aEc8825542845Fd754e41a9489A); see ethereum-contracts.ts for the rest.
 */
export default buildModule("Ethereum", (m) => {
  const pepecoin = m.contractAt(
    "@openzeppelin/contracts/token/ERC20/IERC20.sol:IERC20",
    m.getParameter<string>("pepecoin"),
    {
      id: "Pepecoin",
    },
  );
  return { pepecoin, ...deployEthereumContracts(m, pepecoin) };
});
