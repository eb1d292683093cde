import path from "node:path";
import { type Command, Option } from "commander";
import type { Hex } from "viem";
import type { InferenceMode } from "../../protocol/schemas";
import { type BrainConfig, getBrainConfig } from "../../sdk/brain-config";
import { BASED, brainNotActive, isoTime } from "../../sdk/economy";
import { chainSettings, gatewayUrlFor } from "../../sdk/node/config";
import { DEVNET_CHAIN_IDS } from "../../sdk/devnet";
import { BasedError } from "../../sdk/errors";
import { KEY_SET_COST, formatKeyRotation } from "../../sdk/key-rotation";
import { parseBrainId, parseInteger, parseTokenAmount } from "../core/args";
import type { CommandContext, Run, Wrap } from "../core/context";
import type * as GatewayClientModule from "../../sdk/gateway-client";
import type * as MarketModule from "../../sdk/market";
import type * as KeystoreModule from "../../sdk/node/keystore";
import type * as ModelSourceModule from "../../sdk/node/model-cache";
import type * as PromptModule from "../../sdk/prompt";
import { type ChainContext, connectBased } from "../../sdk/chain";
import { lossyPlanWarning } from "../ui/plan";
import { createDownloadBar } from "../ui/progress";

/* eslint-disable @typescript-eslint/no-require-imports */
/** The engine (SEAL, onnxruntime) loads only when a prompt runs, not for every `based` command. */
const lazy = {
  prompt: () => require("../../sdk/prompt") as typeof PromptModule,
  gateway: () => require("../../sdk/gateway-client") as typeof GatewayClientModule,
  market: () => require("../../sdk/market") as typeof MarketModule,
  modelSource: () => require("../../sdk/node/model-cache") as typeof ModelSourceModule,
  keystore: () => require("../../sdk/node/keystore") as typeof KeystoreModule,
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** Seconds an escrow stays open by default: long enough for a slow generation, short enough to wait out. */
export const DEFAULT_DEADLINE_SECONDS = 900;

/** Encrypted unless the Brain runs plaintext; --plain is required for that and allowed on ZK Brains. */
export function choosePromptMode(
  brainId: number,
  zkMode: boolean,
  plainFlag: boolean,
): { mode: InferenceMode; warning?: string } {
  if (!zkMode && !plainFlag) {
    throw new BasedError(
      "input",
      "BrainIsPlain",
      `Brain #${brainId} has ZK mode off: its miners run the model on plaintext, so your prompt would be readable by its gateway and miners.`,
      "Add --plain to send it anyway, or choose a Brain with ZK mode on (`based brain show <id>`).",
    );
  }
  if (plainFlag && zkMode) {
    return {
      mode: "plain",
      warning: `warning: --plain sends your prompt's tokens to Brain #${brainId}'s gateway and miners unencrypted (the Brain supports encrypted prompts; drop --plain to use them).`,
    };
  }
  return { mode: plainFlag ? "plain" : "encrypted" };
}

/** --pad with a plain prompt: its miner reads the answer, so padding would only cost. */
export function padNeedsEncryption(): BasedError {
  return new BasedError(
    "input",
    "PadNeedsEncryption",
    "--pad hides an encrypted answer's length from the gateway and miner; a plain prompt's miner reads the answer itself, so there is nothing to hide.",
    "Drop --pad, or drop --plain to send the prompt encrypted.",
  );
}

/** The model to run the client half with: --model, else the Brain's task model (verified by hash). */
async function modelFor(
  config: BrainConfig,
  flag: string | undefined,
  ctx: CommandContext,
  cacheDir: string,
): Promise<string> {
  if (flag) return path.resolve(flag);
  if (!config.task) {
    throw new BasedError(
      "refused",
      "NoTaskModel",
      `Brain #${config.brainId} has no task model set.`,
      "Its owner sets one with `based brain config`; or pass --model <dir> of the model its miners run.",
    );
  }
  ctx.log.debug({ uri: config.task.modelUri }, "resolving the Brain's task model");
  const bar = createDownloadBar(!ctx.out.json);
  try {
    return await lazy
      .modelSource()
      .resolveModel(config.task.modelUri, config.task.contentHash, cacheDir, { onProgress: bar.onProgress });
  } finally {
    bar.stop();
  }
}

type Escrow = { requestId: bigint; escrow: bigint; maxCost: bigint; deadline: number; txHash: Hex };

/**
 * Opens the ComputeMarket escrow that pays for this prompt: its maximum cost at the Brain's prices,
 * never more than `maxCost` (the quote shown, or --max-cost), so a price raised in front of the
 * transaction refuses it instead of taking the account's balance.
 */
async function openEscrow(
  based: ChainContext,
  brainId: number,
  units: { promptUnits: number; maxCompletionUnits: number },
  deadlineSeconds: number,
  maxCost: bigint,
  onStep: (detail: string) => void,
): Promise<Escrow> {
  const opened = await lazy.market().openRequest(based, {
    brainId,
    promptUnits: units.promptUnits,
    maxCompletionUnits: units.maxCompletionUnits,
    deadlineSeconds,
    maxCost,
    onStep: (_step, detail) => onStep(detail),
  });
  return {
    requestId: opened.requestId,
    escrow: opened.escrow,
    maxCost,
    deadline: opened.deadline,
    txHash: opened.txHash,
  };
}

/** --max-cost: a decimal amount of BASED, the most this prompt may escrow. */
export function parseMaxCost(raw: string): bigint {
  return parseTokenAmount(
    raw,
    "--max-cost",
    "Pass the most BASED this prompt may escrow as a decimal amount, e.g. --max-cost 0.05, or leave --max-cost out to accept the quote at the Brain's prices.",
  );
}

type Cost = {
  requestId: string;
  status: string;
  escrowed: bigint;
  /** The most the escrow could take: the quote shown, or --max-cost. */
  maxCost: bigint;
  paid: bigint | null;
  refunded: bigint | null;
  ownerCut: bigint | null;
  minerPay: bigint | null;
  /** Unix seconds (BasedAI-chain time). */
  deadline: number;
  deadlineIso: string;
  escrowTx: Hex;
  settlementTx: Hex | null;
  settlementError: string | null;
};

/** What the escrow came to once the gateway settled it (or why it did not). */
async function settledCost(
  based: ChainContext,
  escrow: Escrow,
  settlement: { txHash: Hex | null; error: string | null } | null,
): Promise<Cost> {
  const market = lazy.market();
  if (settlement?.txHash) {
    await based.publicClient
      .waitForTransactionReceipt({ hash: settlement.txHash, timeout: 60_000 })
      .catch(() => undefined);
  }
  const request = await market.getRequest(based, escrow.requestId);
  const quote =
    request.status === "settled" ? market.quoteSettlement(request, request.completionUnits) : null;
  return {
    requestId: escrow.requestId.toString(),
    status: request.status,
    escrowed: escrow.escrow,
    maxCost: escrow.maxCost,
    paid: quote?.cost ?? null,
    refunded: quote?.refund ?? null,
    ownerCut: quote?.ownerCut ?? null,
    minerPay: quote?.minerPay ?? null,
    deadline: escrow.deadline,
    deadlineIso: isoTime(escrow.deadline),
    escrowTx: escrow.txHash,
    settlementTx: settlement?.txHash ?? null,
    settlementError: settlement?.error ?? null,
  };
}

function costLines(cost: Cost | null): string[] {
  if (!cost) return ["cost       none (--no-escrow)"];
  const lines = [
    `cost       escrowed ${BASED(cost.escrowed)} of at most ${BASED(cost.maxCost)} (request #${cost.requestId})`,
  ];
  if (cost.status === "settled") {
    lines.push(
      `           paid ${BASED(cost.paid!)} (miner ${BASED(cost.minerPay!)}, Brain owner ${BASED(cost.ownerCut!)})`,
    );
    lines.push(`           refunded ${BASED(cost.refunded!)}`);
  } else if (cost.status === "refunded") {
    lines.push(`           refunded in full (${BASED(cost.escrowed)}): the gateway ran no job for it`);
  } else {
    lines.push(
      `           not settled (${cost.settlementError ?? cost.status}): the whole escrow returns to your account after ${isoTime(cost.deadline)}`,
    );
  }
  return lines;
}

const prompt: Run = async (ctx, [text], options) => {
  const opts = options as {
    brain: string;
    maxTokens: string;
    plain?: boolean;
    gateway?: string;
    model?: string;
    escrow: boolean;
    deadline: string;
    maxCost?: string;
    keys?: string;
    pad?: boolean;
  };
  const brainId = parseBrainId(opts.brain);
  const maxTokens = parseInteger(opts.maxTokens, "--max-tokens", 1, 1024);
  const deadlineSeconds = parseInteger(opts.deadline, "--deadline", 1, 86_400);
  const maxCostFlag = opts.maxCost === undefined ? undefined : parseMaxCost(opts.maxCost);
  if (maxCostFlag !== undefined && !opts.escrow) {
    throw new BasedError(
      "input",
      "InvalidArgument",
      "--max-cost bounds the escrow, and --no-escrow opens none.",
      "Drop --max-cost, or drop --no-escrow to pay through ComputeMarket.",
    );
  }
  // --pad pads an encrypted answer, and only --plain sends a prompt plain.
  if (opts.pad && opts.plain) throw padNeedsEncryption();
  const settings = ctx.configWith({ gatewayUrl: opts.gateway, keyRotation: opts.keys });
  if (!text) throw new BasedError("input", "EmptyPrompt", "The prompt is empty.");
  const json = ctx.out.json;
  let spinner = ctx.spinner();
  let spinning = true;
  const onStep = (detail: string) => {
    if (spinning) spinner.update(detail);
  };
  /** A warning on its own line of stderr: the spinner, drawn on the current line, makes way for it. */
  const warn = (line: string) => {
    spinner.stop();
    process.stderr.write(`${line}\n`);
    spinner = ctx.spinner();
  };

  onStep(`reading Brain #${brainId}'s configuration`);
  const based = await connectBased(chainSettings(settings), { withAccount: opts.escrow });
  const url = gatewayUrlFor(settings, DEVNET_CHAIN_IDS.includes(based.chain.id));
  const config = await getBrainConfig(based, brainId);
  if (!config.active) throw brainNotActive(brainId);
  const { mode, warning } = choosePromptMode(brainId, config.zkMode, opts.plain === true);
  if (warning) warn(warning);

  onStep("loading the model");
  const modelDir = await modelFor(config, opts.model, ctx, settings.modelCacheDir);
  const { preparePrompt, runPrompt } = lazy.prompt();
  const model = lazy.modelSource().openModelDir(modelDir, mode);
  const prepared = preparePrompt(model, text, maxTokens, mode);
  // Before anything is paid or sent: a user who needs the exact answer may choose another Brain.
  const lossy = lossyPlanWarning(brainId, prepared.plan);
  if (lossy) warn(lossy);

  let escrow: Escrow | null = null;
  if (opts.escrow) {
    // The quote at the prices read with the Brain's configuration is the most the escrow may take
    // (unless --max-cost says otherwise): if the Brain's wallet raises its prices before the
    // request is mined, ComputeMarket refuses it (CostAboveMax) rather than escrow more.
    const quoted = lazy
      .market()
      .quoteEscrow(config.pricing, prepared.promptUnits, prepared.maxCompletionUnits);
    const maxCost = maxCostFlag ?? quoted;
    if (!json) {
      warn(
        `cost       at most ${BASED(maxCost)} ${maxCostFlag === undefined ? `at Brain #${brainId}'s prices` : `(--max-cost; ${BASED(quoted)} at Brain #${brainId}'s prices)`}, escrowed now; what the answer does not use is refunded`,
      );
    }
    escrow = await openEscrow(based, brainId, prepared, deadlineSeconds, maxCost, onStep);
  }

  // Ctrl-C: stop after the current job and close the session (so the gateway settles what ran);
  // a second Ctrl-C quits at once.
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write("\nstopping after the current step (Ctrl-C again to quit now)\n");
    abort.abort();
  };
  process.on("SIGINT", onSigint);

  const gateway = new (lazy.gateway().GatewayClient)({ url });
  const tokenTimes: number[] = [];
  let result: PromptModule.PromptResult;
  try {
    result = await runPrompt({
      gateway,
      brainId,
      model,
      prompt: prepared.promptIds,
      maxTokens,
      mode,
      openKeys: lazy.keystore().keystoreKeys(settings.keystoreDir, settings.keyRotation),
      pad: opts.pad === true,
      ...(escrow
        ? { requestId: escrow.requestId.toString(), signClaim: lazy.market().sessionClaimSigner(based) }
        : {}),
      signal: abort.signal,
      onStep,
      onToken: (_id, piece) => {
        tokenTimes.push(performance.now());
        if (json) return;
        if (spinning) {
          // Tokens share the terminal with the spinner: it stops before the first one prints.
          spinner.stop();
          spinning = false;
          process.stdout.write(text);
        }
        process.stdout.write(piece);
      },
    });
  } catch (err) {
    spinner.fail();
    if (escrow) {
      process.stderr.write(
        `The escrow of request #${escrow.requestId} (${BASED(escrow.escrow)}) returns to your account after ${isoTime(escrow.deadline)} unless the gateway settles it.\n`,
      );
    }
    if (abort.signal.aborted) {
      throw new BasedError("input", "Interrupted", "Interrupted: the session was closed.");
    }
    throw err;
  } finally {
    process.off("SIGINT", onSigint);
  }
  if (spinning) spinner.stop();
  if (!json) process.stdout.write("\n");

  const cost = escrow ? await settledCost(based, escrow, result.close.settlement) : null;
  const generationSeconds = tokenTimes.length > 1 ? (tokenTimes.at(-1)! - tokenTimes[0]!) / 1000 : 0;
  // Plain answers arrive whole: a rate between their tokens would mean nothing.
  const tokensPerSecond =
    mode === "encrypted" && tokenTimes.length > 1 ? (tokenTimes.length - 1) / generationSeconds : null;
  ctx.out.result(
    {
      brainId,
      mode,
      text: result.text,
      ids: result.ids,
      promptIds: result.promptIds,
      sessionId: result.sessionId,
      miners: result.miners,
      units: result.units,
      cost,
      keysUploaded: result.keysUploaded,
      // Encrypted: the rotation policy and whether this prompt's key set was new; plain: null.
      keys:
        mode === "encrypted"
          ? { rotation: formatKeyRotation(settings.keyRotation), fresh: result.freshKeys }
          : null,
      pad: opts.pad === true,
      passes: result.passes,
      timings: { ...result.timings, tokensPerSecond },
      // Encrypted: whether the Brain's plan is lossy (the answer may differ from a plain one); plain: null.
      plan: prepared.plan,
    },
    () =>
      [
        "",
        `${mode === "encrypted" ? "encrypted" : "PLAIN"}: ${result.ids.length} tokens from Brain #${brainId} ` +
          `(miner${result.miners.length === 1 ? "" : "s"} ${result.miners.join(", ") || "-"}), ` +
          `${result.timings.secondsPerToken.toFixed(2)} s/token` +
          (tokensPerSecond ? `, ${tokensPerSecond.toFixed(2)} tokens/s after the prompt pass` : "") +
          `, setup ${(result.timings.setupMs / 1000).toFixed(1)} s` +
          (result.keysUploaded > 0
            ? ` (uploaded ${(result.keysUploaded / 2 ** 20).toFixed(1)} MiB of keys)`
            : ""),
        ...(mode === "encrypted"
          ? [
              `keys       ${result.freshKeys ? "fresh for this prompt" : "kept from an earlier prompt"} (--keys ${formatKeyRotation(settings.keyRotation)})` +
                (opts.pad ? `; padded to ${result.passes ?? "?"} passes` : ""),
            ]
          : []),
        `units      prompt ${result.units.prompt}, completion ${result.units.completion}`,
        ...costLines(cost),
      ].join("\n"),
  );
};

