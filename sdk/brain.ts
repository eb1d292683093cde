import {
  type Address,
  type Hash,
  BaseError,
  ContractFunctionRevertedError,
  erc20Abi,
  formatEther,
  parseEventLogs,
} from "viem";
import { brainNFTAbi } from "../protocol/generated/abis";
import { type EthereumContext, requireWallet } from "./ethereum";
import { BasedError } from "./errors";

/** How a Brain came to exist (BrainNFT.BrainClass). */
export const BRAIN_CLASSES = ["none", "reserved", "burn", "stake"] as const;
export type BrainClass = (typeof BRAIN_CLASSES)[number];

export type Brain = {
  id: number;
  owner: Address;
  class: BrainClass;
  /** Stake Brains: unix seconds from which it may be deactivated and earns BASED; else 0. */
  unlockAt: number;
  /** True for a stake Brain whose Pepecoin is still locked. */
  locked: boolean;
  /** The Brain's wallet on the BasedAI chain (the owner unless linked). */
  basedWallet: Address;
};

export type MintResult = {
  id: number;
  class: BrainClass;
  /** PEPE burned or staked, in wei. */
  paid: bigint;
  unlockAt: number;
  owner: Address;
  transactionHash: Hash;
  /** The approval sent first, when the allowance was too small. */
  approvalHash?: Hash;
};

/** Progress callbacks for long actions (a spinner or a log line per step). */
export type OnStep = (step: "approve" | "send" | "confirm", detail: string) => void;

const PEPE = (wei: bigint) => `${formatEther(wei)} PEPE`;

function brainAddress(ctx: EthereumContext): Address {
  return ctx.deployments.ethereum.contracts.BrainNFT;
}

function pepecoinAddress(ctx: EthereumContext): Address {
  return ctx.deployments.ethereum.contracts.Pepecoin;
}

/** Reads one Brain; `undefined` when the id is free (never minted, or deactivated). */
export async function getBrain(ctx: EthereumContext, id: number): Promise<Brain | undefined> {
  assertBrainId(id);
  try {
    const [info, now] = await Promise.all([
      ctx.publicClient.readContract({
        address: brainAddress(ctx),
        abi: brainNFTAbi,
        functionName: "brainInfo",
        args: [BigInt(id)],
      }),
      latestTimestamp(ctx),
    ]);
    const unlockAt = Number(info.unlockAt);
    return {
      id,
      owner: info.owner,
      class: BRAIN_CLASSES[info.class] ?? "none",
      unlockAt,
      locked: now < unlockAt,
      basedWallet: info.basedWallet,
    };
  } catch (err) {
    if (revertName(err) === "ERC721NonexistentToken") return undefined;
    throw err;
  }
}

/** Network-wide figures: next burn price, Brains issued by burn, active Brains. */
export async function getBrainSupply(ctx: EthereumContext) {
  const read = <F extends "burnPrice" | "burnMints" | "activeSupply" | "MAX_BRAINS">(functionName: F) =>
    ctx.publicClient.readContract({ address: brainAddress(ctx), abi: brainNFTAbi, functionName });
  const [burnPrice, burnMints, activeSupply, maxBrains] = await Promise.all([
    read("burnPrice"),
    read("burnMints"),
    read("activeSupply"),
    read("MAX_BRAINS"),
  ]);
  return { burnPrice, burnMints, activeSupply, maxBrains };
}

/**
 * Mints a Brain by burning Pepecoin at the current price (approving exactly that amount first
 * when needed). `maxPrice` (wei) defaults to the price read now, so a mint that races ahead and
 * raises the price makes this one fail instead of paying more.
 */
export async function mintBrainByBurn(
  ctx: EthereumContext,
  options: { maxPrice?: bigint; onStep?: OnStep } = {},
): Promise<MintResult> {
  const { burnPrice, activeSupply, maxBrains } = await getBrainSupply(ctx);
  if (options.maxPrice !== undefined && burnPrice > options.maxPrice) {
    throw explainBrainError("BurnPriceAboveMax", [burnPrice, options.maxPrice]);
  }
  if (activeSupply >= maxBrains) throw explainBrainError("BrainCapReached", [maxBrains]);
  const approvalHash = await ensurePepe(ctx, burnPrice, "a mint by burn", options.onStep);
  return sendMint(ctx, "mintByBurn", [options.maxPrice ?? burnPrice], approvalHash, options.onStep);
}

/** Mints a Brain by locking exactly 100,000 PEPE for 90 days (approving it first when needed). */
export async function mintBrainByStake(
  ctx: EthereumContext,
  options: { onStep?: OnStep } = {},
): Promise<MintResult> {
  const [stakeAmount, { activeSupply, maxBrains }] = await Promise.all([
    ctx.publicClient.readContract({
      address: brainAddress(ctx),
      abi: brainNFTAbi,
      functionName: "STAKE_AMOUNT",
    }),
    getBrainSupply(ctx),
  ]);
  if (activeSupply >= maxBrains) throw explainBrainError("BrainCapReached", [maxBrains]);
  const approvalHash = await ensurePepe(ctx, stakeAmount, "a mint by stake", options.onStep);
  return sendMint(ctx, "mintByStake", [], approvalHash, options.onStep);
}

