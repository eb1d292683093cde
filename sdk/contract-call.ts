/**
 * Sending a transaction the way every SDK action does: simulate first (so a contract rule's
 * refusal is explained before any gas is spent), send, wait for the receipt. `sendContractCall` is
 * generic over the ABI, so a call to a function the contract lacks, or with the wrong arguments,
 * does not compile. `ensureAllowance` is the one approval step before a contract pulls tokens.
 */
import {
  type Abi,
  type Address,
  type ContractFunctionArgs,
  type ContractEventName,
  type ContractFunctionName,
  type Hash,
  type Hex,
  type ParseEventLogsReturnType,
  type TransactionReceipt,
  BaseError,
  ContractFunctionRevertedError,
  decodeErrorResult,
  erc20Abi,
  parseEventLogs,
} from "viem";
import * as abis from "../protocol/generated/abis";
import { type ChainContext, requireWallet } from "./chain";
import { BasedError } from "./errors";

/** Steps of an action, for a spinner or a log line each. */
export type Step = "check" | "approve" | "send" | "confirm";
export type OnStep = (step: Step, detail: string) => void;

/** A custom error of a reverted call, decoded. */
export type Revert = { name: string; args: readonly unknown[] };
/** Turns a decoded custom error into the error the person sees. */
export type Explain = (revert: Revert) => BasedError;

const RECEIPT_POLL_MS = 250;

/** Every custom error of every contract of the project, and ERC-20's. */
const ALL_ERRORS = [...Object.values(abis).flat(), ...erc20Abi].filter(
  (item) => (item as { type: string }).type === "error",
) as Abi;

/**
 * The custom error a contract call reverted with, if any could be decoded; an error raised by
 * another contract on the way (e.g. a token's) is decoded against every known ABI.
 */
export function revertOf(err: unknown): Revert | undefined {
  if (!(err instanceof BaseError)) return undefined;
  const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
  if (reverted instanceof ContractFunctionRevertedError && reverted.data) {
    return { name: reverted.data.errorName, args: reverted.data.args ?? [] };
  }
  // viem leaves undecoded what the called ABI lacks, and some providers (Hardhat's in-process one)
  // hand the revert data up as an unknown RPC error: find the raw data wherever it is.
  const raw =
    reverted instanceof ContractFunctionRevertedError ? (reverted.raw as Hex | undefined) : revertData(err);
  if (!raw || raw === "0x") return undefined;
  try {
    const decoded = decodeErrorResult({ abi: ALL_ERRORS, data: raw });
    return { name: decoded.errorName, args: (decoded.args ?? []) as readonly unknown[] };
  } catch {
    return undefined;
  }
}

/** The first `data` field along an error's causes that looks like revert data. */
function revertData(err: unknown): Hex | undefined {
  for (let e = err as { data?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (typeof e.data === "string" && /^0x[0-9a-fA-F]{8,}$/.test(e.data)) return e.data as Hex;
  }
  return undefined;
}

/** The explanation of a refusal no module knows better: the contract's error, verbatim. */
export function genericRefusal(contract: string, revert: Revert): BasedError {
  return new BasedError(
    "refused",
    revert.name,
    `${contract} refused the call: ${revert.name}(${revert.args.map(String).join(", ")}).`,
  );
}

type Writable = "nonpayable" | "payable";

/** One call to send: the ABI's types check `functionName` and `args`. */
export type ContractCall<abi extends Abi, fn extends ContractFunctionName<abi, Writable>> = {
  address: Address;
  abi: abi;
  functionName: fn;
  args: ContractFunctionArgs<abi, Writable, fn>;
};

export type SendOptions = {
  /** How a refusal reads; without it, the contract's error verbatim. */
  explain?: Explain;
  /** Names the action in progress messages and errors ("the stake", "mintByBurn"). */
  label: string;
  /** Names the contract in a verbatim refusal (default: "The contract"). */
  contract?: string;
  onStep?: OnStep;
};

/** Simulates `call`, then sends it and waits for its receipt; a refusal becomes a `BasedError`. */
export async function sendContractCall<const abi extends Abi, fn extends ContractFunctionName<abi, Writable>>(
  ctx: ChainContext,
  call: ContractCall<abi, fn>,
  options: SendOptions,
): Promise<TransactionReceipt> {
  const wallet = requireWallet(ctx);
  let request: unknown;
  try {
    // viem's own generics cannot follow `fn` through here; the call site's types already did.
    ({ request } = await ctx.publicClient.simulateContract({
      account: wallet.account,
      ...call,
    } as Parameters<typeof ctx.publicClient.simulateContract>[0]));
  } catch (err) {
    const revert = revertOf(err);
    if (!revert) throw err;
    throw options.explain
      ? options.explain(revert)
      : genericRefusal(options.contract ?? "The contract", revert);
  }
  options.onStep?.("send", `sending ${options.label}`);
  const hash = await wallet.writeContract(request as Parameters<typeof wallet.writeContract>[0]);
  options.onStep?.("confirm", `waiting for ${options.label} (${hash})`);
  return confirmed(ctx, hash, options.label);
}

/** Waits for `hash`; a transaction that was mined but reverted is an error. */
export async function confirmed(ctx: ChainContext, hash: Hash, label: string): Promise<TransactionReceipt> {
  const receipt = await ctx.publicClient.waitForTransactionReceipt({
    hash,
    pollingInterval: RECEIPT_POLL_MS,
  });
  if (receipt.status !== "success") {
    throw new BasedError(
      "refused",
      "TransactionReverted",
      `${label} (transaction ${hash}) reverted.`,
      undefined,
      {
        transactionHash: hash,
      },
    );
  }
  return receipt;
}

export type AllowanceRequest = {
  token: Address;
  /** The contract that will pull the tokens. */
  spender: { address: Address; name: string };
  amount: bigint;
  /** The refusal when the balance is short (each token says how to get more its own way). */
  insufficient: (balance: bigint) => BasedError;
  /** e.g. "1.5 BASED", for the progress message. */
  describe: (amount: bigint) => string;
  onStep?: OnStep;
};

/**
 * Checks that the signer holds `amount` of `token` and, when its allowance to the spender is
 * short, approves exactly `amount`. Returns the approval's hash when one was sent.
 */
export async function ensureAllowance(
  ctx: ChainContext,
  request: AllowanceRequest,
): Promise<Hash | undefined> {
  const owner = requireWallet(ctx).account.address;
  const { token, spender, amount } = request;
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
  if (balance < amount) throw request.insufficient(balance);
  if (allowance >= amount) return undefined;
  const label = `the approval of ${request.describe(amount)} to ${spender.name}`;
  request.onStep?.("approve", `approving ${request.describe(amount)} to ${spender.name}`);
  const receipt = await sendContractCall(
    ctx,
    { address: token, abi: erc20Abi, functionName: "approve", args: [spender.address, amount] },
    { label },
  );
  return receipt.transactionHash;
}

/** The first `eventName` log of a receipt: a transaction that succeeded emits it, or the chain is not the one expected. */
export function eventOf<const abi extends Abi, const name extends ContractEventName<abi>>(
  receipt: TransactionReceipt,
  abi: abi,
  eventName: name,
): ParseEventLogsReturnType<abi, name, true>[number] {
  const [event] = parseEventLogs({ abi, eventName, logs: receipt.logs });
  if (!event) {
    throw new BasedError(
      "environment",
      "MissingEvent",
      `Transaction ${receipt.transactionHash} succeeded but emitted no ${eventName} event.`,
      "The contract at that address is not the one the deployments describe; check them.",
      { transactionHash: receipt.transactionHash },
    );
  }
  return event;
}
