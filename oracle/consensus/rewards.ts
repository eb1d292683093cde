/**
 * The reward computation of one epoch (docs/architecture.md §4): a pure, deterministic function of the epoch
 * snapshot and the state carried from the previous epoch, turned into the epoch report's content
 * (reward lines, rewards tree, pruning order, per-Brain totals, inputs hash, next carry).
 *
 * Determinism: integers (BigInt) for every amount and IEEE-754 basic operations (+ − × ÷,
 * comparisons) for every share, in a fixed order — Brains by ascending brainId, members by
 * ascending uid, stakers by ascending address — never Math.exp/pow/log/sqrt. The input is first put
 * in canonical form (sorted as above, addresses checksummed, duplicates refused), so the result and
 * the inputs hash do not depend on the order in which Brains, members, positions or weights are
 * listed.
 *
 * Rounding rule: every amount is split exactly, so that the lines sum to `snapshot.emission`:
 *  - by shares that are doubles (Brain weights, Yuma incentive and dividends): each divided by the
 *    largest (which becomes exactly 1, so no positive share vanishes), then `apportion` in ./math.ts
 *    (shares quantized to floor(share · 2^60), largest remainder, ties to the lower slot);
 *  - by integer amounts (counted stake in the fallback, the validators' part between validators and
 *    Brain stakers, delegations, Brain-stake positions, equal splits): `apportionExact` below, the
 *    same largest-remainder rule on the exact integers;
 *  - by basis points (owner part, validators part, take): floor(x · bps / 10,000), the remainder
 *    going as written below.
 * The sum is asserted; a mismatch throws.
 *
 * Decisions (to move to docs/decisions.md, "Rewards (issue 6)"):
 *  - Yuma per Brain runs on one uid space of size max(uid) + 1. stake = the validator's stake (0 for
 *    miners and empty uids). Permit = registered, stake > 0 and stake ≥ the nearest-rank 70th
 *    percentile of the Brain's validator stakes (zeros included; sorted ascending, index
 *    ⌈0.7·n⌉ − 1), exactly Staking.activeValidatorThreshold / isActiveValidator. Weights: the latest
 *    reveal of each validator, entries naming uids that are not miners now (self-weights included)
 *    and zero entries dropped; a reveal older than the validator's registration is ignored.
 *    lastUpdate = the block of the commitment the reveal opened (the weights were chosen then, so a
 *    uid registered after it is masked), else the registration block (subtensor sets last_update at
 *    registration: a validator that never revealed is active, scoring 0, until the activity cutoff);
 *    blockAtRegistration = registeredAt; currentBlock = endBlock − 1; tempo = endBlock − startBlock;
 *    beta = tftWeight with zero accuracy; other parameters Yuma's defaults (κ 0.5, bonds EMA 0.9).
 *  - Bonds come from the carry; the row and the column of a uid whose account differs from the
 *    carried one (a new member, a departure, a replacement) are dropped first. A non-empty carry must
 *    be the previous epoch's (`carry.epoch = epoch − 1`); EMPTY_CARRY (epoch −1) is accepted for any
 *    epoch (a network, or an attester, without history). The carry of a Brain no longer in the
 *    snapshot is dropped; the next carry holds every Brain of the snapshot (bonds as Yuma stores them:
 *    rows of validators with stake; accounts by uid, zero for an empty uid).
 *  - Performance = Σ (stake_i / P) · validatorTrust_i over permitted validators (P their total
 *    stake), ascending uid, clamped to [0, 1]; 0 without permitted validators. Computed for every
 *    Brain (reported, carried), used only for Brains that earn.
 *  - Brain weight = Number(min(brainStake, ⌊totalStake · 50 / 10,000⌋)) × performance for Brains
 *    that earn. The bonus goes to the first ⌈0.3·n⌉ (integer ceiling) of the n earning Brains with
 *    performance > 0, by performance descending, ties to the lower brainId: weight × 1.25. The
 *    emission is apportioned by weight / max weight (the largest share is exactly 1, so no positive
 *    weight vanishes in the 2^−60 quantization). Fallbacks: if no earning Brain has a weight > 0, by
 *    counted stake (exact integers); if that is all zero, equally; if no Brain earns, the
 *    whole emission goes to 0x…dEaD under the pseudo-Brain UNALLOCATED_BRAIN (65,535), so the epoch
 *    is still reported and the ones after it can be. brainStats.weight is the Brain's share of the emission as a double
 *    (weight / Σ weights, or the fallback's share).
 *  - Within a Brain with amount A: owner = ⌊A · ownerBps / 10,000⌋; R = A − owner; validators part
 *    = ⌊R · validatorsBps / (minersBps + validatorsBps)⌋, miners part = the rest. Miners part by Yuma
 *    incentive over miner uids; validators part first split (apportionExact, an odd wei on a tie to
 *    the validators) between the permitted validators' total stake P and the Brain stakers' total Q; the validators'
 *    pool by Yuma dividends over permitted validators only (dividends of uids without a permit, from
 *    old bonds, are not paid: the pool is renormalized over the permitted ones); the Brain stakers'
 *    pool pro rata to their positions. The Brain stakers' pool is paid even when no validator has
 *    dividends (they are one more delegator pool whose share is its stake). Without miner incentive
 *    the miners part goes to the owner; without dividends (or without permitted stake) the
 *    validators' pool goes to the owner; if P + Q = 0, the whole validators part does.
 *  - A validator's dividend D: take = ⌊D · takeBps / 10,000⌋ ("validator-take"); D − take pro rata to
 *    its delegations ("delegator", its own included). Stake to a validator that has left the Brain
 *    counts in brainStake (the weight) but earns nothing within the Brain.
 *  - Lines are merged per (brainId, kind, account) — e.g. one "delegator" line for an account
 *    delegating to two validators of a Brain — and sorted by brainId, kind (owner, miner,
 *    validator-take, delegator, brain-staker), address. Zero amounts are left out.
 *  - Pruning score of a member (Brains that earn nothing included): for a miner floor(incentive ·
 *    2^60), for a validator with a permit floor(dividend · 2^60), else 0 — proportional to what the
 *    amounts are split by, so the order is the order of their amounts in an earning Brain, and a merit
 *    order in a Brain that earns nothing this epoch. Every member of every Brain is a candidate.
 *    With no member at all there is no tree: pruningTree is undefined and pruningRoot is zero, which
 *    Network reads as "no order" (NoPruningOrder), as before the first report.
 *  - inputsHash = keccak256(abi.encode(keccak256(encodeSnapshot(s)), keccak256(encodeCarry(c)))),
 *    both in canonical form (see SNAPSHOT_ABI / CARRY_ABI: every field in declaration order, weights
 *    and bond rows as packed big-endian (uint16 uid, uint16 value) bytes like a reveal; the carry's
 *    `performance` is left out, it is reporting only). The reward parameters are rules, not inputs,
 *    and are not hashed.
 *  - The snapshot is checked: blocks below 2^53, amounts below 2^256, brainId a uint16, uids below
 *    2,048, split summing to 10,000, takes ≤ 10,000 bps, a validator's delegations summing to its
 *    stake, brainStake ≥ its validators' stake + Brain-stake positions, totalStake ≥ Σ brainStake,
 *    one role per uid and per account, weights only from current validators and from before
 *    endBlock, a non-zero reward recipient for earning Brains, emission > 0 (an epoch without rewards
 *    has no rewards tree). `emission` itself is taken as given (the reader computes emissionBetween).
 */
