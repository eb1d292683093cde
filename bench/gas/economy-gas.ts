/**
 * Gas of the BasedAI economy (issue 5): Network, Staking and Consensus, on Hardhat's in-process
 * network with the test fixture's small parameters (test/contracts/based/economy-fixture.ts) and the
 * deployment's report handler gas limit (docs/benchmarks.md, "Economy gas (issue 5)").
 *
 *   npx hardhat run bench/gas/economy-gas.ts
 *
 * Prints a markdown table of `gasUsed` from the receipts: the 21,000 intrinsic gas and the
 * calldata are included (as a sender pays them), after the storage refunds (capped at a fifth).
 * The bench fills a Brain with 1,792 miners and another with 256 validators (fee 0, impersonated
 * accounts); the whole run takes under a minute. The figures are deterministic (fixed
 * addresses, keys, salts).
 */
import { ethers, network as hardhatNetwork } from "hardhat";
import { mine, setBalance, takeSnapshot, time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionResponse, Signer } from "ethers";
import type { Address, Hex } from "viem";
import { PARAMS, deployEconomyWith } from "../../test/contracts/based/economy-fixture";
import { LOCAL_CHAIN, type Message, inboxDomain, signSorted } from "../../test/contracts/messaging/messages";
import { EPOCH_REPORT, REPORT_HANDLER_GAS_LIMIT } from "../../ignition/modules/ethereum-contracts";
import {
  type PruneCandidate,
  type ReportPayload,
  type RewardsTree,
  Role,
  commitHash,
  encodeReportPayload,
  packWeights,
  pruneHints,
  pruningOrder,
  pruningTree,
  reportNonce,
  rewardProof,
  rewardsTree,
} from "../../protocol/report";
import { emissionBetween } from "../../oracle/consensus/emission";
import { type Measured, type Row, measure, printGasTable } from "./receipts";

const BASED = (n: bigint | number): bigint => BigInt(n) * 10n ** 18n;
/** The registration fee of every measured registration (set explicitly by the Brain's wallet). */
const FEE = BASED(100);
const ENDPOINT = "127.0.0.1:9000";
/** Gas limit of fills and set-up transactions (skips eth_estimateGas; gasUsed does not depend on it). */
const SETUP_GAS = 3_000_000n;
/** Gas limit of report deliveries: below the Osaka cap on a transaction's gas (2^24). */
const DELIVERY_GAS = 16_000_000n;

/** A fixed address per label, so every run prices the same calldata. */
const addressOf = (label: string): string => ethers.getAddress(ethers.id(label).slice(0, 42));

