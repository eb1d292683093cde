/**
 * Gas of GigaBrain governance (docs/benchmarks.md, "Governance gas"): GigaBrainGovernor's propose,
 * Brain votes, PEPE locks, queue and execute in both regimes, the GOVERNANCE_CALL delivery into the
 * BasedAI timelock and its execution there, GIGABRAIN_SET deliveries of 10, 300 and 1,024 Brains;
 * beside OpenZeppelin's plain Governor over an ERC20Votes token (contracts/test/PlainGovernor.sol)
 * doing the same proposal in the same run.
 *
 *   npx hardhat run bench/gas/governance-gas.ts
 *
 * Prints a markdown table of `gasUsed` from the receipts: the 21,000 intrinsic gas and the calldata
 * are included (as a sender pays them), after the storage refunds (capped at a fifth). The
 * contracts are the test fixture's (test/contracts/governance/fixture.ts: six GigaBrains #0–#5,
 * attesters 3 of 4, handler gas limit 1,000,000). Below the table: the least handler gas limit with
 * which each delivery executes (a binary search over eth_call). The run takes a few seconds; the
 * figures are deterministic (fixed signers, keys, descriptions and salts).
 */
import { ethers, network as hardhatNetwork } from "hardhat";
import { mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { type ContractTransactionResponse, id as hashText } from "ethers";
import type { MessageInbox, PlainGovernor, PlainVotesToken, TimelockController } from "../../typechain-types";
import {
  DAY,
  HANDLER_GAS,
  PARAMS,
  PEPE,
  deployGovernance,
  encodeGigaBrainSet,
} from "../../test/contracts/governance/fixture";
import {
  BASED_CHAIN,
  Kind,
  LOCAL_CHAIN,
  type Message,
  eventNonce,
  inboxDomain,
  signSorted,
} from "../../test/contracts/messaging/messages";
import { type Row, measure, printGasTable } from "./receipts";

/** Plain Governor: one day and a week in 12-second blocks (its token's clock is the block number). */
const PLAIN_DELAY_BLOCKS = 7_200;
const PLAIN_PERIOD_BLOCKS = 50_400;
const PLAIN_QUORUM_PERCENT = 4n;
const VOTES = (n: bigint | number): bigint => BigInt(n) * 10n ** 18n;

async function main(): Promise<void> {
  if (hardhatNetwork.name !== "hardhat") throw new Error("run on the in-process hardhat network");
  const started = Date.now();
  const g = await deployGovernance();
  const { labs, alice, bob, carol, dave, frank, pepe, governor, house, timelock, outbox } = g;
  const { basedInbox, basedTimelock, quorum, sets } = g;
  const rows: Row[] = [];
  const row = async (operation: string, tx: Promise<ContractTransactionResponse>) => {
    const m = await measure(tx);
    rows.push({ operation, gas: m.gas, calldata: m.calldata, floor: m.floor });
    return m;
  };
  const section = (title: string) =>
    rows.push({ operation: `**${title}**`, gas: -1n, calldata: -1n, floor: false });
  const log = (text: string) => console.error(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${text}`);

  /** `m` signed by the attester quorum for `inbox`'s current set. */
  async function signed(inbox: MessageInbox, m: Message) {
    const version = await inbox.setVersion();
    const signatures = await signSorted(
      quorum,
      inboxDomain(LOCAL_CHAIN, await inbox.getAddress()),
      m,
      version,
    );
    return { m, version, signatures };
  }
  type Signed = Awaited<ReturnType<typeof signed>>;
  const executes = async (inbox: MessageInbox, s: Signed): Promise<boolean> => {
    try {
      return await inbox.receiveMessage.staticCall(s.m, s.version, s.signatures, { gasLimit: 16_000_000n });
    } catch {
      return false;
    }
  };
  /** The smallest handler gas limit with which `s` executes (a binary search over eth_call). */
  async function handlerGasNeeded(inbox: MessageInbox, handler: string, s: Signed): Promise<bigint> {
    let lo = 1n;
    let hi = 16_000_000n;
    while (lo < hi) {
      const mid = (lo + hi) / 2n;
      await (await inbox.connect(labs).setHandler(s.m.kind, handler, mid)).wait();
      if (await executes(inbox, s)) hi = mid;
      else lo = mid + 1n;
    }
    await (await inbox.connect(labs).setHandler(s.m.kind, handler, HANDLER_GAS)).wait();
    return lo;
  }
  const handlerNeeds: string[] = [];

  /** The measured action of every governor: its own timelock's `updateDelay` (one warm-to-warm write). */
  async function delayAction(tl: TimelockController, delay: bigint) {
    return {
      targets: [await tl.getAddress()],
      values: [0n],
      calldatas: [tl.interface.encodeFunctionData("updateDelay", [delay])],
    };
  }
  type Action = Awaited<ReturnType<typeof delayAction>>;
  const ethDelay = BigInt(PARAMS.ethDelay);
  const houseAddr = await house.getAddress();

  // PEPE for the lockers (TestPepecoin's open faucet), approved to the house.
  for (const who of [carol, dave, frank]) {
    await pepe.connect(who).mint(who.address, PEPE(10_000_000));
    await pepe.connect(who).approve(houseAddr, ethers.MaxUint256);
  }

  // ───────────────────────── GigaBrainGovernor, optimistic regime (year one) ─────────────────────────
  log("optimistic regime");
  section("GigaBrainGovernor, optimistic regime (year one: Labs proposes, 6 GigaBrains)");
  const a: Action = await delayAction(timelock, ethDelay + 1n);
  const aDesc = "Ethereum timelock delay + 1 s";
  await row(
    "propose (Labs), 1 action: the timelock's `updateDelay`",
    governor.connect(labs).propose(a.targets, a.values, a.calldatas, aDesc),
  );
  const aId = await governor.hashProposal(a.targets, a.values, a.calldatas, hashText(aDesc));
  // B: the governance call to the BasedAI chain (its timelock's own delay, 1 day → 3 days).
  const callData = basedTimelock.interface.encodeFunctionData("updateDelay", [3n * BigInt(DAY)]);
  const salt = hashText("governance gas bench");
  const b: Action = {
    targets: [await outbox.getAddress()],
    values: [0n],
    calldatas: [
      outbox.interface.encodeFunctionData("send", [await basedTimelock.getAddress(), 0n, callData, salt]),
    ],
  };
  const bDesc = "BasedAI timelock delay to 3 days";
  await row(
    "propose (Labs), 1 action: `GovernanceOutbox.send` of a BasedAI call",
    governor.connect(labs).propose(b.targets, b.values, b.calldatas, bDesc),
  );
  const bId = await governor.hashProposal(b.targets, b.values, b.calldatas, hashText(bDesc));
  // V: a proposal the Pepecoin house vetoes.
  const v = await g.actions(PEPE(7));
  const vDesc = "a proposal the PEPE holders veto";
  await (await governor.connect(labs).propose(v.targets, v.values, v.calldatas, vDesc)).wait();
  const vId = await governor.hashProposal(v.targets, v.values, v.calldatas, hashText(vDesc));
  await g.toVoteStart(vId);

  await row(
    "castBrainVote, the proposal's first vote (For, Brain #0)",
    governor.connect(labs).castBrainVote(aId, 0n, 1),
  );
  await row("castBrainVote, second vote (For, Brain #1)", governor.connect(alice).castBrainVote(aId, 1n, 1));
  await row("castBrainVote, third vote (Against, Brain #2)", governor.connect(bob).castBrainVote(aId, 2n, 0));
  // The house's first lock ever (its PEPE balance goes from zero): not measured.
  await (await house.connect(dave).lock(bId, 1, PEPE(1))).wait();
  await row(
    "PepecoinHouse.lock, the proposal's first lock (For, 1,000 PEPE)",
    house.connect(frank).lock(aId, 1, PEPE(1_000)),
  );
  await row(
    "PepecoinHouse.lock, another account's lock (Against, 500 PEPE; no veto)",
    house.connect(carol).lock(aId, 0, PEPE(500)),
  );
  await row(
    "PepecoinHouse.lock, the same account again (For, 1,000 PEPE)",
    house.connect(frank).lock(aId, 1, PEPE(1_000)),
  );
  await (await house.connect(frank).lock(vId, 1, PEPE(1_000))).wait();
  await row(
    "PepecoinHouse.lock reaching the veto (Against, 1,000,000 PEPE): calls `extendForVeto`",
    house.connect(carol).lock(vId, 0, PEPE(1_000_000)),
  );
  if (!(await house.vetoed(vId))) throw new Error("expected a veto");

  await g.toVoteEnd(vId); // the latest deadline (extended by the veto)
  await row("PepecoinHouse.unlock (vote over), 2 locks of the account", house.connect(frank).unlock(aId));
  await row(
    "queue, 1 action (`TimelockController.scheduleBatch`)",
    governor.queue(a.targets, a.values, a.calldatas, hashText(aDesc)),
  );
  await (await governor.queue(b.targets, b.values, b.calldatas, hashText(bDesc))).wait();
  await time.increase(PARAMS.ethDelay);
  await row(
    "execute, action `updateDelay` (`TimelockController.executeBatch`)",
    governor.connect(frank).execute(a.targets, a.values, a.calldatas, hashText(aDesc)),
  );
  if ((await timelock.getMinDelay()) !== ethDelay + 1n) throw new Error("A not executed");
  const execB = await row(
    "execute, action `GovernanceOutbox.send` (emits `GovernanceCallSent`)",
    governor.connect(frank).execute(b.targets, b.values, b.calldatas, hashText(bDesc)),
  );

  // ───────────────────────────── The governance call on the BasedAI chain ─────────────────────────────
  log("governance call");
  section("The governance call on the BasedAI chain");
  const message = await g.governanceCallOf(execB.sent);
  const call = await signed(basedInbox, message);
  const callNeeds = await handlerGasNeeded(basedInbox, await g.receiver.getAddress(), call);
  handlerNeeds.push(`GOVERNANCE_CALL: ${callNeeds.toLocaleString("en-US")}`);
  await row(
    "MessageInbox.receiveMessage GOVERNANCE_CALL, 3 of 4 signatures → GovernanceCallReceiver → `TimelockController.schedule`",
    basedInbox.receiveMessage(call.m, call.version, call.signatures),
  );
  await time.increase(PARAMS.basedDelay);
  const target = await basedTimelock.getAddress();
  await row(
    "TimelockController.execute on the BasedAI chain (its `updateDelay`), by anyone",
    basedTimelock.connect(frank).execute(target, 0n, callData, ethers.ZeroHash, salt),
  );
  if ((await basedTimelock.getMinDelay()) !== 3n * BigInt(DAY)) throw new Error("call not executed");

  // ─────────────────────────── GigaBrainGovernor, GigaBrain regime (after year one) ───────────────────────────
  log("GigaBrain regime");
  section("GigaBrainGovernor, GigaBrain regime (after year one; quorum a third of 6)");
  await time.increaseTo(await governor.optimisticPeriodEnd());
  const c: Action = await delayAction(timelock, ethDelay + 2n);
  const cDesc = "Ethereum timelock delay + 2 s";
  await row(
    "proposeWithBrain (Brain #1's owner), 1 action: `updateDelay`",
    governor.connect(alice).proposeWithBrain(1n, c.targets, c.values, c.calldatas, cDesc),
  );
  const cId = await governor.hashProposal(c.targets, c.values, c.calldatas, hashText(cDesc));
  await g.toVoteStart(cId);
  await row(
    "castBrainVote, the proposal's first vote (For, Brain #0)",
    governor.connect(labs).castBrainVote(cId, 0n, 1),
  );
  await row(
    "castBrainVote, second vote (For, Brain #1): reaches the quorum, late-quorum deadline stored",
    governor.connect(alice).castBrainVote(cId, 1n, 1),
  );
  await row("castBrainVote, third vote (Against, Brain #2)", governor.connect(bob).castBrainVote(cId, 2n, 0));
  await g.toVoteEnd(cId);
  await row("queue, 1 action", governor.queue(c.targets, c.values, c.calldatas, hashText(cDesc)));
  await time.increase(Number(ethDelay + 1n));
  await row(
    "execute, action `updateDelay`",
    governor.connect(frank).execute(c.targets, c.values, c.calldatas, hashText(cDesc)),
  );
  if ((await timelock.getMinDelay()) !== ethDelay + 2n) throw new Error("C not executed");

  // ──────────────────────────────────── GIGABRAIN_SET deliveries ────────────────────────────────────
  log("GigaBrain sets");
  section("GIGABRAIN_SET deliveries (MessageInbox.receiveMessage → GigaBrainSets, 3 of 4 signatures)");
  const { ethInbox } = g;
  const setsAddr = await sets.getAddress();
  for (const [k, n] of [10, 300, 1_024].entries()) {
    // Ids spread over 0 … 1023, so all four words of the bitmap are set.
    const ids = Array.from({ length: n }, (_, i) => Math.floor((i * 1_024) / n));
    const basedBlock = 100_000 + 100 * k;
    const set = await signed(ethInbox, {
      srcChainId: BASED_CHAIN,
      dstChainId: LOCAL_CHAIN,
      nonce: eventNonce(basedBlock, 0),
      kind: Kind.GIGABRAIN_SET,
      payload: encodeGigaBrainSet(basedBlock, ids),
    });
    const needs = await handlerGasNeeded(ethInbox, setsAddr, set);
    handlerNeeds.push(`GIGABRAIN_SET of ${n.toLocaleString("en-US")}: ${needs.toLocaleString("en-US")}`);
    const before = await sets.versionCount();
    await row(
      `GIGABRAIN_SET of ${n.toLocaleString("en-US")} Brains`,
      ethInbox.receiveMessage(set.m, set.version, set.signatures),
    );
    const info = await sets.setInfo(before + 1n);
    if ((await sets.versionCount()) !== before + 1n || info.size !== BigInt(n)) {
      throw new Error(`set of ${n} not applied`);
    }
  }

  // ─────────────────────────── OpenZeppelin's plain Governor (ERC20Votes) ───────────────────────────
  log("plain Governor");
  section(
    "OpenZeppelin Governor + Settings + CountingSimple + Votes + QuorumFraction (4 %) + TimelockControl, ERC20Votes (6 holders)",
  );
  const token = (await ethers.deployContract("PlainVotesToken")) as unknown as PlainVotesToken;
  const plainTimelock = (await ethers.deployContract("TimelockController", [
    PARAMS.ethDelay,
    [],
    [],
    labs.address,
  ])) as unknown as TimelockController;
  const plain = (await ethers.deployContract("PlainGovernor", [
    await token.getAddress(),
    await plainTimelock.getAddress(),
    PLAIN_DELAY_BLOCKS,
    PLAIN_PERIOD_BLOCKS,
    PLAIN_QUORUM_PERCENT,
  ])) as unknown as PlainGovernor;
  const plainAddr = await plain.getAddress();
  await plainTimelock.grantRole(await plainTimelock.PROPOSER_ROLE(), plainAddr);
  await plainTimelock.grantRole(await plainTimelock.CANCELLER_ROLE(), plainAddr);
  await plainTimelock.grantRole(await plainTimelock.EXECUTOR_ROLE(), plainAddr);
  await plainTimelock.renounceRole(await plainTimelock.DEFAULT_ADMIN_ROLE(), labs.address);
  for (const [i, holder] of g.owners.entries()) {
    await (await token.connect(holder).mint(holder.address, VOTES(100 + i))).wait();
    const d = token.connect(holder).delegate(holder.address);
    if (i === 0) await row("ERC20Votes.delegate to self, first time (once per holder, not per proposal)", d);
    else await (await d).wait();
  }
  const p: Action = await delayAction(plainTimelock, ethDelay + 1n);
  const pDesc = "plain timelock delay + 1 s";
  await row(
    "propose, 1 action: the timelock's `updateDelay` (threshold 0)",
    plain.connect(labs).propose(p.targets, p.values, p.calldatas, pDesc),
  );
  const pId = await plain.hashProposal(p.targets, p.values, p.calldatas, hashText(pDesc));
  await mine(PLAIN_DELAY_BLOCKS + 1);
  await row("castVote, the proposal's first vote (For)", plain.connect(labs).castVote(pId, 1));
  await row("castVote, second vote (For)", plain.connect(alice).castVote(pId, 1));
  await row("castVote, third vote (Against)", plain.connect(bob).castVote(pId, 0));
  await mine(PLAIN_PERIOD_BLOCKS);
  await row("queue, 1 action", plain.queue(p.targets, p.values, p.calldatas, hashText(pDesc)));
  await time.increase(PARAMS.ethDelay);
  await row(
    "execute, action `updateDelay`",
    plain.connect(frank).execute(p.targets, p.values, p.calldatas, hashText(pDesc)),
  );
  if ((await plainTimelock.getMinDelay()) !== ethDelay + 1n) throw new Error("plain proposal not executed");

  // ───────────────────────────────────────── Output ─────────────────────────────────────────
  const fmt = (n: bigint | number) => n.toLocaleString("en-US");
  printGasTable(rows);

  console.log(
    `\nHandler gas needed (the least limit with which the message executes; the fixture's limit is ${fmt(HANDLER_GAS)}): ` +
      `${handlerNeeds.join("; ")}.`,
  );
  console.log(`\nBench runtime: ${((Date.now() - started) / 1000).toFixed(0)} s.`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