import {
  type Address,
  type Hex,
  encodeAbiParameters,
  getAddress,
  isAddress,
  keccak256,
  zeroAddress,
  zeroHash,
} from "viem";
import type {
  BrainCarry,
  BrainSnapshot,
  CarryState,
  EpochResult,
  EpochSnapshot,
  MinerSnapshot,
  RewardLine,
  ValidatorSnapshot,
  WeightsSnapshot,
} from "./epoch-types";
import { apportion } from "./math";
import {
  MAX_UIDS,
  type PruneCandidate,
  Role,
  pruningOrder,
  pruningTree,
  rewardsTree,
} from "../../protocol/report";
import { type SparseU16, type YumaParams, fromSparse, yumaEpochPacked } from "./yuma";

// ─────────────────────────────────────────── params ───────────────────────────────────────────

export interface RewardParams {
  /** Multiplier of the weight of the top Brains by performance (default 1.25). */
  bonusMultiplier?: number;
  /** Share of the ranked Brains that get the bonus, basis points (default 3,000: the top 30 %). */
  bonusTopBps?: number;
  /** A Brain's stake counts up to this share of the total stake, basis points (default 50: 0.5 %). */
  brainCapBps?: number;
  /** Validators at or above this nearest-rank percentile of their Brain's stakes hold a permit (default 7,000). */
  permitPercentileBps?: number;
  /** Yuma overrides (κ, bonds moving average, …); beta always comes from `snapshot.tftWeight`. */
  yuma?: Omit<YumaParams, "beta" | "serverShareBps">;
}

export const REWARD_DEFAULTS = {
  bonusMultiplier: 1.25,
  bonusTopBps: 3_000,
  brainCapBps: 50,
  permitPercentileBps: 7_000,
} as const;

/** The state before the first epoch (or of an attester without history): no bonds. */
export const EMPTY_CARRY: CarryState = Object.freeze({ epoch: -1n, brains: Object.freeze({}) });

/** The snapshot or the carry is malformed (a reader bug, or a tampered input). */
export class RewardsInputError extends RangeError {
  override name = "RewardsInputError";
}

/**
 * The pseudo-Brain of an epoch in which no Brain earns (none mirrored yet, all stake Brains still
 * locked): its whole emission goes to `UNALLOCATED_RECIPIENT` under this id, above every real Brain
 * id (0…1023), so the report still sums exactly and the epochs after it can be reported.
 */
export const UNALLOCATED_BRAIN = 65_535;
/** Where an unallocated epoch's emission goes: the burn address (nobody holds its key). */
export const UNALLOCATED_RECIPIENT: Address = "0x000000000000000000000000000000000000dEaD";

const BPS = 10_000n;
const U16_MAX = 65_535;
const MAX_U256 = (1n << 256n) - 1n;
const MAX_BLOCK = BigInt(Number.MAX_SAFE_INTEGER);
const ONE_E18 = 10n ** 18n;
const SCORE_SCALE = 2 ** 60;
const KIND_ORDER: Record<RewardLine["kind"], number> = {
  owner: 0,
  miner: 1,
  "validator-take": 2,
  delegator: 3,
  "brain-staker": 4,
  unallocated: 5,
};

function fail(message: string): never {
  throw new RewardsInputError(message);
}

// ───────────────────────────────────────── validation ─────────────────────────────────────────

function bigUint(v: unknown, max: bigint, what: string): bigint {
  if (typeof v !== "bigint") fail(`${what} is ${typeof v}, not a bigint`);
  if (v < 0n || v > max) fail(`${what} is ${v}, out of range 0…${max}`);
  return v;
}

function smallUint(v: unknown, max: number, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
    fail(`${what} is ${String(v)}, not an integer in 0…${max}`);
  }
  return v;
}

function address(v: unknown, what: string, allowZero = false): Address {
  if (typeof v !== "string" || !isAddress(v, { strict: false }))
    fail(`${what} is not an address: ${String(v)}`);
  const a = getAddress(v);
  if (!allowZero && a === zeroAddress) fail(`${what} is the zero address`);
  return a;
}

