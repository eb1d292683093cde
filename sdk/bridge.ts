/**
 * The BASED bridge for users (docs/architecture.md §2, docs/protocol.md): lock BASED on the BasedAI chain to
 * get wBASED on Ethereum, burn wBASED to get the BASED back, and follow the attested message from
 * the source event through the attesters' signatures to its execution on the destination inbox.
 */
import {
  type Address,
  type Hash,
  type Hex,
  decodeErrorResult,
  erc20Abi,
  formatEther,
  zeroAddress,
} from "viem";
import {
  type BridgeDirection,
  type BridgeTransfer,
  type Message,
  MessageKind,
  decodeBridgeTransfer,
  encodeBridgeTransfer,
  eventNonce,
  messageId,
  recoverAttester,
} from "../protocol/message";
import { type SignaturesResponse, signaturesResponseSchema } from "../protocol/attester";
import { type Deployments } from "./deployments";
import { DEVNET_ATTESTER_ACCOUNTS, DEVNET_ATTESTER_PORT } from "./devnet";
import { BasedError } from "./errors";
import {
  basedBridgeAbi,
  bridgeEndpointAbi,
  ethereumBridgeAbi,
  messageInboxAbi,
} from "../protocol/generated/abis";
import { type ChainContext, requireWallet } from "./chain";
import { type Revert, ensureAllowance, eventOf, sendContractCall } from "./contract-call";

// ─────────────────────────────────────────── connection ──────────────────────────────────────────

/** Both chains and the attesters to ask for signatures: everything the bridge commands need. */
export type BridgeContext = {
  ethereum: ChainContext;
  based: ChainContext;
  /** Attester HTTP endpoints (BASED_ATTESTERS; the devnet's four by default on devnet). */
  attesterUrls: readonly string[];
};

/** The devnet's attester endpoints (scripts/devnet.ts: four attesters from port 7101). */
export const DEVNET_ATTESTER_URLS: readonly string[] = DEVNET_ATTESTER_ACCOUNTS.map(
  (_, i) => `http://127.0.0.1:${DEVNET_ATTESTER_PORT + i}`,
);

/**
 * Where to ask for signatures: the configured attesters (`attesterUrls` of sdk/config.ts, from
 * BASED_ATTESTERS or the config file) when set; otherwise the devnet's four on a devnet deployment,
 * and none elsewhere (progress then shows no signature counts).
 */
export function attesterUrlsFor(
  configured: readonly string[] | undefined,
  deployments: Deployments,
): string[] {
  if (configured !== undefined) return [...configured];
  return deployments.network === "devnet" ? [...DEVNET_ATTESTER_URLS] : [];
}

// ───────────────────────────────────────────── sides ─────────────────────────────────────────────

/** `to-ethereum`: lock BASED, mint wBASED. `to-based`: burn wBASED, release BASED. */
export type { BridgeDirection };

/** The bridge on one chain: its connection (a ChainContext) and the bridge's contracts there. */
type BridgeEnd = {
  chainName: "Ethereum" | "the BasedAI chain";
  ctx: ChainContext;
  chainId: number;
  bridge: Address;
  token: Address;
  symbol: "BASED" | "wBASED";
  inbox: Address;
  /** Where to start reading logs on this chain. */
  startBlock: bigint;
};

function ethereumEnd(ctx: BridgeContext): BridgeEnd {
  const e = ctx.ethereum.deployments.ethereum;
  const bridge = e.contracts.EthereumBridge;
  const inbox = e.contracts.MessageInbox;
  if (!bridge || !inbox) {
    throw new BasedError(
      "environment",
      "DeploymentsInvalid",
      "The deployments lack the Ethereum MessageInbox or EthereumBridge.",
      "Use deployments that name both bridges and both inboxes (the devnet writes them).",
    );
  }
  return {
    chainName: "Ethereum",
    ctx: ctx.ethereum,
    chainId: e.chainId,
    bridge,
    token: e.contracts.WrappedBased,
    symbol: "wBASED",
    inbox,
    startBlock: BigInt(e.startBlock),
  };
}

