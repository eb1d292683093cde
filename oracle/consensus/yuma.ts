/**
 * Yuma consensus for one Brain and one epoch (docs/architecture.md §4): a pure, deterministic function of
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
 * Layout (for speed; bench/yuma-bench.ts). The working rows (slots) are the uids with active stake
 * or last epoch's bonds, in uid order. The per-weight passes (masks, consensus, clipping, ranks,
 * trust, the bonds EMA, dividends and the stored bonds) run in a core (./yuma-core.ts): WebAssembly
 * by default (./yuma-core-wasm.ts), or the same passes in JavaScript (./yuma-core-js.ts), with
 * identical results; each describes its layout.
 *
 * Differences from subtensor, all below its own fixed-point noise: doubles instead of I32F32
 * (subtensor truncates at 2^−32, so its bonds drift down by about one u16 step per epoch; here
 * values agree within one u16 step and emissions within 10⁻⁴ per uid on its epoch scenarios), the
 * exact largest-remainder split instead of flooring each part, the subnet owner's self-weight
 * exception and commit-reveal masks are not modelled (BasedAI's Consensus contract reveals).
 */
import { apportion, sigmoidDet } from "./math";
import { type EpochCore, type SparseU16 } from "./yuma-core";
import { createJsCore } from "./yuma-core-js";
import { createWasmCore } from "./yuma-core-wasm";

export type { SparseU16 };

// ───────────────────────────────────────────── types ─────────────────────────────────────────────

/** One sparse matrix entry: a uid and a u16 value. */
export type U16Entry = readonly [uid: number, value: number];

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

/** How to run an epoch (never what it computes: every engine gives the same bits). */
export interface YumaOptions {
  /** "wasm" (default): the WebAssembly core; "js": the JavaScript core it is tested against. */
  engine?: "wasm" | "js";
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
  const { rowPtr, cols, vals } = m;
  const n = rowPtr.length - 1;
  const rows: [number, number][][] = new Array<[number, number][]>(n);
  for (let i = 0; i < n; i++) {
    const from = rowPtr[i]!;
    const to = rowPtr[i + 1]!;
    // Sized up front: the rows of a full Brain hold 458k tuples, and growing them costs more.
    const row: [number, number][] = new Array<[number, number]>(to - from);
    for (let k = from; k < to; k++) row[k - from] = [cols[k]!, vals[k]!];
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

// Plain loops: Array.from over a typed array goes through the iterator protocol, ten times slower.
function numbers(x: Float64Array): number[] {
  const out = new Array<number>(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]!;
  return out;
}
function flags(x: Uint8Array): boolean[] {
  const out = new Array<boolean>(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] === 1;
  return out;
}

function normalizeInPlace(x: Float64Array): void {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i]!;
  if (sum === 0) return;
  for (let i = 0; i < x.length; i++) x[i] = x[i]! / sum;
}

// ────────────────────────────────────────── the epoch ──────────────────────────────────────────

/** One Yuma epoch on rows of [uid, u16] (see the module comment). */
export function yumaEpoch(input: YumaInput, options: YumaOptions = {}): YumaOutput {
  const n = input.stake.length;
  if (input.weights.length !== n)
    throw new RangeError(`weights has ${input.weights.length} rows, expected ${n}`);
  if (input.bonds !== undefined && input.bonds.length !== n) {
    throw new RangeError(`bonds has ${input.bonds.length} rows, expected ${n}`);
  }
  const { weights, bonds, ...rest } = input;
  const out = yumaEpochPacked(
    {
      ...rest,
      weights: toSparse(weights, "weights"),
      bonds: bonds === undefined ? undefined : toSparse(bonds, "bonds"),
    },
    options,
  );
  return { ...out, bonds: fromSparse(out.bonds) };
}

/** One Yuma epoch on packed (compressed-row) weights and bonds: the same engine without the tuples. */
export function yumaEpochPacked(input: YumaPackedInput, options: YumaOptions = {}): YumaPackedOutput {
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

  // ── the working rows (slots): those with active stake or last epoch's bonds, in uid order ──
  const oldBonds = input.bonds;
  const slot = new Int32Array(n).fill(-1);
  let K = 0;
  for (let i = 0; i < n; i++) {
    if (A[i]! > 0 || (oldBonds !== undefined && oldBonds.rowPtr[i + 1]! > oldBonds.rowPtr[i]!)) slot[i] = K++;
  }
  const rowOf = new Int32Array(K);
  for (let i = 0; i < n; i++) if (slot[i]! >= 0) rowOf[slot[i]!] = i;

  // ── per weight: masks, row sums, consensus, clipping, ranks, trust, the bonds EMA (./yuma-core.ts) ──
  const core: EpochCore = options.engine === "js" ? createJsCore() : createWasmCore();
  const { rowSum, consensus, R, preranks, slotTrust } = core.columns({
    n,
    K,
    weights: input.weights,
    oldBonds,
    permit,
    A,
    slot,
    rowOf,
    mass,
    massTotal,
    kappa,
    penalty,
    alpha: 1 - bma,
    lastUpdate,
    registeredAt,
    resetColumn: recentlyRegistered(n, registeredAt, currentBlock, tempo),
  });
  const validatorTrust = new Float64Array(n);
  for (let k = 0; k < K; k++) validatorTrust[rowOf[k]!] = slotTrust[k]!;
  inactiveValidatorTrust(input.weights, rowSum, n, A, consensus, lastUpdate, registeredAt, validatorTrust);
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
  const { dividends, bonds } = core.finish(incentive, newPermit);
  normalizeInPlace(dividends);

  // ── emission ──
  const { server, validator } = splitEmission(E, n, incentive, dividends, A, S, bps);
  const emission: bigint[] = new Array<bigint>(n);
  for (let i = 0; i < n; i++) emission[i] = server[i]! + validator[i]!;

  return {
    emission,
    serverEmission: server,
    validatorEmission: validator,
    incentive: numbers(incentive),
    dividends: numbers(dividends),
    consensus: numbers(consensus),
    trust: numbers(trust),
    validatorTrust: numbers(validatorTrust),
    rank: numbers(rank),
    consensusFactor: numbers(consensusFactor),
    validatorPermit: flags(newPermit),
    active: flags(active),
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

/** Validator trust of permitted rows without active stake (not in the block): Σ min(w_ij, C_j). */
function inactiveValidatorTrust(
  m: SparseU16,
  rowSum: Float64Array,
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
    const sum = rowSum[i]!;
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
