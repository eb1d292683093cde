/**
 * The user's side of a prompt to a Brain (docs/architecture.md §5): `based prompt`.
 *
 * Encrypted mode: the prompt is tokenized, embedded, normalised, attended and sampled here; only
 * the weight-bearing products travel, as CKKS ciphertexts under the user's own key, one gateway
 * job per plan step. The prompt text and its token ids never leave this process: the gateway and
 * the miner see ciphertexts, plan-step ids (which reveal only the bucket: 1 row, or a padded
 * prompt chunk) and the evaluation keys.
 *
 * Plain mode (a Brain with ZK off, or a user who asks for it): the token ids go to the miner as
 * one generation job.
 *
 * Browser-safe: the model comes in opened (zkllm/client.ts `openModel`) and the keys through
 * `openKeys`, so where they are kept (sdk/node/keystore.ts on a computer) is the caller's choice.
 */
import type { Address, Hex } from "viem";
import {
  type CloseSessionResult,
  type JobView,
  type BlobClaim,
  type SessionClaim,
  type SessionClaimFields,
  type SessionKeys,
  type SessionView,
  type SubmitJob,
  blobHash,
  decodeTokens,
  bytesOf,
  outputsHash,
} from "../protocol/gateway";
import type { InferenceMode } from "../protocol/schemas";
import {
  type CkksClient,
  DEFAULT_BUCKETS,
  type EnginePlan,
  type EvalKeyBlobs,
  type ParamSetId,
  type PlanLossiness,
  type Gpt2Tokenizer,
  type LinearBackend,
  type ServerCall,
  type TransferStats,
  type ZkllmModel,
  type ZkllmPlan,
  emptyStats,
  encryptedBackend,
  planLossiness,
} from "../zkllm/client";
import { BasedError } from "./errors";
import { GatewayError, type GatewayClient } from "./gateway-client";

export type PromptOptions = {
  gateway: GatewayClient;
  brainId: number;
  /** The Brain's task model, opened once (its weights and plan are needed in encrypted mode). */
  model: ZkllmModel;
  /** Text, or token ids already encoded with the model's tokenizer. */
  prompt: string | number[];
  maxTokens: number;
  mode: InferenceMode;
  /** The user's CKKS keys for the plan (encrypted prompts need them): on a computer, sdk/node/keystore.ts. */
  openKeys?: OpenKeys;
  /** The ComputeMarket request (decimal) that pays for this prompt's work (one request, one session). */
  requestId?: string;
  /**
   * Signs the session's claim on `requestId` as the request's account or an app it authorized
   * (sdk/market.ts `sessionClaimSigner`); required with `requestId`: the gateway refuses a paid
   * session without it.
   */
  signClaim?: (claim: SessionClaimFields) => Promise<Hex>;
  /** Stop after this token (default: the tokenizer's <|endoftext|>, when it has one). */
  eosId?: number;
  /** Called for every generated token as soon as it is known, with the text it adds. */
  onToken?: (id: number, text: string) => void;
  /** Progress: what is happening now ("uploading keys", "prompt pass", …). */
  onStep?: (detail: string) => void;
  /** Stops between jobs; the session is closed before the error is thrown. */
  signal?: AbortSignal;
  /** How long one job may take before the prompt gives up (default 10 minutes). */
  jobTimeoutMs?: number;
  /**
   * How long one gateway call may spend waiting out "not now" refusals (429, 503: rate limit, no
   * miner online) before the prompt gives up (default 60 s). Such refusals happen before anything
   * reaches a miner, so a shorter budget is invisible to miners.
   */
  retryBudgetMs?: number;
  /**
   * Encrypted mode only (opt-in): keep generating after the end-of-text token up to `maxTokens`
   * (or the context's end), so the gateway and the miner see as many passes as a full-length
   * answer and settlement counts them: the answer's length is hidden and paid for in full. What
   * came after the end-of-text token is dropped here. A plain prompt is refused with it: its miner
   * reads the answer.
   */
  pad?: boolean;
};

