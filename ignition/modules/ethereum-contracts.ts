import type {
  ArgumentType,
  CallableContractFuture,
  ContractFuture,
  Future,
  IgnitionModuleBuilder,
  ModuleParameterRuntimeValue,
} from "@nomicfoundation/ignition-core";

/** The Pepecoin contract: deployed (TestPepecoin on devnet) or an existing address. */
type Pepecoin = ContractFuture<string>;

/** Handler kinds and gas limits (docs/protocol.md). */
export const BRAIN_EVENT = 1;
export const BRIDGE_TRANSFER = 2;
export const GIGABRAIN_SET = 3;
export const GOVERNANCE_CALL = 4;
export const EPOCH_REPORT = 6;
export const HANDLER_GAS_LIMIT = 200_000;
/**
 * A report handler decodes up to 1,024 per-Brain totals, hashes them and mints: about 1.0M gas for
 * a full network (docs/benchmarks.md), so 2M leaves room.
 */
export const REPORT_HANDLER_GAS_LIMIT = 2_000_000;
/** GIGABRAIN_SET and GOVERNANCE_CALL handlers (a governance call may do a lot): 1M gas. */
export const GOVERNANCE_HANDLER_GAS_LIMIT = 1_000_000;

const DAY = 24 * 60 * 60;
/**
 * GigaBrain governance defaults (docs/governance.md), overridable as parameters: a proposal's vote
 * opens a day after it is made (`votingDelay`), lasts 7 days (`votingPeriod`), is extended by 2
 * days when the outcome flips late (`voteExtension`), a passed proposal may be queued for 14 days
 * (`gracePeriod`), the Pepecoin house vetoes with 1,000,000 PEPE locked against (`vetoQuorum`,
 * about 0.75 % of Pepecoin's 133.7 M supply; governance changes it), and each chain's timelock
 * holds a passed proposal 2 days (`ethereumTimelockDelay`, `basedTimelockDelay`) — time to see it
 * and react, and for the BasedAI guardian to cancel. The guardians are 2-of-N GuardianMultisigs.
 */
export const GOVERNANCE_DEFAULTS = {
  votingDelay: DAY,
  votingPeriod: 7 * DAY,
  voteExtension: 2 * DAY,
  gracePeriod: 14 * DAY,
  vetoQuorum: 1_000_000n * 10n ** 18n,
  ethereumTimelockDelay: 2 * DAY,
  basedTimelockDelay: 2 * DAY,
  guardianThreshold: 2,
};

/**
 * Economy defaults (docs/architecture.md §3), overridable as parameters of the Based module: an epoch is
 * 360 blocks (an hour of 10-second blocks), members are immune for 4,096 blocks (subtensor's
 * default), unstaked BASED waits 7 days, a report can be challenged for 180 blocks with a bond of
 * 10 % of the epoch's emission and at least 100 BASED (360 BASED in the first year), a challenge
 * the attesters do not answer within 720 blocks (two epochs) lapses, and a reveal may set up to
 * 1,792 weights (every miner of a full Brain). docs/decisions.md, "Challenges", has the reasoning.
 */
export const ECONOMY_DEFAULTS = {
  tempo: 360,
  immunityPeriod: 4_096,
  unbondingPeriod: 7 * 24 * 60 * 60,
  challengeWindow: 180,
  challengeTimeout: 720,
  minChallengeBond: 100n * 10n ** 18n,
  challengeBondBps: 1_000,
  maxWeights: 1_792,
};

/**
 * Bridge defaults (parameters `maxTransfer`, `bucketCapacity`, `bucketRate`, in wei / wei per
 * second), the same for each direction. Chosen so that a compromised attester set moves at most
 * 1 % of the circulating BASED per day, both directions together, once the chain is 30 days old
 * (2,592,000 BASED emitted): per direction a full bucket of 5,000 BASED plus 0.075 BASED/s × 86,400 s
 * = 11,480 BASED a day (docs/decisions.md, "Bridge limits"). Governance raises them as the supply grows.
 */
export const BRIDGE_DEFAULTS = {
  maxTransfer: 2_500n * 10n ** 18n,
  bucketCapacity: 5_000n * 10n ** 18n,
  bucketRate: 75n * 10n ** 15n,
};

const ZERO_HASH = `0x${"00".repeat(32)}`;

