/**
 * Paying for prompts (ComputeMarket on the BasedAI chain, docs/architecture.md §3): a spending account of
 * deposited BASED, apps authorized to spend from it up to an allowance, and per-prompt escrows.
 * A request escrows its maximum cost at the Brain's prices (per 1,000 compute units, rounded up to
 * the wei); the Brain's gateway settles it with the miner's signed Delivery, paying the miner and
 * the Brain owner for the units used and refunding the rest; after its deadline the whole escrow
 * can be reclaimed. docs/compute-market.md has the rules and the decisions behind them.
 */
import { type Address, type Hash, type Hex, erc20Abi, zeroAddress } from "viem";
import { z } from "zod";
import type { Pricing } from "./brain-config";
import {
  BASED,
  assertAmount,
  brainNotActive,
  economyContracts,
  ensureBased,
  basedTransferRefusal,
  isoTime,
} from "./economy";
import { BasedError } from "./errors";
import { brainRegistryAbi, computeMarketAbi } from "../protocol/generated/abis";
import { type ChainContext, requireWallet, signerOf } from "./chain";
import { type SessionClaimFields, sessionClaimTypedData } from "../protocol/gateway";
import { genericRefusal, type OnStep, type Revert, sendContractCall, eventOf } from "./contract-call";

/** The longest a request may stay open, in seconds (the contract's MAX_DEADLINE). */
export const MAX_DEADLINE_SECONDS = 86_400;
/** Prices are per this many compute units (a compute unit is one token). */
export const UNITS_PER_PRICE = 1_000n;
/** Basis points of a whole. */
export const BPS = 10_000n;
/** An app allowance that is never used up. */
export const UNLIMITED_ALLOWANCE = 2n ** 256n - 1n;
const MAX_UINT32 = 2 ** 32 - 1;
const MAX_UINT256 = 2n ** 256n - 1n;

/** The ComputeMarket of the deployment `ctx` was connected with. */
export const computeMarketAddress = (ctx: ChainContext): Address => economyContracts(ctx).ComputeMarket;

// ────────────────────────────────────────── pure rules ──────────────────────────────────────────

const ceilDiv = (a: bigint, b: bigint): bigint => (a === 0n ? 0n : (a - 1n) / b + 1n);

function assertUnits(value: number, what: string, min: number): void {
  if (!Number.isInteger(value) || value < min || value > MAX_UINT32) {
    throw new BasedError(
      "input",
      "InvalidUnits",
      `Invalid ${what} ${value}: expected a whole number of compute units from ${min} to ${MAX_UINT32}.`,
    );
  }
}

/**
 * Wei of BASED a request escrows: `ceil((promptUnits × promptPrice + maxCompletionUnits ×
 * completionPrice) / 1000)`, exactly as ComputeMarket computes it. The settled cost follows the same
 * rule with the completion units used.
 */
export function quoteEscrow(
  pricing: Pick<Pricing, "promptPricePer1k" | "completionPricePer1k">,
  promptUnits: number,
  maxCompletionUnits: number,
): bigint {
  assertUnits(promptUnits, "prompt units", 0);
  assertUnits(maxCompletionUnits, "completion units", 0);
  return ceilDiv(
    BigInt(promptUnits) * pricing.promptPricePer1k +
      BigInt(maxCompletionUnits) * pricing.completionPricePer1k,
    UNITS_PER_PRICE,
  );
}

/** How a settlement of `completionUnits` divides an escrow (the contract's rule, to the wei). */
export type SettlementQuote = { cost: bigint; ownerCut: bigint; minerPay: bigint; refund: bigint };

/**
 * What settling `request` for `completionUnits` pays: the cost (at the request's prices, rounded
 * up, at most the escrow), the owner's cut (its basis points of the cost, rounded down), the miner's
 * pay (the rest of the cost) and the refund (the rest of the escrow).
 */
