/**
 * An attester's computed epochs, one JSON file per epoch under its state directory
 * (`epochs-<attester>/epoch-<n>.json`, bigints as decimal strings): the report it signs, the
 * rewards and pruning trees (StandardMerkleTree dumps, served to claimants and registrants), the
 * reward lines and the carried state the next epoch starts from. A file is written whole (temporary
 * file, fsync, rename) before the report is signed, and a report is only ever signed from its file,
 * so a restart signs the same bytes again and never a second payload for the same epoch and
 * revision. A revision (the answer to a challenge) replaces its epoch's file the same way.
 *
 * Each file also records the hash of the epoch's last block: the chain it was computed from. The
 * reporter checks the newest file against the chain when it starts (a block hash commits to every
 * block before it) and drops the files of another chain (a devnet restarted in the same directory)
 * or of a reorganization deeper than the finality depth.
 */
import fs from "node:fs";
import path from "node:path";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { type Hex, zeroHash } from "viem";
import { z } from "zod";
import type { BrainCarry, CarryState, EpochResult, RewardLine } from "../consensus/epoch-types";
import {
  type PruningLeaf,
  type PruningTree,
  type ReportPayload,
  type RewardsTree,
  encodeReportPayload,
  reportNonce,
} from "../../protocol/report";
import { type Message, MessageKind, messageId } from "../../protocol/message";
import { addressSchema, bytes32Schema, hexBytesSchema } from "../../protocol/schemas";

/** One computed epoch as the attester keeps and serves it. */
export type StoredEpoch = {
  epoch: bigint;
  /** The epoch's last block (endBlock − 1) and its hash: the chain this was computed from. */
  lastBlock: bigint;
  lastBlockHash: Hex;
  report: ReportPayload;
  /** The EPOCH_REPORT message of `report` and its id. */
  message: Message;
  messageId: Hex;
  rewardsTree: RewardsTree;
  /** Undefined when no Brain had a member (the report's pruning root is then zero). */
  pruningTree: PruningTree | undefined;
  lines: RewardLine[];
  brainStats: EpochResult["brainStats"];
  carry: CarryState;
};

/** The EPOCH_REPORT message of `report` (its nonce names the epoch and revision) on the BasedAI chain `chainId`. */
export function reportMessage(chainId: bigint, report: ReportPayload): Message {
  return {
    srcChainId: chainId,
    dstChainId: chainId,
    nonce: reportNonce(report.epoch, report.revision),
    kind: MessageKind.EPOCH_REPORT,
    payload: encodeReportPayload(report),
  };
}

/** What `computeEpoch` returned, as the report and the record to keep. */
export function storedEpochOf(
  chainId: bigint,
  result: EpochResult,
  lastBlock: { number: bigint; hash: Hex },
): StoredEpoch {
  const report: ReportPayload = {
    epoch: result.epoch,
    revision: 0,
    rewardsRoot: result.rewardsTree.root as Hex,
    pruningRoot: result.pruningRoot,
    inputsHash: result.inputsHash,
    brainIds: result.brainIds,
    brainTotals: result.brainTotals,
  };
  const message = reportMessage(chainId, report);
  return {
    epoch: result.epoch,
    lastBlock: lastBlock.number,
    lastBlockHash: lastBlock.hash,
    report,
    message,
    messageId: messageId(message),
    rewardsTree: result.rewardsTree,
    pruningTree: result.pruningTree,
    lines: result.lines,
    brainStats: result.brainStats,
    carry: result.carry,
  };
}

/**
 * Epoch `e` as revision `revision` of its report (the answer to a challenge): the same result under
 * the revision's number, nonce and message id.
 */
export function revisedEpoch(chainId: bigint, e: StoredEpoch, revision: number): StoredEpoch {
  const report: ReportPayload = { ...e.report, revision };
  const message = reportMessage(chainId, report);
  return { ...e, report, message, messageId: messageId(message) };
}

// ──────────────────────────────────────────── JSON ────────────────────────────────────────────

const uint = z.string().regex(/^\d+$/).transform(BigInt);
const treeDump = z.object({
  format: z.literal("standard-v1"),
  leafEncoding: z.array(z.string()),
  tree: z.array(bytes32Schema),
  values: z.array(z.object({ value: z.array(z.unknown()), treeIndex: z.number().int().nonnegative() })),
});
const u16Row = z.array(z.tuple([z.number().int(), z.number().int()]));

/** A carried state in JSON. */
const carryJsonSchema = z.object({
  epoch: z
    .string()
    .regex(/^-?\d+$/)
    .transform(BigInt),
  brains: z.record(
    z.string().regex(/^\d+$/),
    z.object({ bonds: z.array(u16Row), accounts: z.array(addressSchema), performance: z.number() }),
  ),
});

function carryOf(c: z.output<typeof carryJsonSchema>): CarryState {
  const brains: Record<number, BrainCarry> = {};
  for (const [id, b] of Object.entries(c.brains)) brains[Number(id)] = b;
  return { epoch: c.epoch, brains };
}

