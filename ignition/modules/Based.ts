import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import {
  BRAIN_EVENT,
  BRIDGE_DEFAULTS,
  BRIDGE_TRANSFER,
  ECONOMY_DEFAULTS,
  EPOCH_REPORT,
  GOVERNANCE_CALL,
  GOVERNANCE_DEFAULTS,
  GOVERNANCE_HANDLER_GAS_LIMIT,
  HANDLER_GAS_LIMIT,
  REPORT_HANDLER_GAS_LIMIT,
} from "./ethereum-contracts";

/**
 * The BasedAI chain: BASED, the message inbox, the BasedBridge, the BrainRegistry mirror and the
 * economy (Network, Staking, Emission, Consensus). Parameters: `attesters` (required, ascending),
 * `ethereumChainId` [31337], `basedChainId` [32323] (the inbox trusts its own chain for epoch
 * reports), `governance`, `guardian` [account 0], the bridge limits `maxTransfer`,
 * `bucketCapacity`, `bucketRate`, and the economy's `genesisBlock` [0], `tempo`,
 * `immunityPeriod`, `unbondingPeriod`, `challengeWindow`, `challengeTimeout`, `minChallengeBond`,
 * `challengeBondBps`, `maxWeights`
 * (ECONOMY_DEFAULTS). Emission holds BASED's minter role. ComputeMarket (spending accounts and
 * prompt escrow) reads prices from the BrainRegistry and miners from the Network.
 *
 * Governance on this chain: the BasedTimelock (delay `basedTimelockDelay`, GOVERNANCE_DEFAULTS;
 * its only proposer is the GovernanceCallReceiver, the inbox's GOVERNANCE_CALL handler for calls
 * from Ethereum's GovernanceOutbox; anyone executes; the BasedGuardian cancels) and the
 * BasedGuardian multisig (`guardianOwners`, required, and `guardianThreshold` [2]).
 */
export default buildModule("Based", (m) => {
  const deployer = m.getAccount(0);
  const governance = m.getParameter("governance", deployer);
  const ethereumChainId = m.getParameter("ethereumChainId", 31337);
  const basedChainId = m.getParameter("basedChainId", 32323);
  const attesters = m.getParameter<string[]>("attesters");

  const basedToken = m.contract("BasedToken", [deployer]);
  const messageInbox = m.contract("MessageInbox", [attesters, [ethereumChainId, basedChainId], deployer], {
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

  const network = m.contract("Network", [
    basedToken,
    brainRegistry,
    m.getParameter("immunityPeriod", ECONOMY_DEFAULTS.immunityPeriod),
    deployer,
  ]);
  const staking = m.contract("Staking", [
    basedToken,
    brainRegistry,
    network,
    m.getParameter("unbondingPeriod", ECONOMY_DEFAULTS.unbondingPeriod),
  ]);
  const emission = m.contract("Emission", [basedToken, m.getParameter("genesisBlock", 0)]);
  const consensus = m.contract("Consensus", [
    messageInbox,
    basedChainId,
    emission,
    network,
    m.getParameter("tempo", ECONOMY_DEFAULTS.tempo),
    {
      window: m.getParameter("challengeWindow", ECONOMY_DEFAULTS.challengeWindow),
      timeout: m.getParameter("challengeTimeout", ECONOMY_DEFAULTS.challengeTimeout),
      minBond: m.getParameter("minChallengeBond", ECONOMY_DEFAULTS.minChallengeBond),
      bondBps: m.getParameter("challengeBondBps", ECONOMY_DEFAULTS.challengeBondBps),
    },
    m.getParameter("maxWeights", ECONOMY_DEFAULTS.maxWeights),
    governance,
  ]);
  const computeMarket = m.contract("ComputeMarket", [basedToken, brainRegistry, network]);
  const minterRole = m.staticCall(basedToken, "MINTER_ROLE");
  m.call(basedToken, "grantRole", [minterRole, emission], { id: "grant_emission_minter" });
  m.call(emission, "bindConsensus", [consensus]);
  const bound = m.call(network, "bindPruningOrderSource", [consensus]);
  m.call(network, "transferOwnership", [governance], { after: [bound] });

  // ── Governance calls from Ethereum ──
  const basedGuardian = m.contract(
    "GuardianMultisig",
    [
      m.getParameter<string[]>("guardianOwners"),
      m.getParameter("guardianThreshold", GOVERNANCE_DEFAULTS.guardianThreshold),
    ],
    { id: "BasedGuardian" },
  );
  // Open executors (address 0); the deployer administers only until the roles below are granted.
  const basedTimelock = m.contract(
    "TimelockController",
    [
      m.getParameter("basedTimelockDelay", GOVERNANCE_DEFAULTS.basedTimelockDelay),
      [],
      ["0x0000000000000000000000000000000000000000"],
      deployer,
    ],
    { id: "BasedTimelock" },
  );
  const governanceCallReceiver = m.contract("GovernanceCallReceiver", [
    messageInbox,
    ethereumChainId,
    basedTimelock,
  ]);
  const timelockRole = (role: string) =>
    m.staticCall(basedTimelock, role, [], 0, { id: `BasedTimelock_${role}` });
  const receiverProposes = m.call(
    basedTimelock,
    "grantRole",
    [timelockRole("PROPOSER_ROLE"), governanceCallReceiver],
    { id: "BasedTimelock_grant_receiver_PROPOSER_ROLE" },
  );
  const guardianCancels = m.call(
    basedTimelock,
    "grantRole",
    [timelockRole("CANCELLER_ROLE"), basedGuardian],
    {
      id: "BasedTimelock_grant_guardian_CANCELLER_ROLE",
    },
  );
  m.call(basedTimelock, "renounceRole", [timelockRole("DEFAULT_ADMIN_ROLE"), deployer], {
    id: "BasedTimelock_renounce_admin",
    after: [receiverProposes, guardianCancels],
  });
  const governanceHandler = m.call(
    messageInbox,
    "setHandler",
    [GOVERNANCE_CALL, governanceCallReceiver, GOVERNANCE_HANDLER_GAS_LIMIT],
    { id: "handler_governance_call" },
  );

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
  const reportHandler = m.call(
    messageInbox,
    "setHandler",
    [EPOCH_REPORT, consensus, REPORT_HANDLER_GAS_LIMIT],
    { id: "handler_report" },
  );
  m.call(messageInbox, "transferOwnership", [governance], {
    after: [bridgeHandler, brainHandler, reportHandler, governanceHandler],
  });
  return {
    basedToken,
    messageInbox,
    basedBridge,
    brainRegistry,
    network,
    staking,
    emission,
    consensus,
    computeMarket,
    basedTimelock,
    governanceCallReceiver,
    basedGuardian,
  };
});