/**
 * Hands a just-deployed TimelockController from the deployer to governance, in one deployment
 * (docs/decisions.md, "Admin hand-over"). The timelock was created with a minimum delay of 0 and
 * the deployer as its admin, proposer, canceller and executor. The deployer schedules and at once
 * executes one batch, as the timelock: accept the ownership of every `pendingOwnerOf` contract
 * (Ownable2Step: transferred to the timelock before) and raise the delay to `delay`. Then the
 * final role holders get their roles (`grants`), the deployer's proposer, canceller and executor
 * roles are revoked and it renounces the admin role: from the last transaction on, the timelock
 * obeys only its governance and waits `delay` for everything, its own settings included.
 */
export function handOverTimelock(
  m: IgnitionModuleBuilder,
  name: string,
  timelock: CallableContractFuture<"TimelockController">,
  opts: {
    delay: ModuleParameterRuntimeValue<number>;
    pendingOwnerOf: { contract: CallableContractFuture<string>; transfer: Future }[];
    grants: { role: "PROPOSER_ROLE" | "CANCELLER_ROLE" | "EXECUTOR_ROLE"; account: ArgumentType }[];
  },
) {
  const deployer = m.getAccount(0);
  const roles = new Map<string, ReturnType<typeof m.staticCall>>();
  const role = (r: string) => {
    if (!roles.has(r)) roles.set(r, m.staticCall(timelock, r, [], 0, { id: `${name}_${r}` }));
    return roles.get(r)!;
  };
  const targets = [...opts.pendingOwnerOf.map((p) => p.contract), timelock];
  const payloads = [
    ...opts.pendingOwnerOf.map((p) =>
      m.encodeFunctionCall(p.contract, "acceptOwnership", [], {
        id: `${name}_accept_${p.contract.id.split("#")[1]}`,
      }),
    ),
    m.encodeFunctionCall(timelock, "updateDelay", [opts.delay], { id: `${name}_updateDelay` }),
  ];
  const values = targets.map(() => 0);
  const batch = [targets, values, payloads, ZERO_HASH, ZERO_HASH] as const;
  const scheduled = m.call(timelock, "scheduleBatch", [...batch, 0], {
    id: `${name}_schedule_handover`,
    after: opts.pendingOwnerOf.map((p) => p.transfer),
  });
  const executed = m.call(timelock, "executeBatch", [...batch], {
    id: `${name}_execute_handover`,
    after: [scheduled],
  });
  const granted = opts.grants.map((g, i) =>
    m.call(timelock, "grantRole", [role(g.role), g.account], {
      id: `${name}_grant_${i}_${g.role}`,
      after: [executed],
    }),
  );
  const revoked = (["PROPOSER_ROLE", "CANCELLER_ROLE", "EXECUTOR_ROLE"] as const).map((r) =>
    m.call(timelock, "revokeRole", [role(r), deployer], {
      id: `${name}_revoke_deployer_${r}`,
      after: granted,
    }),
  );
  return m.call(timelock, "renounceRole", [role("DEFAULT_ADMIN_ROLE"), deployer], {
    id: `${name}_renounce_admin`,
    after: revoked,
  });
}

/**
 * The Ethereum side shared by every deployment: BrainNFT on the given Pepecoin, wBASED, the
 * message inbox, the EthereumBridge and GigaBrain governance (GigaBrainSets, the
 * GigaBrainGovernor and its PepecoinHouse, the EthereumTimelock, the GovernanceOutbox and the
 * EthereumGuardian multisig). Parameters (defaults in brackets):
 * - `labs`: receiver of the reserved Brains #0–#6 and #47, and the governor's Labs proposer [account 0]
 * - `attesters`: the initial attester set, ascending (required)
 * - `basedChainId`: the BasedAI chain the inbox trusts [32323]
 * - `maxTransfer`, `bucketCapacity`, `bucketRate`: bridge limits
 * - `guardianOwners` (required), `guardianThreshold` [2]: the EthereumGuardian multisig
 * - `votingDelay`, `votingPeriod`, `voteExtension`, `gracePeriod` (seconds), `vetoQuorum` (PEPE
 *   wei), `ethereumTimelockDelay` (seconds): GOVERNANCE_DEFAULTS
 *
 * No account keeps an admin role (docs/governance.md): the EthereumTimelock owns WrappedBased and
 * the inbox and administers the bridge, the EthereumGuardian pauses the bridge, and the timelock
 * takes orders only from the governor.
 */
