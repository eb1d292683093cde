import type { Command } from "commander";
import { minerService } from "../../compute/miner/main";
import { runService } from "../../service/shell";
import type { Wrap } from "../core/context";

/** `based miner start`: serve a Brain's jobs from its gateway (the miner service of compute/miner/main.ts). */
export function registerMinerCommands(program: Command, wrap: Wrap): void {
  const miner = program
    .command("miner")
    .description("run a miner node for a Brain (encrypted or plain inference)");

  miner
    .command("start")
    .description("register with a Brain if needed, load its task model and answer its gateway's jobs")
    .requiredOption("--brain <id>", "Brain id (0–1023)")
    .option("--gateway <url>", "the Brain's gateway (default: BASED_GATEWAY_URL, or the devnet's)")
    .option("--workers <n>", "evaluator threads (default: one per core); each holds a share of the model")
    .option(
      "--memory-budget <size>",
      "plaintext cache per worker, e.g. 3GiB (default 3GiB, at most 3.5GiB of a worker's 4 GiB WebAssembly memory)",
    )
    .option("--storage <GiB>", "storage you offer, declared when registering", "0")
    .option(
      "--model-cache <dir>",
      "where task models fetched over http(s) are kept (default: BASED_MODEL_CACHE, else ~/.cache/based/models)",
    )
    .option("--no-register", "do not register: refuse to start unless already a miner of the Brain")
    .option("--concurrency <n>", "jobs worked on at once", "2")
    .option(
      "--endpoint <text>",
      "the endpoint recorded when registering (miners pull work, so nothing connects to it)",
      "pull",
    )
    .addHelpText(
      "after",
      `
The miner reads the Brain's configuration on the BasedAI chain (its task model and ZK mode),
registers your key as a miner when it is not a member yet ("memorize": pays the Brain's fee,
declares the detected device, GPU or CPU, and --storage), fetches the task model from its URI
(file:// or http(s)://) and refuses it unless its content hash is the one the Brain names. Then
it pulls jobs from the Brain's gateway, runs them (encrypted: plan steps over ciphertexts on the
evaluator pool; ZK off: plain onnxruntime generation) and posts each result with its signed
delivery. It follows task changes (the Brain's configuration is read every 10 s) and stops
gracefully on Ctrl-C or SIGTERM: jobs in flight finish or are given back to the gateway.

Encrypted models are sharded over the workers: each encodes and keeps the plaintexts of its
share of every product, within --memory-budget, and every worker works on every product. At
start the miner logs the memory the model needs per worker and its warm-up progress; it refuses
a model that cannot fit (naming the limit), and warns when a share exceeds the budget (it then
re-encodes plaintexts for every token: slow).

Logs are JSON lines on stderr (never prompts, ciphertexts or tokens); "miner ready" is logged
once it polls. The key comes from BASED_PRIVATE_KEY (the devnet dev account on devnet).

Examples:
  based miner start --brain 3
  based miner start --brain 3 --gateway https://gw.example.org --workers 8 --storage 200`,
    )
    .action(
      wrap(async (ctx, _args, options) => {
        const summary = await runService(minerService, {
          flags: { ...options, config: ctx.configFile },
          logTo: 2,
          // Once it stopped (or was given up on), nothing it left behind keeps the command running.
          exitProcess: true,
        });
        ctx.out.result(
          { miner: summary },
          () =>
            `Miner ${summary.address} stopped: ${summary.completed} jobs answered, ${summary.released} given back${summary.lost ? `, ${summary.lost} left to expire` : ""}.`,
        );
      }),
    );
}
