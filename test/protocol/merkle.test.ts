import assert from "node:assert/strict";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { expect } from "chai";
import fc from "fast-check";
import { type Address, getAddress, keccak256, toHex } from "viem";
import { type Keccak256, keccak256Bytes, keccak256Hasher } from "../../protocol/hash";
import { checksumAddress, loadStandardTree, standardTreeOf } from "../../protocol/merkle";
import { type PruneCandidate, Role, pruningOrder, rewardsTree } from "../../protocol/report";

/**
 * The fast StandardMerkleTree builder (protocol/merkle.ts) and the Keccak-256 under it
 * (protocol/hash.ts) against OpenZeppelin's own `StandardMerkleTree.of` / `load` and viem's
 * keccak256 / getAddress: the same hashes, trees, proofs, dumps and errors, byte for byte. (Loops
 * check with node:assert: hardhat-chai-matchers makes each chai assertion cost about a millisecond.)
 */

const json = (x: unknown) => JSON.stringify(x, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));
/** A dump through JSON and back, as the attesters store it (bigints as "…n"). */
const roundTrip = <T>(x: T): T =>
  JSON.parse(json(x), (_k, v: unknown) =>
    typeof v === "string" && /^[0-9]+n$/.test(v) ? BigInt(v.slice(0, -1)) : v,
  ) as T;
const hex = (bytes: Uint8Array) => toHex(bytes);

/** The outcome of f: its value's JSON, or the error's class and message (thrown or rejected). */
async function outcome(f: () => unknown): Promise<string> {
  try {
    return `ok ${json(await f())}`;
  } catch (e) {
    return `throws ${(e as Error).name}: ${(e as Error).message}`;
  }
}

/** Two trees agree: root, dump, and the proof of every value. */
function assertSameTree<T extends unknown[]>(
  ours: StandardMerkleTree<T>,
  oz: StandardMerkleTree<T>,
  what: string,
): void {
  assert.equal(ours instanceof StandardMerkleTree, true, `${what}: a StandardMerkleTree`);
  assert.equal(ours.root, oz.root, `${what}: root`);
  assert.equal(json(ours.dump()), json(oz.dump()), `${what}: dump`);
  for (let i = 0; i < oz.length; i++)
    assert.deepEqual(ours.getProof(i), oz.getProof(i), `${what}: proof ${i}`);
}

// ─────────────────────────────────────────── arbitraries ───────────────────────────────────────────

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
/** An address in any of the cases a caller may hand in: lower, upper digits, checksummed. */
const address = fc.tuple(bytes(20), fc.constantFrom("lower", "upper", "checksum")).map(([b, c]) => {
  const lower = hex(b);
  if (c === "lower") return lower;
  if (c === "upper") return `0x${lower.slice(2).toUpperCase()}`;
  return getAddress(lower);
});
const uint = (bits: number) =>
  fc.oneof(
    fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }),
    fc.integer({ min: 0, max: Math.min(2 ** bits - 1, Number.MAX_SAFE_INTEGER) }),
    fc.constantFrom(0n, (1n << BigInt(bits)) - 1n),
  );
const PRUNING = ["uint16", "uint8", "uint16", "uint16", "address", "uint64"];
const REWARDS = ["address", "uint256"];
const MIXED = ["bool", "bytes32", "uint256", "uint8", "address", "uint"];
const leafOf: Record<string, fc.Arbitrary<unknown[]>> = {
  pruning: fc.tuple(uint(16), uint(8), uint(16), uint(16), address, uint(64)),
  rewards: fc.tuple(address, uint(256)),
  mixed: fc.tuple(fc.boolean(), bytes(32).map(hex), uint(256), uint(8), address, uint(256)),
};
const encodingOf: Record<string, string[]> = { pruning: PRUNING, rewards: REWARDS, mixed: MIXED };
const sortOption = fc.constantFrom<{ sortLeaves?: boolean }>({}, { sortLeaves: true }, { sortLeaves: false });

