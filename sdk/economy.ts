/**
 * What the BasedAI economy's SDK modules share (sdk/brain-config.ts, sdk/network.ts,
 * sdk/staking.ts, sdk/rewards.ts, sdk/market.ts): the contract addresses of the deployment, BASED
 * balance and allowance checks, and sending a transaction the way every `based` command does:
 * simulate first (so a contract rule's refusal is explained before any gas is spent), send, wait
 * for the receipt.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import {
  type Abi,
  type Address,
  type Hash,
  type Hex,
  type TransactionReceipt,
  BaseError,
  ContractFunctionRevertedError,
  decodeErrorResult,
  erc20Abi,
  formatEther,
} from "viem";
import { z } from "zod";
import { bytes32Schema } from "../protocol/schemas";
import type { BasedContext } from "./bridge";
import { BasedError } from "./errors";
import { requireWallet } from "./ethereum";
import {
  basedTokenAbi,
  brainRegistryAbi,
  computeMarketAbi,
  consensusAbi,
  emissionAbi,
  networkAbi,
  stakingAbi,
} from "../protocol/generated/abis";

/** The BasedAI chain's economy contracts of a deployment. */
export type EconomyContracts = {
  BasedToken: Address;
  BrainRegistry: Address;
  Network: Address;
  Staking: Address;
  Emission: Address;
  Consensus: Address;
  ComputeMarket: Address;
};

/** The economy contracts of the deployment `ctx` was connected with. */
export function economyContracts(ctx: BasedContext): EconomyContracts {
  const based = ctx.deployments.based;
  if (!based) {
    throw new BasedError(
      "environment",
      "NoBasedChain",
      "The deployments file describes no BasedAI chain.",
      "Restart `npm run devnet` (it starts both chains), or use a deployments file with a `based` section.",
    );
  }
  const c = based.contracts;
  return {
    BasedToken: c.BasedToken,
    BrainRegistry: c.BrainRegistry,
    Network: c.Network,
    Staking: c.Staking,
    Emission: c.Emission,
    Consensus: c.Consensus,
    ComputeMarket: c.ComputeMarket,
  };
}

/** `1.5 BASED`. */
export const BASED = (wei: bigint): string => `${formatEther(wei)} BASED`;

/** Unix seconds as an ISO time. */
export const isoTime = (seconds: bigint | number): string => new Date(Number(seconds) * 1000).toISOString();

/** Steps of an economy action, for a spinner or a log line each. */
export type EconomyStep = "check" | "approve" | "send" | "confirm";
export type OnEconomyStep = (step: EconomyStep, detail: string) => void;

const RECEIPT_POLL_MS = 250;

/** The signing account's address (the context must have been made with an account). */
export function signerOf(ctx: BasedContext): Address {
  return requireWallet(ctx).account.address;
}

/** Refuses an amount of nothing before any chain call (the contracts would revert with ZeroAmount). */
export function assertAmount(amount: bigint): void {
  if (amount <= 0n) throw new BasedError("input", "ZeroAmount", "The amount must be more than 0.");
}

/** Fails with a clear refusal when Brain `brainId` is not active on the BasedAI chain's mirror. */
export async function assertBrainActive(ctx: BasedContext, brainId: number): Promise<void> {
  const active = await ctx.publicClient.readContract({
    address: economyContracts(ctx).BrainRegistry,
    abi: brainRegistryAbi,
    functionName: "isActive",
    args: [BigInt(brainId)],
  });
  if (!active) throw brainNotActive(brainId);
}

export function brainNotActive(brainId: number | bigint): BasedError {
  return new BasedError(
    "refused",
    "BrainNotActive",
    `Brain #${brainId} is not active on the BasedAI chain: it was never mirrored there, or it was deactivated.`,
    "A Brain minted on Ethereum appears on the BasedAI chain within a few blocks; check it with `based brain show <id>`.",
  );
}

/**
 * Checks that the signer holds `amount` BASED and, when the allowance of `spender` is short,
 * approves exactly `amount` to it. Returns the approval's hash when one was sent.
 */
export async function ensureBased(
  ctx: BasedContext,
  spender: { address: Address; name: string },
  amount: bigint,
  what: string,
  onStep?: OnEconomyStep,
): Promise<Hash | undefined> {
  const wallet = requireWallet(ctx);
  const owner = wallet.account.address;
  const token = economyContracts(ctx).BasedToken;
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
      args: [owner, spender.address],
    }),
  ]);
  if (balance < amount) {
    throw new BasedError(
      "refused",
      "InsufficientBased",
      `Not enough BASED for ${what}: it needs ${BASED(amount)}, ${owner} has ${BASED(balance)} (short by ${BASED(amount - balance)}).`,
      ctx.deployments.network === "devnet"
        ? "On devnet, the DevnetBasedFaucet gives BASED (drip(address,uint256)), or use a funded devnet account."
        : "Get BASED first (e.g. `based bridge to-based --amount <wBASED>`), then try again.",
      { needed: amount.toString(), balance: balance.toString() },
    );
  }
  if (allowance >= amount) return undefined;
  onStep?.("approve", `approving ${BASED(amount)} to ${spender.name}`);
  const { request } = await ctx.publicClient.simulateContract({
    account: wallet.account,
    address: token,
    abi: erc20Abi,
    functionName: "approve",
    args: [spender.address, amount],
  });
  const hash = await wallet.writeContract(request);
  const receipt = await ctx.publicClient.waitForTransactionReceipt({
    hash,
    pollingInterval: RECEIPT_POLL_MS,
  });
  if (receipt.status !== "success") throw new Error(`BASED approval ${hash} reverted`);
  return hash;
}

