/**
 * The formats Consensus and Network check (contracts/based/Consensus.sol, Network.sol), in one
 * place for the oracle, the SDK and the tests: packed weights and their commitment, the
 * EPOCH_REPORT payload, the rewards tree `[address, uint256]` and the pruning-order tree
 * `[uint16 brainId, uint8 role, uint16 rank, uint16 uid, address account, uint64 registeredAt]`,
 * both as OpenZeppelin's StandardMerkleTree builds them (leaf = keccak256(keccak256(abi.encode(…)))).
 * Pure: no I/O. What builds a tree or checksums accounts in bulk is async only to load the Keccak
 * of ./hash.ts (once); the work itself runs without another await.
 */
import type { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import {
  type Address,
  type Hex,
  concatHex,
  decodeAbiParameters,
  encodeAbiParameters,
  getAddress,
  keccak256,
  numberToHex,
  hexToNumber,
  size,
  sliceHex,
} from "viem";
import { keccak256Hasher } from "./hash";
import { checksumAddress, standardTreeOf } from "./merkle";

/** Network.Role. */
export const Role = { None: 0, Validator: 1, Miner: 2 } as const;
export type MemberRole = typeof Role.Validator | typeof Role.Miner;

/** Uids of one Brain (validators and miners share them). */
export const MAX_UIDS = 2048;
/** The largest weight a validator can give (u16). */
export const MAX_WEIGHT = 65_535;

// ─────────────────────────────────────────── weights ───────────────────────────────────────────

/** One weight: a miner uid and a u16 value. */
export type Weight = readonly [uid: number, weight: number];

/**
 * Packs weights as Consensus.revealWeights wants them: `(uint16 uid, uint16 weight)` pairs,
 * big-endian, uids strictly ascending (sorted here; duplicates and out-of-range values refused).
 */
export function packWeights(weights: readonly Weight[]): Hex {
  const sorted = [...weights].sort((a, b) => a[0] - b[0]);
  const parts: Hex[] = [];
  sorted.forEach(([uid, weight], i) => {
    if (!Number.isInteger(uid) || uid < 0 || uid >= MAX_UIDS)
      throw new RangeError(`uid ${uid} is not in 0…2047`);
    if (!Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT) {
      throw new RangeError(`weight ${weight} of uid ${uid} is not a u16`);
    }
    if (i > 0 && sorted[i - 1]![0] === uid) throw new RangeError(`uid ${uid} appears twice`);
    parts.push(numberToHex(uid, { size: 2 }), numberToHex(weight, { size: 2 }));
  });
  return parts.length === 0 ? "0x" : concatHex(parts);
}

/** The inverse of `packWeights`. */
export function unpackWeights(packed: Hex): Weight[] {
  const bytes = size(packed);
  if (bytes % 4 !== 0) throw new RangeError(`packed weights are ${bytes} bytes, not a multiple of 4`);
  const out: Weight[] = [];
  for (let i = 0; i < bytes; i += 4) {
    out.push([hexToNumber(sliceHex(packed, i, i + 2)), hexToNumber(sliceHex(packed, i + 2, i + 4))]);
  }
  return out;
}

/** `Consensus.commitHash`: keccak256(abi.encode(brainId, validator, epoch, keccak256(weights), salt)). */
export function commitHash(brainId: bigint, validator: Address, epoch: bigint, weights: Hex, salt: Hex): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: "uint256" },
        { type: "address" },
        { type: "uint64" },
        { type: "bytes32" },
        { type: "bytes32" },
      ],
      [brainId, validator, epoch, keccak256(weights), salt],
    ),
  );
}

// ─────────────────────────────────────────── reports ───────────────────────────────────────────

/** Consensus.ReportPayload. */
export interface ReportPayload {
  epoch: bigint;
  revision: number;
  rewardsRoot: Hex;
  pruningRoot: Hex;
  inputsHash: Hex;
  brainIds: readonly number[];
  brainTotals: readonly bigint[];
}

const REPORT_TUPLE = [
  {
    type: "tuple",
    components: [
      { name: "epoch", type: "uint64" },
      { name: "revision", type: "uint32" },
      { name: "rewardsRoot", type: "bytes32" },
      { name: "pruningRoot", type: "bytes32" },
      { name: "inputsHash", type: "bytes32" },
      { name: "brainIds", type: "uint16[]" },
      { name: "brainTotals", type: "uint256[]" },
    ],
  },
] as const;

/** The EPOCH_REPORT payload: `abi.encode(ReportPayload)`. */
export function encodeReportPayload(p: ReportPayload): Hex {
  return encodeAbiParameters(REPORT_TUPLE, [p]);
}

export function decodeReportPayload(payload: Hex): ReportPayload {
  const [p] = decodeAbiParameters(REPORT_TUPLE, payload);
  return { ...p, brainIds: [...p.brainIds], brainTotals: [...p.brainTotals] };
}

/** `ReportAccepted.totalsHash`: keccak256(abi.encode(brainIds, brainTotals)). */
export function totalsHash(brainIds: readonly number[], brainTotals: readonly bigint[]): Hex {
  return keccak256(
    encodeAbiParameters([{ type: "uint16[]" }, { type: "uint256[]" }], [brainIds, brainTotals]),
  );
}

/** The top bit of a report's nonce: keeps reports out of the nonce space of event messages. */
export const REPORT_NONCE_FLAG = 1n << 63n;

/**
 * The message nonce of a report: `2^63 | (epoch << 32) | revision`. Event messages from the same
 * chain (a BridgeLocked) use `(block << 32) | logIndex`; without the top bit, revision r of epoch e
 * would share the nonce of a log at index r in block e, and the attesters' journal refuses a second
 * message under one (source, nonce).
 */
