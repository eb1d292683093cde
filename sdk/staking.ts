/**
 * Staking BASED (Staking on the BasedAI chain, docs/architecture.md §3): to a Brain, or to a validator
 * within a Brain (delegation); unstaking starts an unbonding period after which the amount can be
 * withdrawn. A Brain's stake counts for rewards up to 0.5 % of all stake; at 0.5 % or more it is a
 * GigaBrain.
 */
import { type Address, type Hash, zeroAddress } from "viem";
import {
  BASED,
  assertAmount,
  assertBrainActive,
  brainNotActive,
  economyContracts,
  ensureBased,
  basedTransferRefusal,
  isoTime,
} from "./economy";
import { BasedError } from "./errors";
import { getMembership } from "./network";
import { stakingAbi } from "../protocol/generated/abis";
import { type ChainContext, signerOf } from "./chain";
import { genericRefusal, type OnStep, type Revert, sendContractCall, eventOf } from "./contract-call";

export type BrainStake = {
  brainId: number;
  /** All BASED staked in the Brain (to it and to its validators). */
  brainStake: bigint;
  /** The part that counts for rewards: at most 0.5 % of `totalStake`. */
  countedStake: bigint;
  /** All BASED staked on the network. */
  totalStake: bigint;
  /** The Brain holds at least 0.5 % of all stake. */
  gigaBrain: boolean;
};

/** Brain `brainId`'s stake, the part that counts, the network's total and its GigaBrain status. */
export async function getBrainStake(ctx: ChainContext, brainId: number): Promise<BrainStake> {
  const staking = economyContracts(ctx).Staking;
  const block = await ctx.publicClient.getBlockNumber();
  const read = { address: staking, abi: stakingAbi, blockNumber: block } as const;
  const id = BigInt(brainId);
  const [brainStake, countedStake, totalStake, gigaBrain] = await Promise.all([
    ctx.publicClient.readContract({ ...read, functionName: "brainStake", args: [id] }),
    ctx.publicClient.readContract({ ...read, functionName: "countedStake", args: [id] }),
    ctx.publicClient.readContract({ ...read, functionName: "totalStake" }),
    ctx.publicClient.readContract({ ...read, functionName: "isGigaBrain", args: [id] }),
  ]);
  return { brainId, brainStake, countedStake, totalStake, gigaBrain };
}

export type StakeOptions = {
  brainId: number;
  /** Stake through this validator of the Brain (delegation); default: to the Brain itself. */
  validator?: Address;
  /** Wei of BASED. */
  amount: bigint;
  onStep?: OnStep;
};

export type Staked = {
  brainId: number;
  validator: Address;
  staker: Address;
  amount: bigint;
  /** The staker's position (Brain, validator) afterwards. */
  position: bigint;
  brainStake: bigint;
  transactionHash: Hash;
  approvalHash: Hash | null;
};

const positionOf = (ctx: ChainContext, brainId: number, validator: Address, staker: Address) =>
  ctx.publicClient.readContract({
    address: economyContracts(ctx).Staking,
    abi: stakingAbi,
    functionName: "stakeOf",
    args: [BigInt(brainId), validator, staker],
  });

/** Stakes BASED to a Brain or one of its validators, approving BASED to Staking first when needed. */
export async function stakeBased(ctx: ChainContext, options: StakeOptions): Promise<Staked> {
  const { brainId, amount, onStep } = options;
  const validator = options.validator ?? zeroAddress;
  assertAmount(amount);
  const staker = signerOf(ctx);
  const staking = economyContracts(ctx).Staking;
  onStep?.("check", `checking Brain #${brainId}`);
  await assertBrainActive(ctx, brainId);
  if (validator !== zeroAddress) {
    const membership = await getMembership(ctx, brainId, validator);
    if (membership.role !== "validator") {
      throw explainStakingError({ name: "NotAValidator", args: [BigInt(brainId), validator] });
    }
  }
  const approvalHash = await ensureBased(
    ctx,
    { address: staking, name: "Staking" },
    amount,
    "this stake",
    onStep,
  );
  const receipt = await sendContractCall(
    ctx,
    { address: staking, abi: stakingAbi, functionName: "stake", args: [BigInt(brainId), validator, amount] },
    { explain: explainStakingError, label: `staking ${BASED(amount)} to Brain #${brainId}`, onStep },
  );
  const [position, { brainStake }] = await Promise.all([
    positionOf(ctx, brainId, validator, staker),
    getBrainStake(ctx, brainId),
  ]);
  return {
    brainId,
    validator,
    staker,
    amount,
    position,
    brainStake,
    transactionHash: receipt.transactionHash,
    approvalHash: approvalHash ?? null,
  };
}

