/**
 * The attester's GigaBrain reporter (docs/protocol.md "GigaBrain sets"): at each epoch boundary of
 * the BasedAI chain (Consensus `genesisBlock` + k·`tempo`), once the epoch's last block is final
 * (../finality.ts), it reads Staking at that block, computes the GigaBrain set (./set.ts) and signs
 * a GIGABRAIN_SET for Ethereum's GigaBrainSets when the set differs from the one Ethereum holds.
 *
 * Every attester must sign the same bytes, whenever it looks and whatever it signed before, so the
 * set's block is a function of the two chains' state alone: of the epochs whose last block is later
 * than the block of Ethereum's current set, the newest epoch at which the set last changed (its set
 * differs from the epoch before's, or the epoch before is not later than Ethereum's set). An attester
 * that is up at every boundary finds it at once (the newest final epoch); one that was down walks
 * back epoch by epoch until it finds it. Ethereum's set before any delivery counts as empty at block 0.
 *
 * - A set already on Ethereum, or an older one (StaleGigaBrainSet), is never signed.
 * - Candidate Brains are every id BrainRegistry ever mirrored (`BrainMirrored` logs): Staking keeps
 *   no list, and an id mirrored after the block reads no stake there.
 * - The journal refuses a second payload under one (source, nonce): after a reorganization below
 *   the final block nothing new is signed for that block (logged).
 */
import type { Address, Chain, PublicClient, Transport } from "viem";
import type { Logger } from "pino";
import { brainRegistryAbi, consensusAbi, gigaBrainSetsAbi, stakingAbi } from "../../protocol/generated/abis";
import { encodeGigaBrainSet, gigaBrainSetNonce, idsOfBitmap } from "../../protocol/gigabrain";
import { type Message, MessageKind, messageId } from "../../protocol/message";
import { type Finality, finalBlock } from "../finality";
import { ConflictingMessageError, type SignedEntry } from "../signing/journal";
import { gigaBrainSet, sameSet } from "./set";

type Client = PublicClient<Transport, Chain>;

export type GigaBrainReporterOptions = {
  /** Signs a message through the attester's journal (Attester.sign). */
  sign: (m: Message) => Promise<SignedEntry>;
  based: {
    client: Client;
    chainId: bigint;
    contracts: { BrainRegistry: Address; Staking: Address; Consensus: Address };
    /** The deployment's first block (no Brain was mirrored before it). */
    startBlock: bigint;
  };
  ethereum: { client: Client; chainId: bigint; gigaBrainSets: Address };
  /** When a BasedAI block is final: an epoch's last block must be before its set is taken. */
  finality: Finality;
  log: Logger;
  /** Most epochs walked back to find where the set changed (default 1,000). */
  maxEpochsBack?: number;
  /** Most concurrent reads (default 16). */
  concurrency?: number;
};

/** The set Ethereum holds now: its BasedAI block and ids (empty at block 0 before any set). */
export type HeldSet = { version: bigint; basedBlock: bigint; brainIds: number[] };

export class GigaBrainReporter {
  private bounds?: { genesis: bigint; tempo: bigint };
  /** Brain ids mirrored in blocks up to `idsReadTo`. */
  private readonly ids = new Set<number>();
  private idsReadTo: bigint;
  /** Sets read, by BasedAI block (final blocks only: they cannot change). */
  private readonly sets = new Map<bigint, number[]>();
  /** Ids of the messages this process signed. */
  private readonly signed = new Set<string>();

  constructor(readonly options: GigaBrainReporterOptions) {
    this.idsReadTo = options.based.startBlock - 1n;
  }

  /** The set GigaBrainSets holds now. */
  async held(): Promise<HeldSet> {
    const { client, gigaBrainSets } = this.options.ethereum;
    const sets = { address: gigaBrainSets, abi: gigaBrainSetsAbi } as const;
    const version = await client.readContract({ ...sets, functionName: "versionCount" });
    if (version === 0n) return { version, basedBlock: 0n, brainIds: [] };
    const [info, bitmap] = await Promise.all([
      client.readContract({ ...sets, functionName: "setInfo", args: [version] }),
      client.readContract({ ...sets, functionName: "bitmapOf", args: [version] }),
    ]);
    return { version, basedBlock: info.basedBlock, brainIds: idsOfBitmap(bitmap) };
  }

