import { expect } from "chai";
import hre, { ethers } from "hardhat";
import { loadFixture, mine, setBalance } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionResponse, Signer } from "ethers";
import type { Address, Hex } from "viem";
import type { Network } from "../../../typechain-types";
import { BASED, PARAMS, deployEconomy } from "./economy-fixture";
import {
  type MemberRole,
  type PruneCandidate,
  type PruneHint,
  type PruningLeaf,
  type PruningTree,
  Role,
  pruneHints,
  pruningOrder,
  pruningTree,
} from "../../../protocol/report";
import { emissionBetween } from "../../../oracle/consensus/emission";

const ZERO = ethers.ZeroAddress;
/** Network.Device. */
const Device = { Cpu: 0, Gpu: 1 } as const;
const ENDPOINT = "10.0.0.1:8091";
const BRAIN = 1n;

/** A registration of `role` with the default endpoint, no device or storage, any fee. */
function registration(
  role: number,
  over: Partial<{ endpoint: string; device: number; storageGiB: number; maxFee: bigint }> = {},
) {
  return { role, endpoint: ENDPOINT, device: Device.Cpu, storageGiB: 0, maxFee: ethers.MaxUint256, ...over };
}

/** The block a transaction was mined in. */
async function blockOf(tx: ContractTransactionResponse): Promise<bigint> {
  const receipt = await tx.wait();
  return BigInt(receipt!.blockNumber);
}

/** Mines so that the next transaction (a reverted one included) is mined in block `n`. */
async function nextBlockIs(n: bigint) {
  const latest = BigInt(await ethers.provider.getBlockNumber());
  if (n <= latest) throw new Error(`block ${n} is already mined (latest ${latest})`);
  if (n - latest > 1n) await mine(n - latest - 1n);
}

// ─────────────────────────────────── A Brain filled to capacity ───────────────────────────────────

const FILL_BASE = 0xba5ed00000000000000000000000000000000000n;
/** The `i`-th of the 2,048 accounts that fill Brain 1 (impersonated, funded with gas only). */
const fillAccount = (i: number): Address =>
  ethers.getAddress(ethers.toBeHex(FILL_BASE + BigInt(i), 20)) as Address;

/**
 * The economy with Brain 1's fee set to 0 and Brain 1 filled: 256 validators and 1,792 miners, all
 * registered in one block (`fillBlock`), so all of them leave immunity at `fillBlock + 50`.
 */
async function deployFilled() {
  const f = await deployEconomy();
  await f.registry.connect(f.alice).setRegistrationFee(BRAIN, 0n);
  const accounts = Array.from({ length: 2_048 }, (_, i) => fillAccount(i));
  await Promise.all(
    accounts.map(async (a) => {
      await ethers.provider.send("hardhat_impersonateAccount", [a]);
      await setBalance(a, ethers.parseEther("1"));
    }),
  );
  const to = await f.network.getAddress();
  // One block holds them all: no automine while they queue, and room for ~115k gas each.
  await ethers.provider.send("evm_setAutomine", [false]);
  await ethers.provider.send("evm_setBlockGasLimit", [ethers.toQuantity(2n ** 40n)]);
  await Promise.all(
    accounts.map((from, i) =>
      ethers.provider.send("eth_sendTransaction", [
        {
          from,
          to,
          gas: ethers.toQuantity(400_000),
          data: f.network.interface.encodeFunctionData("register", [
            BRAIN,
            registration(i < 256 ? Role.Validator : Role.Miner, {
              endpoint: `10.1.${i >> 8}.${i & 255}:8091`,
              maxFee: 0n,
            }),
            [],
          ]),
        },
      ]),
    ),
  );
  await mine();
  await ethers.provider.send("evm_setAutomine", [true]);
  await ethers.provider.send("evm_setBlockGasLimit", [ethers.toQuantity(30_000_000n)]);
  const fillBlock = BigInt(await ethers.provider.getBlockNumber());
  /** Signers that are not members of Brain 1 and register into it in the tests. */
  const newcomers = f.signers.slice(12);
  return { ...f, fillBlock, newcomers };
}

type Filled = Awaited<ReturnType<typeof deployFilled>>;

/** The members of Brain 1 with `role`, ascending uid. */
async function members(f: Filled, role: MemberRole) {
  const [uids, list] = await f.network.membersOf(BRAIN, role);
  return uids.map((uid, i) => ({
    uid: Number(uid),
    account: list[i]!.account as Address,
    registeredAt: list[i]!.registeredAt,
  }));
}

/**
 * Brain 1's pruning order with the scores in `scores` (by role and uid); every other member scores
 * `1,000,000 − uid`, so the order is not the uid order.
 */
async function order(f: Filled, scores: { [role: number]: Map<number, bigint> } = {}) {
  const candidates: PruneCandidate[] = [];
  for (const role of [Role.Validator, Role.Miner] as const) {
    for (const m of await members(f, role)) {
      const score = scores[role]?.get(m.uid) ?? 1_000_000n - BigInt(m.uid);
      candidates.push({ brainId: Number(BRAIN), role, ...m, score });
    }
  }
  const leaves = await pruningOrder(candidates);
  return { leaves, tree: await pruningTree(leaves) };
}

/** The leaves of one role, by rank. */
const ofRole = (leaves: readonly PruningLeaf[], role: MemberRole) => leaves.filter((l) => l[1] === role);

/** Delivers epoch `epoch`'s report with `tree` as its pruning order and checks it is the order in force. */
async function report(f: Filled, epoch: bigint, tree: PruningTree, revision = 0) {
  await f.mineToEndOf(epoch);
  const [start, end] = await f.consensus.epochBounds(epoch);
  await f.deliverReport({
    epoch,
    revision,
    rewardsRoot: ethers.id(`rewards ${epoch}`) as Hex,
    pruningRoot: tree.root as Hex,
    inputsHash: ethers.id(`inputs ${epoch}`) as Hex,
    brainIds: [Number(BRAIN)],
    brainTotals: [emissionBetween(start, end)],
  });
  expect(await f.consensus.pruningOrder()).to.deep.equal([epoch, tree.root]);
}

