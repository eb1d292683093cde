/**
 * The validator service (docs/architecture.md §3 "Consensus", §5 "verification"): a thin shell around the
 * pure scoring rule (scoring.ts), with two loops:
 *
 * - rounds: canaries sent at random moments (gaps of mean `canaryIntervalMs` shaped like the gaps
 *   between the Brain's users' requests, else exponential: no period a miner could lock onto),
 *   sized like the users' requests (canary-shape.ts, from ComputeMarket's `RequestOpened` history,
 *   re-read every few rounds), with keys rotated by the users' policy; replays of a random sample
 *   of completed jobs, and
 *   the gateway's view of who is polling; each round's observations update the scoring EMAs,
 *   which are saved in the state file;
 * - weights: each epoch, first reveal the previous epoch's commitment as soon as Consensus allows
 *   it (a new commitment would replace it), then commit the current weights. The salt and the
 *   weights are written to the state file before the commitment is sent, so a restart can still
 *   reveal (state.ts).
 *
 * Logs carry miners, verdicts, counts and timings: never a prompt, a token or a ciphertext.
 * Aborting the signal stops both loops after what they are doing (a canary between two jobs);
 * `runValidator` resolves once everything is closed.
 */
import { setTimeout as delay } from "node:timers/promises";
import fs from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import { type Address, type LocalAccount, getAddress } from "viem";
import { commitHash } from "../../protocol/report";
import type { InferenceMode } from "../../protocol/schemas";
import { economyContracts } from "../../sdk/economy";
import { BasedError, errorLine } from "../../sdk/errors";
import { GatewayClient, type SignerOptions } from "../../sdk/gateway-client";
import { consensusAbi } from "../../protocol/generated/abis";
import { getMembers } from "../../sdk/network";
import {
  type Committed,
  type EpochTiming,
  type Revealed,
  commitWeights,
  getEpochPosition,
  getEpochTiming,
  getPendingCommit,
  packWeightsInput,
  randomSalt,
  revealState,
  revealWeights,
  validatorUid,
} from "../../sdk/weights";
import { DEFAULT_KEY_ROTATION, type KeyRotation, formatKeyRotation } from "../../sdk/key-rotation";
import { getRequestHistory } from "../../sdk/request-history";
import { type CanaryOutcome, CanaryPrompts, type Reference, createReference, runCanary } from "./canary";
import {
  type CanaryShape,
  type CanarySize,
  type GapSampler,
  type SizeSampler,
  USER_LIKE_SHAPE,
  gapsFromHistory,
  jitteredGap,
  shapeFromHistory,
} from "./canary-shape";
import { type ReplayOutcome, Replayer, replaySamples } from "./replay";
import {
  DEFAULT_SCORING,
  type MinerObservation,
  type ScoringParams,
  emptyObservation,
  scoreOf,
  updateScores,
  weightsFor,
  weightsToCommit,
} from "./scoring";
import { type ValidatorState, ValidatorStateFile } from "./state";
import { type ChainContext, signerOf } from "../../sdk/chain";

// ─────────────────────────────────────────── one round ──────────────────────────────────────────

export type RoundDeps = {
  gatewayUrl: string;
  /** The validator's key and the gateway's domain (replays and miner stats are members-only). */
  signer: SignerOptions;
  brainId: number;
  reference: Reference;
  prompts: CanaryPrompts;
  /** Encrypted Brains only: plain jobs have nothing to replay. */
  replayer?: Replayer;
  /** The validator's canary keystore. */
  keystoreDir: string;
  /** When canaries make a fresh key set: the users' policy (default DEFAULT_KEY_ROTATION). */
  keyRotation?: KeyRotation;
  /** The size of the next canary (default: drawn from `prompts`' shape). */
  sizes?: () => CanarySize;
  canaries: number;
  replays: number;
  /** Milliseconds to wait before each canary (default: none). */
  gapMs?: () => number;
  /** The Brain's registered miners: each gets an observation, seen or not. */
  miners?: readonly Address[];
  /** A miner that polled the gateway this recently counts as available. */
  availabilityWindowMs?: number;
  jobTimeoutMs?: number;
  /** Job ids replayed already (kept across rounds by the service). */
  seen?: Set<string>;
  signal?: AbortSignal;
  log: Logger;
};

export type RoundReport = {
  observations: Record<Address, MinerObservation>;
  canaries: CanaryOutcome[];
  replays: ReplayOutcome[];
};