const lower = (a: string) => a.toLowerCase();
const byAddress = <T extends { account: Address }>(a: T, b: T) => {
  const x = lower(a.account);
  const y = lower(b.account);
  return x < y ? -1 : x > y ? 1 : 0;
};

function array<T>(v: unknown, what: string): readonly T[] {
  if (!Array.isArray(v)) fail(`${what} is not an array`);
  return v as readonly T[];
}

/** Positions (account, amount), sorted by address, accounts unique. */
function positions(v: unknown, what: string): { account: Address; amount: bigint }[] {
  const out = array<{ account: unknown; amount: unknown }>(v, what).map((p, i) => ({
    account: address(p?.account, `${what}[${i}].account`),
    amount: bigUint(p?.amount, MAX_U256, `${what}[${i}].amount`),
  }));
  out.sort(byAddress);
  for (let i = 1; i < out.length; i++) {
    if (out[i - 1]!.account === out[i]!.account) fail(`${what} lists ${out[i]!.account} twice`);
  }
  return out;
}

/** Weight pairs [uid, u16], sorted by uid, uids unique. */
function pairs(v: unknown, what: string): [number, number][] {
  const out = array<unknown>(v, what).map((e, i): [number, number] => {
    if (!Array.isArray(e) || e.length !== 2) fail(`${what}[${i}] is not a [uid, value] pair`);
    return [
      smallUint(e[0], MAX_UIDS - 1, `${what}[${i}] uid`),
      smallUint(e[1], U16_MAX, `${what}[${i}] value`),
    ];
  });
  out.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < out.length; i++)
    if (out[i - 1]![0] === out[i]![0]) fail(`${what} names uid ${out[i]![0]} twice`);
  return out;
}

function sumOf(xs: readonly { amount: bigint }[]): bigint {
  let s = 0n;
  for (const x of xs) s += x.amount;
  return s;
}

function canonicalBrain(b: BrainSnapshot, at: string, endBlock: bigint): BrainSnapshot {
  if (b === null || typeof b !== "object") fail(`${at} is not an object`);
  const brainId = smallUint(b.brainId, U16_MAX, `${at}.brainId`);
  const where = `Brain ${brainId}`;
  if (typeof b.earns !== "boolean") fail(`${where}: earns is not a boolean`);
  const ownerRecipient = address(b.ownerRecipient, `${where}: ownerRecipient`, !b.earns);
  const split = b.split ?? fail(`${where}: no split`);
  const ownerBps = smallUint(split.ownerBps, 10_000, `${where}: split.ownerBps`);
  const minersBps = smallUint(split.minersBps, 10_000, `${where}: split.minersBps`);
  const validatorsBps = smallUint(split.validatorsBps, 10_000, `${where}: split.validatorsBps`);
  if (ownerBps + minersBps + validatorsBps !== 10_000) {
    fail(`${where}: split ${ownerBps}/${minersBps}/${validatorsBps} does not sum to 10,000`);
  }
  const brainStake = bigUint(b.brainStake, MAX_U256, `${where}: brainStake`);
  const brainStakers = positions(b.brainStakers, `${where}: brainStakers`);

  const uids = new Map<number, string>();
  const accounts = new Map<string, number>();
  const member = (uid: number, account: Address, what: string) => {
    if (uids.has(uid)) fail(`${where}: uid ${uid} is both ${uids.get(uid)} and ${what}`);
    uids.set(uid, what);
    if (accounts.has(account)) fail(`${where}: ${account} holds uids ${accounts.get(account)} and ${uid}`);
    accounts.set(account, uid);
  };

  const validators = array<ValidatorSnapshot>(b.validators, `${where}: validators`).map((v, i) => {
    const w = `${where}: validators[${i}]`;
    if (v === null || typeof v !== "object") fail(`${w} is not an object`);
    const out: ValidatorSnapshot = {
      uid: smallUint(v.uid, MAX_UIDS - 1, `${w}.uid`),
      account: address(v.account, `${w}.account`),
      registeredAt: bigUint(v.registeredAt, MAX_BLOCK, `${w}.registeredAt`),
      stake: bigUint(v.stake, MAX_U256, `${w}.stake`),
      takeBps: smallUint(v.takeBps, 10_000, `${w}.takeBps`),
      delegators: positions(v.delegators, `${w}.delegators`),
    };
    const delegated = sumOf(out.delegators);
    if (delegated !== out.stake) {
      fail(
        `${where}: validator uid ${out.uid} has stake ${out.stake} but delegations summing to ${delegated}`,
      );
    }
    return out;
  });
  validators.sort((a, b) => a.uid - b.uid);
  for (const v of validators) member(v.uid, v.account, "a validator");

  const miners = array<MinerSnapshot>(b.miners, `${where}: miners`).map((m, i) => {
    const w = `${where}: miners[${i}]`;
    if (m === null || typeof m !== "object") fail(`${w} is not an object`);
    return {
      uid: smallUint(m.uid, MAX_UIDS - 1, `${w}.uid`),
      account: address(m.account, `${w}.account`),
      registeredAt: bigUint(m.registeredAt, MAX_BLOCK, `${w}.registeredAt`),
    };
  });
  miners.sort((a, b) => a.uid - b.uid);
  for (const m of miners) member(m.uid, m.account, "a miner");

  const validatorUids = new Set(validators.map((v) => v.uid));
  const weights = array<WeightsSnapshot>(b.weights, `${where}: weights`).map((r, i) => {
    const w = `${where}: weights[${i}]`;
    if (r === null || typeof r !== "object") fail(`${w} is not an object`);
    const validatorUid = smallUint(r.validatorUid, MAX_UIDS - 1, `${w}.validatorUid`);
    if (!validatorUids.has(validatorUid)) fail(`${w}: uid ${validatorUid} is not a validator of the Brain`);
    const block = bigUint(r.block, MAX_BLOCK, `${w}.block`);
    if (block >= endBlock) fail(`${w}: revealed at block ${block}, not before the epoch's end ${endBlock}`);
    const committedAt =
      r.committedAt === undefined ? block : bigUint(r.committedAt, MAX_BLOCK, `${w}.committedAt`);
    if (committedAt > block) fail(`${w}: committed at block ${committedAt}, after its reveal at ${block}`);
    return { validatorUid, block, committedAt, weights: pairs(r.weights, `${w}.weights`) };
  });
  weights.sort((a, b) => a.validatorUid - b.validatorUid);
  for (let i = 1; i < weights.length; i++) {
    if (weights[i - 1]!.validatorUid === weights[i]!.validatorUid) {
      fail(`${where}: two reveals for validator uid ${weights[i]!.validatorUid}`);
    }
  }

  const inside = sumOf(validators.map((v) => ({ amount: v.stake }))) + sumOf(brainStakers);
  if (brainStake < inside) {
    fail(`${where}: brainStake ${brainStake} is below its validators' and Brain stakers' ${inside}`);
  }
  return {
    brainId,
    earns: b.earns,
    ownerRecipient,
    split: { ownerBps, minersBps, validatorsBps },
    brainStake,
    brainStakers,
    validators,
    miners,
    weights,
  };
}

