import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import BasedModule from "./Based";

/** The BasedAI chain on devnet: the Based module plus an open BASED faucet holding the minter role. */
export default buildModule("BasedDevnet", (m) => {
  const based = m.useModule(BasedModule);
  const faucet = m.contract("DevnetBasedFaucet", [
    based.basedToken,
    m.getParameter("faucetMaxPerCall", 10n ** 24n),
  ]);
  const minterRole = m.staticCall(based.basedToken, "MINTER_ROLE");
  m.call(based.basedToken, "grantRole", [minterRole, faucet]);
  return { ...based, faucet };
});
