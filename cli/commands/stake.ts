import type { Command } from "commander";
import { zeroAddress } from "viem";
import { BASED, isoTime } from "../../sdk/economy";
import { BasedError } from "../../sdk/errors";
import { getStakePositions, stakeBased, unstakeBased, withdrawUnbonded } from "../../sdk/staking";
import { parseAddress, parseBrainId, parseInteger, parseTokenAmount } from "../core/args";
import type { Wrap } from "../core/context";
import { withSpinner } from "../ui/spinner";
import { signerOf } from "../../sdk/chain";

type PositionOptions = { brain: string; validator?: string; amount: string };

function parsePosition(opts: PositionOptions) {
  const amount = parseTokenAmount(opts.amount, "--amount");
  if (amount === 0n) throw new BasedError("input", "ZeroAmount", "The amount must be more than 0.");
  return {
    brainId: parseBrainId(opts.brain),
    validator: opts.validator === undefined ? undefined : parseAddress(opts.validator, "--validator"),
    amount,
  };
}

/** `--generation`: a non-negative integer (undefined: the current Brain). */
function parseGeneration(value: string | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,19}$/.test(value)) {
    throw new BasedError("input", "InvalidArgument", "--generation must be a whole number (0, 1, …).");
  }
  return BigInt(value);
}

const target = (brainId: number, validator: string) =>
  validator === zeroAddress ? `Brain #${brainId}` : `validator ${validator} of Brain #${brainId}`;

/** `based stake …`: stake BASED to Brains and validators, unstake, withdraw. */
export function registerStakeCommands(program: Command, wrap: Wrap): void {
  const stake = program
    .command("stake")
    .description("stake BASED to a Brain or one of its validators; unstake and withdraw")
    .addHelpText(
      "after",
      `
Stake goes to a Brain, or to one of its validators (delegation: the validator keeps its take of
your dividends). A Brain's stake counts for rewards up to 0.5 % of all stake, and a Brain with at
least 0.5 % is a GigaBrain. Unstaked BASED stops counting at once and can be withdrawn after the
unbonding period.`,
    );

  stake
    .command("add")
    .description("stake BASED to a Brain (or, with --validator, to one of its validators)")
    .requiredOption("--brain <id>", "Brain id (0–1023)")
    .option("--validator <address>", "a registered validator of the Brain to delegate to")
    .requiredOption("--amount <BASED>", "BASED to stake, e.g. 1000")
    .addHelpText(
      "after",
      "\nExamples:\n  based stake add --brain 3 --amount 1000\n  based stake add --brain 3 --validator 0x… --amount 500",
    )
    .action(
      wrap(async (ctx, _args, options) => {
        const p = parsePosition(options as PositionOptions);
        const based = await ctx.based({ withAccount: true });
        const done = await withSpinner(
          ctx.spinner(),
          (onStep) => stakeBased(based, { ...p, onStep }),
          (d) => `staked ${BASED(d.amount)}`,
        );
        ctx.out.result({ staked: done }, () =>
          [
            `Staked ${BASED(done.amount)} to ${target(done.brainId, done.validator)}`,
            `  your position  ${BASED(done.position)}`,
            `  Brain stake    ${BASED(done.brainStake)}`,
            done.approvalHash ? `  approval tx    ${done.approvalHash}` : undefined,
            `  stake tx       ${done.transactionHash}`,
          ]
            .filter((l) => l !== undefined)
            .join("\n"),
        );
      }),
    );

  stake
    .command("remove")
    .description("unstake BASED; it can be withdrawn after the unbonding period")
    .requiredOption("--brain <id>", "Brain id (0–1023)")
    .option("--validator <address>", "the validator the stake was delegated to")
    .requiredOption("--amount <BASED>", "BASED to unstake")
    .option(
      "--generation <n>",
      "unstake from this generation of the id: an earlier Brain whose id was freed and minted again",
    )
    .addHelpText("after", "\nExample:\n  based stake remove --brain 3 --amount 250")
    .action(
      wrap(async (ctx, _args, options) => {
        const p = parsePosition(options as PositionOptions);
        const generation = parseGeneration((options as { generation?: string }).generation);
        const based = await ctx.based({ withAccount: true });
        const done = await withSpinner(
          ctx.spinner(),
          (onStep) => unstakeBased(based, { ...p, generation, onStep }),
          (d) => `unstaked ${BASED(d.amount)}`,
        );
        const releaseAtIso = isoTime(done.releaseAt);
        ctx.out.result({ unstaked: { ...done, releaseAtIso } }, () =>
          [
            `Unstaked ${BASED(done.amount)} from ${target(done.brainId, done.validator)}`,
            `  withdraw from  ${releaseAtIso} (\`based stake withdraw\`)`,
            `  your position  ${BASED(done.position)}`,
            `  unstake tx     ${done.transactionHash}`,
          ].join("\n"),
        );
      }),
    );

  stake
    .command("withdraw")
    .description("withdraw the unstaked BASED whose unbonding period has passed")
    .option("--max-entries <n>", "withdraw at most this many unbondings, oldest first", "50")
    .addHelpText("after", "\nExample:\n  based stake withdraw")
    .action(
      wrap(async (ctx, _args, options) => {
        const maxEntries = parseInteger(
          (options as { maxEntries: string }).maxEntries,
          "--max-entries",
          1,
          10_000,
        );
        const based = await ctx.based({ withAccount: true });
        const done = await withSpinner(
          ctx.spinner(),
          (onStep) => withdrawUnbonded(based, { maxEntries, onStep }),
          (d) => `withdrew ${BASED(d.amount)}`,
        );
        const remaining = done.remaining.map((u) => ({ ...u, releaseAtIso: isoTime(u.releaseAt) }));
        ctx.out.result({ withdrawn: { ...done, remaining } }, () =>
          [
            `Withdrew ${BASED(done.amount)} to ${done.staker}`,
            ...remaining.map((u) => `  still unbonding ${BASED(u.amount)} until ${u.releaseAtIso}`),
            `  tx ${done.transactionHash}`,
          ].join("\n"),
        );
      }),
    );

  stake
    .command("show")
    .description("list stake positions and unbondings (yours by default)")
    .option("--address <address>", "whose positions to list")
    .action(
      wrap(async (ctx, _args, options) => {
        const raw = (options as { address?: string }).address;
        const address = raw === undefined ? undefined : parseAddress(raw, "--address");
        const based = await ctx.based({ withAccount: address === undefined });
        const staker = address ?? signerOf(based);
        const shown = await getStakePositions(based, staker);
        const unbondings = shown.unbondings.map((u) => ({ ...u, releaseAtIso: isoTime(u.releaseAt) }));
        ctx.out.result({ stake: { ...shown, unbondings } }, () =>
          [
            `Stake of ${staker}`,
            ...(shown.positions.length === 0
              ? ["  no positions"]
              : shown.positions.map(
                  (p) => `  ${BASED(p.amount).padEnd(24)} ${target(p.brainId, p.validator)}`,
                )),
            ...unbondings.map((u) => `  unbonding ${BASED(u.amount)} until ${u.releaseAtIso}`),
          ].join("\n"),
        );
      }),
    );
}