/** The snapshot checked and in canonical order (see the module comment). */
function canonicalSnapshot(s: EpochSnapshot): EpochSnapshot {
  if (s === null || typeof s !== "object") fail("the snapshot is not an object");
  const epoch = bigUint(s.epoch, (1n << 63n) - 1n, "epoch");
  const startBlock = bigUint(s.startBlock, MAX_BLOCK, "startBlock");
  const endBlock = bigUint(s.endBlock, MAX_BLOCK, "endBlock");
  if (endBlock <= startBlock) fail(`the epoch's blocks [${startBlock}, ${endBlock}) are empty`);
  const emission = bigUint(s.emission, MAX_U256, "emission");
  const totalStake = bigUint(s.totalStake, MAX_U256, "totalStake");
  const tftWeight = bigUint(s.tftWeight, ONE_E18, "tftWeight");
  const brains = array<BrainSnapshot>(s.brains, "brains").map((b, i) =>
    canonicalBrain(b, `brains[${i}]`, endBlock),
  );
  brains.sort((a, b) => a.brainId - b.brainId);
  let staked = 0n;
  for (let i = 0; i < brains.length; i++) {
    if (i > 0 && brains[i - 1]!.brainId === brains[i]!.brainId)
      fail(`Brain ${brains[i]!.brainId} is listed twice`);
    staked += brains[i]!.brainStake;
  }
  if (totalStake < staked) fail(`totalStake ${totalStake} is below the Brains' stake ${staked}`);
  return { epoch, startBlock, endBlock, emission, totalStake, tftWeight, brains };
}

interface Carry {
  epoch: bigint;
  /** By brainId, ascending. */
  brains: Map<number, BrainCarry>;
}

/** The carry checked and in canonical order. */
function canonicalCarry(c: CarryState): Carry {
  if (c === null || typeof c !== "object") fail("the carry is not an object");
  if (typeof c.epoch !== "bigint" || c.epoch < -1n || c.epoch >= 1n << 63n)
    fail(`carry.epoch is ${String(c.epoch)}`);
  if (c.brains === null || typeof c.brains !== "object") fail("carry.brains is not an object");
  const ids = Object.keys(c.brains).map((k) => {
    const id = Number(k);
    if (String(id) !== k) fail(`carry.brains has a key ${k} that is not a brainId`);
    return smallUint(id, U16_MAX, `carry brainId ${k}`);
  });
  ids.sort((a, b) => a - b);
  const brains = new Map<number, BrainCarry>();
  for (const id of ids) {
    const b = c.brains[id]!;
    const w = `carry.brains[${id}]`;
    if (b === null || typeof b !== "object") fail(`${w} is not an object`);
    const rows = array<unknown>(b.bonds, `${w}.bonds`);
    if (rows.length > MAX_UIDS) fail(`${w}.bonds has ${rows.length} rows, more than ${MAX_UIDS}`);
    const accounts = array<unknown>(b.accounts, `${w}.accounts`);
    if (accounts.length > MAX_UIDS)
      fail(`${w}.accounts has ${accounts.length} entries, more than ${MAX_UIDS}`);
    const performance = b.performance;
    if (typeof performance !== "number" || !(performance >= 0 && performance <= 1)) {
      fail(`${w}.performance is ${String(performance)}, not in [0, 1]`);
    }
    brains.set(id, {
      bonds: rows.map((r, i) => pairs(r, `${w}.bonds[${i}]`)),
      accounts: accounts.map((a, i) => address(a, `${w}.accounts[${i}]`, true)),
      performance,
    });
  }
  return { epoch: c.epoch, brains };
}

// ────────────────────────────────────────── encoding ──────────────────────────────────────────

const POSITIONS = {
  type: "tuple[]",
  components: [
    { name: "account", type: "address" },
    { name: "amount", type: "uint256" },
  ],
} as const;

