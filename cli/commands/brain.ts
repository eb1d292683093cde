import { type Command, Option } from "commander";
import { formatEther, zeroAddress } from "viem";
import {
  type Brain,
  deactivateBrain,
  getBrain,
  getBrainSupply,
  linkBasedWallet,
  mintBrainByBurn,
  mintBrainByStake,
} from "../../sdk/brain";
import type { OnStep } from "../../sdk/contract-call";
import {
  type BrainConfig,
  type BrainConfigChange,
  configureBrain,
  getBrainConfig,
} from "../../sdk/brain-config";
import { BASED, brainNotActive } from "../../sdk/economy";
import { getBrainGateway, setBrainGateway } from "../../sdk/market";
import { BasedError } from "../../sdk/errors";
import { type BrainMembers, getMembers } from "../../sdk/network";
import { type MirroredBrain, getMirroredBrain, mirrorMatches, rewardsExplanation } from "../../sdk/registry";
import { type BrainStake, getBrainStake } from "../../sdk/staking";
import {
  parseAddress,
  parseBrainId,
  parseBytes32,
  parseChoice,
  parseInteger,
  parsePrices,
  parseSplit,
  parseText,
  parseTokenAmount,
} from "../core/args";
import type { CommandContext, Wrap } from "../core/context";
import type { Spinner } from "../ui/spinner";
import { type PlanView, planLine } from "../ui/plan";
import type { ChainContext } from "../../sdk/chain";
import type * as ModelCacheModule from "../../sdk/node/model-cache";

/* eslint-disable @typescript-eslint/no-require-imports */
/** The model cache brings the engine (SEAL): it loads only when a Brain has a task model to read. */
const lazyModelCache = () => require("../../sdk/node/model-cache") as typeof ModelCacheModule;
/* eslint-enable @typescript-eslint/no-require-imports */

const iso = (seconds: number) => (seconds === 0 ? "-" : new Date(seconds * 1000).toISOString());

function spinnerSteps(spinner: Spinner): OnStep {
  return (_step, detail) => spinner.update(detail);
}

function brainJson(brain: Brain) {
  return { ...brain, unlockAtIso: brain.unlockAt === 0 ? null : iso(brain.unlockAt) };
}

/** The BasedAI-chain side of `brain show`: the BrainRegistry mirror, or why it cannot be read. */
type MirrorView =
  | (MirroredBrain & { available: true; inSync: boolean; rewards: string })
  | { available: false; reason: string };

/** The BasedAI chain's economy of a Brain for `brain show`: configuration, members, stake. */
type EconomyView =
  | { available: true; config: BrainConfig; members: BrainMembers; stake: BrainStake }
  | { available: false; reason: string };

const reasonOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The BasedAI-chain side of `brain show`: the mirror and the economy, or why they cannot be read. */
async function readBasedSide(
  ctx: CommandContext,
  id: number,
  info: Brain,
): Promise<{ mirror: MirrorView; economy: EconomyView }> {
  let based: ChainContext;
  try {
    based = await ctx.based();
  } catch (err) {
    // The Ethereum side is the answer to `show`; an unreachable BasedAI chain only hides the rest.
    ctx.log.debug({ err }, "BasedAI chain unavailable");
    const unavailable = { available: false as const, reason: reasonOf(err) };
    return { mirror: unavailable, economy: unavailable };
  }
  const [mirror, economy] = await Promise.all([
    readMirror(ctx, based, id, info),
    readEconomy(ctx, based, id),
  ]);
  return { mirror, economy };
}

async function readMirror(
  ctx: CommandContext,
  based: ChainContext,
  id: number,
  info: Brain,
): Promise<MirrorView> {
  try {
    const mirror = await getMirroredBrain(based, id);
    return {
      available: true,
      ...mirror,
      inSync: mirrorMatches(info, mirror),
      rewards: rewardsExplanation(mirror),
    };
  } catch (err) {
    ctx.log.debug({ err }, "BasedAI chain mirror unavailable");
    return { available: false, reason: reasonOf(err) };
  }
}

