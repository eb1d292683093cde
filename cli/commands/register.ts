import type { Command } from "commander";
import { BASED } from "../../sdk/economy";
import { deregisterMember, loadPruningTree, registerMember } from "../../sdk/network";
import {
  parseBrainId,
  parseChoice,
  parseEndpoint,
  parseInteger,
  parseTokenAmount,
  readJsonFile,
} from "../core/args";
import type { Wrap } from "../core/context";

/** `based register` and `based deregister`: join or leave a Brain as a miner or validator. */
export function registerNetworkCommands(program: Command, wrap: Wrap): void {
  program
    .command("register")
    .description("join a Brain as a miner or validator on the BasedAI chain, paying its registration fee")
    .requiredOption("--brain <id>", "Brain id (0–1023)")
    .requiredOption("--role <role>", "miner or validator")
    .requiredOption("--endpoint <host:port>", "where your node is reached (host:port or a URL)")
    .option("--device <device>", "miners: cpu or gpu", "cpu")
    .option("--storage <GiB>", "miners: storage offered, in GiB", "0")
    .option("--max-fee <BASED>", "the most BASED you accept to pay (default: the fee now)")
    .option(
      "--pruning-tree <file>",
      "when the role is full: the latest epoch report's pruning tree (JSON dump)",
    )
    .addHelpText(
      "after",
      `
Registering pays the Brain's fee (\`based brain show <id>\` prints it) to the Brain's reward
recipient, approving BASED to the Network contract first when needed. A Brain has at most 256
validators and 1,792 miners; when the role is full, a registrant replaces the member with the
lowest pruning score past its immunity, along the attested pruning order of the latest epoch
report: pass that order's StandardMerkleTree dump with --pruning-tree (no oracle serves it yet).

Leave a Brain with \`based deregister --brain <id>\` (your stake is not touched).

Examples:
  based register --brain 3 --role validator --endpoint 203.0.113.7:8091
  based register --brain 3 --role miner --endpoint miner.example.org:9000 --device gpu --storage 200 --max-fee 100`,
    )
    .action(
      wrap(async (ctx, _args, options) => {
        const opts = options as {
          brain: string;
          role: string;
          endpoint: string;
          device: string;
          storage: string;
          maxFee?: string;
          pruningTree?: string;
        };
        const brainId = parseBrainId(opts.brain);
        const role = parseChoice(opts.role, "--role", ["miner", "validator"]);
        const endpoint = parseEndpoint(opts.endpoint);
        const device = parseChoice(opts.device, "--device", ["cpu", "gpu"]);
        const storageGiB = parseInteger(opts.storage, "--storage", 0, 2 ** 32 - 1);
        const maxFee = opts.maxFee === undefined ? undefined : parseTokenAmount(opts.maxFee, "--max-fee");
        const pruningTree =
          opts.pruningTree === undefined
            ? undefined
            : loadPruningTree(readJsonFile(opts.pruningTree, "pruning tree"));
        const based = await ctx.based({ withAccount: true });
        const spinner = ctx.spinner();
        try {
          const done = await registerMember(based, brainId, {
            role,
            endpoint,
            device,
            storageGiB,
            maxFee,
            pruningTree,
            onStep: (_s, detail) => spinner.update(detail),
          });
          spinner.succeed(`registered in Brain #${brainId} as uid ${done.uid}`);
          ctx.out.result({ registered: done }, () =>
            [
              `Registered ${done.account} in Brain #${brainId} as ${done.role}, uid ${done.uid}`,
              `  fee paid     ${BASED(done.fee)} to ${done.feeRecipient}`,
              `  endpoint     ${done.endpoint}${done.role === "miner" ? ` (${done.device}, ${done.storageGiB} GiB)` : ""}`,
              done.replaced
                ? `  replaced     uid ${done.replaced.uid} (${done.replaced.account})`
                : undefined,
              done.approvalHash ? `  approval tx  ${done.approvalHash}` : undefined,
              `  register tx  ${done.transactionHash}`,
            ]
              .filter((l) => l !== undefined)
              .join("\n"),
          );
        } catch (err) {
          spinner.fail();
          throw err;
        }
      }),
    );

  program
    .command("deregister")
    .description("leave a Brain: your uid is freed (your stake is not touched)")
    .requiredOption("--brain <id>", "Brain id (0–1023)")
    .addHelpText("after", "\nExample:\n  based deregister --brain 3")
    .action(
      wrap(async (ctx, _args, options) => {
        const brainId = parseBrainId((options as { brain: string }).brain);
        const based = await ctx.based({ withAccount: true });
        const spinner = ctx.spinner();
        try {
          const done = await deregisterMember(based, brainId, {
            onStep: (_s, detail) => spinner.update(detail),
          });
          spinner.succeed(`left Brain #${brainId}`);
          ctx.out.result(
            { deregistered: done },
            () =>
              `${done.account} left Brain #${brainId} (was ${done.role}, uid ${done.uid})\n  tx ${done.transactionHash}`,
          );
        } catch (err) {
          spinner.fail();
          throw err;
        }
      }),
    );
}
