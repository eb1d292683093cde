/**
 * Issue 7 end to end on the devnet `npm run devnet` runs: Brain #3 with the shipped model, its
 * gateway (Redis), two miners and two validators as separate processes, real chains. A user's
 * `based prompt` is escrowed, answered by encrypted inference and settled on chain; nothing the
 * services keep or log contains the prompt; a miner killed mid-generation hands the session to
 * the other one.
 */
import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import { type Address, createPublicClient, erc20Abi, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { generationEosId } from "../../miner/engine";
import { devnetRedisPrefix, SHIPPED_MODEL_DIR } from "../../scripts/devnet/brain-services";
import { DEVNET_ACCOUNTS, DEVNET_BRAIN, devnetPrivateKey } from "../../sdk/devnet";
import { readDeployments } from "../../sdk/deployments";
import { GatewayClient } from "../../sdk/gateway-client";
import { runPrompt } from "../../sdk/prompt";
import { OnnxGpt2Runner } from "../../zkllm/model/onnx-runner";
import { loadTokenizer } from "../../zkllm/tokenizer";
import { type RunningDevnet, basedAsync, startDevnet, tempDir } from "../helpers/processes";
import { type Haystack, dumpRedis, findSecrets } from "../helpers/secrets";

const address = (index: number): Address => privateKeyToAccount(devnetPrivateKey(index)).address;

describe("Brain #3 on the devnet: encrypted prompts through the gateway, miners and payment", function () {
  this.timeout(600_000);
  let devnet: RunningDevnet;
  let env: NodeJS.ProcessEnv;
  let runner: OnnxGpt2Runner;
  const eosId = generationEosId(SHIPPED_MODEL_DIR);
  const tokenizer = loadTokenizer(SHIPPED_MODEL_DIR);
  const work = tempDir("based-e2e");
  const asked: { text: string; ids: number[] }[] = [];

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
    runner = await OnnxGpt2Runner.create(path.join(SHIPPED_MODEL_DIR, "model.onnx"), { maxPositions: 128 });
  });

  after(async () => {
    await runner?.release();
    await devnet?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function basedBalance(who: Address): Promise<bigint> {
    const d = readDeployments(devnet.deploymentsFile);
    const client = createPublicClient({ transport: http(devnet.basedRpcUrl) });
    return client.readContract({
      address: d.based!.contracts.BasedToken as Address,
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
        paid: string;
        refunded: string;
        ownerCut: string;
        minerPay: string;
      };
    };
    const expected = await runner.generateGreedy(tokenizer.encode(text), 6, eosId);
    expect(out.ids).to.deep.equal(expected);
    expect(out.text).to.equal(tokenizer.decode(expected));
    expect(out.units.completion).to.equal(expected.length);

    expect(out.cost.status).to.equal("settled");
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
      modelDir: SHIPPED_MODEL_DIR,
      prompt: text,
      maxTokens: 8,
      mode: "encrypted",
      keystoreDir: path.join(work, "keys"),
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
    const expected = await runner.generateGreedy(tokenizer.encode(text), 8, eosId);
    expect(result.ids).to.deep.equal(expected);
    expect(result.miners[0]).to.equal(first);
    expect(result.miners).to.have.length(2);
  });

  it("the prompts' text and token ids appear nowhere in Redis, in any service's log or state", async () => {
    const files: Haystack[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else files.push({ name: path.relative(devnet.stateDir, p), bytes: fs.readFileSync(p) });
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