async function readEconomy(ctx: CommandContext, based: ChainContext, id: number): Promise<EconomyView> {
  try {
    const [config, members, stake] = await Promise.all([
      getBrainConfig(based, id),
      getMembers(based, id),
      getBrainStake(based, id),
    ]);
    return { available: true, config, members, stake };
  } catch (err) {
    ctx.log.debug({ err }, "BasedAI chain economy unavailable");
    return { available: false, reason: reasonOf(err) };
  }
}

/**
 * Whether the Brain's encrypted-inference plan is lossy, read from its task model when that is
 * already on this machine (a file:// directory, or the model cache): `brain show` never downloads
 * a model, it says how to fetch one.
 */
function readPlanView(ctx: CommandContext, id: number, economy: EconomyView): PlanView {
  if (!economy.available) return { available: false, reason: economy.reason };
  const task = economy.config.task;
  if (!task) return { available: false, reason: "the Brain has no task model" };
  try {
    const cache = lazyModelCache();
    const dir = cache.findLocalModel(task.modelUri, task.contentHash, ctx.config.modelCacheDir);
    if (dir === null) {
      return {
        available: false,
        reason: `its model is not on this machine (\`based model fetch --brain ${id}\` downloads and verifies it)`,
      };
    }
    const plan = cache.modelPlanLossiness(dir);
    if (!plan) {
      return {
        available: false,
        reason: "the model has no encrypted-inference plan (zkllm-plan.json): it serves plain prompts only",
      };
    }
    return { available: true, modelDir: dir, ...plan };
  } catch (err) {
    ctx.log.debug({ err }, "the Brain's model plan is unreadable");
    // A content-hash mismatch lists every file on the following lines: the first says it all here.
    return { available: false, reason: reasonOf(err).split("\n")[0]! };
  }
}

function mirrorLines(mirror: MirrorView): string[] {
  if (!mirror.available) return ["BasedAI chain mirror", `  unavailable    ${mirror.reason}`];
  if (!mirror.mirrored) {
    return [
      `BasedAI chain mirror (BrainRegistry ${mirror.registry})`,
      "  state          not mirrored yet: the oracle relays new Brains within a few blocks",
    ];
  }
  return [
    `BasedAI chain mirror (BrainRegistry ${mirror.registry})`,
    `  state          ${mirror.active ? "active" : "inactive"}, ${mirror.inSync ? "in sync with Ethereum" : "behind Ethereum (an event is on its way through the oracle)"}`,
    `  owner          ${mirror.owner}`,
    `  BasedAI wallet ${mirror.basedWallet}`,
    `  earns rewards  ${mirror.rewards}`,
  ];
}

const pct = (bps: number) => `${bps / 100} %`;

/** The lines of a Brain's configuration (shared by `brain show` and `brain config`). */
function configLines(c: BrainConfig): string[] {
  const task = (t: NonNullable<BrainConfig["task"]>) =>
    `${t.modelUri} (content ${t.contentHash}, template ${t.templateId}${t.sourceRepo ? `, source ${t.sourceRepo}${t.sourceCommit ? `@${t.sourceCommit}` : ""}` : ""})`;
  const p = c.pricing;
  return [
    `  task           ${c.task ? task(c.task) : "none set"}`,
    ...(c.pendingTask
      ? [`  pending task   ${task(c.pendingTask)} from ${iso(c.pendingTask.effectiveAt)}`]
      : []),
    `  ZK mode        ${c.zkMode ? "on" : "off"}`,
    `  split          owner ${pct(c.split.ownerBps)} / miners ${pct(c.split.minersBps)} / validators ${pct(c.split.validatorsBps)}`,
    `  fee            ${BASED(c.registrationFee)} to register`,
    `  pricing        ${
      p.contextLimit === 0
        ? "not set"
        : `prompt ${BASED(p.promptPricePer1k)} / completion ${BASED(p.completionPricePer1k)} per 1,000 CU, context limit ${p.contextLimit} CU`
    }`,
    `  name           ${c.profile.name || "-"}${c.profile.ensName ? ` (${c.profile.ensName})` : ""}`,
    `  rewards to     ${c.profile.rewardRecipient}${c.profile.rewardAddress === zeroAddress ? " (the Brain's wallet)" : ""}`,
    `  configured by  ${c.wallet} (the Brain's BasedAI wallet)`,
  ];
}