function basedEnd(ctx: BridgeContext): BridgeEnd {
  const b = ctx.based.deployments.based!;
  return {
    chainName: "the BasedAI chain",
    ctx: ctx.based,
    chainId: b.chainId,
    bridge: b.contracts.BasedBridge,
    token: b.contracts.BasedToken,
    symbol: "BASED",
    inbox: b.contracts.MessageInbox,
    startBlock: BigInt(b.startBlock),
  };
}

function bridgeEnds(ctx: BridgeContext, direction: BridgeDirection) {
  const ethereum = ethereumEnd(ctx);
  const based = basedEnd(ctx);
  return direction === "to-ethereum"
    ? { source: based, destination: ethereum }
    : { source: ethereum, destination: based };
}

function bridgeEndOn(ctx: BridgeContext, chainId: bigint | number): BridgeEnd | undefined {
  return [ethereumEnd(ctx), basedEnd(ctx)].find((e) => e.chainId === Number(chainId));
}

const amountOf = (wei: bigint, symbol: string) => `${formatEther(wei)} ${symbol}`;

// ───────────────────────────────────────────── limits ────────────────────────────────────────────

export type BridgeLimits = {
  direction: BridgeDirection;
  /** The source bridge refuses locks/burns while paused. */
  sourcePaused: boolean;
  /** Largest single transfer out of the source bridge (wei). */
  maxTransfer: bigint;
  /** Inbound transfers wait (as failed, retryable messages) while the destination is paused. */
  destinationPaused: boolean;
  /** The destination's inbound token bucket now (wei, wei per second). */
  destinationBucket: { tokens: bigint; capacity: bigint; rate: bigint };
};

/** The rules a transfer in `direction` meets on both bridges right now. */
export async function getBridgeLimits(ctx: BridgeContext, direction: BridgeDirection): Promise<BridgeLimits> {
  const { source, destination } = bridgeEnds(ctx, direction);
  const [sourcePaused, maxTransfer, destinationPaused, bucket] = await Promise.all([
    source.ctx.publicClient.readContract({
      address: source.bridge,
      abi: bridgeEndpointAbi,
      functionName: "paused",
    }),
    source.ctx.publicClient.readContract({
      address: source.bridge,
      abi: bridgeEndpointAbi,
      functionName: "maxTransfer",
    }),
    destination.ctx.publicClient.readContract({
      address: destination.bridge,
      abi: bridgeEndpointAbi,
      functionName: "paused",
    }),
    destination.ctx.publicClient.readContract({
      address: destination.bridge,
      abi: bridgeEndpointAbi,
      functionName: "inboundBucket",
    }),
  ]);
  return {
    direction,
    sourcePaused,
    maxTransfer,
    destinationPaused,
    destinationBucket: { tokens: bucket.tokens, capacity: bucket.capacity, rate: bucket.rate },
  };
}

// ───────────────────────────────────────────── sending ───────────────────────────────────────────

/** Steps of a transfer, for a spinner or a log line each. */
export type BridgeStep = "check" | "approve" | "send" | "confirm";
export type OnBridgeStep = (step: BridgeStep, detail: string) => void;

export type SendBridgeOptions = {
  /** Wei of BASED (to-ethereum) or wBASED (to-based). */
  amount: bigint;
  /** Receiver on the destination chain (default: the sender's own address). */
  recipient?: Address;
  onStep?: OnBridgeStep;
};

/** A lock or burn that happened: the message it became and where to look for its execution. */
export type SentTransfer = {
  direction: BridgeDirection;
  messageId: Hex;
  message: Message;
  sender: Address;
  recipient: Address;
  amount: bigint;
  sourceChainId: number;
  destinationChainId: number;
  sourceTransactionHash: Hash;
  sourceBlockNumber: bigint;
  /** The BASED approval sent first, when the allowance was short (to-ethereum only). */
  approvalHash?: Hash;
  /** The destination's block number before the transfer: its execution is at or after it. */
  destinationFromBlock: bigint;
};

