/**
 * Issue 7 end to end on the devnet `npm run devnet` runs: Brain #3 with the shipped model, its
 * gateway (Redis), two miners and two validators as separate processes, real chains. A user's
 * `based prompt` is escrowed, answered by encrypted inference and settled on chain; nothing the
 * services keep or log contains the prompt; a miner killed mid-generation hands the session to
 * the other one.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { type Address, erc20Abi } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { generationEosId } from "../../compute/miner/engine";
import { devnetContext, devnetRedisPrefix, SHIPPED_MODEL_DIR } from "../../scripts/devnet/brain-services";
import { unpackWeights } from "../../protocol/report";
import { consensusAbi, networkAbi } from "../../protocol/generated/abis";
import { epochOf, getEpochTiming } from "../../sdk/weights";
import { DEVNET_ACCOUNTS, DEVNET_BRAIN, devnetPrivateKey } from "../../sdk/devnet";
import { economyContracts } from "../../sdk/economy";
import { GatewayClient } from "../../sdk/gateway-client";
import { promptUnits, runPrompt } from "../../sdk/prompt";
import { OnnxGpt2Runner, generateGreedy } from "../../zkllm/evaluator";
import { loadTokenizer } from "../../zkllm/tokenizer";
import { waitFor } from "../helpers/oracle";
import { ROOT, type RunningDevnet, basedAsync, startDevnet, tempDir } from "../helpers/processes";
import { type Haystack, dumpRedis, findSecrets } from "../helpers/secrets";
import { type ChainContext } from "../../sdk/chain";
import { keystoreKeys } from "../../sdk/node/keystore";
import { modelPlanLossiness, openModelDir } from "../../sdk/node/model-cache";

const address = (index: number): Address => privateKeyToAccount(devnetPrivateKey(index)).address;

describe("Brain #3 on the devnet: encrypted prompts through the gateway, miners and payment", function () {
  this.timeout(600_000);
  let devnet: RunningDevnet;
  let env: NodeJS.ProcessEnv;
  let runner: OnnxGpt2Runner;
  /** The BasedAI chain, as the dev account. */
  let based: ChainContext;
  const eosId = generationEosId(SHIPPED_MODEL_DIR);
  const tokenizer = loadTokenizer(SHIPPED_MODEL_DIR);
  const work = tempDir("based-e2e");
  const asked: { text: string; ids: number[] }[] = [];
  /** The honest miner still running after the kill test. */
  let survivor: Address | undefined;

  before(async () => {
    devnet = await startDevnet({ brainServices: true, basedBlockTime: 1, timeoutMs: 420_000 });
    env = {
      ...process.env,
      BASED_DEPLOYMENTS: devnet.deploymentsFile,
      BASED_PRIVATE_KEY: devnetPrivateKey(DEVNET_ACCOUNTS.dev),
      BASED_GATEWAY_URL: devnet.gatewayUrl,
      BASED_KEYSTORE: path.join(work, "keys"),
      BASED_MODEL_CACHE: path.join(work, "models"),
      BASED_LOG_LEVEL: "warn",
    };
    based = await devnetContext(devnet.deploymentsFile, DEVNET_ACCOUNTS.dev);
    runner = await OnnxGpt2Runner.create(path.join(SHIPPED_MODEL_DIR, "model.onnx"), { maxPositions: 128 });
  });

  after(async () => {
    await runner?.release();
    await devnet?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function basedBalance(who: Address): Promise<bigint> {
    return based.publicClient.readContract({
      address: economyContracts(based).BasedToken,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [who],
    });
  }

  it("`based prompt` answers like plaintext inference, and the escrow pays miner and owner exactly what it held", async () => {
    const deposit = await basedAsync(["account", "deposit", "5", "--json"], env);
    expect(deposit.status, deposit.stderr).to.equal(0);

    const text = "The jury said";
    asked.push({ text, ids: tokenizer.encode(text) });
    const payees = [...DEVNET_BRAIN.minerAccounts.map(address), address(DEVNET_ACCOUNTS.labs)];
    const before = await Promise.all(payees.map(basedBalance));

    const run = await basedAsync(["prompt", "--brain", "3", text, "--max-tokens", "6", "--json"], env);
    expect(run.status, run.stderr).to.equal(0);
    const out = JSON.parse(run.stdout) as {
      ids: number[];
      text: string;
      miners: Address[];
      units: { prompt: number; completion: number };
      cost: {
        status: string;
        escrowed: string;
        maxCost: string;
        paid: string;
        refunded: string;
        ownerCut: string;
        minerPay: string;
      };
      plan: unknown;
    };
    const expected = await generateGreedy(runner.source(), tokenizer.encode(text), { maxTokens: 6, eosId });
    expect(out.ids).to.deep.equal(expected);
    expect(out.text).to.equal(tokenizer.decode(expected));
    // Rows through the plan: the prompt bucket (the escrow's prompt units), then one row per
    // token after the first (which the prompt pass gives).
    expect(out.units).to.deep.equal({
      prompt: promptUnits(tokenizer.encode(text)),
      completion: expected.length - 1,
    });
    // Whether the Brain's plan is lossy (the shipped plan may be either), as `brain show` says too.
    expect(out.plan).to.deep.equal(modelPlanLossiness(SHIPPED_MODEL_DIR));

    expect(out.cost.status).to.equal("settled");
    // The prices did not change after the quote: the escrow is the quote, passed as maxCost.
    expect(out.cost.maxCost).to.equal(out.cost.escrowed);
    const [escrowed, paid, refunded, ownerCut, minerPay] = [
      out.cost.escrowed,
      out.cost.paid,
      out.cost.refunded,
      out.cost.ownerCut,
      out.cost.minerPay,
    ].map(BigInt);
    expect(paid! + refunded!).to.equal(escrowed);
    expect(minerPay! + ownerCut!).to.equal(paid);
    expect(paid! > 0n).to.equal(true);
    // On chain: the miners together got the miner's pay, the Brain's wallet (labs) the owner's cut.
    const after = await Promise.all(payees.map(basedBalance));
    const gained = after.map((b, i) => b - before[i]!);
    expect(gained[0]! + gained[1]!).to.equal(minerPay);
    expect(gained[2]).to.equal(ownerCut);
  });

  it("a miner killed mid-generation: the session finishes on the other miner, with the same answer", async () => {
    const text = "The city council voted";
    asked.push({ text, ids: tokenizer.encode(text) });
    const pids = JSON.parse(fs.readFileSync(path.join(devnet.stateDir, "pids.json"), "utf8")) as Record<
      string,
      number
    >;
    const minerName = new Map(DEVNET_BRAIN.minerAccounts.map((a, i) => [address(a), `miner-${i + 1}`]));
    let first: Address | undefined;
    let killed = false;
    const result = await runPrompt({
      gateway: new GatewayClient({ url: devnet.gatewayUrl }),
      brainId: DEVNET_BRAIN.id,
      model: openModelDir(SHIPPED_MODEL_DIR, "encrypted"),
      prompt: text,
      maxTokens: 8,
      mode: "encrypted",
      openKeys: keystoreKeys(path.join(work, "keys")),
      onStep: (s) => {
        const m = /open on miner (0x[0-9a-fA-F]{40})/.exec(s);
        if (m) first = m[1] as Address;
      },
      onToken: () => {
        if (killed || !first) return;
        killed = true;
        process.kill(pids[minerName.get(first)!]!, "SIGKILL");
      },
    });
    expect(killed).to.equal(true);
    survivor = result.miners[1];
    const expected = await generateGreedy(runner.source(), tokenizer.encode(text), { maxTokens: 8, eosId });
    expect(result.ids).to.deep.equal(expected);
    expect(result.miners[0]).to.equal(first);
    expect(result.miners).to.have.length(2);
  });

  it("a miner returning wrong results is caught by the validators: its weight and its reward fall below the honest miner's", async () => {
    expect(survivor, "runs after the kill test").to.not.equal(undefined);
    const honest = survivor!;
    const faulty = address(4);
    const { Network: network, Consensus: consensus } = economyContracts(based);
    const fromBlock = await based.publicClient.getBlockNumber();

    const child = spawn(
      process.execPath,
      [path.join(ROOT, "bin", "based.js"), "miner", "start", "--brain", "3", "--workers", "1"],
      {
        cwd: ROOT,
        env: {
          ...env,
          BASED_PRIVATE_KEY: devnetPrivateKey(4),
          BASED_MINER_FAULT: "wrong-results",
          BASED_LOG_LEVEL: "info",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    try {
      await waitFor(
        "the faulty miner to be ready",
        async () => output.includes("miner ready"),
        180_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${output}`);
      });
      const uidOf = async (who: Address) =>
        (
          await based.publicClient.readContract({
            address: network,
            abi: networkAbi,
            functionName: "roleOf",
            args: [BigInt(DEVNET_BRAIN.id), who],
          })
        )[1];
      const [honestUid, faultyUid] = await Promise.all([uidOf(honest), uidOf(faulty)]);

      // Users' traffic: sessions go to the least-loaded miner, so the faulty one serves some of
      // them (its answers are wrong: nothing is asserted on them); validators replay such jobs.
      for (const text of ["Once upon a time", "The weather today", "In the beginning"]) {
        asked.push({ text, ids: tokenizer.encode(text) });
        await runPrompt({
          gateway: new GatewayClient({ url: devnet.gatewayUrl }),
          brainId: DEVNET_BRAIN.id,
          model: openModelDir(SHIPPED_MODEL_DIR, "encrypted"),
          prompt: text,
          maxTokens: 3,
          mode: "encrypted",
          openKeys: keystoreKeys(path.join(work, "keys")),
        });
      }

      // A validator's revealed weights that caught it: the faulty miner under a tenth of the honest one.
      const caught = await waitFor(
        "a validator's revealed weights that put the faulty miner under a tenth of the honest one",
        async () => {
          const logs = await based.publicClient.getContractEvents({
            address: consensus,
            abi: consensusAbi,
            eventName: "WeightsRevealed",
            fromBlock,
          });
          return logs.find((l) => {
            const w = new Map(unpackWeights(l.args.weights!));
            return (w.get(honestUid) ?? 0) > 10 * (w.get(faultyUid) ?? 0);
          });
        },
        420_000,
        2_000,
      );
      const timing = await getEpochTiming(based);
      const revealEpoch = epochOf(caught.blockNumber, timing);

      // The attesters' report of that epoch (or a later one) pays the honest miner more.
      const attester = `http://127.0.0.1:${devnet.attesterPort}`;
      const amount = async (epoch: bigint, who: Address) => {
        const res = await fetch(`${attester}/epochs/${epoch}/rewards/${who}`);
        if (!res.ok) return undefined;
        return BigInt(((await res.json()) as { amount: string }).amount);
      };
      const paid = await waitFor(
        "an epoch report from the reveal's epoch on that pays the honest miner",
        async () => {
          for (const epoch of [revealEpoch, revealEpoch + 1n]) {
            const [h, f] = await Promise.all([amount(epoch, honest), amount(epoch, faulty)]);
            if (h !== undefined && f !== undefined && h > 0n) return { epoch, honest: h, faulty: f };
          }
          return undefined;
        },
        240_000,
        2_000,
      );
      expect(
        paid.faulty < paid.honest,
        `epoch ${paid.epoch}: faulty ${paid.faulty} vs honest ${paid.honest}`,
      ).to.equal(true);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("the prompts' text and token ids appear nowhere in Redis, in any service's log or state", async () => {
    const files: Haystack[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else {
          // The services keep running: a state file's temporary copy may be renamed away meanwhile.
          try {
            files.push({ name: path.relative(devnet.stateDir, p), bytes: fs.readFileSync(p) });
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
          }
        }
      }
    };
    walk(devnet.stateDir);
    const redis = await dumpRedis(devnetRedisPrefix(devnet.stateDir));
    const logs = files.filter((f) => /^(gateway|miner-\d|validator-\d)\.log$/.test(f.name));
    expect(logs.length).to.equal(5);
    expect(redis.reduce((a, h) => a + h.bytes.length, 0)).to.be.greaterThan(1_000_000);
    for (const needle of asked) {
      expect(findSecrets([...redis, ...files], needle), needle.text).to.deep.equal([]);
    }
  });
});