/**
 * A CKKS client holding the user's secret key, and the evaluation keys the plan needs (made with
 * it); `fresh` when the set was made for this prompt (sdk/key-rotation.ts), so no earlier prompt
 * shares its keys.
 */
export type PromptKeys = { client: CkksClient; evalKeys: EvalKeyBlobs; fresh?: boolean };
/** Opens (or makes) the keys for a parameter set and plan; the prompt deletes the client when done. */
export type OpenKeys = (paramSet: ParamSetId, plan: EnginePlan) => Promise<PromptKeys>;

export type PromptResult = {
  mode: InferenceMode;
  /** Generated token ids (an end-of-text token, if generated, is the last). */
  ids: number[];
  /** Their text (without an end-of-text token). */
  text: string;
  promptIds: number[];
  sessionId: string;
  /** Who served the session's jobs, in order of first appearance. */
  miners: Address[];
  /** Compute units the gateway counted (a unit is a token). */
  units: { prompt: number; completion: number };
  close: CloseSessionResult;
  /** Bytes of evaluation keys uploaded (0 when the gateway had them already, and in plain mode). */
  keysUploaded: number;
  /**
   * Encrypted mode: whether the key set was made for this prompt (nothing links it to another
   * prompt by its keys); false for a kept set, null when `openKeys` does not say, and in plain mode.
   */
  freshKeys: boolean | null;
  /**
   * Generation passes run for the answer (the prompt pass included): `ids.length`, or with `pad`
   * every pass up to maxTokens. Plain mode: null (one generation job).
   */
  passes: number | null;
  /** Ciphertext traffic (encrypted mode). */
  transfer?: TransferStats;
  timings: {
    /** Tokenizer, keys, upload and session (before the first job). */
    setupMs: number;
    totalMs: number;
    /** Seconds per generated token after setup. */
    secondsPerToken: number;
  };
};

/**
 * Compute units a prompt is charged: its length rounded up to whole prefill buckets in encrypted
 * mode (the rows the miner really computes; an exact length on chain would also tell more than
 * the gateway can see), or its exact length in plain mode (`bucket` 1).
 */
export function promptUnits(promptIds: readonly number[], bucket: number = DEFAULT_BUCKETS.prefill): number {
  if (!Number.isInteger(bucket) || bucket < 1)
    throw new BasedError(
      "input",
      "InvalidArgument",
      `A bucket is a positive whole number of tokens, not ${bucket}.`,
    );
  return Math.ceil(promptIds.length / bucket) * bucket;
}

/** What a prompt needs from the model directory before anything goes out (for escrow sizing too). */
export type PreparedPrompt = {
  /** The model, opened once for the whole prompt. */
  model: ZkllmModel;
  tokenizer: Gpt2Tokenizer;
  promptIds: number[];
  /** The model's context in tokens. */
  nPositions: number;
  /** Prompt compute units for `mode`. */
  promptUnits: number;
  /**
   * Completion units the prompt may use: maxTokens within the context (the logits at the last
   * position still give one token, hence the + 1).
   */
  maxCompletionUnits: number;
  eosId: number | undefined;
  /**
   * Encrypted mode: whether the model's plan is lossy (the encrypted answer may then differ from
   * the plain one), why, and the agreement the converter measured. Null in plain mode.
   */
  plan: PlanLossiness | null;
};

