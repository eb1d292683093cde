import { expect } from "chai";
import fc from "fast-check";
import { AbiCoder } from "ethers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { type Address, type Hex, encodeAbiParameters, getAddress, keccak256 } from "viem";
import {
  MAX_UIDS,
  MAX_WEIGHT,
  type MemberRole,
  type PruneCandidate,
  type ReportPayload,
  Role,
  type Weight,
  commitHash,
  decodeReportPayload,
  encodeReportPayload,
  packWeights,
  pruneHints,
  pruningOrder,
  pruningTree,
  reportNonce,
  rewardProof,
  rewardsTree,
  unpackWeights,
} from "../../protocol/report";
import { deployEconomy } from "../contracts/based/economy-fixture";
import { settled } from "../helpers/settled";

/** A deterministic address from a small number (lower case, so checksumming shows). */
const account = (n: number): Address => `0x${n.toString(16).padStart(40, "0")}` as Address;
const A = account(0xa11ce);
const B = account(0xb0b);
const C = account(0xca201);
const hash = (byte: string): Hex => `0x${byte.repeat(32)}` as Hex;

function candidate(over: Partial<PruneCandidate> & Pick<PruneCandidate, "uid">): PruneCandidate {
  return {
    brainId: 1,
    role: Role.Miner,
    account: account(0x1000 + over.uid),
    registeredAt: 100n,
    score: 0n,
    ...over,
  };
}

