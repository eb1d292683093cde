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
};

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
        // Tried again next round, when the listing may have brought the missing signatures.
        this.options.log.debug({ id, err: err.message }, "waiting for signatures");
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
    const p = this.pending.get(id) ?? {
      message: s.message,
      signatures: new Map(),
      nextAttemptAt: 0,
      backoff: this.options.backoffMs ?? 1_000,
      nextAskAt: 0,
      askBackoff: this.options.backoffMs ?? 1_000,
    };
    p.signatures.set(signer.toLowerCase(), { signature: s.signature as Hex, setVersion: s.setVersion });
    this.pending.set(id, p);
  }

  private async deliver(id: Hex | string, p: Pending): Promise<void> {
    const inbox = this.inboxes.get(Number(p.message.dstChainId))!;
    const read = <F extends "messageStatus" | "setVersion" | "threshold">(
      functionName: F,
      args?: readonly [Hex],
    ) =>
      inbox.ctx.publicClient.readContract({
        address: inbox.address,
        abi: messageInboxAbi,
        functionName,
        ...(args ? { args } : {}),
      } as never) as Promise<F extends "messageStatus" ? number : F extends "setVersion" ? number : bigint>;
    const status = await read("messageStatus", [id as Hex]);
    if (status === STATUS.Executed) {
      this.finish(id);
      return;
    }
    if (status === STATUS.Failed) {
      await this.send(inbox, "retry", [p.message]);
      if ((await read("messageStatus", [id as Hex])) === STATUS.Executed) this.finish(id);
      else throw new Error("handler still failing");
      return;
    }
    const [version, threshold] = await Promise.all([read("setVersion"), read("threshold")]);
    const current: SignedBy[] = [...p.signatures]
      .filter(([, s]) => s.setVersion === version)
      .map(([signer, s]) => ({ signer: signer as Address, signature: s.signature }));
    // Short of the threshold: ask each attester directly (after a rotation this makes them sign
    // for the new set version), at most on a backoff schedule so a stuck message costs little.
    if (current.length < Number(threshold) && Date.now() >= p.nextAskAt) {
      p.nextAskAt = Date.now() + p.askBackoff;
      p.askBackoff = Math.min(p.askBackoff * 2, this.options.maxBackoffMs ?? 30_000);
      await this.askForSignatures(id, version);
    }
    const chosen = pickSignatures(
      [...p.signatures]
        .filter(([, s]) => s.setVersion === version)
        .map(([signer, s]) => ({ signer: signer as Address, signature: s.signature })),
      Number(threshold),
    );
    if (!chosen) {
      const have = [...p.signatures.values()].filter((s) => s.setVersion === version).length;
      throw new WaitingForSignatures(`only ${have} of ${threshold} signatures so far`);
    }
    await this.send(inbox, "receiveMessage", [p.message, version, chosen]);
    const after = await read("messageStatus", [id as Hex]);
    if (after === STATUS.Executed) this.finish(id);
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
