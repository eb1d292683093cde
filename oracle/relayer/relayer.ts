/**
 * The relayer: permissionless. It lists what the attesters signed, gathers a threshold of
 * signatures per message, and submits them to the destination inbox; a message whose handler
 * failed (e.g. a bridge bucket ran dry) is retried with backoff until it executes. The inbox is
 * the source of truth for "done": after a restart the relayer asks it before submitting again,
 * and the inbox refuses duplicates anyway, so every message executes exactly once.
 * Only executed ids are persisted; listing cursors live in memory, so a restarted relayer lists
 * the attesters' journals from the start again and loses nothing that was still pending.
 */
import fs from "node:fs";
import path from "node:path";
import { type Address, BaseError, ContractFunctionRevertedError, type Hex } from "viem";
import type { Logger } from "pino";
import { z } from "zod";
import {
  type SignedMessage,
  messagesResponseSchema,
  signaturesResponseSchema,
} from "../../protocol/attester";
import { bridgeEndpointAbi, messageInboxAbi } from "../../protocol/generated/abis";
import {
  type Message,
  type SignedBy,
  messageId,
  pickSignatures,
  recoverAttester,
} from "../../protocol/message";
import { requireWallet } from "../../sdk/chain";
import { type Inbox, inboxesByChain } from "../inbox";

export type RelayerOptions = {
  attesterUrls: string[];
  /** The inboxes it delivers to, one per chain, each context with the wallet that pays the gas. */
  inboxes: Inbox[];
  stateFile: string;
  log: Logger;
  /** First retry delay of a failed message; doubles up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  fetchTimeoutMs?: number;
  /** How often to look for a submitted transaction's receipt (viem's default is 4 s). */
  receiptPollMs?: number;
  /**
   * A message still short of the threshold of current members' signatures this long after it was
   * first seen is dropped (default 1 hour); a signature listed for it later brings it back.
   */
  evictAfterMs?: number;
  /** The most messages kept waiting at once (default 10,000); past it the oldest waiting one goes. */
  maxPending?: number;
};

/** The most signatures kept per message (an endpoint could otherwise list endless junk signers). */
const MAX_SIGNATURES_PER_MESSAGE = 256;

const stateSchema = z.object({ done: z.array(z.string()) });

type Pending = {
  message: Message;
  /** signer (lowercase) → signature, for one set version. */
  signatures: Map<string, { signature: Hex; setVersion: number }>;
  /** Delivery failures back off (doubling up to `maxBackoffMs`). */
  nextAttemptAt: number;
  backoff: number;
  /** Asking every attester directly for a signature backs off on its own schedule. */
  nextAskAt: number;
  askBackoff: number;
  /** When the relayer first saw it (eviction counts from here). */
  firstSeenAt: number;
};

/** Not a failure: the threshold is not reached yet; listing brings more signatures each round. */
class WaitingForSignatures extends Error {
  override name = "WaitingForSignatures";
}

const STATUS = { None: 0, Failed: 1, Executed: 2 } as const;
/** The least gas a delivery is sent with. */
const DELIVERY_GAS = 1_000_000n;
/** The inbox's own work around the handler: signatures, the message's calldata and storage. */
const INBOX_OVERHEAD_GAS = 400_000n;
/** MessageInbox.CALL_RESERVE_GAS. */
const CALL_RESERVE_GAS = 10_000n;
/** The inbox plus the bridges' errors, so a handler's revert (passed on by `retry`) decodes. */
const DELIVERY_ABI = [...messageInboxAbi, ...bridgeEndpointAbi.filter((item) => item.type === "error")];

/** The destination said when to come back (a rate limit's `RateLimitReached(wait, available)`). */
class RetryLater extends Error {
  override name = "RetryLater";
  constructor(
    message: string,
    readonly afterMs: number,
  ) {
    super(message);
  }
}

/**
 * Another message was delivered under this one's (source chain, nonce): the inbox will never take
 * it (`NonceAlreadyUsed`), so the relayer stops trying. Only attesters that signed two payloads for
 * one source event make this happen.
 */
export class Superseded extends Error {
  override name = "Superseded";
}

function revertOf(err: unknown): ContractFunctionRevertedError | undefined {
  if (!(err instanceof BaseError)) return undefined;
  const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
  return reverted instanceof ContractFunctionRevertedError ? reverted : undefined;
}

/** A `Superseded` if `err` is the inbox's `NonceAlreadyUsed` refusal (exported for its test). */
export function supersededBy(err: unknown): Superseded | undefined {
  const reverted = revertOf(err);
  if (reverted?.data?.errorName !== "NonceAlreadyUsed") return undefined;
  const [, , nonce, deliveredId] = reverted.data.args as readonly [bigint, number, bigint, Hex];
  return new Superseded(`nonce ${nonce} already carried message ${deliveredId}`);
}