/**
 * Locks BASED (`to-ethereum`, approving BasedBridge first when needed) or burns wBASED
 * (`to-based`), after checking everything that would refuse it or strand it: pauses, the
 * per-transfer maximum, the destination's bucket capacity and the balance. Returns the attested
 * message the attesters will sign (its id is the one `based bridge status` takes).
 */
export async function sendBridgeTransfer(
  ctx: BridgeContext,
  direction: BridgeDirection,
  options: SendBridgeOptions,
): Promise<SentTransfer> {
  const { source, destination } = bridgeEnds(ctx, direction);
  const wallet = requireWallet(source.ctx);
  const sender = wallet.account.address;
  const recipient = options.recipient ?? sender;
  const { amount, onStep } = options;
  if (amount <= 0n) throw new BasedError("input", "ZeroAmount", "The amount must be more than 0.");
  if (recipient === zeroAddress) {
    throw new BasedError("input", "InvalidArgument", "The recipient cannot be the zero address.");
  }

  onStep?.("check", "checking the bridge limits and your balance");
  const [limits, balance, destinationFromBlock] = await Promise.all([
    getBridgeLimits(ctx, direction),
    source.ctx.publicClient.readContract({
      address: source.token,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [sender],
    }),
    destination.ctx.publicClient.getBlockNumber(),
  ]);
  assertTransferAllowed(limits, amount, balance, sender, source, destination);

  // Locking pulls BASED from the sender; burning wBASED needs no approval (the bridge burns its own token).
  const approvalHash =
    direction === "to-ethereum"
      ? await ensureAllowance(source.ctx, {
          token: source.token,
          spender: { address: source.bridge, name: "the BasedBridge" },
          amount,
          describe: (wei) => amountOf(wei, source.symbol),
          onStep,
          insufficient: (have) => insufficientFunds(amount, have, sender, source),
        })
      : undefined;

  const verb = direction === "to-ethereum" ? "locking" : "burning";
  const send = { explain: (r: Revert) => explainBridgeRevert(r, source.symbol), onStep };
  const label = `${verb} ${amountOf(amount, source.symbol)} on ${source.chainName}`;
  const receipt =
    direction === "to-ethereum"
      ? await sendContractCall(
          source.ctx,
          { address: source.bridge, abi: basedBridgeAbi, functionName: "lock", args: [recipient, amount] },
          { ...send, label },
        )
      : await sendContractCall(
          source.ctx,
          { address: source.bridge, abi: ethereumBridgeAbi, functionName: "burn", args: [recipient, amount] },
          { ...send, label },
        );
  const hash = receipt.transactionHash;
  const event =
    direction === "to-ethereum"
      ? eventOf(receipt, basedBridgeAbi, "BridgeLocked")
      : eventOf(receipt, ethereumBridgeAbi, "BridgeBurned");
  const transfer: BridgeTransfer = {
    sender: event.args.sender,
    recipient: event.args.recipient,
    amount: event.args.amount,
  };
  const message: Message = {
    srcChainId: BigInt(source.chainId),
    dstChainId: BigInt(destination.chainId),
    nonce: eventNonce(event.blockNumber, event.logIndex),
    kind: MessageKind.BRIDGE_TRANSFER,
    payload: encodeBridgeTransfer(transfer),
  };
  return {
    direction,
    messageId: messageId(message),
    message,
    ...transfer,
    sourceChainId: source.chainId,
    destinationChainId: destination.chainId,
    sourceTransactionHash: hash,
    sourceBlockNumber: receipt.blockNumber,
    approvalHash,
    destinationFromBlock,
  };
}