/** Members listed by the human output of `brain show` (--json lists all). */
const MEMBER_LINES = 32;

function economyLines(economy: EconomyView, plan: PlanView): string[] {
  if (!economy.available) return [];
  const { config, members, stake } = economy;
  const all = [...members.validators.list, ...members.miners.list].sort((a, b) => a.uid - b.uid);
  const memberLines = all
    .slice(0, MEMBER_LINES)
    .map(
      (m) =>
        `    uid ${String(m.uid).padEnd(5)} ${m.role.padEnd(9)} ${m.account} since block ${m.registeredAt}`,
    );
  return [
    "BasedAI chain configuration",
    ...configLines(config),
    planLine(plan),
    `Members: ${members.validators.count}/${members.validators.max} validators, ${members.miners.count}/${members.miners.max} miners`,
    ...memberLines,
    ...(all.length > MEMBER_LINES
      ? [`    … and ${all.length - MEMBER_LINES} more (--json lists them all)`]
      : []),
    "Stake",
    `  in this Brain  ${BASED(stake.brainStake)} (counts for rewards: ${BASED(stake.countedStake)}, at most 0.5 % of all stake)`,
    `  network total  ${BASED(stake.totalStake)}`,
    `  GigaBrain      ${stake.gigaBrain ? "yes (at least 0.5 % of all stake)" : "no (under 0.5 % of all stake)"}`,
  ];
}

type ConfigOptions = {
  model?: string;
  contentHash?: string;
  template?: string;
  sourceRepo?: string;
  sourceCommit?: string;
  zk?: string;
  split?: string;
  fee?: string;
  price?: string;
  contextLimit?: string;
  name?: string;
  ens?: string;
  rewardAddress?: string;
  gateway?: string;
};

/** Validates every `brain config` option before anything is sent (bad input: exit 2). */
function parseConfigChange(o: ConfigOptions): BrainConfigChange {
  const change: BrainConfigChange = {};
  const taskGiven = [o.model, o.contentHash, o.template, o.sourceRepo, o.sourceCommit].some(
    (v) => v !== undefined,
  );
  if (taskGiven) {
    if (o.model === undefined || o.contentHash === undefined) {
      throw new BasedError(
        "input",
        "IncompleteTask",
        "A task needs both --model and --content-hash.",
        "Pass --model <uri> --content-hash 0x<64 hex> (and optionally --template, --source-repo, --source-commit).",
      );
    }
    change.task = {
      modelUri: parseText(o.model, "--model", 256),
      contentHash: parseBytes32(o.contentHash, "--content-hash"),
      templateId: o.template === undefined ? 0 : parseInteger(o.template, "--template", 0, 65_535),
      sourceRepo: o.sourceRepo === undefined ? "" : parseText(o.sourceRepo, "--source-repo", 256),
      sourceCommit: o.sourceCommit === undefined ? "" : parseText(o.sourceCommit, "--source-commit", 64),
    };
  }
  if (o.zk !== undefined) change.zkMode = parseChoice(o.zk, "--zk", ["on", "off"]) === "on";
  if (o.split !== undefined) change.split = parseSplit(o.split);
  if (o.fee !== undefined) change.registrationFee = parseTokenAmount(o.fee, "--fee");
  if (o.price !== undefined || o.contextLimit !== undefined) {
    change.pricing = {};
    if (o.price !== undefined) {
      const prices = parsePrices(o.price);
      change.pricing.promptPricePer1k = prices.prompt;
      change.pricing.completionPricePer1k = prices.completion;
    }
    if (o.contextLimit !== undefined) {
      change.pricing.contextLimit = parseInteger(o.contextLimit, "--context-limit", 1, 2 ** 32 - 1);
    }
  }
  if (o.name !== undefined || o.ens !== undefined || o.rewardAddress !== undefined) {
    change.profile = {};
    if (o.name !== undefined) change.profile.name = parseText(o.name, "--name", 64);
    if (o.ens !== undefined) change.profile.ensName = parseText(o.ens, "--ens", 128);
    if (o.rewardAddress !== undefined)
      change.profile.rewardAddress = parseAddress(o.rewardAddress, "--reward-address");
  }
  return change;
}