/** `who` registers into Brain 1 as `role` with `hints`. */
function join(network: Network, who: Signer, role: MemberRole, hints: PruneHint[]) {
  return network.connect(who).register(BRAIN, registration(role, { maxFee: 0n }), hints);
}

describe("Network: memorize", function () {
  describe("registration", function () {
    it("charges the Brain's current fee (100 BASED by default) from the registrant to the Brain's wallet and emits every declared field", async function () {
      const { network, based, registry, alice, bob } = await loadFixture(deployEconomy);
      expect(await registry.registrationFee(BRAIN)).to.equal(BASED(100));
      expect(await registry.rewardRecipient(BRAIN)).to.equal(alice.address);
      const r = registration(Role.Miner, {
        endpoint: "miner.example.org:8091",
        device: Device.Gpu,
        storageGiB: 512,
        maxFee: BASED(100),
      });
      const tx = await network.connect(bob).register(BRAIN, r, []);
      await expect(tx)
        .to.emit(network, "MemberRegistered")
        .withArgs(BRAIN, 0n, bob.address, Role.Miner, r.endpoint, Device.Gpu, 512n, BASED(100));
      await expect(tx).to.changeTokenBalances(based, [bob, alice, network], [-BASED(100), BASED(100), 0n]);
    });

    it("pays the fee to the reward address once the Brain's wallet sets one in its profile", async function () {
      const { network, based, registry, alice, bob, frank } = await loadFixture(deployEconomy);
      await registry.connect(alice).setProfile(BRAIN, "Brain one", "one.based", frank.address);
      expect(await registry.rewardRecipient(BRAIN)).to.equal(frank.address);
      const tx = await network.connect(bob).register(BRAIN, registration(Role.Validator), []);
      await expect(tx).to.changeTokenBalances(based, [bob, alice, frank], [-BASED(100), 0n, BASED(100)]);
      await expect(tx)
        .to.emit(network, "MemberRegistered")
        .withArgs(BRAIN, 0n, bob.address, Role.Validator, ENDPOINT, Device.Cpu, 0n, BASED(100));
    });

    it("roleOf, member, counts, membersOf and the bitmaps show each member per Brain", async function () {
      const { network, bob, carol, dave, erin } = await loadFixture(deployEconomy);
      await network.connect(bob).register(BRAIN, registration(Role.Validator), []);
      const carolBlock = await blockOf(
        await network.connect(carol).register(BRAIN, registration(Role.Miner), []),
      );
      await network.connect(dave).register(BRAIN, registration(Role.Validator), []);

      expect(await network.roleOf(BRAIN, bob.address)).to.deep.equal([BigInt(Role.Validator), 0n]);
      expect(await network.roleOf(BRAIN, carol.address)).to.deep.equal([BigInt(Role.Miner), 1n]);
      expect(await network.roleOf(BRAIN, dave.address)).to.deep.equal([BigInt(Role.Validator), 2n]);
      expect(await network.roleOf(BRAIN, erin.address)).to.deep.equal([BigInt(Role.None), 0n]);
      expect(await network.roleOf(2n, bob.address)).to.deep.equal([BigInt(Role.None), 0n]);

      expect(await network.member(BRAIN, 1)).to.deep.equal([carol.address, carolBlock, BigInt(Role.Miner)]);
      expect(await network.member(BRAIN, 3)).to.deep.equal([ZERO, 0n, 0n]);
      expect(await network.counts(BRAIN)).to.deep.equal([2n, 1n]);
      expect(await network.counts(2n)).to.deep.equal([0n, 0n]);

      const [vUids, validators] = await network.membersOf(BRAIN, Role.Validator);
      expect(vUids).to.deep.equal([0n, 2n]);
      expect(validators.map((m) => m.account)).to.deep.equal([bob.address, dave.address]);
      const [mUids, miners] = await network.membersOf(BRAIN, Role.Miner);
      expect(mUids).to.deep.equal([1n]);
      expect(miners[0]!.registeredAt).to.equal(carolBlock);
      expect((await network.membersOf(BRAIN, Role.None))[0]).to.deep.equal([]);

      const vBits = await network.validatorBitmap(BRAIN);
      const mBits = await network.minerBitmap(BRAIN);
      expect(vBits[0]).to.equal(0b101n);
      expect(mBits[0]).to.equal(0b010n);
      expect([...vBits.slice(1), ...mBits.slice(1)]).to.deep.equal(Array<bigint>(14).fill(0n));
    });

    it("assigns the lowest free uid, and a deregistered uid is reused first", async function () {
      const { network, bob, carol, dave, erin, frank } = await loadFixture(deployEconomy);
      for (const [i, s] of [bob, carol, dave, erin].entries()) {
        await expect(
          network.connect(s).register(BRAIN, registration(i % 2 ? Role.Miner : Role.Validator), []),
        )
          .to.emit(network, "MemberRegistered")
          .withArgs(
            BRAIN,
            BigInt(i),
            s.address,
            i % 2 ? Role.Miner : Role.Validator,
            ENDPOINT,
            0n,
            0n,
            BASED(100),
          );
      }
      await network.connect(dave).deregister(BRAIN);
      await network.connect(carol).deregister(BRAIN);
      // uids 1 and 2 are free: the lowest (1) goes first, whatever role held it before.
      await expect(network.connect(frank).register(BRAIN, registration(Role.Validator), []))
        .to.emit(network, "MemberRegistered")
        .withArgs(BRAIN, 1n, frank.address, Role.Validator, ENDPOINT, 0n, 0n, BASED(100));
      await expect(network.connect(carol).register(BRAIN, registration(Role.Miner), []))
        .to.emit(network, "MemberRegistered")
        .withArgs(BRAIN, 2n, carol.address, Role.Miner, ENDPOINT, 0n, 0n, BASED(100));
      await expect(network.connect(dave).register(BRAIN, registration(Role.Miner), []))
        .to.emit(network, "MemberRegistered")
        .withArgs(BRAIN, 4n, dave.address, Role.Miner, ENDPOINT, 0n, 0n, BASED(100));
      expect(await network.counts(BRAIN)).to.deep.equal([2n, 3n]);
    });
  });

  describe("fee", function () {
    it("a fee change applies to later registrants only: members stay and pay nothing more", async function () {
      const { network, based, registry, alice, bob, carol, dave } = await loadFixture(deployEconomy);
      await network.connect(bob).register(BRAIN, registration(Role.Validator), []);

      const raise = await registry.connect(alice).setRegistrationFee(BRAIN, BASED(250));
      await expect(raise).to.emit(registry, "RegistrationFeeSet").withArgs(BRAIN, BASED(250));
      await expect(raise).to.changeTokenBalances(based, [bob, alice], [0n, 0n]);
      expect(await network.roleOf(BRAIN, bob.address)).to.deep.equal([BigInt(Role.Validator), 0n]);

      const next = await network.connect(carol).register(BRAIN, registration(Role.Miner), []);
      await expect(next).to.changeTokenBalances(based, [carol, alice, bob], [-BASED(250), BASED(250), 0n]);
      await expect(next)
        .to.emit(network, "MemberRegistered")
        .withArgs(BRAIN, 1n, carol.address, Role.Miner, ENDPOINT, 0n, 0n, BASED(250));

      // A zero fee moves no BASED at all (and earlier members get nothing back).
      await registry.connect(alice).setRegistrationFee(BRAIN, 0n);
      const free = await network.connect(dave).register(BRAIN, registration(Role.Miner, { maxFee: 0n }), []);
      await expect(free).to.changeTokenBalances(based, [dave, alice, bob, carol], [0n, 0n, 0n, 0n]);
      await expect(free)
        .to.emit(network, "MemberRegistered")
        .withArgs(BRAIN, 2n, dave.address, Role.Miner, ENDPOINT, 0n, 0n, 0n);
      expect(await network.counts(BRAIN)).to.deep.equal([1n, 2n]);
    });

    it("refuses a fee above the registrant's maxFee (a raise front-running the registration): FeeAboveMax", async function () {
      const { network, based, registry, alice, bob } = await loadFixture(deployEconomy);
      // bob signs for the fee he saw (100 BASED); the wallet raises it before his transaction lands.
      const r = registration(Role.Miner, { maxFee: BASED(100) });
      await registry.connect(alice).setRegistrationFee(BRAIN, BASED(100) + 1n);
      await expect(network.connect(bob).register(BRAIN, r, []))
        .to.be.revertedWithCustomError(network, "FeeAboveMax")
        .withArgs(BASED(100) + 1n, BASED(100));
      // A maxFee equal to the fee is enough.
      await expect(
        network.connect(bob).register(BRAIN, { ...r, maxFee: BASED(100) + 1n }, []),
      ).to.changeTokenBalances(based, [bob, alice], [-(BASED(100) + 1n), BASED(100) + 1n]);
    });
  });

  describe("refusals", function () {
    it("refuses the role None with InvalidRole, and a role outside the enum", async function () {
      const { network, bob } = await loadFixture(deployEconomy);
      await expect(
        network.connect(bob).register(BRAIN, registration(Role.None), []),
      ).to.be.revertedWithCustomError(network, "InvalidRole");
      await expect(network.connect(bob).register(BRAIN, registration(3), [])).to.be.reverted;
      expect(await network.counts(BRAIN)).to.deep.equal([0n, 0n]);
    });

    it("refuses an empty endpoint and one over 128 bytes with InvalidEndpoint; 128 bytes are accepted", async function () {
      const { network, bob } = await loadFixture(deployEconomy);
      const r = (endpoint: string) => registration(Role.Miner, { endpoint });
      await expect(network.connect(bob).register(BRAIN, r(""), []))
        .to.be.revertedWithCustomError(network, "InvalidEndpoint")
        .withArgs(0n, 128n);
      await expect(network.connect(bob).register(BRAIN, r("x".repeat(129)), []))
        .to.be.revertedWithCustomError(network, "InvalidEndpoint")
        .withArgs(129n, 128n);
      // The bound is in bytes, not characters: 65 two-byte characters are 130 bytes.
      await expect(network.connect(bob).register(BRAIN, r("é".repeat(65)), []))
        .to.be.revertedWithCustomError(network, "InvalidEndpoint")
        .withArgs(130n, 128n);
      const longest = "x".repeat(128);
      await expect(network.connect(bob).register(BRAIN, r(longest), []))
        .to.emit(network, "MemberRegistered")
        .withArgs(BRAIN, 0n, bob.address, Role.Miner, longest, 0n, 0n, BASED(100));
    });

    it("refuses a Brain that is not active: deactivated (8) or never mirrored (77), with BrainNotActive", async function () {
      const { network, bob } = await loadFixture(deployEconomy);
      for (const id of [8n, 77n]) {
        for (const role of [Role.Validator, Role.Miner]) {
          await expect(network.connect(bob).register(id, registration(role), []))
            .to.be.revertedWithCustomError(network, "BrainNotActive")
            .withArgs(id);
        }
      }
    });

    it("admits members to stake Brain 9 while its lock runs: it is active (rewards, not membership, wait for unlockAt)", async function () {
      const { network, registry, based, bob, dave } = await loadFixture(deployEconomy);
      const now = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
      expect(await registry.isActive(9n)).to.be.true;
      expect(await registry.earnsRewards(9n, now)).to.be.false;
      const tx = await network.connect(bob).register(9n, registration(Role.Validator), []);
      await expect(tx)
        .to.emit(network, "MemberRegistered")
        .withArgs(9n, 0n, bob.address, Role.Validator, ENDPOINT, 0n, 0n, BASED(100));
      await expect(tx).to.changeTokenBalances(based, [bob, dave], [-BASED(100), BASED(100)]);
      expect(await network.counts(9n)).to.deep.equal([1n, 0n]);
    });

    it("refuses an account already registered in the Brain, whatever role it asks for: AlreadyRegistered with its uid", async function () {
      const { network, bob, carol } = await loadFixture(deployEconomy);
      await network.connect(carol).register(BRAIN, registration(Role.Miner), []);
      await network.connect(bob).register(BRAIN, registration(Role.Validator), []);
      for (const role of [Role.Validator, Role.Miner]) {
        await expect(network.connect(bob).register(BRAIN, registration(role), []))
          .to.be.revertedWithCustomError(network, "AlreadyRegistered")
          .withArgs(BRAIN, bob.address, 1n);
      }
      // Membership is per Brain: the same account may join another Brain.
      await expect(network.connect(bob).register(2n, registration(Role.Miner), []))
        .to.emit(network, "MemberRegistered")
        .withArgs(2n, 0n, bob.address, Role.Miner, ENDPOINT, 0n, 0n, BASED(100));
    });
  });

  describe("deregister", function () {
    it("frees the uid (MemberRemoved, not pruned), lowers the count and leaves the account without a role", async function () {
      const { network, based, alice, bob, carol } = await loadFixture(deployEconomy);
      await network.connect(bob).register(BRAIN, registration(Role.Validator), []);
      await network.connect(carol).register(BRAIN, registration(Role.Miner), []);

      const tx = await network.connect(bob).deregister(BRAIN);
      await expect(tx).to.emit(network, "MemberRemoved").withArgs(BRAIN, 0n, bob.address, false);
      await expect(tx).to.changeTokenBalances(based, [bob, alice], [0n, 0n]);
      expect(await network.counts(BRAIN)).to.deep.equal([0n, 1n]);
      expect(await network.roleOf(BRAIN, bob.address)).to.deep.equal([BigInt(Role.None), 0n]);
      expect(await network.member(BRAIN, 0)).to.deep.equal([ZERO, 0n, 0n]);
      expect((await network.validatorBitmap(BRAIN))[0]).to.equal(0n);

      await expect(network.connect(carol).deregister(BRAIN))
        .to.emit(network, "MemberRemoved")
        .withArgs(BRAIN, 1n, carol.address, false);
      expect(await network.counts(BRAIN)).to.deep.equal([0n, 0n]);
      expect((await network.minerBitmap(BRAIN))[0]).to.equal(0n);
    });

    it("refuses an account that is not a member: NotRegistered", async function () {
      const { network, bob, carol } = await loadFixture(deployEconomy);
      await expect(network.connect(carol).deregister(BRAIN))
        .to.be.revertedWithCustomError(network, "NotRegistered")
        .withArgs(BRAIN, carol.address);
      await network.connect(bob).register(BRAIN, registration(Role.Miner), []);
      await network.connect(bob).deregister(BRAIN);
      await expect(network.connect(bob).deregister(BRAIN))
        .to.be.revertedWithCustomError(network, "NotRegistered")
        .withArgs(BRAIN, bob.address);
      // A member of Brain 1 is not a member of Brain 2.
      await network.connect(bob).register(BRAIN, registration(Role.Miner), []);
      await expect(network.connect(bob).deregister(2n))
        .to.be.revertedWithCustomError(network, "NotRegistered")
        .withArgs(2n, bob.address);
    });
  });

  describe("governance and wiring", function () {
    it("only the owner sets the immunity period", async function () {
      const { network, admin, alice } = await loadFixture(deployEconomy);
      expect(await network.immunityPeriod()).to.equal(PARAMS.immunityPeriod);
      await expect(network.connect(alice).setImmunityPeriod(1n))
        .to.be.revertedWithCustomError(network, "OwnableUnauthorizedAccount")
        .withArgs(alice.address);
      await expect(network.connect(admin).setImmunityPeriod(100n))
        .to.emit(network, "ImmunityPeriodSet")
        .withArgs(100n);
      expect(await network.immunityPeriod()).to.equal(100n);
    });

    it("only the owner binds the pruning-order source, once, and never to zero", async function () {
      const { network, based, registry, consensus, admin, alice } = await loadFixture(deployEconomy);
      const fresh = (await ethers.deployContract("Network", [
        await based.getAddress(),
        await registry.getAddress(),
        PARAMS.immunityPeriod,
        admin.address,
      ])) as unknown as Network;
      const source = await consensus.getAddress();
      // Unbound: no order, cursor at rank 0 of epoch 0.
      expect(await fresh.pruningOrderSource()).to.equal(ZERO);
      expect(await fresh.pruneCursor(BRAIN, Role.Validator)).to.deep.equal([0n, 0n]);

      await expect(fresh.connect(alice).bindPruningOrderSource(source))
        .to.be.revertedWithCustomError(fresh, "OwnableUnauthorizedAccount")
        .withArgs(alice.address);
      await expect(fresh.connect(admin).bindPruningOrderSource(ZERO)).to.be.revertedWithCustomError(
        fresh,
        "ZeroAddress",
      );
      await expect(fresh.connect(admin).bindPruningOrderSource(source))
        .to.emit(fresh, "PruningOrderSourceBound")
        .withArgs(source);
      expect(await fresh.pruningOrderSource()).to.equal(source);
      await expect(fresh.connect(admin).bindPruningOrderSource(source)).to.be.revertedWithCustomError(
        fresh,
        "PruningOrderSourceSet",
      );
      // The fixture's Network is bound to Consensus already.
      expect(await network.pruningOrderSource()).to.equal(source);
      await expect(
        network.connect(admin).bindPruningOrderSource(alice.address),
      ).to.be.revertedWithCustomError(network, "PruningOrderSourceSet");
    });

    it("the constructor refuses a zero token or registry (ZeroAddress) and a zero owner", async function () {
      const { based, registry, admin } = await loadFixture(deployEconomy);
      const factory = await ethers.getContractFactory("Network");
      const basedAddr = await based.getAddress();
      const registryAddr = await registry.getAddress();
      await expect(factory.deploy(ZERO, registryAddr, 50n, admin.address)).to.be.revertedWithCustomError(
        factory,
        "ZeroAddress",
      );
      await expect(factory.deploy(basedAddr, ZERO, 50n, admin.address)).to.be.revertedWithCustomError(
        factory,
        "ZeroAddress",
      );
      await expect(factory.deploy(basedAddr, registryAddr, 50n, ZERO))
        .to.be.revertedWithCustomError(factory, "OwnableInvalidOwner")
        .withArgs(ZERO);
    });

    it("pruneLeaf is the StandardMerkleTree leaf of protocol/report.ts", async function () {
      const { network, bob } = await loadFixture(deployEconomy);
      const leaves: PruningLeaf[] = [
        [1, Role.Validator, 0, 7, bob.address, 123n],
        [1, Role.Miner, 0, 7, bob.address, 123n],
        [1023, Role.Miner, 1791, 2047, ethers.getAddress("0x" + "ff".repeat(20)), 2n ** 64n - 1n],
        [0, Role.Validator, 255, 0, ZERO, 0n],
      ];
      const tree = await pruningTree(leaves);
      for (const [i, leaf] of tree.entries()) {
        const [brainId, role, rank, uid, account, registeredAt] = leaf;
        expect(await network.pruneLeaf(brainId, role, rank, uid, account, registeredAt)).to.equal(
          tree.leafHash(leaf),
          `leaf ${i}`,
        );
      }
    });
  });
});