/** `abi.encode(Snapshot)`: every field of EpochSnapshot in declaration order; weights as packed bytes. */
export const SNAPSHOT_ABI = [
  {
    type: "tuple",
    components: [
      { name: "epoch", type: "uint64" },
      { name: "startBlock", type: "uint64" },
      { name: "endBlock", type: "uint64" },
      { name: "emission", type: "uint256" },
      { name: "totalStake", type: "uint256" },
      { name: "tftWeight", type: "uint256" },
      {
        name: "brains",
        type: "tuple[]",
        components: [
          { name: "brainId", type: "uint16" },
          { name: "earns", type: "bool" },
          { name: "ownerRecipient", type: "address" },
          { name: "ownerBps", type: "uint16" },
          { name: "minersBps", type: "uint16" },
          { name: "validatorsBps", type: "uint16" },
          { name: "brainStake", type: "uint256" },
          { ...POSITIONS, name: "brainStakers" },
          {
            name: "validators",
            type: "tuple[]",
            components: [
              { name: "uid", type: "uint16" },
              { name: "account", type: "address" },
              { name: "registeredAt", type: "uint64" },
              { name: "stake", type: "uint256" },
              { name: "takeBps", type: "uint16" },
              { ...POSITIONS, name: "delegators" },
            ],
          },
          {
            name: "miners",
            type: "tuple[]",
            components: [
              { name: "uid", type: "uint16" },
              { name: "account", type: "address" },
              { name: "registeredAt", type: "uint64" },
            ],
          },
          {
            name: "weights",
            type: "tuple[]",
            components: [
              { name: "validatorUid", type: "uint16" },
              { name: "block", type: "uint64" },
              { name: "committedAt", type: "uint64" },
              /** Packed big-endian (uint16 uid, uint16 weight) pairs, uids ascending (as revealed). */
              { name: "weights", type: "bytes" },
            ],
          },
        ],
      },
    ],
  },
] as const;

/** `abi.encode(Carry)`: the epoch and, per Brain ascending, its bond rows (packed like weights) and accounts. */
export const CARRY_ABI = [
  {
    type: "tuple",
    components: [
      { name: "epoch", type: "int64" },
      {
        name: "brains",
        type: "tuple[]",
        components: [
          { name: "brainId", type: "uint16" },
          { name: "bonds", type: "bytes[]" },
          { name: "accounts", type: "address[]" },
        ],
      },
    ],
  },
] as const;

const hex4 = (x: number) => x.toString(16).padStart(4, "0");

/** Packed big-endian (uint16, uint16) pairs, as Consensus.revealWeights takes them. */
function packPairs(entries: readonly (readonly [number, number])[]): Hex {
  let s = "0x";
  for (const [uid, value] of entries) s += hex4(uid) + hex4(value);
  return s as Hex;
}

function encodeCanonicalSnapshot(s: EpochSnapshot): Hex {
  return encodeAbiParameters(SNAPSHOT_ABI, [
    {
      ...s,
      brains: s.brains.map((b) => ({
        brainId: b.brainId,
        earns: b.earns,
        ownerRecipient: b.ownerRecipient,
        ownerBps: b.split.ownerBps,
        minersBps: b.split.minersBps,
        validatorsBps: b.split.validatorsBps,
        brainStake: b.brainStake,
        brainStakers: b.brainStakers,
        validators: b.validators,
        miners: b.miners,
        weights: b.weights.map((w) => ({
          validatorUid: w.validatorUid,
          block: w.block,
          committedAt: w.committedAt ?? w.block,
          weights: packPairs(w.weights),
        })),
      })),
    },
  ]);
}

function encodeCanonicalCarry(c: Carry): Hex {
  return encodeAbiParameters(CARRY_ABI, [
    {
      epoch: c.epoch,
      brains: [...c.brains.entries()].map(([brainId, b]) => ({
        brainId,
        bonds: b.bonds.map(packPairs),
        accounts: b.accounts,
      })),
    },
  ]);
}

function hashCanonical(s: EpochSnapshot, c: Carry): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "bytes32" }, { type: "bytes32" }],
      [keccak256(encodeCanonicalSnapshot(s)), keccak256(encodeCanonicalCarry(c))],
    ),
  );
}

/** The canonical ABI encoding of a snapshot (checked and sorted first; see SNAPSHOT_ABI). */
export function encodeSnapshot(snapshot: EpochSnapshot): Hex {
  return encodeCanonicalSnapshot(canonicalSnapshot(snapshot));
}

/** The canonical ABI encoding of a carried state (see CARRY_ABI; `performance` is not part of it). */
export function encodeCarry(carry: CarryState): Hex {
  return encodeCanonicalCarry(canonicalCarry(carry));
}

/** The report's inputsHash: keccak256(abi.encode(keccak256(encodeSnapshot), keccak256(encodeCarry))). */
export function inputsHashOf(snapshot: EpochSnapshot, carry: CarryState): Hex {
  return hashCanonical(canonicalSnapshot(snapshot), canonicalCarry(carry));
}

// ─────────────────────────────────────────── helpers ───────────────────────────────────────────

/** Staking.nearestRank: the value at index ⌈bps·n / 10,000⌉ − 1 of `values` sorted ascending (0 if empty). */
export function nearestRank(values: readonly bigint[], percentileBps: number): bigint {
  if (values.length === 0) return 0n;
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const index = Math.ceil((values.length * percentileBps) / 10_000); // exact: small integers
  return sorted[index === 0 ? 0 : index - 1]!;
}

/**
 * Splits `total` in proportion to integer `weights`, exactly: part_k = ⌊total·w_k / W⌋, and the
 * total − Σ part_k left over go one each to the largest remainders (total·w_k mod W), ties to the
 * lower index — `apportion`'s rule on exact integers. Throws when all weights are zero.
 */
