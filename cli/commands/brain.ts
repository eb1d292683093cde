import { type Command, Option } from "commander";
import { formatEther, zeroAddress } from "viem";
import {
  type Brain,
  type OnStep,
  deactivateBrain,
  getBrain,
  getBrainSupply,
  linkBasedWallet,
  mintBrainByBurn,
  mintBrainByStake,
} from "../../sdk/brain";
import { connectBased } from "../../sdk/bridge";
import { BasedError } from "../../sdk/errors";
import { type MirroredBrain, getMirroredBrain, mirrorMatches, rewardsExplanation } from "../../sdk/registry";
import { parseAddress, parseBrainId, parseTokenAmount } from "../args";
import type { CommandContext, Wrap } from "../context";
import type { Spinner } from "../ui/spinner";

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

async function readMirror(ctx: CommandContext, id: number, info: Brain): Promise<MirrorView> {
  try {
    const based = await connectBased(ctx.config);
    const mirror = await getMirroredBrain(based, id);
    return {
      available: true,
      ...mirror,
      inSync: mirrorMatches(info, mirror),
      rewards: rewardsExplanation(mirror),
    };
  } catch (err) {
    // The Ethereum side is the answer to `show`; an unreachable BasedAI chain only hides the mirror.
    ctx.log.debug({ err }, "BasedAI chain mirror unavailable");
    return { available: false, reason: err instanceof Error ? err.message : String(err) };
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
    .description("show one Brain: owner, class, lock, BasedAI-chain wallet, and its BasedAI-chain mirror")
    .argument("<id>", "Brain id (0–1023)")
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
        const mirror = await readMirror(ctx, id, info);
        ctx.out.result({ brain: brainJson(info), network, mirror }, () =>
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
          ].join("\n"),
        );
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
