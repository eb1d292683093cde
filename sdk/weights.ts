/**
 * A validator's weights on the BasedAI chain (Consensus, docs/architecture.md §3): epochs of `tempo` blocks
 * from Emission's genesis block; weights are committed as a hash in one epoch and revealed in the
 * next (commit-reveal stops validators from copying each other's weights). A reveal is refused in
 * the commit's own epoch, after the next one, when it does not hash to the commitment, or when it
 * names a uid that is not one of the Brain's miners; a new commit replaces one not yet revealed,
 * so a validator reveals its previous commitment before it commits again.
 */
import { type Address, type Hash, type Hex, toHex } from "viem";
import { MAX_UIDS, MAX_WEIGHT, type Weight, commitHash, packWeights } from "../protocol/report";
import { economyContracts } from "./economy";
import { BasedError } from "./errors";
import { consensusAbi } from "../protocol/generated/abis";
import { getMembership } from "./network";
import { type ChainContext, signerOf } from "./chain";
import { genericRefusal, type OnStep, type Revert, sendContractCall, eventOf } from "./contract-call";

// ───────────────────────────────────────────── epochs ─────────────────────────────────────────────

/** Consensus's epoch clock: epoch `e` is blocks [genesisBlock + e·tempo, genesisBlock + (e+1)·tempo). */
export type EpochTiming = { genesisBlock: bigint; tempo: bigint };

/** Reads the epoch clock (both are immutables of Consensus: read once per process). */
export async function getEpochTiming(ctx: ChainContext): Promise<EpochTiming> {
  const read = { address: economyContracts(ctx).Consensus, abi: consensusAbi } as const;
  const [genesisBlock, tempo] = await Promise.all([
    ctx.publicClient.readContract({ ...read, functionName: "genesisBlock" }),
    ctx.publicClient.readContract({ ...read, functionName: "tempo" }),
  ]);
  return { genesisBlock, tempo };
}

/** The epoch block `block` belongs to (0 before genesis), as `Consensus.epochAt`. */
export function epochOf(block: bigint, timing: EpochTiming): bigint {
  if (block < timing.genesisBlock) return 0n;
  return (block - timing.genesisBlock) / timing.tempo;
}

/** Epoch `epoch`'s blocks: [start, end). */
export function epochBounds(epoch: bigint, timing: EpochTiming): { start: bigint; end: bigint } {
  const start = timing.genesisBlock + epoch * timing.tempo;
  return { start, end: start + timing.tempo };
}

/** Where the chain is: the head, and the epoch the next transaction lands in. */
export type EpochPosition = {
  head: bigint;
  /** The epoch of block `head + 1`: where a transaction sent now is included. */
  epoch: bigint;
  start: bigint;
  end: bigint;
  /** Blocks left in `epoch` after the next one (0: the next block is the epoch's last). */
  blocksLeft: bigint;
};

export async function getEpochPosition(ctx: ChainContext, timing: EpochTiming): Promise<EpochPosition> {
  const head = await ctx.publicClient.getBlockNumber({ cacheTime: 0 });
  const next = head + 1n;
  const epoch = epochOf(next, timing);
  const { start, end } = epochBounds(epoch, timing);
  return { head, epoch, start, end, blocksLeft: end - next - 1n };
}

/**
 * Whether a commitment of epoch `commitEpoch` can be revealed by a transaction landing in
 * `epoch`: "early" in its own epoch, "due" in the next, "expired" after it.
 */
export function revealState(commitEpoch: bigint, epoch: bigint): "early" | "due" | "expired" {
  if (epoch <= commitEpoch) return "early";
  return epoch === commitEpoch + 1n ? "due" : "expired";
}

// ───────────────────────────────────────────── weights ────────────────────────────────────────────

/** Weights as two parallel lists: miner uids and u16 weights. */
export type WeightsInput = {
  brainId: number;
  uids: readonly number[];
  weights: readonly number[];
  /** 32 random bytes, kept secret until the reveal (`randomSalt()`). */
  salt: Hex;
};

/** A fresh 32-byte salt. */
export function randomSalt(): Hex {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
}

