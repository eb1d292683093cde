import path from "node:path";
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import pino from "pino";
import { type Hex, encodeAbiParameters, getAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { Attester } from "../../../oracle/attester/attester";
import { GigaBrainReporter } from "../../../oracle/gigabrain/reporter";
import { gigaBrainSet, sameSet } from "../../../oracle/gigabrain/set";
import { Journal } from "../../../oracle/signing/journal";
import {
  decodeGigaBrainSet,
  encodeGigaBrainSet,
  gigaBrainSetNonce,
  idsOfBitmap,
} from "../../../protocol/gigabrain";
import { MessageKind, messageId, pickSignatures } from "../../../protocol/message";
import type { GigaBrainSets, MessageInbox } from "../../../typechain-types";
import { deployEconomy } from "../../contracts/based/economy-fixture";
import { encodeGigaBrainSet as fixtureEncoding } from "../../contracts/governance/fixture";
import { BASED_CHAIN, Kind, LOCAL_CHAIN, Status, deliver } from "../../contracts/messaging/messages";
import { tempDir } from "../../helpers/processes";
import { inProcess } from "../harness";

describe("GigaBrain sets (GIGABRAIN_SET)", function () {
  describe("gigaBrainSet: at least 0.5 % of all stake, exact integer math", () => {
    it("takes a Brain at exactly 0.5 % and leaves one a wei under", () => {
      // 200,000 in all: 1,000 is exactly 0.5 %, 999 is under.
      const stakes = [
        { brainId: 3, stake: 1_000n },
        { brainId: 2, stake: 999n },
        { brainId: 1, stake: 198_001n },
      ];
      expect(gigaBrainSet(stakes, 200_000n)).to.deep.equal([1, 3]);
      // One wei more in all and 1,000 is under (1,000,000 < 1,000,005).
      expect(gigaBrainSet(stakes, 200_001n)).to.deep.equal([1]);
      // Large numbers: no floating point anywhere.
      const big = 10n ** 30n;
      expect(gigaBrainSet([{ brainId: 7, stake: big * 5n }], big * 1000n)).to.deep.equal([7]);
      expect(gigaBrainSet([{ brainId: 7, stake: big * 5n - 1n }], big * 1000n)).to.deep.equal([]);
    });

    it("ascending, each id once, no Brain without stake (even when nothing is staked)", () => {
      expect(
        gigaBrainSet(
          [
            { brainId: 9, stake: 10n },
            { brainId: 4, stake: 10n },
            { brainId: 9, stake: 10n },
          ],
          20n,
        ),
      ).to.deep.equal([4, 9]);
      expect(gigaBrainSet([{ brainId: 1, stake: 0n }], 0n)).to.deep.equal([]);
      expect(() => gigaBrainSet([{ brainId: 1, stake: -1n }], 0n)).to.throw(/negative/);
      expect(sameSet([1, 2], [1, 2])).to.equal(true);
      expect(sameSet([1, 2], [1, 3])).to.equal(false);
      expect(sameSet([], [1])).to.equal(false);
    });
  });

  describe("payload and nonce", () => {
    it("abi.encode(uint64 basedBlock, uint16[] brainIds), as the contracts' tests encode it; decodes back", () => {
      const payload = encodeGigaBrainSet({ basedBlock: 1234n, brainIds: [0, 5, 1023] });
      expect(payload).to.equal(fixtureEncoding(1234n, [0, 5, 1023]));
      expect(decodeGigaBrainSet(payload)).to.deep.equal({ basedBlock: 1234n, brainIds: [0, 5, 1023] });
      expect(decodeGigaBrainSet(encodeGigaBrainSet({ basedBlock: 1n, brainIds: [] }))).to.deep.equal({
        basedBlock: 1n,
        brainIds: [],
      });
    });

    it("refuses what GigaBrainSets would: unsorted or repeated ids, ids from 1024, trailing bytes", () => {
      expect(() => encodeGigaBrainSet({ basedBlock: 1n, brainIds: [2, 1] })).to.throw(/ascending/);
      expect(() => encodeGigaBrainSet({ basedBlock: 1n, brainIds: [1, 1] })).to.throw(/ascending/);
      expect(() => encodeGigaBrainSet({ basedBlock: 1n, brainIds: [1024] })).to.throw();
      const raw = (ids: number[]) =>
        encodeAbiParameters([{ type: "uint64" }, { type: "uint16[]" }], [1n, ids]) as Hex;
      expect(() => decodeGigaBrainSet(raw([3, 2]))).to.throw(/ascending/);
      expect(() => decodeGigaBrainSet(raw([1024]))).to.throw();
      expect(() => decodeGigaBrainSet(`${raw([1])}00`)).to.throw(/canonical/);
    });

    it("nonce (basedBlock << 32) | 0xFFFFFFFF: no log position of the block can have it", () => {
      expect(gigaBrainSetNonce(5n)).to.equal((5n << 32n) | 0xffffffffn);
      expect(gigaBrainSetNonce(5n)).to.not.equal((5n << 32n) | 0n);
      expect(() => gigaBrainSetNonce(1n << 31n)).to.throw(RangeError);
      expect(idsOfBitmap([(1n << 3n) | 1n, 0n, 1n << 255n, 0n])).to.deep.equal([0, 3, 767]);
    });
  });

  describe("the attesters' reporter on real stake", function () {
    const log = pino({ level: "silent" });
    /** The economy plays the BasedAI chain as 32323; the Ethereum side is 31337 (its inbox trusts 32323). */
    const basedSide = inProcess("based", 32323);
    const ethSide = inProcess("ethereum", 31337);

    async function setup() {
      const f = await deployEconomy();
      const members = f.attesters.map((a) => a.address);
      const ethInbox = (await ethers.deployContract("MessageInbox", [
        members,
        [BASED_CHAIN],
        f.admin.address,
      ])) as unknown as MessageInbox;
      const sets = (await ethers.deployContract("GigaBrainSets", [
        await ethInbox.getAddress(),
        BASED_CHAIN,
      ])) as unknown as GigaBrainSets;
      await ethInbox.setHandler(Kind.GIGABRAIN_SET, await sets.getAddress(), 1_000_000n);
      const ethInboxAddress = getAddress(await ethInbox.getAddress());
      const setsAddress = getAddress(await sets.getAddress());
      const startBlock = BigInt(await ethers.provider.getBlockNumber()) - 200n;
      /** Attester `index` with its own journal and reporter (depth-0 finality: the devnet's). */
      const makeReporter = (index: number, dir = tempDir("attester")) => {
        const attester = new Attester({
          account: privateKeyToAccount(f.attesters[index]!.privateKey as Hex),
          journal: new Journal(path.join(dir, `attester-${index}.jsonl`)),
          watches: [],
          inboxes: [{ ctx: ethSide, address: ethInboxAddress }],
          finality: new Map(),
          startBlocks: new Map(),
          log,
        });
        const reporter = new GigaBrainReporter({
          sign: (m) => attester.sign(m),
          based: {
            client: basedSide.publicClient,
            chainId: 32323n,
            contracts: {
              BrainRegistry: getAddress(f.registry.target as string),
              Staking: getAddress(f.staking.target as string),
              Consensus: getAddress(f.consensus.target as string),
            },
            startBlock: startBlock < 0n ? 0n : startBlock,
          },
          ethereum: { client: ethSide.publicClient, chainId: 31337n, gigaBrainSets: setsAddress },
          finality: { kind: "depth", depth: 0 },
          log,
        });
        return { attester, reporter };
      };
      return { ...f, ethInbox, sets, makeReporter };
    }
    type Setup = Awaited<ReturnType<typeof setup>>;

    /** The last block of the epoch the next block is in, mined (final at depth 0). */
    async function mineToEpochEnd(f: Setup): Promise<bigint> {
      const next = BigInt(await ethers.provider.getBlockNumber()) + 1n;
      const epoch = await f.consensus.epochAt(next);
      await f.mineToEndOf(epoch);
      const [, end] = await f.consensus.epochBounds(epoch);
      expect(BigInt(await ethers.provider.getBlockNumber())).to.equal(end - 1n);
      return end - 1n;
    }

    /** Delivers `signed` (three attesters' entries of one message) to the Ethereum inbox. */
    async function deliverSigned(
      f: Setup,
      entries: { attester: Attester; entry: { message: Parameters<typeof messageId>[0]; signature: Hex } }[],
    ) {
      const signatures = pickSignatures(
        entries.map((e) => ({ signer: e.attester.address, signature: e.entry.signature })),
        3,
      );
      return f.ethInbox.receiveMessage(entries[0]!.entry.message, 1, signatures!);
    }

    /** Staking's own rule, read at `block`, for the Brains of the fixture. */
    async function stakingSays(f: Setup, block: bigint): Promise<number[]> {
      const ids: number[] = [];
      for (const id of [1, 2, 3, 8, 9])
        if (await f.staking.isGigaBrain(id, { blockTag: Number(block) })) ids.push(id);
      return ids;
    }

    it("signs the set at the epoch's last block once, the same bytes from every attester, and GigaBrainSets takes it", async () => {
      const f = await loadFixture(setup);
      const attesters = [0, 1, 2].map((i) => f.makeReporter(i));
      // 200,000 wei in all: Brain 3 exactly 0.5 % (in), Brain 2 a wei under (out).
      await f.staking.connect(f.alice).stake(1, ethers.ZeroAddress, 198_001n);
      await f.staking.connect(f.bob).stake(2, ethers.ZeroAddress, 999n);
      await f.staking.connect(f.carol).stake(3, ethers.ZeroAddress, 1_000n);
      const last = await mineToEpochEnd(f);
      expect(await stakingSays(f, last)).to.deep.equal([1, 3]);

      const signed = await Promise.all(attesters.map((a) => a.reporter.poll()));
      const message = signed[0]!.message;
      for (const s of signed) expect(s!.message).to.deep.equal(message);
      expect(message).to.deep.equal({
        srcChainId: 32323n,
        dstChainId: 31337n,
        nonce: (last << 32n) | 0xffffffffn,
        kind: MessageKind.GIGABRAIN_SET,
        payload: encodeGigaBrainSet({ basedBlock: last, brainIds: [1, 3] }),
      });
      // Once: the next polls sign nothing, also in the next block.
      expect(await attesters[0]!.reporter.poll()).to.equal(undefined);
      await mine(1);
      expect(await attesters[0]!.reporter.poll()).to.equal(undefined);

      await deliverSigned(
        f,
        signed.map((entry, i) => ({ attester: attesters[i]!.attester, entry: entry! })),
      );
      expect(await f.ethInbox.messageStatus(messageId(message))).to.equal(Status.Executed);
      expect(await f.sets.versionCount()).to.equal(1n);
      expect(await f.sets.currentBasedBlock()).to.equal(last);
      expect(idsOfBitmap(await f.sets.bitmapOf(1))).to.deep.equal([1, 3]);

      // Held by Ethereum, unchanged at the next boundary: nothing to sign, even for a new attester.
      await mineToEpochEnd(f);
      expect(await attesters[1]!.reporter.poll()).to.equal(undefined);
      expect(await f.makeReporter(3).reporter.poll()).to.equal(undefined);
    });

    it("a change is signed at the first boundary after it: by a running attester and by one that starts later, alike", async () => {
      const f = await loadFixture(setup);
      const running = [0, 1, 2].map((i) => f.makeReporter(i));
      await f.staking.connect(f.alice).stake(1, ethers.ZeroAddress, 198_001n);
      await f.staking.connect(f.bob).stake(2, ethers.ZeroAddress, 999n);
      await f.staking.connect(f.carol).stake(3, ethers.ZeroAddress, 1_000n);
      const first = await mineToEpochEnd(f);
      const signed = await Promise.all(running.map((a) => a.reporter.poll()));
      await deliverSigned(
        f,
        signed.map((entry, i) => ({ attester: running[i]!.attester, entry: entry! })),
      );

      // An epoch with no change in between: the late attesters' walk back must stop at the change,
      // not at Ethereum's set.
      const quiet = await (async () => {
        await mine(1);
        return mineToEpochEnd(f);
      })();
      expect(quiet).to.be.greaterThan(first);
      expect(await running[0]!.reporter.poll()).to.equal(undefined);
      // Brain 2 gains 2 wei: 1,001 of 200,002 is over 0.5 %, 1,000 is now under.
      await f.staking.connect(f.bob).stake(2, ethers.ZeroAddress, 2n);
      // Before the boundary nothing is signed (the set is taken at epoch ends only).
      expect(await running[0]!.reporter.poll()).to.equal(undefined);
      const changed = await mineToEpochEnd(f);
      expect(changed).to.be.greaterThan(quiet);
      expect(await stakingSays(f, changed)).to.deep.equal([1, 2]);
      const now = await running[0]!.reporter.poll();
      expect(now!.message.payload).to.equal(encodeGigaBrainSet({ basedBlock: changed, brainIds: [1, 2] }));

      // Three epochs later, attesters that never looked before find the same block and bytes.
      await mineToEpochEnd(f);
      await mine(1);
      await mineToEpochEnd(f);
      await mine(1);
      await mineToEpochEnd(f);
      const late = await Promise.all([1, 2, 3].map((i) => f.makeReporter(i).reporter.poll()));
      for (const l of late) expect(l!.message).to.deep.equal(now!.message);
      expect(late[0]!.signature).to.not.equal(now!.signature);

      // One set per change: the running attester signs nothing more.
      expect(await running[0]!.reporter.poll()).to.equal(undefined);
    });

    it("what GigaBrainSets refuses: the same set again, and an older block after a newer one", async () => {
      const f = await loadFixture(setup);
      const attesters = [0, 1, 2].map((i) => f.makeReporter(i));
      await f.staking.connect(f.alice).stake(1, ethers.ZeroAddress, 1_000n);
      const first = await mineToEpochEnd(f);
      const signed = await Promise.all(attesters.map((a) => a.reporter.poll()));
      expect(decodeGigaBrainSet(signed[0]!.message.payload)).to.deep.equal({
        basedBlock: first,
        brainIds: [1],
      });
      const entries = signed.map((entry, i) => ({ attester: attesters[i]!.attester, entry: entry! }));
      await deliverSigned(f, entries);
      await expect(deliverSigned(f, entries)).to.be.revertedWithCustomError(f.ethInbox, "AlreadyDelivered");

      // A set for an older block (signed by hand by a quorum) is taken by the inbox but refused by
      // GigaBrainSets: stored as failed, the set in force unchanged.
      const stale = {
        srcChainId: BASED_CHAIN,
        dstChainId: LOCAL_CHAIN,
        nonce: gigaBrainSetNonce(first - 1n),
        kind: Kind.GIGABRAIN_SET,
        payload: encodeGigaBrainSet({ basedBlock: first - 1n, brainIds: [2] }),
      };
      await deliver(f.ethInbox, stale, f.quorum);
      expect(
        await f.ethInbox.messageStatus(messageId({ ...stale, kind: MessageKind.GIGABRAIN_SET })),
      ).to.equal(Status.Failed);
      expect(await f.sets.versionCount()).to.equal(1n);

      // Ethereum already holds a set from a later block than any final epoch end: nothing is due.
      const ahead = BigInt(await ethers.provider.getBlockNumber()) + 1_000n;
      await deliver(
        f.ethInbox,
        {
          ...stale,
          nonce: gigaBrainSetNonce(ahead),
          payload: encodeGigaBrainSet({ basedBlock: ahead, brainIds: [2] }),
        },
        f.quorum,
      );
      expect(await f.sets.versionCount()).to.equal(2n);
      await mineToEpochEnd(f);
      expect(await f.makeReporter(3).reporter.due()).to.equal(undefined);
    });
  });
});