/** Tokenizes and checks a prompt against the model (context, vocabulary) without contacting anyone. */
export function preparePrompt(
  model: ZkllmModel,
  prompt: string | number[],
  maxTokens: number,
  mode: InferenceMode,
  eosId?: number,
): PreparedPrompt {
  const { tokenizer, nPositions } = model;
  const promptIds = typeof prompt === "string" ? tokenizer.encode(prompt) : [...prompt];
  if (promptIds.length === 0) throw new BasedError("input", "EmptyPrompt", "The prompt is empty.");
  const bad = promptIds.find((id) => !Number.isInteger(id) || id < 0 || id >= tokenizer.vocabSize);
  if (bad !== undefined) {
    throw new BasedError(
      "input",
      "InvalidPrompt",
      `Token id ${bad} is outside the vocabulary (0..${tokenizer.vocabSize - 1}).`,
    );
  }
  if (promptIds.length > nPositions) {
    throw new BasedError(
      "input",
      "PromptTooLong",
      `The prompt is ${promptIds.length} tokens; the model's context is ${nPositions}.`,
      "Shorten the prompt.",
    );
  }
  if (!Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new BasedError(
      "input",
      "InvalidArgument",
      `maxTokens must be a positive integer, got ${maxTokens}.`,
    );
  }
  const plan = mode === "encrypted" ? planOrThrow(model) : undefined;
  return {
    model,
    tokenizer,
    promptIds,
    nPositions,
    promptUnits: promptUnits(promptIds, plan ? plan.buckets.prefill : 1),
    maxCompletionUnits: Math.min(maxTokens, nPositions - promptIds.length + 1),
    eosId: eosId ?? tokenizer.eotId,
    plan: plan ? planLossiness(plan) : null,
  };
}

/** Runs one prompt through the Brain's gateway and returns the answer. */
export async function runPrompt(options: PromptOptions): Promise<PromptResult> {
  const started = performance.now();
  const step = options.onStep ?? (() => {});
  const prepared = preparePrompt(
    options.model,
    options.prompt,
    options.maxTokens,
    options.mode,
    options.eosId,
  );
  if (options.pad && options.mode !== "encrypted") {
    throw new BasedError(
      "input",
      "PadNeedsEncryption",
      "Padding hides an answer's length from the miner of an encrypted prompt; a plain prompt's miner reads the answer itself, so there is nothing to hide.",
      "Send the prompt encrypted, or without padding.",
    );
  }
  const gateway = patientGateway(options.gateway, options.retryBudgetMs ?? RETRY_BUDGET_MS, options.signal);
  try {
    return options.mode === "encrypted"
      ? await runEncrypted({ ...options, gateway }, options.gateway, prepared, started, step)
      : await runPlain({ ...options, gateway }, options.gateway, prepared, started, step);
  } catch (err) {
    throw err instanceof GatewayError ? explainRefusal(err) : err;
  }
}

/** A gateway refusal as the user sees it: a refused request (4xx) or a gateway in trouble (5xx). */
function explainRefusal(err: GatewayError): BasedError {
  if (err.status >= 500 || err.status === 429) {
    return new BasedError(
      "environment",
      err.code,
      err.message,
      "The Brain's gateway is overloaded or has no miner online; try again shortly.",
    );
  }
  return new BasedError(
    "refused",
    err.code,
    err.message,
    "A gateway serves one Brain: check the Brain id and the gateway's address; the message says what it refused.",
    { refusedBy: "gateway", status: String(err.status) },
  );
}

/** Back-off after a 429 (rate limit) or 503 (no miner online, Redis away), never longer than this. */
const RETRY_MAX_MS = 5_000;
/** Total time one call may spend waiting out such refusals before the prompt gives up (default). */
const RETRY_BUDGET_MS = 60_000;

/**
 * The gateway client, retrying when the gateway says "not now" (429, 503): such requests are
 * refused before anything happens, so asking again cannot submit a job twice. An encrypted prompt
 * makes one request per plan step (two when a job outlasts the gateway's longest wait), and every client behind one address shares the gateway's
 * per-IP limit, so a busy limit is something to wait out, not a reason to fail.
 */
