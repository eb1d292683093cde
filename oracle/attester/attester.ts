/**
 * The attester: follows each source chain up to its final block (its `finalized` block, or a
 * configured depth under the head for a chain without the tag: ../finality.ts), turns the events
 * it watches into messages, signs each for its destination inbox (EIP-712) and records it in its
 * journal before anyone can fetch the signature.
 */
import type { Address, Hex, LocalAccount } from "viem";
import type { Logger } from "pino";
import { messageInboxAbi } from "../../protocol/generated/abis";
import { type Message, attestationTypedData, messageId } from "../../protocol/message";
import { type Finality, describeFinality, finalBlock } from "../finality";
import { type Inbox, inboxesByChain } from "../inbox";
import { ConflictingMessageError, type Journal, type SignedEntry } from "../signing/journal";
import type { Watch } from "./sources";

export type AttesterOptions = {
  account: LocalAccount;
  journal: Journal;
  watches: Watch[];
  /** The destination inboxes, one per chain. */
  inboxes: Inbox[];
  /** When a block of each source chain (by chain id) is final enough to sign its logs. */
  finality: Map<number, Finality>;
  /** Where to start reading each source chain when the journal has no cursor. */
  startBlocks: Map<number, bigint>;
  /** Most blocks read per request. */
  maxRange?: bigint;
  log: Logger;
};

/**
 * This attester is not a member of the destination inbox's current set: its signature would be
 * refused there (`NotAttester`), and a relayer holding it could only waste gas, so it signs nothing.
 */
export class NotInAttesterSetError extends Error {
  override name = "NotInAttesterSetError";
  constructor(
    readonly attester: Address,
    readonly chainId: number,
    readonly setVersion: number,
  ) {
    super(
      `attester ${attester} is not in the current attester set (version ${setVersion}) of chain ${chainId}; it signs nothing for it`,
    );
  }
}

export class Attester {
  private readonly inboxes: Map<number, Inbox>;
  /** Membership by "chain:version" (a version's members never change). */
  private readonly membership = new Map<string, boolean>();
  /** Chains whose `finalized` block was seen to be the head (warned once). */
  private readonly headFinalized = new Set<number>();

  constructor(readonly options: AttesterOptions) {
    this.inboxes = inboxesByChain(options.inboxes);
  }

  get address(): Address {
    return this.options.account.address;
  }

  /** Reads every source chain once up to its finalized head; returns the messages signed. */
  async poll(): Promise<SignedEntry[]> {
    const signed: SignedEntry[] = [];
    const bySource = new Map<number, Watch[]>();
    for (const w of this.options.watches)
      bySource.set(w.source.chain.id, [...(bySource.get(w.source.chain.id) ?? []), w]);
    for (const [chainId, watches] of bySource) signed.push(...(await this.pollChain(chainId, watches)));
    return signed;
  }