/** Deactivates the caller's unlocked stake Brain: burns it and returns its 100,000 PEPE. */
export async function deactivateBrain(
  ctx: EthereumContext,
  id: number,
  options: { onStep?: OnStep } = {},
): Promise<{ id: number; refunded: bigint; transactionHash: Hash }> {
  const wallet = requireWallet(ctx);
  const brain = await getBrain(ctx, id);
  if (!brain) throw explainBrainError("ERC721NonexistentToken", [BigInt(id)]);
  if (brain.owner.toLowerCase() !== wallet.account.address.toLowerCase()) {
    throw explainBrainError("NotBrainOwner", [BigInt(id), wallet.account.address]);
  }
  if (brain.class !== "stake") throw explainBrainError("NotStakeBrain", [BigInt(id)]);
  if (brain.locked) throw explainBrainError("StakeLocked", [BigInt(id), BigInt(brain.unlockAt)]);

  const receipt = await send(ctx, { functionName: "deactivate", args: [BigInt(id)] }, options.onStep);
  const [event] = parseEventLogs({ abi: brainNFTAbi, eventName: "BrainDeactivated", logs: receipt.logs });
  if (!event) throw new Error(`transaction ${receipt.transactionHash} emitted no BrainDeactivated event`);
  return { id, refunded: event.args.refunded, transactionHash: receipt.transactionHash };
}

/** Sets (or with the zero address, resets) the Brain's wallet on the BasedAI chain. */
export async function linkBasedWallet(
  ctx: EthereumContext,
  id: number,
  basedWallet: Address,
  options: { onStep?: OnStep } = {},
): Promise<{ id: number; basedWallet: Address; transactionHash: Hash }> {
  const wallet = requireWallet(ctx);
  const brain = await getBrain(ctx, id);
  if (!brain) throw explainBrainError("ERC721NonexistentToken", [BigInt(id)]);
  if (brain.owner.toLowerCase() !== wallet.account.address.toLowerCase()) {
    throw explainBrainError("NotBrainOwner", [BigInt(id), wallet.account.address]);
  }
  const receipt = await send(
    ctx,
    { functionName: "linkBasedWallet", args: [BigInt(id), basedWallet] },
    options.onStep,
  );
  const linked = await getBrain(ctx, id);
  return { id, basedWallet: linked?.basedWallet ?? basedWallet, transactionHash: receipt.transactionHash };
}

// ───────────────────────────────────────────── internals ─────────────────────────────────────────────

function assertBrainId(id: number): void {
  if (!Number.isSafeInteger(id) || id < 0 || id > 1023) {
    throw new BasedError("input", "InvalidBrainId", `Brain ids are whole numbers from 0 to 1023; got ${id}.`);
  }
}

async function latestTimestamp(ctx: EthereumContext): Promise<number> {
  const block = await ctx.publicClient.getBlock({ blockTag: "latest" });
  return Number(block.timestamp);
}

/** Checks the PEPE balance and approves `amount` to BrainNFT when the allowance is short. */
async function ensurePepe(ctx: EthereumContext, amount: bigint, what: string, onStep?: OnStep) {
  const wallet = requireWallet(ctx);
  const owner = wallet.account.address;
  const token = pepecoinAddress(ctx);
  const [balance, allowance] = await Promise.all([
    ctx.publicClient.readContract({
      address: token,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [owner],
    }),
    ctx.publicClient.readContract({
      address: token,
      abi: erc20Abi,
      functionName: "allowance",
      args: [owner, brainAddress(ctx)],
    }),
  ]);
  if (balance < amount) {
    throw new BasedError(
      "refused",
      "InsufficientPepe",
      `Not enough PEPE for ${what}: it needs ${PEPE(amount)}, ${owner} has ${PEPE(balance)} (short by ${PEPE(amount - balance)}).`,
      ctx.deployments.ethereum.testPepecoin
        ? "On devnet, TestPepecoin is an open faucet: call its mint(address,uint256), or use a funded devnet account."
        : "Acquire more Pepecoin, then try again.",
      { needed: amount.toString(), balance: balance.toString() },
    );
  }
  if (allowance >= amount) return undefined;
  onStep?.("approve", `approving ${PEPE(amount)} to BrainNFT`);
  const { request } = await ctx.publicClient.simulateContract({
    account: wallet.account,
    address: token,
    abi: erc20Abi,
    functionName: "approve",
    args: [brainAddress(ctx), amount],
  });
  const hash = await wallet.writeContract(request);
  const receipt = await ctx.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`PEPE approval ${hash} reverted`);
  return hash;
}

type BrainWrite =
  | { functionName: "mintByBurn"; args: readonly [bigint] }
  | { functionName: "mintByStake"; args: readonly [] }
  | { functionName: "deactivate"; args: readonly [bigint] }
  | { functionName: "linkBasedWallet"; args: readonly [bigint, Address] };