function retryLaterFor(err: unknown): RetryLater | undefined {
  const reverted = revertOf(err);
  if (!reverted) return undefined;
  if (reverted.data?.errorName !== "RateLimitReached") return undefined;
  const [wait, available] = reverted.data.args as readonly [bigint, bigint];
  // A bucket that never refills (rate 0) reports an endless wait: fall back to the backoff.
  if (wait > 86_400n) return undefined;
  return new RetryLater(`rate limit: ${available} available, retry in ${wait} s`, Number(wait) * 1000 + 500);
}

export class Relayer {
  private readonly cursors: Record<string, number> = {};
  private readonly done = new Set<string>();
  /** Ids the inbox refuses for good (another message took their nonce): not retried. */
  private readonly superseded = new Set<string>();
  private readonly pending = new Map<string, Pending>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly inboxes: Map<number, Inbox>;
  /** Members (lowercase) of each destination's attester sets, by "chain:version". */
  private readonly members = new Map<string, ReadonlySet<string>>();
  /** The newest set version seen per destination chain. */
  private readonly versions = new Map<number, number>();

  constructor(readonly options: RelayerOptions) {
    this.inboxes = inboxesByChain(options.inboxes);
    // A context without a wallet could never deliver: say so at start, not at the first message.
    for (const inbox of options.inboxes) requireWallet(inbox.ctx);
    if (fs.existsSync(options.stateFile)) {
      const state = stateSchema.parse(JSON.parse(fs.readFileSync(options.stateFile, "utf8")));
      state.done.forEach((id) => this.done.add(id));
    }
  }

  /** Ids known to be executed on their destination. */
  get delivered(): ReadonlySet<string> {
    return this.done;
  }

  /** Ids of the messages waiting for signatures or delivery. */
  get waiting(): ReadonlySet<string> {
    return new Set(this.pending.keys());
  }

  /** Drops `id` from the waiting messages, saying why. */
  private evict(id: string, p: Pending, why: string): void {
    this.pending.delete(id);
    this.options.log.warn(
      { id, signatures: p.signatures.size, waitedMs: Date.now() - p.firstSeenAt },
      `dropped: ${why}`,
    );
  }

