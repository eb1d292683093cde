/**
 * The attester's epoch reporter (docs/architecture.md §3–4, docs/protocol.md "Epoch reports"). Once the
 * BasedAI chain's final block (../finality.ts) is past the end of the epoch Consensus expects next
 * (`nextEpoch`), it reads that epoch's snapshot (./snapshot.ts), runs the reward computation with
 * the state the previous epoch carried, keeps the result (./store.ts) and signs the EPOCH_REPORT
 * with the attester's key, through the attester's journal, so the relayer finds it on the
 * attester's `/messages` like any other message.
 *
 * - One report per epoch: the result is written to disk before it is signed and only ever signed
 *   from there, and the journal refuses a second payload under the same (chain, nonce).
 * - The carried state of epoch e − 1 comes from its file; without it (a new state directory, an
 *   attester that was down while others reported) the epochs before are computed again from epoch
 *   0 (or from the newest file there is), in order, and kept.
 * - An epoch the computation refuses (it throws: e.g. no Brain earns) is retried at the next poll
 *   with a warning; the report cannot go out before it does. When catching up on epochs the chain
 *   already accepted, such an epoch hands the carried state on unchanged (every attester does the
 *   same, so they still agree) and the disagreement with the accepted report is logged.
 * - Challenges: each poll reads the `ReportChallenged` logs of the final blocks (only the last
 *   `challengeTimeout` of them can hold one still open), computes each challenged epoch again from
 *   the chain and signs the result as the next revision: the same root re-affirms the report (the
 *   bond burns), another one replaces it. The revision replaces the epoch's file, so it is what the
 *   attester serves and what a restart signs again. A challenge this attester cannot answer (the
 *   computation refuses the epoch) is left to lapse: the report then stands as it was.
 */
import { BlockNotFoundError, type Hex } from "viem";
import type { Logger } from "pino";
import { consensusAbi } from "../../protocol/generated/abis";
import type { CarryState, EpochResult, EpochSnapshot } from "../consensus/epoch-types";
import { EMPTY_CARRY, computeEpoch } from "../consensus/rewards";
import type { Message } from "../../protocol/message";
import { type Finality, finalBlock } from "../finality";
import { ConflictingMessageError, type SignedEntry } from "../signing/journal";
import { EconomyLogs, type SnapshotSource, readEpochSnapshot } from "./snapshot";
import { type EpochStore, type StoredEpoch, revisedEpoch, storedEpochOf } from "./store";

/** Consensus.Status.Challenged. */
const CHALLENGED = 2;

export type ComputeEpoch = (snapshot: EpochSnapshot, carry: CarryState) => Promise<EpochResult>;

/** How epochs are computed from one chain: shared by the reporter and anyone recomputing a report. */
export type EpochSource = SnapshotSource & {
  /** The BasedAI chain's id (reports are messages from it to itself). */
  chainId: bigint;
  /** The reward computation (default: oracle/consensus/rewards.ts). */
  compute?: ComputeEpoch;
};

/** An epoch as read from the chain: its snapshot and its last block (which chain it comes from). */
export type ReadEpoch = { snapshot: EpochSnapshot; lastBlock: { number: bigint; hash: Hex } };

/** Reads epoch `epoch`: the snapshot and the hash of its last block. */
export async function readEpoch(source: EpochSource, epoch: bigint): Promise<ReadEpoch> {
  const snapshot = await readEpochSnapshot(source, epoch);
  const block = await source.client.getBlock({ blockNumber: snapshot.endBlock - 1n });
  return { snapshot, lastBlock: { number: block.number, hash: block.hash } };
}

/**
 * Computes a read epoch on `carry`. No I/O: what it rejects with is the computation refusing these
 * inputs, the same for every attester (never a network failure, which must not change a carry).
 */
export async function computeReadEpoch(
  source: EpochSource,
  read: ReadEpoch,
  carry: CarryState,
): Promise<StoredEpoch> {
  const result = await (source.compute ?? computeEpoch)(read.snapshot, carry);
  if (result.epoch !== read.snapshot.epoch) {
    throw new Error(`the computation answered for epoch ${result.epoch}, not ${read.snapshot.epoch}`);
  }
  return storedEpochOf(source.chainId, result, read.lastBlock);
}