  private async pollChain(chainId: number, watches: Watch[]): Promise<SignedEntry[]> {
    const { journal, log } = this.options;
    const client = watches[0]!.source.publicClient;
    const finality = this.options.finality.get(chainId);
    if (!finality) throw new Error(`no finality configured for source chain ${chainId}`);
    const { final: safe, head } = await finalBlock(client, finality);
    if (finality.kind === "finalized" && safe === head && head > 0n && !this.headFinalized.has(chainId)) {
      this.headFinalized.add(chainId);
      log.warn(
        { chainId, head },
        "the chain reports its head as finalized (a development chain such as Hardhat): events are signed at depth 0",
      );
    }
    const cursor = journal.cursor(chainId) ?? (this.options.startBlocks.get(chainId) ?? 0n) - 1n;
    if (safe <= cursor) return [];
    const from = cursor + 1n;
    const to =
      safe < from + (this.options.maxRange ?? 2_000n) - 1n
        ? safe
        : from + (this.options.maxRange ?? 2_000n) - 1n;

    const addresses = watches.flatMap((w) => w.addresses);
    const logs = await client.getLogs({ address: addresses, fromBlock: from, toBlock: to });
    const messages: Message[] = [];
    for (const w of watches) {
      const mine = logs.filter((l) => w.addresses.some((a) => a.toLowerCase() === l.address.toLowerCase()));
      messages.push(
        ...(await w.toMessages(mine, (skipped) =>
          // Loud: this attester will never sign the event (docs/decisions.md "Finality").
          log.error(
            { chainId, finality: describeFinality(finality), ...skipped },
            "event skipped: the node no longer has the state of its block (an archive node would)",
          ),
        )),
      );
    }
    messages.sort((a, b) => (a.nonce < b.nonce ? -1 : a.nonce > b.nonce ? 1 : 0));
    const signed: SignedEntry[] = [];
    // Every message of one round goes to the same destination(s): read each set version once.
    const versions = new Map<number, number>();
    const outside = new Set<number>();
    for (const m of messages) {
      const dst = Number(m.dstChainId);
      if (!versions.has(dst)) versions.set(dst, await this.setVersionOf(dst));
      try {
        signed.push(await this.sign(m, versions.get(dst)));
      } catch (err) {
        if (err instanceof NotInAttesterSetError) {
          outside.add(dst);
          continue;
        }
        // Another message was signed under this (source, nonce) before (a reorg below the final
        // block: a finality depth too small, or a finality failure of the chain): never sign the second one, but keep following the chain.
        if (!(err instanceof ConflictingMessageError)) throw err;
        log.error({ chainId, nonce: m.nonce, err: err.message }, "equivocation refused");
      }
    }
    for (const dst of outside)
      log.warn(
        { chainId: dst, setVersion: versions.get(dst) },
        "not in the destination's attester set: signing nothing for it",
      );
    journal.setCursor(chainId, to);
    if (signed.length > 0) log.info({ chainId, from, to, signed: signed.length }, "signed messages");
    return signed;
  }

  /** The destination inbox's current attester-set version. */
  private async setVersionOf(chainId: number): Promise<number> {
    const inbox = this.inboxes.get(chainId);
    if (!inbox) throw new Error(`no inbox known for chain ${chainId}`);
    return inbox.ctx.publicClient.readContract({
      address: inbox.address,
      abi: messageInboxAbi,
      functionName: "setVersion",
    });
  }

  /** Whether this attester belongs to set `version` of the inbox on `chainId` (read once per version). */
  private async isMember(chainId: number, version: number): Promise<boolean> {
    const key = `${chainId}:${version}`;
    const known = this.membership.get(key);
    if (known !== undefined) return known;
    const inbox = this.inboxes.get(chainId);
    if (!inbox) throw new Error(`no inbox known for chain ${chainId}`);
    const read = () =>
      inbox.ctx.publicClient.readContract({
        address: inbox.address,
        abi: messageInboxAbi,
        functionName: "isAttester",
        args: [this.address],
      });
    const member = await read();
    // A rotation between reading the version and the membership: decide on the next call.
    if ((await this.setVersionOf(chainId)) !== version) return false;
    this.membership.set(key, member);
    return member;
  }

  /**
   * Signs `m` for its destination inbox's current attester set (once per set version). Refuses
   * (`NotInAttesterSetError`) when this attester is not in that set, or the version asked for is
   * not the current one: a signature the inbox would refuse only helps whoever wants to stall a
   * relayer.
   */
  async sign(m: Message, setVersion?: number): Promise<SignedEntry> {
    const dst = Number(m.dstChainId);
    const inbox = this.inboxes.get(dst);
    if (!inbox) throw new Error(`no inbox known for chain ${m.dstChainId}`);
    const version = setVersion ?? (await this.setVersionOf(dst));
    if (!(await this.isMember(dst, version))) throw new NotInAttesterSetError(this.address, dst, version);
    const id = messageId(m);
    const existing = this.options.journal.byMessageId(id);
    if (existing && existing.setVersion === version) return existing;
    const signature: Hex = await this.options.account.signTypedData(
      attestationTypedData(m, version, inbox.address),
    );
    return this.options.journal.recordSigned(id, m, version, signature);
  }
}