/** `based prompt`: send a prompt to a Brain, encrypted on this machine, and stream the answer. */
export function registerPromptCommands(program: Command, wrap: Wrap): void {
  program
    .command("prompt")
    .description(
      "send a prompt to a Brain: encrypted here, answered by its miners on ciphertexts, decrypted here",
    )
    .argument("<text>", "the prompt")
    .requiredOption("--brain <id>", "the Brain to ask (its gateway and miners run the work)")
    .option("--max-tokens <n>", "most tokens to generate (1–1024)", "16")
    .option("--plain", "send the prompt unencrypted (required for a Brain with ZK mode off)")
    .option(
      "--gateway <url>",
      "the Brain's gateway (default BASED_GATEWAY_URL; on devnet http://127.0.0.1:7200)",
    )
    .option(
      "--model <dir>",
      "the Brain's model, already on this machine (default: fetch its task model and check its hash)",
    )
    .option(
      "--no-escrow",
      "do not pay through ComputeMarket (only a gateway run with --free-sessions, like the devnet's, serves it)",
    )
    .option(
      "--max-cost <BASED>",
      "the most BASED the escrow may take (default: the quote at the Brain's prices, shown before it is escrowed)",
    )
    .option(
      "--keys <policy>",
      "when to make a fresh key set: session (every prompt, the default), never, or every:N prompts (default BASED_KEY_ROTATION, keyRotation in the config file)",
    )
    .option(
      "--pad",
      "encrypted prompts: generate up to --max-tokens even after the end of the text, so the gateway and miners cannot see the answer's length; you pay for --max-tokens",
    )
    .addOption(
      new Option(
        "--deadline <seconds>",
        "how long the escrow waits for settlement before it can be reclaimed",
      ).default(String(DEFAULT_DEADLINE_SECONDS)),
    )
    .addHelpText(
      "after",
      `
The prompt is tokenized and encrypted on this machine; the gateway and miners see only
ciphertexts, the prompt's length rounded up to a bucket, the answer's length, and the hashes of
the evaluation keys.

Keys (--keys, default session): every prompt gets a fresh key set, so no two of your prompts
share keys a miner could link them by (validators' canaries do the same). Cost:
${KEY_SET_COST}.
never keeps one set in $BASED_KEYSTORE (default ~/.config/based/keys), uploaded once and reused
(all your prompts are then linkable); every:N makes a fresh set after N prompts. A set rotated
out is deleted.

--pad (off by default) keeps the miners computing up to --max-tokens after the answer ends, so
they see every answer as --max-tokens long. Cost: you pay for all --max-tokens completion units
and wait for them (one pass per token); the text still stops at the end of the answer. Plain
prompts (--plain) hide nothing from the miner, and --pad is refused with them.

Tokens print as they are decrypted; progress goes to stderr. Unless --no-escrow, the prompt's
maximum cost at the Brain's prices is escrowed first from your spending account (\`based account
deposit\`); what the answer did not use is refunded. The quote shown is also the most the escrow
may take: if the Brain's prices rise before the escrow is mined, it is refused and nothing is
taken; --max-cost sets another limit.

Examples:
  based prompt --brain 3 "The old man walked"
  based prompt --brain 3 "In the morning, she" --max-tokens 32
  based prompt --brain 3 "The jury said" --json
  based prompt --brain 3 "The jury said" --pad      # the miners see --max-tokens passes
  based prompt --brain 3 "The jury said" --keys never   # reuse one key set (no upload, linkable)
  based prompt --brain 3 "The jury said" --max-cost 0.05   # pay at most 0.05 BASED
  based prompt --brain 7 "Hello" --plain            # a Brain with ZK mode off
  BASED_GATEWAY_URL=http://gw.example:7200 based prompt --brain 3 "The city council"`,
    )
    .action(wrap(prompt));
}
