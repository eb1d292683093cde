import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { BRAIN_EVENT, BRIDGE_DEFAULTS, BRIDGE_TRANSFER, HANDLER_GAS_LIMIT } from "./ethereum-contracts";

/**
 * The BasedAI chain: BASED, the message inbox, the BasedBridge and the BrainRegistry mirror.
 * Parameters: `attesters` (required, ascending), `ethereumChainId` [31337], `governance`,
 * `guardian` [account 0], `maxTransfer`, `bucketCapacity`, `bucketRate`.
 * Emission (a later issue) will hold BASED's minter role.
 */
export default buildModule("Based", (m) => {
  const deployer = m.getAccount(0);
  const governance = m.getParameter("governance", deployer);
  const ethereumChainId = m.getParameter("ethereumChainId", 31337);
  const attesters = m.getParameter<string[]>("attesters");

  const basedToken = m.contract("BasedToken", [deployer]);
  const messageInbox = m.contract("MessageInbox", [attesters, [ethereumChainId], deployer], {
    id: "BasedInbox",
  });
  const basedBridge = m.contract("BasedBridge", [
    basedToken,
    messageInbox,
    ethereumChainId,
    governance,
    m.getParameter("guardian", deployer),
    m.getParameter("maxTransfer", BRIDGE_DEFAULTS.maxTransfer),
    m.getParameter("bucketCapacity", BRIDGE_DEFAULTS.bucketCapacity),
    m.getParameter("bucketRate", BRIDGE_DEFAULTS.bucketRate),
  ]);
  const brainRegistry = m.contract("BrainRegistry", [messageInbox, ethereumChainId]);
  const bridgeHandler = m.call(
    messageInbox,
    "setHandler",
    [BRIDGE_TRANSFER, basedBridge, HANDLER_GAS_LIMIT],
    {
      id: "handler_bridge",
    },
  );
  const brainHandler = m.call(messageInbox, "setHandler", [BRAIN_EVENT, brainRegistry, HANDLER_GAS_LIMIT], {
    id: "handler_brain",
  });
  m.call(messageInbox, "transferOwnership", [governance], { after: [bridgeHandler, brainHandler] });
  return { basedToken, messageInbox, basedBridge, brainRegistry };
});
