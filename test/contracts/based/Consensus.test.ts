import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionResponse, Signer } from "ethers";
import { type Address, type Hex, getAddress } from "viem";
import type { Consensus } from "../../../typechain-types";
import { BASED, EPOCH_REPORT, FUNDING, PARAMS, deployEconomy, deployEconomyWith } from "./economy-fixture";
import {
  ETH_CHAIN,
  LOCAL_CHAIN,
  type Message,
  Status as MessageStatus,
  deliver,
  messageId,
} from "../messaging/messages";
import {
  type ReportPayload,
  type RewardsTree,
  commitHash,
  encodeReportPayload,
  packWeights,
  reportNonce,
  rewardProof,
  totalsHash,
  rewardsTree,
} from "../../../protocol/report";
import { emissionBetween } from "../../../oracle/consensus/emission";

type Economy = Awaited<ReturnType<typeof deployEconomy>>;

/** Consensus.Status. */
const Status = { None: 0n, Pending: 1n, Challenged: 2n, Settled: 3n } as const;
const BRAIN = 1n;
const ZERO_HASH = ethers.ZeroHash as Hex;
const BURN = "0x000000000000000000000000000000000000dEaD";
const hash = (label: string): Hex => ethers.id(label) as Hex;
const addr = (s: { address: string }): Address => getAddress(s.address);

/** Packs `(uid, weight)` pairs exactly as given (no sorting, no checks), for refusals. */
function rawPack(pairs: ReadonlyArray<readonly [number, number]>): Hex {
  return `0x${pairs.map(([u, w]) => u.toString(16).padStart(4, "0") + w.toString(16).padStart(4, "0")).join("")}`;
}

/** Mines so that the next transaction lands in block `block`. */
async function nextBlockIs(block: bigint) {
  const now = BigInt(await ethers.provider.getBlockNumber());
  if (now + 1n > block) throw new Error(`block ${block} is already mined (now ${now})`);
  if (now + 1n < block) await mine(block - now - 1n);
}

/** The emission of epoch `epoch`, from the TypeScript twin and the contract's bounds. */
async function emissionOf(f: Economy, epoch: bigint): Promise<bigint> {
  const [start, end] = await f.consensus.epochBounds(epoch);
  return emissionBetween(start, end);
}

/** A report of `epoch` whose per-Brain totals (Brains 1, 2, 3) sum to `amount`. */
function reportOf(epoch: bigint, amount: bigint, over: Partial<ReportPayload> = {}): ReportPayload {
  const a = amount / 2n;
  const b = amount / 3n;
  return {
    epoch,
    revision: 0,
    rewardsRoot: hash(`rewards ${epoch}`),
    pruningRoot: hash(`pruning ${epoch}`),
    inputsHash: hash(`inputs ${epoch}`),
    brainIds: [1, 2, 3],
    brainTotals: [a, b, amount - a - b],
    ...over,
  };
}

/** The message `deliverReport` sends for `p`. */
function reportMessage(p: ReportPayload): Message {
  return {
    srcChainId: LOCAL_CHAIN,
    dstChainId: LOCAL_CHAIN,
    nonce: reportNonce(p.epoch, p.revision),
    kind: EPOCH_REPORT,
    payload: encodeReportPayload(p),
  };
}

/** Delivers a correct report of `epoch` (after its end) and checks it was accepted. */
async function accept(f: Economy, epoch: bigint, over: Partial<ReportPayload> = {}) {
  await f.mineToEndOf(epoch);
  const p = reportOf(epoch, await emissionOf(f, epoch), over);
  const tx = await f.deliverReport(p);
  await expect(tx).to.emit(f.consensus, "ReportAccepted");
  return { p, tx };
}

/** Accepts every report due, up to the current epoch, which it returns (with 3+ blocks to go). */
async function catchUp(f: Economy): Promise<bigint> {
  for (;;) {
    const next = await f.consensus.nextEpoch();
    const [, end] = await f.consensus.epochBounds(next);
    if (BigInt(await ethers.provider.getBlockNumber()) + 3n < end) return next;
    await accept(f, next);
  }
}

/**
 * Checks that delivering `m` (already sent as `tx`) did not revert but left the message Failed,
 * with the handler's custom error `name(args)` as the reason of MessageFailed.
 */
async function expectHandlerError(
  f: Economy,
  tx: ContractTransactionResponse,
  m: Message,
  name: string,
  args: readonly unknown[],
) {
  const reason = f.consensus.interface.encodeErrorResult(name, args);
  await expect(tx).to.emit(f.inbox, "MessageFailed").withArgs(messageId(m), reason);
  await expect(tx).not.to.emit(f.consensus, "ReportAccepted");
  const receipt = await tx.wait();
  const failed = receipt!.logs
    .map((log) => f.inbox.interface.parseLog(log))
    .find((parsed) => parsed?.name === "MessageFailed");
  const error = f.consensus.interface.parseError(failed!.args.reason as string);
  expect(error?.name).to.equal(name);
  expect(await f.inbox.messageStatus(messageId(m))).to.equal(MessageStatus.Failed);
}

/** Delivers `p` and checks the handler refused it with `name(args)`. */
async function expectRefused(f: Economy, p: ReportPayload, name: string, args: readonly unknown[]) {
  const tx = await f.deliverReport(p);
  await expectHandlerError(f, tx, reportMessage(p), name, args);
}

/**
 * Delivers `p` and checks it was consumed without effect: the message is executed (so it can never
 * be retried) and Consensus says why with ReportRejected(epoch, revision, selector of `name`).
 */
async function expectRejected(f: Economy, p: ReportPayload, name: "EpochNotOver" | "UnexpectedRevision") {
  const before = await f.consensus.report(p.epoch);
  const tx = await f.deliverReport(p);
  const m = reportMessage(p);
  const selector = f.consensus.interface.getError(name)!.selector;
  await expect(tx).to.emit(f.consensus, "ReportRejected").withArgs(p.epoch, p.revision, selector);
  await expect(tx).to.emit(f.inbox, "MessageExecuted").withArgs(messageId(m));
  await expect(tx).not.to.emit(f.consensus, "ReportAccepted");
  await expect(tx).not.to.emit(f.emission, "Released");
  expect(await f.inbox.messageStatus(messageId(m))).to.equal(MessageStatus.Executed);
  expect(await f.consensus.report(p.epoch)).to.deep.equal(before);
  await expect(f.inbox.retry(m))
    .to.be.revertedWithCustomError(f.inbox, "NotFailed")
    .withArgs(messageId(m), MessageStatus.Executed);
}

// ─────────────────────────────────────────── fixtures ───────────────────────────────────────────

/** Brain 1 with validators bob and carol and miners dave, erin and frank. */
async function withMembers() {
  const f = await deployEconomy();
  const { bob, carol, dave, erin, frank } = f;
  await f.register(bob, BRAIN, 1);
  await f.register(carol, BRAIN, 1);
  await f.register(dave, BRAIN, 2);
  await f.register(erin, BRAIN, 2);
  await f.register(frank, BRAIN, 2);
  const uid = async (who: Signer) => (await f.network.roleOf(BRAIN, await who.getAddress()))[1];
  const uids = {
    bob: await uid(bob),
    carol: await uid(carol),
    dave: await uid(dave),
    erin: await uid(erin),
    frank: await uid(frank),
  };
  return { ...f, uids };
}
type Members = Awaited<ReturnType<typeof withMembers>>;

/** Commits `weights` for `who` in Brain 1 in the block the transaction lands in. */
async function commit(f: Members, who: Signer & { address: string }, weights: Hex, salt: Hex) {
  const epoch = await f.consensus.epochAt(BigInt(await ethers.provider.getBlockNumber()) + 1n);
  const h = commitHash(BRAIN, addr(who), epoch, weights, salt);
  await f.consensus.connect(who).commitWeights(BRAIN, h);
  return { epoch, hash: h };
}

/** Commits now and moves to the first block of the next epoch, where the reveal is due. */
async function commitAndWait(f: Members, who: Signer & { address: string }, weights: Hex, salt: Hex) {
  const c = await commit(f, who, weights, salt);
  await f.mineToStartOf(c.epoch + 1n);
  return c;
}