export function quoteSettlement(
  request: Pick<
    ComputeRequest,
    "escrow" | "promptUnits" | "promptPricePer1k" | "completionPricePer1k" | "ownerBps"
  >,
  completionUnits: number,
): SettlementQuote {
  const full = quoteEscrow(request, request.promptUnits, completionUnits);
  const cost = full < request.escrow ? full : request.escrow;
  const ownerCut = (cost * BigInt(request.ownerBps)) / BPS;
  return { cost, ownerCut, minerPay: cost - ownerCut, refund: request.escrow - cost };
}

// ──────────────────────────────────────── spending accounts ────────────────────────────────────────

/** An open request, as `getSpendingAccount` lists it. */
export type OpenRequestSummary = {
  requestId: bigint;
  brainId: number;
  escrow: bigint;
  /** Unix seconds (BasedAI-chain time). */
  deadline: number;
  /** The deadline has passed: anyone may reclaim it to the account (`reclaimRequest`). */
  reclaimable: boolean;
};

export type SpendingAccount = {
  account: Address;
  /** Free balance: deposited and not escrowed (what `withdraw` and new requests can use). */
  balance: bigint;
  /** BASED in the account's wallet (what `deposit` can move in). */
  walletBalance: bigint;
  /** BASED escrowed by open requests. */
  escrowed: bigint;
  openRequests: OpenRequestSummary[];
};

/** `account`'s spending account: free balance, wallet balance and open requests. */
export async function getSpendingAccount(ctx: ChainContext, account: Address): Promise<SpendingAccount> {
  const market = computeMarketAddress(ctx);
  const block = await ctx.publicClient.getBlock();
  const read = { address: market, abi: computeMarketAbi, blockNumber: block.number } as const;
  const [balance, walletBalance, opened] = await Promise.all([
    ctx.publicClient.readContract({ ...read, functionName: "balanceOf", args: [account] }),
    ctx.publicClient.readContract({
      address: economyContracts(ctx).BasedToken,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [account],
      blockNumber: block.number,
    }),
    ctx.publicClient.getContractEvents({
      address: market,
      abi: computeMarketAbi,
      eventName: "RequestOpened",
      args: { account },
      fromBlock: BigInt(ctx.deployments.based?.startBlock ?? 0),
      toBlock: block.number,
    }),
  ]);
  const requests = await Promise.all(opened.map((e) => getRequestAt(ctx, e.args.requestId!, block.number)));
  const openRequests = requests
    .filter((r) => r.status === "open")
    .map((r) => ({
      requestId: r.requestId,
      brainId: r.brainId,
      escrow: r.escrow,
      deadline: r.deadline,
      reclaimable: BigInt(r.deadline) < block.timestamp,
    }));
  return {
    account,
    balance,
    walletBalance,
    escrowed: openRequests.reduce((sum, r) => sum + r.escrow, 0n),
    openRequests,
  };
}

export type Deposited = {
  account: Address;
  amount: bigint;
  /** The free balance afterwards. */
  balance: bigint;
  txHash: Hash;
  /** The BASED approval sent first, when the allowance to ComputeMarket was short. */
  approvalHash: Hash | null;
};

const balanceOf = (ctx: ChainContext, account: Address) =>
  ctx.publicClient.readContract({
    address: computeMarketAddress(ctx),
    abi: computeMarketAbi,
    functionName: "balanceOf",
    args: [account],
  });

/** Moves `amount` wei of BASED from the signer's wallet into its spending account (approving first). */
export async function deposit(
  ctx: ChainContext,
  amount: bigint,
  options: { onStep?: OnStep } = {},
): Promise<Deposited> {
  assertAmount(amount);
  const account = signerOf(ctx);
  const market = computeMarketAddress(ctx);
  options.onStep?.("check", "checking your BASED");
  const approvalHash = await ensureBased(
    ctx,
    { address: market, name: "ComputeMarket" },
    amount,
    "this deposit",
    options.onStep,
  );
  const receipt = await sendContractCall(
    ctx,
    { address: market, abi: computeMarketAbi, functionName: "deposit", args: [amount] },
    { explain: explainMarketError, label: `depositing ${BASED(amount)}`, onStep: options.onStep },
  );
  return {
    account,
    amount,
    balance: await balanceOf(ctx, account),
    txHash: receipt.transactionHash,
    approvalHash: approvalHash ?? null,
  };
}