function patientGateway(gateway: GatewayClient, budgetMs: number, signal?: AbortSignal): GatewayClient {
  const retrying =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const started = Date.now();
      for (let tries = 1; ; tries++) {
        try {
          return await call(...args);
        } catch (err) {
          const busy = err instanceof GatewayError && (err.status === 429 || err.status === 503);
          if (!busy || Date.now() - started > budgetMs || signal?.aborted) throw err;
          const ms = Math.min(RETRY_MAX_MS, 100 * 2 ** tries);
          await pause(ms / 2 + Math.random() * (ms / 2), signal);
        }
      }
    };
  // waitForJob, inherited, long-polls through the patient getJob below.
  return Object.assign(Object.create(gateway) as GatewayClient, {
    hasBlob: retrying(gateway.hasBlob.bind(gateway)),
    putBlob: retrying(gateway.putBlob.bind(gateway)),
    openSession: retrying(gateway.openSession.bind(gateway)),
    closeSession: retrying(gateway.closeSession.bind(gateway)),
    submitJob: retrying(gateway.submitJob.bind(gateway)),
    // runJob, inherited, submits through the patient submitAndWait and long-polls through getJob.
    submitAndWait: retrying(gateway.submitAndWait.bind(gateway)),
    getJob: retrying(gateway.getJob.bind(gateway)),
  });
}

/** Waits `ms`; rejects with the signal's reason as soon as it aborts (browser-safe: no node:timers). */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

// ---------------------------------------------------------------------------------------------
// Encrypted

async function runEncrypted(
  options: PromptOptions,
  /** For closing after an error: without retries, so the error is not held back. */
  impatient: GatewayClient,
  prepared: PreparedPrompt,
  started: number,
  step: (detail: string) => void,
): Promise<PromptResult> {
  const { gateway } = options;
  const { model } = prepared;
  const plan = planOrThrow(model);
  // The weights are parsed here, so a broken model fails before any key or session work.
  model.split();
  const paramSet = plan.engine.paramSet;

  step("opening the keystore");
  if (options.openKeys === undefined) {
    throw new BasedError("input", "NoKeys", "An encrypted prompt needs the user's keys (openKeys).");
  }
  const keystore = await options.openKeys(paramSet, plan.engine);
  const client: CkksClient = keystore.client;
  let sessionId: string | undefined;
  try {
    let keysUploaded = 0;
    const hashOf = (blob: Uint8Array | null | undefined) => (blob ? blobHash(blob) : null);
    const keys = { galois: hashOf(keystore.evalKeys.galois), relin: hashOf(keystore.evalKeys.relin) };
    // A paid session's claim names its keys and is signed before they go up: a paid gateway
    // stores keys only for an open request, with its claim. It is signed again only when it is
    // about to run out (large keys take a while to upload).
    let paid = await paidBy(options, "encrypted", keys);
    const claimed = async () => {
      const left = (paid.claim?.expiry ?? Infinity) - Math.floor(Date.now() / 1000);
      if (left < CLAIM_MARGIN_S) paid = await paidBy(options, "encrypted", keys);
      return paid;
    };
    const upload = async () => {
      for (const kind of ["galois", "relin"] as const) {
        const blob = keystore.evalKeys[kind];
        if (!blob) continue;
        const { requestId, claim } = await claimed();
        const blobClaim = requestId !== undefined && claim ? { requestId, keys, claim } : undefined;
        if (await uploadOnce(gateway, blob, kind, step, blobClaim)) keysUploaded += blob.length;
      }
    };
    await upload();

    step("opening a session");
    const open = async () =>
      gateway.openSession({
        brainId: options.brainId,
        mode: "encrypted",
        paramSet,
        keys,
        ...(await claimed()),
      });
    let session: SessionView;
    try {
      session = await open();
    } catch (err) {
      // The keys expired between the check and the session: upload them again, once.
      if (!(err instanceof GatewayError && err.code === "KeysMissing")) throw err;
      await upload();
      session = await open();
    }
    sessionId = session.sessionId;
    step(`session ${session.sessionId} open on miner ${session.miner}`);
    const setupMs = performance.now() - started;

    const miners: Address[] = [];
    const server: ServerCall = async (planStepId, inputs) => {
      options.signal?.throwIfAborted();
      const view = await runJob(
        gateway,
        session.sessionId,
        { kind: "linear", step: planStepId, inputs: [...inputs] },
        options.jobTimeoutMs,
      );
      noteMiner(miners, view);
      return view.outputs;
    };
    const transfer = emptyStats();
    const backend = encryptedBackend(client, plan.engine, server, plan.buckets, transfer);

    // Greedy decoding, each token handed out as soon as its logits are decrypted.
    const text = new TokenText(prepared.tokenizer, prepared.eosId);
    step("prompt pass");
    const { ids, passes } = await generateAnswer(model, backend, prepared.promptIds, {
      maxTokens: options.maxTokens,
      ...(prepared.eosId !== undefined ? { eosId: prepared.eosId } : {}),
      pad: options.pad === true,
      onToken: (id, last) => {
        options.onToken?.(id, text.push(id, last));
      },
      onPass: (pass) => step(`token ${pass + 1} of at most ${options.maxTokens}`),
    });

    const result = await closeWithResult(gateway, session.sessionId, prepared, started, step, {
      mode: "encrypted",
      ids,
      text,
      miners,
      keysUploaded,
      freshKeys: keystore.fresh ?? null,
      passes,
      transfer,
      setupMs,
    });
    sessionId = undefined;
    return result;
  } finally {
    if (sessionId !== undefined) await closeQuietly(impatient, sessionId);
    client.delete();
  }
}