/** `based brain …`: acquire and manage Brains on Ethereum. */
export function registerBrainCommands(program: Command, wrap: Wrap): void {
  const brain = program
    .command("brain")
    .description("acquire and manage Brains (ERC-721 on Ethereum)")
    .addHelpText(
      "after",
      `
A Brain is acquired by burning Pepecoin (price: 1,000 PEPE + 200 PEPE per Brain burned so far;
transferable, permanent) or by staking 100,000 PEPE for 90 days (bound to you; deactivate it
after the lock to get the PEPE back). At most 1,024 Brains are active at once.`,
    );

  brain
    .command("mint")
    .description("mint a Brain by burning or staking Pepecoin")
    .addOption(new Option("--burn", "burn Pepecoin at the current price").conflicts("stake"))
    .addOption(new Option("--stake", "lock 100,000 PEPE for 90 days").conflicts("burn"))
    .option("--max-price <pepe>", "with --burn: the most PEPE you accept to pay (default: the price now)")
    .addHelpText(
      "after",
      "\nExamples:\n  based brain mint --burn --max-price 1200\n  based brain mint --stake --json",
    )
    .action(
      wrap(async (ctx, _args, options) => {
        const opts = options as { burn?: boolean; stake?: boolean; maxPrice?: string };
        if (!opts.burn && !opts.stake) {
          throw new BasedError("input", "MissingMode", "Choose how to mint: --burn or --stake.");
        }
        if (opts.stake && opts.maxPrice !== undefined) {
          throw new BasedError("input", "InvalidArgument", "--max-price applies to --burn only.");
        }
        const maxPrice =
          opts.maxPrice === undefined ? undefined : parseTokenAmount(opts.maxPrice, "--max-price");
        const eth = await ctx.ethereum({ withAccount: true });
        const spinner = ctx.spinner();
        spinner.update(opts.burn ? "reading the burn price" : "checking your PEPE");
        try {
          const minted = opts.burn
            ? await mintBrainByBurn(eth, { maxPrice, onStep: spinnerSteps(spinner) })
            : await mintBrainByStake(eth, { onStep: spinnerSteps(spinner) });
          spinner.succeed(`Brain #${minted.id} minted`);
          ctx.out.result({ brain: minted }, () =>
            [
              `Minted Brain #${minted.id} by ${minted.class} for ${formatEther(minted.paid)} PEPE`,
              `  owner        ${minted.owner}`,
              minted.class === "stake" ? `  unlocks at   ${iso(minted.unlockAt)}` : undefined,
              minted.approvalHash ? `  approval tx  ${minted.approvalHash}` : undefined,
              `  mint tx      ${minted.transactionHash}`,
            ]
              .filter((line) => line !== undefined)
              .join("\n"),
          );
        } catch (err) {
          spinner.fail();
          throw err;
        }
      }),
    );

  brain
    .command("show")
    .description(
      "show one Brain: owner, class, lock, BasedAI-chain wallet, its BasedAI-chain mirror, configuration, whether its encrypted-inference plan is lossy, members and stake",
    )
    .argument("<id>", "Brain id (0–1023)")
    .addHelpText(
      "after",
      `
The "encrypted plan" line says whether the Brain's plan is lossy (activation quantization, dropped
attention heads or the fast CKKS parameters: an encrypted answer may then differ from the plain
one) and the agreement its converter measured. It is read from the Brain's task model only when
that is on this machine (a file:// directory, or the model cache): \`based model fetch --brain <id>\`
puts it there.`,
    )
    .action(
      wrap(async (ctx, [rawId]) => {
        const id = parseBrainId(rawId!);
        const eth = await ctx.ethereum();
        const [info, supply] = await Promise.all([getBrain(eth, id), getBrainSupply(eth)]);
        const network = {
          activeSupply: supply.activeSupply,
          burnMints: supply.burnMints,
          nextBurnPrice: supply.burnPrice,
        };
        if (!info) {
          throw new BasedError(
            "refused",
            "BrainNotFound",
            `Brain #${id} does not exist (${supply.activeSupply} of ${supply.maxBrains} Brains are active).`,
            `Mint one with \`based brain mint --burn\` (next price ${formatEther(supply.burnPrice)} PEPE) or --stake.`,
          );
        }
        const { mirror, economy } = await readBasedSide(ctx, id, info);
        const plan = readPlanView(ctx, id, economy);
        ctx.out.result({ brain: brainJson(info), network, mirror, economy, plan }, () =>
          [
            `Brain #${id}`,
            `  class          ${info.class}`,
            `  owner          ${info.owner}`,
            `  BasedAI wallet ${info.basedWallet}`,
            info.class === "stake"
              ? `  unlocks at     ${iso(info.unlockAt)} (${info.locked ? "locked" : "unlocked: may be deactivated"})`
              : `  lock           none (permanent)`,
            `Network: ${supply.activeSupply}/${supply.maxBrains} active, next burn price ${formatEther(supply.burnPrice)} PEPE`,
            ...mirrorLines(mirror),
            ...(mirror.available && mirror.mirrored ? economyLines(economy, plan) : []),
          ].join("\n"),
        );
      }),
    );

  brain
    .command("config")
    .description(
      "show or change a Brain's configuration on the BasedAI chain (signed by the Brain's BasedAI wallet)",
    )
    .argument("<id>", "Brain id (0–1023)")
    .option("--model <uri>", "task: where the model is (with --content-hash)")
    .option("--content-hash <hash>", "task: the model's content hash (0x + 64 hex)")
    .option("--template <n>", "task: prompt template id (0–65535; default 0)")
    .option("--source-repo <url>", "task: source repository, for the audit")
    .option("--source-commit <sha>", "task: source commit, for the audit")
    .option("--zk <on|off>", "ZK-LLM (encrypted) inference on or off")
    .option("--split <owner:miners:validators>", "emission split in basis points summing to 10000")
    .option("--fee <BASED>", "registration fee for later registrants, e.g. 50")
    .option("--price <prompt:completion>", "BASED per 1,000 compute units, e.g. 0.01:0.02")
    .option("--context-limit <cu>", "context limit in compute units")
    .option("--name <text>", "the Brain's name")
    .option("--ens <name>", "the Brain's ENS/BNS name")
    .option("--reward-address <address>", "where the owner's rewards and fees go (0x0: the Brain's wallet)")
    .option("--gateway <address>", "the gateway account that settles the Brain's prompts (0x0: none)")
    .addHelpText(
      "after",
      `
With no option it prints the configuration. Each group of options given is one transaction:
task (--model, --content-hash, --template, --source-repo, --source-commit; takes effect after a
1-day notice), --zk, --split, --fee, pricing (--price, --context-limit), profile (--name,
--ens, --reward-address) and --gateway (the account whose gateway posts delivered results to the
ComputeMarket, paying miners and the owner). Only the Brain's BasedAI wallet may change it
(\`based brain show\` names it; the owner sets it on Ethereum with \`based brain link\`).

Examples:
  based brain config 3
  based brain config 3 --split 2000:4000:4000 --fee 50
  based brain config 3 --price 0.01:0.02 --context-limit 4096 --zk off
  based brain config 3 --gateway 0x…`,
    )
    .action(
      wrap(async (ctx, [rawId], options) => {
        const id = parseBrainId(rawId!);
        const change = parseConfigChange(options as ConfigOptions);
        const rawGateway = (options as ConfigOptions).gateway;
        const gateway = rawGateway === undefined ? undefined : parseAddress(rawGateway, "--gateway");
        const gatewayLine = (g: string | null) =>
          `  gateway        ${g ?? "none (prompts cannot be settled: set one with --gateway)"}`;
        if (Object.keys(change).length === 0 && gateway === undefined) {
          const based = await ctx.based();
          const [config, current] = await Promise.all([
            getBrainConfig(based, id),
            getBrainGateway(based, id),
          ]);
          if (!config.active) throw brainNotActive(id);
          ctx.out.result({ config: { ...config, gateway: current } }, () =>
            [`Brain #${id} configuration`, ...configLines(config), gatewayLine(current)].join("\n"),
          );
          return;
        }
        const based = await ctx.based({ withAccount: true });
        const spinner = ctx.spinner();
        try {
          const onStep = (_s: string, detail: string) => spinner.update(detail);
          const transactions: { action: string; transactionHash: string }[] = [];
          let config: BrainConfig | undefined;
          if (Object.keys(change).length > 0) {
            const done = await configureBrain(based, id, change, { onStep });
            transactions.push(...done.transactions);
            config = done.config;
          }
          if (gateway !== undefined) {
            const set = await setBrainGateway(based, id, gateway, { onStep });
            transactions.push({ action: "setGateway", transactionHash: set.txHash });
          }
          const [finalConfig, current] = await Promise.all([
            config ?? getBrainConfig(based, id),
            getBrainGateway(based, id),
          ]);
          spinner.succeed(`Brain #${id} configured`);
          ctx.out.result({ brainId: id, transactions, config: { ...finalConfig, gateway: current } }, () =>
            [
              `Configured Brain #${id} in ${transactions.length} transaction(s)`,
              ...transactions.map((t) => `  ${t.action.padEnd(18)} tx ${t.transactionHash}`),
              `Brain #${id} configuration`,
              ...configLines(finalConfig),
              gatewayLine(current),
            ].join("\n"),
          );
        } catch (err) {
          spinner.fail();
          throw err;
        }
      }),
    );

  brain
    .command("deactivate")
    .description("after the 90-day lock, burn your stake Brain and get its 100,000 PEPE back")
    .argument("<id>", "Brain id (0–1023)")
    .action(
      wrap(async (ctx, [rawId]) => {
        const id = parseBrainId(rawId!);
        const eth = await ctx.ethereum({ withAccount: true });
        const spinner = ctx.spinner();
        try {
          const done = await deactivateBrain(eth, id, { onStep: spinnerSteps(spinner) });
          spinner.succeed(`Brain #${id} deactivated`);
          ctx.out.result(
            { deactivated: done },
            () =>
              `Deactivated Brain #${id}: ${formatEther(done.refunded)} PEPE returned\n  tx ${done.transactionHash}`,
          );
        } catch (err) {
          spinner.fail();
          throw err;
        }
      }),
    );

  brain
    .command("link")
    .description("set the wallet that represents a Brain on the BasedAI chain (0x0 resets it to the owner)")
    .argument("<id>", "Brain id (0–1023)")
    .argument("<address>", "the Brain's wallet on the BasedAI chain")
    .action(
      wrap(async (ctx, [rawId, rawAddress]) => {
        const id = parseBrainId(rawId!);
        const wallet = parseAddress(rawAddress!, "BasedAI wallet address");
        const eth = await ctx.ethereum({ withAccount: true });
        const spinner = ctx.spinner();
        try {
          const done = await linkBasedWallet(eth, id, wallet, { onStep: spinnerSteps(spinner) });
          spinner.succeed(`Brain #${id} linked`);
          ctx.out.result(
            { linked: done },
            () =>
              `Brain #${id} now uses ${done.basedWallet} on the BasedAI chain${wallet === zeroAddress ? " (the owner)" : ""}\n  tx ${done.transactionHash}`,
          );
        } catch (err) {
          spinner.fail();
          throw err;
        }
      }),
    );
}
