/**
 * How a validator turns what it observed of a Brain's miners into weights (docs/architecture.md §3, §5).
 * Pure: no I/O, no clock; the same observations and state give the same scores and weights.
 *
 * == Observations (one round, per miner) ==
 * canaries {ok, wrong, failed}: the validator's own prompts this miner served; `wrong` = an answer
 *   that is not the model's, `failed` = no answer (error or timeout).
 * replays {match, mismatch}: real jobs re-evaluated by the validator; evaluation is deterministic,
 *   so any mismatch is a wrong result.
 * latenciesMs: what the validator waited per generated token on its canaries.
 * available: the gateway saw the miner pull work recently, or it served a canary.
 *
 * == One round ==
 *   good = ok + match, bad = wrong + mismatch, answered = ok + wrong, tried = answered + failed
 *   correctness c = bad > 0 ? CAUGHT · good / (good + bad)      (≤ 0.05: one wrong answer costs ≥ 95 %)
 *                 : good > 0 ? 1 : unknown
 *   availability a = available ? (tried > 0 ? answered / tried : 1) : 0
 *   latency l = min(1, M / m): m = the miner's median latency, M = the median of every observed
 *               miner's median (at or faster than the median: 1; twice as slow: 0.5); unknown
 *               when the miner has no latency this round.
 *
 * == Across rounds (state carried: an EMA of each part, rate α) ==
 *   C ← bad > 0 ? c                       (trust is lost at once: no averaging with the past)
 *       c known ? C + α·(c − C) (C starts at c) : C (unchanged)
 *   A ← A + α·(a − A)                     (starts at a)
 *   L ← L + α·(l − L) when l is known     (starts at l)
 *
 * == Score and weights ==
 *   score = C' · A · (½ + ½·L')  ∈ [0, 1], C' = C or UNVERIFIED (½) before any check, L' = L or 1
 *   So correctness dominates (a caught miner stays below 0.05 while an equally available honest
 *   one is at least ¼·A), then availability (a factor), then latency (at most halves the score).
 *   A miner never observed has no state and scores 0.
 *   weight_j = round(65535 · score_j / max_k score_k) over the Brain's miners (all 0 when nobody
 *   scored), so the best miner gets 65535: Consensus normalises rows itself.
 */
import type { Address } from "viem";
import { MAX_WEIGHT } from "../../protocol/report";

/** What a validator observed of one miner in one round. */
export type MinerObservation = {
  canaries: { ok: number; wrong: number; failed: number };
  replays: { match: number; mismatch: number };
  /** Milliseconds per generated token of the canaries it served. */
  latenciesMs: number[];
  available: boolean;
};

/** One miner's carried state (the EMAs). */
export type MinerState = {
  /** Correctness EMA; null until a canary or replay checked this miner. */
  correctness: number | null;
  availability: number;
  /** Latency factor EMA; null until a latency was measured. */
  latency: number | null;
  /** Rounds this miner was observed in. */
  rounds: number;
};

/** Scoring state by miner address (lowercase keys are not assumed: addresses are checksummed). */
export type ScoringState = Record<Address, MinerState>;

export type ScoringParams = {
  /** EMA rate per round. */
  alpha: number;
};

export const DEFAULT_SCORING: ScoringParams = { alpha: 0.25 };

/** The most a round with a wrong answer leaves of correctness. */
export const CAUGHT = 0.05;
/** Correctness of a miner no check has reached yet. */
export const UNVERIFIED = 0.5;