/** What `generateAnswer` needs besides the model, its backend and the prompt. */
export type AnswerOptions = {
  maxTokens: number;
  eosId?: number;
  /** Keep generating after `eosId` up to `maxTokens` (or the context's end); see PromptOptions.pad. */
  pad?: boolean;
  /** Every token of the answer as it is known (never one after the end-of-text token); `last` ends it. */
  onToken?: (id: number, last: boolean) => void;
  /** After each generation pass but the last: how many tokens are known so far. */
  onPass?: (tokens: number) => void;
};

/**
 * Greedy generation of an answer through `backend` (zkllm's one greedy loop). Without `pad` it
 * stops after `eosId`; with `pad` it runs every pass up to `maxTokens` (or the context's end), as
 * an answer without an end-of-text token would, and drops what came after the end-of-text token:
 * the returned `ids` are the same either way, `passes` (the prompt pass included) differs.
 */
export async function generateAnswer(
  model: ZkllmModel,
  backend: LinearBackend,
  promptIds: readonly number[],
  options: AnswerOptions,
): Promise<{ ids: number[]; passes: number }> {
  const pad = options.pad === true;
  let ended = false;
  let passes = 0;
  const all = await model.generate(promptIds, {
    backend,
    maxTokens: options.maxTokens,
    // Padding: the loop does not stop at the end-of-text token; the answer does.
    ...(options.eosId !== undefined && !pad ? { eosId: options.eosId } : {}),
    onToken: (id, last) => {
      passes++;
      if (!ended) {
        const eos = id === options.eosId;
        options.onToken?.(id, last || eos);
        ended = eos;
      }
      if (!last) options.onPass?.(passes);
    },
  });
  const eos = options.eosId === undefined ? -1 : all.indexOf(options.eosId);
  return { ids: eos >= 0 ? all.slice(0, eos + 1) : all, passes };
}

/** How long a session claim is good for (the gateway takes at most LIMITS.maxSignatureLifetimeS). */
const CLAIM_LIFETIME_S = 120;
/** A claim with less left than this is signed again before it is sent. */
const CLAIM_MARGIN_S = 30;

/** The request a session names and its signed claim on it (nothing for a free session). */
async function paidBy(
  options: PromptOptions,
  mode: "encrypted" | "plain",
  keys?: SessionKeys,
): Promise<{ requestId?: string; claim?: SessionClaim }> {
  if (options.requestId === undefined) return {};
  if (!options.signClaim) {
    throw new BasedError(
      "input",
      "NoClaimSigner",
      `A prompt paid by request ${options.requestId} needs signClaim: the gateway opens a session on a request only with its account's signature.`,
    );
  }
  const expiry = Math.floor(Date.now() / 1000) + CLAIM_LIFETIME_S;
  const signature = await options.signClaim({
    requestId: options.requestId,
    brainId: options.brainId,
    mode,
    ...(keys ? { keys } : {}),
    expiry,
  });
  return { requestId: options.requestId, claim: { expiry, signature } };
}

