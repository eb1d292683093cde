/**
 * A Brain owner's configuration on the BasedAI chain (BrainRegistry, docs/architecture.md §3): the task its
 * nodes run (with a notice period before a change takes effect), ZK mode, the emission split,
 * the registration fee, pricing and the profile. Only the Brain's BasedAI wallet may change it.
 */
import {
  type Address,
  type ContractFunctionArgs,
  type Hash,
  type Hex,
  type TransactionReceipt,
  zeroAddress,
  zeroHash,
} from "viem";
import { BASED, brainNotActive, economyContracts, isoTime } from "./economy";
import { BasedError } from "./errors";
import { brainRegistryAbi } from "../protocol/generated/abis";
import { type ChainContext, signerOf } from "./chain";
import { genericRefusal, type OnStep, type Revert, sendContractCall } from "./contract-call";

/** What a Brain's nodes run. */
export type BrainTask = {
  modelUri: string;
  contentHash: Hex;
  templateId: number;
  sourceRepo: string;
  sourceCommit: string;
};

/** Emission split in basis points (they sum to 10,000). */
export type Split = { ownerBps: number; minersBps: number; validatorsBps: number };

/** Prices in wei of BASED per 1,000 compute units, and the context limit in compute units (0: unset). */
export type Pricing = { promptPricePer1k: bigint; completionPricePer1k: bigint; contextLimit: number };

export type BrainProfile = {
  name: string;
  ensName: string;
  /** As set: zero means the Brain's wallet. */
  rewardAddress: Address;
  /** Where the owner's rewards and registration fees go now. */
  rewardRecipient: Address;
};

export type BrainConfig = {
  brainId: number;
  registry: Address;
  active: boolean;
  /** The Brain's BasedAI wallet: the only account that may change this configuration. */
  wallet: Address;
  /** The task in effect (null when none was ever set). */
  task: BrainTask | null;
  /** A task change still in its notice period, and when (unix seconds) it takes effect. */
  pendingTask: (BrainTask & { effectiveAt: number }) | null;
  zkMode: boolean;
  split: Split;
  /** Wei of BASED a new member pays. */
  registrationFee: bigint;
  pricing: Pricing;
  profile: BrainProfile;
};

/** Reads Brain `brainId`'s configuration (the defaults where nothing was set). */
export async function getBrainConfig(ctx: ChainContext, brainId: number): Promise<BrainConfig> {
  const registry = economyContracts(ctx).BrainRegistry;
  const block = await ctx.publicClient.getBlockNumber();
  const read = { address: registry, abi: brainRegistryAbi, blockNumber: block } as const;
  const id = BigInt(brainId);
  const [brain, task, [pending, effectiveAt], zkMode, split, fee, pricing, profile, recipient] =
    await Promise.all([
      ctx.publicClient.readContract({ ...read, functionName: "brain", args: [id] }),
      ctx.publicClient.readContract({ ...read, functionName: "task", args: [id] }),
      ctx.publicClient.readContract({ ...read, functionName: "pendingTask", args: [id] }),
      ctx.publicClient.readContract({ ...read, functionName: "zkMode", args: [id] }),
      ctx.publicClient.readContract({ ...read, functionName: "split", args: [id] }),
      ctx.publicClient.readContract({ ...read, functionName: "registrationFee", args: [id] }),
      ctx.publicClient.readContract({ ...read, functionName: "pricing", args: [id] }),
      ctx.publicClient.readContract({ ...read, functionName: "profile", args: [id] }),
      ctx.publicClient.readContract({ ...read, functionName: "rewardRecipient", args: [id] }),
    ]);
  const taskOf = (t: BrainTask): BrainTask | null =>
    t.modelUri === "" && t.contentHash === zeroHash ? null : { ...t };
  return {
    brainId,
    registry,
    active: brain.active,
    wallet: brain.basedWallet,
    task: taskOf(task),
    pendingTask: effectiveAt === 0n ? null : { ...pending, effectiveAt: Number(effectiveAt) },
    zkMode,
    split: { ownerBps: split[0], minersBps: split[1], validatorsBps: split[2] },
    registrationFee: fee,
    pricing: { promptPricePer1k: pricing[0], completionPricePer1k: pricing[1], contextLimit: pricing[2] },
    profile: { name: profile[0], ensName: profile[1], rewardAddress: profile[2], rewardRecipient: recipient },
  };
}

/**
 * What to change; each group present becomes one BrainRegistry transaction. Pricing and profile
 * fields left out keep their current values.
 */
export type BrainConfigChange = {
  task?: BrainTask;
  zkMode?: boolean;
  split?: Split;
  registrationFee?: bigint;
  pricing?: Partial<Pricing>;
  profile?: Partial<Pick<BrainProfile, "name" | "ensName" | "rewardAddress">>;
};

export type ConfigAction =
  "setTask" | "setZkMode" | "setSplit" | "setRegistrationFee" | "setPricing" | "setProfile";

export type ConfigTransaction = { action: ConfigAction; transactionHash: Hash };

const MAX_UINT128 = (1n << 128n) - 1n;

/**
 * Applies `change` to Brain `brainId`, one transaction per group (task, ZK mode, split, fee,
 * pricing, profile), each simulated before it is sent. The signer must be the Brain's BasedAI
 * wallet. Returns the transactions and the configuration afterwards.
 */
