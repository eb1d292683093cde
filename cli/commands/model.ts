import path from "node:path";
import { type Command, Option } from "commander";
import { z } from "zod";
import { getBrainConfig } from "../../sdk/brain-config";
import { brainNotActive } from "../../sdk/economy";
import { BasedError } from "../../sdk/errors";
import { parseBrainId } from "../core/args";
import type { CommandContext, Run, Wrap } from "../core/context";
import { planSummary } from "../ui/plan";
import { createDownloadBar } from "../ui/progress";
import type * as ModelCacheModule from "../../sdk/node/model-cache";
import type * as ClientModule from "../../zkllm/client";
import type * as ConvertModule from "../../zkllm/convert";
import type * as GenerateModule from "../../zkllm/generate";
import type * as ModelDirModule from "../../zkllm/model-dir";
import type * as EvaluatorModule from "../../zkllm/evaluator";
import type { MemoryFit } from "../../zkllm/evaluator";

/** The model that ships with the repository (trained by scripts/train). */
export const SHIPPED_MODEL = path.resolve(__dirname, "..", "..", "zkllm", "models", "brain-gpt2-tiny");

/* eslint-disable @typescript-eslint/no-require-imports */
/** The engine loads only for the commands that need it: it brings SEAL and onnxruntime. */
const lazy = {
  client: () => require("../../zkllm/client") as typeof ClientModule,
  convert: () => require("../../zkllm/convert") as typeof ConvertModule,
  generate: () => require("../../zkllm/generate") as typeof GenerateModule,
  modelDir: () => require("../../zkllm/model-dir") as typeof ModelDirModule,
  evaluator: () => require("../../zkllm/evaluator") as typeof EvaluatorModule,
  modelCache: () => require("../../sdk/node/model-cache") as typeof ModelCacheModule,
};
/* eslint-enable @typescript-eslint/no-require-imports */

const maxTokens = z.coerce.number().int().min(1, "at least 1 token").max(1024, "at most 1024 tokens");

function parseMaxTokens(raw: string): number {
  const parsed = maxTokens.safeParse(raw);
  if (!parsed.success) {
    throw new BasedError(
      "input",
      "InvalidArgument",
      `Invalid --max-tokens "${raw}": ${parsed.error.issues[0]?.message}.`,
    );
  }
  return parsed.data;
}

const convert: Run = async (ctx: CommandContext, [hfDir], options) => {
  const opts = options as { out: string; squeeze: boolean; lossy?: boolean };
  if (opts.lossy && !opts.squeeze) {
    throw new BasedError("input", "InvalidArgument", "--lossy and --no-squeeze contradict each other.");
  }
  const { convertModel, SQUEEZE_DEFAULT, SQUEEZE_LOSSY, SQUEEZE_OFF } = lazy.convert();
  const { formatBytes, ModelMemoryError } = lazy.evaluator();
  const spinner = ctx.spinner();
  try {
    const report = await convertModel(path.resolve(hfDir!), path.resolve(opts.out), {
      squeeze: !opts.squeeze ? SQUEEZE_OFF : opts.lossy ? SQUEEZE_LOSSY : SQUEEZE_DEFAULT,
      onProgress: (m) => spinner.update(m),
    });
    spinner.succeed(`converted into ${report.outDir}`);
    const { memory, lossiness } = report;
    ctx.out.result({ converted: report }, () =>
      [
        `Converted ${hfDir} → ${report.outDir}`,
        `  files            ${report.files.join(", ")}`,
        `  model.onnx       ${(report.onnxBytes / 1e6).toFixed(2)} MB, max |Δlogit| vs TypeScript ${report.onnxMaxAbsDiff.toExponential(2)} (${report.executionProviders.join(",")})`,
        `  attention heads  ${report.keptHeads} of ${report.totalHeads} kept (Cerberus Squeezing ${opts.squeeze ? "on" : "off"})`,
        `  encrypted plan   ${report.planSteps} CKKS steps in zkllm-plan.json, prompts in buckets of ${report.promptBucket} tokens`,
        `  answers          ${
          lossiness.lossy
            ? `LOSSY (${lossiness.reasons.join("; ")}${lossiness.agreement !== undefined ? `; ${(lossiness.agreement * 100).toFixed(1)} % top-1 agreement with plain` : ""})`
            : "lossless: encrypted tokens equal plain tokens"
        }`,
        `  miner memory     plaintexts ${formatBytes(memory.totalBytes)} in all; per worker ${memory.perWorker
          .map((w) => `${formatBytes(w.bytes)} (${w.workers} worker${w.workers === 1 ? "" : "s"})`)
          .join(", ")}; budget per worker at most ${formatBytes(memory.maxBudget)}`,
        memory.workersToCache === null
          ? "  warning          no pool up to 1024 workers holds this model's plaintexts in its default budget"
          : `  serve with       --workers ${memory.workersToCache} or more to keep every plaintext cached (default budget)`,
      ].join("\n"),
    );
  } catch (err) {
    spinner.fail();
    if (err instanceof ModelMemoryError) {
      throw new BasedError(
        "refused",
        "ModelTooLarge",
        `The model cannot be served: ${err.message}`,
        "Convert a smaller model, or re-plan it with more parallelism.",
      );
    }
    throw new BasedError(
      "input",
      "ConvertFailed",
      (err as Error).message,
      "Check that the directory holds a GPT-2 config.json and its weights (model.safetensors, or shards with model.safetensors.index.json).",
    );
  }
};