/** Reads epoch `epoch` from the chain and computes it on `carry`. */
export async function computeEpochFromChain(
  source: EpochSource,
  epoch: bigint,
  carry: CarryState,
): Promise<StoredEpoch> {
  return computeReadEpoch(source, await readEpoch(source, epoch), carry);
}

/** The state an epoch the computation refused hands on: the previous one, unchanged. */
export const passThrough = (carry: CarryState, epoch: bigint): CarryState => ({
  epoch,
  brains: carry.brains,
});

/**
 * The carried state after epochs `from` … `to − 1`, starting from `carry` (the state after epoch
 * `from − 1`): each epoch is computed in order and handed to `onEpoch`; an epoch the computation
 * refuses hands its state on unchanged and is reported to `onRefused`. A failed read throws.
 */
export async function replayCarry(
  source: EpochSource,
  from: bigint,
  to: bigint,
  carry: CarryState,
  hooks: {
    onEpoch?: (e: StoredEpoch) => Promise<void> | void;
    onRefused?: (epoch: bigint, err: Error) => void;
  } = {},
): Promise<CarryState> {
  for (let epoch = from; epoch < to; epoch++) {
    const read = await readEpoch(source, epoch);
    let stored: StoredEpoch;
    try {
      stored = await computeReadEpoch(source, read, carry);
    } catch (err) {
      hooks.onRefused?.(epoch, err as Error);
      carry = passThrough(carry, epoch);
      continue;
    }
    await hooks.onEpoch?.(stored);
    carry = stored.carry;
  }
  return carry;
}

export type EpochReporterOptions = {
  /** Signs a message through the attester's journal (Attester.sign). */
  sign: (m: Message) => Promise<SignedEntry>;
  store: EpochStore;
  source: EpochSource;
  /** When a block of the BasedAI chain is final: the epoch's last block must be before its report is computed. */
  finality: Finality;
  log: Logger;
};

export class EpochReporter {
  /** The epoch whose report this process signed last (nothing more to do until it is accepted). */
  private signed?: bigint;
  /** An epoch the computation refused, as read, kept for the retries (it cannot change). */
  private refused?: { epoch: bigint; read: ReadEpoch; error: string };
  private bounds?: { genesis: bigint; tempo: bigint };
  private source: EpochSource;
  /** The last final block whose challenges were read. */
  private challengesReadTo?: bigint;
  /** Epochs with a challenge seen and not yet found settled or lapsed. */
  private readonly challenged = new Set<bigint>();
  /** Revisions signed by this process, as `epoch:revision`. */
  private readonly answered = new Set<string>();

  constructor(readonly options: EpochReporterOptions) {
    this.source = options.source;
  }

  /** Epoch `epoch`'s end (exclusive), from Consensus' immutable genesis and tempo. */
  private async endOf(epoch: bigint): Promise<bigint> {
    if (!this.bounds) {
      const read = (functionName: "genesisBlock" | "tempo") =>
        this.source.client.readContract({
          address: this.source.contracts.Consensus,
          abi: consensusAbi,
          functionName,
        });
      const [genesis, tempo] = await Promise.all([read("genesisBlock"), read("tempo")]);
      this.bounds = { genesis, tempo };
    }
    return this.bounds.genesis + (epoch + 1n) * this.bounds.tempo;
  }

  /**
   * One round: computes and signs the report of the epoch Consensus expects next once it is final
   * enough. Returns the signed entry when this round signed one.
   */
  async poll(): Promise<SignedEntry | undefined> {
    const { client, contracts } = this.source;
    if (!this.options.store.ready) await this.checkStore();
    const [{ final }, next] = await Promise.all([
      finalBlock(client, this.options.finality),
      client.readContract({ address: contracts.Consensus, abi: consensusAbi, functionName: "nextEpoch" }),
    ]);
    await this.answerChallenges(final);
    if (this.signed === next) return undefined;
    if (final < (await this.endOf(next))) return undefined;

    const stored = this.options.store.read(next) ?? (await this.computeNext(next));
    if (!stored) return undefined;
    try {
      const entry = await this.options.sign(stored.message);
      this.signed = next;
      this.options.log.info(
        {
          epoch: next,
          id: stored.messageId,
          rewardsRoot: stored.report.rewardsRoot,
          inputsHash: stored.report.inputsHash,
          brains: stored.report.brainIds.length,
          accounts: stored.rewardsTree.length,
        },
        "signed epoch report",
      );
      return entry;
    } catch (err) {
      if (!(err instanceof ConflictingMessageError)) throw err;
      // A different payload for this epoch was signed before (a reorganization below the final
      // block, or a state directory that lost its epochs): never sign a second one.
      this.signed = next;
      this.options.log.error({ epoch: next, err: err.message }, "epoch report equivocation refused");
      return undefined;
    }
  }