export function apportionExact(total: bigint, weights: readonly bigint[]): bigint[] {
  if (total < 0n) throw new RangeError("the amount to split is negative");
  let W = 0n;
  for (const w of weights) {
    if (w < 0n) throw new RangeError("a negative weight");
    W += w;
  }
  if (W === 0n) throw new RangeError("no positive weight to split the amount by");
  const parts = new Array<bigint>(weights.length);
  const rem = new Array<bigint>(weights.length);
  let given = 0n;
  for (let k = 0; k < weights.length; k++) {
    const prod = total * weights[k]!;
    parts[k] = prod / W;
    rem[k] = prod % W;
    given += parts[k]!;
  }
  const left = Number(total - given);
  if (left > 0) {
    const order = weights.map((_, k) => k).filter((k) => rem[k]! > 0n);
    order.sort((a, b) => (rem[a]! > rem[b]! ? -1 : rem[a]! < rem[b]! ? 1 : a - b));
    for (let t = 0; t < left; t++) parts[order[t]!] = parts[order[t]!]! + 1n;
  }
  return parts;
}

const bpsOf = (x: bigint, bps: number) => (x * BigInt(bps)) / BPS;

/**
 * Shares divided by their maximum (so the largest is exactly 1 and no positive share can vanish in
 * `apportion`'s 2^−60 quantization, however small the shares are); undefined when none is positive.
 */
function relative(shares: readonly number[]): number[] | undefined {
  let max = 0;
  for (const s of shares) if (s > max) max = s;
  return max > 0 ? shares.map((s) => s / max) : undefined;
}

// ──────────────────────────────────────── one Brain's Yuma ────────────────────────────────────────

interface BrainRun {
  brain: BrainSnapshot;
  n: number;
  /** uid → account (zero for empty uids). */
  accounts: Address[];
  permit: boolean[];
  incentive: number[];
  dividends: number[];
  performance: number;
  /** Total stake of the permitted validators. */
  permittedStake: bigint;
  bonds: [number, number][][];
}

function runBrain(
  b: BrainSnapshot,
  snap: EpochSnapshot,
  carried: BrainCarry | undefined,
  permitPercentileBps: number,
  yuma: RewardParams["yuma"],
): BrainRun {
  let n = 0;
  for (const v of b.validators) n = Math.max(n, v.uid + 1);
  for (const m of b.miners) n = Math.max(n, m.uid + 1);
  const accounts = new Array<Address>(n).fill(zeroAddress);
  const permit = new Array<boolean>(n).fill(false);
  if (n === 0) {
    return {
      brain: b,
      n,
      accounts,
      permit,
      incentive: [],
      dividends: [],
      performance: 0,
      permittedStake: 0n,
      bonds: [],
    };
  }
  const stake = new Array<bigint>(n).fill(0n);
  const registeredAt = new Array<bigint>(n).fill(0n);
  const lastUpdate = new Array<bigint>(n).fill(0n);
  const isMiner = new Uint8Array(n);
  const threshold = nearestRank(
    b.validators.map((v) => v.stake),
    permitPercentileBps,
  );
  let permittedStake = 0n;
  for (const v of b.validators) {
    accounts[v.uid] = v.account;
    stake[v.uid] = v.stake;
    registeredAt[v.uid] = v.registeredAt;
    lastUpdate[v.uid] = v.registeredAt;
    if (v.stake > 0n && v.stake >= threshold) {
      permit[v.uid] = true;
      permittedStake += v.stake;
    }
  }
  for (const m of b.miners) {
    accounts[m.uid] = m.account;
    registeredAt[m.uid] = m.registeredAt;
    lastUpdate[m.uid] = m.registeredAt;
    isMiner[m.uid] = 1;
  }

  // Weights: the latest reveal of each validator, on current miners only.
  const rows = new Array<[number, number][] | undefined>(n);
  for (const w of b.weights) {
    if (w.block < registeredAt[w.validatorUid]!) continue; // from an earlier registration
    // The weights date from the commitment: Yuma then masks uids registered after it (a uid
    // recycled between the commit and the reveal is not paid the weight meant for its previous holder).
    lastUpdate[w.validatorUid] = w.committedAt ?? w.block;
    rows[w.validatorUid] = w.weights.filter(([j, x]) => x > 0 && j < n && isMiner[j] === 1);
  }
  const weights = packRows(rows, n);

  // Bonds: the carried ones, without the rows and columns of uids whose account changed.
  let bonds: SparseU16 | undefined;
  if (carried !== undefined) {
    const reset = new Uint8Array(n);
    for (let u = 0; u < n; u++) {
      if (lower(carried.accounts[u] ?? zeroAddress) !== lower(accounts[u]!)) reset[u] = 1;
    }
    const kept = new Array<[number, number][] | undefined>(n);
    for (let u = 0; u < Math.min(n, carried.bonds.length); u++) {
      if (reset[u] === 1) continue;
      kept[u] = carried.bonds[u]!.filter(([j, x]) => x > 0 && j < n && reset[j] === 0);
    }
    bonds = packRows(kept, n);
  }

  const out = yumaEpochPacked({
    stake,
    emission: 0n,
    weights,
    bonds,
    lastUpdate,
    blockAtRegistration: registeredAt,
    currentBlock: snap.endBlock - 1n,
    tempo: snap.endBlock - snap.startBlock,
    validatorPermit: permit,
    params: { ...yuma, beta: snap.tftWeight },
  });

  let performance = 0;
  if (permittedStake > 0n) {
    const P = Number(permittedStake);
    for (const v of b.validators) {
      if (permit[v.uid]) performance += (Number(v.stake) / P) * out.validatorTrust[v.uid]!;
    }
    performance = Math.min(1, Math.max(0, performance));
  }
  return {
    brain: b,
    n,
    accounts,
    permit,
    incentive: out.incentive,
    dividends: out.dividends,
    performance,
    permittedStake,
    bonds: fromSparse(out.bonds),
  };
}

