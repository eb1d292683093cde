/**
 * Yuma consensus for one Brain and one epoch (DESIGN.md §4): a pure, deterministic function of
 * on-chain data with the semantics of Bittensor subtensor's classic epoch (`epoch()` in
 * pallets/subtensor/src/epoch/run_epoch.rs with Yuma3 off), written anew in TypeScript:
 *
 *  1. stake S: raw stake (below `minStake` counts as 0), normalized;
 *  2. validator permits: the `maxAllowedValidators` largest non-zero stakes (ties: the higher uid,
 *     as subtensor's ascending stable sort); the permits in force are `input.validatorPermit` when
 *     given (subtensor uses the previous epoch's), else this epoch's;
 *  3. active: a uid is inactive when currentBlock − lastUpdate > activityCutoff; active stake A =
 *     S of active, permitted uids, normalized;
 *  4. weights W: rows of uids without a permit dropped; self-weights dropped; entry (i, j) dropped
 *     when lastUpdate[i] ≤ blockAtRegistration[j] (set before j registered); uids ≥ n ignored;
 *     each row normalized to sum 1;
 *  5. consensus C_j: the A-weighted median of column j at κ — the smallest score v (rows with
 *     A > 0 and no weight on j score 0) such that the stake scoring ≤ v exceeds (1 − κ) of the
 *     active stake; weights clipped at C (W̄ = min(W, C)); validator trust = row sums of W̄;
 *     rank R = A·W̄ (normalized: `rank`), trust T = (A·W̄) / (A·W), incentive I = normalized R;
 *  6. bonds: last epoch's bonds (u16, column-max-upscaled) with the columns of uids registered
 *     since currentBlock − tempo dropped, column-normalized; ΔB = A ∘ W_b (W_b = W̄ with the
 *     default bondsPenalty 1, W with 0, between otherwise), column-normalized;
 *     B = (1 − bondsMovingAverage)·ΔB + bondsMovingAverage·B_old, column-normalized;
 *  7. dividends D = B·I, normalized;
 *  8. emission: the server (miner) part of uid j is I_j / Σ(I + D), the validator part D_i / Σ(I + D)
 *     (so 50/50 when both are non-zero); when Σ(I + D) = 0 everything goes by A, or by S when A is
 *     all zero, or equally to all uids when there is no stake at all (subtensor would emit nothing).
 *     `serverShareBps` instead fixes the server part of the emission;
 *  9. new bonds: B column-max-upscaled, floor(x · 65535) as u16, kept for uids with a (new)
 *     permit, empty otherwise; zero entries are left out.
 *
 * The whitepaper's options, off by default: `sigmoidConsensus` scales each rank by
 * σ(ρ(T − κ)) before normalizing (with a deterministic exp, ./math.ts), and `beta` > 0 adds
 * β·Accuracy (accuracy normalized to sum 1) to the normalized ranks before normalizing again:
 * I = normalize(normalize(R ∘ σ(ρ(T − κ))) + β·normalize(accuracy)).
 *
 * Determinism: IEEE-754 doubles with basic operations only (each correctly rounded; JavaScript
 * never fuses them), summed in a fixed order — sums over validators in ascending uid order, sums
 * over columns in ascending uid order — and no Math.exp/pow/log/sqrt. The median compares stake
 * masses as exact integers (active stakes quantized to floor(A_i · 2^42)), so consensus does not
 * depend on the uid order at all (a tie at exactly 1 − κ of the stake is decided on these masses). Amounts: `apportion` in ./math.ts (largest remainder, ties to the
 * lower slot) over 2n slots — uid 0's server part, uid 0's validator part, uid 1's server part, … —
 * so `serverEmission[i] + validatorEmission[i] = emission[i]` and Σ emission = `input.emission`
 * exactly. The stored bonds: floor(x · 65535) (subtensor's fixed_proportion_to_u16).
 *
 * Layout (for speed; bench/yuma-bench.ts): the weights of the rows with active stake are transposed
 * once into columns, the median runs per column (a 64-bucket pass, then exact selection within the
 * crossing bucket), and clipping, ranks and bond deltas are computed column by column on a
 * column-major block holding the bond rows. Large working arrays are reused between calls
 * (module-level scratch, always overwritten before being read); nothing else is kept.
 *
 * Differences from subtensor, all below its own fixed-point noise: doubles instead of I32F32
 * (subtensor truncates at 2^−32, so its bonds drift down by about one u16 step per epoch; here
 * values agree within one u16 step and emissions within 10⁻⁴ per uid on its epoch scenarios), the
 * exact largest-remainder split instead of flooring each part, the subnet owner's self-weight
 * exception and commit-reveal masks are not modelled (BasedAI's Consensus contract reveals).
 */
import { apportion, sigmoidDet } from "./math";

// ───────────────────────────────────────────── types ─────────────────────────────────────────────

/** One sparse matrix entry: a uid and a u16 value. */
export type U16Entry = readonly [uid: number, value: number];

/** A sparse n×n matrix of u16 values in compressed rows (row i: entries rowPtr[i] … rowPtr[i+1]−1). */
export interface SparseU16 {
  readonly rowPtr: Uint32Array;
  readonly cols: Uint16Array;
  readonly vals: Uint16Array;
}