function assertTransferAllowed(
  limits: BridgeLimits,
  amount: bigint,
  balance: bigint,
  sender: Address,
  source: BridgeEnd,
  destination: BridgeEnd,
): void {
  const sym = source.symbol;
  if (limits.sourcePaused) {
    throw new BasedError(
      "refused",
      "BridgePaused",
      `The bridge on ${source.chainName} is paused: it accepts no transfers.`,
      "The guardian pauses the bridge in an emergency; try again once it is unpaused.",
    );
  }
  if (limits.destinationPaused) {
    throw new BasedError(
      "refused",
      "DestinationPaused",
      `The bridge on ${destination.chainName} is paused: a transfer sent now would wait there until it is unpaused.`,
      "Try again once the guardian unpauses it (nothing was sent).",
    );
  }
  if (amount > limits.maxTransfer) {
    throw new BasedError(
      "refused",
      "TransferAboveMax",
      `${amountOf(amount, sym)} is above the bridge's per-transfer maximum of ${amountOf(limits.maxTransfer, sym)}.`,
      `Split it into transfers of at most ${formatEther(limits.maxTransfer)} ${sym}.`,
      { amount: amount.toString(), maxTransfer: limits.maxTransfer.toString() },
    );
  }
  if (amount > limits.destinationBucket.capacity) {
    throw new BasedError(
      "refused",
      "AmountExceedsCapacity",
      `${amountOf(amount, sym)} is more than the rate limit on ${destination.chainName} ever lets through at once (${amountOf(limits.destinationBucket.capacity, sym)}).`,
      `Split it into transfers of at most ${formatEther(limits.destinationBucket.capacity)} ${sym}.`,
      { amount: amount.toString(), capacity: limits.destinationBucket.capacity.toString() },
    );
  }
  if (balance < amount) throw insufficientFunds(amount, balance, sender, source);
}

function insufficientFunds(amount: bigint, balance: bigint, sender: Address, source: BridgeEnd): BasedError {
  const sym = source.symbol;
  return new BasedError(
    "refused",
    sym === "BASED" ? "InsufficientBased" : "InsufficientWrappedBased",
    `Not enough ${sym}: the transfer needs ${amountOf(amount, sym)}, ${sender} has ${amountOf(balance, sym)} (short by ${amountOf(amount - balance, sym)}).`,
    sym === "BASED"
      ? "On devnet, the DevnetBasedFaucet gives BASED (drip(address,uint256)), or use a funded devnet account."
      : "Bridge BASED to Ethereum first, then try again.",
    { needed: amount.toString(), balance: balance.toString() },
  );
}

/** Turns a lock/burn revert into a message that says what happened and what to do. */
function explainBridgeRevert(revert: Revert, symbol: string): BasedError {
  const { name } = revert;
  const args = revert.args as readonly bigint[];
  switch (name) {
    case "TransferAboveMax":
      return new BasedError(
        "refused",
        name,
        `${amountOf(args[0]!, symbol)} is above the per-transfer maximum of ${amountOf(args[1]!, symbol)}.`,
        "Split the transfer.",
        { amount: String(args[0]), maxTransfer: String(args[1]) },
      );
    case "EnforcedPause":
      return new BasedError(
        "refused",
        "BridgePaused",
        "The bridge is paused.",
        "Try again once it is unpaused.",
      );
    case "ZeroAmount":
      return new BasedError("input", name, "The amount must be more than 0.");
    default:
      return new BasedError(
        "refused",
        name,
        `The bridge refused the transfer: ${name}(${args.map(String).join(", ")}).`,
      );
  }
}

// ───────────────────────────────────────────── status ────────────────────────────────────────────

/**
 * Where a message stands:
 * - `unknown`: no attester and no inbox knows the id (not final yet, or not a message id);
 * - `pending`: the attesters see it, fewer than the threshold signed so far;
 * - `signed`: enough signatures; waiting for a relayer to deliver it;
 * - `waiting`: delivered, but the destination could not act yet (rate limit, pause); relayers retry it;
 * - `executed`: done, exactly once;
 * - `superseded`: never delivered, and it never will be: the destination inbox already delivered
 *   another message (`destination.supersededBy`) under the same source chain and nonce (one source
 *   event, one message; the inbox refuses this one with `NonceAlreadyUsed`), whatever was signed.
 */
export type BridgeState = "unknown" | "pending" | "signed" | "waiting" | "executed" | "superseded";
export type InboxStatus = "none" | "failed" | "executed";
const INBOX_STATUS: readonly InboxStatus[] = ["none", "failed", "executed"];