  /**
   * Signs a revision for every open challenge seen in the final blocks. A failure here is logged
   * and retried at the next poll: it must never hold back the next epoch's report.
   */
  private async answerChallenges(final: bigint): Promise<void> {
    const { client, contracts } = this.source;
    const consensus = { address: contracts.Consensus, abi: consensusAbi } as const;
    try {
      // Read every poll: governance may change it (a challenge keeps the lapse block it started with).
      const timeout = await client.readContract({ ...consensus, functionName: "challengeTimeout" });
      // A challenge older than the timeout has lapsed: only the last `timeout` final blocks can hold
      // an open one, however long this attester was down.
      const earliest = final > timeout ? final - timeout : 0n;
      const from =
        this.challengesReadTo === undefined || this.challengesReadTo < earliest
          ? earliest
          : this.challengesReadTo + 1n;
      if (from <= final) {
        const events = await client.getContractEvents({
          ...consensus,
          eventName: "ReportChallenged",
          fromBlock: from,
          toBlock: final,
          strict: true,
        });
        for (const e of events) this.challenged.add(e.args.epoch);
        this.challengesReadTo = final;
      }
      const head = this.challenged.size === 0 ? 0n : await client.getBlockNumber({ cacheTime: 0 });
      for (const epoch of [...this.challenged].sort((a, b) => (a < b ? -1 : 1))) {
        const report = await client.readContract({ ...consensus, functionName: "report", args: [epoch] });
        if (report.status !== CHALLENGED || head >= report.finalizesAt) {
          this.challenged.delete(epoch);
          continue;
        }
        const revision = report.revision + 1;
        const key = `${epoch}:${revision}`;
        if (this.answered.has(key)) continue;
        const stored = await this.revisionOf(epoch, revision, report.rewardsRoot);
        if (!stored) continue;
        this.answered.add(key);
        try {
          await this.options.sign(stored.message);
        } catch (err) {
          if (!(err instanceof ConflictingMessageError)) {
            this.answered.delete(key);
            throw err;
          }
          this.options.log.error({ epoch, revision, err: err.message }, "revision equivocation refused");
          continue;
        }
        this.options.log.info(
          {
            epoch,
            revision,
            id: stored.messageId,
            rewardsRoot: stored.report.rewardsRoot,
            reaffirmed: stored.report.rewardsRoot.toLowerCase() === report.rewardsRoot.toLowerCase(),
            upholdsChallenge: stored.report.rewardsRoot.toLowerCase() === report.challengedRoot.toLowerCase(),
            lapsesAt: report.finalizesAt,
          },
          "signed a revision answering a challenge",
        );
      }
    } catch (err) {
      this.options.log.warn(
        { err: (err as Error).message },
        "answering challenges failed; retrying at the next poll",
      );
    }
  }

  /**
   * Epoch `epoch` computed again from the chain, as revision `revision` of its report, and kept; the
   * stored one if this process already made that revision (a restart). Undefined if the
   * computation refuses the epoch.
   */
  private async revisionOf(
    epoch: bigint,
    revision: number,
    acceptedRoot: Hex,
  ): Promise<StoredEpoch | undefined> {
    const { store, log } = this.options;
    const stored = store.read(epoch);
    if (stored?.report.revision === revision) return stored;
    const carry = await this.carryBefore(epoch);
    // The forward-only log cache has gone past this epoch: read it with a fresh one, for this once.
    const source = this.source.logs.canRead((await this.endOf(epoch)) - 1n)
      ? this.source
      : {
          ...this.source,
          logs: new EconomyLogs(this.source.client, this.source.contracts, this.source.logs.startBlock),
        };
    let fresh: StoredEpoch;
    try {
      fresh = await computeEpochFromChain(source, epoch, carry);
    } catch (err) {
      log.warn(
        { epoch, err: (err as Error).message },
        "a challenged epoch cannot be computed again; without a revision its report stands once the challenge lapses",
      );
      return undefined;
    }
    if (fresh.report.rewardsRoot.toLowerCase() !== acceptedRoot.toLowerCase()) {
      log.warn(
        { epoch, accepted: acceptedRoot, computed: fresh.report.rewardsRoot },
        "the challenged report differs from this epoch computed again: the revision replaces it",
      );
    }
    const revised = revisedEpoch(this.source.chainId, fresh, revision);
    store.revise(revised);
    return revised;
  }

