import type { Command } from "commander";
import { connectBased } from "../../sdk/bridge";
import { BASED } from "../../sdk/economy";
import { claimReward, getEpochReport, loadRewardsTree } from "../../sdk/rewards";
import { parseAddress, parseInteger, readJsonFile } from "../args";
import type { Wrap } from "../context";

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
claims its amount once with a Merkle proof from the epoch's rewards tree (a StandardMerkleTree
dump of [address, uint256] leaves).`,
    );

  rewards
    .command("claim")
    .description("claim an account's reward of a final epoch from its rewards tree")
    .requiredOption("--tree <file>", "the epoch's rewards tree (StandardMerkleTree JSON dump)")
    .requiredOption("--epoch <n>", "the epoch")
    .option("--address <address>", "whose reward to claim (default: yours); the BASED go to it")
    .addHelpText("after", "\nExample:\n  based rewards claim --tree epoch-12-rewards.json --epoch 12")
    .action(
      wrap(async (ctx, _args, options) => {
        const opts = options as { tree: string; epoch: string; address?: string };
        const epoch = parseInteger(opts.epoch, "--epoch", 0, MAX_EPOCH);
        const account = opts.address === undefined ? undefined : parseAddress(opts.address, "--address");
        const tree = loadRewardsTree(readJsonFile(opts.tree, "rewards tree"));
        const based = await connectBased(ctx.config, { withAccount: true });
        const spinner = ctx.spinner();
        try {
          const done = await claimReward(based, {
            epoch,
            tree,
            account,
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
    .command("show")
    .description("show an epoch's report: status, emission, claimed, roots")
    .requiredOption("--epoch <n>", "the epoch")
    .action(
      wrap(async (ctx, _args, options) => {
        const epoch = parseInteger((options as { epoch: string }).epoch, "--epoch", 0, MAX_EPOCH);
        const based = await connectBased(ctx.config);
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