/** Packs and checks `uids`/`weights` the way Consensus wants them (`report.ts`'s packWeights). */
export function packWeightsInput(input: Pick<WeightsInput, "uids" | "weights" | "salt">): Hex {
  const { uids, weights, salt } = input;
  if (uids.length !== weights.length) {
    throw new BasedError(
      "input",
      "WeightsLengthMismatch",
      `${uids.length} uids but ${weights.length} weights: each uid needs exactly one weight.`,
    );
  }
  if (!/^0x[0-9a-fA-F]{64}$/.test(salt)) {
    throw new BasedError(
      "input",
      "InvalidSalt",
      "The salt must be 32 bytes as 0x-prefixed hex.",
      "Use randomSalt().",
    );
  }
  try {
    return packWeights(uids.map((u, i) => [u, weights[i]!] as Weight));
  } catch (err) {
    throw new BasedError(
      "input",
      "InvalidWeights",
      `The weights cannot be packed: ${(err as Error).message}.`,
      `Uids are 0…${MAX_UIDS - 1}, each at most once; weights are whole numbers 0…${MAX_WEIGHT}.`,
    );
  }
}

/** A validator's commitment waiting for its reveal (Consensus.commitOf). */
export type PendingCommit = { hash: Hex; epoch: bigint; blockNumber: bigint };

/** The pending commitment of validator uid `uid` (default: the signer's uid), or null. */
export async function getPendingCommit(
  ctx: ChainContext,
  brainId: number,
  uid?: number,
): Promise<PendingCommit | null> {
  const who = uid ?? (await validatorUid(ctx, brainId, signerOf(ctx)));
  const c = await ctx.publicClient.readContract({
    address: economyContracts(ctx).Consensus,
    abi: consensusAbi,
    functionName: "commitOf",
    args: [BigInt(brainId), who],
  });
  if (/^0x0{64}$/.test(c.hash)) return null;
  return { hash: c.hash, epoch: c.epoch, blockNumber: c.blockNumber };
}

/** `account`'s validator uid in Brain `brainId`; refuses when it is not a validator there. */
export async function validatorUid(ctx: ChainContext, brainId: number, account: Address): Promise<number> {
  const m = await getMembership(ctx, brainId, account);
  if (m.role !== "validator")
    throw explainWeightsError({ name: "NotValidator", args: [BigInt(brainId), account] });
  return m.uid;
}

export type Committed = {
  brainId: number;
  validator: Address;
  uid: number;
  /** The epoch the commitment was recorded in: reveal it in `epoch + 1`. */
  epoch: bigint;
  hash: Hex;
  /** The packed weights the hash binds. */
  packed: Hex;
  blockNumber: bigint;
  transactionHash: Hash;
};

/**
 * Commits `weights` for the epoch the transaction lands in. The hash binds that epoch, so it is
 * computed for the epoch of the next block; should the transaction land one epoch later (it was
 * sent in an epoch's last block and waited), the commitment cannot be revealed and this refuses
 * with `CommitEpochMoved`: commit again.
 */
export async function commitWeights(
  ctx: ChainContext,
  input: WeightsInput & {
    timing?: EpochTiming;
    /** The epoch to hash for (default: the next block's); a state file records it before sending. */
    epoch?: bigint;
    onStep?: OnStep;
  },
): Promise<Committed> {
  const { brainId, salt, onStep } = input;
  const packed = packWeightsInput(input);
  const validator = signerOf(ctx);
  onStep?.("check", `reading your membership in Brain #${brainId} and the epoch`);
  const uid = await validatorUid(ctx, brainId, validator);
  const epoch =
    input.epoch ?? (await getEpochPosition(ctx, input.timing ?? (await getEpochTiming(ctx)))).epoch;
  const hash = commitHash(BigInt(brainId), validator, epoch, packed, salt);
  const receipt = await sendContractCall(
    ctx,
    {
      address: economyContracts(ctx).Consensus,
      abi: consensusAbi,
      functionName: "commitWeights",
      args: [BigInt(brainId), hash],
    },
    { explain: explainWeightsError, label: `the weights commitment for epoch ${epoch}`, onStep },
  );
  const event = eventOf(receipt, consensusAbi, "WeightsCommitted");
  if (event.args.epoch !== epoch) {
    throw new BasedError(
      "refused",
      "CommitEpochMoved",
      `The commitment was hashed for epoch ${epoch} but landed in epoch ${event.args.epoch}: it can never be revealed.`,
      "Commit again (the new commitment replaces it).",
      { epoch: event.args.epoch.toString(), transactionHash: receipt.transactionHash },
    );
  }
  return {
    brainId,
    validator,
    uid,
    epoch,
    hash,
    packed,
    blockNumber: receipt.blockNumber,
    transactionHash: receipt.transactionHash,
  };
}