function packRows(
  rows: readonly (readonly (readonly [number, number])[] | undefined)[],
  n: number,
): SparseU16 {
  let nnz = 0;
  for (let i = 0; i < n; i++) nnz += rows[i]?.length ?? 0;
  const rowPtr = new Uint32Array(n + 1);
  const cols = new Uint16Array(nnz);
  const vals = new Uint16Array(nnz);
  let k = 0;
  for (let i = 0; i < n; i++) {
    for (const [j, x] of rows[i] ?? []) {
      cols[k] = j;
      vals[k] = x;
      k++;
    }
    rowPtr[i + 1] = k;
  }
  return { rowPtr, cols, vals };
}

// ─────────────────────────────────────────── the epoch ───────────────────────────────────────────

class Lines {
  private readonly map = new Map<string, RewardLine>();
  add(brainId: number, kind: RewardLine["kind"], account: Address, amount: bigint): void {
    if (amount === 0n) return;
    const key = `${brainId}|${kind}|${lower(account)}`;
    const line = this.map.get(key);
    if (line === undefined) this.map.set(key, { account, amount, brainId, kind });
    else line.amount += amount;
  }
  sorted(): RewardLine[] {
    return [...this.map.values()].sort(
      (a, b) =>
        a.brainId - b.brainId ||
        KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
        (lower(a.account) < lower(b.account) ? -1 : lower(a.account) > lower(b.account) ? 1 : 0),
    );
  }
}

/** Pays amount A of one Brain (see the module comment) into `lines`. */
function payBrain(run: BrainRun, A: bigint, lines: Lines): void {
  const b = run.brain;
  const id = b.brainId;
  let owner = bpsOf(A, b.split.ownerBps);
  const rest = A - owner;
  const splitBps = b.split.minersBps + b.split.validatorsBps;
  const validatorsPart = splitBps === 0 ? 0n : (rest * BigInt(b.split.validatorsBps)) / BigInt(splitBps);
  const minersPart = rest - validatorsPart;

  // Miners, by incentive.
  if (minersPart > 0n) {
    const shares = relative(b.miners.map((m) => run.incentive[m.uid]!));
    if (shares !== undefined) {
      const parts = apportion(minersPart, shares);
      b.miners.forEach((m, k) => lines.add(id, "miner", m.account, parts[k]!));
    } else owner += minersPart;
  }

  // Validators (by dividends, then take and delegations) and Brain stakers.
  if (validatorsPart > 0n) {
    const Q = sumOf(b.brainStakers);
    const P = run.permittedStake;
    if (P + Q === 0n) owner += validatorsPart;
    else {
      const [validatorPool, stakerPool] = apportionExact(validatorsPart, [P, Q]) as [bigint, bigint];
      if (stakerPool > 0n) {
        const parts = apportionExact(
          stakerPool,
          b.brainStakers.map((s) => s.amount),
        );
        b.brainStakers.forEach((s, k) => lines.add(id, "brain-staker", s.account, parts[k]!));
      }
      if (validatorPool > 0n) {
        const permitted = b.validators.filter((v) => run.permit[v.uid]);
        const shares = relative(permitted.map((v) => run.dividends[v.uid]!));
        if (shares !== undefined) {
          const D = apportion(validatorPool, shares);
          permitted.forEach((v, k) => {
            const d = D[k]!;
            if (d === 0n) return;
            const take = bpsOf(d, v.takeBps);
            lines.add(id, "validator-take", v.account, take);
            const parts = apportionExact(
              d - take,
              v.delegators.map((p) => p.amount),
            );
            v.delegators.forEach((p, t) => lines.add(id, "delegator", p.account, parts[t]!));
          });
        } else owner += validatorPool;
      }
    }
  }
  lines.add(id, "owner", b.ownerRecipient, owner);
}

function pruneCandidates(run: BrainRun): PruneCandidate[] {
  const score = (x: number) => BigInt(Math.floor(x * SCORE_SCALE));
  const b = run.brain;
  return [
    ...b.validators.map((v) => ({
      brainId: b.brainId,
      role: Role.Validator,
      uid: v.uid,
      account: v.account,
      registeredAt: v.registeredAt,
      score: run.permit[v.uid] ? score(run.dividends[v.uid]!) : 0n,
    })),
    ...b.miners.map((m) => ({
      brainId: b.brainId,
      role: Role.Miner,
      uid: m.uid,
      account: m.account,
      registeredAt: m.registeredAt,
      score: score(run.incentive[m.uid]!),
    })),
  ];
}

function resolveParams(params: RewardParams) {
  const bonusMultiplier = params.bonusMultiplier ?? REWARD_DEFAULTS.bonusMultiplier;
  if (typeof bonusMultiplier !== "number" || !Number.isFinite(bonusMultiplier) || bonusMultiplier < 0) {
    throw new RangeError(`bonusMultiplier is ${bonusMultiplier}`);
  }
  const int = (v: number, what: string) => {
    if (!Number.isInteger(v) || v < 0 || v > 10_000) throw new RangeError(`${what} is ${v}, not in 0…10,000`);
    return v;
  };
  return {
    bonusMultiplier,
    bonusTopBps: int(params.bonusTopBps ?? REWARD_DEFAULTS.bonusTopBps, "bonusTopBps"),
    brainCapBps: int(params.brainCapBps ?? REWARD_DEFAULTS.brainCapBps, "brainCapBps"),
    permitPercentileBps: int(
      params.permitPercentileBps ?? REWARD_DEFAULTS.permitPercentileBps,
      "permitPercentileBps",
    ),
    yuma: params.yuma,
  };
}

/**
 * The rewards of one epoch (see the module comment for every rule): reward lines summing exactly to
 * `snapshot.emission`, the rewards tree, the pruning order, per-Brain totals and statistics, the
 * inputs hash and the state the next epoch starts from. Rejects with `RewardsInputError` on a
 * malformed input. Async only because the trees load protocol/'s Keccak; nothing else waits.
 */