export type AttesterReport = {
  url: string;
  /** signed: a valid signature for the destination's current set; missing: not (yet) signed. */
  status: "signed" | "missing" | "unreachable" | "invalid";
  signer?: Address;
  detail?: string;
};

export type BridgeStatus = {
  messageId: Hex;
  state: BridgeState;
  /** Known when an attester or the caller supplied it. */
  message?: Message;
  /** The decoded payload of a BRIDGE_TRANSFER. */
  transfer?: BridgeTransfer;
  kind?: string;
  source?: { chainId: number; chain: string; blockNumber: bigint; logIndex: number; transactionHash?: Hash };
  signatures: { valid: number; threshold?: number; attesters: AttesterReport[] };
  inboxes: { ethereum: InboxStatus; based: InboxStatus };
  destination?: {
    chainId: number;
    chain: string;
    status: InboxStatus;
    transactionHash?: Hash;
    /** Why a delivered message has not executed yet (decoded handler error). */
    waitingReason?: string;
    /** The id of the other message the inbox delivered under this message's (source chain, nonce). */
    supersededBy?: Hex;
    /** What `superseded` means for this message and what to do about it. */
    supersededReason?: string;
  };
};

export type StatusOptions = {
  /** The message, when the caller knows it (saves asking the attesters for it). */
  message?: Message;
  /** The source transaction, when known (saves a log query). */
  sourceTransactionHash?: Hash;
  /** First destination block to search for the execution. */
  destinationFromBlock?: bigint;
  fetchTimeoutMs?: number;
};

const KIND_NAMES = Object.fromEntries(Object.entries(MessageKind).map(([k, v]) => [v, k])) as Record<
  number,
  string
>;

/** Asks one attester for its signature of `id`. */
async function askAttester(
  url: string,
  id: Hex,
  timeoutMs: number,
): Promise<{ url: string; body?: SignaturesResponse; missing?: boolean; error?: string }> {
  try {
    const res = await fetch(`${url}/messages/${id}/signatures`, { signal: AbortSignal.timeout(timeoutMs) });
    if (res.status === 404) return { url, missing: true };
    if (!res.ok) return { url, error: `HTTP ${res.status}` };
    const parsed = signaturesResponseSchema.safeParse(await res.json());
    if (!parsed.success) return { url, error: "unexpected response" };
    if (
      parsed.data.id.toLowerCase() !== id.toLowerCase() ||
      messageId(parsed.data.message) !== id.toLowerCase()
    )
      return { url, error: "answered for another message" };
    return { url, body: parsed.data };
  } catch (err) {
    return { url, error: (err as Error).name === "TimeoutError" ? "timed out" : (err as Error).message };
  }
}

async function inboxStatusOf(e: BridgeEnd, id: Hex): Promise<InboxStatus> {
  const status = await e.ctx.publicClient.readContract({
    address: e.inbox,
    abi: messageInboxAbi,
    functionName: "messageStatus",
    args: [id],
  });
  return INBOX_STATUS[status] ?? "none";
}

/**
 * Where message `id` is: both inboxes' status, the attesters' signatures (verified against the
 * destination inbox's current set) versus its threshold, the execution transaction, and why a
 * delivered message is still waiting.
 */