describe("Network: capacity and pruning", function () {
  before(function () {
    // Under solidity-coverage's instrumentation, 2,048 registrations in one block exhaust the heap
    // (8 GiB tried); `npm test` runs these, the coverage report leaves them out.
    if ((hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING)
      this.skip();
  });

  it("holds 256 validators and 1,792 miners in one Brain; the next of either role needs a pruning order (NoPruningOrder)", async function () {
    this.timeout(180_000);
    const f = await loadFixture(deployFilled);
    const { network, newcomers, fillBlock } = f;
    const [a, b] = newcomers;
    expect(await network.counts(BRAIN)).to.deep.equal([256n, 1_792n]);
    expect(await network.MAX_VALIDATORS()).to.equal(256n);
    expect(await network.MAX_MINERS()).to.equal(1_792n);
    const vBits = await network.validatorBitmap(BRAIN);
    const mBits = await network.minerBitmap(BRAIN);
    const all = 2n ** 256n - 1n;
    // Every one of the 2,048 uids is taken, each by exactly one role.
    expect(vBits.map((v, w) => v | mBits[w]!)).to.deep.equal(Array<bigint>(8).fill(all));
    expect(vBits.map((v, w) => v & mBits[w]!)).to.deep.equal(Array<bigint>(8).fill(0n));
    const validators = await members(f, Role.Validator);
    expect(validators).to.have.length(256);
    expect(await members(f, Role.Miner)).to.have.length(1_792);
    expect(validators.every((m) => m.registeredAt === fillBlock)).to.be.true;

    // No epoch report yet: Consensus has no pruning order.
    expect(await f.consensus.pruningOrder()).to.deep.equal([0n, ethers.ZeroHash]);
    await expect(join(network, a!, Role.Validator, []))
      .to.be.revertedWithCustomError(network, "NoPruningOrder")
      .withArgs(BRAIN, Role.Validator);
    await expect(join(network, a!, Role.Miner, []))
      .to.be.revertedWithCustomError(network, "NoPruningOrder")
      .withArgs(BRAIN, Role.Miner);

    // A member leaving frees a slot that the next registrant takes without any order.
    const leaver = await ethers.getImpersonatedSigner(validators[17]!.account);
    await network.connect(leaver).deregister(BRAIN);
    await expect(join(network, b!, Role.Validator, []))
      .to.emit(network, "MemberRegistered")
      .withArgs(BRAIN, validators[17]!.uid, b!.address, Role.Validator, ENDPOINT, 0n, 0n, 0n);
    expect(await network.counts(BRAIN)).to.deep.equal([256n, 1_792n]);
  });

  it("while every member is immune, hints refuse with NoPrunableMember; from block registeredAt + immunityPeriod the newcomer replaces exactly the lowest-score member", async function () {
    this.timeout(120_000);
    const f = await loadFixture(deployFilled);
    const { network, newcomers, fillBlock } = f;
    const [a, b] = newcomers;
    const validators = await members(f, Role.Validator);
    const miners = await members(f, Role.Miner);
    const vVictim = validators[100]!;
    const mVictim = miners[1_000]!;
    const { leaves, tree } = await order(f, {
      [Role.Validator]: new Map([[vVictim.uid, 3n]]),
      [Role.Miner]: new Map([[mVictim.uid, 3n]]),
    });
    expect(ofRole(leaves, Role.Validator)[0]![3]).to.equal(vVictim.uid);
    expect(ofRole(leaves, Role.Miner)[0]![3]).to.equal(mVictim.uid);
    await report(f, 0n, tree);

    const vHints = pruneHints(tree, Number(BRAIN), Role.Validator, 0, 4);
    await expect(join(network, a!, Role.Validator, vHints))
      .to.be.revertedWithCustomError(network, "NoPrunableMember")
      .withArgs(BRAIN, Role.Validator, 0n);
    await expect(join(network, a!, Role.Validator, []))
      .to.be.revertedWithCustomError(network, "NoPrunableMember")
      .withArgs(BRAIN, Role.Validator, 0n);
    // The last immune block.
    await nextBlockIs(fillBlock + PARAMS.immunityPeriod - 1n);
    await expect(join(network, a!, Role.Validator, vHints))
      .to.be.revertedWithCustomError(network, "NoPrunableMember")
      .withArgs(BRAIN, Role.Validator, 0n);

    await nextBlockIs(fillBlock + PARAMS.immunityPeriod);
    const tx = await join(network, a!, Role.Validator, vHints);
    await expect(tx).to.emit(network, "MemberRemoved").withArgs(BRAIN, vVictim.uid, vVictim.account, true);
    await expect(tx)
      .to.emit(network, "MemberRegistered")
      .withArgs(BRAIN, vVictim.uid, a!.address, Role.Validator, ENDPOINT, 0n, 0n, 0n);
    expect(await blockOf(tx)).to.equal(fillBlock + PARAMS.immunityPeriod);
    // Exactly one member left: the counts stay at capacity; the rest of the order is untouched.
    expect(await network.counts(BRAIN)).to.deep.equal([256n, 1_792n]);
    expect(await network.roleOf(BRAIN, vVictim.account)).to.deep.equal([BigInt(Role.None), 0n]);
    expect(await network.roleOf(BRAIN, a!.address)).to.deep.equal([
      BigInt(Role.Validator),
      BigInt(vVictim.uid),
    ]);
    const after = await members(f, Role.Validator);
    expect(after.filter((m) => !validators.some((v) => v.account === m.account))).to.deep.equal([
      { uid: vVictim.uid, account: a!.address, registeredAt: fillBlock + PARAMS.immunityPeriod },
    ]);
    expect(await network.pruneCursor(BRAIN, Role.Validator)).to.deep.equal([0n, 1n]);
    expect(await network.pruneCursor(BRAIN, Role.Miner)).to.deep.equal([0n, 0n]);

    // Miners have their own order and cursor.
    const mHints = pruneHints(tree, Number(BRAIN), Role.Miner, 0, 2);
    await expect(join(network, b!, Role.Miner, mHints))
      .to.emit(network, "MemberRemoved")
      .withArgs(BRAIN, mVictim.uid, mVictim.account, true);
    expect((await network.member(BRAIN, mVictim.uid)).account).to.equal(b!.address);
    expect(await network.counts(BRAIN)).to.deep.equal([256n, 1_792n]);
    expect(await network.pruneCursor(BRAIN, Role.Miner)).to.deep.equal([0n, 1n]);
  });

  it("ties go to the older registration, then to the lower uid (pruningOrder), and the contract replaces them in that order", async function () {
    this.timeout(120_000);
    const f = await loadFixture(deployFilled);
    const { network, newcomers, fillBlock } = f;
    const [late, n1, n2, n3] = newcomers;
    const validators = await members(f, Role.Validator);
    // The lowest validator uid is re-taken by `late`, registered after everyone else.
    const lowest = validators[0]!;
    await network.connect(await ethers.getImpersonatedSigner(lowest.account)).deregister(BRAIN);
    const lateBlock = await blockOf(await join(network, late!, Role.Validator, []));
    expect(lateBlock).to.be.greaterThan(fillBlock);
    const older = validators[10]!;
    const oldest = validators[50]!; // same block as `older`, higher uid
    const { leaves, tree } = await order(f, {
      [Role.Validator]: new Map([
        [lowest.uid, 1n],
        [older.uid, 1n],
        [oldest.uid, 1n],
      ]),
    });
    expect(ofRole(leaves, Role.Validator).slice(0, 3)).to.deep.equal([
      [1, Role.Validator, 0, older.uid, older.account, fillBlock],
      [1, Role.Validator, 1, oldest.uid, oldest.account, fillBlock],
      [1, Role.Validator, 2, lowest.uid, late!.address, lateBlock],
    ]);
    await report(f, 0n, tree);
    await nextBlockIs(lateBlock + PARAMS.immunityPeriod);

    const expected: [Signer, number, string][] = [
      [n1!, older.uid, older.account],
      [n2!, oldest.uid, oldest.account],
      [n3!, lowest.uid, late!.address],
    ];
    for (const [rank, [who, uid, account]] of expected.entries()) {
      await expect(
        join(network, who, Role.Validator, pruneHints(tree, Number(BRAIN), Role.Validator, rank, 1)),
      )
        .to.emit(network, "MemberRemoved")
        .withArgs(BRAIN, uid, account, true);
      expect((await network.member(BRAIN, uid)).account).to.equal(await who.getAddress());
    }
    expect(await network.pruneCursor(BRAIN, Role.Validator)).to.deep.equal([0n, 3n]);
  });

  it("passes over an immune member at the lowest rank and replaces the next; once its immunity ends it is the one replaced", async function () {
    this.timeout(120_000);
    const f = await loadFixture(deployFilled);
    const { network, newcomers, fillBlock } = f;
    const [late, n1, n2, n3] = newcomers;
    const validators = await members(f, Role.Validator);
    const lowest = validators[0]!;
    await network.connect(await ethers.getImpersonatedSigner(lowest.account)).deregister(BRAIN);
    await mine(10);
    const lateBlock = await blockOf(await join(network, late!, Role.Validator, []));
    const [second, third, fourth] = [validators[20]!, validators[30]!, validators[40]!];
    const { tree } = await order(f, {
      [Role.Validator]: new Map([
        [lowest.uid, 0n], // `late` holds it now: rank 0, immune the longest
        [second.uid, 1n],
        [third.uid, 2n],
        [fourth.uid, 3n],
      ]),
    });
    await report(f, 0n, tree);
    const hints = (from: number, count: number) =>
      pruneHints(tree, Number(BRAIN), Role.Validator, from, count);

    // Everyone else is past immunity; `late` is not (it joined 12 blocks after them).
    expect(lateBlock).to.equal(fillBlock + 12n);
    await nextBlockIs(fillBlock + PARAMS.immunityPeriod);
    await expect(join(network, n1!, Role.Validator, hints(0, 1)))
      .to.be.revertedWithCustomError(network, "NoPrunableMember")
      .withArgs(BRAIN, Role.Validator, 0n);
    await expect(join(network, n1!, Role.Validator, hints(0, 2)))
      .to.emit(network, "MemberRemoved")
      .withArgs(BRAIN, second.uid, second.account, true);
    expect((await network.member(BRAIN, lowest.uid)).account).to.equal(late!.address);
    // Rank 0 was not consumed: the next walk starts there again.
    expect(await network.pruneCursor(BRAIN, Role.Validator)).to.deep.equal([0n, 0n]);
    await expect(join(network, n2!, Role.Validator, hints(1, 2)))
      .to.be.revertedWithCustomError(network, "WrongPruneRank")
      .withArgs(0n, 1n, 0n);

    await nextBlockIs(lateBlock + PARAMS.immunityPeriod - 1n);
    await expect(join(network, n2!, Role.Validator, hints(0, 1)))
      .to.be.revertedWithCustomError(network, "NoPrunableMember")
      .withArgs(BRAIN, Role.Validator, 0n);
    await nextBlockIs(lateBlock + PARAMS.immunityPeriod);
    await expect(join(network, n2!, Role.Validator, hints(0, 1)))
      .to.emit(network, "MemberRemoved")
      .withArgs(BRAIN, lowest.uid, late!.address, true);
    expect(await network.pruneCursor(BRAIN, Role.Validator)).to.deep.equal([0n, 1n]);

    // Rank 1 is stale now (its uid went to n1), so the walk skips it, consumes it and replaces rank 2.
    await expect(join(network, n3!, Role.Validator, hints(1, 1)))
      .to.be.revertedWithCustomError(network, "NoPrunableMember")
      .withArgs(BRAIN, Role.Validator, 2n);
    await expect(join(network, n3!, Role.Validator, hints(1, 2)))
      .to.emit(network, "MemberRemoved")
      .withArgs(BRAIN, third.uid, third.account, true);
    expect(await network.pruneCursor(BRAIN, Role.Validator)).to.deep.equal([0n, 3n]);
    expect((await network.member(BRAIN, fourth.uid)).account).to.equal(fourth.account);
    expect(await network.counts(BRAIN)).to.deep.equal([256n, 1_792n]);
  });

  it("hints must start at the cursor and go up one by one: WrongPruneRank", async function () {
    this.timeout(120_000);
    const f = await loadFixture(deployFilled);
    const { network, newcomers, fillBlock } = f;
    const [a, b] = newcomers;
    const { tree } = await order(f);
    await report(f, 0n, tree);
    const [h0, h1, h2] = pruneHints(tree, Number(BRAIN), Role.Validator, 0, 3);

    // All immune, so the walk goes on to check every hint.
    await expect(join(network, a!, Role.Validator, [h1!]))
      .to.be.revertedWithCustomError(network, "WrongPruneRank")
      .withArgs(0n, 1n, 0n);
    await expect(join(network, a!, Role.Validator, [h0!, h2!]))
      .to.be.revertedWithCustomError(network, "WrongPruneRank")
      .withArgs(1n, 2n, 1n);
    await expect(join(network, a!, Role.Validator, [h0!, h0!]))
      .to.be.revertedWithCustomError(network, "WrongPruneRank")
      .withArgs(1n, 0n, 1n);

    await nextBlockIs(fillBlock + PARAMS.immunityPeriod);
    await expect(join(network, a!, Role.Validator, [h0!]))
      .to.emit(network, "MemberRemoved")
      .withArgs(BRAIN, h0!.uid, h0!.account, true);
    // The cursor moved to 1: rank 0 again is refused.
    await expect(join(network, b!, Role.Validator, [h0!, h1!]))
      .to.be.revertedWithCustomError(network, "WrongPruneRank")
      .withArgs(0n, 0n, 1n);
    await expect(join(network, b!, Role.Validator, [h1!]))
      .to.emit(network, "MemberRemoved")
      .withArgs(BRAIN, h1!.uid, h1!.account, true);
  });

  it("refuses a hint that is not a leaf of the attested order: InvalidPruneProof", async function () {
    this.timeout(120_000);
    const f = await loadFixture(deployFilled);
    const { network, newcomers, fillBlock } = f;
    const [a] = newcomers;
    const { tree } = await order(f);
    await report(f, 0n, tree);
    const [h0, h1] = pruneHints(tree, Number(BRAIN), Role.Validator, 0, 2);
    const [m0] = pruneHints(tree, Number(BRAIN), Role.Miner, 0, 1);
    const other = (await members(f, Role.Validator)).find((m) => m.uid !== h0!.uid)!;

    // Past immunity: an accepted forgery would replace a member.
    await nextBlockIs(fillBlock + PARAMS.immunityPeriod);
    const forged: PruneHint[][] = [
      [{ ...h0!, uid: other.uid }], // someone else's uid
      [{ ...h0!, uid: other.uid, account: other.account }], // someone else entirely
      [{ ...h0!, registeredAt: h0!.registeredAt + 1n }],
      [{ ...h0!, proof: h1!.proof }],
      [{ ...m0! }], // a miner's leaf for a validator registration
    ];
    for (const hints of forged) {
      await expect(join(network, a!, Role.Validator, hints))
        .to.be.revertedWithCustomError(network, "InvalidPruneProof")
        .withArgs(0n);
    }
    // The index says which hint is forged.
    await network.setImmunityPeriod(10_000n); // rank 0 immune again, so the walk reaches index 1
    await expect(join(network, a!, Role.Validator, [h0!, { ...h1!, account: a!.address as Address }]))
      .to.be.revertedWithCustomError(network, "InvalidPruneProof")
      .withArgs(1n);
    expect(await network.counts(BRAIN)).to.deep.equal([256n, 1_792n]);
    expect(await network.pruneCursor(BRAIN, Role.Validator)).to.deep.equal([0n, 0n]);
  });

  it("skips and consumes a stale leaf (its member left after the report and the uid was taken again)", async function () {
    this.timeout(120_000);
    const f = await loadFixture(deployFilled);
    const { network, newcomers, fillBlock } = f;
    const [taker, a] = newcomers;
    const { leaves, tree } = await order(f);
    await report(f, 0n, tree);
    const [first, second] = ofRole(leaves, Role.Validator);
    await nextBlockIs(fillBlock + PARAMS.immunityPeriod);

    // Rank 0's member leaves; `taker` gets its uid without pruning (a slot was free).
    await network.connect(await ethers.getImpersonatedSigner(first![4])).deregister(BRAIN);
    await expect(join(network, taker!, Role.Validator, []))
      .to.emit(network, "MemberRegistered")
      .withArgs(BRAIN, first![3], taker!.address, Role.Validator, ENDPOINT, 0n, 0n, 0n);

    const hints = pruneHints(tree, Number(BRAIN), Role.Validator, 0, 2);
    await expect(join(network, a!, Role.Validator, hints.slice(0, 1)))
      .to.be.revertedWithCustomError(network, "NoPrunableMember")
      .withArgs(BRAIN, Role.Validator, 1n);
    const tx = await join(network, a!, Role.Validator, hints);
    await expect(tx).to.emit(network, "MemberRemoved").withArgs(BRAIN, second![3], second![4], true);
    // The leaf did not remove `taker`, who holds rank 0's uid now.
    expect((await network.member(BRAIN, first![3])).account).to.equal(taker!.address);
    expect(await network.pruneCursor(BRAIN, Role.Validator)).to.deep.equal([0n, 2n]);
  });

  it("a new epoch's report restarts the walk at rank 0 of its own order", async function () {
    this.timeout(120_000);
    const f = await loadFixture(deployFilled);
    const { network, newcomers, fillBlock } = f;
    const [a, b] = newcomers;
    const first = await order(f);
    await report(f, 0n, first.tree);
    await nextBlockIs(fillBlock + PARAMS.immunityPeriod);
    await join(network, a!, Role.Validator, pruneHints(first.tree, Number(BRAIN), Role.Validator, 0, 1));
    expect(await network.pruneCursor(BRAIN, Role.Validator)).to.deep.equal([0n, 1n]);

    const validators = await members(f, Role.Validator);
    const victim = validators[200]!;
    const second = await order(f, { [Role.Validator]: new Map([[victim.uid, 0n]]) });
    await report(f, 1n, second.tree);
    expect(await network.pruneCursor(BRAIN, Role.Validator)).to.deep.equal([1n, 0n]);
    await expect(
      join(network, b!, Role.Validator, pruneHints(first.tree, Number(BRAIN), Role.Validator, 1, 1)),
    )
      .to.be.revertedWithCustomError(network, "WrongPruneRank")
      .withArgs(0n, 1n, 0n);
    await expect(
      join(network, b!, Role.Validator, pruneHints(second.tree, Number(BRAIN), Role.Validator, 0, 1)),
    )
      .to.emit(network, "MemberRemoved")
      .withArgs(BRAIN, victim.uid, victim.account, true);
    expect(await network.pruneCursor(BRAIN, Role.Validator)).to.deep.equal([1n, 1n]);
  });

  it("does not prune by a challenged report's order (NoPruningOrder) until a revision settles it", async function () {
    this.timeout(120_000);
    const f = await loadFixture(deployFilled);
    const { network, consensus, bob, newcomers, fillBlock } = f;
    const [a] = newcomers;
    const { tree } = await order(f);
    await report(f, 0n, tree);
    await consensus.connect(bob).challenge(0n, ethers.id("inputs 0"), ethers.id("other rewards"));
    expect(await consensus.pruningOrder()).to.deep.equal([0n, ethers.ZeroHash]);
    const hints = pruneHints(tree, Number(BRAIN), Role.Validator, 0, 1);
    await expect(join(network, a!, Role.Validator, hints))
      .to.be.revertedWithCustomError(network, "NoPruningOrder")
      .withArgs(BRAIN, Role.Validator);

    await report(f, 0n, tree, 1);
    await nextBlockIs(fillBlock + PARAMS.immunityPeriod);
    await expect(join(network, a!, Role.Validator, hints))
      .to.emit(network, "MemberRemoved")
      .withArgs(BRAIN, hints[0]!.uid, hints[0]!.account, true);
  });

  it("a revision of the same epoch with another order restarts the walk at rank 0 of the revised order", async function () {
    this.timeout(120_000);
    const f = await loadFixture(deployFilled);
    const { network, consensus, bob, newcomers, fillBlock } = f;
    const [a, b] = newcomers;
    const first = await order(f);
    // Past immunity first, so that the pruning below happens inside the report's challenge window.
    await nextBlockIs(fillBlock + PARAMS.immunityPeriod);
    await report(f, 0n, first.tree);
    await join(network, a!, Role.Validator, pruneHints(first.tree, Number(BRAIN), Role.Validator, 0, 1));
    expect(await network.pruneCursor(BRAIN, Role.Validator)).to.deep.equal([0n, 1n]);

    await consensus.connect(bob).challenge(0n, ethers.id("inputs 0"), ethers.id("other rewards"));
    const victim = (await members(f, Role.Validator))[100]!;
    const revised = await order(f, { [Role.Validator]: new Map([[victim.uid, 0n]]) });
    await report(f, 0n, revised.tree, 1);
    expect(await network.pruneCursor(BRAIN, Role.Validator)).to.deep.equal([0n, 0n]);
    await expect(
      join(network, b!, Role.Validator, pruneHints(revised.tree, Number(BRAIN), Role.Validator, 0, 1)),
    )
      .to.emit(network, "MemberRemoved")
      .withArgs(BRAIN, victim.uid, victim.account, true);
  });

  it("each role walks its own order: a miner cursor from an older order does not leak into a new one", async function () {
    this.timeout(120_000);
    const f = await loadFixture(deployFilled);
    const { network, newcomers, fillBlock } = f;
    const [a, b, c] = newcomers;
    const first = await order(f);
    await report(f, 0n, first.tree);
    await nextBlockIs(fillBlock + PARAMS.immunityPeriod);
    await join(network, a!, Role.Miner, pruneHints(first.tree, Number(BRAIN), Role.Miner, 0, 1));
    expect(await network.pruneCursor(BRAIN, Role.Miner)).to.deep.equal([0n, 1n]);

    const second = await order(f);
    await report(f, 1n, second.tree);
    // A validator prunes under the new order first; the miner walk must still start at 0.
    await join(network, b!, Role.Validator, pruneHints(second.tree, Number(BRAIN), Role.Validator, 0, 1));
    expect(await network.pruneCursor(BRAIN, Role.Miner)).to.deep.equal([1n, 0n]);
    // Rank 0 of the new order is `a`, who took the lowest-score uid in epoch 0 and is still immune.
    const [immune, lowestMiner] = ofRole(second.leaves, Role.Miner);
    expect(immune![4]).to.equal(a!.address);
    await expect(join(network, c!, Role.Miner, pruneHints(second.tree, Number(BRAIN), Role.Miner, 0, 2)))
      .to.emit(network, "MemberRemoved")
      .withArgs(BRAIN, lowestMiner![3], lowestMiner![4], true);
  });
});