/**
 * Uploads a key blob unless the gateway already holds it (content-addressed); whether it did.
 * `claim` (paid sessions) names the request and carries the session's claim over its keys.
 */
async function uploadOnce(
  gateway: GatewayClient,
  blob: Uint8Array,
  kind: "galois" | "relin",
  step: (detail: string) => void,
  claim?: BlobClaim,
): Promise<boolean> {
  if (await gateway.hasBlob(blobHash(blob))) return false;
  step(
    `uploading keys (${kind === "galois" ? "Galois" : "relinearization"}, ${(blob.length / 2 ** 20).toFixed(1)} MiB)`,
  );
  // Asked just above: one HEAD per blob, not a second one inside putBlob.
  await gateway.putBlob(blob, claim, true);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Plain

async function runPlain(
  options: PromptOptions,
  /** For closing after an error: without retries, so the error is not held back. */
  impatient: GatewayClient,
  prepared: PreparedPrompt,
  started: number,
  step: (detail: string) => void,
): Promise<PromptResult> {
  const { gateway } = options;
  step("opening a session");
  const session = await gateway.openSession({
    brainId: options.brainId,
    mode: "plain",
    ...(await paidBy(options, "plain")),
  });
  let open = true;
  step(`session ${session.sessionId} open on miner ${session.miner}`);
  try {
    const setupMs = performance.now() - started;
    options.signal?.throwIfAborted();
    step("generating");
    const view = await runJob(
      gateway,
      session.sessionId,
      { kind: "generate", tokens: prepared.promptIds, maxTokens: prepared.maxCompletionUnits },
      options.jobTimeoutMs,
    );
    const miners: Address[] = [];
    noteMiner(miners, view);
    if (view.outputs.length !== 1) {
      throw new BasedError(
        "environment",
        "BadMinerResult",
        `A plain job returned ${view.outputs.length} outputs, expected 1.`,
      );
    }
    let generated: number[];
    try {
      generated = decodeTokens(view.outputs[0]!);
    } catch (err) {
      throw new BasedError(
        "environment",
        "BadMinerResult",
        `The miner's answer is not token ids: ${(err as Error).message}.`,
      );
    }
    const eos = prepared.eosId === undefined ? -1 : generated.indexOf(prepared.eosId);
    const ids = eos >= 0 ? generated.slice(0, eos + 1) : generated.slice(0, options.maxTokens);
    const bad = ids.find((id) => id >= prepared.tokenizer.vocabSize);
    if (bad !== undefined)
      throw new BasedError(
        "environment",
        "BadMinerResult",
        `The miner returned token id ${bad}, outside the vocabulary.`,
      );
    const text = new TokenText(prepared.tokenizer, prepared.eosId);
    ids.forEach((id, i) => options.onToken?.(id, text.push(id, i === ids.length - 1)));

    const result = await closeWithResult(gateway, session.sessionId, prepared, started, step, {
      mode: "plain",
      ids,
      text,
      miners,
      keysUploaded: 0,
      freshKeys: null,
      passes: null,
      setupMs,
    });
    open = false;
    return result;
  } finally {
    if (open) await closeQuietly(impatient, session.sessionId);
  }
}

/** What a finished generation hands to `closeWithResult`. */
type Generated = Pick<
  PromptResult,
  "mode" | "ids" | "miners" | "keysUploaded" | "freshKeys" | "passes" | "transfer"
> & {
  text: TokenText;
  setupMs: number;
};

/**
 * Closes the session (the gateway's reply carries the units it counted and the settlement) and
 * assembles the result; the caller marks the session closed only once this returns.
 */
async function closeWithResult(
  gateway: GatewayClient,
  sessionId: string,
  prepared: PreparedPrompt,
  started: number,
  step: (detail: string) => void,
  generated: Generated,
): Promise<PromptResult> {
  const { text, setupMs, transfer, ...rest } = generated;
  step("closing the session");
  const close = await gateway.closeSession(sessionId);
  const totalMs = performance.now() - started;
  return {
    ...rest,
    text: text.full(),
    promptIds: prepared.promptIds,
    sessionId,
    units: close.units,
    close,
    ...(transfer ? { transfer } : {}),
    // A plain answer may be empty; an encrypted one always has a token.
    timings: { setupMs, totalMs, secondsPerToken: (totalMs - setupMs) / 1000 / Math.max(1, rest.ids.length) },
  };
}

// ---------------------------------------------------------------------------------------------
// Jobs

type Completed = { outputs: Uint8Array[]; miner: Address };

/** Submits one job, waits for it and checks its outputs against the hash the miner signed. */
async function runJob(
  gateway: GatewayClient,
  sessionId: string,
  job: SubmitJob,
  timeoutMs?: number,
): Promise<Completed> {
  let view: JobView;
  try {
    // One request per job when it ends within the gateway's longest wait; else long polls on.
    view = await gateway.runJob(sessionId, job, timeoutMs);
  } catch (err) {
    if (err instanceof GatewayError && err.code === "JobTimeout") {
      throw new BasedError(
        "environment",
        "JobTimeout",
        err.message,
        "The Brain's miners may be down or overloaded; try again later.",
      );
    }
    throw err;
  }
  const what = job.kind === "linear" ? `step ${job.step}` : "generation";
  if (view.state === "failed" || !view.result) {
    throw new BasedError(
      "environment",
      "JobFailed",
      `The Brain's miners could not run ${what}: ${view.error ?? "no reason given"}.`,
      "Try again; if it keeps failing, the Brain's miners may be down.",
    );
  }
  const outputs = view.result.outputs.map(bytesOf);
  if ((await outputsHash(outputs)).toLowerCase() !== view.result.outputHash.toLowerCase()) {
    throw new BasedError(
      "environment",
      "BadMinerResult",
      `The outputs of ${what} do not match the hash miner ${view.result.miner} signed.`,
      "Try again; the gateway should not pass on such a result, so report it to the Brain's owner.",
    );
  }
  return { outputs, miner: view.result.miner };
}

function noteMiner(miners: Address[], job: Completed): void {
  if (!miners.includes(job.miner)) miners.push(job.miner);
}

async function closeQuietly(gateway: GatewayClient, sessionId: string): Promise<void> {
  try {
    await gateway.closeSession(sessionId);
  } catch {
    // Best effort: an idle session expires on its own, and the caller is already reporting an error.
  }
}

function planOrThrow(model: ZkllmModel): ZkllmPlan {
  try {
    return model.plan();
  } catch (err) {
    throw new BasedError(
      "input",
      "NoEncryptedPlan",
      `The model has no usable encrypted-inference plan: ${(err as Error).message}.`,
      "Convert the model for encrypted inference first, or send the prompt in plain mode to a Brain with ZK off.",
    );
  }
}

/**
 * Text of a growing list of tokens, handed out piece by piece. A character whose UTF-8 bytes span
 * two tokens decodes to U+FFFD until its last byte arrives, so trailing replacement characters
 * are held back until the next token (or the end) settles them.
 */
export class TokenText {
  private readonly ids: number[] = [];
  private shown = "";

  constructor(
    private readonly tokenizer: Gpt2Tokenizer,
    private readonly eosId?: number,
  ) {}

  /** Adds a token; returns the new text to show (everything when `last`). */
  push(id: number, last: boolean): string {
    if (id !== this.eosId) this.ids.push(id);
    let now = this.tokenizer.decode(this.ids);
    if (!last) now = now.replace(/\uFFFD+$/, "");
    if (!now.startsWith(this.shown)) return "";
    const delta = now.slice(this.shown.length);
    this.shown = now;
    return delta;
  }

  full(): string {
    return this.tokenizer.decode(this.ids);
  }
}