/** Six accounts whose rewards sum exactly to `amount` (with odd wei, so rounding would show). */
function rewardsFor(f: Economy, amount: bigint) {
  const accounts = [f.alice, f.bob, f.carol, f.dave, f.erin, f.frank].map(addr);
  const head = [
    (amount * 35n) / 100n + 1n,
    amount / 4n - 3n,
    (amount * 33n) / 200n + 2n,
    (amount * 6172839450617283945n) / 10n ** 20n,
    amount / 20n,
  ];
  const rest = amount - head.reduce((s, x) => s + x, 0n);
  if (rest <= 0n) throw new Error("amount too small");
  return [...head, rest].map((value, i) => ({ account: accounts[i]!, amount: value }));
}

/** Epoch 0 reported (and pending) with the rewards tree of `rewardsFor`. */
async function reported() {
  const f = await deployEconomy();
  const amount = await emissionOf(f, 0n);
  const rewards = rewardsFor(f, amount);
  const tree = await rewardsTree(rewards);
  const { p, tx } = await accept(f, 0n, { rewardsRoot: tree.root as Hex });
  const acceptedAt = BigInt((await tx.wait())!.blockNumber);
  const challenger = f.signers[7]!;
  return { ...f, amount, rewards, tree, p, acceptedAt, challenger };
}

function proofOf(tree: RewardsTree, account: Address) {
  const found = rewardProof(tree, account);
  if (!found) throw new Error(`no leaf for ${account}`);
  return found;
}

// ───────────────────────────────────────────── tests ────────────────────────────────────────────

