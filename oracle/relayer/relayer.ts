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
import type { Account, Address, Chain, Hex, PublicClient, Transport, WalletClient } from "viem";
import type { Logger } from "pino";
import { z } from "zod";
import { messageInboxAbi } from "../../sdk/generated/abis";
import {
  type Message,
  type SignedBy,
  messageId,
  messageJsonSchema,
  pickSignatures,
  recoverAttester,
} from "../messages/message";

export type RelayTarget = {
  chainId: number;
  inbox: Address;
  client: PublicClient<Transport, Chain>;
  wallet: WalletClient<Transport, Chain, Account>;
};

export type RelayerOptions = {
  attesterUrls: string[];
  targets: Map<number, RelayTarget>;
  stateFile: string;
  log: Logger;
  /** First retry delay of a failed message; doubles up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  fetchTimeoutMs?: number;
};

const signedSchema = z.object({
  seq: z.number().int(),
  id: z.string(),
  message: messageJsonSchema,
  signer: z.string(),
  setVersion: z.number().int(),
  signature: z.string(),
});
const listSchema = z.object({ messages: z.array(signedSchema) });
const sigsSchema = z.object({ signatures: z.array(signedSchema) });
const stateSchema = z.object({ done: z.array(z.string()) });

type Pending = {
  message: Message;
  /** signer (lowercase) → signature, for one set version. */
  signatures: Map<string, { signature: Hex; setVersion: number }>;
  nextAttemptAt: number;
  backoff: number;
};

const STATUS = { None: 0, Failed: 1, Executed: 2 } as const;
const DELIVERY_GAS = 1_000_000n;

export class Relayer {
  private readonly cursors: Record<string, number> = {};
  private readonly done = new Set<string>();
  private readonly pending = new Map<string, Pending>();

  constructor(readonly options: RelayerOptions) {
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

  /** One round: list new signatures, then try to deliver everything pending. */
  async poll(): Promise<void> {
    await Promise.all(this.options.attesterUrls.map((url) => this.collect(url)));
    this.save();
    // Deliveries run concurrently (the account's nonce manager orders the transactions), so a
    // backlog costs one block on slow chains, not one block per message.
    const due = [...this.pending].filter(([, p]) => Date.now() >= p.nextAttemptAt);
    await Promise.all(
      due.map(async ([id, p]) => {
        try {
          await this.deliver(id, p);
        } catch (err) {
          p.nextAttemptAt = Date.now() + p.backoff;
          p.backoff = Math.min(p.backoff * 2, this.options.maxBackoffMs ?? 30_000);
          this.options.log.warn(
            { id, err: (err as Error).message.split("\n")[0] },
            "delivery failed; will retry",
          );
        }
      }),
    );
    this.save();
  }

  private async collect(url: string): Promise<void> {
    let body;
    try {
      body = listSchema.parse(
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
  private async addSignature(s: z.infer<typeof signedSchema>): Promise<void> {
    const id = messageId(s.message);
    if (id.toLowerCase() !== s.id.toLowerCase()) return;
    if (this.done.has(id)) return;
    const target = this.options.targets.get(Number(s.message.dstChainId));
    if (!target) return;
    let signer: Address;
    try {
      signer = await recoverAttester(s.message, s.setVersion, target.inbox, s.signature as Hex);
    } catch {
      return;
    }
    if (signer.toLowerCase() !== s.signer.toLowerCase()) return;
    const p = this.pending.get(id) ?? {
      message: s.message,
      signatures: new Map(),
      nextAttemptAt: 0,
      backoff: this.options.backoffMs ?? 1_000,
    };
    p.signatures.set(signer.toLowerCase(), { signature: s.signature as Hex, setVersion: s.setVersion });
    this.pending.set(id, p);
  }

  private async deliver(id: Hex | string, p: Pending): Promise<void> {
    const target = this.options.targets.get(Number(p.message.dstChainId))!;
    const read = <F extends "messageStatus" | "setVersion" | "threshold">(
      functionName: F,
      args?: readonly [Hex],
    ) =>
      target.client.readContract({
        address: target.inbox,
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
      await this.send(target, "retry", [p.message]);
      if ((await read("messageStatus", [id as Hex])) === STATUS.Executed) this.finish(id);
      else throw new Error("handler still failing");
      return;
    }
    const [version, threshold] = await Promise.all([read("setVersion"), read("threshold")]);
    const current: SignedBy[] = [...p.signatures]
      .filter(([, s]) => s.setVersion === version)
      .map(([signer, s]) => ({ signer: signer as Address, signature: s.signature }));
    if (current.length < Number(threshold)) await this.askForSignatures(id, version);
    const chosen = pickSignatures(
      [...p.signatures]
        .filter(([, s]) => s.setVersion === version)
        .map(([signer, s]) => ({ signer: signer as Address, signature: s.signature })),
      Number(threshold),
    );
    if (!chosen) throw new Error(`only ${current.length} of ${threshold} signatures so far`);
    await this.send(target, "receiveMessage", [p.message, version, chosen]);
    const after = await read("messageStatus", [id as Hex]);
    if (after === STATUS.Executed) this.finish(id);
    else throw new Error("delivered, but the handler failed; it will be retried");
  }

  /** Asks every attester for its signature for the inbox's current set version. */
  private async askForSignatures(id: string, version: number): Promise<void> {
    await Promise.all(
      this.options.attesterUrls.map(async (url) => {
        try {
          const body = sigsSchema.parse(
            await this.fetchJson(`${url}/messages/${id}/signatures?setVersion=${version}`),
          );
          for (const s of body.signatures) await this.addSignature(s);
        } catch {
          // Down or not yet synced: another attester may have it, or the next round will.
        }
      }),
    );
  }

  private async send(
    target: RelayTarget,
    functionName: "receiveMessage" | "retry",
    args: readonly unknown[],
  ) {
    const { request } = await target.client.simulateContract({
      account: target.wallet.account,
      address: target.inbox,
      abi: messageInboxAbi,
      functionName,
      args,
    } as never);
    // An explicit limit: estimating a delivery whose handler reverts (e.g. a rate-limited
    // transfer that must be stored as failed) fails on Hardhat, and the inbox needs the handler's
    // whole gas limit available anyway. Unused gas is not charged.
    const hash = await target.wallet.writeContract({ ...(request as object), gas: DELIVERY_GAS } as never);
    const receipt = await target.client.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`${functionName} ${hash} reverted`);
    this.options.log.info({ functionName, hash, chainId: target.chainId }, "submitted");
  }

  private finish(id: string): void {
    this.pending.delete(id);
    this.done.add(id);
    this.options.log.info({ id }, "message executed");
  }
}