export type Withdrawn = { account: Address; amount: bigint; balance: bigint; txHash: Hash };

/** Moves `amount` wei of the signer's free balance back to its wallet (escrowed BASED stays). */
export async function withdraw(
  ctx: ChainContext,
  amount: bigint,
  options: { onStep?: OnStep } = {},
): Promise<Withdrawn> {
  assertAmount(amount);
  const account = signerOf(ctx);
  options.onStep?.("check", "reading your spending account");
  const balance = await balanceOf(ctx, account);
  if (balance < amount) {
    throw explainMarketError({ name: "InsufficientBalance", args: [account, balance, amount] }, "withdraw");
  }
  const receipt = await sendContractCall(
    ctx,
    { address: computeMarketAddress(ctx), abi: computeMarketAbi, functionName: "withdraw", args: [amount] },
    {
      explain: (r) => explainMarketError(r, "withdraw"),
      label: `withdrawing ${BASED(amount)}`,
      onStep: options.onStep,
    },
  );
  return { account, amount, balance: await balanceOf(ctx, account), txHash: receipt.transactionHash };
}

export type AppAuthorized = {
  account: Address;
  app: Address;
  /** Wei of BASED the app may still escrow (UNLIMITED_ALLOWANCE: never used up; 0: revoked). */
  allowance: bigint;
  txHash: Hash;
};

/**
 * Lets `app` open requests on the signer's spending account, escrowing up to `allowance` wei in
 * all (replacing any earlier allowance; 0 revokes it). Refunds do not restore an allowance.
 */
export async function authorizeApp(
  ctx: ChainContext,
  app: Address,
  allowance: bigint,
  options: { onStep?: OnStep } = {},
): Promise<AppAuthorized> {
  if (allowance < 0n || allowance > UNLIMITED_ALLOWANCE) {
    throw new BasedError("input", "InvalidAmount", `Invalid allowance ${allowance}.`);
  }
  const account = signerOf(ctx);
  if (app.toLowerCase() === account.toLowerCase()) {
    throw new BasedError(
      "input",
      "SelfAuthorization",
      "An account always spends its own balance: authorize another address (the app's).",
    );
  }
  const receipt = await sendContractCall(
    ctx,
    {
      address: computeMarketAddress(ctx),
      abi: computeMarketAbi,
      functionName: "authorize",
      args: [app, allowance],
    },
    { explain: explainMarketError, label: `authorizing ${app}`, onStep: options.onStep },
  );
  return { account, app, allowance, txHash: receipt.transactionHash };
}

/** How much `app` may still escrow on `account`'s behalf. */
export async function getAppAllowance(ctx: ChainContext, account: Address, app: Address): Promise<bigint> {
  return ctx.publicClient.readContract({
    address: computeMarketAddress(ctx),
    abi: computeMarketAbi,
    functionName: "allowance",
    args: [account, app],
  });
}

// ──────────────────────────────────────────── requests ────────────────────────────────────────────

export type RequestStatus = "none" | "open" | "settled" | "reclaimed" | "refunded";
const STATUSES: readonly RequestStatus[] = ["none", "open", "settled", "reclaimed", "refunded"];

/** A request as ComputeMarket holds it (status "none" and zeros: it does not exist). */
export type ComputeRequest = {
  requestId: bigint;
  status: RequestStatus;
  /** The spending account that pays and gets refunds. */
  account: Address;
  brainId: number;
  promptUnits: number;
  maxCompletionUnits: number;
  /** Completion units settled (0 until settled). */
  completionUnits: number;
  /** Wei of BASED held for the request. */
  escrow: bigint;
  /** Unix seconds (BasedAI-chain time): settlement up to it, reclaim after it. */
  deadline: number;
  /** The prices and the owner's share when the request opened (later changes do not apply). */
  promptPricePer1k: bigint;
  completionPricePer1k: bigint;
  ownerBps: number;
};

