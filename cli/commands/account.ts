import type { Command } from "commander";
import { BASED, assertAmount, isoTime } from "../../sdk/economy";
import { BasedError } from "../../sdk/errors";
import {
  UNLIMITED_ALLOWANCE,
  authorizeApp,
  deposit,
  getSpendingAccount,
  reclaimRequest,
  withdraw,
} from "../../sdk/market";
import { parseAddress, parseTokenAmount } from "../core/args";
import type { Wrap } from "../core/context";
import { withSpinner } from "../ui/spinner";
import { signerOf } from "../../sdk/chain";

/** A positive BASED amount (decimal, at most 18 decimals), refused before any chain call. */
function parsePositiveAmount(raw: string): bigint {
  const amount = parseTokenAmount(raw, "amount");
  assertAmount(amount);
  return amount;
}

/** An app allowance: a BASED amount (0 revokes) or `unlimited`. */
function parseAllowance(raw: string): bigint {
  return raw === "unlimited" ? UNLIMITED_ALLOWANCE : parseTokenAmount(raw, "allowance");
}

/** A request id: a whole number from 1. */
function parseRequestId(raw: string): bigint {
  if (!/^\d{1,78}$/.test(raw) || BigInt(raw) === 0n || BigInt(raw) >= 2n ** 256n) {
    throw new BasedError(
      "input",
      "InvalidArgument",
      `Invalid request id "${raw}": expected a whole number from 1 (\`based account show\` lists your open requests).`,
    );
  }
  return BigInt(raw);
}

const allowanceText = (allowance: bigint) =>
  allowance === UNLIMITED_ALLOWANCE ? "unlimited" : allowance === 0n ? "none (revoked)" : BASED(allowance);