export type Unstaked = {
  brainId: number;
  validator: Address;
  staker: Address;
  amount: bigint;
  /** The staker's position afterwards. */
  position: bigint;
  /** Unix seconds (BasedAI-chain time) from which it can be withdrawn. */
  releaseAt: number;
  transactionHash: Hash;
};

/** Options of `unstakeBased`. */
export type UnstakeOptions = StakeOptions & {
  /**
   * The generation of the Brain id to unstake from (BrainRegistry `generation`): an earlier one is
   * a Brain whose id was freed and minted again, whose stake its stakers take back this way.
   * Default: the current Brain.
   */
  generation?: bigint;
};

/** `staker`'s position in generation `generation` of Brain id `brainId` (Staking `stakeOfAt`). */
const positionAt = (
  ctx: ChainContext,
  brainId: number,
  generation: bigint,
  validator: Address,
  staker: Address,
) =>
  ctx.publicClient.readContract({
    address: economyContracts(ctx).Staking,
    abi: stakingAbi,
    functionName: "stakeOfAt",
    args: [BigInt(brainId), generation, validator, staker],
  });

/** Unstakes from a position; the amount stops counting now and can be withdrawn after the unbonding period. */
export async function unstakeBased(ctx: ChainContext, options: UnstakeOptions): Promise<Unstaked> {
  const { brainId, amount, onStep, generation } = options;
  const validator = options.validator ?? zeroAddress;
  assertAmount(amount);
  const staker = signerOf(ctx);
  onStep?.("check", "reading your stake");
  const available =
    generation === undefined
      ? await positionOf(ctx, brainId, validator, staker)
      : await positionAt(ctx, brainId, generation, validator, staker);
  if (available < amount) {
    throw explainStakingError(
      { name: "InsufficientStake", args: [available, amount] },
      { brainId, validator },
    );
  }
  const receipt = await sendContractCall(
    ctx,
    {
      address: economyContracts(ctx).Staking,
      abi: stakingAbi,
      ...(generation === undefined
        ? { functionName: "unstake" as const, args: [BigInt(brainId), validator, amount] as const }
        : {
            functionName: "unstakeAt" as const,
            args: [BigInt(brainId), generation, validator, amount] as const,
          }),
    },
    {
      explain: (r) => explainStakingError(r, { brainId, validator }),
      label: `unstaking ${BASED(amount)} from Brain #${brainId}`,
      onStep,
    },
  );
  const event = eventOf(receipt, stakingAbi, "Unstaked");
  return {
    brainId,
    validator,
    staker,
    amount,
    position: available - amount,
    releaseAt: Number(event.args.releaseAt),
    transactionHash: receipt.transactionHash,
  };
}

export type Unbonding = { amount: bigint; releaseAt: number };

/** `staker`'s unbondings not yet withdrawn, oldest first. */
export async function getUnbondings(ctx: ChainContext, staker: Address): Promise<Unbonding[]> {
  const queue = await ctx.publicClient.readContract({
    address: economyContracts(ctx).Staking,
    abi: stakingAbi,
    functionName: "unbondings",
    args: [staker],
  });
  return queue.map((u) => ({ amount: u.amount, releaseAt: Number(u.releaseAt) }));
}

