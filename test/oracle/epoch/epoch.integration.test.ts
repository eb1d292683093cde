import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import pino from "pino";
import { type Address, BlockNotFoundError, type Hex, erc20Abi, keccak256, parseEther, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { EpochResult } from "../../../oracle/consensus/epoch-types";
import {
  Role,
  commitHash,
  packWeights,
  pruningOrder,
  pruningTree,
  reportNonce,
  rewardsTree,
} from "../../../protocol/report";
import { EpochReporter } from "../../../oracle/epoch/reporter";
import { EpochStore, revisedEpoch, storedEpochOf } from "../../../oracle/epoch/store";
import { EconomyLogs, type SnapshotSource } from "../../../oracle/epoch/snapshot";
import { type Message, MessageKind, messageId } from "../../../protocol/message";
import { jsonRpc } from "../../../scripts/devnet/network";
import { chainContext, connectBased } from "../../../sdk/chain";
import { type Deployments } from "../../../sdk/deployments";
import { readDeployments } from "../../../sdk/node/deployments-file";
import {
  DEVNET_ACCOUNTS,
  DEVNET_ATTESTER_ACCOUNTS,
  DEVNET_ECONOMY,
  devnetPrivateKey,
} from "../../../sdk/devnet";
import { brainRegistryAbi, consensusAbi, messageInboxAbi } from "../../../protocol/generated/abis";
import { registerMember } from "../../../sdk/network";
import { challengeReport } from "../../../sdk/rewards";
import { stakeBased } from "../../../sdk/staking";
import { waitFor } from "../../helpers/oracle";
import { type RunningDevnet, basedAsync, runNode, startDevnet, tempDir } from "../../helpers/processes";

type Json = Record<string, unknown>;

const run = (args: string[], env: NodeJS.ProcessEnv) => runNode(args, env, 90_000);
const based = basedAsync;

const BRAIN = 3;

describe("epoch store: what an attester keeps of each epoch", () => {
  const [a, b] = [2, 3].map((i) => privateKeyToAccount(devnetPrivateKey(i)).address) as [Address, Address];
  /** A result as computeEpoch returns it (the numbers do not need to be a real epoch's). */
  async function result(epoch: bigint, withPruning: boolean): Promise<EpochResult> {
    const pruning = withPruning
      ? await pruningTree(
          await pruningOrder([
            { brainId: 3, role: Role.Miner, uid: 1, account: a, registeredAt: 10n, score: 0n },
          ]),
        )
      : undefined;
    return {
      epoch,
      lines: [
        { account: a, amount: 7n, brainId: 3, kind: "miner" },
        { account: b, amount: 5n, brainId: 3, kind: "owner" },
      ],
      rewardsTree: await rewardsTree([
        { account: a, amount: 7n },
        { account: b, amount: 5n },
      ]),
      pruningLeaves: [],
      pruningTree: pruning,
      pruningRoot: (pruning?.root as Hex | undefined) ?? `0x${"00".repeat(32)}`,
      inputsHash: keccak256(toHex(`inputs of ${epoch}`)),
      brainIds: [3],
      brainTotals: [12n],
      brainStats: [{ brainId: 3, performance: 0.1 + 0.2, weight: 1, total: 12n }],
      // 0.1 + 0.2 is no short decimal: JSON must still give back the same double.
      carry: {
        epoch,
        brains: { 3: { bonds: [[[1, 65_535]], [], []], accounts: [a, b, a], performance: 0.1 + 0.2 } },
      },
    };
  }
  const block = (n: bigint) => ({ number: n, hash: keccak256(toHex(`block ${n}`)) });

  it("an epoch file reads back exactly what was written (carry, trees, report) and is written once", async () => {
    const dir = tempDir("based-epochs");
    for (const [epoch, withPruning] of [
      [4n, true],
      [5n, false],
    ] as const) {
      const stored = storedEpochOf(32323n, await result(epoch, withPruning), block(epoch * 30n + 29n));
      new EpochStore(dir).write(stored);
      const back = new EpochStore(dir).read(epoch)!;
      expect(back.carry).to.deep.equal(stored.carry);
      expect(back.report).to.deep.equal(stored.report);
      expect(back.message).to.deep.equal(stored.message);
      expect(back.messageId).to.equal(messageId(stored.message));
      expect(back.lines).to.deep.equal(stored.lines);
      expect(back.rewardsTree.root).to.equal(stored.rewardsTree.root);
      expect(back.pruningTree?.root).to.equal(stored.pruningTree?.root);
      expect(() => new EpochStore(dir).write(stored)).to.throw(/computed once/);
    }
    expect(new EpochStore(dir).epochs()).to.deep.equal([4n, 5n]);
    // A file whose parts disagree (here: its totals) is refused, never signed from.
    const file = path.join(dir, "epoch-4.json");
    const json = JSON.parse(fs.readFileSync(file, "utf8")) as { report: { brainTotals: string[] } };
    json.report.brainTotals = ["13"];
    fs.writeFileSync(file, JSON.stringify(json));
    expect(() => new EpochStore(dir).read(4n)).to.throw(/inconsistent/);
  });

  it("a revision replaces its epoch's file under a higher revision only, with its own nonce and id", async () => {
    const dir = tempDir("based-epochs");
    const first = storedEpochOf(32323n, await result(6n, true), block(209n));
    const store = new EpochStore(dir);
    store.write(first);
    const revised = revisedEpoch(32323n, first, 1);
    expect(revised.report).to.deep.equal({ ...first.report, revision: 1 });
    expect(revised.message.nonce).to.equal(reportNonce(6n, 1));
    expect(revised.messageId).to.not.equal(first.messageId);
    expect(() => store.revise(first)).to.throw(/revision 0 does not replace it/);
    store.revise(revised);
    const back = new EpochStore(dir).read(6n)!;
    expect(back.report.revision).to.equal(1);
    expect(back.messageId).to.equal(revised.messageId);
    expect(back.rewardsTree.root).to.equal(first.rewardsTree.root);
    expect(() => new EpochStore(dir).revise(revised)).to.throw(/revision 1 does not replace it/);
  });

  it("the reporter drops epochs computed from another chain before it serves or uses any", async () => {
    const dir = tempDir("based-epochs");
    const store = new EpochStore(dir);
    for (const epoch of [3n, 4n, 5n])
      store.write(storedEpochOf(32323n, await result(epoch, true), block(epoch * 30n + 29n)));
    // This chain has epoch 3's and 4's last blocks but another block 179, and no block past it.
    const chain = new Map([119n, 149n].map((n) => [n, block(n).hash]));
    chain.set(179n, keccak256(toHex("another chain")));
    const client = {
      getBlock: async ({ blockNumber }: { blockNumber: bigint }) => {
        const hash = chain.get(blockNumber);
        if (!hash) throw new BlockNotFoundError({ blockNumber });
        return { number: blockNumber, hash };
      },
      getBlockNumber: async () => 100n,
      readContract: async ({ functionName }: { functionName: string }) =>
        ({ nextEpoch: 4n, genesisBlock: 0n, tempo: 30n })[functionName],
    } as unknown as SnapshotSource["client"];
    const contracts = { BrainRegistry: a, Network: a, Staking: a, Consensus: a };
    const reporter = new EpochReporter({
      sign: () => Promise.reject(new Error("nothing is signed here")),
      store,
      source: { client, contracts, logs: new EconomyLogs(client, contracts, 0n), chainId: 32323n },
      finality: { kind: "depth", depth: 0 },
      log: pino({ level: "silent" }),
    });
    expect(store.get(3n), "nothing is served before the check").to.equal(undefined);
    await reporter.poll();
    expect(store.epochs()).to.deep.equal([3n, 4n]);
    expect(store.get(4n)?.messageId).to.equal(
      storedEpochOf(32323n, await result(4n, true), block(149n)).messageId,
    );
    chain.delete(149n);
    chain.delete(119n);
    // A second store on the same directory, for a chain that lost even those blocks.
    const again = new EpochStore(dir);
    await new EpochReporter({ ...reporter.options, store: again }).poll();
    expect(again.epochs()).to.deep.equal([]);
  });
});

/**
 * The epoch pipeline on `npm run devnet` (1-second BasedAI blocks, four attesters, a relayer):
 * a validator and two miners join Brain #3, the validator commits weights favouring one miner and
 * reveals them an epoch later; the attesters compute the epoch after it ends, sign the same report
 * bytes, the relayer delivers it, and each account claims with `based rewards claim --epoch N`
 * alone (the proofs come from the attesters).
 */
describe("epoch reports: computed by the attesters from the chain, delivered, claimed (devnet)", function () {
  this.timeout(240_000);

  let devnet: RunningDevnet;
  let deployments: Deployments;
  let env: NodeJS.ProcessEnv;
  let attesterUrls: string[];
  /** The epoch of the reveal: its report is the first with weights. */
  let epoch: bigint;
  const dev = privateKeyToAccount(devnetPrivateKey(DEVNET_ACCOUNTS.dev));
  const labs = privateKeyToAccount(devnetPrivateKey(DEVNET_ACCOUNTS.labs));
  const minerAKey = devnetPrivateKey(2);
  const minerBKey = devnetPrivateKey(3);
  const minerA = privateKeyToAccount(minerAKey).address;
  const minerB = privateKeyToAccount(minerBKey).address;

  const rpc = (method: string, params: unknown[] = []) => jsonRpc(devnet.basedRpcUrl, method, params);
  const client = () => chainContext({ deployments }, "based").publicClient;
  const contracts = () => deployments.based!.contracts;
  const consensus = <F extends "report" | "nextEpoch" | "genesisBlock" | "tempo">(
    functionName: F,
    args?: readonly [bigint],
  ) =>
    client().readContract({
      address: contracts().Consensus,
      abi: consensusAbi,
      functionName,
      ...(args ? { args } : {}),
    } as never) as Promise<
      F extends "report" ? { status: number; rewardsRoot: Hex; inputsHash: Hex; pruningRoot: Hex } : bigint
    >;
  const basedBalance = (who: Address) =>
    client().readContract({
      address: contracts().BasedToken,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [who],
    });
  const fetchJson = async (url: string) => {
    const res = await fetch(url);
    return { status: res.status, body: (await res.json()) as Json };
  };

  /** Mines until the head is at least `block`. */
  async function mineTo(block: bigint): Promise<void> {
    const head = await client().getBlockNumber({ cacheTime: 0 });
    if (head < block) await rpc("hardhat_mine", [toHex(block - head)]);
  }

  before(async () => {
    devnet = await startDevnet({ basedBlockTime: 1 });
    deployments = readDeployments(devnet.deploymentsFile);
    attesterUrls = DEVNET_ATTESTER_ACCOUNTS.map((_, i) => `http://127.0.0.1:${devnet.attesterPort + i}`);
    const configFile = path.join(tempDir("based-config"), "config.json");
    fs.writeFileSync(configFile, JSON.stringify({ logLevel: "silent" }));
    env = {
      BASED_DEPLOYMENTS: devnet.deploymentsFile,
      BASED_CONFIG: configFile,
      BASED_ATTESTERS: attesterUrls.join(","),
    };
    await waitFor(
      `Brain #${BRAIN} mirrored on the BasedAI chain`,
      () =>
        client().readContract({
          address: contracts().BrainRegistry,
          abi: brainRegistryAbi,
          functionName: "isActive",
          args: [BigInt(BRAIN)],
        }),
      90_000,
      500,
    );
  });

  after(async () => {
    if (devnet) await devnet.stop();
  });

  it("a validator's revealed weights pay its Brain's miners by them; the owner gets its split; every account claims with --epoch alone", async () => {
    const sdk = (key: Hex) =>
      connectBased(
        { deployments: readDeployments(devnet.deploymentsFile), privateKey: key },
        { withAccount: true },
      );
    const [asDev, asA, asB] = await Promise.all([sdk(devnetPrivateKey(0)), sdk(minerAKey), sdk(minerBKey)]);
    const validator = await registerMember(asDev, BRAIN, { role: "validator", endpoint: "127.0.0.1:9101" });
    const [a, b] = await Promise.all([
      registerMember(asA, BRAIN, { role: "miner", endpoint: "127.0.0.1:9102" }),
      registerMember(asB, BRAIN, { role: "miner", endpoint: "127.0.0.1:9103" }),
      stakeBased(asDev, { brainId: BRAIN, validator: dev.address, amount: parseEther("1000") }),
    ]);
    expect(validator.uid).to.equal(0);

    // Commit in epoch c (not in its last blocks), reveal in c + 1.
    const [genesis, tempo] = await Promise.all([consensus("genesisBlock"), consensus("tempo")]);
    const epochAt = (block: bigint) => (block - genesis) / tempo;
    const endOf = (e: bigint) => genesis + (e + 1n) * tempo;
    const head = await client().getBlockNumber({ cacheTime: 0 });
    if (endOf(epochAt(head)) - head < 5n) await mineTo(endOf(epochAt(head)));
    const weights = packWeights([
      [a.uid, 60_000],
      [b.uid, 5_000],
    ]);
    const salt = keccak256(toHex("epoch test salt"));
    const wallet = asDev.walletClient!;
    const send = async (functionName: "commitWeights" | "revealWeights", args: readonly unknown[]) => {
      const hash = await wallet.writeContract({
        address: contracts().Consensus,
        abi: consensusAbi,
        functionName,
        args,
      } as never);
      const receipt = await client().waitForTransactionReceipt({ hash, pollingInterval: 200 });
      expect(receipt.status, functionName).to.equal("success");
      return receipt.blockNumber;
    };
    const committedAt = epochAt(await client().getBlockNumber({ cacheTime: 0 }));
    const commitBlock = await send("commitWeights", [
      BigInt(BRAIN),
      commitHash(BigInt(BRAIN), dev.address, committedAt, weights, salt),
    ]);
    expect(epochAt(commitBlock)).to.equal(committedAt);
    await mineTo(endOf(committedAt));
    const revealBlock = await send("revealWeights", [BigInt(BRAIN), weights, salt]);
    epoch = epochAt(revealBlock);
    expect(epoch).to.equal(committedAt + 1n);
    await mineTo(endOf(epoch));

    // The attesters report every epoch up to the reveal's, one after the other.
    const report = await waitFor(
      `epoch ${epoch}'s report on the chain`,
      async () => {
        const r = await consensus("report", [epoch]);
        return r.status !== 0 && r;
      },
      120_000,
      500,
    );
    await mineTo((await client().getBlockNumber({ cacheTime: 0 })) + BigInt(DEVNET_ECONOMY.challengeWindow));

    // Every attester computed the same report, and it is the one the chain accepted.
    const served = await Promise.all(attesterUrls.map((u) => fetchJson(`${u}/epochs/${epoch}/rewards`)));
    for (const s of served) {
      expect(s.status).to.equal(200);
      const r = s.body.report as Json;
      expect(r).to.include({
        rewardsRoot: report.rewardsRoot,
        inputsHash: report.inputsHash,
        pruningRoot: report.pruningRoot,
      });
      expect((s.body.tree as string[])[0]).to.equal(report.rewardsRoot);
    }
    const payload = served[0]!.body.report as { brainIds: number[]; brainTotals: string[] };
    expect(payload.brainIds).to.deep.equal([BRAIN]); // the only Brain with weights and stake
    const brainTotal = BigInt(payload.brainTotals[0]!);

    const before = await Promise.all([minerA, minerB, labs.address].map(basedBalance));
    const [claimA, claimB, claimOwner] = await Promise.all([
      based(["rewards", "claim", "--epoch", String(epoch), "--json"], {
        ...env,
        BASED_PRIVATE_KEY: minerAKey,
      }),
      based(["rewards", "claim", "--epoch", String(epoch), "--json"], {
        ...env,
        BASED_PRIVATE_KEY: minerBKey,
      }),
      based(["rewards", "claim", "--epoch", String(epoch), "--address", labs.address, "--json"], env),
    ]);
    for (const c of [claimA, claimB, claimOwner]) expect(c.status, c.stdout + c.stderr).to.equal(0);
    const after = await Promise.all([minerA, minerB, labs.address].map(basedBalance));
    const [gotA, gotB, gotOwner] = after.map((x, i) => x - before[i]!);
    expect((claimA.json.claimed as Json).amount).to.equal(gotA!.toString());
    expect(gotA! > gotB!, `miner A ${gotA} vs miner B ${gotB}`).to.equal(true);
    expect(gotB! > 0n).to.equal(true);
    // The owner's split is 25 % of the Brain's total (floor of the basis points).
    expect(gotOwner).to.equal((brainTotal * 2_500n) / 10_000n);

    // based rewards list: what miner A earned in that epoch, and that it is claimed now.
    const [list, human] = await Promise.all([
      based(["rewards", "list", "--address", minerA, "--json"], env),
      based(["rewards", "list", "--address", minerA], env),
    ]);
    expect(list.status, list.stdout + list.stderr).to.equal(0);
    expect(human.stdout).to.match(new RegExp(`epoch ${epoch}\\s+[0-9.]+ BASED\\s+claimed`));
    const rows = (list.json.rewards as { rows: Json[] }).rows;
    expect(rows.find((r) => r.epoch === Number(epoch))).to.include({
      amount: gotA!.toString(),
      claimed: true,
      final: true,
    });

    // The endpoints validate what they are asked and say what they lack.
    const [badEpoch, badAddress, notYet, proof, pruning] = await Promise.all([
      fetchJson(`${attesterUrls[0]}/epochs/first/rewards`),
      fetchJson(`${attesterUrls[0]}/epochs/${epoch}/rewards/0x1234`),
      fetchJson(`${attesterUrls[0]}/epochs/999999/rewards`),
      fetchJson(`${attesterUrls[1]}/epochs/${epoch}/rewards/${minerB.toLowerCase()}`),
      fetchJson(`${attesterUrls[2]}/epochs/${epoch}/pruning`),
    ]);
    expect(badEpoch.status).to.equal(400);
    expect(badAddress.status).to.equal(400);
    expect(notYet.status).to.equal(404);
    expect(String(notYet.body.error)).to.match(
      /has not computed epoch 999999 yet \(the latest it computed is epoch \d+\)/,
    );
    expect(proof.body).to.include({
      account: minerB,
      amount: gotB!.toString(),
      rewardsRoot: report.rewardsRoot,
    });
    expect((pruning.body.tree as string[])[0]).to.equal(report.pruningRoot);
  });

  it("the report's bytes depend on the chain only: two fresh processes replaying from epoch 0 sign the same message", async () => {
    expect(typeof epoch, "needs the previous test's epoch").to.equal("bigint");
    const script = [
      "--require",
      "tsx/cjs",
      path.join("test", "helpers", "epoch-report.ts"),
      devnet.deploymentsFile,
    ];
    const [one, two] = await Promise.all([
      run([...script, String(epoch)], {}),
      run([...script, String(epoch)], {}),
    ]);
    for (const r of [one, two]) expect(r.status, r.stderr).to.equal(0);
    const [x, y] = [one, two].map((r) => JSON.parse(r.stdout.trim()) as Json);
    expect(x).to.deep.equal(y);
    // No epoch is refused: one without an earning Brain (epoch 0, before the mirroring) is reported
    // as unallocated.
    expect(x!.refused).to.deep.equal([]);

    // The attesters, which carried their state epoch by epoch, signed exactly these bytes.
    const served = (await fetchJson(`${attesterUrls[3]}/epochs/${epoch}/rewards`)).body.report as Json;
    expect(served.messageId).to.equal(x!.messageId);
    const message: Message = {
      srcChainId: BigInt(deployments.based!.chainId),
      dstChainId: BigInt(deployments.based!.chainId),
      nonce: reportNonce(epoch, 0),
      kind: MessageKind.EPOCH_REPORT,
      payload: x!.payload as Hex,
    };
    expect(messageId(message)).to.equal(x!.messageId);
    const inboxStatus = await client().readContract({
      address: contracts().MessageInbox,
      abi: messageInboxAbi,
      functionName: "messageStatus",
      args: [messageId(message)],
    });
    expect(inboxStatus).to.equal(2); // Executed
  });

  it("attack: one challenge freezes an epoch — the attesters answer it with a revision, based rewards list shows it challenged meanwhile, and claims work again", async () => {
    const DEAD = "0x000000000000000000000000000000000000dEaD";
    const asDev = await connectBased(
      { deployments: readDeployments(devnet.deploymentsFile), privateKey: devnetPrivateKey(0) },
      { withAccount: true },
    );
    // Hold the chain still: blocks come only when this test mines them, so the challenge lands
    // inside the 5-block window and the revision only when the test lets it.
    await rpc("evm_setIntervalMining", [0]);
    let target = 0n;
    let bond = 0n;
    let account: Address = labs.address;
    let burnedBefore = 0n;
    try {
      target = await consensus("nextEpoch");
      const [genesis, tempo] = await Promise.all([consensus("genesisBlock"), consensus("tempo")]);
      await mineTo(genesis + (target + 1n) * tempo);
      const accepted = await waitFor(
        `epoch ${target}'s report on the chain`,
        async () => {
          await rpc("evm_mine");
          const r = await consensus("report", [target]);
          return r.status !== 0 && r;
        },
        120_000,
        300,
      );
      const tree = (await fetchJson(`${attesterUrls[0]}/epochs/${target}/rewards`)).body;
      const earner = (tree.values as { value: [Address, string] }[]).find((v) => BigInt(v.value[1]) > 0n);
      expect(earner, "someone earns in the challenged epoch").to.not.equal(undefined);
      account = earner!.value[0];
      burnedBefore = await basedBalance(DEAD);

      await rpc("evm_setAutomine", [true]);
      const challenged = await challengeReport(asDev, {
        epoch: Number(target),
        rewardsRoot: keccak256(toHex("a griefer's root")),
      }).finally(() => rpc("evm_setAutomine", [false]));
      bond = challenged.bond;
      // 10 % of the epoch's emission, at least the floor.
      const emission = (await client().readContract({
        address: contracts().Consensus,
        abi: consensusAbi,
        functionName: "report",
        args: [target],
      })) as { amount: bigint; status: number };
      expect(emission.status).to.equal(2); // Challenged
      const scaled = (emission.amount * BigInt(DEVNET_ECONOMY.challengeBondBps)) / 10_000n;
      expect(bond).to.equal(
        scaled > DEVNET_ECONOMY.minChallengeBond ? scaled : DEVNET_ECONOMY.minChallengeBond,
      );
      expect(accepted.rewardsRoot).to.not.equal(keccak256(toHex("a griefer's root")));

      // Frozen: the CLI says so, and a claim is refused with what to wait for.
      const [list, claim] = await Promise.all([
        based(["rewards", "list", "--address", account, "--json"], env),
        based(["rewards", "claim", "--epoch", String(target), "--address", account, "--json"], env),
      ]);
      expect(list.status, list.stdout + list.stderr).to.equal(0);
      const row = (list.json.rewards as { rows: Json[] }).rows.find((r) => r.epoch === Number(target));
      expect(row).to.include({ status: "challenged", final: false });
      const human = await based(["rewards", "list", "--address", account], env);
      expect(human.stdout).to.match(new RegExp(`epoch ${target}\\s+.*challenged`));
      expect(claim.status).to.equal(3);
      expect((claim.json.error as Json).code).to.equal("ReportChallenged");
    } finally {
      await rpc("evm_setIntervalMining", [1000]);
    }

    // The attesters computed the epoch again and re-affirmed it: revision 1, the same root, settled.
    const settled = await waitFor(
      `epoch ${target}'s revision`,
      async () => {
        const r = (await client().readContract({
          address: contracts().Consensus,
          abi: consensusAbi,
          functionName: "report",
          args: [target],
        })) as { status: number; revision: number; rewardsRoot: Hex };
        return r.status === 3 && r;
      },
      60_000,
      500,
    );
    expect(settled.revision).to.equal(1);
    expect((await basedBalance(DEAD)) - burnedBefore).to.equal(bond);
    const served = (await fetchJson(`${attesterUrls[1]}/epochs/${target}/rewards`)).body.report as Json;
    expect(served).to.include({ revision: 1, rewardsRoot: settled.rewardsRoot });

    const before = await basedBalance(account);
    const claimed = await based(
      ["rewards", "claim", "--epoch", String(target), "--address", account, "--json"],
      env,
    );
    expect(claimed.status, claimed.stdout + claimed.stderr).to.equal(0);
    expect((await basedBalance(account)) - before).to.equal(
      BigInt((claimed.json.claimed as Json).amount as string),
    );
  });
});