/** A custom error of a reverted call, decoded against every economy contract's errors. */
export type Revert = { name: string; args: readonly unknown[] };

const ECONOMY_ERRORS = [
  ...brainRegistryAbi,
  ...networkAbi,
  ...stakingAbi,
  ...consensusAbi,
  ...emissionAbi,
  ...basedTokenAbi,
  ...computeMarketAbi,
].filter((item) => item.type === "error") as Abi;

/** The custom error a contract call reverted with, if any could be decoded. */
export function revertOf(err: unknown): Revert | undefined {
  if (!(err instanceof BaseError)) return undefined;
  const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
  if (!(reverted instanceof ContractFunctionRevertedError)) return undefined;
  if (reverted.data) return { name: reverted.data.errorName, args: reverted.data.args ?? [] };
  // An error raised by another contract on the way (e.g. BASED's ERC20 errors) is not in the
  // called contract's ABI: decode it against all of them.
  const raw = reverted.raw as Hex | undefined;
  if (!raw || raw === "0x") return undefined;
  try {
    const decoded = decodeErrorResult({ abi: ECONOMY_ERRORS, data: raw });
    return { name: decoded.errorName, args: (decoded.args ?? []) as readonly unknown[] };
  } catch {
    return undefined;
  }
}

/** Turns a decoded custom error into the error the person sees. */
export type Explain = (revert: Revert) => BasedError;

/** The explanation of a refusal no module knows better: the contract's error, verbatim. */
export function genericRefusal(contract: string, revert: Revert): BasedError {
  return new BasedError(
    "refused",
    revert.name,
    `${contract} refused the call: ${revert.name}(${revert.args.map(String).join(", ")}).`,
  );
}

/** BASED's own ERC-20 refusals (balance or allowance too low), from any contract that moves BASED. */
export function basedTransferRefusal(name: string): BasedError {
  return new BasedError(
    "refused",
    name,
    `BASED refused the transfer: ${name}.`,
    "Check your BASED balance and try again.",
  );
}

/** One contract call to send. */
export type EconomyCall = {
  address: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
};

/**
 * Simulates `call` (a refusal becomes `explain`'s error), then sends it and waits for its receipt.
 * `label` names the action in the progress messages.
 */
export async function sendEconomyCall(
  ctx: BasedContext,
  call: EconomyCall,
  explain: Explain,
  label: string,
  onStep?: OnEconomyStep,
): Promise<TransactionReceipt> {
  const wallet = requireWallet(ctx);
  let request;
  try {
    ({ request } = await ctx.publicClient.simulateContract({
      account: wallet.account,
      ...call,
    } as Parameters<typeof ctx.publicClient.simulateContract>[0]));
  } catch (err) {
    const revert = revertOf(err);
    throw revert ? explain(revert) : err;
  }
  onStep?.("send", `sending ${label}`);
  const hash = await wallet.writeContract(request as Parameters<typeof wallet.writeContract>[0]);
  onStep?.("confirm", `waiting for ${label} (${hash})`);
  const receipt = await ctx.publicClient.waitForTransactionReceipt({
    hash,
    pollingInterval: RECEIPT_POLL_MS,
  });
  if (receipt.status !== "success") throw new Error(`${label} transaction ${hash} reverted`);
  return receipt;
}

// ──────────────────────────────────────────── trees ────────────────────────────────────────────

const treeDumpSchema = z.object({
  format: z.literal("standard-v1"),
  leafEncoding: z.array(z.string()),
  tree: z.array(bytes32Schema),
  values: z.array(z.object({ value: z.array(z.unknown()), treeIndex: z.number().int().nonnegative() })),
});

/**
 * Loads a StandardMerkleTree dump (`JSON.parse` of a file written from `tree.dump()`, bigints as
 * strings) whose leaves have `encoding`; a clear input error when it is not one.
 */
export function loadTreeDump<T extends unknown[]>(
  json: unknown,
  encoding: readonly string[],
  what: string,
): StandardMerkleTree<T> {
  const parsed = treeDumpSchema.safeParse(json);
  if (!parsed.success) {
    throw new BasedError(
      "input",
      "InvalidTree",
      `The ${what} is not a StandardMerkleTree dump: ${z.prettifyError(parsed.error)}`,
      "Pass the JSON of `tree.dump()` (OpenZeppelin merkle-tree), amounts as decimal strings.",
    );
  }
  if (parsed.data.leafEncoding.join(",") !== encoding.join(",")) {
    throw new BasedError(
      "input",
      "InvalidTree",
      `The ${what} has leaves [${parsed.data.leafEncoding.join(", ")}], not [${encoding.join(", ")}].`,
    );
  }
  try {
    return StandardMerkleTree.load(parsed.data as Parameters<typeof StandardMerkleTree.load<T>>[0]);
  } catch (err) {
    throw new BasedError(
      "input",
      "InvalidTree",
      `The ${what} is not a valid Merkle tree: ${(err as Error).message}`,
    );
  }
}