describe("Consensus", function () {
  describe("epochs", function () {
    it("epoch e is blocks [genesis + e·tempo, genesis + (e+1)·tempo), genesis being Emission's", async function () {
      const { consensus, emission, genesisBlock } = await loadFixture(deployEconomy);
      const g = genesisBlock;
      expect(await consensus.genesisBlock()).to.equal(g);
      expect(await emission.genesisBlock()).to.equal(g);
      expect(await consensus.tempo()).to.equal(20n);
      expect(await consensus.epochBounds(0n)).to.deep.equal([g, g + 20n]);
      expect(await consensus.epochBounds(7n)).to.deep.equal([g + 140n, g + 160n]);
      expect(await consensus.epochAt(0n)).to.equal(0n);
      expect(await consensus.epochAt(g - 1n)).to.equal(0n);
      expect(await consensus.epochAt(g)).to.equal(0n);
      expect(await consensus.epochAt(g + 19n)).to.equal(0n);
      expect(await consensus.epochAt(g + 20n)).to.equal(1n);
      expect(await consensus.epochAt(g + 39n)).to.equal(1n);
      expect(await consensus.epochAt(g + 40n)).to.equal(2n);
      expect(await consensus.epochAt(g + 20n * 1000n + 5n)).to.equal(1000n);
    });

    it("currentEpoch is the epoch of the current block", async function () {
      const { consensus, mineToStartOf } = await loadFixture(deployEconomy);
      const now = BigInt(await ethers.provider.getBlockNumber());
      expect(await consensus.currentEpoch()).to.equal(await consensus.epochAt(now));
      const target = (await consensus.currentEpoch()) + 3n;
      await mineToStartOf(target);
      // The next block is the first of `target`: the current one is still the previous epoch's last.
      expect(await consensus.currentEpoch()).to.equal(target - 1n);
      await mine(1);
      expect(await consensus.currentEpoch()).to.equal(target);
      expect(BigInt(await ethers.provider.getBlockNumber())).to.equal(
        (await consensus.epochBounds(target))[0],
      );
      await mine(19);
      expect(await consensus.currentEpoch()).to.equal(target);
      await mine(1);
      expect(await consensus.currentEpoch()).to.equal(target + 1n);
    });
  });

  describe("commit–reveal of weights", function () {
    it("only a registered validator of the Brain commits, and not a zero hash", async function () {
      const f = await loadFixture(withMembers);
      const h = hash("commitment");
      await expect(f.consensus.connect(f.dave).commitWeights(BRAIN, h))
        .to.be.revertedWithCustomError(f.consensus, "NotValidator")
        .withArgs(BRAIN, f.dave.address);
      const stranger = f.signers[9]!;
      await expect(f.consensus.connect(stranger).commitWeights(BRAIN, h))
        .to.be.revertedWithCustomError(f.consensus, "NotValidator")
        .withArgs(BRAIN, stranger.address);
      // bob validates Brain 1, not Brain 2.
      await expect(f.consensus.connect(f.bob).commitWeights(2n, h))
        .to.be.revertedWithCustomError(f.consensus, "NotValidator")
        .withArgs(2n, f.bob.address);
      await expect(f.consensus.connect(f.bob).commitWeights(BRAIN, ZERO_HASH)).to.be.revertedWithCustomError(
        f.consensus,
        "EmptyCommit",
      );
    });

    it("a commitment emits WeightsCommitted and is stored with its epoch", async function () {
      const f = await loadFixture(withMembers);
      const epoch = (await f.consensus.currentEpoch()) + 1n;
      await f.mineToStartOf(epoch);
      const h = hash("commitment");
      const tx = f.consensus.connect(f.bob).commitWeights(BRAIN, h);
      await expect(tx)
        .to.emit(f.consensus, "WeightsCommitted")
        .withArgs(BRAIN, f.uids.bob, f.bob.address, epoch, h);
      const block = BigInt((await (await tx).wait())!.blockNumber);
      expect(await f.consensus.commitOf(BRAIN, f.uids.bob)).to.deep.equal([h, epoch, block]);
      expect(await f.consensus.commitOf(BRAIN, f.uids.carol)).to.deep.equal([ZERO_HASH, 0n, 0n]);
    });

    it("the TypeScript commitHash equals Consensus.commitHash", async function () {
      const { consensus, bob, carol } = await loadFixture(withMembers);
      const cases: Array<[bigint, Address, bigint, Hex, Hex]> = [
        [1n, addr(bob), 0n, "0x", ZERO_HASH],
        [1n, addr(bob), 7n, packWeights([[2, 100]]), hash("salt")],
        [
          65_535n,
          addr(carol),
          2n ** 64n - 1n,
          packWeights([
            [4, 1],
            [2, 65_535],
            [2047, 0],
          ]),
          hash("other salt"),
        ],
      ];
      for (const [brainId, validator, epoch, weights, salt] of cases) {
        expect(await consensus.commitHash(brainId, validator, epoch, weights, salt)).to.equal(
          commitHash(brainId, validator, epoch, weights, salt),
        );
      }
    });

    it("a reveal in the next epoch emits WeightsRevealed and deletes the commitment", async function () {
      const f = await loadFixture(withMembers);
      const weights = packWeights([
        [Number(f.uids.frank), 10],
        [Number(f.uids.dave), 65_535],
        [Number(f.uids.erin), 0],
      ]);
      const salt = hash("salt");
      const { epoch } = await commitAndWait(f, f.bob, weights, salt);
      await expect(f.consensus.connect(f.bob).revealWeights(BRAIN, weights, salt))
        .to.emit(f.consensus, "WeightsRevealed")
        .withArgs(BRAIN, f.uids.bob, f.bob.address, epoch, weights);
      expect(await f.consensus.commitOf(BRAIN, f.uids.bob)).to.deep.equal([ZERO_HASH, 0n, 0n]);
      // Revealed once: a second reveal has nothing to open.
      await expect(f.consensus.connect(f.bob).revealWeights(BRAIN, weights, salt))
        .to.be.revertedWithCustomError(f.consensus, "NoCommit")
        .withArgs(BRAIN, f.uids.bob);
    });

    it("an empty weight list can be committed and revealed", async function () {
      const f = await loadFixture(withMembers);
      const { epoch } = await commitAndWait(f, f.carol, "0x", hash("s"));
      await expect(f.consensus.connect(f.carol).revealWeights(BRAIN, "0x", hash("s")))
        .to.emit(f.consensus, "WeightsRevealed")
        .withArgs(BRAIN, f.uids.carol, f.carol.address, epoch, "0x");
    });

    it("refuses a reveal in the commit's own epoch (RevealTooEarly)", async function () {
      const f = await loadFixture(withMembers);
      const weights = packWeights([[Number(f.uids.dave), 1]]);
      const epoch = (await f.consensus.currentEpoch()) + 1n;
      await f.mineToStartOf(epoch);
      await commit(f, f.bob, weights, hash("s"));
      // The last block of the commit's epoch is still too early.
      const [, end] = await f.consensus.epochBounds(epoch);
      await nextBlockIs(end - 1n);
      await expect(f.consensus.connect(f.bob).revealWeights(BRAIN, weights, hash("s")))
        .to.be.revertedWithCustomError(f.consensus, "RevealTooEarly")
        .withArgs(epoch, epoch);
    });

    it("refuses a reveal two epochs later (RevealTooLate); the last block of the next epoch is in time", async function () {
      const f = await loadFixture(withMembers);
      const weights = packWeights([[Number(f.uids.dave), 1]]);
      const { epoch } = await commit(f, f.bob, weights, hash("s"));
      await f.mineToStartOf(epoch + 2n);
      await expect(f.consensus.connect(f.bob).revealWeights(BRAIN, weights, hash("s")))
        .to.be.revertedWithCustomError(f.consensus, "RevealTooLate")
        .withArgs(epoch + 2n, epoch);

      // carol reveals in the very last block of the window.
      const c = await commit(f, f.carol, weights, hash("t"));
      const [, end] = await f.consensus.epochBounds(c.epoch + 1n);
      await nextBlockIs(end - 1n);
      await expect(f.consensus.connect(f.carol).revealWeights(BRAIN, weights, hash("t"))).to.emit(
        f.consensus,
        "WeightsRevealed",
      );
    });

    it("refuses a reveal whose salt or weights do not match (CommitMismatch)", async function () {
      const f = await loadFixture(withMembers);
      const weights = packWeights([
        [Number(f.uids.dave), 5],
        [Number(f.uids.erin), 6],
      ]);
      const salt = hash("salt");
      const { epoch, hash: expected } = await commitAndWait(f, f.bob, weights, salt);

      const wrongSalt = hash("wrong");
      await expect(f.consensus.connect(f.bob).revealWeights(BRAIN, weights, wrongSalt))
        .to.be.revertedWithCustomError(f.consensus, "CommitMismatch")
        .withArgs(expected, commitHash(BRAIN, addr(f.bob), epoch, weights, wrongSalt));

      const other = packWeights([
        [Number(f.uids.dave), 6],
        [Number(f.uids.erin), 5],
      ]);
      await expect(f.consensus.connect(f.bob).revealWeights(BRAIN, other, salt))
        .to.be.revertedWithCustomError(f.consensus, "CommitMismatch")
        .withArgs(expected, commitHash(BRAIN, addr(f.bob), epoch, other, salt));

      // The commitment still stands: the right opening works.
      await expect(f.consensus.connect(f.bob).revealWeights(BRAIN, weights, salt)).to.emit(
        f.consensus,
        "WeightsRevealed",
      );
    });

    it("a validator cannot copy another's commitment (it binds the committer)", async function () {
      const f = await loadFixture(withMembers);
      const weights = packWeights([[Number(f.uids.dave), 9]]);
      const salt = hash("bob's salt");
      const epoch = (await f.consensus.currentEpoch()) + 1n;
      await f.mineToStartOf(epoch);
      const bobs = await commit(f, f.bob, weights, salt);
      // carol replays bob's hash from his WeightsCommitted event in the same epoch…
      await f.consensus.connect(f.carol).commitWeights(BRAIN, bobs.hash);
      await f.mineToStartOf(epoch + 1n);
      // …bob reveals, and carol tries to open her copy with bob's weights and salt.
      await f.consensus.connect(f.bob).revealWeights(BRAIN, weights, salt);
      await expect(f.consensus.connect(f.carol).revealWeights(BRAIN, weights, salt))
        .to.be.revertedWithCustomError(f.consensus, "CommitMismatch")
        .withArgs(bobs.hash, commitHash(BRAIN, addr(f.carol), epoch, weights, salt));
    });

    it("refuses a reveal without a commitment (NoCommit) and by a non-validator (NotValidator)", async function () {
      const f = await loadFixture(withMembers);
      await expect(f.consensus.connect(f.carol).revealWeights(BRAIN, "0x", ZERO_HASH))
        .to.be.revertedWithCustomError(f.consensus, "NoCommit")
        .withArgs(BRAIN, f.uids.carol);
      await expect(f.consensus.connect(f.dave).revealWeights(BRAIN, "0x", ZERO_HASH))
        .to.be.revertedWithCustomError(f.consensus, "NotValidator")
        .withArgs(BRAIN, f.dave.address);
    });

    it("refuses weights whose length is not a multiple of 4 (MalformedWeights)", async function () {
      const f = await loadFixture(withMembers);
      const uid = Number(f.uids.dave);
      for (const weights of [rawPack([[uid, 1]]).slice(0, -2), rawPack([[uid, 1]]) + "00"] as Hex[]) {
        await commitAndWait(f, f.bob, weights, hash("s"));
        await expect(f.consensus.connect(f.bob).revealWeights(BRAIN, weights, hash("s")))
          .to.be.revertedWithCustomError(f.consensus, "MalformedWeights")
          .withArgs((weights.length - 2) / 2);
      }
    });

    it("refuses more than maxWeights weights (TooManyWeights); only the owner sets 1…2048", async function () {
      const f = await loadFixture(withMembers);
      const { consensus, admin, bob } = f;
      expect(await consensus.maxWeights()).to.equal(PARAMS.maxWeights);
      await expect(consensus.connect(admin).setMaxWeights(2)).to.emit(consensus, "MaxWeightsSet").withArgs(2);
      expect(await consensus.maxWeights()).to.equal(2n);

      const three = packWeights([
        [Number(f.uids.dave), 1],
        [Number(f.uids.erin), 2],
        [Number(f.uids.frank), 3],
      ]);
      await commitAndWait(f, bob, three, hash("s"));
      await expect(consensus.connect(bob).revealWeights(BRAIN, three, hash("s")))
        .to.be.revertedWithCustomError(consensus, "TooManyWeights")
        .withArgs(3, 2);
      const two = packWeights([
        [Number(f.uids.dave), 1],
        [Number(f.uids.frank), 3],
      ]);
      await commitAndWait(f, bob, two, hash("s"));
      await expect(consensus.connect(bob).revealWeights(BRAIN, two, hash("s"))).to.emit(
        consensus,
        "WeightsRevealed",
      );

      await expect(consensus.connect(admin).setMaxWeights(0))
        .to.be.revertedWithCustomError(consensus, "InvalidMaxWeights")
        .withArgs(0);
      await expect(consensus.connect(admin).setMaxWeights(2049))
        .to.be.revertedWithCustomError(consensus, "InvalidMaxWeights")
        .withArgs(2049);
      await expect(consensus.connect(admin).setMaxWeights(2048))
        .to.emit(consensus, "MaxWeightsSet")
        .withArgs(2048);
      await expect(consensus.connect(bob).setMaxWeights(5))
        .to.be.revertedWithCustomError(consensus, "OwnableUnauthorizedAccount")
        .withArgs(bob.address);
      expect(await consensus.maxWeights()).to.equal(2048n);
    });

    it("refuses uids that repeat or go down (UidsNotAscending)", async function () {
      const f = await loadFixture(withMembers);
      const [d, e, fr] = [Number(f.uids.dave), Number(f.uids.erin), Number(f.uids.frank)];
      const cases: Array<[Hex, number]> = [
        [
          rawPack([
            [d, 1],
            [d, 2],
          ]),
          1,
        ],
        [
          rawPack([
            [d, 1],
            [fr, 1],
            [e, 1],
          ]),
          2,
        ],
      ];
      for (const [weights, index] of cases) {
        await commitAndWait(f, f.bob, weights, hash("s"));
        await expect(f.consensus.connect(f.bob).revealWeights(BRAIN, weights, hash("s")))
          .to.be.revertedWithCustomError(f.consensus, "UidsNotAscending")
          .withArgs(index);
      }
    });

    it("refuses uids that are not miners of the Brain (UnknownUid)", async function () {
      const f = await loadFixture(withMembers);
      const [validators, miners] = await f.network.counts(BRAIN);
      const free = Number(validators + miners); // uids are handed out lowest first, none left
      expect((await f.network.member(BRAIN, free)).account).to.equal(ethers.ZeroAddress);
      const unknown = [
        Number(f.uids.carol), // another validator
        Number(f.uids.bob), // the revealer itself
        free, // nobody
        2047, // nobody, the last uid
        2048, // past the uid space
        65_535,
      ];
      for (const uid of unknown) {
        const weights = rawPack([[uid, 1]]);
        await commitAndWait(f, f.bob, weights, hash("s"));
        await expect(f.consensus.connect(f.bob).revealWeights(BRAIN, weights, hash("s")))
          .to.be.revertedWithCustomError(f.consensus, "UnknownUid")
          .withArgs(uid);
      }
      // A known miner after a good one is checked too.
      const mixed = rawPack([
        [Number(f.uids.dave), 1],
        [free, 1],
      ]);
      await commitAndWait(f, f.bob, mixed, hash("s"));
      await expect(f.consensus.connect(f.bob).revealWeights(BRAIN, mixed, hash("s")))
        .to.be.revertedWithCustomError(f.consensus, "UnknownUid")
        .withArgs(free);
    });

    it("a miner that leaves after the commitment keeps its weight: the reveal is accepted; one that left before is unknown", async function () {
      const f = await loadFixture(withMembers);
      const weights = packWeights([
        [Number(f.uids.dave), 10],
        [Number(f.uids.erin), 20],
      ]);
      const c = await commit(f, f.bob, weights, hash("s"));
      // erin leaves between the commit and the reveal: the validator could not have known.
      await f.network.connect(f.erin).deregister(BRAIN);
      await f.mineToStartOf(c.epoch + 1n);
      await expect(f.consensus.connect(f.bob).revealWeights(BRAIN, weights, hash("s")))
        .to.emit(f.consensus, "WeightsRevealed")
        .withArgs(BRAIN, f.uids.bob, f.bob.address, c.epoch, weights);

      // erin's uid is now empty and left before this new commitment: refused.
      const again = packWeights([[Number(f.uids.erin), 5]]);
      await commitAndWait(f, f.bob, again, hash("t"));
      await expect(f.consensus.connect(f.bob).revealWeights(BRAIN, again, hash("t")))
        .to.be.revertedWithCustomError(f.consensus, "UnknownUid")
        .withArgs(f.uids.erin);
    });

    it("a new commitment in the same epoch replaces the previous one", async function () {
      const f = await loadFixture(withMembers);
      const first = packWeights([[Number(f.uids.dave), 1]]);
      const second = packWeights([[Number(f.uids.erin), 2]]);
      const epoch = (await f.consensus.currentEpoch()) + 1n;
      await f.mineToStartOf(epoch);
      const a = await commit(f, f.bob, first, hash("a"));
      const b = await commit(f, f.bob, second, hash("b"));
      expect(b.epoch).to.equal(a.epoch);
      expect((await f.consensus.commitOf(BRAIN, f.uids.bob)).slice(0, 2)).to.deep.equal([b.hash, epoch]);
      await f.mineToStartOf(epoch + 1n);
      await expect(f.consensus.connect(f.bob).revealWeights(BRAIN, first, hash("a")))
        .to.be.revertedWithCustomError(f.consensus, "CommitMismatch")
        .withArgs(b.hash, a.hash);
      await expect(f.consensus.connect(f.bob).revealWeights(BRAIN, second, hash("b")))
        .to.emit(f.consensus, "WeightsRevealed")
        .withArgs(BRAIN, f.uids.bob, f.bob.address, epoch, second);
    });
  });

  describe("epoch reports", function () {
    it("the first report must be of epoch 0 (UnexpectedEpoch)", async function () {
      const f = await loadFixture(deployEconomy);
      expect(await f.consensus.nextEpoch()).to.equal(0n);
      await f.mineToEndOf(1n);
      await expectRefused(f, reportOf(1n, await emissionOf(f, 1n)), "UnexpectedEpoch", [1n, 0n]);
      expect(await f.consensus.nextEpoch()).to.equal(0n);
      expect((await f.consensus.report(1n)).status).to.equal(Status.None);
    });

    it("a report delivered before its epoch is over is consumed without effect (ReportRejected: EpochNotOver) and can never be retried into force", async function () {
      const f = await loadFixture(deployEconomy);
      const current = await catchUp(f);
      const [, end] = await f.consensus.epochBounds(current);
      const early = reportOf(current, await emissionOf(f, current));
      // Delivered in the epoch's last block: not over yet.
      await nextBlockIs(end - 1n);
      await expectRejected(f, early, "EpochNotOver");
      expect(await f.consensus.nextEpoch()).to.equal(current);
      // Even once the epoch is over, the premature report stays spent.
      await f.mineToEndOf(current);
      await expect(f.deliverReport(early))
        .to.be.revertedWithCustomError(f.inbox, "AlreadyDelivered")
        .withArgs(messageId(reportMessage(early)), MessageStatus.Executed);
      // A report computed after the end (other inputs) is accepted.
      const late = reportOf(current, await emissionOf(f, current), { inputsHash: hash("after the end") });
      await expect(f.deliverReport(late)).to.emit(f.consensus, "ReportAccepted");
      expect(await f.consensus.nextEpoch()).to.equal(current + 1n);
    });

    it("a report whose nonce is not its (epoch, revision) is consumed without effect (ReportRejected: WrongReportNonce), and the correct one is then accepted", async function () {
      const f = await loadFixture(deployEconomy);
      await f.mineToEndOf(0n);
      const p = reportOf(0n, await emissionOf(f, 0n));
      const m: Message = { ...reportMessage(p), nonce: reportNonce(0n, 1) };
      const tx = await deliver(f.inbox, m, f.quorum);
      const selector = f.consensus.interface.getError("WrongReportNonce")!.selector;
      await expect(tx).to.emit(f.consensus, "ReportRejected").withArgs(0n, 0n, selector);
      await expect(tx).not.to.emit(f.consensus, "ReportAccepted");
      expect(await f.inbox.messageStatus(messageId(m))).to.equal(MessageStatus.Executed);
      expect(await f.consensus.nextEpoch()).to.equal(0n);
      await expect(f.deliverReport(p)).to.emit(f.consensus, "ReportAccepted");
    });

    it("refuses per-Brain totals that do not sum to the epoch's emission (TotalsMismatch)", async function () {
      const f = await loadFixture(deployEconomy);
      const amount = await emissionOf(f, 0n);
      // 20 blocks × 10 BASED (on a fresh chain, far from the first halving).
      const [start] = await f.consensus.epochBounds(0n);
      expect(amount).to.equal(20n * (await f.emission.blockReward(start)));
      if (start < 3_155_760n - 20n) expect(amount).to.equal(BASED(200));
      await expectRefused(f, reportOf(0n, amount - 1n), "TotalsMismatch", [amount - 1n, amount]);
      await expectRefused(f, reportOf(0n, amount + 1n, { inputsHash: hash("more") }), "TotalsMismatch", [
        amount + 1n,
        amount,
      ]);
      await expectRefused(
        f,
        reportOf(0n, 0n, { brainIds: [], brainTotals: [], inputsHash: hash("none") }),
        "TotalsMismatch",
        [0n, amount],
      );
      expect(await f.consensus.nextEpoch()).to.equal(0n);
    });

    it("refuses malformed per-Brain lists (MalformedTotals)", async function () {
      const f = await loadFixture(deployEconomy);
      const amount = await emissionOf(f, 0n);
      const cases: Array<Partial<ReportPayload>> = [
        { brainIds: [1, 2], brainTotals: [amount] },
        { brainIds: [1], brainTotals: [amount, 0n] },
        { brainIds: [2, 1], brainTotals: [amount / 2n, amount - amount / 2n] },
        { brainIds: [1, 1], brainTotals: [amount / 2n, amount - amount / 2n] },
        { brainIds: [1, 3, 2], brainTotals: [amount - 2n, 1n, 1n] },
      ];
      for (const [i, over] of cases.entries()) {
        await expectRefused(
          f,
          reportOf(0n, amount, { ...over, inputsHash: hash(`case ${i}`) }),
          "MalformedTotals",
          [],
        );
      }
    });

    it("on acceptance Emission mints exactly the epoch's emission into Consensus", async function () {
      const f = await loadFixture(deployEconomy);
      const { consensus, emission, based } = f;
      const [start, end] = await consensus.epochBounds(0n);
      const amount = await emissionOf(f, 0n);
      expect(await emission.emissionBetween(start, end)).to.equal(amount);
      const p = reportOf(0n, amount);
      const supply = await based.totalSupply();
      const tx = await f.deliverReport(p);
      await expect(tx).to.emit(emission, "Released").withArgs(start, end, amount);
      await expect(tx)
        .to.emit(consensus, "ReportAccepted")
        .withArgs(
          0n,
          0n,
          p.rewardsRoot,
          p.pruningRoot,
          p.inputsHash,
          amount,
          totalsHash(p.brainIds, p.brainTotals),
        );
      await expect(tx)
        .to.emit(f.inbox, "MessageExecuted")
        .withArgs(messageId(reportMessage(p)));
      await expect(tx).to.changeTokenBalance(based, await consensus.getAddress(), amount);
      expect(await based.totalSupply()).to.equal(supply + amount);
      expect(await emission.mintedUpTo()).to.equal(end);
      expect(await consensus.nextEpoch()).to.equal(1n);

      const at = BigInt((await tx.wait())!.blockNumber);
      const r = await consensus.report(0n);
      expect(r.status).to.equal(Status.Pending);
      expect(r.amount).to.equal(amount);
      expect(r.claimed).to.equal(0n);
      expect(r.revision).to.equal(0n);
      expect(r.rewardsRoot).to.equal(p.rewardsRoot);
      expect(r.pruningRoot).to.equal(p.pruningRoot);
      expect(r.inputsHash).to.equal(p.inputsHash);
      expect(r.finalizesAt).to.equal(at + PARAMS.challengeWindow);
      expect(r.challenger).to.equal(ethers.ZeroAddress);
    });

    it("reports are sequential: no skipping, no second report of an accepted epoch", async function () {
      const f = await loadFixture(deployEconomy);
      await accept(f, 0n);
      await f.mineToEndOf(2n);
      const amount2 = await emissionOf(f, 2n);
      const early = reportOf(2n, amount2);
      await expectRefused(f, early, "UnexpectedEpoch", [2n, 1n]);
      // A different report of epoch 0 (another message id) is refused by the handler.
      await expectRefused(
        f,
        reportOf(0n, await emissionOf(f, 0n), { rewardsRoot: hash("another root") }),
        "UnexpectedEpoch",
        [0n, 1n],
      );
      await accept(f, 1n);
      // The early report of epoch 2 waits as failed in the inbox: a retry delivers it now.
      await expect(f.deliverReport(early))
        .to.be.revertedWithCustomError(f.inbox, "AlreadyDelivered")
        .withArgs(messageId(reportMessage(early)), MessageStatus.Failed);
      await expect(f.inbox.retry(reportMessage(early)))
        .to.emit(f.consensus, "ReportAccepted")
        .withArgs(
          2n,
          0n,
          early.rewardsRoot,
          early.pruningRoot,
          early.inputsHash,
          amount2,
          totalsHash(early.brainIds, early.brainTotals),
        );
      expect(await f.consensus.nextEpoch()).to.equal(3n);
      // Each epoch minted exactly once: [genesis, end of epoch 2).
      const [, end] = await f.consensus.epochBounds(2n);
      expect(await f.emission.mintedUpTo()).to.equal(end);
      expect(await f.based.balanceOf(await f.consensus.getAddress())).to.equal(
        emissionBetween(f.genesisBlock, end),
      );
    });

    it("the inbox refuses a replayed report (AlreadyDelivered)", async function () {
      const f = await loadFixture(deployEconomy);
      const { p } = await accept(f, 0n);
      await expect(f.deliverReport(p))
        .to.be.revertedWithCustomError(f.inbox, "AlreadyDelivered")
        .withArgs(messageId(reportMessage(p)), MessageStatus.Executed);
      expect(await f.consensus.nextEpoch()).to.equal(1n);
    });

    it("the inbox refuses a report signed below the threshold (NotEnoughSignatures)", async function () {
      const f = await loadFixture(deployEconomy);
      const p = reportOf(0n, await emissionOf(f, 0n));
      await expect(f.deliverReport(p, f.quorum.slice(0, 2)))
        .to.be.revertedWithCustomError(f.inbox, "NotEnoughSignatures")
        .withArgs(2, 3);
      expect(await f.consensus.nextEpoch()).to.equal(0n);
      expect(await f.inbox.messageStatus(messageId(reportMessage(p)))).to.equal(MessageStatus.None);
    });

    it("the handler refuses a report from another source chain (WrongSourceChain)", async function () {
      const f = await loadFixture(deployEconomy);
      const p = reportOf(0n, await emissionOf(f, 0n));
      const m: Message = { ...reportMessage(p), srcChainId: ETH_CHAIN };
      const tx = await deliver(f.inbox, m, f.quorum);
      await expectHandlerError(f, tx, m, "WrongSourceChain", [ETH_CHAIN, LOCAL_CHAIN]);
      expect(await f.consensus.nextEpoch()).to.equal(0n);
      await expect(f.consensus.handleMessage(messageId(m), reportMessage(p)))
        .to.be.revertedWithCustomError(f.consensus, "NotInbox")
        .withArgs(f.admin.address);
    });
  });

  describe("finality and claims", function () {
    it("claims wait for the challenge window (ReportNotFinal), then open", async function () {
      const f = await loadFixture(reported);
      const { consensus, tree, alice } = f;
      const { amount, proof } = proofOf(tree, addr(alice));
      const finalizesAt = f.acceptedAt + PARAMS.challengeWindow;
      expect((await consensus.report(0n)).finalizesAt).to.equal(finalizesAt);
      expect(await consensus.isFinal(0n)).to.equal(false);
      await expect(consensus.claim(0n, alice.address, amount, proof))
        .to.be.revertedWithCustomError(consensus, "ReportNotFinal")
        .withArgs(0n);
      await nextBlockIs(finalizesAt - 1n);
      await expect(consensus.claim(0n, alice.address, amount, proof))
        .to.be.revertedWithCustomError(consensus, "ReportNotFinal")
        .withArgs(0n);
      // The next block is the window's end: final.
      await expect(consensus.claim(0n, alice.address, amount, proof))
        .to.emit(consensus, "Claimed")
        .withArgs(0n, alice.address, amount);
      expect(await consensus.isFinal(0n)).to.equal(true);
      // No report at all is not final either.
      await expect(consensus.claim(1n, alice.address, amount, proof))
        .to.be.revertedWithCustomError(consensus, "ReportNotFinal")
        .withArgs(1n);
    });

    it("every account claims (claim and claimMany, by anyone); the claims sum to the emission", async function () {
      const f = await loadFixture(reported);
      const { consensus, based, tree, rewards } = f;
      const relayer = f.signers[10]!;
      const consensusAddr = await consensus.getAddress();
      expect(rewards.length).to.be.greaterThanOrEqual(5);
      expect(rewards.reduce((s, r) => s + r.amount, 0n)).to.equal(f.amount);
      expect(await based.balanceOf(consensusAddr)).to.equal(f.amount);
      await mine(PARAMS.challengeWindow);

      let total = 0n;
      // Three single claims, two of them sent by a relayer for the account.
      for (const [i, r] of rewards.slice(0, 3).entries()) {
        const { amount, proof } = proofOf(tree, r.account);
        expect(amount).to.equal(r.amount);
        const sender = i === 0 ? f.alice : relayer;
        const tx = consensus.connect(sender).claim(0n, r.account, amount, proof);
        await expect(tx).to.emit(consensus, "Claimed").withArgs(0n, r.account, amount);
        await expect(tx).to.changeTokenBalances(
          based,
          i === 0 ? [r.account, consensusAddr] : [r.account, relayer.address, consensusAddr],
          i === 0 ? [amount, -amount] : [amount, 0n, -amount],
        );
        expect(await consensus.claimed(0n, r.account)).to.equal(true);
        total += amount;
      }
      // The rest in one claimMany sent by the relayer.
      const rest = rewards
        .slice(3)
        .map((r) => ({ epoch: 0n, account: r.account, ...proofOf(tree, r.account) }));
      const tx = consensus.connect(relayer).claimMany(rest);
      for (const c of rest) await expect(tx).to.emit(consensus, "Claimed").withArgs(0n, c.account, c.amount);
      await expect(tx).to.changeTokenBalances(
        based,
        rest.map((c) => c.account),
        rest.map((c) => c.amount),
      );
      total += rest.reduce((s, c) => s + c.amount, 0n);

      expect(total).to.equal(f.amount);
      expect((await consensus.report(0n)).claimed).to.equal(f.amount);
      expect(await based.balanceOf(consensusAddr)).to.equal(0n);
    });

    it("an account claims once per epoch (AlreadyClaimed)", async function () {
      const f = await loadFixture(reported);
      const { consensus, tree, bob } = f;
      await mine(PARAMS.challengeWindow);
      const { amount, proof } = proofOf(tree, addr(bob));
      await consensus.claim(0n, bob.address, amount, proof);
      await expect(consensus.claim(0n, bob.address, amount, proof))
        .to.be.revertedWithCustomError(consensus, "AlreadyClaimed")
        .withArgs(0n, bob.address);
      const carol = proofOf(tree, addr(f.carol));
      await expect(
        consensus.claimMany([
          { epoch: 0n, account: f.carol.address, ...carol },
          { epoch: 0n, account: f.carol.address, ...carol },
        ]),
      )
        .to.be.revertedWithCustomError(consensus, "AlreadyClaimed")
        .withArgs(0n, f.carol.address);
      expect(await consensus.claimed(0n, f.carol.address)).to.equal(false);
    });

    it("refuses a proof for another amount or another account (InvalidProof)", async function () {
      const f = await loadFixture(reported);
      const { consensus, tree, alice, bob } = f;
      await mine(PARAMS.challengeWindow);
      const { amount, proof } = proofOf(tree, addr(alice));
      await expect(consensus.claim(0n, alice.address, amount + 1n, proof))
        .to.be.revertedWithCustomError(consensus, "InvalidProof")
        .withArgs(0n, alice.address, amount + 1n);
      await expect(consensus.claim(0n, bob.address, amount, proof))
        .to.be.revertedWithCustomError(consensus, "InvalidProof")
        .withArgs(0n, bob.address, amount);
      const stranger = f.signers[11]!;
      await expect(consensus.claim(0n, stranger.address, amount, proof))
        .to.be.revertedWithCustomError(consensus, "InvalidProof")
        .withArgs(0n, stranger.address, amount);
      await expect(consensus.claim(0n, alice.address, amount, []))
        .to.be.revertedWithCustomError(consensus, "InvalidProof")
        .withArgs(0n, alice.address, amount);
    });

    it("a tree that sums to more than the emission pays out at most the emission (ClaimExceedsEmission)", async function () {
      const f = await loadFixture(deployEconomy);
      const emission = await emissionOf(f, 0n);
      const accounts = [f.alice, f.bob, f.carol, f.dave, f.erin].map(addr);
      const each = emission / 4n; // five leaves of a quarter each: 125 %
      const tree = await rewardsTree(accounts.map((account) => ({ account, amount: each })));
      await accept(f, 0n, { rewardsRoot: tree.root as Hex });
      await mine(PARAMS.challengeWindow);
      for (const account of accounts.slice(0, 4)) {
        await expect(f.consensus.claim(0n, account, each, proofOf(tree, account).proof)).to.emit(
          f.consensus,
          "Claimed",
        );
      }
      const last = accounts[4]!;
      await expect(f.consensus.claim(0n, last, each, proofOf(tree, last).proof))
        .to.be.revertedWithCustomError(f.consensus, "ClaimExceedsEmission")
        .withArgs(0n);
      expect((await f.consensus.report(0n)).claimed).to.equal(emission);
      expect(await f.based.balanceOf(await f.consensus.getAddress())).to.equal(0n);
    });

    it("rewardLeaf is the rewards tree's leaf hash", async function () {
      const f = await loadFixture(reported);
      for (const r of f.rewards) {
        expect(await f.consensus.rewardLeaf(r.account, r.amount)).to.equal(
          f.tree.leafHash([r.account, r.amount]),
        );
      }
      expect(await f.consensus.rewardLeaf(ethers.ZeroAddress, 0n)).to.equal(
        f.tree.leafHash([ethers.ZeroAddress, 0n]),
      );
    });
  });

  describe("challenges", function () {
    it("a challenge in the window takes the bond and marks the report Challenged", async function () {
      const f = await loadFixture(reported);
      const { consensus, based, challenger, p } = f;
      const root = hash("challenger's root");
      // An epoch emits 200 BASED here: 10 % of it is below the floor, so the bond is the floor.
      expect(await consensus.challengeBondOf(0n)).to.equal(PARAMS.minChallengeBond);
      const tx = consensus.connect(challenger).challenge(0n, p.inputsHash, root);
      const at = BigInt(await ethers.provider.getBlockNumber()) + 1n;
      await expect(tx)
        .to.emit(consensus, "ReportChallenged")
        .withArgs(0n, challenger.address, root, PARAMS.minChallengeBond, at + PARAMS.challengeTimeout);
      await expect(tx).to.changeTokenBalances(
        based,
        [challenger.address, await consensus.getAddress()],
        [-PARAMS.minChallengeBond, PARAMS.minChallengeBond],
      );
      const r = await consensus.report(0n);
      expect(r.status).to.equal(Status.Challenged);
      expect(r.challenger).to.equal(challenger.address);
      expect(r.challengedRoot).to.equal(root);
      expect(r.rewardsRoot).to.equal(p.rewardsRoot);
      expect(r.bond).to.equal(PARAMS.minChallengeBond);
      expect(r.finalizesAt).to.equal(at + PARAMS.challengeTimeout);
    });

    it("the bond grows with the emission it freezes: challengeBondBps of the epoch's emission, at least minChallengeBond", async function () {
      // 75 % of an epoch's 200 BASED: 150 BASED, above the 100 BASED floor.
      const f = await deployEconomyWith({ ...PARAMS, challengeBondBps: 7_500 });
      expect(await f.consensus.challengeBondOf(0n)).to.equal(PARAMS.minChallengeBond); // no report: floor
      const { p } = await accept(f, 0n);
      const amount = await emissionOf(f, 0n);
      const bond = (amount * 7_500n) / 10_000n;
      expect(bond > PARAMS.minChallengeBond).to.equal(true);
      expect(await f.consensus.challengeBondOf(0n)).to.equal(bond);
      await f.based.connect(f.bob).approve(await f.consensus.getAddress(), bond);
      const tx = f.consensus.connect(f.bob).challenge(0n, p.inputsHash, hash("x"));
      await expect(tx).to.changeTokenBalance(f.based, f.bob.address, -bond);
      // A revision rejecting it burns exactly the bond that was taken.
      await expect(f.deliverReport({ ...p, revision: 1 })).to.changeTokenBalance(f.based, BURN, bond);
    });

    it("governance sets the challenge rules (owner only, checked); a report keeps the window and a challenge the bond and timeout it started with", async function () {
      const f = await loadFixture(reported);
      const { consensus, challenger, p } = f;
      const rules = { window: 40n, timeout: 90n, minBond: BASED(150), bondBps: 2_000 };
      await expect(consensus.connect(f.bob).setChallengeRules(rules))
        .to.be.revertedWithCustomError(consensus, "OwnableUnauthorizedAccount")
        .withArgs(f.bob.address);
      for (const bad of [
        { ...rules, timeout: 0n },
        { ...rules, bondBps: 10_001 },
      ]) {
        await expect(consensus.setChallengeRules(bad)).to.be.revertedWithCustomError(
          consensus,
          "InvalidChallengeRules",
        );
      }
      // Epoch 0 was accepted under the old window: its finality does not move.
      const before = (await consensus.report(0n)).finalizesAt;
      await expect(consensus.setChallengeRules(rules))
        .to.emit(consensus, "ChallengeRulesSet")
        .withArgs(40n, 90n, BASED(150), 2_000);
      expect([
        await consensus.challengeWindow(),
        await consensus.challengeTimeout(),
        await consensus.minChallengeBond(),
        await consensus.challengeBondBps(),
      ]).to.deep.equal([40n, 90n, BASED(150), 2_000n]);
      expect((await consensus.report(0n)).finalizesAt).to.equal(before);
      // A challenge now takes the new floor (20 % of 200 BASED is below it) and the new timeout.
      const tx = consensus.connect(challenger).challenge(0n, p.inputsHash, hash("x"));
      await expect(tx).to.changeTokenBalance(f.based, challenger.address, -BASED(150));
      const at = BigInt((await (await tx).wait())!.blockNumber);
      const r = await consensus.report(0n);
      expect([r.bond, r.finalizesAt]).to.deep.equal([BASED(150), at + 90n]);
      // Changing the rules again leaves the open challenge as it was.
      await consensus.setChallengeRules({ ...rules, timeout: 5n, minBond: BASED(1) });
      expect((await consensus.report(0n)).finalizesAt).to.equal(at + 90n);
      await expect(f.deliverReport({ ...p, revision: 1 })).to.changeTokenBalance(f.based, BURN, BASED(150));
    });

    it("attack: one challenge freezes an epoch forever — without a revision within challengeTimeout the report is final as it stands, claims and the pruning order return, the bond is burned, a late revision changes nothing", async function () {
      const f = await loadFixture(reported);
      const { consensus, based, tree, alice, challenger, p } = f;
      await consensus.connect(challenger).challenge(0n, p.inputsHash, hash("griefer's root"));
      const lapsesAt = (await consensus.report(0n)).finalizesAt;
      const { amount, proof } = proofOf(tree, addr(alice));

      // Until the timeout the report is frozen, and so is the pruning order.
      expect(await consensus.pruningOrder()).to.deep.equal([0n, ZERO_HASH]);
      await nextBlockIs(lapsesAt - 2n);
      await expect(consensus.claim(0n, alice.address, amount, proof))
        .to.be.revertedWithCustomError(consensus, "ReportNotFinal")
        .withArgs(0n);
      await expect(consensus.settleLapsedChallenge(0n))
        .to.be.revertedWithCustomError(consensus, "NoLapsedChallenge")
        .withArgs(0n, lapsesAt);

      // From the timeout on: final, claimable, pruning order back (no one needs to settle first).
      await expect(consensus.claim(0n, alice.address, amount, proof))
        .to.emit(consensus, "Claimed")
        .withArgs(0n, alice.address, amount);
      expect(await consensus.isFinal(0n)).to.equal(true);
      expect(await consensus.pruningOrder()).to.deep.equal([0n, p.pruningRoot]);

      // A revision arriving now must not rewrite a report that is being claimed from.
      await expectRejected(
        f,
        { ...p, revision: 1, rewardsRoot: hash("griefer's root") },
        "UnexpectedRevision",
      );
      expect((await consensus.report(0n)).rewardsRoot).to.equal(p.rewardsRoot);

      // Anyone closes it: the bond is burned, once.
      const tx = consensus.connect(f.bob).settleLapsedChallenge(0n);
      await expect(tx)
        .to.emit(consensus, "ChallengeLapsed")
        .withArgs(0n, challenger.address, PARAMS.minChallengeBond);
      await expect(tx).to.changeTokenBalances(
        based,
        [challenger.address, BURN, await consensus.getAddress()],
        [0n, PARAMS.minChallengeBond, -PARAMS.minChallengeBond],
      );
      expect((await consensus.report(0n)).status).to.equal(Status.Settled);
      await expect(consensus.settleLapsedChallenge(0n))
        .to.be.revertedWithCustomError(consensus, "NoLapsedChallenge")
        .withArgs(0n, 0n);
      // The rest of the epoch is still claimable; the bond never pays a claim.
      const bob = proofOf(tree, addr(f.bob));
      await expect(consensus.claim(0n, f.bob.address, bob.amount, bob.proof)).to.emit(consensus, "Claimed");
      await expect(consensus.settleLapsedChallenge(3n))
        .to.be.revertedWithCustomError(consensus, "NoLapsedChallenge")
        .withArgs(3n, 0n);
    });

    it("refuses a challenge after the window, of a missing report, or a second one (ChallengeClosed)", async function () {
      const f = await loadFixture(reported);
      const { consensus, challenger, p } = f;
      const finalizesAt = f.acceptedAt + PARAMS.challengeWindow;
      await expect(consensus.connect(challenger).challenge(5n, p.inputsHash, hash("x")))
        .to.be.revertedWithCustomError(consensus, "ChallengeClosed")
        .withArgs(5n);

      // The last block of the window is still open…
      await nextBlockIs(finalizesAt - 1n);
      await expect(consensus.connect(challenger).challenge(0n, p.inputsHash, hash("x"))).to.emit(
        consensus,
        "ReportChallenged",
      );
      // …and a challenged report cannot be challenged again.
      await expect(consensus.connect(f.bob).challenge(0n, p.inputsHash, hash("y")))
        .to.be.revertedWithCustomError(consensus, "ChallengeClosed")
        .withArgs(0n);
    });

    it("refuses a challenge at the window's end", async function () {
      const f = await loadFixture(reported);
      await nextBlockIs(f.acceptedAt + PARAMS.challengeWindow);
      await expect(f.consensus.connect(f.challenger).challenge(0n, f.p.inputsHash, hash("x")))
        .to.be.revertedWithCustomError(f.consensus, "ChallengeClosed")
        .withArgs(0n);
    });

    it("a challenge must be about the same inputs (InputsHashMismatch) and post another root (SameResult)", async function () {
      const f = await loadFixture(reported);
      const { consensus, challenger, p } = f;
      const wrong = hash("other inputs");
      await expect(consensus.connect(challenger).challenge(0n, wrong, hash("x")))
        .to.be.revertedWithCustomError(consensus, "InputsHashMismatch")
        .withArgs(p.inputsHash, wrong);
      await expect(
        consensus.connect(challenger).challenge(0n, p.inputsHash, p.rewardsRoot),
      ).to.be.revertedWithCustomError(consensus, "SameResult");
      expect((await consensus.report(0n)).status).to.equal(Status.Pending);
    });

    it("a revision with the challenger's root upholds it: bond returned, claims against the new root", async function () {
      const f = await loadFixture(reported);
      const { consensus, based, challenger, p, amount } = f;
      const consensusAddr = await consensus.getAddress();
      // The correct result: the same accounts, another split.
      const fixed = rewardsFor(f, amount).map((r, i) => ({
        ...r,
        amount: r.amount + (i % 2 === 0 ? 5n : -5n),
      }));
      const newTree = await rewardsTree(fixed);
      await consensus.connect(challenger).challenge(0n, p.inputsHash, newTree.root as Hex);
      expect(await consensus.pruningOrder()).to.deep.equal([0n, ZERO_HASH]);

      const revision: ReportPayload = {
        ...p,
        revision: 1,
        rewardsRoot: newTree.root as Hex,
        pruningRoot: hash("pruning, revised"),
        brainTotals: [amount - 2n, 1n, 1n],
      };
      const supply = await based.totalSupply();
      const tx = await f.deliverReport(revision);
      await expect(tx).to.emit(consensus, "ChallengeResolved").withArgs(0n, challenger.address, true);
      await expect(tx)
        .to.emit(consensus, "ReportAccepted")
        .withArgs(
          0n,
          1n,
          revision.rewardsRoot,
          revision.pruningRoot,
          revision.inputsHash,
          amount,
          totalsHash(revision.brainIds, revision.brainTotals),
        );
      await expect(tx).not.to.emit(f.emission, "Released");
      await expect(tx).to.changeTokenBalances(
        based,
        [challenger.address, consensusAddr],
        [PARAMS.minChallengeBond, -PARAMS.minChallengeBond],
      );
      expect(await based.totalSupply()).to.equal(supply);
      const r = await consensus.report(0n);
      expect(r.status).to.equal(Status.Settled);
      expect(r.revision).to.equal(1n);
      expect(r.rewardsRoot).to.equal(newTree.root);
      expect(r.amount).to.equal(amount);
      expect(await consensus.pruningOrder()).to.deep.equal([0n, revision.pruningRoot]);
      expect(await consensus.isFinal(0n)).to.equal(true);

      // Settled means final at once; the old tree's proofs no longer pay.
      const old = proofOf(f.tree, addr(f.alice));
      await expect(consensus.claim(0n, f.alice.address, old.amount, old.proof))
        .to.be.revertedWithCustomError(consensus, "InvalidProof")
        .withArgs(0n, f.alice.address, old.amount);
      const claims = fixed.map((x) => ({ epoch: 0n, account: x.account, ...proofOf(newTree, x.account) }));
      await consensus.claimMany(claims);
      expect(await based.balanceOf(consensusAddr)).to.equal(0n);
      expect((await consensus.report(0n)).claimed).to.equal(amount);
    });

    it("a revision with another root rejects the challenge: the bond goes to 0x…dEaD", async function () {
      const f = await loadFixture(reported);
      const { consensus, based, challenger, p } = f;
      await consensus.connect(challenger).challenge(0n, p.inputsHash, hash("challenger's root"));
      const revision: ReportPayload = { ...p, revision: 1 };
      const tx = await f.deliverReport(revision);
      await expect(tx).to.emit(consensus, "ChallengeResolved").withArgs(0n, challenger.address, false);
      await expect(tx).to.changeTokenBalances(
        based,
        [challenger.address, BURN, await consensus.getAddress()],
        [0n, PARAMS.minChallengeBond, -PARAMS.minChallengeBond],
      );
      expect(await consensus.BURN_ADDRESS()).to.equal(BURN);
      expect((await consensus.report(0n)).status).to.equal(Status.Settled);
      const { amount, proof } = proofOf(f.tree, addr(f.alice));
      await expect(consensus.claim(0n, f.alice.address, amount, proof)).to.emit(consensus, "Claimed");
    });

    it("a revision that settles no open challenge (unchallenged, missing, out of sequence, already settled) is consumed without effect (ReportRejected: UnexpectedRevision)", async function () {
      const f = await loadFixture(reported);
      const { consensus, challenger, p } = f;
      await expectRejected(f, { ...p, revision: 1 }, "UnexpectedRevision");
      expect((await consensus.report(0n)).status).to.equal(Status.Pending);
      await expectRejected(f, { ...reportOf(3n, f.amount), revision: 1 }, "UnexpectedRevision");
      await consensus.connect(challenger).challenge(0n, p.inputsHash, hash("x"));
      await expectRejected(f, { ...p, revision: 2 }, "UnexpectedRevision");
      expect((await consensus.report(0n)).status).to.equal(Status.Challenged);
      await f.deliverReport({ ...p, revision: 1, rewardsRoot: hash("x") });
      expect((await consensus.report(0n)).status).to.equal(Status.Settled);
      await expectRejected(f, { ...p, revision: 2, rewardsRoot: hash("y") }, "UnexpectedRevision");
      expect((await consensus.report(0n)).rewardsRoot).to.equal(hash("x"));
    });

    it("a stale revision delivered before any challenge cannot be retried later to settle a new challenge", async function () {
      const f = await loadFixture(reported);
      const { consensus, challenger, p } = f;
      const stale: ReportPayload = { ...p, revision: 1, rewardsRoot: hash("stale") };
      await expectRejected(f, stale, "UnexpectedRevision");
      await consensus.connect(challenger).challenge(0n, p.inputsHash, hash("challenger's root"));
      await expect(f.inbox.retry(reportMessage(stale))).to.be.revertedWithCustomError(f.inbox, "NotFailed");
      await expect(f.deliverReport(stale)).to.be.revertedWithCustomError(f.inbox, "AlreadyDelivered");
      expect((await consensus.report(0n)).status).to.equal(Status.Challenged);
    });

    it("a revision's totals must equal the original amount (TotalsMismatch)", async function () {
      const f = await loadFixture(reported);
      const { consensus, challenger, p, amount } = f;
      await consensus.connect(challenger).challenge(0n, p.inputsHash, hash("x"));
      const revision = { ...p, revision: 1, brainTotals: [amount, 1n, 0n] };
      await expectRefused(f, revision, "TotalsMismatch", [amount + 1n, amount]);
      expect((await consensus.report(0n)).status).to.equal(Status.Challenged);
    });

    it("pruningOrder: none before a report, the latest report's root, zero while it is challenged", async function () {
      const f = await loadFixture(deployEconomy);
      const { consensus } = f;
      expect(await consensus.pruningOrder()).to.deep.equal([0n, ZERO_HASH]);
      const { p: p0 } = await accept(f, 0n);
      expect(await consensus.pruningOrder()).to.deep.equal([0n, p0.pruningRoot]);
      const { p: p1 } = await accept(f, 1n);
      expect(await consensus.pruningOrder()).to.deep.equal([1n, p1.pruningRoot]);
      await consensus.connect(f.bob).challenge(1n, p1.inputsHash, hash("x"));
      expect(await consensus.pruningOrder()).to.deep.equal([1n, ZERO_HASH]);
      await f.deliverReport({ ...p1, revision: 1, pruningRoot: hash("revised pruning") });
      expect(await consensus.pruningOrder()).to.deep.equal([1n, hash("revised pruning")]);
    });
  });

  describe("deployment", function () {
    it("reads its token and genesis from Emission and keeps its parameters", async function () {
      const f = await loadFixture(deployEconomy);
      const { consensus } = f;
      expect(await consensus.based()).to.equal(await f.based.getAddress());
      expect(await consensus.emission()).to.equal(await f.emission.getAddress());
      expect(await consensus.network()).to.equal(await f.network.getAddress());
      expect(await consensus.inbox()).to.equal(await f.inbox.getAddress());
      expect(await consensus.sourceChainId()).to.equal(LOCAL_CHAIN);
      expect(await consensus.handledKind()).to.equal(EPOCH_REPORT);
      expect(await consensus.EPOCH_REPORT()).to.equal(EPOCH_REPORT);
      expect(await consensus.challengeWindow()).to.equal(PARAMS.challengeWindow);
      expect(await consensus.challengeTimeout()).to.equal(PARAMS.challengeTimeout);
      expect(await consensus.minChallengeBond()).to.equal(PARAMS.minChallengeBond);
      expect(await consensus.challengeBondBps()).to.equal(PARAMS.challengeBondBps);
      expect(await consensus.owner()).to.equal(f.admin.address);
      expect(await f.based.balanceOf(f.alice.address)).to.equal(FUNDING);
    });

    it("refuses a zero tempo (InvalidTempo), zero addresses (ZeroAddress), a zero challenge timeout or a bond above 100 % (InvalidChallengeRules) and maxWeights 0", async function () {
      const f = await loadFixture(deployEconomy);
      const factory = await ethers.getContractFactory("Consensus");
      const rules = {
        window: PARAMS.challengeWindow,
        timeout: PARAMS.challengeTimeout,
        minBond: PARAMS.minChallengeBond,
        bondBps: PARAMS.challengeBondBps,
      };
      const args = async (over: Record<number, unknown>) => {
        const base: unknown[] = [
          await f.inbox.getAddress(),
          LOCAL_CHAIN,
          await f.emission.getAddress(),
          await f.network.getAddress(),
          PARAMS.tempo,
          rules,
          PARAMS.maxWeights,
          f.admin.address,
        ];
        for (const [i, v] of Object.entries(over)) base[Number(i)] = v;
        return base as Parameters<typeof factory.deploy>;
      };
      await expect(factory.deploy(...(await args({ 4: 0n })))).to.be.revertedWithCustomError(
        factory,
        "InvalidTempo",
      );
      for (const i of [0, 2, 3]) {
        await expect(
          factory.deploy(...(await args({ [i]: ethers.ZeroAddress }))),
        ).to.be.revertedWithCustomError(factory, "ZeroAddress");
      }
      for (const bad of [
        { ...rules, timeout: 0n },
        { ...rules, bondBps: 10_001 },
      ]) {
        await expect(factory.deploy(...(await args({ 5: bad })))).to.be.revertedWithCustomError(
          factory,
          "InvalidChallengeRules",
        );
      }
      await expect(factory.deploy(...(await args({ 6: 0 }))))
        .to.be.revertedWithCustomError(factory, "InvalidMaxWeights")
        .withArgs(0);
      const ok = (await factory.deploy(...(await args({ 4: 1n })))) as unknown as Consensus;
      expect(await ok.tempo()).to.equal(1n);
    });

    it("works with a tempo of one block and no bond", async function () {
      const f = await deployEconomyWith({ ...PARAMS, tempo: 1n, minChallengeBond: 0n, challengeBondBps: 0 });
      const current = await f.consensus.currentEpoch();
      expect(current).to.equal(BigInt(await ethers.provider.getBlockNumber()) - f.genesisBlock);
      const { p } = await accept(f, 0n);
      expect(await f.based.balanceOf(await f.consensus.getAddress())).to.equal(await emissionOf(f, 0n));
      const tx = f.consensus.connect(f.bob).challenge(0n, p.inputsHash, hash("x"));
      await expect(tx).to.changeTokenBalance(f.based, f.bob.address, 0n);
    });
  });
});