describe("oracle consensus: the fast StandardMerkleTree builder (OpenZeppelin's trees, byte for byte)", function () {
  let keccak: Keccak256;
  before(async function () {
    keccak = await keccak256Hasher();
  });

  describe("keccak256", function () {
    it("equals viem's keccak256 on any input, across the 136-byte block boundaries", async function () {
      for (const n of [0, 1, 31, 32, 63, 64, 135, 136, 137, 192, 271, 272, 273, 1_000, 131_072]) {
        const input = Uint8Array.from({ length: n }, (_, i) => (i * 151 + n) & 0xff);
        assert.equal(hex(await keccak256Bytes(input)), keccak256(input), `length ${n}`);
      }
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 700 }), async (input) => {
          assert.equal(hex(await keccak256Bytes(input)), keccak256(input));
        }),
        { numRuns: 300 },
      );
    });

    it("hashes a slice into a slice and touches nothing else", function () {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.nat(), fc.nat(), (input, a, b) => {
          const from = a % input.length;
          const length = b % (input.length - from + 1);
          const out = new Uint8Array(80).fill(0xaa);
          keccak.hashInto(input.subarray(from, from + length), out, 24);
          assert.equal(hex(out.subarray(24, 56)), keccak256(input.subarray(from, from + length)));
          assert.ok(
            out.subarray(0, 24).every((x) => x === 0xaa) && out.subarray(56).every((x) => x === 0xaa),
          );
        }),
        { numRuns: 100 },
      );
    });
  });

  describe("checksumAddress", function () {
    it("equals viem's getAddress for an address in any case", function () {
      fc.assert(
        fc.property(address, (a) => {
          assert.equal(checksumAddress(keccak, a), getAddress(a));
        }),
        { numRuns: 500 },
      );
    });

    it("refuses what viem refuses, with viem's own error", async function () {
      const bad = [
        "",
        "0x",
        "0x123",
        `0x${"0".repeat(39)}g`,
        `0x${"a".repeat(41)}`,
        `${"a".repeat(42)}`,
        `0X${"a".repeat(40)}`,
        ` 0x${"a".repeat(40)}`,
      ];
      for (const a of bad) {
        const ours = await outcome(() => checksumAddress(keccak, a));
        assert.ok(ours.startsWith("throws InvalidAddressError"), `${JSON.stringify(a)}: ${ours}`);
        assert.equal(ours, await outcome(() => getAddress(a)), JSON.stringify(a));
      }
    });
  });

  describe("standardTreeOf", function () {
    for (const shape of ["pruning", "rewards", "mixed"]) {
      it(`builds OZ's tree for ${shape} leaves (${encodingOf[shape]!.join(", ")}), sorted or not`, async function () {
        await fc.assert(
          fc.asyncProperty(
            fc.array(leafOf[shape]!, { minLength: 1, maxLength: 24 }),
            sortOption,
            async (values, options) => {
              const enc = encodingOf[shape]!;
              assertSameTree(
                await standardTreeOf(values, enc, options),
                StandardMerkleTree.of(values, enc, options),
                shape,
              );
            },
          ),
          { numRuns: 60 },
        );
      });
    }

    it("orders equal leaves as OZ does (a stable sort by hash)", async function () {
      const values: [string, bigint][] = [
        [getAddress(`0x${"1".repeat(40)}`), 5n],
        [getAddress(`0x${"2".repeat(40)}`), 7n],
        [getAddress(`0x${"1".repeat(40)}`), 5n],
        [getAddress(`0x${"3".repeat(40)}`), 1n],
        [getAddress(`0x${"2".repeat(40)}`), 7n],
      ];
      assertSameTree(
        await standardTreeOf(values, REWARDS),
        StandardMerkleTree.of(values, REWARDS),
        "duplicates",
      );
    });

    it("hands values off the fast path to OZ: the same tree, or the same error", async function () {
      const cases: [unknown[][], string[]][] = [
        [[["12", "0x0c"]], ["uint8", "uint256"]], // numeric strings: OZ's parser reads them
        [[["0x01", 1n]], REWARDS], // a short address: OZ pads it
        [[[true, 1]], ["bool", "int8"]], // a type without a fast path
        [[[256]], ["uint8"]], // out of range
        [[[-1n]], ["uint256"]], // negative
        [[[1.5]], ["uint16"]], // not an integer
        [[[1, 2]], ["uint8"]], // too many values
        [[["0xzz"]], ["address"]], // not hex
        [[], REWARDS], // no leaves
      ];
      for (const [values, enc] of cases) {
        const what = `${json(values)} as ${enc.join(",")}`;
        assert.equal(
          await outcome(async () => (await standardTreeOf(values, enc, { sortLeaves: false })).dump()),
          await outcome(() => StandardMerkleTree.of(values, enc, { sortLeaves: false }).dump()),
          what,
        );
      }
    });

    it("writes a dump that OZ's load reads back to the same tree", async function () {
      await fc.assert(
        fc.asyncProperty(fc.array(leafOf.pruning!, { minLength: 1, maxLength: 20 }), async (values) => {
          const ours = await standardTreeOf(values, PRUNING, { sortLeaves: false });
          const loaded = StandardMerkleTree.load(roundTrip(ours.dump()));
          assert.equal(loaded.root, ours.root);
          assert.equal(json(loaded.dump()), json(ours.dump()));
        }),
        { numRuns: 30 },
      );
    });
  });

  describe("loadStandardTree", function () {
    it("loads what OZ loads, to the same tree", async function () {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom("pruning", "rewards", "mixed"),
          fc.integer({ min: 1, max: 16 }),
          sortOption,
          fc.nat(),
          async (shape, size, options, seed) => {
            const values = fc.sample(leafOf[shape]!, { numRuns: size, seed });
            const dump = roundTrip(StandardMerkleTree.of(values, encodingOf[shape]!, options).dump());
            assertSameTree(await loadStandardTree(roundTrip(dump)), StandardMerkleTree.load(dump), shape);
          },
        ),
        { numRuns: 40 },
      );
    });

    it("refuses what OZ refuses, with OZ's error: a changed value, node or index, a wrong format", async function () {
      const values: [string, bigint][] = [1, 2, 3, 4, 5].map((i) => [
        getAddress(`0x${String(i).repeat(40)}`),
        BigInt(i) * 10n ** 18n,
      ]);
      const good = () => roundTrip(StandardMerkleTree.of(values, REWARDS, { sortLeaves: false }).dump());
      const tampered: [string, (d: ReturnType<typeof good>) => void][] = [
        ["an amount", (d) => (d.values[2]!.value[1] = 1n)],
        ["an account", (d) => (d.values[0]!.value[0] = getAddress(`0x${"9".repeat(40)}`))],
        ["an inner node", (d) => (d.tree[1] = `0x${"ab".repeat(32)}`)],
        ["the root", (d) => (d.tree[0] = `0x${"00".repeat(32)}`)],
        ["a leaf node", (d) => (d.tree[d.tree.length - 1] = `0x${"11".repeat(32)}`)],
        ["a node in capitals", (d) => (d.tree[8] = d.tree[8]!.toUpperCase().replace("0X", "0x"))],
        ["a node that is not 32 bytes", (d) => (d.tree[3] = "0x1234")],
        [
          "two treeIndexes swapped",
          (d) =>
            ([d.values[0]!.treeIndex, d.values[1]!.treeIndex] = [
              d.values[1]!.treeIndex,
              d.values[0]!.treeIndex,
            ]),
        ],
        ["a treeIndex out of range", (d) => (d.values[4]!.treeIndex = 99)],
        ["a missing node", (d) => d.tree.pop()],
        ["the format", (d) => ((d as { format: string }).format = "standard-v2")],
      ];
      for (const [what, change] of tampered) {
        const dump = good();
        change(dump);
        const ozSays = await outcome(() => StandardMerkleTree.load(roundTrip(dump)).dump());
        assert.ok(ozSays.startsWith("throws"), `OZ loads a dump with ${what}`);
        assert.equal(
          await outcome(async () => (await loadStandardTree(roundTrip(dump))).dump()),
          ozSays,
          what,
        );
      }
    });
  });

  describe("the report's trees (report.ts) are the ones it built with OZ before", function () {
    /** rewardsTree as it was: viem's getAddress, ascending BigInt order, OZ's builder. */
    function rewardsTreeBefore(rewards: { account: Address; amount: bigint }[]) {
      const sums = new Map<string, bigint>();
      for (const { account, amount } of rewards) {
        if (amount < 0n) throw new RangeError(`negative reward for ${account}`);
        const key = getAddress(account);
        sums.set(key, (sums.get(key) ?? 0n) + amount);
      }
      const leaves = [...sums.entries()]
        .filter(([, amount]) => amount > 0n)
        .sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : 1))
        .map(([account, amount]) => [account, amount] as [string, bigint]);
      if (leaves.length === 0) throw new RangeError("an epoch's rewards tree needs at least one reward");
      return StandardMerkleTree.of(leaves, REWARDS, { sortLeaves: false });
    }

    it("rewardsTree: the same tree for any rewards, an account in any case and several times", async function () {
      const reward = fc.record({
        account: fc.oneof(address, fc.constantFrom(`0x${"ab".repeat(20)}`, `0x${"AB".repeat(20)}`)),
        amount: fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.constant(0n)),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(reward, { maxLength: 30 }), async (rewards) => {
          const r = rewards as { account: Address; amount: bigint }[];
          assert.equal(
            await outcome(async () => (await rewardsTree(r)).dump()),
            await outcome(() => rewardsTreeBefore(r).dump()),
          );
        }),
        { numRuns: 80 },
      );
    });

    it("rewardsTree refuses a malformed account with viem's error, as before", async function () {
      const r = [{ account: "0x1234" as Address, amount: 1n }];
      const ours = await outcome(() => rewardsTree(r));
      assert.ok(ours.startsWith("throws InvalidAddressError"), ours);
      expect(ours).to.equal(await outcome(() => rewardsTreeBefore(r)));
    });

    it("pruningOrder: checksummed accounts, as viem's getAddress gives them", async function () {
      const member = fc.record({
        brainId: fc.integer({ min: 0, max: 3 }),
        role: fc.constantFrom(Role.Validator, Role.Miner),
        uid: fc.integer({ min: 0, max: 2_047 }),
        account: address,
        registeredAt: fc.bigInt({ min: 0n, max: 100n }),
        score: fc.bigInt({ min: 0n, max: 5n }),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(member, { maxLength: 30 }), async (members) => {
          const accounts = (await pruningOrder(members as PruneCandidate[])).map((leaf) => leaf[4]);
          assert.deepEqual(accounts.sort(), members.map((m) => getAddress(m.account)).sort());
        }),
        { numRuns: 80 },
      );
    });
  });
});