async function main(): Promise<void> {
  if (hardhatNetwork.name !== "hardhat") throw new Error("run on the in-process hardhat network");
  const started = Date.now();
  const reportGas = BigInt(REPORT_HANDLER_GAS_LIMIT);
  const eco = await deployEconomyWith({ ...PARAMS, reportGas });
  const { admin, alice, bob, dave, erin, frank, based, inbox, registry, network, staking, consensus } = eco;
  const networkAddr = await network.getAddress();
  const stakingAddr = await staking.getAddress();
  const consensusAddr = await consensus.getAddress();
  const rows: Row[] = [];
  const row = async (operation: string, tx: Promise<ContractTransactionResponse>): Promise<Measured> => {
    const m = await measure(tx);
    rows.push({ operation, ...m });
    return m;
  };
  const log = (text: string) => console.error(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${text}`);

  /** An impersonated account with ETH for gas (and, if asked, BASED approved to the economy). */
  async function account(label: string, funded = false): Promise<Signer> {
    const address = addressOf(label);
    await setBalance(address, 10n ** 21n);
    const signer = await ethers.getImpersonatedSigner(address);
    if (funded) {
      await based.connect(admin).transfer(address, BASED(10_000), { gasLimit: SETUP_GAS });
      for (const spender of [networkAddr, stakingAddr, consensusAddr]) {
        await based.connect(signer).approve(spender, ethers.MaxUint256, { gasLimit: SETUP_GAS });
      }
    }
    return signer;
  }

  const registration = (role: 1 | 2) => ({
    role,
    endpoint: ENDPOINT,
    device: 0,
    storageGiB: 10,
    maxFee: ethers.MaxUint256,
  });
  const register = (who: Signer, brainId: bigint, role: 1 | 2, hints: ReturnType<typeof pruneHints> = []) =>
    network.connect(who).register(brainId, registration(role), hints, { gasLimit: SETUP_GAS });
  /** `count` impersonated registrants (fee 0 expected), labelled `prefix-<i>`. */
  async function fill(prefix: string, count: number, brainId: bigint, role: 1 | 2): Promise<Signer[]> {
    const out: Signer[] = [];
    for (let i = 0; i < count; i++) {
      const s = await account(`${prefix}-${i}`);
      await register(s, brainId, role);
      out.push(s);
    }
    return out;
  }

  // Every account a measured transaction needs, funded before the pruning phase counts blocks.
  const lastMiner = await account("last-miner", true);
  const pruner1 = await account("pruner-1", true);
  const pruner2 = await account("pruner-2", true);
  const refill1 = await account("refill-1", true);
  const refill2 = await account("refill-2", true);
  const staker1 = await account("staker-1", true);
  const staker2 = await account("staker-2", true);
  const challenger = await account("challenger", true);
  // Claim recipients that already hold BASED (anyone may submit a claim: no signer needed).
  const holderA = addressOf("holder-a");
  const holderB = addressOf("holder-b");
  const many = Array.from({ length: 10 }, (_, i) => addressOf(`many-${i}`));
  const multi = addressOf("multi-epoch");
  for (const a of [holderA, holderB, ...many, multi]) await based.connect(admin).transfer(a, BASED(1));

  // ───────────────────────── Network: free slots (Brain 1, miners) ─────────────────────────
  log("Brain 1: registering 1,792 miners");
  await registry.connect(alice).setRegistrationFee(1n, FEE);
  await row(
    "Network.register, first member of a Brain (miner, uid 0), pays the fee",
    register(dave, 1n, Role.Miner),
  );
  await registry.connect(alice).setRegistrationFee(1n, 0n);
  await fill("miner-a", 98, 1n, Role.Miner);
  await registry.connect(alice).setRegistrationFee(1n, FEE);
  await row("Network.register, 100th miner (uid 99), pays the fee", register(erin, 1n, Role.Miner));
  await registry.connect(alice).setRegistrationFee(1n, 0n);
  await fill("miner-b", 1_691, 1n, Role.Miner);
  await registry.connect(alice).setRegistrationFee(1n, FEE);
  await row(
    "Network.register, 1,792nd miner (uid 1,791: the free-slot search reads 7 bitmap words of each role), pays the fee",
    register(lastMiner, 1n, Role.Miner),
  );
  await register(frank, 1n, Role.Validator);
  const [validators1, miners1] = await network.counts(1n);
  if (miners1 !== 1_792n || validators1 !== 1n) throw new Error(`Brain 1: ${validators1} / ${miners1}`);

  // ───────────────────────────── Staking (Brain 1, validator frank) ─────────────────────────────
  log("staking");
  const st1 = await staker1.getAddress();
  await staking.connect(admin).stake(1n, ethers.ZeroAddress, BASED(1_000)); // the Brain has stake
  await staking.connect(admin).stake(1n, frank.address, BASED(1_000)); // frank has delegations
  await row(
    "Staking.stake to a Brain, the account's first stake (the Brain has stake already)",
    staking.connect(staker1).stake(1n, ethers.ZeroAddress, BASED(200)),
  );
  await row(
    "Staking.stake, a later stake of the same position",
    staking.connect(staker1).stake(1n, ethers.ZeroAddress, BASED(200)),
  );
  await row(
    "Staking.stake delegated to a validator, the delegator's first (validator has delegations)",
    staking.connect(staker2).stake(1n, frank.address, BASED(200)),
  );
  await row(
    "Staking.unstake, the account's first unbonding",
    staking.connect(staker1).unstake(1n, ethers.ZeroAddress, BASED(10)),
  );
  for (let i = 2; i <= 10; i++) await staking.connect(staker1).unstake(1n, ethers.ZeroAddress, BASED(10));
  await row(
    "Staking.unstake, the account's 11th unbonding",
    staking.connect(staker1).unstake(1n, ethers.ZeroAddress, BASED(10)),
  );
  await row("Staking.setTake (first time)", staking.connect(frank).setTake(1n, 900));
  await time.increase(Number(PARAMS.unbondingPeriod));
  await row("Staking.withdraw, 1 released entry", staking.connect(staker1).withdraw(1n));
  await row("Staking.withdraw, 10 released entries", staking.connect(staker1).withdraw(10n));
  if ((await staking.unbondings(st1)).length !== 0) throw new Error("unbondings left");

  // ─────────────────────── Consensus: commit and reveal (Brain 1, frank) ───────────────────────
  log("weights");
  const [minerUids] = await network.membersOf(1n, Role.Miner);
  const uids = minerUids.map(Number);
  const revealGas = new Map<number, bigint>();
  for (const n of [10, 256, 1_792]) {
    const weights = packWeights(
      Array.from(
        { length: n },
        (_, i) => [uids[Math.floor((i * uids.length) / n)]!, 1 + ((i * 40_503 + n) % 65_535)] as const,
      ),
    );
    const salt = ethers.id(`salt-${n}`) as Hex;
    const epoch = (await consensus.currentEpoch()) + 1n;
    await eco.mineToStartOf(epoch);
    const hash = commitHash(1n, frank.address as Address, epoch, weights, salt);
    const commit = consensus.connect(frank).commitWeights(1n, hash);
    if (n === 10) await row("Consensus.commitWeights", commit);
    else await (await commit).wait();
    await eco.mineToStartOf(epoch + 1n);
    const m = await row(
      `Consensus.revealWeights, ${n.toLocaleString("en-US")} weights`,
      consensus.connect(frank).revealWeights(1n, weights, salt),
    );
    revealGas.set(n, m.gas);
  }

  // ─────────────────── Network: a full role (Brain 2, 256 validators) and pruning ───────────────────
  log("Brain 2: registering 256 validators");
  await registry.connect(bob).setRegistrationFee(2n, 0n);
  const validators = await fill("validator", 256, 2n, Role.Validator);
  await registry.connect(bob).setRegistrationFee(2n, FEE);
  const [vUids, vMembers] = await network.membersOf(2n, Role.Validator);
  const [mUids, mMembers] = await network.membersOf(1n, Role.Miner);
  if (vUids.length !== 256 || Number(vUids[255]) !== 255) throw new Error("Brain 2 is not uids 0…255");
  // The pruning order of Brain 2: uid 0 first (past immunity), then uids 1 and 2 (they leave and
  // their uids are taken: stale), uids 254 and 255 (the last registered: immune), then uid 3.
  const special = new Map([
    [0, 0n],
    [1, 1n],
    [2, 2n],
    [254, 3n],
    [255, 4n],
    [3, 5n],
  ]);
  const candidates: PruneCandidate[] = [
    ...vUids.map((u, i) => ({
      brainId: 2,
      role: Role.Validator,
      uid: Number(u),
      account: vMembers[i]!.account as Address,
      registeredAt: vMembers[i]!.registeredAt,
      score: special.get(Number(u)) ?? 6n + u,
    })),
    // Brain 1's miners complete the tree to 2,048 leaves: every proof is 11 hashes deep.
    ...mUids.map((u, i) => ({
      brainId: 1,
      role: Role.Miner,
      uid: Number(u),
      account: mMembers[i]!.account as Address,
      registeredAt: mMembers[i]!.registeredAt,
      score: u,
    })),
  ];
  const prunes = await pruningTree(await pruningOrder(candidates));
  if (candidates.length !== 2_048) throw new Error(`pruning tree of ${candidates.length} leaves`);

  // ───────────────────────────────────── Epoch reports ─────────────────────────────────────
  const epochAmount = async (epoch: bigint): Promise<bigint> => {
    const [start, end] = await consensus.epochBounds(epoch);
    return emissionBetween(start, end);
  };
  /** The EPOCH_REPORT message of `epoch` with `brains` per-Brain totals (the emission split evenly). */
  async function reportMessage(epoch: bigint, rewards: RewardsTree, brains: number) {
    const amount = await epochAmount(epoch);
    const share = amount / BigInt(brains);
    const payload: ReportPayload = {
      epoch,
      revision: 0,
      rewardsRoot: rewards.root as Hex,
      pruningRoot: prunes.root as Hex,
      inputsHash: ethers.id(`inputs-${epoch}`) as Hex,
      brainIds: Array.from({ length: brains }, (_, i) => i + 1),
      brainTotals: Array.from({ length: brains }, (_, i) =>
        i === brains - 1 ? amount - share * BigInt(brains - 1) : share,
      ),
    };
    const m: Message = {
      srcChainId: LOCAL_CHAIN,
      dstChainId: LOCAL_CHAIN,
      nonce: reportNonce(epoch, 0),
      kind: EPOCH_REPORT,
      payload: encodeReportPayload(payload),
    };
    const version = await inbox.setVersion();
    const signatures = await signSorted(
      eco.quorum,
      inboxDomain(LOCAL_CHAIN, await inbox.getAddress()),
      m,
      version,
    );
    return { m, version, signatures, payload };
  }
  type Report = Awaited<ReturnType<typeof reportMessage>>;
  const executes = async (r: Report, gasLimit: bigint): Promise<boolean> => {
    try {
      return await inbox.receiveMessage.staticCall(r.m, r.version, r.signatures, { gasLimit });
    } catch {
      return false;
    }
  };
  const setReportLimit = async (limit: bigint) =>
    (await inbox.connect(admin).setHandler(EPOCH_REPORT, consensusAddr, limit)).wait();
  /** The smallest handler gas limit with which the report executes (a binary search over eth_call). */
  async function handlerGasNeeded(r: Report): Promise<bigint> {
    let lo = 1n;
    let hi = 10_000_000n;
    while (lo < hi) {
      const mid = (lo + hi) / 2n;
      await setReportLimit(mid);
      if (await executes(r, DELIVERY_GAS)) hi = mid;
      else lo = mid + 1n;
    }
    await setReportLimit(reportGas);
    return lo;
  }
  /** The smallest transaction gas limit with which the report executes under the deployed limit. */
  async function txGasNeeded(r: Report): Promise<bigint | undefined> {
    if (!(await executes(r, DELIVERY_GAS))) return undefined;
    let lo = 21_000n;
    let hi = DELIVERY_GAS;
    while (lo < hi) {
      const mid = (lo + hi) / 2n;
      if (await executes(r, mid)) hi = mid;
      else lo = mid + 1n;
    }
    return lo;
  }
  const deliverReport = (r: Report) =>
    inbox.connect(admin).receiveMessage(r.m, r.version, r.signatures, { gasLimit: DELIVERY_GAS });
  async function accept(r: Report): Promise<void> {
    const before = await consensus.nextEpoch();
    await (await deliverReport(r)).wait();
    if ((await consensus.nextEpoch()) !== before + 1n)
      throw new Error(`report ${r.payload.epoch} not accepted`);
  }

  // Rewards: epoch 0 pays 2 accounts (proofs of 1 hash), epochs 1…11 pay 2,048 (proofs of 11).
  const fresh0 = addressOf("fresh-0");
  const fresh1 = addressOf("fresh-1");
  const tree0 = await rewardsTree([
    { account: fresh0 as Address, amount: BASED(1) },
    { account: holderA as Address, amount: BASED(1) + 1n },
  ]);
  const fillers = Array.from({ length: 2_048 - 13 }, (_, i) => addressOf(`reward-${i}`));
  const treeOf = (epoch: bigint): Promise<RewardsTree> =>
    rewardsTree(
      [fresh1, holderB, ...many, multi, ...fillers].map((account, i) => ({
        account: account as Address,
        amount: 10n ** 16n + epoch * 1_000n + BigInt(i),
      })),
    );
  const trees = new Map<bigint, RewardsTree>([[0n, tree0]]);
  for (let e = 1n; e <= 11n; e++) trees.set(e, await treeOf(e));
  const tree = (e: bigint): RewardsTree => trees.get(e)!;

  log("pruning");
  await accept(await reportMessage(0n, tree0, 1)); // the network's first report: not measured
  const [, cursor0] = await network.pruneCursor(2n, Role.Validator);
  if (cursor0 !== 0n) throw new Error(`cursor ${cursor0}`);
  await row(
    "Network.register replacing a member of a full role (256 validators), 1 hint (proof of 11), pays the fee",
    register(pruner1, 2n, Role.Validator, pruneHints(prunes, 2, Role.Validator, 0, 1)),
  );
  await row(
    "Network.deregister (validator)",
    network.connect(validators[1]!).deregister(2n, { gasLimit: SETUP_GAS }),
  );
  await (await network.connect(validators[2]!).deregister(2n, { gasLimit: SETUP_GAS })).wait();
  await (await register(refill1, 2n, Role.Validator)).wait(); // takes uid 1: rank 1 is stale
  await (await register(refill2, 2n, Role.Validator)).wait(); // takes uid 2: rank 2 is stale
  const [, cursor1] = await network.pruneCursor(2n, Role.Validator);
  await row(
    "Network.register replacing a member, 5 hints (2 stale, 2 immune, then the replaced one), pays the fee",
    register(pruner2, 2n, Role.Validator, pruneHints(prunes, 2, Role.Validator, Number(cursor1), 5)),
  );
  const [r1Role, r1Uid] = await network.roleOf(2n, await pruner1.getAddress());
  const [r2Role, r2Uid] = await network.roleOf(2n, await pruner2.getAddress());
  if (r1Role !== 1n || r1Uid !== 0n || r2Role !== 1n || r2Uid !== 3n) {
    throw new Error(`pruned uids ${r1Uid} and ${r2Uid}`);
  }
  const [, cursor2] = await network.pruneCursor(2n, Role.Validator);

  log("reports");
  const fmt = (n: bigint | number) => n.toLocaleString("en-US");
  const notes: string[] = [];
  const reportInfo: { brains: number; handler: bigint; tx: bigint | undefined; gas: bigint }[] = [];
  for (const [epoch, brains] of [
    [1n, 1],
    [2n, 1_024],
  ] as const) {
    const r = await reportMessage(epoch, tree(epoch), brains);
    const handler = await handlerGasNeeded(r);
    const txLimit = await txGasNeeded(r);
    const label = `MessageInbox.receiveMessage EPOCH_REPORT, 3 of 4 signatures, ${fmt(brains)} Brain total${brains === 1 ? "" : "s"}`;
    if (handler <= reportGas) {
      const m = await row(label, deliverReport(r));
      reportInfo.push({ brains, handler, tx: txLimit, gas: m.gas });
    } else {
      // The deployed limit is too small: measure the failed delivery, then the one that works.
      notes.push(
        `${fmt(brains)} Brain totals need a handler gas limit of ${fmt(handler)} > ${fmt(reportGas)}`,
      );
      const snapshot = await takeSnapshot();
      await row(
        `${label}, deployed handler limit ${fmt(reportGas)}: the handler runs out of gas, message stored as failed`,
        deliverReport(r),
      );
      if ((await consensus.nextEpoch()) !== epoch) throw new Error("expected a failed report");
      await snapshot.restore();
      await setReportLimit(handler);
      const m = await row(
        `${label}, handler limit raised to ${fmt(handler)} (the least that works)`,
        deliverReport(r),
      );
      await setReportLimit(reportGas);
      reportInfo.push({ brains, handler, tx: txLimit, gas: m.gas });
      // The most Brain totals a report can carry under the deployed limit (binary search).
      let lo = 1;
      let hi = brains;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (await executes(await reportMessage(epoch + 1n, tree(epoch + 1n), mid), DELIVERY_GAS)) lo = mid;
        else hi = mid - 1;
      }
      notes.push(`the most Brain totals that fit the deployed handler limit: ${fmt(lo)}`);
    }
    if ((await consensus.nextEpoch()) !== epoch + 1n) throw new Error(`report ${epoch} not accepted`);
  }
  for (let e = 3n; e <= 10n; e++) await accept(await reportMessage(e, tree(e), 1));
  await mine(PARAMS.challengeWindow);

  // ───────────────────────────────────────── Claims ─────────────────────────────────────────
  log("claims");
  const claimOf = (epoch: bigint, account: string) => {
    const p = rewardProof(tree(epoch), account as Address);
    if (p === undefined) throw new Error(`${account} has no reward in epoch ${epoch}`);
    return { epoch, account, amount: p.amount, proof: p.proof };
  };
  const claim = (epoch: bigint, account: string) => {
    const c = claimOf(epoch, account);
    return consensus.connect(admin).claim(c.epoch, c.account, c.amount, c.proof);
  };
  await (await claim(0n, fresh0)).wait();
  const depth1 = await row(
    "Consensus.claim, proof of 1 hash (2 leaves), recipient holds BASED, not the epoch's first claim",
    claim(0n, holderA),
  );
  await row(
    "Consensus.claim, proof of 11 (2,048 leaves), the epoch's first claim, recipient holds no BASED",
    claim(1n, fresh1),
  );
  const depth11 = await row(
    "Consensus.claim, proof of 11 (2,048 leaves), recipient holds BASED, not the epoch's first claim",
    claim(1n, holderB),
  );
  await row(
    "Consensus.claimMany, 10 claims: 10 accounts of one epoch (proofs of 11)",
    consensus.connect(admin).claimMany(many.map((a) => claimOf(1n, a))),
  );
  for (let e = 2n; e <= 10n; e++) await (await claim(e, fillers[Number(e)]!)).wait(); // not the first
  const multiClaims = Array.from({ length: 10 }, (_, i) => claimOf(BigInt(i + 1), multi));
  await row(
    "Consensus.claimMany, 10 claims: one account over 10 epochs (proofs of 11)",
    consensus.connect(admin).claimMany(multiClaims),
  );

  // ─────────────────────────────────────── Challenge ───────────────────────────────────────
  log("challenge");
  const last = await reportMessage(11n, tree(11n), 1);
  await accept(last);
  await row(
    "Consensus.challenge (pending report; 100 BASED bond)",
    consensus.connect(challenger).challenge(11n, last.payload.inputsHash, ethers.id("another root")),
  );

  // ───────────────────────────────────────── Output ─────────────────────────────────────────
  printGasTable(rows);

  const g256 = revealGas.get(256)!;
  const g1792 = revealGas.get(1_792)!;
  const g10 = revealGas.get(10)!;
  console.log(
    `\nReveal, marginal gas per weight: ${((Number(g1792) - Number(g256)) / 1_536).toFixed(1)} (256 → 1,792), ` +
      `${((Number(g256) - Number(g10)) / 246).toFixed(1)} (10 → 256).`,
  );
  console.log(
    `Claim, marginal gas per proof hash: ${((Number(depth11.gas) - Number(depth1.gas)) / 10).toFixed(1)}.`,
  );
  for (const r of reportInfo) {
    console.log(
      `Report with ${r.brains} Brain total(s): handler needs a gas limit of ${fmt(r.handler)} ` +
        `(deployed limit ${fmt(reportGas)}); the delivery needs a transaction gas limit of ` +
        `${r.tx === undefined ? "– (fails under the deployed limit)" : fmt(r.tx)}; gasUsed ${fmt(r.gas)}.`,
    );
  }
  console.log(`Pruning cursor of Brain 2's validators after the two replacements: rank ${cursor2}.`);
  for (const n of notes) console.log(`Report handler limit: ${n}.`);
  console.log(`Bench runtime: ${((Date.now() - started) / 1000).toFixed(0)} s.`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
