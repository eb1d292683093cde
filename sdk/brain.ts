import {
  type Address,
  type ContractFunctionArgs,
  type ContractFunctionName,
  type Hash,
  type TransactionReceipt,
  formatEther,
} from "viem";
import { brainNFTAbi } from "../protocol/generated/abis";
import { BasedError } from "./errors";
import { type ChainContext, requireWallet } from "./chain";
import { type OnStep, ensureAllowance, eventOf, revertOf, sendContractCall } from "./contract-call";

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

const PEPE = (wei: bigint) => `${formatEther(wei)} PEPE`;

function brainAddress(ctx: ChainContext): Address {
  return ctx.deployments.ethereum.contracts.BrainNFT;
}

function pepecoinAddress(ctx: ChainContext): Address {
  return ctx.deployments.ethereum.contracts.Pepecoin;
}

/** Reads one Brain; `undefined` when the id is free (never minted, or deactivated). */
export async function getBrain(ctx: ChainContext, id: number): Promise<Brain | undefined> {
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
    if (revertOf(err)?.name === "ERC721NonexistentToken") return undefined;
    throw err;
  }
}

/** Network-wide figures: next burn price, Brains issued by burn, active Brains. */
export async function getBrainSupply(ctx: ChainContext) {
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
  ctx: ChainContext,
  options: { maxPrice?: bigint; onStep?: OnStep } = {},
): Promise<MintResult> {
  const { burnPrice, activeSupply, maxBrains } = await getBrainSupply(ctx);
  if (options.maxPrice !== undefined && burnPrice > options.maxPrice) {
    throw explainBrainError("BurnPriceAboveMax", [burnPrice, options.maxPrice]);
  }
  if (activeSupply >= maxBrains) throw explainBrainError("BrainCapReached", [maxBrains]);
  const approvalHash = await ensurePepe(ctx, burnPrice, "a mint by burn", options.onStep);
  return mintResult(
    await send(ctx, "mintByBurn", [options.maxPrice ?? burnPrice], options.onStep),
    approvalHash,
  );
}

/** Mints a Brain by locking exactly 100,000 PEPE for 90 days (approving it first when needed). */
export async function mintBrainByStake(
  ctx: ChainContext,
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
  return mintResult(await send(ctx, "mintByStake", [], options.onStep), approvalHash);
}

/** Deactivates the caller's unlocked stake Brain: burns it and returns its 100,000 PEPE. */
export async function deactivateBrain(
  ctx: ChainContext,
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

  const receipt = await send(ctx, "deactivate", [BigInt(id)], options.onStep);
  const event = eventOf(receipt, brainNFTAbi, "BrainDeactivated");
  return { id, refunded: event.args.refunded, transactionHash: receipt.transactionHash };
}

/** Sets (or with the zero address, resets) the Brain's wallet on the BasedAI chain. */
export async function linkBasedWallet(
  ctx: ChainContext,
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
  const receipt = await send(ctx, "linkBasedWallet", [BigInt(id), basedWallet], options.onStep);
  const linked = await getBrain(ctx, id);
  return { id, basedWallet: linked?.basedWallet ?? basedWallet, transactionHash: receipt.transactionHash };
}

// ───────────────────────────────────────────── internals ─────────────────────────────────────────────

function assertBrainId(id: number): void {
  if (!Number.isSafeInteger(id) || id < 0 || id > 1023) {
    throw new BasedError("input", "InvalidBrainId", `Brain ids are whole numbers from 0 to 1023; got ${id}.`);
  }
}

async function latestTimestamp(ctx: ChainContext): Promise<number> {
  const block = await ctx.publicClient.getBlock({ blockTag: "latest" });
  return Number(block.timestamp);
}

/** Checks the PEPE balance and approves `amount` to BrainNFT when the allowance is short. */
function ensurePepe(ctx: ChainContext, amount: bigint, what: string, onStep?: OnStep) {
  const owner = requireWallet(ctx).account.address;
  return ensureAllowance(ctx, {
    token: pepecoinAddress(ctx),
    spender: { address: brainAddress(ctx), name: "BrainNFT" },
    amount,
    describe: PEPE,
    onStep,
    insufficient: (balance) =>
      new BasedError(
        "refused",
        "InsufficientPepe",
        `Not enough PEPE for ${what}: it needs ${PEPE(amount)}, ${owner} has ${PEPE(balance)} (short by ${PEPE(amount - balance)}).`,
        ctx.deployments.ethereum.testPepecoin
          ? "On devnet, TestPepecoin is an open faucet: call its mint(address,uint256), or use a funded devnet account."
          : "Acquire more Pepecoin, then try again.",
        { needed: amount.toString(), balance: balance.toString() },
      ),
  });
}

type BrainWrite = ContractFunctionName<typeof brainNFTAbi, "nonpayable">;

/** Sends a BrainNFT call; a refusal reads as explainBrainError says. */
function send<const F extends BrainWrite>(
  ctx: ChainContext,
  functionName: F,
  args: ContractFunctionArgs<typeof brainNFTAbi, "nonpayable", F>,
  onStep?: OnStep,
) {
  return sendContractCall(
    ctx,
    { address: brainAddress(ctx), abi: brainNFTAbi, functionName, args },
    { explain: (r) => explainBrainError(r.name, r.args), label: functionName, onStep },
  );
}

function mintResult(receipt: TransactionReceipt, approvalHash: Hash | undefined): MintResult {
  const event = eventOf(receipt, brainNFTAbi, "BrainMinted");
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
        "Raise your maximum to at least the current price to accept it.",
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
        "Mint one by burn or by stake first.",
        { brainId: String(a[0]) },
      );
    default:
      return new BasedError(
        "refused",
        name,
        `BrainNFT refused the call: ${name}(${args.map(String).join(", ")}).`,
      );
  }
}