const fileSchema = z.object({
  version: z.literal(1),
  epoch: uint,
  lastBlock: uint,
  lastBlockHash: bytes32Schema,
  messageId: bytes32Schema,
  report: z.object({
    epoch: uint,
    revision: z.number().int().nonnegative(),
    rewardsRoot: bytes32Schema,
    pruningRoot: bytes32Schema,
    inputsHash: bytes32Schema,
    brainIds: z.array(z.number().int().nonnegative()),
    brainTotals: z.array(uint),
  }),
  message: z.object({
    srcChainId: uint,
    dstChainId: uint,
    nonce: uint,
    kind: z.number().int(),
    payload: hexBytesSchema,
  }),
  rewardsTree: treeDump,
  pruningTree: treeDump.nullable(),
  lines: z.array(
    z.object({
      account: addressSchema,
      amount: uint,
      brainId: z.number().int(),
      kind: z.enum(["owner", "miner", "validator-take", "delegator", "brain-staker"]),
    }),
  ),
  brainStats: z.array(
    z.object({ brainId: z.number().int(), performance: z.number(), weight: z.number(), total: uint }),
  ),
  carry: carryJsonSchema,
});

/** JSON with bigints as decimal strings. */
export const toJsonText = (value: unknown, indent?: number): string =>
  JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), indent);

function toFileJson(e: StoredEpoch): unknown {
  return {
    version: 1,
    epoch: e.epoch,
    lastBlock: e.lastBlock,
    lastBlockHash: e.lastBlockHash,
    messageId: e.messageId,
    report: e.report,
    message: e.message,
    rewardsTree: e.rewardsTree.dump(),
    pruningTree: e.pruningTree?.dump() ?? null,
    lines: e.lines,
    brainStats: e.brainStats,
    carry: e.carry,
  };
}

function fromFileJson(json: unknown, file: string): StoredEpoch {
  const f = fileSchema.parse(json);
  const rewardsTree = StandardMerkleTree.load(f.rewardsTree as never) as RewardsTree;
  const pruningTree =
    f.pruningTree === null
      ? undefined
      : (StandardMerkleTree.load(f.pruningTree as never) as StandardMerkleTree<PruningLeaf>);
  const message: Message = { ...f.message, kind: f.message.kind as Message["kind"] };
  // The file must say one thing: its trees, its report and its message agree with each other.
  if (
    rewardsTree.root !== f.report.rewardsRoot ||
    (pruningTree?.root ?? zeroHash) !== f.report.pruningRoot ||
    f.report.epoch !== f.epoch ||
    messageId(message) !== f.messageId ||
    message.payload !== encodeReportPayload(f.report)
  ) {
    throw new Error(`${file} is inconsistent (its trees, report and message disagree)`);
  }
  return {
    epoch: f.epoch,
    lastBlock: f.lastBlock,
    lastBlockHash: f.lastBlockHash,
    report: f.report,
    message,
    messageId: f.messageId,
    rewardsTree,
    pruningTree,
    lines: f.lines,
    brainStats: f.brainStats,
    carry: carryOf(f.carry),
  };
}

// ──────────────────────────────────────────── store ────────────────────────────────────────────

const FILE = /^epoch-(\d+)\.json$/;
/** Files parsed and kept in memory (the newest epochs are the ones asked for). */
const CACHE_SIZE = 8;

export class EpochStore {
  private readonly cache = new Map<bigint, StoredEpoch>();
  private checked = false;

  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }

  private file(epoch: bigint): string {
    return path.join(this.dir, `epoch-${epoch}.json`);
  }

  /** Every stored epoch, ascending. */
  epochs(): bigint[] {
    return fs
      .readdirSync(this.dir)
      .map((f) => FILE.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(BigInt)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The newest stored epoch, if any. */
  latest(): bigint | undefined {
    return this.epochs().at(-1);
  }

  /** Epoch `epoch` as stored, without the startup check (the reporter's own reads). */
  read(epoch: bigint): StoredEpoch | undefined {
    const cached = this.cache.get(epoch);
    if (cached) return cached;
    const file = this.file(epoch);
    if (!fs.existsSync(file)) return undefined;
    const stored = fromFileJson(JSON.parse(fs.readFileSync(file, "utf8")), file);
    this.remember(stored);
    return stored;
  }

  /** Epoch `epoch` for serving: only once the reporter checked the store against the chain. */
  get(epoch: bigint): StoredEpoch | undefined {
    return this.checked ? this.read(epoch) : undefined;
  }

  /** Whether the stored epochs were checked against the chain (they are served from then on). */
  get ready(): boolean {
    return this.checked;
  }

  markChecked(): void {
    this.checked = true;
  }

  /** Writes epoch `e` whole and durably (an existing file is never overwritten). */
  write(e: StoredEpoch): void {
    const file = this.file(e.epoch);
    if (fs.existsSync(file)) throw new Error(`${file} exists: an epoch is computed once`);
    this.writeFile(file, e);
  }

  /**
   * Replaces epoch `e.epoch` with a later revision of its report (what the attester signs to answer a
   * challenge, and serves from then on), whole and durably like `write`.
   */
  revise(e: StoredEpoch): void {
    const current = this.read(e.epoch);
    if (current && current.report.revision >= e.report.revision) {
      throw new Error(
        `epoch ${e.epoch} is stored at revision ${current.report.revision}: revision ${e.report.revision} does not replace it`,
      );
    }
    this.writeFile(this.file(e.epoch), e);
  }

  private writeFile(file: string, e: StoredEpoch): void {
    const tmp = `${file}.tmp`;
    const fd = fs.openSync(tmp, "w");
    try {
      fs.writeSync(fd, toJsonText(toFileJson(e)));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    this.remember(e);
  }

  /** Removes epoch `epoch` (computed from a chain that is not this one). */
  drop(epoch: bigint): void {
    this.cache.delete(epoch);
    fs.rmSync(this.file(epoch), { force: true });
  }

  private remember(e: StoredEpoch): void {
    this.cache.delete(e.epoch);
    this.cache.set(e.epoch, e);
    while (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
  }
}