export async function getBridgeStatus(
  ctx: BridgeContext,
  id: Hex,
  options: StatusOptions = {},
): Promise<BridgeStatus> {
  const ethereum = ethereumEnd(ctx);
  const based = basedEnd(ctx);
  const timeoutMs = options.fetchTimeoutMs ?? 2_000;
  const [answers, ethStatus, basedStatus] = await Promise.all([
    Promise.all(ctx.attesterUrls.map((url) => askAttester(url, id, timeoutMs))),
    inboxStatusOf(ethereum, id),
    inboxStatusOf(based, id),
  ]);
  const status: BridgeStatus = {
    messageId: id,
    state: "unknown",
    signatures: { valid: 0, attesters: [] },
    inboxes: { ethereum: ethStatus, based: basedStatus },
  };

  const message = options.message ?? answers.find((a) => a.body)?.body?.message;
  const destination = message
    ? bridgeEndOn(ctx, message.dstChainId)
    : ethStatus !== "none"
      ? ethereum
      : basedStatus !== "none"
        ? based
        : undefined;

  if (message) {
    status.message = message;
    status.kind = KIND_NAMES[message.kind] ?? `kind ${message.kind}`;
    if (message.kind === MessageKind.BRIDGE_TRANSFER) status.transfer = decodeBridgeTransfer(message.payload);
    const src = bridgeEndOn(ctx, message.srcChainId);
    if (src) {
      const blockNumber = message.nonce >> 32n;
      const logIndex = Number(message.nonce & 0xffffffffn);
      status.source = {
        chainId: src.chainId,
        chain: src.chainName,
        blockNumber,
        logIndex,
        transactionHash:
          options.sourceTransactionHash ?? (await sourceTransaction(src, blockNumber, logIndex)),
      };
    }
  }

  if (destination) {
    const [threshold, setVersion, members] = await Promise.all([
      destination.ctx.publicClient.readContract({
        address: destination.inbox,
        abi: messageInboxAbi,
        functionName: "threshold",
      }),
      destination.ctx.publicClient.readContract({
        address: destination.inbox,
        abi: messageInboxAbi,
        functionName: "setVersion",
      }),
      destination.ctx.publicClient.readContract({
        address: destination.inbox,
        abi: messageInboxAbi,
        functionName: "attesters",
      }),
    ]);
    status.signatures.threshold = Number(threshold);
    const memberSet = new Set(members.map((m) => m.toLowerCase()));
    const validSigners = new Set<string>();
    for (const answer of answers) {
      status.signatures.attesters.push(
        await judgeAnswer(answer, message, destination.inbox, setVersion, memberSet, validSigners),
      );
    }
    status.signatures.valid = validSigners.size;
    const inboxStatus = destination.chainId === ethereum.chainId ? ethStatus : basedStatus;
    status.destination = { chainId: destination.chainId, chain: destination.chainName, status: inboxStatus };
    const fromBlock = options.destinationFromBlock ?? destination.startBlock;
    if (inboxStatus === "executed") {
      const [executed] = await destination.ctx.publicClient.getContractEvents({
        address: destination.inbox,
        abi: messageInboxAbi,
        eventName: "MessageExecuted",
        args: { messageId: id },
        fromBlock,
      });
      status.destination.transactionHash = executed?.transactionHash ?? undefined;
    } else if (inboxStatus === "failed") {
      status.destination.waitingReason = await waitingReason(destination, id, fromBlock, status.transfer);
    } else if (message) {
      const holder = await messageAtNonce(destination, message);
      if (holder !== undefined && holder.toLowerCase() !== id.toLowerCase()) {
        status.destination.supersededBy = holder;
        status.destination.supersededReason = supersededReason(destination, message, holder);
      }
    }
  } else {
    status.signatures.attesters = answers.map((a) => ({
      url: a.url,
      status: a.error ? "unreachable" : "missing",
      ...(a.error ? { detail: a.error } : {}),
    }));
  }

  const threshold = status.signatures.threshold ?? Number.POSITIVE_INFINITY;
  status.state =
    status.destination?.status === "executed"
      ? "executed"
      : status.destination?.status === "failed"
        ? "waiting"
        : status.destination?.supersededBy !== undefined
          ? "superseded"
          : status.signatures.valid >= threshold
            ? "signed"
            : message
              ? "pending"
              : "unknown";
  return status;
}

/**
 * The id of the message `e`'s inbox delivered under `m`'s (source chain, nonce space, nonce), or
 * undefined when none was (EPOCH_REPORT's nonces are Consensus's: the inbox records none).
 */
async function messageAtNonce(e: BridgeEnd, m: Message): Promise<Hex | undefined> {
  if (m.kind === MessageKind.EPOCH_REPORT) return undefined;
  const holder = await e.ctx.publicClient.readContract({
    address: e.inbox,
    abi: messageInboxAbi,
    functionName: "messageAt",
    args: [m.srcChainId, m.kind, m.nonce],
  });
  return BigInt(holder) === 0n ? undefined : holder;
}