/** Simulates first (so a refusal is explained before any gas is spent), then sends and waits. */
async function send(ctx: EthereumContext, call: BrainWrite, onStep?: OnStep) {
  const wallet = requireWallet(ctx);
  let request;
  try {
    ({ request } = await ctx.publicClient.simulateContract({
      account: wallet.account,
      address: brainAddress(ctx),
      abi: brainNFTAbi,
      ...call,
    } as Parameters<typeof ctx.publicClient.simulateContract>[0]));
  } catch (err) {
    throw toBasedError(err);
  }
  onStep?.("send", `sending ${call.functionName}`);
  const hash = await wallet.writeContract(request);
  onStep?.("confirm", `waiting for ${hash}`);
  const receipt = await ctx.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`${call.functionName} transaction ${hash} reverted`);
  return receipt;
}

async function sendMint(
  ctx: EthereumContext,
  functionName: "mintByBurn" | "mintByStake",
  args: readonly [bigint] | readonly [],
  approvalHash: Hash | undefined,
  onStep?: OnStep,
): Promise<MintResult> {
  const call = (
    functionName === "mintByBurn" ? { functionName, args } : { functionName, args: [] as const }
  ) as BrainWrite;
  const receipt = await send(ctx, call, onStep);
  const [event] = parseEventLogs({ abi: brainNFTAbi, eventName: "BrainMinted", logs: receipt.logs });
  if (!event) throw new Error(`transaction ${receipt.transactionHash} emitted no BrainMinted event`);
  return {
    id: Number(event.args.id),
    class: BRAIN_CLASSES[event.args.class] ?? "none",
    paid: event.args.paid,
    unlockAt: Number(event.args.unlockAt),
    owner: event.args.owner,
    transactionHash: receipt.transactionHash,
    approvalHash,
  };
}

/** The custom error name of a reverted contract call, if viem could decode one. */
function revertName(err: unknown): string | undefined {
  if (!(err instanceof BaseError)) return undefined;
  const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
  return reverted instanceof ContractFunctionRevertedError ? reverted.data?.errorName : undefined;
}

function toBasedError(err: unknown): unknown {
  if (!(err instanceof BaseError)) return err;
  const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
  if (reverted instanceof ContractFunctionRevertedError && reverted.data) {
    return explainBrainError(reverted.data.errorName, reverted.data.args ?? []);
  }
  return err;
}

const date = (seconds: bigint) => new Date(Number(seconds) * 1000).toISOString();

/** Turns a BrainNFT custom error into a message that says what happened and what to do. */
export function explainBrainError(name: string, args: readonly unknown[]): BasedError {
  const a = args as readonly bigint[];
  switch (name) {
    case "BurnPriceAboveMax":
      return new BasedError(
        "refused",
        name,
        `The burn price is ${PEPE(a[0]!)}, above your maximum of ${PEPE(a[1]!)}.`,
        `Pass --max-price ${formatEther(a[0]!)} (or more) to accept the current price.`,
        { price: a[0]!.toString(), maxPrice: a[1]!.toString() },
      );
    case "BrainCapReached":
      return new BasedError(
        "refused",
        name,
        `All ${a[0]} Brain slots are taken.`,
        "A slot frees up when a stake Brain is deactivated after its 90-day lock; try again later.",
      );
    case "InsufficientPepe":
      return new BasedError("refused", name, `Not enough PEPE: needs ${PEPE(a[0]!)}, has ${PEPE(a[1]!)}.`);
    case "InsufficientPepeAllowance":
      return new BasedError(
        "refused",
        name,
        `BrainNFT may pull only ${PEPE(a[1]!)} of the ${PEPE(a[0]!)} needed.`,
        "Approve the amount to the BrainNFT contract and try again.",
      );
    case "NotBrainOwner":
      return new BasedError(
        "refused",
        name,
        `Brain #${a[0]} is not owned by ${String(args[1])}.`,
        "Only the Brain's owner can do this: use the owner's key (BASED_PRIVATE_KEY).",
      );
    case "NotStakeBrain":
      return new BasedError(
        "refused",
        name,
        `Brain #${a[0]} is not a stake Brain; burn and reserved Brains are permanent and cannot be deactivated.`,
      );
    case "StakeLocked":
      return new BasedError(
        "refused",
        name,
        `Brain #${a[0]}'s Pepecoin is locked until ${date(a[1]!)}.`,
        "Deactivate it after that time to get the 100,000 PEPE back.",
        { unlockAt: a[1]!.toString() },
      );
    case "StakeBrainNonTransferable":
      return new BasedError("refused", name, `Brain #${a[0]} is a stake Brain: it cannot be transferred.`);
    case "ERC721NonexistentToken":
      return new BasedError(
        "refused",
        "BrainNotFound",
        `Brain #${a[0]} does not exist.`,
        "Mint one with `based brain mint --burn` or `based brain mint --stake`.",
      );
    default:
      return new BasedError(
        "refused",
        name,
        `BrainNFT refused the call: ${name}(${args.map(String).join(", ")}).`,
      );
  }
}