/** A size flag ("3GiB"), or undefined when absent. */
function parseBudget(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  try {
    return lazy.evaluator().parseBytes(raw);
  } catch (err) {
    throw new BasedError("input", "InvalidArgument", `Invalid --memory-budget: ${(err as Error).message}`);
  }
}

function parseWorkers(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const parsed = z.coerce.number().int().min(1).max(256).safeParse(raw);
  if (!parsed.success)
    throw new BasedError("input", "InvalidArgument", `Invalid --workers "${raw}": a whole number 1–256.`);
  return parsed.data;
}

const generate: Run = async (ctx, [prompt], options) => {
  const opts = options as {
    model: string;
    plain?: boolean;
    encrypted?: boolean;
    maxTokens: string;
    workers?: string;
    memoryBudget?: string;
  };
  const mode = opts.plain ? "plain" : "encrypted";
  const tokens = parseMaxTokens(opts.maxTokens);
  const workers = parseWorkers(opts.workers);
  const memoryBudget = parseBudget(opts.memoryBudget);
  const modelDir = path.resolve(opts.model);
  const { openModel } = lazy.client();
  const { readModelDir } = lazy.modelDir();
  const { generateIds } = lazy.generate();
  let model;
  try {
    // Opened once: the tokenizer here, the weights and plan for the encrypted run below.
    model = openModel(readModelDir(modelDir, { weights: mode === "encrypted" }));
  } catch (err) {
    throw new BasedError(
      "input",
      "ModelNotFound",
      `Cannot load the model in ${modelDir}: ${(err as Error).message}.`,
      "Pass --model <dir> of a converted model.",
    );
  }
  const { tokenizer } = model;
  const promptIds = tokenizer.encode(prompt!);
  if (promptIds.length === 0) throw new BasedError("input", "EmptyPrompt", "The prompt is empty.");
  const spinner = ctx.spinner();
  let memory: MemoryFit | undefined;
  spinner.update(
    mode === "encrypted" ? "generating keys and evaluating on ciphertexts" : "running the model",
  );
  try {
    const result = await generateIds(modelDir, [promptIds], {
      mode,
      maxTokens: tokens,
      model,
      ...(workers ? { workers } : {}),
      ...(memoryBudget ? { memoryBudget } : {}),
      onMemory: (fit) => {
        memory = fit;
        // Said before the warm-up, which can take a while for a large model.
        if (!ctx.out.json) for (const line of fit.summary) process.stderr.write(`${line}\n`);
      },
      onProgress: (done, total) =>
        spinner.update(`warming up the evaluator: ${done}/${total} plan steps encoded`),
    });
    spinner.stop();
    const ids = result.ids[0]!;
    const text = tokenizer.decode(ids);
    ctx.out.result(
      {
        mode,
        prompt,
        promptIds,
        ids,
        text,
        timings: result.timings,
        encrypted: result.encrypted,
        ...(memory
          ? {
              memory: {
                workers: memory.workers,
                budget: memory.budget,
                perWorkerBytes: memory.maxWorkerBytes,
                totalBytes: memory.totalBytes,
                cached: memory.cached,
              },
            }
          : {}),
        executionProviders: result.executionProviders,
      },
      () =>
        [
          `${prompt}${text}`,
          "",
          `${mode}: ${ids.length} tokens, ${result.timings.tokensPerSecond.toFixed(2)} tokens/s` +
            (result.encrypted
              ? `, ${Math.round(result.encrypted.actionsPerToken.total ?? 0)} homomorphic actions/token, ` +
                `${(result.encrypted.bytesUpPerToken / 1024).toFixed(0)} KiB up / ${(result.encrypted.bytesDownPerToken / 1024).toFixed(0)} KiB down per token`
              : ""),
        ].join("\n"),
    );
  } catch (err) {
    spinner.fail();
    const { ModelMemoryError } = lazy.evaluator();
    if (err instanceof ModelMemoryError) {
      throw new BasedError(
        "refused",
        "ModelTooLarge",
        err.message,
        "Try more --workers (each holds a share) or another --memory-budget.",
      );
    }
    throw err;
  }
};

