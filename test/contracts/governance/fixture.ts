/**
 * GigaBrain governance on one Hardhat network. The Ethereum side: TestPepecoin, BrainNFT, an inbox
 * trusting "the BasedAI chain" (32323), GigaBrainSets, the Ethereum TimelockController, the
 * GigaBrainGovernor (which creates its PepecoinHouse) and the GovernanceOutbox. The BasedAI side:
 * an inbox trusting "Ethereum" (chain 1), a BasedAI TimelockController whose only proposer is the
 * GovernanceCallReceiver and whose canceller is a 2-of-3 GuardianMultisig. Both inboxes share one
 * attester set of 4 (threshold 3), as the devnet wires them.
 *
 * Brains: labs (signer 0, also the Labs proposer) owns the reserved Brains #0–#6 and #47 and hands
 * #1 … #5 to alice, bob, carol, dave and eve; `GIGA` (= #0 … #5) is the first GigaBrain set.
 */
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { AbiCoder, type ContractTransactionResponse, id as hashText } from "ethers";
import type {
  BrainNFT,
  GigaBrainGovernor,
  GigaBrainSets,
  GovernanceCallReceiver,
  GovernanceOutbox,
  GuardianMultisig,
  MessageInbox,
  PepecoinHouse,
  TestPepecoin,
  TimelockController,
} from "../../../typechain-types";
import {
  BASED_CHAIN,
  ETH_CHAIN,
  Kind,
  LOCAL_CHAIN,
  type Message,
  attesterWallets,
  deliver,
  eventNonce,
} from "../messaging/messages";
import { PEPE } from "../ethereum/helpers";

const abi = AbiCoder.defaultAbiCoder();

export { PEPE };
export const DAY = 24 * 60 * 60;
/** Governor parameters (seconds, PEPE wei). */
export const PARAMS = {
  votingDelay: DAY,
  votingPeriod: 7 * DAY,
  voteExtension: 2 * DAY,
  gracePeriod: 14 * DAY,
  vetoQuorum: PEPE(1_000_000),
  ethDelay: 2 * DAY,
  basedDelay: DAY,
} as const;
export const YEAR = 365 * DAY;
export const HANDLER_GAS = 1_000_000n;
/** The first GigaBrain set: Brains #0 (labs), #1 (alice), #2 (bob), #3 (carol), #4 (dave), #5 (eve). */
export const GIGA = [0, 1, 2, 3, 4, 5] as const;
/** Governor `support`. */
export const Vote = { Against: 0, For: 1, Abstain: 2 } as const;
/** IGovernor.ProposalState. */
export const State = {
  Pending: 0n,
  Active: 1n,
  Canceled: 2n,
  Defeated: 3n,
  Succeeded: 4n,
  Queued: 5n,
  Expired: 6n,
  Executed: 7n,
} as const;

/** GIGABRAIN_SET payload: `abi.encode(uint64 basedBlock, uint16[] brainIds)`. */
export function encodeGigaBrainSet(basedBlock: bigint | number, brainIds: readonly number[]): string {
  return abi.encode(["uint64", "uint16[]"], [basedBlock, brainIds]);
}

/** GOVERNANCE_CALL payload: `abi.encode(uint64 dstChainId, address target, uint256 value, bytes data, bytes32 salt)`. */
export function encodeGovernanceCall(
  dstChainId: bigint,
  target: string,
  value: bigint,
  data: string,
  salt: string,
): string {
  return abi.encode(
    ["uint64", "address", "uint256", "bytes", "bytes32"],
    [dstChainId, target, value, data, salt],
  );
}