  private save(): void {
    fs.mkdirSync(path.dirname(this.options.stateFile), { recursive: true });
    const tmp = `${this.options.stateFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ done: [...this.done] }));
    fs.renameSync(tmp, this.options.stateFile);
  }

  private async fetchJson(url: string): Promise<unknown> {
    const res = await fetch(url, { signal: AbortSignal.timeout(this.options.fetchTimeoutMs ?? 3_000) });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return res.json();
  }

  /**
   * One round: list new signatures, then start a delivery attempt for every pending message that
   * is due and not already in flight. Attempts are not awaited here: one waiting for a block on a
   * slow chain must not hold back the others (the account's nonce manager orders the
   * transactions). `settle()` waits for them.
   */
  async poll(): Promise<void> {
    await Promise.all(this.options.attesterUrls.map((url) => this.collect(url)));
    this.save();
    for (const [id, p] of this.pending) {
      if (this.inFlight.has(id) || Date.now() < p.nextAttemptAt) continue;
      const attempt = this.attempt(id, p).finally(() => {
        this.inFlight.delete(id);
        this.save();
      });
      this.inFlight.set(id, attempt);
    }
  }

  /** Resolves once every delivery attempt started so far has finished. */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight.values());
  }

  private async attempt(id: string, p: Pending): Promise<void> {
    try {
      await this.deliver(id, p);
    } catch (err) {
      if (err instanceof WaitingForSignatures) {
        // Tried again next round, when the listing may have brought the missing signatures; a
        // message that never gathers them (its attesters rotated out, or signatures only from
        // non-members) is dropped after a while instead of being kept and asked about forever.
        if (Date.now() - p.firstSeenAt >= (this.options.evictAfterMs ?? 3_600_000))
          this.evict(id, p, `never reached the threshold of current attesters' signatures (${err.message})`);
        else this.options.log.debug({ id, err: err.message }, "waiting for signatures");
        return;
      }
      if (err instanceof Superseded) {
        this.pending.delete(id);
        this.superseded.add(id);
        this.options.log.error(
          { id, reason: err.message },
          "refused for good: another message took its nonce",
        );
        return;
      }
      if (err instanceof RetryLater) {
        p.nextAttemptAt = Date.now() + err.afterMs;
        this.options.log.info({ id, reason: err.message }, "destination not ready; retrying when it is");
        return;
      }
      p.nextAttemptAt = Date.now() + p.backoff;
      p.backoff = Math.min(p.backoff * 2, this.options.maxBackoffMs ?? 30_000);
      this.options.log.warn(
        { id, err: (err as Error).message.split("\n")[0] },
        "delivery failed; will retry",
      );
    }
  }

  private async collect(url: string): Promise<void> {
    let body;
    try {
      body = messagesResponseSchema.parse(
        await this.fetchJson(`${url}/messages?after=${this.cursors[url] ?? -1}&limit=500`),
      );
    } catch (err) {
      this.options.log.debug({ url, err: (err as Error).message }, "attester unreachable");
      return;
    }
    for (const s of body.messages) {
      this.cursors[url] = Math.max(this.cursors[url] ?? -1, s.seq);
      await this.addSignature(s);
    }
  }

  /** Keeps a signature only if it really is the claimed signer's over this exact message. */
  private async addSignature(s: SignedMessage): Promise<void> {
    const id = messageId(s.message);
    if (id.toLowerCase() !== s.id.toLowerCase()) return;
    if (this.done.has(id) || this.superseded.has(id)) return;
    const inbox = this.inboxes.get(Number(s.message.dstChainId));
    if (!inbox) return;
    let signer: Address;
    try {
      signer = await recoverAttester(s.message, s.setVersion, inbox.address, s.signature as Hex);
    } catch {
      return;
    }
    if (signer.toLowerCase() !== s.signer.toLowerCase()) return;
    // Only what the inbox would accept: the newest set version, from one of its members.
    const dst = Number(s.message.dstChainId);
    if (s.setVersion < (this.versions.get(dst) ?? 0)) return;
    const members = this.members.get(`${dst}:${s.setVersion}`);
    if (members && !members.has(signer.toLowerCase())) return;
    let p = this.pending.get(id);
    if (!p) {
      p = {
        message: s.message,
        signatures: new Map(),
        nextAttemptAt: 0,
        backoff: this.options.backoffMs ?? 1_000,
        nextAskAt: 0,
        askBackoff: this.options.backoffMs ?? 1_000,
        firstSeenAt: Date.now(),
      };
      this.pending.set(id, p);
      this.evictOverflow(id);
    }
    if (p.signatures.size >= MAX_SIGNATURES_PER_MESSAGE && !p.signatures.has(signer.toLowerCase())) return;
    p.signatures.set(signer.toLowerCase(), { signature: s.signature as Hex, setVersion: s.setVersion });
  }

  /** Keeps at most `maxPending` messages: the oldest one not being delivered right now goes. */
  private evictOverflow(keep: string): void {
    const max = this.options.maxPending ?? 10_000;
    if (this.pending.size <= max) return;
    let oldest: [string, Pending] | undefined;
    for (const entry of this.pending) {
      if (entry[0] === keep || this.inFlight.has(entry[0])) continue;
      if (!oldest || entry[1].firstSeenAt < oldest[1].firstSeenAt) oldest = entry;
    }
    if (oldest) this.evict(oldest[0], oldest[1], `more than ${max} messages waiting`);
  }

  /**
   * The members of the destination's current attester set, read together with its version and
   * threshold (a version's members never change, so they are read once per version).
   */
  private async currentSet(
    inbox: Inbox,
  ): Promise<{ version: number; threshold: number; members: ReadonlySet<string> }> {
    const client = inbox.ctx.publicClient;
    const at = { address: inbox.address, abi: messageInboxAbi } as const;
    const blockNumber = await client.getBlockNumber({ cacheTime: 0 });
    const [version, threshold] = await Promise.all([
      client.readContract({ ...at, functionName: "setVersion", blockNumber }),
      client.readContract({ ...at, functionName: "threshold", blockNumber }),
    ]);
    const chainId = inbox.ctx.chain.id;
    const key = `${chainId}:${version}`;
    let members = this.members.get(key);
    if (!members) {
      const list = await client.readContract({ ...at, functionName: "attesters", blockNumber });
      members = new Set(list.map((a) => a.toLowerCase()));
      this.members.set(key, members);
    }
    if (version > (this.versions.get(chainId) ?? 0)) this.versions.set(chainId, version);
    return { version, threshold: Number(threshold), members };
  }

  private async deliver(id: Hex | string, p: Pending): Promise<void> {
    const inbox = this.inboxes.get(Number(p.message.dstChainId))!;
    const status = (): Promise<number> =>
      inbox.ctx.publicClient.readContract({
        address: inbox.address,
        abi: messageInboxAbi,
        functionName: "messageStatus",
        args: [id as Hex],
      });
    const before = await status();
    if (before === STATUS.Executed) {
      this.finish(id);
      return;
    }
    if (before === STATUS.Failed) {
      await this.send(inbox, "retry", [p.message]);
      if ((await status()) === STATUS.Executed) this.finish(id);
      else throw new Error("handler still failing");
      return;
    }
    const set = await this.currentSet(inbox);
    // Keep only what this inbox accepts now: other versions and non-members' signatures go.
    for (const [signer, s] of p.signatures)
      if (s.setVersion !== set.version || !set.members.has(signer)) p.signatures.delete(signer);
    const usable = (): SignedBy[] =>
      [...p.signatures].map(([signer, s]) => ({ signer: signer as Address, signature: s.signature }));
    // Short of the threshold: ask each attester directly (after a rotation this makes them sign
    // for the new set version), at most on a backoff schedule so a stuck message costs little.
    if (p.signatures.size < set.threshold && Date.now() >= p.nextAskAt) {
      p.nextAskAt = Date.now() + p.askBackoff;
      p.askBackoff = Math.min(p.askBackoff * 2, this.options.maxBackoffMs ?? 30_000);
      await this.askForSignatures(id, set.version);
    }
    const chosen = pickSignatures(usable(), set.threshold);
    if (!chosen)
      throw new WaitingForSignatures(`only ${p.signatures.size} of ${set.threshold} signatures so far`);
    await this.send(inbox, "receiveMessage", [p.message, set.version, chosen]);
    if ((await status()) === STATUS.Executed) this.finish(id);
    else throw new Error("delivered, but the handler failed; it will be retried");
  }

  /** Asks every attester for its signature for the inbox's current set version. */
  private async askForSignatures(id: string, version: number): Promise<void> {
    await Promise.all(
      this.options.attesterUrls.map(async (url) => {
        try {
          const body = signaturesResponseSchema.parse(
            await this.fetchJson(`${url}/messages/${id}/signatures?setVersion=${version}`),
          );
          for (const s of body.signatures) await this.addSignature(s);
        } catch {
          // Down or not yet synced: another attester may have it, or the next round will.
        }
      }),
    );
  }

  private async send(inbox: Inbox, functionName: "receiveMessage" | "retry", args: readonly unknown[]) {
    const { publicClient } = inbox.ctx;
    const wallet = requireWallet(inbox.ctx);
    let request: unknown;
    try {
      // Against the pending block: it has the time the transaction will run at (the latest block
      // of an idle chain may be old, and a bucket would never seem to refill), and it already
      // holds our own transactions still in the mempool (a second delivery would revert there).
      ({ request } = await publicClient.simulateContract({
        account: wallet.account,
        address: inbox.address,
        abi: DELIVERY_ABI,
        functionName,
        args,
        blockTag: "pending",
      } as never));
    } catch (err) {
      throw supersededBy(err) ?? retryLaterFor(err) ?? err;
    }
    // An explicit limit: estimating a delivery whose handler reverts (e.g. a rate-limited
    // transfer that must be stored as failed) fails on Hardhat, and the inbox needs the handler's
    // whole gas limit available anyway. Unused gas is not charged.
    const gas = await this.deliveryGas(inbox, (args[0] as Message).kind);
    const hash = await wallet.writeContract({ ...(request as object), gas } as never);
    const receipt = await publicClient.waitForTransactionReceipt({
      hash,
      pollingInterval: this.options.receiptPollMs ?? 250,
    });
    if (receipt.status !== "success") throw new Error(`${functionName} ${hash} reverted`);
    this.options.log.info({ functionName, hash, chainId: inbox.ctx.chain.id }, "submitted");
  }

  /**
   * The gas limit of a delivery of a `kind` message: what the inbox must have left to give the
   * handler its whole limit (it refuses the delivery otherwise: `InsufficientGasForHandler`), plus
   * its own work. Read per delivery: governance may change a handler's limit (an epoch report's is
   * 2,000,000, a bridge transfer's 200,000).
   */
  private async deliveryGas(inbox: Inbox, kind: number): Promise<bigint> {
    const [, limit] = await inbox.ctx.publicClient.readContract({
      address: inbox.address,
      abi: messageInboxAbi,
      functionName: "handlerOf",
      args: [kind],
    });
    const needed = BigInt(limit) + BigInt(limit) / 63n + CALL_RESERVE_GAS + INBOX_OVERHEAD_GAS;
    return needed > DELIVERY_GAS ? needed : DELIVERY_GAS;
  }

  private finish(id: string): void {
    this.pending.delete(id);
    this.done.add(id);
    this.options.log.info({ id }, "message executed");
  }
}