export function emptyObservation(): MinerObservation {
  return {
    canaries: { ok: 0, wrong: 0, failed: 0 },
    replays: { match: 0, mismatch: 0 },
    latenciesMs: [],
    available: false,
  };
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const finitePositive = (xs: readonly number[]) => xs.filter((x) => Number.isFinite(x) && x > 0);

/** Whether an observation says anything at all about the miner. */
export function observed(o: MinerObservation): boolean {
  const { canaries: k, replays: r } = o;
  return o.available || k.ok + k.wrong + k.failed + r.match + r.mismatch > 0 || o.latenciesMs.length > 0;
}

/** One round's parts per miner (see the file comment); null = unknown this round. */
export type RoundParts = {
  correctness: number | null;
  caught: boolean;
  availability: number;
  latency: number | null;
};

export function roundParts(
  observations: Readonly<Record<Address, MinerObservation>>,
): Record<Address, RoundParts> {
  const medians = new Map<Address, number>();
  for (const [miner, o] of Object.entries(observations) as [Address, MinerObservation][]) {
    const lat = finitePositive(o.latenciesMs);
    if (lat.length > 0) medians.set(miner, median(lat));
  }
  const overall = medians.size > 0 ? median([...medians.values()]) : 0;
  const out: Record<Address, RoundParts> = {};
  for (const [miner, o] of Object.entries(observations) as [Address, MinerObservation][]) {
    if (!observed(o)) continue;
    const good = o.canaries.ok + o.replays.match;
    const bad = o.canaries.wrong + o.replays.mismatch;
    const answered = o.canaries.ok + o.canaries.wrong;
    const tried = answered + o.canaries.failed;
    const m = medians.get(miner);
    out[miner] = {
      correctness: bad > 0 ? (CAUGHT * good) / (good + bad) : good > 0 ? 1 : null,
      caught: bad > 0,
      // Serving anything shows the miner was there, whatever the gateway's view says.
      availability: o.available || answered > 0 ? (tried > 0 ? answered / tried : 1) : 0,
      latency: m === undefined ? null : Math.min(1, overall / m),
    };
  }
  return out;
}

/** Folds one round's observations into the state (a new object; the input is not changed). */
export function updateScores(
  state: Readonly<ScoringState>,
  observations: Readonly<Record<Address, MinerObservation>>,
  params: ScoringParams = DEFAULT_SCORING,
): ScoringState {
  const { alpha } = params;
  if (!(alpha > 0 && alpha <= 1)) throw new RangeError(`the EMA rate must be in (0, 1], not ${alpha}`);
  const ema = (prev: number, x: number) => prev + alpha * (x - prev);
  const parts = roundParts(observations);
  const next: ScoringState = { ...state };
  for (const [miner, prev] of Object.entries(state) as [Address, MinerState][]) {
    // Not observed this round: it was not there.
    if (!parts[miner]) next[miner] = { ...prev, availability: ema(prev.availability, 0) };
  }
  for (const [miner, p] of Object.entries(parts) as [Address, RoundParts][]) {
    const prev = state[miner];
    let correctness = prev?.correctness ?? null;
    if (p.caught) correctness = p.correctness;
    else if (p.correctness !== null)
      correctness = correctness === null ? p.correctness : ema(correctness, p.correctness);
    const latency =
      p.latency === null
        ? (prev?.latency ?? null)
        : prev?.latency == null
          ? p.latency
          : ema(prev.latency, p.latency);
    next[miner] = {
      correctness,
      availability: prev ? ema(prev.availability, p.availability) : p.availability,
      latency,
      rounds: (prev?.rounds ?? 0) + 1,
    };
  }
  return next;
}

/** A miner's score in [0, 1] from its state (0 when never observed). */
export function scoreOf(s: MinerState | undefined): number {
  if (!s) return 0;
  const c = s.correctness ?? UNVERIFIED;
  const l = s.latency ?? 1;
  const score = c * s.availability * (0.5 + 0.5 * l);
  return Math.min(1, Math.max(0, score));
}

export type MinerWeight = { uid: number; miner: Address; score: number; weight: number };

/**
 * Scores and u16 weights for the Brain's miners (`miners`: uid and account, from the Network
 * contract), in uid order. The best miner gets 65535; all weights are 0 when nobody scored.
 */
export function weightsFor(
  state: Readonly<ScoringState>,
  miners: readonly { uid: number; account: Address }[],
): MinerWeight[] {
  const byKey = new Map(Object.entries(state).map(([a, s]) => [a.toLowerCase(), s]));
  const scored = [...miners]
    .sort((a, b) => a.uid - b.uid)
    .map((m) => ({ uid: m.uid, miner: m.account, score: scoreOf(byKey.get(m.account.toLowerCase())) }));
  const max = scored.reduce((a, m) => Math.max(a, m.score), 0);
  return scored.map((m) => ({
    ...m,
    weight: max > 0 ? Math.min(MAX_WEIGHT, Math.round((MAX_WEIGHT * m.score) / max)) : 0,
  }));
}

/**
 * The weights to commit: nonzero ones only, the `maxWeights` largest when there are more (ties:
 * lower uid first), back in uid order.
 */
export function weightsToCommit(
  weights: readonly MinerWeight[],
  maxWeights: number,
): { uids: number[]; weights: number[] } {
  const kept = weights
    .filter((w) => w.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.uid - b.uid)
    .slice(0, Math.max(0, maxWeights))
    .sort((a, b) => a.uid - b.uid);
  return { uids: kept.map((w) => w.uid), weights: kept.map((w) => w.weight) };
}