export async function deployGovernance() {
  const signers = await ethers.getSigners();
  const [labs, alice, bob, carol, dave, eve, frank, g1, g2, g3] = signers;
  if (!labs || !alice || !bob || !carol || !dave || !eve || !frank || !g1 || !g2 || !g3) {
    throw new Error("need 10 signers");
  }
  const attesters = attesterWallets(4);
  const quorum = attesters.slice(0, 3);
  const members = attesters.map((a) => a.address);

  // ── Ethereum side ──
  const pepe = (await ethers.deployContract("TestPepecoin")) as unknown as TestPepecoin;
  const brain = (await ethers.deployContract("BrainNFT", [
    await pepe.getAddress(),
    labs.address,
  ])) as unknown as BrainNFT;
  const owners = [labs, alice, bob, carol, dave, eve] as const;
  for (let i = 1; i < owners.length; i++) {
    await brain.connect(labs).transferFrom(labs.address, owners[i]!.address, i);
  }
  const ethInbox = (await ethers.deployContract("MessageInbox", [
    members,
    [BASED_CHAIN],
    labs.address,
  ])) as unknown as MessageInbox;
  const sets = (await ethers.deployContract("GigaBrainSets", [
    await ethInbox.getAddress(),
    BASED_CHAIN,
  ])) as unknown as GigaBrainSets;
  await ethInbox.setHandler(Kind.GIGABRAIN_SET, await sets.getAddress(), HANDLER_GAS);

  // The deployer administers the timelock only until the governor holds its roles, then renounces.
  const timelock = (await ethers.deployContract("TimelockController", [
    PARAMS.ethDelay,
    [],
    [],
    labs.address,
  ])) as unknown as TimelockController;
  const governor = (await ethers.deployContract("GigaBrainGovernor", [
    await brain.getAddress(),
    await sets.getAddress(),
    await pepe.getAddress(),
    await timelock.getAddress(),
    labs.address,
    PARAMS.votingDelay,
    PARAMS.votingPeriod,
    PARAMS.voteExtension,
    PARAMS.gracePeriod,
    PARAMS.vetoQuorum,
  ])) as unknown as GigaBrainGovernor;
  const governorAddr = await governor.getAddress();
  await timelock.grantRole(await timelock.PROPOSER_ROLE(), governorAddr);
  await timelock.grantRole(await timelock.CANCELLER_ROLE(), governorAddr);
  await timelock.grantRole(await timelock.EXECUTOR_ROLE(), governorAddr);
  await timelock.renounceRole(await timelock.DEFAULT_ADMIN_ROLE(), labs.address);
  const house = (await ethers.getContractAt(
    "PepecoinHouse",
    await governor.pepecoinHouse(),
  )) as unknown as PepecoinHouse;
  // One network plays both chains: the outbox's "BasedAI chain" is this network's id.
  const outbox = (await ethers.deployContract("GovernanceOutbox", [
    await timelock.getAddress(),
    LOCAL_CHAIN,
  ])) as unknown as GovernanceOutbox;

  // ── BasedAI side ──
  const guardian = (await ethers.deployContract("GuardianMultisig", [
    [g1.address, g2.address, g3.address],
    2,
  ])) as unknown as GuardianMultisig;
  const basedInbox = (await ethers.deployContract("MessageInbox", [
    members,
    [ETH_CHAIN, 777n],
    labs.address,
  ])) as unknown as MessageInbox;
  const basedTimelock = (await ethers.deployContract("TimelockController", [
    PARAMS.basedDelay,
    [],
    [ethers.ZeroAddress],
    labs.address,
  ])) as unknown as TimelockController;
  const receiver = (await ethers.deployContract("GovernanceCallReceiver", [
    await basedInbox.getAddress(),
    ETH_CHAIN,
    await basedTimelock.getAddress(),
  ])) as unknown as GovernanceCallReceiver;
  await basedInbox.setHandler(Kind.GOVERNANCE_CALL, await receiver.getAddress(), HANDLER_GAS);
  await basedTimelock.grantRole(await basedTimelock.PROPOSER_ROLE(), await receiver.getAddress());
  await basedTimelock.grantRole(await basedTimelock.CANCELLER_ROLE(), await guardian.getAddress());
  await basedTimelock.renounceRole(await basedTimelock.DEFAULT_ADMIN_ROLE(), labs.address);

  let basedBlock = 1000n;
  /** Delivers a GIGABRAIN_SET taken at the next BasedAI block (or `at`), signed by a quorum. */
  async function deliverSet(brainIds: readonly number[], at?: bigint) {
    basedBlock = at ?? basedBlock + 100n;
    const m: Message = {
      srcChainId: BASED_CHAIN,
      dstChainId: LOCAL_CHAIN,
      nonce: eventNonce(basedBlock, 0),
      kind: Kind.GIGABRAIN_SET,
      payload: encodeGigaBrainSet(basedBlock, brainIds),
    };
    return deliver(ethInbox, m, quorum);
  }
  await deliverSet(GIGA);

  /** A proposal that sets the Pepecoin veto quorum to `value` (a governance-only parameter). */
  async function actions(value: bigint) {
    return {
      targets: [await house.getAddress()],
      values: [0n],
      calldatas: [house.interface.encodeFunctionData("setVetoQuorum", [value])],
    };
  }
  let counter = 0;
  /** Proposes (as labs, or with `brainId` as its owner) and returns the id and what queue/execute need. */
  async function propose(
    opts: { by?: typeof labs; brainId?: number; value?: bigint; description?: string } = {},
  ) {
    const value = opts.value ?? PEPE(5) + BigInt(counter);
    const a = await actions(value);
    const description = opts.description ?? `proposal ${++counter}`;
    const by = opts.by ?? labs;
    const tx =
      opts.brainId === undefined
        ? await governor.connect(by).propose(a.targets, a.values, a.calldatas, description)
        : await governor
            .connect(by)
            .proposeWithBrain(opts.brainId, a.targets, a.values, a.calldatas, description);
    const descriptionHash = hashText(description);
    const proposalId = await governor.hashProposal(a.targets, a.values, a.calldatas, descriptionHash);
    const args = [a.targets, a.values, a.calldatas, descriptionHash] as const;
    return { tx, proposalId, args, description, value };
  }

  /** Moves time to just after the vote start of `proposalId` (state Active). */
  async function toVoteStart(proposalId: bigint) {
    await time.increaseTo((await governor.proposalSnapshot(proposalId)) + 1n);
  }
  /** Moves time to just after the deadline of `proposalId`. */
  async function toVoteEnd(proposalId: bigint) {
    await time.increaseTo((await governor.proposalDeadline(proposalId)) + 1n);
  }

  /** The GOVERNANCE_CALL message an attester makes from the GovernanceCallSent log of `tx`. */
  async function governanceCallOf(tx: ContractTransactionResponse): Promise<Message> {
    const receipt = await tx.wait();
    if (!receipt) throw new Error("no receipt");
    const outboxAddr = await outbox.getAddress();
    for (const log of receipt.logs) {
      if (log.address !== outboxAddr) continue;
      const event = outbox.interface.parseLog(log);
      if (event?.name !== "GovernanceCallSent") continue;
      const [dst, target, value, data, salt] = event.args as unknown as [
        bigint,
        string,
        bigint,
        string,
        string,
      ];
      return {
        srcChainId: ETH_CHAIN,
        dstChainId: LOCAL_CHAIN,
        nonce: eventNonce(receipt.blockNumber, log.index),
        kind: Kind.GOVERNANCE_CALL,
        payload: encodeGovernanceCall(dst, target, value, data, salt),
      };
    }
    throw new Error("no GovernanceCallSent event in the transaction");
  }

  return {
    labs,
    alice,
    bob,
    carol,
    dave,
    eve,
    frank,
    g1,
    g2,
    g3,
    owners,
    attesters,
    quorum,
    pepe,
    brain,
    ethInbox,
    sets,
    timelock,
    governor,
    house,
    outbox,
    guardian,
    basedInbox,
    basedTimelock,
    receiver,
    deliverSet,
    actions,
    propose,
    toVoteStart,
    toVoteEnd,
    governanceCallOf,
  };
}

export type Governance = Awaited<ReturnType<typeof deployGovernance>>;