export function reportNonce(epoch: bigint, revision: number): bigint {
  if (epoch < 0n || epoch >= 1n << 31n) throw new RangeError(`epoch ${epoch} is out of range`);
  if (!Number.isInteger(revision) || revision < 0 || revision > 0xffff_ffff) {
    throw new RangeError(`revision ${revision} is not a uint32`);
  }
  return REPORT_NONCE_FLAG | (epoch << 32n) | BigInt(revision);
}

// ─────────────────────────────────────────── rewards ───────────────────────────────────────────

export type RewardsTree = StandardMerkleTree<[string, bigint]>;

/**
 * The rewards tree of one epoch: one leaf per account (amounts of the same account are added), in
 * ascending address order so every attester builds the same tree. Zero amounts are left out.
 */
export async function rewardsTree(
  rewards: ReadonlyArray<{ account: Address; amount: bigint }>,
): Promise<RewardsTree> {
  const keccak = await keccak256Hasher();
  const sums = new Map<string, bigint>();
  for (const { account, amount } of rewards) {
    if (amount < 0n) throw new RangeError(`negative reward for ${account}`);
    const key = checksumAddress(keccak, account);
    sums.set(key, (sums.get(key) ?? 0n) + amount);
  }
  // Ascending address order: 40 lowercase hex digits compare as the numbers they spell.
  const leaves = [...sums.entries()]
    .filter(([, amount]) => amount > 0n)
    .map(([account, amount]) => ({ key: account.toLowerCase(), leaf: [account, amount] as [string, bigint] }))
    .sort((a, b) => (a.key < b.key ? -1 : 1))
    .map(({ leaf }) => leaf);
  if (leaves.length === 0) throw new RangeError("an epoch's rewards tree needs at least one reward");
  return standardTreeOf(leaves, ["address", "uint256"], { sortLeaves: false });
}

/** `account`'s amount and proof in `tree`, or undefined if it has no leaf. */
export function rewardProof(
  tree: RewardsTree,
  account: Address,
): { amount: bigint; proof: Hex[] } | undefined {
  const wanted = getAddress(account);
  for (const [i, [leafAccount, amount]] of tree.entries()) {
    if (getAddress(leafAccount) === wanted)
      return { amount: BigInt(amount), proof: tree.getProof(i) as Hex[] };
  }
  return undefined;
}

// ─────────────────────────────────────────── pruning ───────────────────────────────────────────

/** A member as the pruning order sees it. `score` is its pruning score (lower goes first). */
export interface PruneCandidate {
  brainId: number;
  role: MemberRole;
  uid: number;
  account: Address;
  registeredAt: bigint;
  score: bigint;
}

export type PruningLeaf = [
  brainId: number,
  role: number,
  rank: number,
  uid: number,
  account: string,
  registeredAt: bigint,
];
export type PruningTree = StandardMerkleTree<PruningLeaf>;

/**
 * The pruning order (docs/decisions.md): per Brain and role, members by ascending score, ties to
 * the older registration, then to the lower uid; rank 0 goes first.
 */
export async function pruningOrder(members: readonly PruneCandidate[]): Promise<PruningLeaf[]> {
  const keccak = await keccak256Hasher();
  const groups = new Map<string, PruneCandidate[]>();
  for (const m of members) {
    const key = `${m.brainId}:${m.role}`;
    const group = groups.get(key) ?? [];
    group.push(m);
    groups.set(key, group);
  }
  const leaves: PruningLeaf[] = [];
  const keys = [...groups.keys()].sort((a, b) => {
    const [ba, ra] = a.split(":").map(Number);
    const [bb, rb] = b.split(":").map(Number);
    return ba! - bb! || ra! - rb!;
  });
  for (const key of keys) {
    const group = groups.get(key)!;
    group.sort((a, b) =>
      a.score !== b.score
        ? a.score < b.score
          ? -1
          : 1
        : a.registeredAt !== b.registeredAt
          ? a.registeredAt < b.registeredAt
            ? -1
            : 1
          : a.uid - b.uid,
    );
    group.forEach((m, rank) =>
      leaves.push([m.brainId, m.role, rank, m.uid, checksumAddress(keccak, m.account), m.registeredAt]),
    );
  }
  return leaves;
}

/** The pruning tree of an epoch report (leaves in `pruningOrder`'s order). */
export async function pruningTree(leaves: readonly PruningLeaf[]): Promise<PruningTree> {
  if (leaves.length === 0) throw new RangeError("a pruning tree needs at least one member");
  return standardTreeOf([...leaves], ["uint16", "uint8", "uint16", "uint16", "address", "uint64"], {
    sortLeaves: false,
  });
}

/** Network.PruneHint. */
export interface PruneHint {
  rank: number;
  uid: number;
  account: Address;
  registeredAt: bigint;
  proof: Hex[];
}

/** Hints for `Network.register`: the leaves of `brainId`/`role` from rank `from`, at most `count`. */
export function pruneHints(
  tree: PruningTree,
  brainId: number,
  role: MemberRole,
  from: number,
  count: number,
): PruneHint[] {
  const hints: PruneHint[] = [];
  for (const [i, [b, r, rank, uid, account, registeredAt]] of tree.entries()) {
    if (Number(b) !== brainId || Number(r) !== role || Number(rank) < from || Number(rank) >= from + count)
      continue;
    hints.push({
      rank: Number(rank),
      uid: Number(uid),
      account: getAddress(account),
      registeredAt: BigInt(registeredAt),
      proof: tree.getProof(i) as Hex[],
    });
  }
  return hints.sort((a, b) => a.rank - b.rank);
}