export type Revealed = {
  brainId: number;
  validator: Address;
  uid: number;
  /** The epoch of the commitment the reveal opened. */
  epoch: bigint;
  packed: Hex;
  blockNumber: bigint;
  transactionHash: Hash;
};

/**
 * Reveals the weights committed in the previous epoch. What the contract would refuse (no
 * commitment, too early or late, a mismatch, a uid that is not a miner) is refused before any gas
 * is spent, with the contract's error name as the code.
 */
export async function revealWeights(
  ctx: ChainContext,
  input: WeightsInput & { onStep?: OnStep },
): Promise<Revealed> {
  const { brainId, salt, onStep } = input;
  const packed = packWeightsInput(input);
  const validator = signerOf(ctx);
  onStep?.("check", `reading your commitment in Brain #${brainId}`);
  const uid = await validatorUid(ctx, brainId, validator);
  const receipt = await sendContractCall(
    ctx,
    {
      address: economyContracts(ctx).Consensus,
      abi: consensusAbi,
      functionName: "revealWeights",
      args: [BigInt(brainId), packed, salt],
    },
    { explain: explainWeightsError, label: `the weights reveal in Brain #${brainId}`, onStep },
  );
  const event = eventOf(receipt, consensusAbi, "WeightsRevealed");
  return {
    brainId,
    validator,
    uid,
    epoch: event.args.epoch,
    packed,
    blockNumber: receipt.blockNumber,
    transactionHash: receipt.transactionHash,
  };
}

/** Turns a Consensus weights error into a message that says what to do. */
export function explainWeightsError(revert: Revert): BasedError {
  const { name, args } = revert;
  switch (name) {
    case "NotValidator":
      return new BasedError(
        "refused",
        name,
        `${String(args[1])} is not a registered validator of Brain #${String(args[0])}.`,
        "Register with the Brain as a validator first.",
        { brainId: String(args[0]) },
      );
    case "EmptyCommit":
      return new BasedError("input", name, "The commitment hash must not be zero.");
    case "NoCommit":
      return new BasedError(
        "refused",
        name,
        `Validator uid ${String(args[1])} has no commitment to reveal in Brain #${String(args[0])} (never committed, already revealed, or replaced).`,
        "Commit weights in one epoch and reveal them in the next.",
      );
    case "RevealTooEarly":
      return new BasedError(
        "refused",
        name,
        `The commitment is from epoch ${String(args[1])}, the current epoch: it can be revealed from the next one.`,
        `Reveal in epoch ${(args[1] as bigint) + 1n}.`,
        { currentEpoch: String(args[0]), commitEpoch: String(args[1]) },
      );
    case "RevealTooLate":
      return new BasedError(
        "refused",
        name,
        `The commitment of epoch ${String(args[1])} could be revealed in epoch ${(args[1] as bigint) + 1n} only; it is epoch ${String(args[0])} now.`,
        "Commit again and reveal within the next epoch.",
        { currentEpoch: String(args[0]), commitEpoch: String(args[1]) },
      );
    case "CommitMismatch":
      return new BasedError(
        "refused",
        name,
        `The weights and salt do not hash to the commitment (expected ${String(args[0])}, got ${String(args[1])}).`,
        "Reveal exactly the weights and salt that were committed (a validator keeps them in its state file).",
        { expected: String(args[0]), actual: String(args[1]) },
      );
    case "MalformedWeights":
      return new BasedError(
        "input",
        name,
        `Packed weights are 4 bytes per uid; got ${String(args[0])} bytes.`,
      );
    case "TooManyWeights":
      return new BasedError(
        "input",
        name,
        `${String(args[0])} weights exceed the ${String(args[1])} a reveal may set.`,
        `Keep the ${String(args[1])} largest weights.`,
      );
    case "UidsNotAscending":
      return new BasedError(
        "input",
        name,
        `Uids must be strictly ascending; entry ${String(args[0])} is not.`,
      );
    case "UnknownUid":
      return new BasedError(
        "refused",
        name,
        `Uid ${String(args[0])} is not a miner of the Brain.`,
        "Weights go to the Brain's miners only.",
      );
    default:
      return genericRefusal("Consensus", revert);
  }
}