export interface YumaParams {
  /** Majority ratio of the stake-weighted median, 0 < κ ≤ 1 (default 0.5; subtensor's 32767/65535). */
  kappa?: number;
  /** Weight of the old bonds in the EMA, 0 ≤ x ≤ 1 (default 0.9; subtensor's 900_000 / 10⁶). */
  bondsMovingAverage?: number;
  /** How many uids (by stake) get a validator permit (default 256, BasedAI's validators per Brain). */
  maxAllowedValidators?: number;
  /** 1: bonds grow from clipped weights (default, classic); 0: from raw weights; in between: mix. */
  bondsPenalty?: number;
  /** Stake below this counts as 0 (default 0). */
  minStake?: number | bigint;
  /** Scale ranks by σ(ρ(T − κ)) — the whitepaper's sigmoid consensus (default false). */
  sigmoidConsensus?: boolean;
  /** Steepness ρ of the sigmoid (default 10). */
  rho?: number;
  /** β(t) of the TFT accuracy term: a number in [0, 1], or 1e18-scaled as `tftWeight` returns (default 0). */
  beta?: number | bigint;
  /** Fixed server (miner) part of the emission in basis points; default: subtensor's I/Σ(I+D) rule. */
  serverShareBps?: number;
}

interface YumaCommonInput {
  /** Stake per uid (integers, e.g. wei); its length is the number of uids n. */
  stake: readonly (number | bigint)[];
  /** What to distribute (wei); the emissions sum to exactly this. */
  emission: bigint;
  params?: YumaParams;
  /** Block of each uid's last weights update (with currentBlock: activity; with blockAtRegistration: outdated weights). */
  lastUpdate?: readonly (number | bigint)[];
  /** Block at which each uid was (last) registered. */
  blockAtRegistration?: readonly (number | bigint)[];
  currentBlock?: number | bigint;
  /** Blocks after the last update a uid stays active (default 5000, subtensor's). */
  activityCutoff?: number | bigint;
  /** Epoch length: bonds on uids registered at or after currentBlock − tempo are reset (default 0). */
  tempo?: number | bigint;
  /** Validator permits in force this epoch (subtensor: the previous epoch's); default: this epoch's top-k. */
  validatorPermit?: readonly boolean[];
  /** Per-uid accuracy from the TFT enforcer model (≥ 0), used with params.beta; default zeros. */
  accuracy?: readonly number[];
}

export interface YumaInput extends YumaCommonInput {
  /** One sparse row per uid: the u16 weights it set. */
  weights: readonly (readonly U16Entry[])[];
  /** The previous epoch's `bonds` output (default: none). */
  bonds?: readonly (readonly U16Entry[])[];
}

export interface YumaPackedInput extends YumaCommonInput {
  weights: SparseU16;
  bonds?: SparseU16;
}

interface YumaCommonOutput {
  /** Per uid: serverEmission + validatorEmission (wei); sums exactly to input.emission. */
  emission: bigint[];
  /** Per uid: the part earned as a server (miner), by incentive. */
  serverEmission: bigint[];
  /** Per uid: the part earned as a validator, by dividends (or the stake fallback). */
  validatorEmission: bigint[];
  incentive: number[];
  dividends: number[];
  /** Stake-weighted median weight per uid. */
  consensus: number[];
  /** Rank after clipping / rank before clipping. */
  trust: number[];
  /** Sum of each validator's clipped weights: how much of its weight survived consensus. */
  validatorTrust: number[];
  /** Normalized ranks (= incentive unless the whitepaper options are on). */
  rank: number[];
  /** σ(ρ(T − κ)) per uid with sigmoidConsensus, else 1. */
  consensusFactor: number[];
  /** Permits computed this epoch (feed to the next epoch's validatorPermit). */
  validatorPermit: boolean[];
  active: boolean[];
}

export interface YumaOutput extends YumaCommonOutput {
  /** New bonds (feed to the next epoch): rows of [uid, u16], uids ascending, zero entries left out. */
  bonds: [number, number][][];
}

export interface YumaPackedOutput extends YumaCommonOutput {
  bonds: SparseU16;
}

export const YUMA_DEFAULTS = {
  kappa: 0.5,
  bondsMovingAverage: 0.9,
  maxAllowedValidators: 256,
  bondsPenalty: 1,
  minStake: 0n,
  sigmoidConsensus: false,
  rho: 10,
  beta: 0,
  activityCutoff: 5000,
  tempo: 0,
} as const;

/** Active stakes are quantized to this grid for the median, so stake masses add up exactly. */
const MEDIAN_SCALE = 2 ** 42;
const U16_MAX = 65_535;
const ONE_E18 = 10n ** 18n;

/**
 * Large working arrays (one entry per weight, or per bond cell) are kept between calls and reused,
 * so an epoch does not pay for fresh zeroed pages each time. They never leave this module and every
 * use overwrites (or zero-fills) what it reads, so results do not depend on earlier calls.
 */
const pool = {
  f64: new Map<string, Float64Array>(),
  u16: new Map<string, Uint16Array>(),
};
function scratchF64(name: string, size: number): Float64Array {
  let a = pool.f64.get(name);
  if (a === undefined || a.length < size) pool.f64.set(name, (a = new Float64Array(Math.max(size, 1024))));
  return a.subarray(0, size);
}
function scratchU16(name: string, size: number): Uint16Array {
  let a = pool.u16.get(name);
  if (a === undefined || a.length < size) pool.u16.set(name, (a = new Uint16Array(Math.max(size, 1024))));
  return a.subarray(0, size);
}

// ───────────────────────────────────────── conversions ─────────────────────────────────────────

