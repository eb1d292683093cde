import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import {
  type Address,
  type Hex,
  createPublicClient,
  createWalletClient,
  erc20Abi,
  http,
  keccak256,
  parseEther,
  toHex,
  zeroAddress,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { emissionBetween } from "../../oracle/consensus/emission";
import {
  type PruneCandidate,
  Role,
  encodeReportPayload,
  pruningOrder,
  pruningTree,
  reportNonce,
  rewardsTree,
} from "../../protocol/report";
import {
  type Message,
  MessageKind,
  type SignedBy,
  attestationTypedData,
  pickSignatures,
} from "../../protocol/message";
import { jsonRpc } from "../../scripts/devnet/network";
import {
  parseBytes32,
  parseChoice,
  parseEndpoint,
  parseInteger,
  parsePrices,
  parseSplit,
  readJsonFile,
} from "../../cli/core/args";
import { buildProgram } from "../../cli/main";
import { BasedError } from "../../sdk/errors";
import { loadPruningTree } from "../../sdk/network";
import { loadRewardsTree } from "../../sdk/rewards";
import { type Deployments } from "../../sdk/deployments";
import { readDeployments } from "../../sdk/node/deployments-file";
import {
  DEVNET_ACCOUNTS,
  DEVNET_ATTESTER_ACCOUNTS,
  DEVNET_BASED,
  DEVNET_ECONOMY,
  devnetPrivateKey,
} from "../../sdk/devnet";
import { brainRegistryAbi, consensusAbi, messageInboxAbi, networkAbi } from "../../protocol/generated/abis";
import { type RunningDevnet, basedAsync, startDevnet, tempDir } from "../helpers/processes";

type Json = Record<string, unknown>;

const based = basedAsync;

const BRAIN = 3;

/** What the economy commands check before they touch a chain (bad input: exit code 2). */
describe("economy flags and tree dumps are validated before anything is sent", () => {
  const refused = (fn: () => unknown, what: string) =>
    expect(fn, what).to.throw(BasedError).with.property("kind", "input");

  it("--help names the new commands and their options", () => {
    const program = buildProgram(() => {});
    const help = (...names: string[]) =>
      names.reduce((c, n) => c.commands.find((sub) => sub.name() === n)!, program).helpInformation();
    for (const word of ["register", "deregister", "stake", "rewards"]) expect(help()).to.include(word);
    for (const word of [
      "--brain",
      "--role",
      "--endpoint",
      "--device",
      "--storage",
      "--max-fee",
      "--pruning-tree",
    ])
      expect(help("register")).to.include(word);
    for (const word of ["add", "remove", "withdraw", "show"]) expect(help("stake")).to.include(word);
    for (const word of ["--validator", "--amount"]) expect(help("stake", "add")).to.include(word);
    for (const word of ["--tree", "--epoch", "--address"]) expect(help("rewards", "claim")).to.include(word);
    for (const word of ["--split", "--fee", "--price", "--context-limit", "--zk", "--reward-address"])
      expect(help("brain", "config")).to.include(word);
  });

  it("--split is three whole basis-point parts summing to 10000", () => {
    expect(parseSplit("2000:4000:4000")).to.deep.equal({
      ownerBps: 2000,
      minersBps: 4000,
      validatorsBps: 4000,
    });
    expect(parseSplit("10000:0:0")).to.deep.equal({ ownerBps: 10000, minersBps: 0, validatorsBps: 0 });
    for (const bad of ["5000:5000:1", "2500:3750", "25%:37.5%:37.5%", "-1:5001:5000", "20000:0:-10000", ""])
      refused(() => parseSplit(bad), bad);
  });

  it("endpoints, prices, content hashes, choices and whole numbers", () => {
    for (const ok of [
      "127.0.0.1:9101",
      "miner.example.org:443",
      "[::1]:8091",
      "https://brain.example.org/v1",
    ])
      expect(parseEndpoint(ok)).to.equal(ok);
    for (const bad of ["no port", "host:0", "host:70000", "", `${"a".repeat(127)}:1`])
      refused(() => parseEndpoint(bad), bad);
    expect(parsePrices("0.001:2")).to.deep.equal({
      prompt: parseEther("0.001"),
      completion: parseEther("2"),
    });
    for (const bad of ["0.001", "1:2:3", "a:b", "-1:1"]) refused(() => parsePrices(bad), bad);
    expect(parseBytes32(`0x${"AB".repeat(32)}`, "--content-hash")).to.equal(`0x${"ab".repeat(32)}`);
    refused(() => parseBytes32("0x1234", "--content-hash"), "short hash");
    expect(parseChoice("gpu", "--device", ["cpu", "gpu"])).to.equal("gpu");
    refused(() => parseChoice("tpu", "--device", ["cpu", "gpu"]), "tpu");
    expect(parseInteger("4096", "--context-limit", 1, 2 ** 32 - 1)).to.equal(4096);
    for (const bad of ["0", "1.5", "x", "4294967296"])
      refused(() => parseInteger(bad, "--context-limit", 1, 2 ** 32 - 1), bad);
    refused(() => readJsonFile("/nonexistent/tree.json", "rewards tree"), "missing file");
  });

  it("a rewards tree dump round-trips through JSON; other trees and broken dumps are refused", async () => {
    const tree = await rewardsTree([
      { account: privateKeyToAccount(devnetPrivateKey(0)).address, amount: 7n },
      { account: privateKeyToAccount(devnetPrivateKey(2)).address, amount: 5n },
    ]);
    const json = JSON.parse(
      JSON.stringify(tree.dump(), (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
    ) as { values: { value: unknown[] }[] };
    expect(loadRewardsTree(json).root).to.equal(tree.root);
    refused(() => loadPruningTree(json), "a rewards tree is no pruning tree");
    refused(() => loadRewardsTree({ format: "simple-v1" }), "not a standard tree");
    json.values[0]!.value[1] = "8"; // a leaf that no longer matches the tree
    refused(() => loadRewardsTree(json), "tampered leaf");
  });
});

/**
 * The BasedAI economy as a user drives it with `based`, against `npm run devnet` (1-second
 * BasedAI-chain blocks): the labs account configures its reserved Brain #3, the dev account
 * registers as a validator and another account as a miner (paying the Brain's fee), both stake,
 * `brain show` sums it up, unstaking waits out the unbonding period, and a reward attested for
 * epoch 0 (built and signed here with the devnet attesters' keys) is claimed once it is final.
 */
describe("devnet + based register/stake/rewards (CLI end to end)", function () {
  this.timeout(180_000);

  let devnet: RunningDevnet;
  let deployments: Deployments;
  let env: NodeJS.ProcessEnv;
  const dev = privateKeyToAccount(devnetPrivateKey(DEVNET_ACCOUNTS.dev));
  const labs = privateKeyToAccount(devnetPrivateKey(DEVNET_ACCOUNTS.labs));
  const minerKey = devnetPrivateKey(2);
  const miner = privateKeyToAccount(minerKey);
  const delegatorKey = devnetPrivateKey(3);
  const as = (key: Hex) => ({ ...env, BASED_PRIVATE_KEY: key });

  /** A devnet JSON-RPC call; retried when the node closed an idle keep-alive socket under it. */
  async function rpc(method: string, params: unknown[] = []): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await jsonRpc(devnet.basedRpcUrl, method, params);
      } catch (err) {
        if (attempt >= 3 || !(err instanceof TypeError)) throw err;
      }
    }
  }
  const client = () => createPublicClient({ transport: http(devnet.basedRpcUrl) });
  const contracts = () => deployments.based!.contracts;
  const basedBalance = (who: Address) =>
    client().readContract({
      address: contracts().BasedToken,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [who],
    });
  const error = (res: { json: Json }) => res.json.error as Record<string, string>;

  before(async () => {
    devnet = await startDevnet({ basedBlockTime: 1, epochReports: false });
    deployments = readDeployments(devnet.deploymentsFile);
    const configFile = path.join(tempDir("based-config"), "config.json");
    fs.writeFileSync(configFile, JSON.stringify({ logLevel: "silent" }));
    env = { BASED_DEPLOYMENTS: devnet.deploymentsFile, BASED_CONFIG: configFile };
    // Brain #3 is reserved to the labs on Ethereum; the attesters mirror it here shortly after start.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const active = await client().readContract({
        address: contracts().BrainRegistry,
        abi: brainRegistryAbi,
        functionName: "isActive",
        args: [BigInt(BRAIN)],
      });
      if (active) break;
      if (Date.now() > deadline)
        throw new Error(`Brain #${BRAIN} not mirrored after 90 s:\n${devnet.output()}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  after(async () => {
    if (devnet) await devnet.stop();
  });

  it("brain config: only the Brain's wallet configures it; a bad split is refused before any transaction", async () => {
    const labsEnv = as(devnetPrivateKey(DEVNET_ACCOUNTS.labs));
    const [badSplit, stranger, set] = await Promise.all([
      based(["brain", "config", "3", "--split", "5000:5000:1", "--json"], labsEnv),
      based(["brain", "config", "3", "--split", "2000:4000:4000", "--json"], env), // the dev key
      based(["brain", "config", "3", "--split", "2000:4000:4000", "--fee", "50", "--json"], labsEnv),
    ]);
    expect(badSplit.status).to.equal(2);
    expect(error(badSplit).message).to.include("sum to 10000");

    expect(stranger.status).to.equal(3);
    expect(error(stranger)).to.include({ code: "NotBrainWallet", wallet: labs.address });
    expect(error(stranger).message).to.include(`only its BasedAI wallet ${labs.address}`);

    expect(set.status, set.stdout + set.stderr).to.equal(0);
    expect((set.json.transactions as Json[]).map((t) => t.action)).to.deep.equal([
      "setSplit",
      "setRegistrationFee",
    ]);
    const config = set.json.config as Json;
    expect(config.split).to.deep.equal({ ownerBps: 2000, minersBps: 4000, validatorsBps: 4000 });
    expect(config.registrationFee).to.equal(parseEther("50").toString());

    const more = await based(
      [
        ...["brain", "config", "3", "--model", "ipfs://brain-gpt2-tiny"],
        ...["--content-hash", keccak256(toHex("brain-gpt2-tiny"))],
        ...["--source-repo", "https://github.com/basedai/brain", "--source-commit", "0123abcd"],
        ...["--zk", "off", "--price", "0.001:0.002", "--context-limit", "4096", "--name", "Brain Three"],
        "--json",
      ],
      labsEnv,
    );
    expect(more.status, more.stdout + more.stderr).to.equal(0);
    expect((more.json.transactions as Json[]).map((t) => t.action)).to.deep.equal([
      "setTask",
      "setZkMode",
      "setPricing",
      "setProfile",
    ]);
    const after = more.json.config as Json;
    expect(after).to.include({ zkMode: false, task: null }); // the new task waits out its notice
    expect((after.pendingTask as Json).modelUri).to.equal("ipfs://brain-gpt2-tiny");
    expect(after.pricing).to.deep.equal({
      promptPricePer1k: parseEther("0.001").toString(),
      completionPricePer1k: parseEther("0.002").toString(),
      contextLimit: 4096,
    });
    expect(after.profile).to.include({ name: "Brain Three", rewardRecipient: labs.address });

    const [shown, incomplete] = await Promise.all([
      based(["brain", "config", "3"], env),
      based(["brain", "config", "3", "--model", "x", "--json"], labsEnv),
    ]);
    expect(shown.status, shown.stderr).to.equal(0);
    expect(shown.stdout).to.include("owner 20 % / miners 40 % / validators 40 %");
    expect(shown.stdout).to.include("50 BASED to register");
    expect(shown.stdout).to.include("ZK mode        off");
    expect(incomplete.status).to.equal(2);
    expect(error(incomplete).code).to.equal("IncompleteTask");
  });

  it("register: the dev account as validator and another as miner, each paying the 50 BASED fee to the Brain wallet", async () => {
    const walletBefore = await basedBalance(labs.address);
    const [tooDear, validator] = await Promise.all([
      based(
        [
          "register",
          "--brain",
          "3",
          "--role",
          "miner",
          "--endpoint",
          "127.0.0.1:9102",
          "--max-fee",
          "10",
          "--json",
        ],
        as(minerKey),
      ),
      based(
        ["register", "--brain", "3", "--role", "validator", "--endpoint", "127.0.0.1:9101", "--json"],
        env,
      ),
    ]);
    expect(tooDear.status).to.equal(3);
    expect(error(tooDear)).to.include({ code: "FeeAboveMax", fee: parseEther("50").toString() });
    expect(error(tooDear).hint).to.include("--max-fee 50");

    expect(validator.status, validator.stdout + validator.stderr).to.equal(0);
    const v = validator.json.registered as Json;
    expect(v).to.include({
      uid: 0,
      role: "validator",
      account: dev.address,
      fee: parseEther("50").toString(),
      feeRecipient: labs.address,
    });
    expect(v.approvalHash).to.match(/^0x[0-9a-f]{64}$/);

    const [minerRun, again] = await Promise.all([
      based(
        [
          ...["register", "--brain", "3", "--role", "miner", "--endpoint", "127.0.0.1:9102"],
          ...["--device", "gpu", "--storage", "64"],
        ],
        as(minerKey),
      ),
      based(["register", "--brain", "3", "--role", "miner", "--endpoint", "127.0.0.1:9101", "--json"], env),
    ]);
    expect(minerRun.status, minerRun.stdout + minerRun.stderr).to.equal(0);
    expect(minerRun.stdout).to.include(`Registered ${miner.address} in Brain #3 as miner, uid 1`);
    expect(minerRun.stdout).to.include("fee paid     50 BASED");
    expect((await basedBalance(labs.address)) - walletBefore).to.equal(parseEther("100"));

    expect(again.status).to.equal(3);
    expect(error(again)).to.include({ code: "AlreadyRegistered", uid: "0" });
    expect(error(again).hint).to.include("based deregister --brain 3");
  });

  it("stake add to the Brain and to its validator; brain show lists members, stake and GigaBrain", async () => {
    const [toBrain, delegated, notValidator] = await Promise.all([
      based(["stake", "add", "--brain", "3", "--amount", "1000", "--json"], env),
      based(
        ["stake", "add", "--brain", "3", "--validator", dev.address, "--amount", "500", "--json"],
        as(delegatorKey),
      ),
      based(
        ["stake", "add", "--brain", "3", "--validator", miner.address, "--amount", "1", "--json"],
        as(minerKey),
      ),
    ]);
    expect(toBrain.status, toBrain.stdout + toBrain.stderr).to.equal(0);
    expect(toBrain.json.staked).to.include({
      amount: parseEther("1000").toString(),
      position: parseEther("1000").toString(),
      validator: zeroAddress,
    });
    expect(delegated.status, delegated.stdout + delegated.stderr).to.equal(0);
    expect(delegated.json.staked).to.include({
      validator: dev.address,
      position: parseEther("500").toString(),
    });
    expect(notValidator.status).to.equal(3);
    expect(error(notValidator).code).to.equal("NotAValidator");

    const [shown, human] = await Promise.all([
      based(["brain", "show", "3", "--json"], env),
      based(["brain", "show", "3"], env),
    ]);
    expect(shown.status, shown.stderr).to.equal(0);
    expect(shown.json.mirror).to.include({ available: true, mirrored: true, active: true });
    const economy = shown.json.economy as Json;
    expect(economy.available).to.equal(true);
    const members = economy.members as { validators: Json; miners: Json };
    expect(members.validators).to.include({ count: 1, max: 256 });
    expect(members.miners).to.include({ count: 1, max: 1792 });
    expect((members.validators.list as Json[])[0]).to.include({
      uid: 0,
      account: dev.address,
      role: "validator",
    });
    expect((members.miners.list as Json[])[0]).to.include({ uid: 1, account: miner.address, role: "miner" });
    expect((members.miners.list as Json[])[0]!.registeredAt).to.be.a("number");
    expect(economy.stake).to.deep.include({
      brainStake: parseEther("1500").toString(),
      totalStake: parseEther("1500").toString(),
      // What counts for rewards is capped at 0.5 % of all stake.
      countedStake: parseEther("7.5").toString(),
      gigaBrain: true,
    });
    expect((economy.config as Json).split).to.deep.equal({
      ownerBps: 2000,
      minersBps: 4000,
      validatorsBps: 4000,
    });

    expect(human.status, human.stderr).to.equal(0);
    expect(human.stdout).to.include("GigaBrain      yes");
    expect(human.stdout).to.include("Members: 1/256 validators, 1/1792 miners");
    expect(human.stdout).to.include("earns rewards  yes");
  });

  it("stake remove starts the unbonding; withdraw is refused until it is released, then returns the BASED", async () => {
    const removed = await based(["stake", "remove", "--brain", "3", "--amount", "400", "--json"], env);
    expect(removed.status, removed.stdout + removed.stderr).to.equal(0);
    const unstaked = removed.json.unstaked as Json;
    expect(unstaked).to.include({
      amount: parseEther("400").toString(),
      position: parseEther("600").toString(),
    });
    expect(new Date(String(unstaked.releaseAtIso)).getTime()).to.equal(Number(unstaked.releaseAt) * 1000);

    const [tooMuch, early] = await Promise.all([
      based(["stake", "remove", "--brain", "3", "--amount", "601", "--json"], env),
      based(["stake", "withdraw", "--json"], env),
    ]);
    expect(tooMuch.status).to.equal(3);
    expect(error(tooMuch)).to.include({ code: "InsufficientStake", available: parseEther("600").toString() });
    expect(early.status).to.equal(3);
    expect(error(early)).to.include({ code: "NothingToWithdraw", nextReleaseAt: String(unstaked.releaseAt) });
    expect(error(early).message).to.include(`next release at ${String(unstaked.releaseAtIso)}`);

    const before = await basedBalance(dev.address);
    await rpc("evm_increaseTime", [DEVNET_ECONOMY.unbondingPeriod + 1]);
    await rpc("evm_mine");
    const withdrawn = await based(["stake", "withdraw", "--json"], env);
    expect(withdrawn.status, withdrawn.stdout + withdrawn.stderr).to.equal(0);
    expect((withdrawn.json.withdrawn as Json).amount).to.equal(parseEther("400").toString());
    expect((await basedBalance(dev.address)) - before).to.equal(parseEther("400"));

    const positions = await based(["stake", "show", "--json"], env);
    expect(positions.status, positions.stderr).to.equal(0);
    const stake = positions.json.stake as { positions: Json[]; unbondings: Json[] };
    expect(stake.positions).to.deep.equal([
      { brainId: 3, validator: zeroAddress, amount: parseEther("600").toString() },
    ]);
    expect(stake.unbondings).to.deep.equal([]);
  });

  it("rewards claim pays an account of epoch 0's attested report once it is final, and only once", async () => {
    const c = client();
    const file = path.join(tempDir("based-rewards"), "epoch-0.json");
    let emission = 0n;
    let devShare = 0n;
    // Hold the chain still so the report's challenge window passes only when the test says so.
    await rpc("evm_setIntervalMining", [0]);
    try {
      const [start, end] = await c.readContract({
        address: contracts().Consensus,
        abi: consensusAbi,
        functionName: "epochBounds",
        args: [0n],
      });
      const head = await c.getBlockNumber();
      if (head < end) await rpc("hardhat_mine", [toHex(end - head)]);

      // Epoch 0's report: the dev and the miner share its whole emission.
      emission = emissionBetween(start, end);
      devShare = (emission * 3n) / 5n;
      const tree = await rewardsTree([
        { account: dev.address, amount: devShare },
        { account: miner.address, amount: emission - devShare },
      ]);
      const members: PruneCandidate[] = [];
      for (const role of [Role.Validator, Role.Miner] as const) {
        const [uids, list] = await c.readContract({
          address: contracts().Network,
          abi: networkAbi,
          functionName: "membersOf",
          args: [BigInt(BRAIN), role],
        });
        list.forEach((m, i) =>
          members.push({
            brainId: BRAIN,
            role,
            uid: uids[i]!,
            account: m.account,
            registeredAt: m.registeredAt,
            score: 0n,
          }),
        );
      }
      const message: Message = {
        srcChainId: BigInt(DEVNET_BASED.chainId),
        dstChainId: BigInt(DEVNET_BASED.chainId),
        nonce: reportNonce(0n, 0),
        kind: MessageKind.EPOCH_REPORT,
        payload: encodeReportPayload({
          epoch: 0n,
          revision: 0,
          rewardsRoot: tree.root as Hex,
          pruningRoot: (await pruningTree(await pruningOrder(members))).root as Hex,
          inputsHash: keccak256(toHex("economy-cli test: epoch 0 inputs")),
          brainIds: [BRAIN],
          brainTotals: [emission],
        }),
      };
      const inbox = contracts().MessageInbox;
      const [setVersion, threshold] = await Promise.all([
        c.readContract({ address: inbox, abi: messageInboxAbi, functionName: "setVersion" }),
        c.readContract({ address: inbox, abi: messageInboxAbi, functionName: "threshold" }),
      ]);
      const signed: SignedBy[] = await Promise.all(
        DEVNET_ATTESTER_ACCOUNTS.map(async (i) => {
          const attester = privateKeyToAccount(devnetPrivateKey(i));
          return {
            signer: attester.address,
            signature: await attester.signTypedData(attestationTypedData(message, setVersion, inbox)),
          };
        }),
      );
      const signatures = pickSignatures(signed, Number(threshold))!;
      const relayer = createWalletClient({
        account: privateKeyToAccount(devnetPrivateKey(4)),
        transport: http(devnet.basedRpcUrl),
      });
      const hash = await relayer.writeContract({
        address: inbox,
        abi: messageInboxAbi,
        functionName: "receiveMessage",
        args: [message, setVersion, signatures],
        chain: null,
        gas: 3_000_000n,
      });
      await rpc("evm_mine");
      const receipt = await c.waitForTransactionReceipt({ hash, pollingInterval: 100 });
      expect(receipt.status).to.equal("success");

      fs.writeFileSync(
        file,
        JSON.stringify(tree.dump(), (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
      );

      const [shown, early] = await Promise.all([
        based(["rewards", "show", "--epoch", "0", "--json"], env),
        based(["rewards", "claim", "--tree", file, "--epoch", "0", "--json"], env),
      ]);
      expect(shown.status, shown.stderr).to.equal(0);
      expect(shown.json.report).to.include({
        status: "pending",
        final: false,
        amount: emission.toString(),
        rewardsRoot: tree.root,
      });
      expect(early.status).to.equal(3);
      expect(error(early).code).to.equal("ReportNotFinal");
      expect(error(early).message).to.include("not final yet");

      await rpc("hardhat_mine", [toHex(DEVNET_ECONOMY.challengeWindow)]);
    } finally {
      await rpc("evm_setIntervalMining", [1000]);
    }

    const devBefore = await basedBalance(dev.address);
    const minerBefore = await basedBalance(miner.address);
    const claim = (...extra: string[]) =>
      based(["rewards", "claim", "--tree", file, "--epoch", "0", ...extra], env);
    const [claimed, nobody] = await Promise.all([claim("--json"), claim("--address", labs.address)]);
    expect(claimed.status, claimed.stdout + claimed.stderr).to.equal(0);
    expect(claimed.json.claimed).to.include({ epoch: 0, account: dev.address, amount: devShare.toString() });
    expect((await basedBalance(dev.address)) - devBefore).to.equal(devShare);
    expect(nobody.status).to.equal(3);
    expect(nobody.stderr).to.include("has no reward in epoch 0");

    // Anyone may send a claim (here the dev account, for the miner); the BASED go to the account in the tree.
    const [twice, forMiner] = await Promise.all([claim("--json"), claim("--address", miner.address)]);
    expect(twice.status).to.equal(3);
    expect(error(twice).code).to.equal("AlreadyClaimed");
    expect(forMiner.status, forMiner.stderr).to.equal(0);
    expect(forMiner.stdout).to.include(`of epoch 0 for ${miner.address}`);
    expect((await basedBalance(miner.address)) - minerBefore).to.equal(emission - devShare);
  });

  it("deregister frees the miner's uid; a second one is refused", async () => {
    const left = await based(["deregister", "--brain", "3", "--json"], as(minerKey));
    expect(left.status, left.stdout + left.stderr).to.equal(0);
    expect(left.json.deregistered).to.include({ uid: 1, role: "miner", account: miner.address });
    const again = await based(["deregister", "--brain", "3", "--json"], as(minerKey));
    expect(again.status).to.equal(3);
    expect(error(again).code).to.equal("NotRegistered");
  });
});