  /** Computes and keeps epoch `epoch` (the one Consensus expects), or undefined if it is refused. */
  private async computeNext(epoch: bigint): Promise<StoredEpoch | undefined> {
    const carry = await this.carryBefore(epoch);
    const read = this.refused?.epoch === epoch ? this.refused.read : await readEpoch(this.source, epoch);
    let stored: StoredEpoch;
    try {
      stored = await computeReadEpoch(this.source, read, carry);
    } catch (err) {
      const error = (err as Error).message;
      // Warn once per epoch and reason; the retries are quiet.
      if (this.refused?.epoch !== epoch || this.refused.error !== error) {
        this.options.log.warn({ epoch, err: error }, "epoch computation refused; retrying at the next poll");
      }
      this.refused = { epoch, read, error };
      return undefined;
    }
    this.refused = undefined;
    this.options.store.write(stored);
    return stored;
  }

  /** The state epoch `epoch` starts from: epoch − 1's, computed again (and kept) if missing. */
  private async carryBefore(epoch: bigint): Promise<CarryState> {
    const { store, log } = this.options;
    if (epoch === 0n) return EMPTY_CARRY;
    const previous = store.read(epoch - 1n);
    if (previous) return previous.carry;
    const base = store
      .epochs()
      .filter((e) => e < epoch)
      .at(-1);
    const from = base === undefined ? 0n : base + 1n;
    log.info({ from, to: epoch - 1n }, "computing the carried state of earlier epochs again");
    // The log cache only goes forward: start a fresh one for a walk that goes back.
    if (!this.source.logs.canRead((await this.endOf(from)) - 1n)) {
      this.source = {
        ...this.source,
        logs: new EconomyLogs(this.source.client, this.source.contracts, this.source.logs.startBlock),
      };
    }
    return replayCarry(this.source, from, epoch, base === undefined ? EMPTY_CARRY : store.read(base)!.carry, {
      onEpoch: async (e) => {
        store.write(e);
        await this.compareWithChain(e);
      },
      onRefused: (e, err) =>
        log.warn(
          { epoch: e, err: err.message },
          "earlier epoch refused by the computation; its carried state is passed on",
        ),
    });
  }

  /** Logs when the chain accepted a different report for an epoch computed again. */
  private async compareWithChain(e: StoredEpoch): Promise<void> {
    const accepted = await this.source.client.readContract({
      address: this.source.contracts.Consensus,
      abi: consensusAbi,
      functionName: "report",
      args: [e.epoch],
    });
    if (accepted.status !== 0 && accepted.rewardsRoot.toLowerCase() !== e.report.rewardsRoot.toLowerCase()) {
      this.options.log.warn(
        { epoch: e.epoch, accepted: accepted.rewardsRoot as Hex, computed: e.report.rewardsRoot },
        "the chain accepted a different report for this epoch",
      );
    }
  }

  /**
   * Drops stored epochs computed from another chain (a devnet restarted in the same directory) or
   * a reorganized one: the newest file whose last block is still on the chain vouches for every
   * older file, since a block hash commits to all blocks before it.
   */
  private async checkStore(): Promise<void> {
    const { store, log } = this.options;
    for (let latest = store.latest(); latest !== undefined; latest = store.latest()) {
      let stored: StoredEpoch | undefined;
      try {
        stored = store.read(latest);
      } catch (err) {
        log.error({ epoch: latest, err: (err as Error).message }, "unreadable epoch file dropped");
      }
      if (stored) {
        const block = await this.source.client
          .getBlock({ blockNumber: stored.lastBlock })
          .catch((err: unknown) => {
            if (err instanceof BlockNotFoundError) return undefined;
            throw err;
          });
        if (block?.hash === stored.lastBlockHash) break;
        log.warn({ epoch: latest, lastBlock: stored.lastBlock }, "epoch computed from another chain dropped");
      }
      store.drop(latest);
    }
    store.markChecked();
  }
}