/** Runs one round of checks and returns what it observed of each miner (nothing is scored here). */
export async function runRound(deps: RoundDeps): Promise<RoundReport> {
  const { log, signal } = deps;
  const gateway = new GatewayClient({ url: deps.gatewayUrl, ...(signal ? { signal } : {}) });
  const observations: Record<Address, MinerObservation> = {};
  const of = (miner: Address) => (observations[getAddress(miner)] ??= emptyObservation());
  for (const m of deps.miners ?? []) of(m);

  const canaries: CanaryOutcome[] = [];
  for (let i = 0; i < deps.canaries; i++) {
    await sleep(deps.gapMs?.() ?? 0, signal);
    signal?.throwIfAborted();
    const prompt = deps.prompts.draw(deps.sizes?.());
    const c = await runCanary({
      gatewayUrl: deps.gatewayUrl,
      brainId: deps.brainId,
      reference: deps.reference,
      prompt,
      keystoreDir: deps.keystoreDir,
      ...(deps.keyRotation !== undefined ? { keyRotation: deps.keyRotation } : {}),
      ...(deps.jobTimeoutMs !== undefined ? { jobTimeoutMs: deps.jobTimeoutMs } : {}),
      ...(signal ? { signal } : {}),
    });
    canaries.push(c);
    const line = {
      outcome: c.outcome,
      miners: c.miners,
      promptTokens: c.promptTokens,
      maxTokens: c.maxTokens,
    };
    if (c.outcome === "ok") log.info({ ...line, msPerToken: round1(c.msPerToken) }, "canary answered");
    else log.warn({ ...line, reason: c.reason }, `canary ${c.outcome}`);
    for (const m of c.miners) {
      const o = of(m);
      if (c.outcome === "ok") {
        o.canaries.ok++;
        if (c.msPerToken !== undefined && c.miners.length === 1) o.latenciesMs.push(c.msPerToken);
      } else if (c.outcome === "wrong") o.canaries.wrong++;
      else if (c.outcome === "failed") o.canaries.failed++;
      if (c.outcome === "ok" || c.outcome === "wrong") o.available = true;
    }
  }

  let replays: ReplayOutcome[] = [];
  if (deps.replayer && deps.replays > 0) {
    if (deps.canaries === 0) await sleep(deps.gapMs?.() ?? 0, signal);
    try {
      replays = await replaySamples({
        gateway,
        signer: deps.signer,
        replayer: deps.replayer,
        count: deps.replays,
        ...(deps.seen ? { seen: deps.seen } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      signal?.throwIfAborted();
      log.warn({ err: firstLine(err) }, "could not fetch samples to replay");
    }
    for (const r of replays) {
      if (r.verdict === "skipped") {
        log.debug({ job: r.jobId, miner: r.miner, step: r.step, reason: r.reason }, "replay skipped");
        continue;
      }
      const o = of(r.miner);
      if (r.verdict === "match") o.replays.match++;
      else {
        o.replays.mismatch++;
        log.warn(
          { job: r.jobId, miner: r.miner, step: r.step },
          "replay mismatch: the miner's outputs are not the step's",
        );
      }
    }
  }

  try {
    const window = deps.availabilityWindowMs ?? 60_000;
    const stats = await gateway.minerStats(deps.signer);
    const now = Date.now();
    for (const s of stats) if (now - s.lastSeen <= window) of(s.address).available = true;
  } catch (err) {
    signal?.throwIfAborted();
    log.warn(
      { err: firstLine(err) },
      "could not read the gateway's miner stats; availability from canaries only",
    );
  }
  return { observations, canaries, replays };
}

// ─────────────────────────────────────────── weights ────────────────────────────────────────────

export type WeightsDeps = {
  based: ChainContext;
  brainId: number;
  /** The validator's uid in the Brain. */
  uid: number;
  timing: EpochTiming;
  state: ValidatorState;
  stateFile: ValidatorStateFile;
  log: Logger;
  /** Do not commit when fewer blocks than this are left in the epoch after the next one (default 1). */
  minBlocksLeft?: bigint;
};

export type SettleResult = { revealed?: Revealed; committed?: Committed; dropped?: string };

/** Codes of a reveal refusal that waiting will not cure. */
const HOPELESS_REVEAL = new Set([
  "CommitMismatch",
  "NoCommit",
  "RevealTooLate",
  "UnknownUid",
  "MalformedWeights",
  "UidsNotAscending",
  "TooManyWeights",
]);

/**
 * One step of the weights schedule (the service calls it every few seconds): reveal the pending
 * commitment once its reveal is due, then commit the current weights once per epoch. `deps.state`
 * is updated and saved as it goes.
 */
export async function settleWeights(deps: WeightsDeps): Promise<SettleResult> {
  const { based, brainId, state, log } = deps;
  const save = () => deps.stateFile.write(state);
  const out: SettleResult = {};
  const pos = await getEpochPosition(based, deps.timing);

  const c = state.commit;
  if (c) {
    const epoch = BigInt(c.epoch);
    const when = revealState(epoch, pos.epoch);
    const onChain = async () => {
      const chain = await getPendingCommit(based, brainId, deps.uid);
      return chain !== null && chain.epoch === epoch && chain.hash.toLowerCase() === c.hash.toLowerCase();
    };
    if (epoch > pos.epoch) {
      // A state file from another chain (a devnet that was restarted): its commitment means nothing here.
      out.dropped = `the stored commitment is for epoch ${epoch}, after the chain's ${pos.epoch}`;
      log.warn({ epoch: c.epoch, chainEpoch: pos.epoch.toString() }, "dropping a commitment from the future");
      state.commit = null;
      save();
    } else if (when === "early") {
      // Sent before a restart or an error: find out whether it landed.
      if (c.status === "sending") {
        if (await onChain()) {
          c.status = "committed";
          save();
        } else {
          out.dropped = `the commitment of epoch ${epoch} never landed`;
          state.commit = null;
          save();
        }
      }
      if (state.commit) return out;
    } else if (when === "expired") {
      out.dropped = `the reveal window of epoch ${epoch}'s commitment closed at block ${deps.timing.genesisBlock + (epoch + 2n) * deps.timing.tempo}`;
      log.warn({ epoch: c.epoch }, "missed a reveal: its window closed");
      state.commit = null;
      save();
    } else if (!(await onChain())) {
      out.dropped = `the commitment of epoch ${epoch} is not on chain (never landed, or replaced)`;
      log.warn({ epoch: c.epoch }, "nothing to reveal: the commitment is not on chain");
      state.commit = null;
      save();
    } else {
      try {
        out.revealed = await revealWeights(based, {
          brainId,
          uids: c.uids,
          weights: c.weights,
          salt: c.salt,
        });
        log.info(
          {
            epoch: c.epoch,
            weights: c.uids.length,
            block: out.revealed.blockNumber.toString(),
            tx: out.revealed.transactionHash,
          },
          "weights revealed",
        );
        state.commit = null;
        state.lastRevealed = c.epoch;
        save();
      } catch (err) {
        if (!(err instanceof BasedError && HOPELESS_REVEAL.has(err.code))) throw err;
        out.dropped = `the reveal was refused: ${err.code}`;
        log.error({ epoch: c.epoch, code: err.code, err: err.message }, "the weights reveal was refused");
        state.commit = null;
        save();
      }
    }
  }

  if (pos.blocksLeft < (deps.minBlocksLeft ?? 1n)) return out;
  const [members, maxWeights] = await Promise.all([
    getMembers(based, brainId),
    based.publicClient.readContract({
      address: economyContracts(based).Consensus,
      abi: consensusAbi,
      functionName: "maxWeights",
    }),
  ]);
  const { uids, weights } = weightsToCommit(weightsFor(state.scores, members.miners.list), maxWeights);
  if (uids.length === 0) {
    log.debug({ epoch: pos.epoch.toString() }, "no miner has a score yet: nothing to commit");
    return out;
  }
  const salt = randomSalt();
  const validator = signerOf(based);
  const hash = commitHash(
    BigInt(brainId),
    validator,
    pos.epoch,
    packWeightsInput({ uids, weights, salt }),
    salt,
  );
  state.commit = { epoch: pos.epoch.toString(), uids, weights, salt, hash, status: "sending" };
  save();
  try {
    out.committed = await commitWeights(based, { brainId, uids, weights, salt, epoch: pos.epoch });
    state.commit.status = "committed";
    save();
    log.info(
      {
        epoch: state.commit.epoch,
        weights: Object.fromEntries(uids.map((u, i) => [u, weights[i]])),
        tx: out.committed.transactionHash,
      },
      "weights committed",
    );
  } catch (err) {
    const landed = await getPendingCommit(based, brainId, deps.uid).catch(() => null);
    if (landed && landed.hash.toLowerCase() === hash.toLowerCase() && landed.epoch === pos.epoch) {
      state.commit.status = "committed";
      save();
      return out;
    }
    state.commit = null;
    save();
    if (err instanceof BasedError && err.code === "CommitEpochMoved") {
      log.warn({ epoch: pos.epoch.toString() }, "the commitment landed in the next epoch; committing again");
      return out;
    }
    throw err;
  }
  return out;
}

// ─────────────────────────────────────────── the service ─────────────────────────────────────────

export type ValidatorOptions = {
  /** The BasedAI chain, signing as the validator (a local key). */
  based: ChainContext;
  brainId: number;
  gatewayUrl: string;
  /** The Brain's task model, resolved and verified. */
  modelDir: string;
  /** How the Brain's users prompt it: encrypted when its ZK mode is on. */
  mode: InferenceMode;
  stateDir: string;
  /** Mean gap between canaries (shaped like users' gaps, else exponential). Default 60 s. */
  canaryIntervalMs?: number;
  canariesPerRound?: number;
  replaysPerRound?: number;
  /** Canary sizes when the Brain's request history is too short (default USER_LIKE_SHAPE). */
  shape?: CanaryShape;
  /**
   * Canary sizes and gaps: from the Brain's `RequestOpened` history (re-read every
   * `historyEveryRounds` rounds, default 10), or always the fallback (`"fallback"`: tests).
   */
  canaryHistory?: "chain" | "fallback";
  historyEveryRounds?: number;
  scoring?: ScoringParams;
  /** When canaries make a fresh key set: the same policy users have (default DEFAULT_KEY_ROTATION). */
  keyRotation?: KeyRotation;
  availabilityWindowMs?: number;
  /** How often the weights schedule looks at the chain. Default 2 s. */
  epochPollMs?: number;
  jobTimeoutMs?: number;
  /**
   * After the abort, how long the loops may take to finish what they are doing (default 10 s,
   * within the shell's shutdown bound); past it the validator stops without them.
   */
  stopGraceMs?: number;
  signal: AbortSignal;
  log: Logger;
};

/** Runs the validator until `signal` aborts; it returns at most `stopGraceMs` after the abort. */
export async function runValidator(options: ValidatorOptions): Promise<void> {
  const { based, brainId, signal, log } = options;
  const wallet = based.walletClient;
  if (!wallet || wallet.account.type !== "local") {
    throw new BasedError(
      "input",
      "NoKey",
      "The validator signs gateway requests and weights with a local key, and none is configured.",
      "Set BASED_PRIVATE_KEY (or privateKey in the config file).",
    );
  }
  const account = wallet.account as LocalAccount;
  const validator = getAddress(account.address);
  const [uid, timing] = await Promise.all([validatorUid(based, brainId, validator), getEpochTiming(based)]);
  const signer: SignerOptions = {
    account,
    domain: { chainId: based.chain.id, network: economyContracts(based).Network, brainId },
  };

  const stateFile = new ValidatorStateFile(options.stateDir, brainId, validator);
  const state = stateFile.read();
  const reference = await createReference(options.modelDir, options.mode);
  const replayer = options.mode === "encrypted" ? await Replayer.create(options.modelDir) : undefined;
  const shape = options.shape ?? USER_LIKE_SHAPE;
  const prompts = new CanaryPrompts(reference.tokenizer, reference.nPositions, shape);
  const keystoreDir = path.join(options.stateDir, "canary-keys");
  dropNumberedKeystores(keystoreDir);
  const keyRotation = options.keyRotation ?? DEFAULT_KEY_ROTATION;
  const seen = new Set<string>();
  const intervalMs = options.canaryIntervalMs ?? 60_000;
  const canariesPerRound = options.canariesPerRound ?? 3;
  const bucket = options.mode === "encrypted" ? reference.model.plan().buckets.prefill : 1;
  let canaryShape: { sizes: SizeSampler; gaps: GapSampler } | undefined;
  let shapedAtRound = -Infinity;
  /** Canary sizes and gaps from the Brain's users' requests, re-read every few rounds. */
  const shapeCanaries = async () => {
    if (canaryShape && state.rounds - shapedAtRound < (options.historyEveryRounds ?? 10)) return canaryShape;
    let history: Awaited<ReturnType<typeof getRequestHistory>> = [];
    if (options.canaryHistory !== "fallback") {
      try {
        history = await getRequestHistory(based, brainId);
      } catch (err) {
        signal.throwIfAborted();
        log.warn(
          { err: firstLine(err) },
          "could not read the Brain's request history; canaries use the fallback shape",
        );
      }
    }
    const sizes = shapeFromHistory(history, { bucket, nPositions: reference.nPositions, fallback: shape });
    const gaps = gapsFromHistory(history, intervalMs);
    log.info(
      {
        sizes: sizes.source,
        gaps: gaps.source,
        requests: history.length,
        usable: sizes.requests,
        dropped: sizes.dropped,
      },
      sizes.source === "history"
        ? "canaries shaped like the Brain's users' requests"
        : "too few user requests to shape canaries on: using the fallback shape",
    );
    shapedAtRound = state.rounds;
    canaryShape = { sizes, gaps };
    return canaryShape;
  };

  log.info(
    {
      brain: brainId,
      validator,
      uid,
      mode: options.mode,
      gateway: options.gatewayUrl,
      keyRotation: formatKeyRotation(keyRotation),
      canaryIntervalMs: intervalMs,
      canariesPerRound,
      stateFile: stateFile.file,
      rounds: state.rounds,
      pendingCommit: state.commit?.epoch ?? null,
      tempo: timing.tempo.toString(),
    },
    "validator ready",
  );

  const rounds = async () => {
    let failures = 0;
    while (!signal.aborted) {
      try {
        const miners = (await getMembers(based, brainId)).miners.list.map((m) => m.account);
        const { sizes, gaps } = await shapeCanaries();
        const report = await runRound({
          gatewayUrl: options.gatewayUrl,
          signer,
          brainId,
          reference,
          prompts,
          ...(replayer ? { replayer } : {}),
          keystoreDir,
          keyRotation,
          sizes: () => sizes.draw(),
          canaries: canariesPerRound,
          replays: options.replaysPerRound ?? 4,
          gapMs: () => gaps.draw(),
          miners,
          ...(options.availabilityWindowMs !== undefined
            ? { availabilityWindowMs: options.availabilityWindowMs }
            : {}),
          ...(options.jobTimeoutMs !== undefined ? { jobTimeoutMs: options.jobTimeoutMs } : {}),
          seen,
          signal,
          log,
        });
        if (seen.size > 10_000) seen.clear();
        state.scores = updateScores(state.scores, report.observations, options.scoring ?? DEFAULT_SCORING);
        state.rounds++;
        stateFile.write(state);
        failures = 0;
        log.info(
          {
            round: state.rounds,
            canaries: report.canaries.length,
            replays: report.replays.filter((r) => r.verdict !== "skipped").length,
            scores: Object.fromEntries(
              Object.entries(state.scores).map(([m, s]) => [m, Math.round(scoreOf(s) * 1000) / 1000]),
            ),
          },
          "round scored",
        );
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        log.warn({ err: firstLine(err), failures }, "round failed; trying again");
        await sleep(Math.min(60_000, 1_000 * 2 ** Math.min(failures, 6)), signal);
      }
    }
  };

  const weights = async () => {
    const pollMs = options.epochPollMs ?? 2_000;
    let lastError = "";
    while (!signal.aborted) {
      try {
        await settleWeights({ based, brainId, uid, timing, state, stateFile, log });
        lastError = "";
      } catch (err) {
        const msg = firstLine(err);
        // One line per distinct trouble, not one every poll.
        if (msg !== lastError) log.warn({ err: msg }, "weights step failed; trying again");
        lastError = msg;
      }
      await sleep(pollMs, signal);
    }
  };

  // Gateway calls end at the abort (their client holds the signal); a chain call under way, or a
  // replay's arithmetic, is not waited on past the grace.
  const graceMs = options.stopGraceMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<"hung">((resolve) => {
    const start = () => (timer = setTimeout(() => resolve("hung"), graceMs));
    if (signal.aborted) start();
    else signal.addEventListener("abort", start, { once: true });
  });
  let outcome: "done" | "hung" = "done";
  try {
    outcome = await Promise.race([Promise.all([rounds(), weights()]).then(() => "done" as const), hung]);
  } finally {
    clearTimeout(timer);
    if (outcome === "hung") {
      // The reference and the replayer may still be in use: the process exits without closing them.
      log.warn({ graceMs }, "a check did not finish after the shutdown; stopping without it");
    } else {
      replayer?.close();
      await reference.close();
    }
    log.info({ rounds: state.rounds, pendingCommit: state.commit?.epoch ?? null }, "validator stopped");
  }
}

/**
 * Earlier validators kept one canary keystore per generation (`canary-keys/<n>/`), rotated every
 * 8 canaries; canaries now rotate by the users' policy in `canary-keys/` itself. Those sets are
 * rotated out: deleted.
 */
function dropNumberedKeystores(root: string): void {
  if (!fs.existsSync(root)) return;
  for (const f of fs.readdirSync(root)) {
    if (/^\d+$/.test(f)) fs.rmSync(path.join(root, f), { recursive: true, force: true });
  }
}

/** Gaps between canaries when users' gaps are too few to shape them on (canary-shape.ts). */
export { jitteredGap };

/** Waits `ms`, or less when `signal` aborts (never rejects). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(Math.max(0, ms), undefined, { signal }).catch(() => undefined);
}

const firstLine = (err: unknown) => errorLine(err, 300);

function round1(x: number | undefined): number | undefined {
  return x === undefined ? undefined : Math.round(x * 10) / 10;
}