function supersededReason(e: BridgeEnd, m: Message, holder: Hex): string {
  return (
    `the inbox on ${e.chainName} already delivered another message (${holder}) under the same source chain ` +
    `${m.srcChainId} and nonce ${m.nonce} (one source event, one message), so it refuses this one ` +
    `(NonceAlreadyUsed) and will never execute it, whoever relays it. Check what ${holder} carries: if it ` +
    `is not this transfer, the attesters signed two payloads for one event; report it to the bridge's ` +
    `guardian (relaying or re-signing this message cannot help)`
  );
}

async function judgeAnswer(
  answer: Awaited<ReturnType<typeof askAttester>>,
  message: Message | undefined,
  inbox: Address,
  setVersion: number,
  members: Set<string>,
  validSigners: Set<string>,
): Promise<AttesterReport> {
  if (answer.error) return { url: answer.url, status: "unreachable", detail: answer.error };
  if (!answer.body || !message) return { url: answer.url, status: "missing" };
  for (const s of answer.body.signatures) {
    if (s.setVersion !== setVersion) continue;
    let signer: Address;
    try {
      signer = await recoverAttester(message, s.setVersion, inbox, s.signature as Hex);
    } catch {
      continue;
    }
    if (signer.toLowerCase() !== s.signer.toLowerCase()) continue;
    if (!members.has(signer.toLowerCase())) {
      return { url: answer.url, status: "invalid", signer, detail: "not in the inbox's attester set" };
    }
    validSigners.add(signer.toLowerCase());
    return { url: answer.url, status: "signed", signer };
  }
  return {
    url: answer.url,
    status: "missing",
    detail: `no valid signature for attester-set version ${setVersion} yet`,
  };
}

/** The transaction of the log at (`blockNumber`, `logIndex`) on `e`'s chain. */
async function sourceTransaction(
  e: BridgeEnd,
  blockNumber: bigint,
  logIndex: number,
): Promise<Hash | undefined> {
  try {
    const logs = await e.ctx.publicClient.getLogs({ fromBlock: blockNumber, toBlock: blockNumber });
    return logs.find((l) => l.logIndex === logIndex)?.transactionHash ?? undefined;
  } catch {
    return undefined;
  }
}

/** Why a delivered message waits: its last `MessageFailed` reason, decoded, and the bucket now. */
async function waitingReason(
  e: BridgeEnd,
  id: Hex,
  fromBlock: bigint,
  transfer: BridgeTransfer | undefined,
): Promise<string> {
  const failures = await e.ctx.publicClient.getContractEvents({
    address: e.inbox,
    abi: messageInboxAbi,
    eventName: "MessageFailed",
    args: { messageId: id },
    fromBlock,
  });
  const reason = failures.at(-1)?.args.reason;
  let decoded: { errorName: string; args?: readonly unknown[] } | undefined;
  try {
    if (reason && reason !== "0x") decoded = decodeErrorResult({ abi: bridgeEndpointAbi, data: reason });
  } catch {
    decoded = undefined;
  }
  switch (decoded?.errorName) {
    case "RateLimitReached": {
      // The pending block has the current time; the latest block of an idle chain may be old.
      const bucket = await e.ctx.publicClient.readContract({
        address: e.bridge,
        abi: bridgeEndpointAbi,
        functionName: "inboundBucket",
        blockTag: "pending",
      });
      const need = transfer?.amount ?? 0n;
      const seconds =
        need > bucket.tokens && bucket.rate > 0n
          ? (need - bucket.tokens + bucket.rate - 1n) / bucket.rate
          : 0n;
      return `the rate limit on ${e.chainName} is used up: ${amountOf(bucket.tokens, e.symbol)} available now, ${amountOf(bucket.rate, e.symbol)}/s refill; relayers retry it${seconds > 0n ? ` (about ${seconds} s from now)` : " (it can go now)"}`;
    }
    case "EnforcedPause":
      return `the bridge on ${e.chainName} is paused; relayers retry it once the guardian unpauses`;
    case "AmountExceedsCapacity":
      return `the amount is above the rate-limit capacity on ${e.chainName}; only governance raising the capacity lets it through`;
    default:
      return decoded
        ? `the handler on ${e.chainName} refused it: ${decoded.errorName}`
        : `the handler on ${e.chainName} failed; anyone may retry it`;
  }
}