  /** The GigaBrain set at the end of BasedAI block `block` (read from Staking at that block). */
  async setAt(block: bigint): Promise<number[]> {
    const cached = this.sets.get(block);
    if (cached) return cached;
    await this.readIdsTo(block);
    const { client, contracts } = this.options.based;
    const staking = { address: contracts.Staking, abi: stakingAbi, blockNumber: block } as const;
    const total = await client.readContract({ ...staking, functionName: "totalStake" });
    const ids = [...this.ids].sort((a, b) => a - b);
    const stakes: { brainId: number; stake: bigint }[] = [];
    const width = this.options.concurrency ?? 16;
    for (let i = 0; i < ids.length; i += width) {
      const chunk = ids.slice(i, i + width);
      const read = await Promise.all(
        chunk.map((id) =>
          client.readContract({ ...staking, functionName: "brainStake", args: [BigInt(id)] }),
        ),
      );
      chunk.forEach((brainId, j) => stakes.push({ brainId, stake: read[j]! }));
    }
    const set = gigaBrainSet(stakes, total);
    this.sets.set(block, set);
    return set;
  }

  /**
   * One round: the message this attester signs now, if any (undefined: nothing to sign, or signed
   * before by this process). Throws on a failed read (the caller logs and retries).
   */
  async poll(): Promise<SignedEntry | undefined> {
    const message = await this.due();
    if (!message) return undefined;
    const id = messageId(message);
    if (this.signed.has(id)) return undefined;
    const { basedBlock, brainIds } = this.describe(message);
    try {
      const entry = await this.options.sign(message);
      this.signed.add(id);
      this.options.log.info({ basedBlock, brainIds, id }, "signed GigaBrain set");
      return entry;
    } catch (err) {
      if (!(err instanceof ConflictingMessageError)) throw err;
      this.signed.add(id);
      this.options.log.error({ basedBlock, err: err.message }, "GigaBrain set equivocation refused");
      return undefined;
    }
  }

  /** The GIGABRAIN_SET that is due now (see the file's comment), or undefined. */
  async due(): Promise<Message | undefined> {
    const { based, ethereum, log } = this.options;
    const { genesis, tempo } = await this.epochs();
    const { final } = await finalBlock(based.client, this.options.finality);
    // Newest epoch e whose last block genesis + (e + 1)·tempo − 1 is final.
    if (final + 1n < genesis + tempo) return undefined;
    let epoch = (final + 1n - genesis) / tempo - 1n;
    const lastBlock = (e: bigint) => genesis + (e + 1n) * tempo - 1n;

    const held = await this.held();
    for (const block of this.sets.keys()) if (block <= held.basedBlock) this.sets.delete(block);
    if (lastBlock(epoch) <= held.basedBlock) return undefined;
    const set = await this.setAt(lastBlock(epoch));
    if (sameSet(set, held.brainIds)) return undefined;

    // Walk back to the epoch at which this set began (after Ethereum's set).
    const maxBack = this.options.maxEpochsBack ?? 1_000;
    for (let walked = 0; ; walked++) {
      if (epoch === 0n || lastBlock(epoch - 1n) <= held.basedBlock) break;
      if (walked >= maxBack) {
        log.warn(
          { epoch, maxEpochsBack: maxBack, heldBasedBlock: held.basedBlock },
          "GigaBrain set unchanged for longer than the walk back: signing it at the oldest epoch walked (other attesters may choose another)",
        );
        break;
      }
      if (!sameSet(await this.setAt(lastBlock(epoch - 1n)), set)) break;
      epoch--;
    }
    const basedBlock = lastBlock(epoch);
    return {
      srcChainId: based.chainId,
      dstChainId: ethereum.chainId,
      nonce: gigaBrainSetNonce(basedBlock),
      kind: MessageKind.GIGABRAIN_SET,
      payload: encodeGigaBrainSet({ basedBlock, brainIds: set }),
    };
  }

  private describe(m: Message) {
    return { basedBlock: m.nonce >> 32n, brainIds: [...(this.sets.get(m.nonce >> 32n) ?? [])] };
  }

  /** Consensus' immutable genesis and tempo. */
  private async epochs(): Promise<{ genesis: bigint; tempo: bigint }> {
    if (!this.bounds) {
      const { client, contracts } = this.options.based;
      const read = (functionName: "genesisBlock" | "tempo") =>
        client.readContract({ address: contracts.Consensus, abi: consensusAbi, functionName });
      const [genesis, tempo] = await Promise.all([read("genesisBlock"), read("tempo")]);
      this.bounds = { genesis, tempo };
    }
    return this.bounds;
  }

  /** Reads the `BrainMirrored` logs of the blocks up to `block` not read yet. */
  private async readIdsTo(block: bigint): Promise<void> {
    const { client, contracts } = this.options.based;
    while (this.idsReadTo < block) {
      const from = this.idsReadTo + 1n;
      const to = block < from + 4_999n ? block : from + 4_999n;
      const events = await client.getContractEvents({
        address: contracts.BrainRegistry,
        abi: brainRegistryAbi,
        eventName: "BrainMirrored",
        fromBlock: from,
        toBlock: to,
        strict: true,
      });
      for (const e of events) this.ids.add(Number(e.args.brainId));
      this.idsReadTo = to;
    }
  }
}