export async function computeEpoch(
  snapshot: EpochSnapshot,
  carry: CarryState,
  params: RewardParams = {},
): Promise<EpochResult> {
  const p = resolveParams(params);
  const snap = canonicalSnapshot(snapshot);
  const prev = canonicalCarry(carry);
  if (prev.epoch !== -1n && prev.epoch !== snap.epoch - 1n) {
    fail(`the carry is the state after epoch ${prev.epoch}, not after epoch ${snap.epoch - 1n}`);
  }
  if (snap.emission === 0n) fail(`epoch ${snap.epoch} has no emission to report`);
  const inputsHash = hashCanonical(snap, prev);

  // ── Yuma per Brain ──
  const runs = snap.brains.map((b) =>
    runBrain(b, snap, prev.brains.get(b.brainId), p.permitPercentileBps, p.yuma),
  );

  // ── across Brains ──
  const cap = (snap.totalStake * BigInt(p.brainCapBps)) / BPS;
  const counted = runs.map((r) =>
    r.brain.earns ? (r.brain.brainStake < cap ? r.brain.brainStake : cap) : 0n,
  );
  const weight = runs.map((r, k) => (r.brain.earns ? Number(counted[k]!) * r.performance : 0));
  const ranked = runs
    .map((_, k) => k)
    .filter((k) => runs[k]!.brain.earns && runs[k]!.performance > 0)
    .sort(
      (a, b) =>
        runs[b]!.performance - runs[a]!.performance || runs[a]!.brain.brainId - runs[b]!.brain.brainId,
    );
  const top = Math.ceil((ranked.length * p.bonusTopBps) / 10_000); // exact: small integers
  for (let t = 0; t < top; t++) weight[ranked[t]!] = weight[ranked[t]!]! * p.bonusMultiplier;

  const earning = runs.map((_, k) => k).filter((k) => runs[k]!.brain.earns);
  const unallocated = earning.length === 0;
  const amounts = new Array<bigint>(runs.length).fill(0n);
  const share = new Array<number>(runs.length).fill(0);
  const byWeight = unallocated ? undefined : relative(earning.map((k) => weight[k]!));
  if (unallocated) {
    // Nobody to pay: see UNALLOCATED_BRAIN.
  } else if (byWeight !== undefined) {
    let total = 0;
    for (const k of earning) total += weight[k]!;
    const parts = apportion(snap.emission, byWeight);
    earning.forEach((k, t) => {
      amounts[k] = parts[t]!;
      share[k] = weight[k]! / total;
    });
  } else {
    let totalCounted = 0n;
    for (const k of earning) totalCounted += counted[k]!;
    const by = totalCounted > 0n ? earning.map((k) => counted[k]!) : earning.map(() => 1n);
    const byTotal = totalCounted > 0n ? Number(totalCounted) : earning.length;
    const parts = apportionExact(snap.emission, by);
    earning.forEach((k, t) => {
      amounts[k] = parts[t]!;
      share[k] = Number(by[t]!) / byTotal;
    });
  }

  // ── within Brains ──
  const lines = new Lines();
  runs.forEach((r, k) => {
    if (amounts[k]! > 0n) payBrain(r, amounts[k]!, lines);
  });
  const out = lines.sorted();
  if (unallocated) {
    out.push({
      account: UNALLOCATED_RECIPIENT,
      amount: snap.emission,
      brainId: UNALLOCATED_BRAIN,
      kind: "unallocated",
    });
  }

  // ── checks: every line positive, the Brains' totals and the emission exact ──
  const brainTotal = new Map<number, bigint>();
  let sum = 0n;
  for (const l of out) {
    if (l.amount <= 0n) throw new Error(`computeEpoch: a line of ${l.amount} for ${l.account}`);
    brainTotal.set(l.brainId, (brainTotal.get(l.brainId) ?? 0n) + l.amount);
    sum += l.amount;
  }
  if (sum !== snap.emission) throw new Error(`computeEpoch: the lines sum to ${sum}, not ${snap.emission}`);
  runs.forEach((r, k) => {
    const t = brainTotal.get(r.brain.brainId) ?? 0n;
    if (t !== amounts[k]!)
      throw new Error(`computeEpoch: Brain ${r.brain.brainId} paid ${t}, not ${amounts[k]}`);
  });

  // ── pruning order ──
  const pruningLeaves = await pruningOrder(runs.flatMap(pruneCandidates));
  const tree = pruningLeaves.length === 0 ? undefined : await pruningTree(pruningLeaves);

  const brainIds: number[] = [];
  const brainTotals: bigint[] = [];
  runs.forEach((r, k) => {
    if (amounts[k]! > 0n) {
      brainIds.push(r.brain.brainId);
      brainTotals.push(amounts[k]!);
    }
  });
  if (unallocated) {
    brainIds.push(UNALLOCATED_BRAIN);
    brainTotals.push(snap.emission);
  }

  const next: Record<number, BrainCarry> = {};
  for (const r of runs) {
    next[r.brain.brainId] = { bonds: r.bonds, accounts: r.accounts, performance: r.performance };
  }

  return {
    epoch: snap.epoch,
    lines: out,
    rewardsTree: await rewardsTree(out),
    pruningLeaves,
    pruningTree: tree,
    pruningRoot: tree === undefined ? zeroHash : (tree.root as Hex),
    inputsHash,
    brainIds,
    brainTotals,
    brainStats: runs.map((r, k) => ({
      brainId: r.brain.brainId,
      performance: r.performance,
      weight: share[k]!,
      total: amounts[k]!,
    })),
    carry: { epoch: snap.epoch, brains: next },
  };
}
