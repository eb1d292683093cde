/**
 * What the epoch computation reads and returns (docs/architecture.md §4). `EpochSnapshot` is everything the
 * BasedAI chain says at the end of an epoch (read by oracle/epoch/snapshot.ts, pure data: bigints,
 * numbers and checksummed addresses, nothing else), `CarryState` is what one epoch hands to the
 * next (Yuma bonds, permits), and `computeEpoch` (oracle/consensus/rewards.ts) turns both into the
 * report. Every attester that reads the same chain gets the same snapshot and so the same bytes.
 */
import type { Address, Hex } from "viem";
import type { PruningLeaf, PruningTree, RewardsTree } from "../../protocol/report";

/** A validator of a Brain at the end of the epoch. */
export interface ValidatorSnapshot {
  uid: number;
  account: Address;
  /** Block of its registration (Network.Member.registeredAt). */
  registeredAt: bigint;
  /** Staking.validatorStake (its own and its delegators'). */
  stake: bigint;
  /** Staking.takeOf, basis points. */
  takeBps: number;
  /** Every non-zero position delegated to it (its own included), ascending by account. */
  delegators: { account: Address; amount: bigint }[];
}

/** A miner of a Brain at the end of the epoch. */
export interface MinerSnapshot {
  uid: number;
  account: Address;
  registeredAt: bigint;
}

/** The latest weights a validator (by its current uid and account) revealed up to the epoch's end. */
export interface WeightsSnapshot {
  validatorUid: number;
  /** Block of the reveal transaction. */
  block: bigint;
  /**
   * Block of the commitment the reveal opened: the weights were chosen then, so it is Yuma's
   * lastUpdate (a uid registered after it cannot have been meant). Defaults to `block`.
   */
  committedAt?: bigint;
  /** Miner uid → u16 weight, uids ascending (as revealed; may name uids that left since). */
  weights: [number, number][];
}

export interface BrainSnapshot {
  brainId: number;
  /** BrainRegistry.earnsRewards(brainId, timestamp of the epoch's last block). */
  earns: boolean;
  /** BrainRegistry.rewardRecipient. */
  ownerRecipient: Address;
  /** BrainRegistry.split, basis points summing to 10,000. */
  split: { ownerBps: number; minersBps: number; validatorsBps: number };
  /** Staking.brainStake (stake to the Brain itself and to its validators). */
  brainStake: bigint;
  /** Non-zero stake to the Brain itself (validator = zero), ascending by account. */
  brainStakers: { account: Address; amount: bigint }[];
  /** Registered validators, ascending uid. */
  validators: ValidatorSnapshot[];
  /** Registered miners, ascending uid. */
  miners: MinerSnapshot[];
  /** Latest reveal per current validator, ascending validatorUid. */
  weights: WeightsSnapshot[];
}

export interface EpochSnapshot {
  epoch: bigint;
  /** [startBlock, endBlock): the epoch's blocks (Consensus.epochBounds). */
  startBlock: bigint;
  endBlock: bigint;
  /** emissionBetween(startBlock, endBlock). */
  emission: bigint;
  /** Staking.totalStake. */
  totalStake: bigint;
  /** EmissionSchedule.tftWeight(endBlock − 1), 1e18 = 1. */
  tftWeight: bigint;
  /** Every mirrored Brain (active or not), ascending brainId. */
  brains: BrainSnapshot[];
}

/** What one epoch hands to the next, per Brain. */
export interface BrainCarry {
  /** Yuma bonds by uid (rows of [uid, u16]), as output by the previous epoch. */
  bonds: [number, number][][];
  /** The uid → account the bonds were computed for (a uid with another account now starts afresh). */
  accounts: Address[];
  /** Performance of the previous epoch (0…1), for reporting. */
  performance: number;
}

export interface CarryState {
  /** The epoch this state is the output of (−1n: none yet). */
  epoch: bigint;
  brains: Record<number, BrainCarry>;
}

/** One account's reward, and why (for `based rewards` and the logs). */
export interface RewardLine {
  account: Address;
  amount: bigint;
  brainId: number;
  kind: "owner" | "miner" | "validator-take" | "delegator" | "brain-staker" | "unallocated";
}

export interface EpochResult {
  epoch: bigint;
  /** Exactly `snapshot.emission` in total. */
  lines: RewardLine[];
  rewardsTree: RewardsTree;
  pruningLeaves: PruningLeaf[];
  /** Undefined when no Brain has a member (a Merkle tree needs a leaf): the report then carries pruningRoot 0. */
  pruningTree: PruningTree | undefined;
  /** The pruning tree's root, or 0x00…00 ("no order", Network's NoPruningOrder) without members. */
  pruningRoot: Hex;
  /** keccak256 of the canonical encoding of the snapshot and the carried state. */
  inputsHash: Hex;
  /** Brains with a non-zero total, ascending, and their totals (sum = emission). */
  brainIds: number[];
  brainTotals: bigint[];
  /** Per Brain: performance (0…1) and its share of the emission. */
  brainStats: { brainId: number; performance: number; weight: number; total: bigint }[];
  /** The state the next epoch starts from. */
  carry: CarryState;
}