/** Withdraws the signer's released unbondings (at most `maxEntries` of them, oldest first). */
export async function withdrawUnbonded(
  ctx: ChainContext,
  options: { maxEntries?: number; onStep?: OnStep } = {},
): Promise<{ staker: Address; amount: bigint; remaining: Unbonding[]; transactionHash: Hash }> {
  const staker = signerOf(ctx);
  const maxEntries = BigInt(options.maxEntries ?? 50);
  const receipt = await sendContractCall(
    ctx,
    { address: economyContracts(ctx).Staking, abi: stakingAbi, functionName: "withdraw", args: [maxEntries] },
    { explain: explainStakingError, label: "the withdrawal", onStep: options.onStep },
  );
  const event = eventOf(receipt, stakingAbi, "Withdrawn");
  return {
    staker,
    amount: event.args.amount,
    remaining: await getUnbondings(ctx, staker),
    transactionHash: receipt.transactionHash,
  };
}

export type StakePosition = { brainId: number; validator: Address; amount: bigint };

/** `staker`'s positions (found from its Staked events, read now) and unbondings. */
export async function getStakePositions(
  ctx: ChainContext,
  staker: Address,
): Promise<{ staker: Address; positions: StakePosition[]; unbondings: Unbonding[] }> {
  const staking = economyContracts(ctx).Staking;
  const events = await ctx.publicClient.getContractEvents({
    address: staking,
    abi: stakingAbi,
    eventName: "Staked",
    args: { staker },
    fromBlock: BigInt(ctx.deployments.based?.startBlock ?? 0),
  });
  const keys = new Map<string, { brainId: number; validator: Address }>();
  for (const e of events) {
    const brainId = Number(e.args.brainId);
    const validator = e.args.validator ?? zeroAddress;
    keys.set(`${brainId}:${validator.toLowerCase()}`, { brainId, validator });
  }
  const positions = await Promise.all(
    [...keys.values()].map(async (k) => ({
      ...k,
      amount: await positionOf(ctx, k.brainId, k.validator, staker),
    })),
  );
  return {
    staker,
    positions: positions.filter((p) => p.amount > 0n).sort((a, b) => a.brainId - b.brainId),
    unbondings: await getUnbondings(ctx, staker),
  };
}

/** Turns a Staking custom error into a message that says what to do. */
export function explainStakingError(
  revert: Revert,
  position: { brainId: number; validator: Address } = { brainId: 0, validator: zeroAddress },
): BasedError {
  const { name, args } = revert;
  switch (name) {
    case "BrainNotActive":
      return brainNotActive(args[0] as bigint);
    case "NotAValidator":
      return new BasedError(
        "refused",
        name,
        `${String(args[1])} is not a registered validator of Brain #${String(args[0])}.`,
        "Stake to the Brain itself, or to one of its registered validators.",
        { brainId: String(args[0]) },
      );
    case "InsufficientStake": {
      const through = position.validator === zeroAddress ? "" : ` through ${position.validator}`;
      return new BasedError(
        "refused",
        name,
        `Your stake in Brain #${position.brainId}${through} is ${BASED(args[0] as bigint)}, less than the ${BASED(args[1] as bigint)} asked.`,
        "Unstake at most what the position holds.",
        { available: String(args[0]), requested: String(args[1]) },
      );
    }
    case "NothingToWithdraw": {
      const next = args[0] as bigint;
      return next === 0n
        ? new BasedError(
            "refused",
            name,
            "Nothing to withdraw: you have no unbonding stake.",
            "Unstake first; the stake is withdrawable once its unbonding period ends.",
          )
        : new BasedError(
            "refused",
            name,
            `Nothing released yet; next release at ${isoTime(next)}.`,
            "Withdraw again after that time (BasedAI-chain time).",
            { nextReleaseAt: next.toString() },
          );
    }
    case "InvalidAmount":
      return new BasedError("input", name, `Invalid amount ${String(args[0])}: it must be more than 0.`);
    case "ERC20InsufficientBalance":
    case "ERC20InsufficientAllowance":
      return basedTransferRefusal(name);
    default:
      return genericRefusal("Staking", revert);
  }
}