async function getRequestAt(
  ctx: ChainContext,
  requestId: bigint,
  blockNumber?: bigint,
): Promise<ComputeRequest> {
  const r = await ctx.publicClient.readContract({
    address: computeMarketAddress(ctx),
    abi: computeMarketAbi,
    functionName: "getRequest",
    args: [requestId],
    ...(blockNumber === undefined ? {} : { blockNumber }),
  });
  return {
    requestId,
    status: STATUSES[r.status] ?? "none",
    account: r.account,
    brainId: Number(r.brainId),
    promptUnits: r.promptUnits,
    maxCompletionUnits: r.maxCompletionUnits,
    completionUnits: r.completionUnits,
    escrow: r.escrow,
    deadline: Number(r.deadline),
    promptPricePer1k: r.promptPricePer1k,
    completionPricePer1k: r.completionPricePer1k,
    ownerBps: r.ownerBps,
  };
}

/**
 * Signs session claims with the context's account (sdk/prompt.ts `signClaim`): the gateway opens a
 * session on a request only with its account's (or an authorized app's) SessionClaim signature.
 */
export function sessionClaimSigner(ctx: ChainContext): (claim: SessionClaimFields) => Promise<Hex> {
  const wallet = requireWallet(ctx);
  const market = computeMarketAddress(ctx);
  return (claim) => wallet.signTypedData(sessionClaimTypedData(ctx.chain.id, market, claim));
}

/** Request `requestId` (status "none" when it does not exist). */
export function getRequest(ctx: ChainContext, requestId: bigint): Promise<ComputeRequest> {
  return getRequestAt(ctx, requestId);
}

export type OpenRequestOptions = {
  brainId: number;
  /** Compute units (tokens) of the prompt: at least 1. */
  promptUnits: number;
  /** The most completion units to pay for (prompt + completion within the Brain's context limit). */
  maxCompletionUnits: number;
  /** Seconds from now (BasedAI-chain time) until the deadline: 1 to MAX_DEADLINE_SECONDS. */
  deadlineSeconds: number;
  /**
   * The most wei of BASED the caller agrees to escrow: the quote it showed its user (`quoteEscrow`
   * at the prices it read). If the Brain's prices rose since, the request is refused
   * (`CostAboveMax`), here or on chain, instead of escrowing more; a lower cost escrows less.
   */
  maxCost: bigint;
  /** The spending account to charge; default the signer. Another account must have authorized the signer. */
  account?: Address;
  onStep?: OnStep;
};

export type OpenedRequest = {
  requestId: bigint;
  account: Address;
  brainId: number;
  promptUnits: number;
  maxCompletionUnits: number;
  /** Wei of BASED escrowed. */
  escrow: bigint;
  /** Unix seconds (BasedAI-chain time). */
  deadline: number;
  txHash: Hash;
};

/** A maximum cost: whole wei of BASED, from 0 to 2^256 − 1 (the contract's uint256). */
const maxCostSchema = z.bigint().min(0n).max(MAX_UINT256);

function assertMaxCost(maxCost: unknown): asserts maxCost is bigint {
  if (!maxCostSchema.safeParse(maxCost).success) {
    throw new BasedError(
      "input",
      "InvalidMaxCost",
      `Invalid maximum cost ${String(maxCost)}: expected the most wei of BASED to escrow, a bigint from 0 to 2^256 − 1.`,
      "Pass the escrow you quoted the user (quoteEscrow at the Brain's prices) as maxCost.",
    );
  }
}

/**
 * Opens a request for Brain `brainId`, escrowing its maximum cost at the Brain's current prices
 * from the spending account (checked first, with the amount short in the error). The cost must
 * not exceed `maxCost` (checked here, and again by the contract when the transaction runs, so a
 * price raised in front of it cannot take more).
 */