export function deployEthereumContracts(m: IgnitionModuleBuilder, pepecoin: Pepecoin) {
  const deployer = m.getAccount(0);
  const labs = m.getParameter("labs", deployer);
  const attesters = m.getParameter<string[]>("attesters");
  const basedChainId = m.getParameter("basedChainId", 32323);

  const ethereumGuardian = m.contract(
    "GuardianMultisig",
    [
      m.getParameter<string[]>("guardianOwners"),
      m.getParameter("guardianThreshold", GOVERNANCE_DEFAULTS.guardianThreshold),
    ],
    { id: "EthereumGuardian" },
  );
  // Created with no delay and the deployer in every role: handOverTimelock below ends that.
  const ethereumTimelock = m.contract("TimelockController", [0, [deployer], [deployer], deployer], {
    id: "EthereumTimelock",
  });

  const brainNFT = m.contract("BrainNFT", [pepecoin, labs]);
  // The bridge is set right after EthereumBridge exists; the deployer holds the role until then.
  const wrappedBased = m.contract("WrappedBased", [deployer, deployer]);
  const messageInbox = m.contract("MessageInbox", [attesters, [basedChainId], deployer], {
    id: "EthereumInbox",
  });
  const ethereumBridge = m.contract("EthereumBridge", [
    wrappedBased,
    messageInbox,
    basedChainId,
    ethereumTimelock,
    ethereumGuardian,
    m.getParameter("maxTransfer", BRIDGE_DEFAULTS.maxTransfer),
    m.getParameter("bucketCapacity", BRIDGE_DEFAULTS.bucketCapacity),
    m.getParameter("bucketRate", BRIDGE_DEFAULTS.bucketRate),
  ]);
  const setBridge = m.call(wrappedBased, "setBridge", [ethereumBridge]);
  const setHandler = m.call(messageInbox, "setHandler", [BRIDGE_TRANSFER, ethereumBridge, HANDLER_GAS_LIMIT]);

  // ── GigaBrain governance ──
  const gigaBrainSets = m.contract("GigaBrainSets", [messageInbox, basedChainId]);
  const setsHandler = m.call(
    messageInbox,
    "setHandler",
    [GIGABRAIN_SET, gigaBrainSets, GOVERNANCE_HANDLER_GAS_LIMIT],
    { id: "EthereumInbox_handler_gigabrain_set" },
  );
  const gigaBrainGovernor = m.contract("GigaBrainGovernor", [
    brainNFT,
    gigaBrainSets,
    pepecoin,
    ethereumTimelock,
    labs,
    m.getParameter("votingDelay", GOVERNANCE_DEFAULTS.votingDelay),
    m.getParameter("votingPeriod", GOVERNANCE_DEFAULTS.votingPeriod),
    m.getParameter("voteExtension", GOVERNANCE_DEFAULTS.voteExtension),
    m.getParameter("gracePeriod", GOVERNANCE_DEFAULTS.gracePeriod),
    m.getParameter("vetoQuorum", GOVERNANCE_DEFAULTS.vetoQuorum),
  ]);
  const pepecoinHouse = m.contractAt(
    "PepecoinHouse",
    m.staticCall(gigaBrainGovernor, "pepecoinHouse", [], 0, { id: "GigaBrainGovernor_pepecoinHouse" }),
  );
  const governanceOutbox = m.contract("GovernanceOutbox", [ethereumTimelock, basedChainId]);

  // ── The hand-over: every admin role to the timelock, once the wiring above is done ──
  const wrappedBasedTransfer = m.call(wrappedBased, "transferOwnership", [ethereumTimelock], {
    after: [setBridge],
  });
  const inboxTransfer = m.call(messageInbox, "transferOwnership", [ethereumTimelock], {
    after: [setHandler, setsHandler],
    id: "EthereumInbox_handover",
  });
  handOverTimelock(m, "EthereumTimelock", ethereumTimelock, {
    delay: m.getParameter("ethereumTimelockDelay", GOVERNANCE_DEFAULTS.ethereumTimelockDelay),
    pendingOwnerOf: [
      { contract: wrappedBased, transfer: wrappedBasedTransfer },
      { contract: messageInbox, transfer: inboxTransfer },
    ],
    grants: [
      { role: "PROPOSER_ROLE", account: gigaBrainGovernor },
      { role: "CANCELLER_ROLE", account: gigaBrainGovernor },
      { role: "EXECUTOR_ROLE", account: gigaBrainGovernor },
    ],
  });
  return {
    brainNFT,
    wrappedBased,
    messageInbox,
    ethereumBridge,
    gigaBrainSets,
    gigaBrainGovernor,
    pepecoinHouse,
    ethereumTimelock,
    governanceOutbox,
    ethereumGuardian,
  };
}
