import type { Command } from "commander";
import { attesterUrlsFor } from "../../sdk/bridge";
import { BASED } from "../../sdk/economy";
import {
  type EpochReport,
  type RewardRow,
  challengeReport,
  claimReward,
  getEpochReport,
  listRewards,
  loadRewardsTree,
  settleLapsedChallenge,
} from "../../sdk/rewards";
import { parseAddress, parseBytes32, parseInteger, readJsonFile } from "../core/args";
import type { Wrap } from "../core/context";
import { signerOf } from "../../sdk/chain";

const MAX_EPOCH = Number.MAX_SAFE_INTEGER;

/** `based rewards …`: epoch reports and claims. */
export function registerRewardsCommands(program: Command, wrap: Wrap): void {
  const rewards = program
    .command("rewards")
    .description("claim BASED rewards of finished epochs; show and challenge epoch reports")
    .addHelpText(
      "after",
      `
After each epoch the oracle's attesters sign a report: the Merkle root of every account's reward,
whose sum is exactly the epoch's emission. Once its challenge window has passed, each account
claims its amount once with a Merkle proof from the epoch's rewards tree. The attesters serve
each account's amount and proof (GET /epochs/<n>/rewards/<address>), checked here against the
root the chain accepted; --tree takes the tree from a file instead (a StandardMerkleTree dump of
[address, uint256] leaves, as GET /epochs/<n>/rewards serves it).

During its challenge window anyone may dispute a report with a different rewards root for the
same inputs (\`based rewards challenge\`), bonding a share of the epoch's emission (at least the
minimum bond). The attesters answer with a revision: the bond returns if it takes your root and is
burned otherwise. Without a revision in time the challenge lapses: the report is final as
reported, and anyone may burn the bond (\`based rewards settle\`).

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
        ctx.out.result({ rewards: { ...list, attesters: attesterUrls } }, () =>
          [
            `Rewards of ${account} (epochs ${Math.max(0, list.nextEpoch - last)} … ${list.nextEpoch})`,
            ...(list.rows.length === 0
              ? ["  no epoch reported yet"]
              : list.rows.map(
                  (r) =>
                    `  epoch ${String(r.epoch).padEnd(6)} ${(r.amount === null ? "unknown (no attester answered)" : BASED(r.amount)).padEnd(32)} ${rewardRowState(r)}`,
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
        ctx.out.result({ report: r }, () =>
          [
            `Epoch ${epoch}: ${reportState(r)}`,
            `  blocks         ${r.startBlock} … ${r.endBlock - 1}`,
            ...(r.status === "none"
              ? []
              : [
                  `  emission       ${BASED(r.amount)} (claimed ${BASED(r.claimed)})`,
                  `  revision       ${r.revision}`,
                  `  rewards root   ${r.rewardsRoot}`,
                  `  pruning root   ${r.pruningRoot}`,
                  `  inputs hash    ${r.inputsHash}`,
                  ...(r.challenger
                    ? [`  challenger     ${r.challenger}`, `  challenge root ${r.challengedRoot}`]
                    : []),
                  `  bond           ${reportBond(r)}`,
                ]),
          ].join("\n"),
        );
      }),
    );

  rewards
    .command("challenge")
    .description("dispute a pending epoch report with a different rewards root, bonding BASED")
    .requiredOption("--epoch <n>", "the epoch whose report you dispute")
    .requiredOption("--root <bytes32>", "the rewards root you computed for the same inputs (0x + 64 hex)")
    .addHelpText(
      "after",
      `
Only during the report's challenge window (\`based rewards show --epoch <n>\` says until which
block, and what the bond is) and only with a root other than the report's. The bond is
Consensus.challengeBondOf(epoch): a share of the epoch's emission (10 % on the default
parameters), at least the minimum bond; BASED is approved to Consensus first when the allowance
is short. The attesters then have until the lapse block to answer with a revision: the bond
returns if the revision takes your root and is burned otherwise. Without a revision the report is
final as reported from the lapse block and the bond is burned (\`based rewards settle\`).

Example:
  based rewards challenge --epoch 12 --root 0x…`,
    )
    .action(
      wrap(async (ctx, _args, options) => {
        const opts = options as { epoch: string; root: string };
        const epoch = parseInteger(opts.epoch, "--epoch", 0, MAX_EPOCH);
        const rewardsRoot = parseBytes32(opts.root, "--root");
        const based = await ctx.based({ withAccount: true });
        const spinner = ctx.spinner();
        try {
          const done = await challengeReport(based, {
            epoch,
            rewardsRoot,
            onStep: (_s, detail) => spinner.update(detail),
          });
          spinner.succeed(`challenged epoch ${epoch}'s report`);
          ctx.out.result({ challenge: done }, () =>
            [
              `Challenged epoch ${epoch}'s report with root ${done.rewardsRoot}`,
              `  challenger   ${done.challenger}`,
              `  bond         ${BASED(done.bond)} (returned if the attesters' revision takes your root, burned otherwise)`,
              `  lapses at    block ${done.lapsesAt}: the attesters have until then to answer with a revision; without one the report is final as reported and the bond is burned`,
              `  tx ${done.transactionHash}`,
            ].join("\n"),
          );
        } catch (err) {
          spinner.fail();
          throw err;
        }
      }),
    );

  rewards
    .command("settle")
    .description("burn the bond of a challenge that lapsed (no revision before its lapse block)")
    .requiredOption("--epoch <n>", "the epoch whose challenge lapsed")
    .addHelpText(
      "after",
      `
A challenge the attesters did not answer before its lapse block leaves the report final as
reported (claims open without this command); this closes the challenge and burns its bond. Anyone
may send it.

Example:
  based rewards settle --epoch 12`,
    )
    .action(
      wrap(async (ctx, _args, options) => {
        const epoch = parseInteger((options as { epoch: string }).epoch, "--epoch", 0, MAX_EPOCH);
        const based = await ctx.based({ withAccount: true });
        const spinner = ctx.spinner();
        try {
          const done = await settleLapsedChallenge(based, epoch, {
            onStep: (_s, detail) => spinner.update(detail),
          });
          spinner.succeed(`settled epoch ${epoch}'s lapsed challenge`);
          ctx.out.result(
            { settled: done },
            () =>
              `Settled epoch ${epoch}'s lapsed challenge: the report stands, ${BASED(done.bond)} of bond burned\n  tx ${done.transactionHash}`,
          );
        } catch (err) {
          spinner.fail();
          throw err;
        }
      }),
    );
}