export async function configureBrain(
  ctx: ChainContext,
  brainId: number,
  change: BrainConfigChange,
  options: { onStep?: OnStep } = {},
): Promise<{ transactions: ConfigTransaction[]; config: BrainConfig }> {
  const { onStep } = options;
  const signer = signerOf(ctx);
  onStep?.("check", `reading Brain #${brainId}'s configuration`);
  const current = await getBrainConfig(ctx, brainId);
  if (!current.active) throw brainNotActive(brainId);
  if (current.wallet.toLowerCase() !== signer.toLowerCase())
    throw notBrainWallet(brainId, signer, current.wallet);

  const id = BigInt(brainId);
  type Call = { action: ConfigAction; send: () => Promise<TransactionReceipt> };
  const calls: Call[] = [];
  // One typed call per group: the ABI checks each function's arguments.
  const call = <const F extends ConfigAction>(
    action: F,
    args: ContractFunctionArgs<typeof brainRegistryAbi, "nonpayable", F>,
  ): Call => ({
    action,
    send: () =>
      sendContractCall(
        ctx,
        { address: current.registry, abi: brainRegistryAbi, functionName: action, args },
        {
          explain: (revert) => explainRegistryError(revert, current.wallet),
          label: `${action} for Brain #${brainId}`,
          onStep,
        },
      ),
  });
  if (change.task) {
    const t = change.task;
    calls.push(call("setTask", [id, t.modelUri, t.contentHash, t.templateId, t.sourceRepo, t.sourceCommit]));
  }
  if (change.zkMode !== undefined) calls.push(call("setZkMode", [id, change.zkMode]));
  if (change.split) {
    const s = change.split;
    calls.push(call("setSplit", [id, s.ownerBps, s.minersBps, s.validatorsBps]));
  }
  if (change.registrationFee !== undefined) {
    calls.push(call("setRegistrationFee", [id, change.registrationFee]));
  }
  if (change.pricing) {
    const p = { ...current.pricing, ...change.pricing };
    if (p.contextLimit === 0) {
      throw new BasedError(
        "input",
        "InvalidContextLimit",
        `Brain #${brainId} has no context limit yet, and prices need one.`,
        "Set a context limit together with the prices.",
        { brainId: String(brainId) },
      );
    }
    for (const price of [p.promptPricePer1k, p.completionPricePer1k]) {
      if (price > MAX_UINT128) {
        throw new BasedError("input", "InvalidArgument", `A price of ${BASED(price)} does not fit 128 bits.`);
      }
    }
    calls.push(call("setPricing", [id, p.promptPricePer1k, p.completionPricePer1k, p.contextLimit]));
  }
  if (change.profile) {
    const p = {
      name: current.profile.name,
      ensName: current.profile.ensName,
      rewardAddress: current.profile.rewardAddress,
      ...change.profile,
    };
    calls.push(call("setProfile", [id, p.name, p.ensName, p.rewardAddress]));
  }
  if (calls.length === 0) {
    throw new BasedError("input", "NothingToChange", "Nothing to change: no configuration was given.");
  }

  const transactions: ConfigTransaction[] = [];
  for (const { action, send } of calls) {
    const receipt = await send();
    transactions.push({ action, transactionHash: receipt.transactionHash });
  }
  return { transactions, config: await getBrainConfig(ctx, brainId) };
}

function notBrainWallet(brainId: number | bigint, caller: Address, wallet: Address): BasedError {
  return new BasedError(
    "refused",
    "NotBrainWallet",
    `${caller} may not configure Brain #${brainId}: only its BasedAI wallet ${wallet} may.`,
    "Sign with that wallet's key (BASED_PRIVATE_KEY), or have the Brain's owner link your address to it on Ethereum (BrainNFT.linkBasedWallet).",
    { wallet, caller, brainId: String(brainId) },
  );
}

/** Turns a BrainRegistry custom error into a message that says what to do. */
export function explainRegistryError(revert: Revert, wallet: Address = zeroAddress): BasedError {
  const { name, args } = revert;
  switch (name) {
    case "NotBrainWallet":
      return notBrainWallet(args[0] as bigint, args[1] as Address, wallet);
    case "BrainNotActive":
      return brainNotActive(args[0] as bigint);
    case "InvalidSplit":
      return new BasedError(
        "refused",
        name,
        `The split sums to ${String(args[0])} basis points, not 10000.`,
        "Give three whole numbers of basis points (owner, miners, validators) that sum to 10000.",
      );
    case "StringTooLong":
      return new BasedError(
        "refused",
        name,
        `A value is ${String(args[0])} bytes long; at most ${String(args[1])} are allowed.`,
        "Shorten it and try again.",
      );
    case "InvalidContextLimit":
      return new BasedError(
        "refused",
        name,
        "The context limit must be positive.",
        "Give the context limit in compute units (tokens).",
      );
    default:
      return genericRefusal("BrainRegistry", revert);
  }
}

/** `isoTime` of a pending task's effective time, for output. */
export const effectiveAtIso = (config: BrainConfig): string | null =>
  config.pendingTask ? isoTime(config.pendingTask.effectiveAt) : null;