// ───────────────────────────────────────────── waiting ───────────────────────────────────────────

export type WaitOptions = {
  /** Give up after this long (the transfer is not lost: `based bridge status` follows it later). */
  timeoutMs?: number;
  pollMs?: number;
  onProgress?: (status: BridgeStatus) => void;
};

/** Follows a sent transfer until its destination executed it; a clear error on timeout. */
export async function waitForBridgeTransfer(
  ctx: BridgeContext,
  sent: SentTransfer,
  options: WaitOptions = {},
): Promise<BridgeStatus> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  const deadline = Date.now() + timeoutMs;
  let last: BridgeStatus | undefined;
  for (;;) {
    try {
      last = await getBridgeStatus(ctx, sent.messageId, {
        message: sent.message,
        sourceTransactionHash: sent.sourceTransactionHash,
        destinationFromBlock: sent.destinationFromBlock,
      });
      options.onProgress?.(last);
      if (last.state === "executed") return last;
      if (last.state === "superseded") throw supersededError(sent, last);
    } catch (err) {
      if (err instanceof BasedError && err.code === "BridgeMessageSuperseded") throw err;
      // A chain that hiccups mid-wait is no reason to give up before the deadline.
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw timeoutError(sent, last, timeoutMs, ctx.attesterUrls);
    await new Promise((r) => setTimeout(r, options.pollMs ?? 500));
  }
}

/** A sent transfer whose nonce another message took: waiting longer cannot help. */
function supersededError(sent: SentTransfer, last: BridgeStatus): BasedError {
  const holder = last.destination?.supersededBy;
  return new BasedError(
    "refused",
    "BridgeMessageSuperseded",
    `Message ${sent.messageId} will never execute: ${last.destination?.supersededReason ?? "another message took its nonce"}.`,
    `Look up message ${holder} to see what was delivered instead of your transfer (tx ${sent.sourceTransactionHash}).`,
    { messageId: sent.messageId, ...(holder ? { supersededBy: holder } : {}) },
  );
}

function timeoutError(
  sent: SentTransfer,
  last: BridgeStatus | undefined,
  timeoutMs: number,
  attesterUrls: readonly string[],
): BasedError {
  const seconds = Math.round(timeoutMs / 1000);
  const sig = last?.signatures;
  const where =
    !last || last.state === "unknown" || last.state === "pending"
      ? sig?.threshold !== undefined && attesterUrls.length > 0
        ? `only ${sig.valid} of the ${sig.threshold} attester signatures it needs`
        : "not enough attester signatures yet"
      : last.state === "signed"
        ? `all ${sig?.threshold} signatures, but no relayer delivered it`
        : `delivered, but waiting: ${last.destination?.waitingReason ?? "the handler failed"}`;
  const down = (sig?.attesters ?? []).filter((a) => a.status === "unreachable").map((a) => a.url);
  const hint =
    !last || last.state === "unknown" || last.state === "pending"
      ? `Check that the attesters are running and synced${down.length ? ` (unreachable: ${down.join(", ")})` : ""}; set BASED_ATTESTERS to their URLs if they are not the devnet's.`
      : last.state === "signed"
        ? "Check that a relayer is running (the devnet starts one; anyone may run one)."
        : "Relayers retry it; it is not lost.";
  return new BasedError(
    "environment",
    "BridgeTimeout",
    `Message ${sent.messageId} did not execute within ${seconds} s: it has ${where}. Your transfer is recorded on-chain (tx ${sent.sourceTransactionHash}) and is not lost.`,
    hint,
    { messageId: sent.messageId, state: last?.state ?? "unknown" },
  );
}
