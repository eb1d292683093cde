import type { CallableContractFuture, IgnitionModuleBuilder } from "@nomicfoundation/ignition-core";
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
  handOverTimelock,
} from "./ethereum-contracts";

/**
 * The BasedAI chain shared by every deployment: BASED, the message inbox, the BasedBridge, the
 * BrainRegistry mirror and the economy (Network, Staking, Emission, Consensus), ComputeMarket
 * (spending accounts and prompt escrow, reading prices from the BrainRegistry and miners from the
 * Network), and governance calls from Ethereum: the BasedTimelock, the GovernanceCallReceiver and
 * the BasedGuardian multisig.
 *
 * Parameters (defaults in brackets): `attesters` (required, ascending), `ethereumChainId`
 * [31337], `basedChainId` [32323] (the inbox trusts its own chain for epoch reports), the bridge
 * limits `maxTransfer`, `bucketCapacity`, `bucketRate` (BRIDGE_DEFAULTS), the economy's
 * `genesisBlock` [0], `tempo`, `immunityPeriod`, `unbondingPeriod`, `challengeWindow`,
 * `challengeTimeout`, `minChallengeBond`, `challengeBondBps`, `maxWeights` (ECONOMY_DEFAULTS),
 * `basedTimelockDelay` (seconds, GOVERNANCE_DEFAULTS), `guardianOwners` (required) and
 * `guardianThreshold` [2] of the BasedGuardian.
 *
 * No account keeps an admin role (docs/governance.md): Emission (and `extraMinters`, the devnet
 * faucet) hold BASED's minter role and the deployer renounces BASED's admin role, so no other
 * minter can ever be added; the BasedTimelock owns the inbox, Network and Consensus and
 * administers the bridge; the BasedGuardian pauses the bridge and cancels timelock operations; the
 * timelock's only proposer is the GovernanceCallReceiver (calls that passed on Ethereum).
 */
export function deployBasedContracts(
  m: IgnitionModuleBuilder,
  extraMinters: (
    basedToken: CallableContractFuture<"BasedToken">,
  ) => CallableContractFuture<string>[] = () => [],
) {
  const deployer = m.getAccount(0);
  const ethereumChainId = m.getParameter("ethereumChainId", 31337);
  const basedChainId = m.getParameter("basedChainId", 32323);
  const attesters = m.getParameter<string[]>("attesters");

  const basedGuardian = m.contract(
    "GuardianMultisig",
    [
      m.getParameter<string[]>("guardianOwners"),
      m.getParameter("guardianThreshold", GOVERNANCE_DEFAULTS.guardianThreshold),
    ],
    { id: "BasedGuardian" },
  );
  // Created with no delay and the deployer in every role: handOverTimelock below ends that.
  const basedTimelock = m.contract("TimelockController", [0, [deployer], [deployer], deployer], {
    id: "BasedTimelock",
  });

  const basedToken = m.contract("BasedToken", [deployer]);
  const messageInbox = m.contract("MessageInbox", [attesters, [ethereumChainId, basedChainId], deployer], {
    id: "BasedInbox",
  });
  const basedBridge = m.contract("BasedBridge", [
    basedToken,
    messageInbox,
    ethereumChainId,
    basedTimelock,
    basedGuardian,
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
    // Consensus needs no set-up call of its owner: the timelock owns it from the start.
    basedTimelock,
  ]);
  const computeMarket = m.contract("ComputeMarket", [basedToken, brainRegistry, network]);

  // BASED: Emission (and extraMinters) mint; then nobody may ever add a minter.
  const minterRole = m.staticCall(basedToken, "MINTER_ROLE");
  const minters = [emission, ...extraMinters(basedToken)].map((minter, i) =>
    m.call(basedToken, "grantRole", [minterRole, minter], {
      id: i === 0 ? "grant_emission_minter" : `grant_minter_${i}`,
    }),
  );
  m.call(
    basedToken,
    "renounceRole",
    [
      m.staticCall(basedToken, "DEFAULT_ADMIN_ROLE", [], 0, { id: "BasedToken_DEFAULT_ADMIN_ROLE" }),
      deployer,
    ],
    { id: "BasedToken_renounce_admin", after: minters },
  );
  m.call(emission, "bindConsensus", [consensus]);
  const bound = m.call(network, "bindPruningOrderSource", [consensus]);
  const networkTransfer = m.call(network, "transferOwnership", [basedTimelock], { after: [bound] });

  // ── Governance calls from Ethereum ──
  const governanceCallReceiver = m.contract("GovernanceCallReceiver", [
    messageInbox,
    ethereumChainId,
    basedTimelock,
  ]);

  const handlers = [
    m.call(messageInbox, "setHandler", [BRIDGE_TRANSFER, basedBridge, HANDLER_GAS_LIMIT], {
      id: "handler_bridge",
    }),
    m.call(messageInbox, "setHandler", [BRAIN_EVENT, brainRegistry, HANDLER_GAS_LIMIT], {
      id: "handler_brain",
    }),
    m.call(messageInbox, "setHandler", [EPOCH_REPORT, consensus, REPORT_HANDLER_GAS_LIMIT], {
      id: "handler_report",
    }),
    m.call(
      messageInbox,
      "setHandler",
      [GOVERNANCE_CALL, governanceCallReceiver, GOVERNANCE_HANDLER_GAS_LIMIT],
      { id: "handler_governance_call" },
    ),
  ];
  const inboxTransfer = m.call(messageInbox, "transferOwnership", [basedTimelock], { after: handlers });

  // ── The hand-over: proposals come only from Ethereum, anyone executes, the guardian cancels ──
  handOverTimelock(m, "BasedTimelock", basedTimelock, {
    delay: m.getParameter("basedTimelockDelay", GOVERNANCE_DEFAULTS.basedTimelockDelay),
    pendingOwnerOf: [
      { contract: messageInbox, transfer: inboxTransfer },
      { contract: network, transfer: networkTransfer },
    ],
    grants: [
      { role: "PROPOSER_ROLE", account: governanceCallReceiver },
      { role: "CANCELLER_ROLE", account: basedGuardian },
      { role: "EXECUTOR_ROLE", account: "0x0000000000000000000000000000000000000000" },
    ],
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
}
