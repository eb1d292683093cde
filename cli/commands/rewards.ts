import type { Command } from "commander";
import { attesterUrlsFor } from "../../sdk/bridge";
import { BASED } from "../../sdk/economy";
import { claimReward, getEpochReport, listRewards, loadRewardsTree } from "../../sdk/rewards";
import { parseAddress, parseInteger, readJsonFile } from "../core/args";
import type { Wrap } from "../core/context";
import { signerOf } from "../../sdk/chain";

const MAX_EPOCH = Number.MAX_SAFE_INTEGER;

/** `based rewards …`: epoch reports and claims. */
export function registerRewardsCommands(program: Command, wrap: Wrap): void {
  const rewards = program
    .command("rewards")
    .description("claim BASED rewards of finished epochs; show epoch reports")
    .addHelpText(
      "after",
      `
After each epoch the oracle's attesters sign a report: the Merkle root of every account's reward,
whose sum is exactly the epoch's emission. Once its challenge window has passed, each account
claims its amount once with a Merkle proof from the epoch's rewards tree. The attesters serve
each account's amount and proof (GET /epochs/<n>/rewards/<address>), checked here against the
root the chain accepted; --tree takes the tree from a file instead (a StandardMerkleTree dump of
[address, uint256] leaves, as GET /epochs/<n>/rewards serves it).

Environment:
  BASED_ATTESTERS   attester URLs, comma-separated (devnet default: http://127.0.0.1:7101 … :7104)`,
    );

  rewards
    .command("claim")
    .description("claim an account's reward of a final epoch (proof from the attesters or a tree file)")
    .requiredOption("--epoch <n>", "the epoch")
    .option(
      "--tree <file>",
      "the epoch's rewards tree (StandardMerkleTree JSON dump); default: ask the attesters",
    )
    .option("--address <address>", "whose reward to claim (default: yours); the BASED go to it")
    .addHelpText(
      "after",
      "\nExamples:\n  based rewards claim --epoch 12\n  based rewards claim --tree epoch-12-rewards.json --epoch 12",
    )
    .action(
      wrap(async (ctx, _args, options) => {
        const opts = options as { tree?: string; epoch: string; address?: string };
        const epoch = parseInteger(opts.epoch, "--epoch", 0, MAX_EPOCH);
        const account = opts.address === undefined ? undefined : parseAddress(opts.address, "--address");
        const tree =
          opts.tree === undefined ? undefined : loadRewardsTree(readJsonFile(opts.tree, "rewards tree"));
        const based = await ctx.based({ withAccount: true });
        const source = tree
          ? { tree }
          : { attesterUrls: attesterUrlsFor(ctx.config.attesterUrls, based.deployments) };
        const spinner = ctx.spinner();
        try {
          const done = await claimReward(based, {
            epoch,
            account,
            ...source,
            onStep: (_s, detail) => spinner.update(detail),
          });
          spinner.succeed(`claimed ${BASED(done.amount)}`);
          ctx.out.result(
            { claimed: done },
            () =>
              `Claimed ${BASED(done.amount)} of epoch ${epoch} for ${done.account}\n  tx ${done.transactionHash}`,
          );
        } catch (err) {
          spinner.fail();
          throw err;
        }
      }),
    );

  rewards
    .command("list")
    .description("what an account earned per epoch (from the attesters) and whether it was claimed")
    .option("--address <address>", "whose rewards (default: yours)")
    .option("--last <n>", "how many of the latest epochs", "20")
    .action(
      wrap(async (ctx, _args, options) => {
        const opts = options as { address?: string; last: string };
        const last = parseInteger(opts.last, "--last", 1, 10_000);
        const explicit = opts.address === undefined ? undefined : parseAddress(opts.address, "--address");
        const based = await ctx.based({ withAccount: explicit === undefined });
        const account = explicit ?? signerOf(based);
        const attesterUrls = attesterUrlsFor(ctx.config.attesterUrls, based.deployments);
        const list = await listRewards(based, { account, attesterUrls, last });
        const state = (r: (typeof list.rows)[number]) =>
          r.claimed
            ? "claimed"
            : r.amount === null || r.amount === 0n
              ? ""
              : r.final
                ? "claimable"
                : r.status === "none"
                  ? "not reported yet"
                  : r.status;
        ctx.out.result({ rewards: { ...list, attesters: attesterUrls } }, () =>
          [
            `Rewards of ${account} (epochs ${Math.max(0, list.nextEpoch - last)} … ${list.nextEpoch})`,
            ...(list.rows.length === 0
              ? ["  no epoch reported yet"]
              : list.rows.map(
                  (r) =>
                    `  epoch ${String(r.epoch).padEnd(6)} ${(r.amount === null ? "unknown (no attester answered)" : BASED(r.amount)).padEnd(32)} ${state(r)}`,
                )),
            ...(attesterUrls.length === 0 ? ["  (no attesters to ask: set BASED_ATTESTERS)"] : []),
          ].join("\n"),
        );
      }),
    );

  rewards
    .command("show")
    .description("show an epoch's report: status, emission, claimed, roots")
    .requiredOption("--epoch <n>", "the epoch")
    .action(
      wrap(async (ctx, _args, options) => {
        const epoch = parseInteger((options as { epoch: string }).epoch, "--epoch", 0, MAX_EPOCH);
        const based = await ctx.based();
        const r = await getEpochReport(based, epoch);
        const state =
          r.status === "none"
            ? r.currentBlock < r.endBlock
              ? `in progress (ends at block ${r.endBlock}; the chain is at ${r.currentBlock})`
              : "no report yet"
            : r.final
              ? `${r.status}, final: claimable`
              : r.status === "pending"
                ? `pending: final from block ${r.finalizesAt} (the chain is at ${r.currentBlock})`
                : `${r.status}: waiting for a revision`;
        ctx.out.result({ report: r }, () =>
          [
            `Epoch ${epoch}: ${state}`,
            `  blocks         ${r.startBlock} … ${r.endBlock - 1}`,
            ...(r.status === "none"
              ? []
              : [
                  `  emission       ${BASED(r.amount)} (claimed ${BASED(r.claimed)})`,
                  `  revision       ${r.revision}`,
                  `  rewards root   ${r.rewardsRoot}`,
                  `  pruning root   ${r.pruningRoot}`,
                  `  inputs hash    ${r.inputsHash}`,
                  ...(r.challenger ? [`  challenger     ${r.challenger}`] : []),
                ]),
          ].join("\n"),
        );
      }),
    );
}