/** `based account …`: the spending account that pays for prompts (ComputeMarket). */
export function registerAccountCommands(program: Command, wrap: Wrap): void {
  const account = program
    .command("account")
    .description("your spending account for prompts: deposit, withdraw, authorize apps, reclaim escrows")
    .addHelpText(
      "after",
      `
Prompts are paid from a spending account of BASED held by the ComputeMarket contract. Each prompt
escrows its maximum cost at the Brain's prices (per 1,000 compute units; a unit is a token); when
the result is delivered the miner and the Brain owner are paid for the units used and the rest
returns to your free balance. A prompt not settled by its deadline (at most one day after it was
sent) can be reclaimed in full with \`based account reclaim\`. Amounts are in BASED (e.g. 12.5).`,
    );

  account
    .command("show")
    .description("show a spending account: free balance, escrowed BASED and open requests")
    .option("--address <address>", "whose account to show (default: yours)")
    .addHelpText("after", "\nExamples:\n  based account show\n  based account show --address 0x… --json")
    .action(
      wrap(async (ctx, _args, options) => {
        const raw = (options as { address?: string }).address;
        const address = raw === undefined ? undefined : parseAddress(raw, "--address");
        const based = await ctx.based({ withAccount: address === undefined });
        const shown = await getSpendingAccount(based, address ?? signerOf(based));
        const openRequests = shown.openRequests.map((r) => ({ ...r, deadlineIso: isoTime(r.deadline) }));
        ctx.out.result({ account: { ...shown, openRequests } }, () =>
          [
            `Spending account of ${shown.account}`,
            `  free balance   ${BASED(shown.balance)}`,
            `  escrowed       ${BASED(shown.escrowed)} in ${openRequests.length} open request(s)`,
            `  in wallet      ${BASED(shown.walletBalance)}`,
            ...openRequests.map(
              (r) =>
                `  request ${String(r.requestId).padEnd(6)} Brain #${r.brainId} ${BASED(r.escrow)} until ${r.deadlineIso}${
                  r.reclaimable ? ` (expired: \`based account reclaim ${r.requestId}\`)` : ""
                }`,
            ),
          ].join("\n"),
        );
      }),
    );

  account
    .command("deposit")
    .description("move BASED from your wallet into your spending account")
    .argument("<amount>", "BASED to deposit, e.g. 25 or 0.5")
    .addHelpText("after", "\nExample:\n  based account deposit 25")
    .action(
      wrap(async (ctx, [rawAmount]) => {
        const amount = parsePositiveAmount(rawAmount!);
        const based = await ctx.based({ withAccount: true });
        const done = await withSpinner(
          ctx.spinner(),
          (onStep) => deposit(based, amount, { onStep }),
          (d) => `deposited ${BASED(d.amount)}`,
        );
        ctx.out.result({ deposited: done }, () =>
          [
            `Deposited ${BASED(done.amount)} into the spending account of ${done.account}`,
            `  free balance  ${BASED(done.balance)}`,
            done.approvalHash ? `  approval tx   ${done.approvalHash}` : undefined,
            `  deposit tx    ${done.txHash}`,
          ]
            .filter((l) => l !== undefined)
            .join("\n"),
        );
      }),
    );

  account
    .command("withdraw")
    .description("move free BASED from your spending account back to your wallet")
    .argument("<amount>", "BASED to withdraw (at most the free balance)")
    .addHelpText(
      "after",
      "\nBASED escrowed by open requests stays until they settle or are reclaimed.\n\nExample:\n  based account withdraw 10",
    )
    .action(
      wrap(async (ctx, [rawAmount]) => {
        const amount = parsePositiveAmount(rawAmount!);
        const based = await ctx.based({ withAccount: true });
        const done = await withSpinner(
          ctx.spinner(),
          (onStep) => withdraw(based, amount, { onStep }),
          (d) => `withdrew ${BASED(d.amount)}`,
        );
        ctx.out.result({ withdrawn: done }, () =>
          [
            `Withdrew ${BASED(done.amount)} to ${done.account}`,
            `  free balance  ${BASED(done.balance)}`,
            `  tx            ${done.txHash}`,
          ].join("\n"),
        );
      }),
    );

  account
    .command("authorize")
    .description("let an app open prompts on your account, escrowing up to an allowance")
    .argument("<app>", "the app's address")
    .argument("<allowance>", "BASED it may escrow in all, `unlimited`, or 0 to revoke")
    .addHelpText(
      "after",
      `
The allowance replaces any earlier one and goes down by each escrow the app makes; refunds do not
restore it.

Examples:
  based account authorize 0x… 50
  based account authorize 0x… unlimited
  based account authorize 0x… 0`,
    )
    .action(
      wrap(async (ctx, [rawApp, rawAllowance]) => {
        const app = parseAddress(rawApp!, "app address");
        const allowance = parseAllowance(rawAllowance!);
        const based = await ctx.based({ withAccount: true });
        const done = await withSpinner(
          ctx.spinner(),
          (onStep) => authorizeApp(based, app, allowance, { onStep }),
          (d) => `authorized ${d.app}`,
        );
        ctx.out.result({ authorized: { ...done, unlimited: done.allowance === UNLIMITED_ALLOWANCE } }, () =>
          [
            `${done.app} may escrow ${allowanceText(done.allowance)} from the account of ${done.account}`,
            `  tx ${done.txHash}`,
          ].join("\n"),
        );
      }),
    );

  account
    .command("reclaim")
    .description("take back the whole escrow of a request that passed its deadline unsettled")
    .argument("<requestId>", "the request (`based account show` lists yours)")
    .addHelpText(
      "after",
      "\nAnyone may send it; the BASED always returns to the request's account.\n\nExample:\n  based account reclaim 12",
    )
    .action(
      wrap(async (ctx, [rawId]) => {
        const requestId = parseRequestId(rawId!);
        const based = await ctx.based({ withAccount: true });
        const done = await withSpinner(
          ctx.spinner(),
          (onStep) => reclaimRequest(based, requestId, { onStep }),
          (d) => `reclaimed ${BASED(d.amount)}`,
        );
        ctx.out.result({ reclaimed: done }, () =>
          [
            `Reclaimed request ${done.requestId}: ${BASED(done.amount)} back to the free balance of ${done.account}`,
            `  tx ${done.txHash}`,
          ].join("\n"),
        );
      }),
    );
}