export async function openRequest(ctx: ChainContext, options: OpenRequestOptions): Promise<OpenedRequest> {
  const { brainId, promptUnits, maxCompletionUnits, deadlineSeconds, maxCost, onStep } = options;
  assertUnits(promptUnits, "prompt units", 1);
  assertUnits(maxCompletionUnits, "maximum completion units", 0);
  assertMaxCost(maxCost);
  if (!Number.isInteger(deadlineSeconds) || deadlineSeconds < 1 || deadlineSeconds > MAX_DEADLINE_SECONDS) {
    throw new BasedError(
      "input",
      "InvalidDeadline",
      `Invalid deadline of ${deadlineSeconds} s: expected whole seconds from 1 to ${MAX_DEADLINE_SECONDS} (one day).`,
    );
  }
  const account = options.account ?? signerOf(ctx);
  const signer = signerOf(ctx);
  onStep?.("check", `reading Brain #${brainId}'s prices`);
  const registry = economyContracts(ctx).BrainRegistry;
  const [active, [promptPricePer1k, completionPricePer1k, contextLimit], block, balance] = await Promise.all([
    ctx.publicClient.readContract({
      address: registry,
      abi: brainRegistryAbi,
      functionName: "isActive",
      args: [BigInt(brainId)],
    }),
    ctx.publicClient.readContract({
      address: registry,
      abi: brainRegistryAbi,
      functionName: "pricing",
      args: [BigInt(brainId)],
    }),
    ctx.publicClient.getBlock(),
    balanceOf(ctx, account),
  ]);
  if (!active) throw brainNotActive(brainId);
  const context = { brainId };
  if (contextLimit !== 0 && promptUnits + maxCompletionUnits > contextLimit) {
    throw explainMarketError(
      { name: "ContextLimitExceeded", args: [BigInt(promptUnits + maxCompletionUnits), contextLimit] },
      "open",
      context,
    );
  }
  const escrow = quoteEscrow({ promptPricePer1k, completionPricePer1k }, promptUnits, maxCompletionUnits);
  if (escrow > maxCost) {
    throw explainMarketError({ name: "CostAboveMax", args: [escrow, maxCost] }, "open", context);
  }
  if (balance < escrow) {
    throw explainMarketError(
      { name: "InsufficientBalance", args: [account, balance, escrow] },
      "open",
      context,
    );
  }
  const deadline = block.timestamp + BigInt(deadlineSeconds);
  const receipt = await sendContractCall(
    ctx,
    {
      address: computeMarketAddress(ctx),
      abi: computeMarketAbi,
      functionName: "openRequest",
      args: [account, BigInt(brainId), promptUnits, maxCompletionUnits, deadline, maxCost],
    },
    {
      explain: (r) => explainMarketError(r, "open", context),
      label: `escrowing ${BASED(escrow)} for a prompt to Brain #${brainId}${account === signer ? "" : ` on ${account}'s account`}`,
      onStep,
    },
  );
  const event = eventOf(receipt, computeMarketAbi, "RequestOpened");
  return {
    requestId: event.args.requestId,
    account,
    brainId,
    promptUnits,
    maxCompletionUnits,
    escrow: event.args.escrow,
    deadline: Number(event.args.deadline),
    txHash: receipt.transactionHash,
  };
}

export type SettleOptions = {
  requestId: bigint;
  /** Completion units delivered (at most the request's maximum }). */
  completionUnits: number;
  /** The job the miner was given, as it signed it (protocol/gateway.ts `jobHash`). */
  jobHash: Hex;
  /** The result's hash the miner signed (protocol/gateway.ts `outputsHash`). */
  resultHash: Hex;
  /**
   * The miner's EIP-712 Delivery signature over (the request's Brain, jobHash, resultHash)
   * (protocol/gateway.ts DELIVERY_TYPES / deliveryDomain). A delivery settles one request at most.
   */
  signature: Hex;
  onStep?: OnStep;
};