/** Puts a Brain's task model on this machine (as `based prompt` would) and says where and what it is. */
const fetchModel: Run = async (ctx, _args, options) => {
  const brainId = parseBrainId((options as { brain: string }).brain);
  const based = await ctx.based();
  const config = await getBrainConfig(based, brainId);
  if (!config.active) throw brainNotActive(brainId);
  if (!config.task) {
    throw new BasedError(
      "refused",
      "NoTaskModel",
      `Brain #${brainId} has no task model set.`,
      "Its owner sets one with `based brain config <id> --model <uri> --content-hash <hash>`.",
    );
  }
  const { modelUri, contentHash } = config.task;
  const cache = lazy.modelCache();
  const bar = createDownloadBar(!ctx.out.json);
  let modelDir: string;
  try {
    modelDir = await cache.resolveModel(modelUri, contentHash, ctx.config.modelCacheDir, {
      onProgress: bar.onProgress,
    });
  } finally {
    bar.stop();
  }
  const plan = cache.modelPlanLossiness(modelDir);
  ctx.out.result({ brainId, modelUri, contentHash, modelDir, plan }, () =>
    [
      `Brain #${brainId}'s model is in ${modelDir} (content ${contentHash}, verified)`,
      `  encrypted plan ${plan ? planSummary(plan) : "none: the model serves plain prompts only"}`,
    ].join("\n"),
  );
};

/** `based model …`: convert checkpoints and run them, encrypted or plain. */
export function registerModelCommands(program: Command, wrap: Wrap): void {
  const model = program
    .command("model")
    .description("convert GPT-2 checkpoints, run them (ZK-LLM), and fetch a Brain's model");
  model
    .command("convert")
    .description("turn a local Hugging Face GPT-2 checkpoint into ONNX + a squeezed encrypted-inference plan")
    .argument("<hf-dir>", "directory with config.json + model.safetensors (+ vocab.json, merges.txt)")
    .requiredOption("--out <dir>", "output directory")
    .option("--no-squeeze", "turn Cerberus Squeezing off (every head, no fusion, no quantization)")
    .option(
      "--lossy",
      "opt in to lossy squeezing (256-level activation quantization, head selection): the plan records its measured agreement and users are told",
    )
    .action(wrap(convert));
  model
    .command("generate")
    .description("generate text with a converted model, encrypted (default) or plain")
    .argument("<prompt>", "the prompt text")
    .option("--model <dir>", "converted model directory", SHIPPED_MODEL)
    .addOption(new Option("--encrypted", "run the heavy layers on ciphertexts (default)").conflicts("plain"))
    .addOption(new Option("--plain", "run the model with onnxruntime-node").conflicts("encrypted"))
    .option("--max-tokens <n>", "tokens to generate", "16")
    .option("--workers <n>", "evaluator threads for encrypted mode; each holds a share of the model", "1")
    .option("--memory-budget <size>", "plaintext cache per worker, e.g. 3GiB (default 3GiB, at most 3.5GiB)")
    .addHelpText(
      "after",
      '\nExamples:\n  based model generate "The old man" --max-tokens 16\n  based model generate "The old man" --plain --json',
    )
    .action(wrap(generate));
  model
    .command("fetch")
    .description("put a Brain's task model on this machine (verified by its content hash) and show its plan")
    .requiredOption("--brain <id>", "the Brain whose task model to fetch")
    .addHelpText(
      "after",
      `
An http(s) model is downloaded into the model cache ($BASED_MODEL_CACHE, default
~/.cache/based/models) unless a verified copy is there; a file:// model is checked where it is.
\`based prompt\` does the same before its first prompt; \`based brain show\` reads the plan of a
model already here. Example:
  based model fetch --brain 3`,
    )
    .action(wrap(fetchModel));
}