/** What `rewards list` says of one epoch for the account. */
export function rewardRowState(r: RewardRow): string {
  if (r.claimed) return "claimed";
  // A challenge concerns every account of the epoch, whatever it earned.
  if (r.status === "challenged") {
    if (!r.final) return `challenged (final from block ${r.lapsesAt} without a revision)`;
    return r.amount === null || r.amount === 0n
      ? `challenge lapsed at block ${r.lapsesAt}: final as reported`
      : `claimable (challenge lapsed at block ${r.lapsesAt}: final as reported)`;
  }
  if (r.amount === null || r.amount === 0n) return "";
  if (r.final) return "claimable";
  return r.status === "none" ? "not reported yet" : r.status;
}

/** What `rewards show` says of a report's state. */
export function reportState(r: EpochReport): string {
  if (r.status === "none") {
    return r.currentBlock < r.endBlock
      ? `in progress (ends at block ${r.endBlock}; the chain is at ${r.currentBlock})`
      : "no report yet";
  }
  if (r.status === "challenged") {
    return r.final
      ? `challenge lapsed at block ${r.finalizesAt}: final as reported, claimable; bond to be burned (based rewards settle --epoch ${r.epoch})`
      : `challenged: waiting for the attesters' revision, final as reported from block ${r.finalizesAt} (the chain is at ${r.currentBlock})`;
  }
  if (r.final) return `${r.status}, final: claimable`;
  return `pending: final from block ${r.finalizesAt} (the chain is at ${r.currentBlock})`;
}

/** What `rewards show` says of the report's bond. */
export function reportBond(r: EpochReport): string {
  if (!r.challenger) {
    return r.status === "pending" && !r.final
      ? `none (a challenge bonds ${BASED(r.challengeBond)}, before block ${r.finalizesAt})`
      : "none";
  }
  if (r.status === "settled") return `${BASED(r.bond)} (settled: returned or burned)`;
  return r.final
    ? `${BASED(r.bond)} (to be burned: no revision came)`
    : `${BASED(r.bond)} (returned if the revision takes the challenger's root, burned otherwise)`;
}