/** Packs rows of [uid, u16] into a SparseU16 (entries kept in the given order). */
export function toSparse(rows: readonly (readonly U16Entry[])[], what = "matrix"): SparseU16 {
  const n = rows.length;
  let nnz = 0;
  for (let i = 0; i < n; i++) {
    const row = rows[i];
    if (!Array.isArray(row)) throw new TypeError(`${what}[${i}] is not an array`);
    nnz += row.length;
  }
  const rowPtr = new Uint32Array(n + 1);
  const cols = new Uint16Array(nnz);
  const vals = new Uint16Array(nnz);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const row = rows[i]!;
    for (let e = 0; e < row.length; e++) {
      const entry = row[e]!;
      const j = entry[0];
      const v = entry[1];
      if (!Number.isInteger(j) || j < 0 || j > U16_MAX) throw new RangeError(`${what}[${i}][${e}]: uid ${j}`);
      if (!Number.isInteger(v) || v < 0 || v > U16_MAX) {
        throw new RangeError(`${what}[${i}][${e}]: value ${v} is not a u16`);
      }
      cols[k] = j;
      vals[k] = v;
      k++;
    }
    rowPtr[i + 1] = k;
  }
  return { rowPtr, cols, vals };
}

/** Unpacks a SparseU16 into rows of [uid, u16]. */
export function fromSparse(m: SparseU16): [number, number][][] {
  const n = m.rowPtr.length - 1;
  const rows: [number, number][][] = new Array<[number, number][]>(n);
  for (let i = 0; i < n; i++) {
    const end = m.rowPtr[i + 1]!;
    const row: [number, number][] = [];
    for (let k = m.rowPtr[i]!; k < end; k++) row.push([m.cols[k]!, m.vals[k]!]);
    rows[i] = row;
  }
  return rows;
}

function checkSparse(m: SparseU16, n: number, what: string): void {
  const { rowPtr, cols, vals } = m;
  if (rowPtr.length !== n + 1) throw new RangeError(`${what} has ${rowPtr.length - 1} rows, expected ${n}`);
  if (rowPtr[0] !== 0 || rowPtr[n] !== cols.length || cols.length !== vals.length) {
    throw new RangeError(`${what} is not a well-formed sparse matrix`);
  }
  for (let i = 0; i < n; i++) {
    if (rowPtr[i + 1]! < rowPtr[i]!) throw new RangeError(`${what} row pointers decrease at row ${i}`);
  }
}