describe("protocol/report: the formats Consensus and Network check", function () {
  describe("weights", function () {
    it("packs big-endian (uid, weight) pairs, sorted by uid", function () {
      expect(packWeights([])).to.equal("0x");
      expect(packWeights([[1, 2]])).to.equal("0x00010002");
      expect(
        packWeights([
          [5, 1],
          [2, 65_535],
          [2047, 0],
        ]),
      ).to.equal("0x0002ffff0005000107ff0000");
      expect(unpackWeights("0x0002ffff0005000107ff0000")).to.deep.equal([
        [2, 65_535],
        [5, 1],
        [2047, 0],
      ]);
      expect(unpackWeights("0x")).to.deep.equal([]);
    });

    it("refuses uids outside 0…2047, weights outside u16 and repeated uids", function () {
      expect(MAX_UIDS).to.equal(2048);
      expect(MAX_WEIGHT).to.equal(65_535);
      const bad: Weight[][] = [
        [[2048, 1]],
        [[-1, 1]],
        [[1.5, 1]],
        [[3, 65_536]],
        [[3, -1]],
        [[3, 0.5]],
        [
          [3, 1],
          [7, 1],
          [3, 2],
        ],
      ];
      for (const weights of bad)
        expect(() => packWeights(weights), JSON.stringify(weights)).to.throw(RangeError);
      expect(() =>
        packWeights([
          [4, 1],
          [4, 1],
        ]),
      ).to.throw(RangeError, /twice/);
      expect(() => unpackWeights("0x000100")).to.throw(RangeError, /multiple of 4/);
    });

    it("unpack(pack(w)) is w sorted by uid (property)", function () {
      const weights = fc.uniqueArray(
        fc.tuple(fc.integer({ min: 0, max: MAX_UIDS - 1 }), fc.integer({ min: 0, max: MAX_WEIGHT })),
        { selector: ([uid]) => uid, maxLength: 64 },
      );
      fc.assert(
        fc.property(weights, (w) => {
          const packed = packWeights(w);
          expect((packed.length - 2) / 2).to.equal(4 * w.length);
          expect(unpackWeights(packed)).to.deep.equal([...w].sort((a, b) => a[0] - b[0]));
          expect(packWeights(unpackWeights(packed))).to.equal(packed);
        }),
        { numRuns: 200 },
      );
    });

    it("commitHash is keccak256(abi.encode(brainId, validator, epoch, keccak256(weights), salt)) and binds each", function () {
      const weights = packWeights([[3, 7]]);
      const salt = hash("5a");
      const base = commitHash(1n, A, 4n, weights, salt);
      const expected = keccak256(
        encodeAbiParameters(
          [
            { type: "uint256" },
            { type: "address" },
            { type: "uint64" },
            { type: "bytes32" },
            { type: "bytes32" },
          ],
          [1n, A, 4n, keccak256(weights), salt],
        ),
      );
      expect(base).to.equal(expected);
      const variants = [
        commitHash(2n, A, 4n, weights, salt),
        commitHash(1n, B, 4n, weights, salt),
        commitHash(1n, A, 5n, weights, salt),
        commitHash(1n, A, 4n, packWeights([[3, 8]]), salt),
        commitHash(1n, A, 4n, weights, hash("5b")),
      ];
      expect(new Set([base, ...variants]).size).to.equal(6);
    });
  });

  describe("report payload", function () {
    const payload: ReportPayload = {
      epoch: 42n,
      revision: 1,
      rewardsRoot: hash("11"),
      pruningRoot: hash("22"),
      inputsHash: hash("33"),
      brainIds: [1, 2, 65_535],
      brainTotals: [10n ** 18n, 0n, 2n ** 255n],
    };

    it("encodes as abi.encode(ReportPayload) and decodes back", function () {
      const encoded = encodeReportPayload(payload);
      const ethersEncoded = AbiCoder.defaultAbiCoder().encode(
        ["tuple(uint64,uint32,bytes32,bytes32,bytes32,uint16[],uint256[])"],
        [
          [
            payload.epoch,
            payload.revision,
            payload.rewardsRoot,
            payload.pruningRoot,
            payload.inputsHash,
            payload.brainIds,
            payload.brainTotals,
          ],
        ],
      );
      expect(encoded).to.equal(ethersEncoded);
      expect(decodeReportPayload(encoded)).to.deep.equal(payload);
    });

    it("round-trips any payload (property)", function () {
      const bytes32 = fc
        .uint8Array({ minLength: 32, maxLength: 32 })
        .map((b) => `0x${Buffer.from(b).toString("hex")}` as Hex);
      const arbitrary = fc
        .array(fc.tuple(fc.integer({ min: 0, max: 65_535 }), fc.bigInt({ min: 0n, max: 2n ** 256n - 1n })), {
          maxLength: 8,
        })
        .chain((totals) =>
          fc.record({
            epoch: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
            revision: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
            rewardsRoot: bytes32,
            pruningRoot: bytes32,
            inputsHash: bytes32,
            brainIds: fc.constant(totals.map(([id]) => id)),
            brainTotals: fc.constant(totals.map(([, t]) => t)),
          }),
        );
      fc.assert(
        fc.property(arbitrary, (p) => {
          expect(decodeReportPayload(encodeReportPayload(p))).to.deep.equal(p);
        }),
        { numRuns: 100 },
      );
    });

    it("reportNonce is 2^63 | (epoch << 32) | revision: one per epoch and revision, never an event's (block << 32) | logIndex", function () {
      const flag = 2n ** 63n;
      expect(reportNonce(0n, 0)).to.equal(flag);
      expect(reportNonce(0n, 1)).to.equal(flag + 1n);
      expect(reportNonce(1n, 0)).to.equal(flag + 2n ** 32n);
      expect(reportNonce(5n, 3)).to.equal(flag + 5n * 2n ** 32n + 3n);
      // A BridgeLocked at block 5, log 3 has nonce 5·2^32 + 3: distinct from revision 3 of epoch 5.
      expect(reportNonce(5n, 3)).to.not.equal(5n * 2n ** 32n + 3n);
      expect(reportNonce(5n, 3) < 2n ** 64n).to.be.true;
      expect(() => reportNonce(2n ** 31n, 0)).to.throw(RangeError);
      expect(() => reportNonce(0n, -1)).to.throw(RangeError);
      expect(reportNonce(2n ** 31n - 1n, 2 ** 32 - 1)).to.equal(2n ** 64n - 1n);
      const seen = new Set<bigint>();
      for (let e = 0n; e < 20n; e++) for (let r = 0; r < 5; r++) seen.add(reportNonce(e, r));
      expect(seen.size).to.equal(100);
    });
  });

  describe("rewards tree", function () {
    const leafOf = (acct: string, amount: bigint) =>
      keccak256(
        keccak256(encodeAbiParameters([{ type: "address" }, { type: "uint256" }], [acct as Address, amount])),
      );

    it("adds up an account's amounts (whatever its address case) and leaves zero amounts out", async function () {
      const tree = await rewardsTree([
        { account: B, amount: 5n },
        { account: A, amount: 1n },
        { account: getAddress(B), amount: 7n },
        { account: C, amount: 0n },
        { account: A, amount: 2n },
      ]);
      const leaves = [...tree.entries()].map(([, [acct, amount]]) => [acct, BigInt(amount)]);
      // Ascending addresses, checksummed; C (zero) is gone.
      expect(leaves).to.deep.equal([
        [getAddress(B), 12n],
        [getAddress(A), 3n],
      ]);
      expect(tree.leafHash([getAddress(A), 3n])).to.equal(leafOf(A, 3n));
    });

    it("does not depend on the order of the rewards", async function () {
      const rewards = [
        { account: A, amount: 3n },
        { account: B, amount: 4n },
        { account: C, amount: 5n },
      ];
      const root = (await rewardsTree(rewards)).root;
      expect((await rewardsTree([...rewards].reverse())).root).to.equal(root);
      expect((await rewardsTree([rewards[1]!, rewards[2]!, rewards[0]!])).root).to.equal(root);
    });

    it("refuses negative amounts and an epoch without rewards", async function () {
      expect(await settled(rewardsTree([{ account: A, amount: -1n }]))).to.throw(RangeError, /negative/);
      expect(
        await settled(
          rewardsTree([
            { account: A, amount: 5n },
            { account: B, amount: -1n },
          ]),
        ),
      ).to.throw(RangeError);
      expect(await settled(rewardsTree([]))).to.throw(RangeError, /at least one/);
      expect(
        await settled(
          rewardsTree([
            { account: A, amount: 0n },
            { account: B, amount: 0n },
          ]),
        ),
      ).to.throw(RangeError, /at least one/);
    });

    it("rewardProof finds an account's amount and a proof that verifies, or nothing", async function () {
      const tree = await rewardsTree([
        { account: A, amount: 3n },
        { account: B, amount: 4n },
        { account: C, amount: 5n },
        { account: account(7), amount: 6n },
        { account: account(8), amount: 7n },
      ]);
      for (const [acct, amount] of [
        [A, 3n],
        [getAddress(C), 5n],
        [account(8), 7n],
      ] as const) {
        const found = rewardProof(tree, acct);
        expect(found?.amount).to.equal(amount);
        expect(
          StandardMerkleTree.verify(tree.root, ["address", "uint256"], [acct, amount], found!.proof),
        ).to.equal(true);
        expect(
          StandardMerkleTree.verify(tree.root, ["address", "uint256"], [acct, amount + 1n], found!.proof),
        ).to.equal(false);
      }
      expect(rewardProof(tree, account(9))).to.equal(undefined);
    });
  });

  describe("pruning order", function () {
    it("orders each Brain and role by score, then registration, then uid, ranked from 0", async function () {
      const members: PruneCandidate[] = [
        candidate({ uid: 9, score: 5n }),
        candidate({ uid: 4, score: 1n, registeredAt: 200n }),
        candidate({ uid: 7, score: 1n, registeredAt: 150n }),
        candidate({ uid: 3, score: 1n, registeredAt: 200n }),
        candidate({ uid: 0, role: Role.Validator, score: 10n }),
        candidate({ uid: 1, role: Role.Validator, score: 2n }),
        candidate({ brainId: 2, uid: 0, score: 0n }),
        candidate({ brainId: 0, uid: 5, role: Role.Validator, score: 3n }),
      ];
      const leaves = await pruningOrder(members);
      const view = leaves.map(([brainId, role, rank, uid]) => [brainId, role, rank, uid]);
      expect(view).to.deep.equal([
        [0, Role.Validator, 0, 5],
        [1, Role.Validator, 0, 1],
        [1, Role.Validator, 1, 0],
        [1, Role.Miner, 0, 7], // score 1, oldest
        [1, Role.Miner, 1, 3], // score 1, registered at 200, lower uid
        [1, Role.Miner, 2, 4],
        [1, Role.Miner, 3, 9], // score 5
        [2, Role.Miner, 0, 0],
      ]);
      const [first] = leaves;
      expect(first![4]).to.equal(getAddress(account(0x1005)));
      expect(first![5]).to.equal(100n);
      expect(await pruningOrder([])).to.deep.equal([]);
    });

    it("is the same whatever order the members come in (property)", async function () {
      const member = fc.record({
        brainId: fc.integer({ min: 0, max: 3 }),
        role: fc.constantFrom<MemberRole>(Role.Validator, Role.Miner),
        uid: fc.integer({ min: 0, max: 30 }),
        registeredAt: fc.bigInt({ min: 0n, max: 5n }),
        score: fc.bigInt({ min: 0n, max: 4n }),
      });
      // A uid is held by one member of a Brain at a time.
      const members = fc
        .uniqueArray(member, { selector: (m) => `${m.brainId}:${m.uid}`, maxLength: 40 })
        .map((list) =>
          list.map((m): PruneCandidate => ({ ...m, account: account(0x100 * m.brainId + m.uid + 1) })),
        );
      const withPermutation = members.chain((list) =>
        fc.tuple(
          fc.constant(list),
          fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length }),
        ),
      );
      await fc.assert(
        fc.asyncProperty(withPermutation, async ([list, permuted]) => {
          const order = await pruningOrder(list);
          expect(await pruningOrder(permuted)).to.deep.equal(order);
          expect(order.length).to.equal(list.length);
          if (order.length > 0)
            expect((await pruningTree(order)).root).to.equal(
              (await pruningTree(await pruningOrder(permuted))).root,
            );
        }),
        { numRuns: 200 },
      );
    });

    it("pruneHints slices one Brain and role by rank, with proofs of the tree", async function () {
      const members: PruneCandidate[] = [
        ...[0, 1, 2, 3, 4, 5].map((i) => candidate({ uid: 10 + i, score: BigInt(6 - i) })),
        candidate({ uid: 0, role: Role.Validator, score: 0n }),
        candidate({ brainId: 2, uid: 3, score: 0n }),
      ];
      const leaves = await pruningOrder(members);
      const tree = await pruningTree(leaves);
      const types = ["uint16", "uint8", "uint16", "uint16", "address", "uint64"];

      const hints = pruneHints(tree, 1, Role.Miner, 2, 3);
      expect(hints.map((h) => h.rank)).to.deep.equal([2, 3, 4]);
      // Score 6 − i: uid 15 has the lowest score (rank 0), so ranks 2…4 are uids 13, 12, 11.
      expect(hints.map((h) => h.uid)).to.deep.equal([13, 12, 11]);
      for (const h of hints) {
        expect(h.account).to.equal(getAddress(account(0x1000 + h.uid)));
        expect(h.registeredAt).to.equal(100n);
        expect(
          StandardMerkleTree.verify(
            tree.root,
            types,
            [1, Role.Miner, h.rank, h.uid, h.account, h.registeredAt],
            h.proof,
          ),
        ).to.equal(true);
      }
      expect(pruneHints(tree, 1, Role.Miner, 4, 10).map((h) => h.rank)).to.deep.equal([4, 5]);
      expect(pruneHints(tree, 1, Role.Miner, 6, 3)).to.deep.equal([]);
      expect(pruneHints(tree, 1, Role.Miner, 0, 0)).to.deep.equal([]);
      expect(pruneHints(tree, 1, Role.Validator, 0, 5).map((h) => h.uid)).to.deep.equal([0]);
      expect(pruneHints(tree, 2, Role.Miner, 0, 5).map((h) => h.uid)).to.deep.equal([3]);
      expect(pruneHints(tree, 3, Role.Miner, 0, 5)).to.deep.equal([]);
      expect(await settled(pruningTree([]))).to.throw(RangeError);
    });

    it("the pruning tree's leaves are Network.pruneLeaf (on chain)", async function () {
      const { network } = await loadFixture(deployEconomy);
      const leaves = await pruningOrder([
        candidate({ uid: 3, score: 2n }),
        candidate({ uid: 2048 - 1, score: 1n, registeredAt: 2n ** 64n - 1n }),
        candidate({ brainId: 65_535, uid: 0, role: Role.Validator }),
      ]);
      const tree = await pruningTree(leaves);
      for (const leaf of leaves) {
        const [brainId, role, rank, uid, acct, registeredAt] = leaf;
        expect(await network.pruneLeaf(brainId, role, rank, uid, acct, registeredAt)).to.equal(
          tree.leafHash(leaf),
        );
      }
    });
  });
});