export type SettledRequest = {
  requestId: bigint;
  txHash: Hash;
  /** The miner whose signature was checked and who was paid. */
  miner: Address;
  completionUnits: number;
  /** What the request cost: minerPay + ownerCut. */
  cost: bigint;
  minerPay: bigint;
  /** Paid to the Brain's reward recipient. */
  ownerCut: bigint;
  /** Returned to the account's free balance: escrow − cost. */
  refund: bigint;
};

/** Settles a request with a miner's signed delivery (only the Brain's gateway may). */
export async function settleRequest(ctx: ChainContext, options: SettleOptions): Promise<SettledRequest> {
  const { requestId, completionUnits, jobHash, resultHash, signature, onStep } = options;
  assertUnits(completionUnits, "completion units", 0);
  const receipt = await sendContractCall(
    ctx,
    {
      address: computeMarketAddress(ctx),
      abi: computeMarketAbi,
      functionName: "settle",
      args: [requestId, completionUnits, jobHash, resultHash, signature],
    },
    {
      explain: (r) => explainMarketError(r, "settle", { requestId }),
      label: `settling request ${requestId}`,
      onStep,
    },
  );
  const event = eventOf(receipt, computeMarketAbi, "Settled");
  const { miner, cost, ownerCut, refund } = event.args;
  return {
    requestId,
    txHash: receipt.transactionHash,
    miner,
    completionUnits: event.args.completionUnits,
    cost,
    minerPay: cost - ownerCut,
    ownerCut,
    refund,
  };
}

export type ReclaimedRequest = { requestId: bigint; account: Address; amount: bigint; txHash: Hash };

/**
 * Returns the whole escrow of an unsettled request whose deadline has passed to its account's
 * free balance. Anyone may send it; the BASED only ever goes to the account.
 */
export async function reclaimRequest(
  ctx: ChainContext,
  requestId: bigint,
  options: { onStep?: OnStep } = {},
): Promise<ReclaimedRequest> {
  const receipt = await sendContractCall(
    ctx,
    { address: computeMarketAddress(ctx), abi: computeMarketAbi, functionName: "reclaim", args: [requestId] },
    {
      explain: (r) => explainMarketError(r, "reclaim", { requestId }),
      label: `reclaiming request ${requestId}`,
      onStep: options.onStep,
    },
  );
  const event = eventOf(receipt, computeMarketAbi, "Reclaimed");
  return {
    requestId,
    account: event.args.account,
    amount: event.args.escrow,
    txHash: receipt.transactionHash,
  };
}

export type RefundedRequest = {
  requestId: bigint;
  account: Address;
  brainId: number;
  /** The whole escrow, back in the account's free balance. */
  amount: bigint;
  txHash: Hash;
};

/**
 * Returns the whole escrow of an open request its gateway served nothing for (a session refused,
 * or closed or expired before any job completed) to its account's free balance at once, deadline
 * or not. Only the Brain's gateway may.
 */
export async function refundRequest(
  ctx: ChainContext,
  requestId: bigint,
  options: { onStep?: OnStep } = {},
): Promise<RefundedRequest> {
  const receipt = await sendContractCall(
    ctx,
    { address: computeMarketAddress(ctx), abi: computeMarketAbi, functionName: "refund", args: [requestId] },
    {
      explain: (r) => explainMarketError(r, "refund", { requestId }),
      label: `refunding request ${requestId}`,
      onStep: options.onStep,
    },
  );
  const event = eventOf(receipt, computeMarketAbi, "Refunded");
  return {
    requestId,
    account: event.args.account,
    brainId: Number(event.args.brainId),
    amount: event.args.escrow,
    txHash: receipt.transactionHash,
  };
}

// ───────────────────────────────────────────── gateways ─────────────────────────────────────────────

/** The gateway that settles Brain `brainId`'s requests, or null when none is set. */
export async function getBrainGateway(ctx: ChainContext, brainId: number): Promise<Address | null> {
  const gateway = await ctx.publicClient.readContract({
    address: computeMarketAddress(ctx),
    abi: computeMarketAbi,
    functionName: "gatewayOf",
    args: [BigInt(brainId)],
  });
  return gateway === zeroAddress ? null : gateway;
}