function blockArray(v: readonly (number | bigint)[] | undefined, n: number, what: string) {
  if (v === undefined) return undefined;
  if (v.length !== n) throw new RangeError(`${what} has ${v.length} entries, expected ${n}`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = blockNumber(v[i]!, `${what}[${i}]`);
  return out;
}

function blockNumber(v: number | bigint, what: string): number {
  const x = typeof v === "bigint" ? Number(v) : v;
  if (!Number.isSafeInteger(x) || x < 0) throw new RangeError(`${what} is ${v}, not a block number`);
  return x;
}

function toStake(v: number | bigint, what: string): bigint {
  if (typeof v === "bigint") {
    if (v < 0n) throw new RangeError(`${what} is negative`);
    return v;
  }
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${what} is ${v}, not a non-negative integer`);
  return BigInt(v);
}

function unitInterval(v: number, what: string, openAtZero = false): number {
  if (typeof v !== "number" || !(v >= 0 && v <= 1) || (openAtZero && v === 0)) {
    throw new RangeError(`${what} is ${v}, not in ${openAtZero ? "(0, 1]" : "[0, 1]"}`);
  }
  return v;
}

/**
 * Refuses a row that names a uid (< n) twice. Rows whose uids ascend strictly (as the chain packs
 * them) are checked by the callers' running comparison alone; others come here once.
 */
function checkRowUnique(
  cols: Uint16Array,
  from: number,
  to: number,
  n: number,
  seen: Int32Array,
  stamp: number,
  what: string,
) {
  for (let e = from; e < to; e++) {
    const j = cols[e]!;
    if (j >= n) continue;
    if (seen[j] === stamp) throw new RangeError(`${what} names uid ${j} twice`);
    seen[j] = stamp;
  }
}

function normalizeInPlace(x: Float64Array): void {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i]!;
  if (sum === 0) return;
  for (let i = 0; i < x.length; i++) x[i] = x[i]! / sum;
}

// ────────────────────────────────────────── the epoch ──────────────────────────────────────────

/** One Yuma epoch on rows of [uid, u16] (see the module comment). */
export function yumaEpoch(input: YumaInput): YumaOutput {
  const n = input.stake.length;
  if (input.weights.length !== n)
    throw new RangeError(`weights has ${input.weights.length} rows, expected ${n}`);
  if (input.bonds !== undefined && input.bonds.length !== n) {
    throw new RangeError(`bonds has ${input.bonds.length} rows, expected ${n}`);
  }
  const { weights, bonds, ...rest } = input;
  const out = yumaEpochPacked({
    ...rest,
    weights: toSparse(weights, "weights"),
    bonds: bonds === undefined ? undefined : toSparse(bonds, "bonds"),
  });
  return { ...out, bonds: fromSparse(out.bonds) };
}

/** One Yuma epoch on packed (compressed-row) weights and bonds: the same engine without the tuples. */
export function yumaEpochPacked(input: YumaPackedInput): YumaPackedOutput {
  const n = input.stake.length;
  if (n > 65_536) throw new RangeError(`${n} uids: at most 65,536 fit u16 uids`);
  const prm = input.params ?? {};
  const kappa = unitInterval(prm.kappa ?? YUMA_DEFAULTS.kappa, "kappa", true);
  const bma = unitInterval(prm.bondsMovingAverage ?? YUMA_DEFAULTS.bondsMovingAverage, "bondsMovingAverage");
  const penalty = unitInterval(prm.bondsPenalty ?? YUMA_DEFAULTS.bondsPenalty, "bondsPenalty");
  const maxValidators = prm.maxAllowedValidators ?? YUMA_DEFAULTS.maxAllowedValidators;
  if (!Number.isSafeInteger(maxValidators) || maxValidators < 0) {
    throw new RangeError(`maxAllowedValidators is ${maxValidators}`);
  }
  const minStake = toStake(prm.minStake ?? YUMA_DEFAULTS.minStake, "minStake");
  const sigmoidOn = prm.sigmoidConsensus ?? YUMA_DEFAULTS.sigmoidConsensus;
  const rho = prm.rho ?? YUMA_DEFAULTS.rho;
  if (typeof rho !== "number" || !Number.isFinite(rho) || rho < 0) throw new RangeError(`rho is ${rho}`);
  const betaIn = prm.beta ?? YUMA_DEFAULTS.beta;
  let beta: number;
  if (typeof betaIn === "bigint") {
    if (betaIn < 0n || betaIn > ONE_E18) throw new RangeError(`beta ${betaIn} is not in [0, 1e18]`);
    beta = Number(betaIn) / 1e18;
  } else beta = unitInterval(betaIn, "beta");
  const bps = prm.serverShareBps;
  if (bps !== undefined && (!Number.isInteger(bps) || bps < 0 || bps > 10_000)) {
    throw new RangeError(`serverShareBps is ${bps}`);
  }
  const E = input.emission;
  if (typeof E !== "bigint" || E < 0n) throw new RangeError("emission must be a bigint ≥ 0");
  checkSparse(input.weights, n, "weights");
  if (input.bonds !== undefined) checkSparse(input.bonds, n, "bonds");

  // ── stake ──
  const stake: bigint[] = new Array<bigint>(n);
  let total = 0n;
  for (let i = 0; i < n; i++) {
    let s = toStake(input.stake[i]!, `stake[${i}]`);
    if (s < minStake) s = 0n;
    stake[i] = s;
    total += s;
  }
  const S = new Float64Array(n);
  if (total > 0n) {
    const t = Number(total);
    for (let i = 0; i < n; i++) if (stake[i]! > 0n) S[i] = Number(stake[i]!) / t;
  }

  // ── validator permits ──
  const newPermit = topkNonzero(stake, maxValidators);
  let permit = newPermit;
  if (input.validatorPermit !== undefined) {
    const vp = input.validatorPermit;
    if (vp.length !== n) throw new RangeError(`validatorPermit has ${vp.length} entries, expected ${n}`);
    permit = new Uint8Array(n);
    for (let i = 0; i < n; i++) permit[i] = vp[i] === true ? 1 : 0;
  }

  // ── activity ──
  const lastUpdate = blockArray(input.lastUpdate, n, "lastUpdate");
  const registeredAt = blockArray(input.blockAtRegistration, n, "blockAtRegistration");
  const currentBlock =
    input.currentBlock === undefined ? undefined : blockNumber(input.currentBlock, "currentBlock");
  const cutoff = blockNumber(input.activityCutoff ?? YUMA_DEFAULTS.activityCutoff, "activityCutoff");
  const tempo = blockNumber(input.tempo ?? YUMA_DEFAULTS.tempo, "tempo");
  const active = new Uint8Array(n).fill(1);
  if (lastUpdate !== undefined && currentBlock !== undefined) {
    for (let i = 0; i < n; i++) if (lastUpdate[i]! + cutoff < currentBlock) active[i] = 0;
  }

  // ── active stake, and its exact integer masses for the median ──
  let activeTotal = 0n;
  for (let i = 0; i < n; i++) if (permit[i] && active[i] && stake[i]! > 0n) activeTotal += stake[i]!;
  const A = new Float64Array(n);
  const mass = new Float64Array(n);
  let massTotal = 0;
  if (activeTotal > 0n) {
    const t = Number(activeTotal);
    for (let i = 0; i < n; i++) {
      if (permit[i] && active[i] && stake[i]! > 0n) {
        A[i] = Number(stake[i]!) / t;
        mass[i] = Math.floor(A[i]! * MEDIAN_SCALE);
        massTotal += mass[i]!;
      }
    }
  }

  // ── weights: masks and row sums; the rows with active stake transposed to columns ──
  const W = weightColumns(input.weights, n, permit, A, mass, lastUpdate, registeredAt);

  // ── consensus: stake-weighted median per column ──
  const consensus = consensusOf(W, n, mass, massTotal, kappa);

  // ── the bond block: rows with bonds or bond deltas, column-major; last epoch's bonds first ──
  const alpha = 1 - bma;
  const oldBonds = input.bonds;
  const resetColumn = recentlyRegistered(n, registeredAt, currentBlock, tempo);
  const slot = new Int32Array(n).fill(-1);
  const bondRows: number[] = [];
  for (let i = 0; i < n; i++) {
    const hasDelta = A[i]! > 0 && W.rowSum[i]! > 0;
    const hasOld = oldBonds !== undefined && oldBonds.rowPtr[i + 1]! > oldBonds.rowPtr[i]!;
    if (hasDelta || hasOld) {
      slot[i] = bondRows.length;
      bondRows.push(i);
    }
  }
  const m = bondRows.length;
  const B = scratchF64("bonds", m * n).fill(0);
  const oldSum = oldBonds === undefined ? undefined : addOldBonds(oldBonds, n, resetColumn, B, m, slot);

  // ── clipping at consensus, ranks, trust, validator trust; bond deltas into the block ──
  const R = new Float64Array(n);
  const preranks = new Float64Array(n);
  const validatorTrust = new Float64Array(n);
  const U = scratchU16("bondImage", m * n);
  const perSlot = new Uint32Array(m);
  clipColumns(
    W,
    n,
    consensus,
    A,
    penalty,
    alpha,
    R,
    preranks,
    validatorTrust,
    B,
    m,
    slot,
    oldSum,
    U,
    perSlot,
  );
  inactiveValidatorTrust(input.weights, W, n, A, consensus, lastUpdate, registeredAt, validatorTrust);
  const trust = new Float64Array(n);
  for (let j = 0; j < n; j++) if (preranks[j] !== 0) trust[j] = R[j]! / preranks[j]!;
  const rank = R.slice();
  normalizeInPlace(rank);

  // ── incentive (with the whitepaper's options) ──
  const consensusFactor = new Float64Array(n).fill(1);
  let incentive = rank;
  let accuracy: Float64Array | undefined;
  if (beta > 0 && input.accuracy !== undefined) {
    if (input.accuracy.length !== n)
      throw new RangeError(`accuracy has ${input.accuracy.length} entries, expected ${n}`);
    accuracy = new Float64Array(n);
    let any = false;
    for (let j = 0; j < n; j++) {
      const x = input.accuracy[j]!;
      if (typeof x !== "number" || !(x >= 0) || x === Infinity)
        throw new RangeError(`accuracy[${j}] is ${x}`);
      accuracy[j] = x;
      if (x > 0) any = true;
    }
    if (!any) accuracy = undefined;
    else normalizeInPlace(accuracy);
  }
  if (sigmoidOn || accuracy !== undefined) {
    incentive = R.slice();
    if (sigmoidOn) {
      for (let j = 0; j < n; j++) {
        const f = sigmoidDet(rho * (trust[j]! - kappa));
        consensusFactor[j] = f;
        incentive[j] = incentive[j]! * f;
      }
    }
    normalizeInPlace(incentive);
    if (accuracy !== undefined) {
      for (let j = 0; j < n; j++) incentive[j] = incentive[j]! + beta * accuracy[j]!;
      normalizeInPlace(incentive);
    }
  }

  // ── bonds and dividends ──
  const { dividends, bonds } = finishBonds(B, U, perSlot, m, n, bondRows, incentive, newPermit);

  // ── emission ──
  const { server, validator } = splitEmission(E, n, incentive, dividends, A, S, bps);
  const emission: bigint[] = new Array<bigint>(n);
  for (let i = 0; i < n; i++) emission[i] = server[i]! + validator[i]!;

  const bools = (x: Uint8Array) => Array.from(x, (b) => b === 1);
  return {
    emission,
    serverEmission: server,
    validatorEmission: validator,
    incentive: Array.from(incentive),
    dividends: Array.from(dividends),
    consensus: Array.from(consensus),
    trust: Array.from(trust),
    validatorTrust: Array.from(validatorTrust),
    rank: Array.from(rank),
    consensusFactor: Array.from(consensusFactor),
    validatorPermit: bools(newPermit),
    active: bools(active),
    bonds,
  };
}

// ───────────────────────────────────────────── steps ─────────────────────────────────────────────

/**
 * Subtensor's is_topk_nonzero: uids sorted by stake ascending (stable, so ties keep uid order), the
 * first n − k lose their permit, and zero stake never has one.
 */
function topkNonzero(stake: readonly bigint[], k: number): Uint8Array {
  const n = stake.length;
  const out = new Uint8Array(n);
  let nonzero = 0;
  for (let i = 0; i < n; i++) {
    if (stake[i]! > 0n) {
      out[i] = 1;
      nonzero++;
    }
  }
  // With no more non-zero stakes than permits, the n − k lowest are all zeros already.
  if (n <= k || nonzero <= k) return out;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => {
    const sa = stake[a]!;
    const sb = stake[b]!;
    return sa < sb ? -1 : sa > sb ? 1 : a - b;
  });
  for (let t = 0; t < n - k; t++) out[order[t]!] = 0;
  return out;
}

/** The masked weights of the rows with active stake, column by column. */
interface Columns {
  /** Per row: the sum of its weights that survive the masks (0 for rows without a permit). */
  rowSum: Float64Array;
  /** Column j's entries are colPtr[j] … colPtr[j+1]−1 of score/row, rows ascending. */
  colPtr: Uint32Array;
  /** Normalized weight w_ij = value / rowSum[i]. */
  score: Float64Array;
  row: Uint16Array;
  /** Per column: the largest score. */
  colMax: Float64Array;
  /** Per column: the median mass of the rows with a weight on it (exact integer). */
  colMass: Float64Array;
}

/**
 * Applies the masks (no permit: row dropped; self-weight; uid ≥ n; value 0; set before j
 * registered), sums each row, and lays out the weights of the rows with active stake column by
 * column — in one pass over the input into fixed-size column slots (raw u16 value and row), then
 * column by column normalized (w = value / row sum) and compacted. Duplicate uids are refused.
 */
function weightColumns(
  m: SparseU16,
  n: number,
  permit: Uint8Array,
  A: Float64Array,
  mass: Float64Array,
  lastUpdate: Float64Array | undefined,
  registeredAt: Float64Array | undefined,
): Columns {
  const { rowPtr, cols, vals } = m;
  const outdatedMask = lastUpdate !== undefined && registeredAt !== undefined;
  let K = 0; // rows with active stake: the most entries a column can get
  for (let i = 0; i < n; i++) if (A[i]! > 0) K++;
  const rawVal = scratchU16("rawValue", n * K);
  const rawRow = scratchU16("rawRow", n * K);
  const count = new Uint32Array(n);
  const rowSum = new Float64Array(n);
  const seen = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const keep = permit[i] === 1;
    const counted = A[i]! > 0;
    const lu = outdatedMask ? lastUpdate[i]! : 0;
    let sum = 0;
    let prev = -1;
    const from = rowPtr[i]!;
    const to = rowPtr[i + 1]!;
    for (let e = from; e < to; e++) {
      const j = cols[e]!;
      if (j >= n) continue; // weights on uids that do not exist are ignored, as subtensor does
      if (j > prev) prev = j;
      else if (prev < n) {
        checkRowUnique(cols, from, to, n, seen, i + 1, `weights row ${i}`);
        prev = n; // checked
      }
      const v = vals[e]!;
      if (!keep || v === 0 || j === i || (outdatedMask && lu <= registeredAt[j]!)) continue;
      sum += v;
      if (counted) {
        const at = j * K + count[j]!;
        rawVal[at] = v;
        rawRow[at] = i;
        count[j] = count[j]! + 1;
      }
    }
    rowSum[i] = sum;
  }
  const colPtr = new Uint32Array(n + 1);
  for (let j = 0; j < n; j++) colPtr[j + 1] = colPtr[j]! + count[j]!;
  const score = scratchF64("columnScore", colPtr[n]!);
  const row = scratchU16("columnRow", colPtr[n]!);
  const colMax = new Float64Array(n);
  const colMass = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const from = j * K;
    const to = from + count[j]!;
    let at = colPtr[j]!;
    let max = 0;
    let q = 0;
    for (let t = from; t < to; t++) {
      const i = rawRow[t]!;
      const w = rawVal[t]! / rowSum[i]!;
      score[at] = w;
      row[at] = i;
      at++;
      if (w > max) max = w;
      q += mass[i]!;
    }
    colMax[j] = max;
    colMass[j] = q;
  }
  return { rowSum, colPtr, score, row, colMax, colMass };
}

/** Buckets of the first, approximate pass of the median (see `columnMedian`). */
const BUCKETS = 64;

/**
 * C_j = the smallest score v such that the mass of rows scoring ≤ v exceeds M = Q − κ·Q, where Q is
 * the total mass of the rows with active stake and rows without a weight on j score 0. The masses
 * are integers below 2^53, so every partial sum is exact and the result does not depend on the
 * order in which rows are visited (nor on how the search proceeds).
 */
function consensusOf(
  W: Columns,
  n: number,
  mass: Float64Array,
  massTotal: number,
  kappa: number,
): Float64Array {
  const consensus = new Float64Array(n);
  if (massTotal === 0) return consensus;
  const minority = massTotal - kappa * massTotal;
  const { colPtr, score, row, colMax, colMass } = W;
  let longest = 0;
  for (let j = 0; j < n; j++) longest = Math.max(longest, colPtr[j + 1]! - colPtr[j]!);
  const candScore = scratchF64("candScore", longest);
  const candRow = scratchU16("candRow", longest);
  const bucketMass = new Float64Array(BUCKETS);
  for (let j = 0; j < n; j++) {
    const lo = colPtr[j]!;
    const hi = colPtr[j + 1]!;
    if (lo === hi) continue;
    const zeroMass = massTotal - colMass[j]!; // exact
    if (zeroMass > minority) continue; // the median is 0
    consensus[j] = columnMedian(
      score,
      row,
      mass,
      lo,
      hi,
      zeroMass,
      minority,
      colMax[j]!,
      bucketMass,
      candScore,
      candRow,
    );
  }
  return consensus;
}

/**
 * The median of one column: a first pass spreads the scores over BUCKETS buckets by
 * floor(score · BUCKETS / max) — a monotone map, so every bucket holds a contiguous range of
 * scores — and finds the bucket where the cumulative mass crosses `minority`; the exact selection
 * then runs on that bucket's entries only (copied, so the column keeps its row order).
 */
function columnMedian(
  score: Float64Array,
  row: Uint16Array,
  mass: Float64Array,
  lo: number,
  hi: number,
  base: number,
  minority: number,
  max: number,
  bucketMass: Float64Array,
  candScore: Float64Array,
  candRow: Uint16Array,
): number {
  if (hi - lo > 32) {
    const scale = BUCKETS / max;
    bucketMass.fill(0);
    for (let t = lo; t < hi; t++) {
      let b = (score[t]! * scale) | 0;
      if (b >= BUCKETS) b = BUCKETS - 1;
      bucketMass[b] = bucketMass[b]! + mass[row[t]!]!;
    }
    let star = -1;
    for (let b = 0; b < BUCKETS; b++) {
      if (base + bucketMass[b]! > minority) {
        star = b;
        break;
      }
      base += bucketMass[b]!;
    }
    if (star >= 0) {
      let k = 0;
      for (let t = lo; t < hi; t++) {
        let b = (score[t]! * scale) | 0;
        if (b >= BUCKETS) b = BUCKETS - 1;
        if (b === star) {
          candScore[k] = score[t]!;
          candRow[k] = row[t]!;
          k++;
        }
      }
      return selectMedian(candScore, candRow, mass, 0, k, base, minority);
    }
    return max; // only reachable through the rounding of κ·Q
  }
  const k = hi - lo;
  candScore.set(score.subarray(lo, hi));
  candRow.set(row.subarray(lo, hi));
  return selectMedian(candScore, candRow, mass, 0, k, base, minority);
}

/**
 * Smallest score v in [lo, hi) with base + Σ{mass[row] : score ≤ v} > minority: selection with a
 * middle pivot and a 3-way partition (in place, moving scores and their rows together).
 */
function selectMedian(
  score: Float64Array,
  row: Uint16Array,
  mass: Float64Array,
  lo: number,
  hi: number,
  base: number,
  minority: number,
): number {
  const lo0 = lo;
  const hi0 = hi;
  while (hi > lo) {
    if (hi - lo === 1) return score[lo]!;
    const pivot = score[(lo + hi) >>> 1]!;
    let lt = lo;
    let i = lo;
    let gt = hi;
    let less = 0;
    let equal = 0;
    while (i < gt) {
      const s = score[i]!;
      if (s < pivot) {
        const r = row[i]!;
        score[i] = score[lt]!;
        row[i] = row[lt]!;
        score[lt] = s;
        row[lt] = r;
        less += mass[r]!;
        lt++;
        i++;
      } else if (s > pivot) {
        gt--;
        const r = row[i]!;
        score[i] = score[gt]!;
        row[i] = row[gt]!;
        score[gt] = s;
        row[gt] = r;
      } else {
        equal += mass[row[i]!]!;
        i++;
      }
    }
    if (base + less > minority) hi = lt;
    else if (base + less + equal > minority) return pivot;
    else {
      base += less + equal;
      lo = gt;
    }
  }
  // Only reachable through the rounding of κ·Q: the largest score.
  let best = 0;
  for (let t = lo0; t < hi0; t++) if (score[t]! > best) best = score[t]!;
  return best;
}

/** Bond columns to reset: uids registered at or after currentBlock − tempo (saturating). */
function recentlyRegistered(
  n: number,
  registeredAt: Float64Array | undefined,
  currentBlock: number | undefined,
  tempo: number,
): Uint8Array | undefined {
  if (registeredAt === undefined || currentBlock === undefined) return undefined;
  const lastTempo = currentBlock > tempo ? currentBlock - tempo : 0;
  const out = new Uint8Array(n);
  let any = false;
  for (let j = 0; j < n; j++) {
    if (lastTempo <= registeredAt[j]!) {
      out[j] = 1;
      any = true;
    }
  }
  return any ? out : undefined;
}

/**
 * Last epoch's bonds, masked, as raw u16 values into the block B[j·m + slot]; returns their column
 * sums (the column loop normalizes them).
 */
function addOldBonds(
  old: SparseU16,
  n: number,
  resetColumn: Uint8Array | undefined,
  B: Float64Array,
  m: number,
  slot: Int32Array,
): Float64Array {
  const { rowPtr, cols, vals } = old;
  const oldSum = new Float64Array(n);
  const seen = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = slot[i]!;
    let prev = -1;
    const from = rowPtr[i]!;
    const to = rowPtr[i + 1]!;
    for (let k = from; k < to; k++) {
      const j = cols[k]!;
      if (j >= n) continue;
      if (j > prev) prev = j;
      else if (prev < n) {
        checkRowUnique(cols, from, to, n, seen, i + 1, `bonds row ${i}`);
        prev = n;
      }
      if (resetColumn !== undefined && resetColumn[j] === 1) continue;
      const v = vals[k]!;
      B[j * m + r] = v;
      oldSum[j] = oldSum[j]! + v;
    }
  }
  return oldSum;
}

/**
 * Per column j (rows with active stake): W̄_ij = min(w_ij, C_j); R_j = Σ A_i·W̄_ij, preranks
 * P_j = Σ A_i·w_ij, validator trust += W̄_ij; bond deltas A_i·W_b,ij column-normalized, times α,
 * added to the block; then the block's column j (now final) is normalized and its maximum kept.
 * The clip is computed without a data-dependent branch (f ∈ {0, 1}, so C·f + w·(1 − f) is exactly
 * C or w).
 */
function clipColumns(
  W: Columns,
  n: number,
  consensus: Float64Array,
  A: Float64Array,
  penalty: number,
  alpha: number,
  R: Float64Array,
  preranks: Float64Array,
  validatorTrust: Float64Array,
  B: Float64Array,
  m: number,
  slot: Int32Array,
  oldSum: Float64Array | undefined,
  U: Uint16Array,
  perSlot: Uint32Array,
): void {
  const { colPtr, score, row } = W;
  const oneMinusAlpha = 1 - alpha;
  for (let j = 0; j < n; j++) {
    const lo = colPtr[j]!;
    const hi = colPtr[j + 1]!;
    const col = j * m;
    // Last epoch's bonds in this column: column-normalized, times (1 − α).
    const so = oldSum === undefined ? 0 : oldSum[j]!;
    if (so > 0) for (let r = 0; r < m; r++) B[col + r] = oneMinusAlpha * (B[col + r]! / so);
    if (lo < hi) {
      const c = consensus[j]!;
      let r = 0;
      let p = 0;
      let d = 0;
      for (let t = lo; t < hi; t++) {
        const w = score[t]!;
        const i = row[t]!;
        const a = A[i]!;
        const f = +(w > c);
        const clip = c * f + w * (1 - f);
        r += a * clip;
        p += a * w;
        validatorTrust[i] = validatorTrust[i]! + clip;
        const wb = penalty === 1 ? clip : penalty === 0 ? w : w + penalty * (clip - w);
        d += a * wb;
      }
      R[j] = r;
      preranks[j] = p;
      if (d > 0) {
        for (let t = lo; t < hi; t++) {
          const w = score[t]!;
          const i = row[t]!;
          const f = +(w > c);
          const clip = c * f + w * (1 - f);
          const wb = penalty === 1 ? clip : penalty === 0 ? w : w + penalty * (clip - w);
          if (wb > 0) {
            const at = col + slot[i]!;
            B[at] = alpha * ((wb * A[i]!) / d) + B[at]!;
          }
        }
      }
    }
    // Column j of the EMA block is final: normalize it; its u16 image is column-max-upscaled
    // (the largest normalized value is the largest raw value over the same sum, the same double).
    let s = 0;
    let top = 0;
    for (let r = 0; r < m; r++) {
      const b = B[col + r]!;
      s += b;
      if (b > top) top = b;
    }
    if (s === 0) {
      U.fill(0, col, col + m);
      continue;
    }
    const max = top / s;
    for (let r = 0; r < m; r++) {
      const b = B[col + r]! / s;
      B[col + r] = b;
      const u = Math.floor((b / max) * U16_MAX);
      U[col + r] = u;
      perSlot[r] = perSlot[r]! + +(u > 0);
    }
  }
}

/** Validator trust of permitted rows without active stake (not in the columns): Σ min(w_ij, C_j). */
function inactiveValidatorTrust(
  m: SparseU16,
  W: Columns,
  n: number,
  A: Float64Array,
  consensus: Float64Array,
  lastUpdate: Float64Array | undefined,
  registeredAt: Float64Array | undefined,
  validatorTrust: Float64Array,
): void {
  const { rowPtr, cols, vals } = m;
  const outdatedMask = lastUpdate !== undefined && registeredAt !== undefined;
  for (let i = 0; i < n; i++) {
    const sum = W.rowSum[i]!;
    if (A[i]! > 0 || sum === 0) continue;
    const lu = outdatedMask ? lastUpdate[i]! : 0;
    let vt = 0;
    for (let e = rowPtr[i]!; e < rowPtr[i + 1]!; e++) {
      const j = cols[e]!;
      const v = vals[e]!;
      if (j >= n || v === 0 || j === i || (outdatedMask && lu <= registeredAt[j]!)) continue;
      const w = v / sum;
      const c = consensus[j]!;
      vt += w > c ? c : w;
    }
    validatorTrust[i] = vt;
  }
}

/**
 * With the EMA block column-normalized: dividends D = B·I (normalized); the stored bonds are its
 * u16 image U (column-max-upscaled, floor(x · 65535)) for rows with a new permit, zero entries left
 * out, rows in uid order and each row's uids ascending.
 */
function finishBonds(
  B: Float64Array,
  U: Uint16Array,
  perSlot: Uint32Array,
  m: number,
  n: number,
  bondRows: readonly number[],
  incentive: Float64Array,
  newPermit: Uint8Array,
): { dividends: Float64Array; bonds: SparseU16 } {
  const d = new Float64Array(m);
  for (let j = 0; j < n; j++) {
    const inc = incentive[j]!;
    if (inc === 0) continue; // would add exact zeros
    const col = j * m;
    for (let r = 0; r < m; r++) d[r] = d[r]! + B[col + r]! * inc;
  }
  const dividends = new Float64Array(n);
  for (let r = 0; r < m; r++) dividends[bondRows[r]!] = d[r]!;
  normalizeInPlace(dividends);

  // Rows with a new permit keep their non-zero entries (perSlot counts them), filled column by column.
  const stored = new Uint8Array(m);
  for (let r = 0; r < m; r++) stored[r] = newPermit[bondRows[r]!]!;
  const outPtr = new Uint32Array(n + 1);
  const cursor = new Uint32Array(m);
  for (let i = 0, r = 0; i < n; i++) {
    let c = 0;
    if (r < m && bondRows[r] === i) {
      cursor[r] = outPtr[i]!;
      c = stored[r] === 1 ? perSlot[r]! : 0;
      r++;
    }
    outPtr[i + 1] = outPtr[i]! + c;
  }
  const nnz = outPtr[n]!;
  const outCols = new Uint16Array(nnz);
  const outVals = new Uint16Array(nnz);
  for (let j = 0; j < n; j++) {
    const col = j * m;
    for (let r = 0; r < m; r++) {
      const u = U[col + r]!;
      if (u > 0 && stored[r] === 1) {
        const at = cursor[r]!;
        outCols[at] = j;
        outVals[at] = u;
        cursor[r] = at + 1;
      }
    }
  }
  return { dividends, bonds: { rowPtr: outPtr, cols: outCols, vals: outVals } };
}

/** The amounts per uid: server and validator parts (see the module comment, step 8). */
function splitEmission(
  E: bigint,
  n: number,
  incentive: Float64Array,
  dividends: Float64Array,
  A: Float64Array,
  S: Float64Array,
  bps: number | undefined,
): { server: bigint[]; validator: bigint[] } {
  const zeros = () => new Array<bigint>(n).fill(0n);
  if (n === 0) {
    if (E !== 0n) throw new RangeError("an emission for a Brain without uids");
    return { server: [], validator: [] };
  }
  let sumI = 0;
  let sumD = 0;
  let sumID = 0;
  for (let i = 0; i < n; i++) {
    sumI += incentive[i]!;
    sumD += dividends[i]!;
    sumID += incentive[i]! + dividends[i]!;
  }
  if (sumID === 0) return { server: zeros(), validator: apportion(E, fallbackShares(n, A, S)) };
  if (bps === undefined) {
    const slots = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      slots[2 * i] = incentive[i]! / sumID;
      slots[2 * i + 1] = dividends[i]! / sumID;
    }
    const parts = apportion(E, slots);
    const server: bigint[] = new Array<bigint>(n);
    const validator: bigint[] = new Array<bigint>(n);
    for (let i = 0; i < n; i++) {
      server[i] = parts[2 * i]!;
      validator[i] = parts[2 * i + 1]!;
    }
    return { server, validator };
  }
  let serverPot = (E * BigInt(bps)) / 10_000n;
  if (sumI === 0) serverPot = 0n;
  else if (sumD === 0) serverPot = E;
  const validatorPot = E - serverPot;
  return {
    server: serverPot === 0n ? zeros() : apportion(serverPot, incentive),
    validator: validatorPot === 0n ? zeros() : apportion(validatorPot, dividends),
  };
}

/** Without incentive or dividends: by active stake, else by stake, else equally. */
function fallbackShares(n: number, A: Float64Array, S: Float64Array): Float64Array {
  for (const v of [A, S]) {
    for (let i = 0; i < n; i++) if (v[i]! > 0) return v;
  }
  return new Float64Array(n).fill(1 / n);
}