/**
 * Names the gateway that settles Brain `brainId`'s requests (zeroAddress: none). Only the Brain's
 * BasedAI wallet may.
 */
export async function setBrainGateway(
  ctx: ChainContext,
  brainId: number,
  gateway: Address,
  options: { onStep?: OnStep } = {},
): Promise<{ brainId: number; gateway: Address; txHash: Hash }> {
  const receipt = await sendContractCall(
    ctx,
    {
      address: computeMarketAddress(ctx),
      abi: computeMarketAbi,
      functionName: "setGateway",
      args: [BigInt(brainId), gateway],
    },
    {
      explain: (r) => explainMarketError(r, "setGateway", { brainId }),
      label: `setting Brain #${brainId}'s gateway`,
      onStep: options.onStep,
    },
  );
  return { brainId, gateway, txHash: receipt.transactionHash };
}

// ───────────────────────────────────────────── errors ─────────────────────────────────────────────

/** What the refused call was doing (for the hint). */
export type MarketAction =
  "deposit" | "withdraw" | "authorize" | "open" | "settle" | "reclaim" | "refund" | "setGateway";

/** Turns a ComputeMarket custom error into a message that says what to do. */
export function explainMarketError(
  revert: Revert,
  action?: MarketAction,
  context: { brainId?: number; requestId?: bigint } = {},
): BasedError {
  const { name, args } = revert;
  const s = (i: number) => String(args[i]);
  const request = context.requestId === undefined ? "The request" : `Request ${context.requestId}`;
  switch (name) {
    case "ZeroAmount":
      return new BasedError("input", name, "The amount must be more than 0.");
    case "ZeroAddress":
      return new BasedError("input", name, "The address must not be the zero address.");
    case "InsufficientBalance": {
      const [account, balance, needed] = args as [Address, bigint, bigint];
      const what = action === "open" ? "escrow this request" : "withdraw that much";
      return new BasedError(
        "refused",
        name,
        `The spending account of ${account} has ${BASED(balance)} free, not enough to ${what}: it needs ${BASED(needed)} (short by ${BASED(needed - balance)}).`,
        action === "open"
          ? `Deposit at least ${BASED(needed - balance)} more first, or ask for fewer completion units.`
          : "Withdraw at most the free balance; escrowed BASED returns when its request settles or is reclaimed.",
        { balance: balance.toString(), needed: needed.toString(), action: action ?? "" },
      );
    }
    case "AppNotAuthorized":
      return new BasedError(
        "refused",
        name,
        `${s(1)} may not open requests on ${s(0)}'s spending account: it was never authorized, or its allowance is used up.`,
        "The account holder authorizes it with an allowance.",
        { app: s(1) },
      );
    case "AllowanceExceeded":
      return new BasedError(
        "refused",
        name,
        `${s(1)} may escrow ${BASED(args[2] as bigint)} more on ${s(0)}'s account; this request needs ${BASED(args[3] as bigint)}.`,
        "The account holder raises its allowance.",
        { app: s(1), allowance: s(2), needed: s(3) },
      );
    case "BrainNotActive":
      return brainNotActive(args[0] as bigint);
    case "NotBrainWallet":
      return new BasedError(
        "refused",
        name,
        `Only Brain #${s(0)}'s BasedAI wallet may name its gateway; ${s(1)} is not it.`,
        "Sign with the Brain's BasedAI wallet (its configuration names it).",
        { brainId: s(0) },
      );
    case "ZeroPromptUnits":
      return new BasedError("input", name, "A request needs at least one prompt unit (token).");
    case "ContextLimitExceeded":
      return new BasedError(
        "refused",
        name,
        `Prompt and completion together are ${s(0)} compute units, above Brain #${context.brainId ?? "?"}'s context limit of ${s(1)}.`,
        "Shorten the prompt or ask for fewer completion units.",
        { units: s(0), contextLimit: s(1) },
      );
    case "InvalidDeadline":
      return new BasedError(
        "input",
        name,
        `The deadline ${isoTime(args[0] as bigint)} is not between now (${isoTime(args[1] as bigint)}) and one day from now.`,
        `Choose a deadline from 1 to ${MAX_DEADLINE_SECONDS} seconds ahead.`,
      );
    case "RequestNotOpen": {
      const status = STATUSES[Number(args[1])] ?? "unknown";
      return new BasedError(
        "refused",
        name,
        status === "none"
          ? `Request ${s(0)} does not exist.`
          : `Request ${s(0)} is already ${status}: there is nothing left to ${action ?? "do"}.`,
        status === "none" ? "Check the request id against the account's open requests." : undefined,
        { status },
      );
    }
    case "NotGateway":
      return new BasedError(
        "refused",
        name,
        (args[2] as Address) === zeroAddress
          ? `Brain #${s(0)} has no gateway, so nothing can settle its requests.`
          : `Only Brain #${s(0)}'s gateway ${s(2)} may ${action === "refund" ? "refund" : "settle"} its requests; ${s(1)} is not it.`,
        "The Brain's wallet names its gateway in ComputeMarket.",
        { brainId: s(0), gateway: s(2) },
      );
    case "RequestExpired":
      return new BasedError(
        "refused",
        name,
        `${request} passed its deadline ${isoTime(args[1] as bigint)} unsettled: it can only be reclaimed.`,
        "Reclaim it to the account instead.",
        { requestId: s(0), deadline: s(1) },
      );
    case "RequestNotExpired":
      return new BasedError(
        "refused",
        name,
        `${request} is open until ${isoTime(args[1] as bigint)}: its escrow can be reclaimed only after that.`,
        "Wait for the deadline (BasedAI-chain time); until then the gateway may still settle it.",
        { deadline: s(1), deadlineIso: isoTime(args[1] as bigint) },
      );
    case "CostAboveMax": {
      const [cost, maxCost] = args as [bigint, bigint];
      const brain = context.brainId === undefined ? "the Brain" : `Brain #${context.brainId}`;
      return new BasedError(
        "refused",
        name,
        `At ${brain}'s prices now this request escrows ${BASED(cost)}, more than the maximum cost of ${BASED(maxCost)} agreed to (have its prices risen since the quote?).`,
        "Nothing was escrowed. Read the Brain's prices again and open the request with a maximum cost you accept.",
        { cost: cost.toString(), maxCost: maxCost.toString(), brainId: String(context.brainId ?? "") },
      );
    }
    case "CompletionUnitsAboveMax":
      return new BasedError(
        "refused",
        name,
        `${s(0)} completion units are more than the ${s(1)} the request escrowed for.`,
      );
    case "NotAMiner":
      return new BasedError(
        "refused",
        name,
        `The delivery was signed by ${s(1)}, not a registered miner of Brain #${s(0)} (or it was signed for another Brain, job or result).`,
        "Settle with the Delivery signature the miner made for this Brain, job hash and result hash.",
      );
    case "DeliveryAlreadyUsed":
      return new BasedError(
        "refused",
        name,
        `This delivery (digest ${s(0)}) already settled a request: one miner's delivery pays one request at most.`,
        "Settle the request with the delivery of a job of its own session.",
        { digest: s(0) },
      );
    case "ECDSAInvalidSignature":
    case "ECDSAInvalidSignatureLength":
    case "ECDSAInvalidSignatureS":
      return new BasedError(
        "refused",
        name,
        `The miner's signature is malformed (${name}).`,
        "Use the 65-byte EIP-712 Delivery signature exactly as the miner returned it.",
      );
    case "ERC20InsufficientBalance":
    case "ERC20InsufficientAllowance":
      return basedTransferRefusal(name);
    default:
      return genericRefusal("ComputeMarket", revert);
  }
}
