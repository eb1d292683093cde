import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { type Address, type Hex, concat, keccak256, numberToHex, slice, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { BrainRegistry, ComputeMarket } from "../../../typechain-types";
import { DELIVERY_TYPES, deliveryDomain, deliveryMessage } from "../../../protocol/gateway";
import { Role } from "../../../protocol/report";
import { devnetPrivateKey } from "../../../sdk/devnet";
import { quoteEscrow, quoteSettlement } from "../../../sdk/market";
import { BASED, deployEconomy } from "./economy-fixture";

const BRAIN = 3n; // carol's
const OTHER_BRAIN = 2n; // bob's
const DAY = 86_400n;
/** Prices with odd wei so that rounding shows: 0.001 BASED + 7 wei and 0.002 BASED + 3 wei per 1,000 units. */
const PROMPT_PRICE = 10n ** 15n + 7n;
const COMPLETION_PRICE = 2n * 10n ** 15n + 3n;
const CONTEXT_LIMIT = 4_096;
const DEPOSIT = BASED(1_000);
/** The maxCost of requests in tests about other rules: any cost is accepted. */
const ANY_COST = ethers.MaxUint256;
/** secp256k1's group order: s and n − s are both valid, OZ accepts only the low one. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const Status = { None: 0n, Open: 1n, Settled: 2n, Reclaimed: 3n, Refunded: 4n } as const;

/** Hardhat's signers are the devnet mnemonic's accounts: the miners sign with viem, as miners do. */
const signerKey = (index: number) => privateKeyToAccount(devnetPrivateKey(index));
const FRANK = 6; // a miner of Brain 3
const ERIN = 5; // a validator of Brain 3
const DAVE = 4; // a miner of Brain 2

/** The economy plus a ComputeMarket: Brain 3 priced, with a gateway, a miner, a validator and a funded user. */
async function deployMarket() {
  const eco = await deployEconomy();
  const { based, registry, network, carol, dave, erin, frank, signers, register } = eco;
  const market = (await ethers.deployContract("ComputeMarket", [
    await based.getAddress(),
    await registry.getAddress(),
    await network.getAddress(),
  ])) as unknown as ComputeMarket;
  const [user, app, gateway, stranger, ownerPayee] = signers.slice(7, 12) as [
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
  ];
  await register(frank, BRAIN, Role.Miner);
  await register(erin, BRAIN, Role.Validator);
  await register(dave, OTHER_BRAIN, Role.Miner);
  await registry.connect(carol).setPricing(BRAIN, PROMPT_PRICE, COMPLETION_PRICE, CONTEXT_LIMIT);
  await registry.connect(carol).setProfile(BRAIN, "", "", ownerPayee.address);
  await market.connect(carol).setGateway(BRAIN, gateway.address);
  for (const s of [user, app, stranger]) await based.connect(s).approve(market, ethers.MaxUint256);
  await market.connect(user).deposit(DEPOSIT);
  const { chainId } = await ethers.provider.getNetwork();
  const marketAddress = (await market.getAddress()) as Address;

  /**
   * A miner's EIP-712 Delivery signature over a job and its result (for Brain 3 unless told),
   * made exactly as protocol/gateway.ts defines it.
   */
  async function sign(
    jobHash: Hex,
    resultHash: Hex,
    who = FRANK,
    o: { brainId?: bigint; verifyingContract?: Address } = {},
  ): Promise<Hex> {
    return signerKey(who).signTypedData({
      domain: deliveryDomain(Number(chainId), o.verifyingContract ?? marketAddress),
      types: DELIVERY_TYPES,
      primaryType: "Delivery",
      message: deliveryMessage(Number(o.brainId ?? BRAIN), jobHash, resultHash),
    });
  }

  /** Opens a request as `by` (default the user, on its own account) and returns its id and deadline. */
  async function open(
    o: {
      by?: HardhatEthersSigner;
      account?: string;
      brainId?: bigint;
      promptUnits?: number;
      maxCompletionUnits?: number;
      deadlineIn?: bigint;
    } = {},
  ) {
    const by = o.by ?? user;
    const deadline = BigInt(await time.latest()) + (o.deadlineIn ?? 600n);
    await market
      .connect(by)
      .openRequest(
        o.account ?? user.address,
        o.brainId ?? BRAIN,
        o.promptUnits ?? 10,
        o.maxCompletionUnits ?? 20,
        deadline,
        ANY_COST,
      );
    return { requestId: await market.lastRequestId(), deadline };
  }

  return { ...eco, market, marketAddress, chainId, user, app, gateway, stranger, ownerPayee, sign, open };
}

const RESULT = keccak256(toHex("the answer"));
/**
 * The hash of the job a gateway handed out for request `requestId` in these tests (what the
 * miner was given: protocol/gateway.ts `jobHash`); one job per request, so deliveries differ.
 */
const JOB = (requestId: bigint): Hex => keccak256(toHex(`job for request ${requestId}`));

describe("ComputeMarket", function () {
  describe("deployment", function () {
    it('signs deliveries in the domain protocol.ts names: "BasedAI ComputeMarket", version 1, this chain and address', async function () {
      const { market, marketAddress, chainId } = await loadFixture(deployMarket);
      const domain = await market.eip712Domain();
      const expected = deliveryDomain(Number(chainId), marketAddress);
      expect(domain.name).to.equal(expected.name);
      expect(domain.version).to.equal(expected.version);
      expect(domain.chainId).to.equal(chainId);
      expect(domain.verifyingContract).to.equal(marketAddress);
      expect(await market.DELIVERY_TYPEHASH()).to.equal(
        keccak256(toHex("Delivery(uint256 brainId,bytes32 jobHash,bytes32 resultHash)")),
      );
      expect(await market.MAX_DEADLINE()).to.equal(DAY);
    });

    it("refuses zero addresses for BASED, the registry or the network", async function () {
      const { based, registry, network, market } = await loadFixture(deployMarket);
      const args = [await based.getAddress(), await registry.getAddress(), await network.getAddress()];
      for (let i = 0; i < 3; i++) {
        const bad = [...args];
        bad[i] = ethers.ZeroAddress;
        await expect(ethers.deployContract("ComputeMarket", bad)).to.be.revertedWithCustomError(
          market,
          "ZeroAddress",
        );
      }
    });
  });

  describe("spending accounts", function () {
    it("deposit pulls BASED into the caller's free balance; Deposited", async function () {
      const { market, based, stranger } = await loadFixture(deployMarket);
      const tx = await market.connect(stranger).deposit(BASED(5));
      await expect(tx).to.emit(market, "Deposited").withArgs(stranger.address, BASED(5));
      await expect(tx).to.changeTokenBalances(based, [stranger, market], [-BASED(5), BASED(5)]);
      expect(await market.balanceOf(stranger.address)).to.equal(BASED(5));
    });

    it("deposit refuses 0 and an amount not approved", async function () {
      const { market, based, erin } = await loadFixture(deployMarket);
      await expect(market.connect(erin).deposit(0)).to.be.revertedWithCustomError(market, "ZeroAmount");
      await expect(market.connect(erin).deposit(1)).to.be.revertedWithCustomError(
        based,
        "ERC20InsufficientAllowance",
      );
    });

    it("withdraw returns free balance only: escrowed BASED stays until its request ends", async function () {
      const { market, based, user, open } = await loadFixture(deployMarket);
      const { requestId } = await open({ promptUnits: 10, maxCompletionUnits: 20 });
      const escrow = (await market.getRequest(requestId)).escrow;
      const free = DEPOSIT - escrow;
      expect(await market.balanceOf(user.address)).to.equal(free);
      await expect(market.connect(user).withdraw(free + 1n))
        .to.be.revertedWithCustomError(market, "InsufficientBalance")
        .withArgs(user.address, free, free + 1n);
      await expect(market.connect(user).withdraw(0)).to.be.revertedWithCustomError(market, "ZeroAmount");
      const tx = await market.connect(user).withdraw(free);
      await expect(tx).to.emit(market, "Withdrawn").withArgs(user.address, free);
      await expect(tx).to.changeTokenBalances(based, [user, market], [free, -free]);
      expect(await market.balanceOf(user.address)).to.equal(0n);
      expect(await based.balanceOf(await market.getAddress())).to.equal(escrow);
    });

    it("authorize sets (and replaces, and revokes) an app's allowance; AppAuthorized; never the zero app", async function () {
      const { market, user, app } = await loadFixture(deployMarket);
      await expect(market.connect(user).authorize(app.address, BASED(3)))
        .to.emit(market, "AppAuthorized")
        .withArgs(user.address, app.address, BASED(3));
      expect(await market.allowance(user.address, app.address)).to.equal(BASED(3));
      await market.connect(user).authorize(app.address, 7n);
      expect(await market.allowance(user.address, app.address)).to.equal(7n);
      await market.connect(user).authorize(app.address, 0n);
      expect(await market.allowance(user.address, app.address)).to.equal(0n);
      await expect(market.connect(user).authorize(ethers.ZeroAddress, 1n)).to.be.revertedWithCustomError(
        market,
        "ZeroAddress",
      );
    });
  });

  describe("setGateway", function () {
    it("only the Brain's BasedAI wallet names the gateway, while the Brain is active; GatewaySet", async function () {
      const { market, carol, bob, erin, stranger } = await loadFixture(deployMarket);
      await expect(market.connect(bob).setGateway(BRAIN, bob.address))
        .to.be.revertedWithCustomError(market, "NotBrainWallet")
        .withArgs(BRAIN, bob.address);
      await expect(market.connect(erin).setGateway(8n, erin.address)) // deactivated
        .to.be.revertedWithCustomError(market, "BrainNotActive")
        .withArgs(8n);
      await expect(market.connect(stranger).setGateway(99n, stranger.address)) // never mirrored
        .to.be.revertedWithCustomError(market, "BrainNotActive")
        .withArgs(99n);
      await expect(market.connect(carol).setGateway(BRAIN, stranger.address))
        .to.emit(market, "GatewaySet")
        .withArgs(BRAIN, stranger.address);
      expect(await market.gatewayOf(BRAIN)).to.equal(stranger.address);
      expect(await market.gatewayOf(OTHER_BRAIN)).to.equal(ethers.ZeroAddress);
    });
  });

  describe("openRequest", function () {
    it("escrows ceil((prompt × price + maxCompletion × price) / 1000) from the free balance; ids start at 1; RequestOpened", async function () {
      const { market, user } = await loadFixture(deployMarket);
      // 10 × (1e15 + 7) + 20 × (2e15 + 3) = 5e16 + 130 wei per 1,000 units → 5e13 + 0.13, rounded up.
      const escrow = 50_000_000_000_001n;
      expect(
        quoteEscrow({ promptPricePer1k: PROMPT_PRICE, completionPricePer1k: COMPLETION_PRICE }, 10, 20),
      ).to.equal(escrow);
      expect(await market.lastRequestId()).to.equal(0n);
      const deadline = BigInt(await time.latest()) + 600n;
      const tx = await market.connect(user).openRequest(user.address, BRAIN, 10, 20, deadline, ANY_COST);
      await expect(tx)
        .to.emit(market, "RequestOpened")
        .withArgs(1n, user.address, BRAIN, 10, 20, escrow, deadline);
      expect(await market.balanceOf(user.address)).to.equal(DEPOSIT - escrow);
      const r = await market.getRequest(1n);
      expect(r.account).to.equal(user.address);
      expect(r.status).to.equal(Status.Open);
      expect(r.brainId).to.equal(BRAIN);
      expect([r.promptUnits, r.maxCompletionUnits, r.completionUnits]).to.deep.equal([10n, 20n, 0n]);
      expect([r.promptPricePer1k, r.completionPricePer1k]).to.deep.equal([PROMPT_PRICE, COMPLETION_PRICE]);
      expect(r.ownerBps).to.equal(2_500n);
      expect(r.escrow).to.equal(escrow);
      expect(r.deadline).to.equal(deadline);
      await market.connect(user).openRequest(user.address, BRAIN, 1, 0, deadline, ANY_COST);
      expect(await market.lastRequestId()).to.equal(2n);
      expect((await market.getRequest(2n)).escrow).to.equal(10n ** 12n + 1n); // (1e15 + 7) / 1000, rounded up
      expect((await market.getRequest(0n)).status).to.equal(Status.None);
    });

    it("refuses an inactive Brain, zero prompt units and prompt + completion above the context limit (exactly at it is fine)", async function () {
      const { market, user } = await loadFixture(deployMarket);
      const deadline = BigInt(await time.latest()) + 600n;
      for (const brainId of [8n, 9999n]) {
        await expect(market.connect(user).openRequest(user.address, brainId, 1, 1, deadline, ANY_COST))
          .to.be.revertedWithCustomError(market, "BrainNotActive")
          .withArgs(brainId);
      }
      await expect(
        market.connect(user).openRequest(user.address, BRAIN, 0, 5, deadline, ANY_COST),
      ).to.be.revertedWithCustomError(market, "ZeroPromptUnits");
      await expect(market.connect(user).openRequest(user.address, BRAIN, 4_000, 97, deadline, ANY_COST))
        .to.be.revertedWithCustomError(market, "ContextLimitExceeded")
        .withArgs(4_097n, CONTEXT_LIMIT);
      // uint32 sums must not wrap around: 2^32 − 1 + 2 is above the limit, not 1.
      await expect(market.connect(user).openRequest(user.address, BRAIN, 2 ** 32 - 1, 2, deadline, ANY_COST))
        .to.be.revertedWithCustomError(market, "ContextLimitExceeded")
        .withArgs(2n ** 32n + 1n, CONTEXT_LIMIT);
      await expect(
        market.connect(user).openRequest(user.address, BRAIN, 4_000, 96, deadline, ANY_COST),
      ).to.emit(market, "RequestOpened");
    });

    it("a Brain without pricing has no context limit and escrows nothing; it still settles and pays nothing", async function () {
      const { market, based, user, alice, bob, register, sign } = await loadFixture(deployMarket);
      await register(bob, 1n, Role.Miner); // bob (signer 2) mines for alice's Brain 1
      await market.connect(alice).setGateway(1n, alice.address);
      const before = await market.balanceOf(user.address);
      const deadline = BigInt(await time.latest()) + 600n;
      await expect(market.connect(user).openRequest(user.address, 1n, 100_000, 100_000, deadline, ANY_COST))
        .to.emit(market, "RequestOpened")
        .withArgs(1n, user.address, 1n, 100_000, 100_000, 0n, deadline);
      const tx = await market
        .connect(alice)
        .settle(1n, 100_000, JOB(1n), RESULT, await sign(JOB(1n), RESULT, 2, { brainId: 1n }));
      await expect(tx)
        .to.emit(market, "Settled")
        .withArgs(1n, bob.address, 100_000, 0n, 0n, 0n, JOB(1n), RESULT);
      await expect(tx).to.changeTokenBalances(based, [market, bob, alice], [0n, 0n, 0n]);
      expect(await market.balanceOf(user.address)).to.equal(before);
    });

    it("the deadline must be after now and at most MAX_DEADLINE (one day) from now", async function () {
      const { market, user } = await loadFixture(deployMarket);
      for (const offset of [0n, -1n, DAY + 1n]) {
        const now = BigInt(await time.latest()) + 10n;
        await time.setNextBlockTimestamp(now);
        await expect(market.connect(user).openRequest(user.address, BRAIN, 1, 1, now + offset, ANY_COST))
          .to.be.revertedWithCustomError(market, "InvalidDeadline")
          .withArgs(now + offset, now, now + DAY);
      }
      const now = BigInt(await time.latest()) + 10n;
      await time.setNextBlockTimestamp(now);
      await expect(market.connect(user).openRequest(user.address, BRAIN, 1, 1, now + DAY, ANY_COST)).to.emit(
        market,
        "RequestOpened",
      );
      await time.setNextBlockTimestamp(now + 1n);
      await expect(market.connect(user).openRequest(user.address, BRAIN, 1, 1, now + 2n, ANY_COST)).to.emit(
        market,
        "RequestOpened",
      );
    });

    it("refuses an escrow above the free balance, and moves nothing", async function () {
      const { market, stranger } = await loadFixture(deployMarket);
      await market.connect(stranger).deposit(10n);
      const deadline = BigInt(await time.latest()) + 600n;
      const escrow = quoteEscrow(
        { promptPricePer1k: PROMPT_PRICE, completionPricePer1k: COMPLETION_PRICE },
        10,
        20,
      );
      await expect(market.connect(stranger).openRequest(stranger.address, BRAIN, 10, 20, deadline, ANY_COST))
        .to.be.revertedWithCustomError(market, "InsufficientBalance")
        .withArgs(stranger.address, 10n, escrow);
      expect(await market.balanceOf(stranger.address)).to.equal(10n);
      expect(await market.lastRequestId()).to.equal(0n);
    });

    it("an app opens requests on an account within its allowance, which goes down by each escrow; AllowanceSpent", async function () {
      const { market, user, app, open } = await loadFixture(deployMarket);
      const escrow = quoteEscrow(
        { promptPricePer1k: PROMPT_PRICE, completionPricePer1k: COMPLETION_PRICE },
        10,
        20,
      );
      await market.connect(user).authorize(app.address, escrow * 2n + 5n);
      const deadline = BigInt(await time.latest()) + 600n;
      await expect(market.connect(app).openRequest(user.address, BRAIN, 10, 20, deadline, ANY_COST))
        .to.emit(market, "AllowanceSpent")
        .withArgs(user.address, app.address, escrow, escrow + 5n)
        .and.to.emit(market, "RequestOpened")
        .withArgs(1n, user.address, BRAIN, 10, 20, escrow, deadline);
      expect((await market.getRequest(1n)).account).to.equal(user.address);
      expect(await market.balanceOf(app.address)).to.equal(0n); // the app's own account is untouched
      expect(await market.balanceOf(user.address)).to.equal(DEPOSIT - escrow);
      await open({ by: app });
      expect(await market.allowance(user.address, app.address)).to.equal(5n);
      await expect(open({ by: app }))
        .to.be.revertedWithCustomError(market, "AllowanceExceeded")
        .withArgs(user.address, app.address, 5n, escrow);
    });

    it("an app never authorized (or revoked) cannot open requests on an account, not even free ones", async function () {
      const { market, user, app, stranger, open } = await loadFixture(deployMarket);
      await expect(open({ by: stranger }))
        .to.be.revertedWithCustomError(market, "AppNotAuthorized")
        .withArgs(user.address, stranger.address);
      // Brain 1 has no prices: the escrow is 0, and still only the account or its apps may open.
      await expect(open({ by: stranger, brainId: 1n }))
        .to.be.revertedWithCustomError(market, "AppNotAuthorized")
        .withArgs(user.address, stranger.address);
      await market.connect(user).authorize(app.address, BASED(1));
      await market.connect(user).authorize(app.address, 0n);
      await expect(open({ by: app }))
        .to.be.revertedWithCustomError(market, "AppNotAuthorized")
        .withArgs(user.address, app.address);
    });

    it("an unlimited allowance is never used up", async function () {
      const { market, user, app, open } = await loadFixture(deployMarket);
      await market.connect(user).authorize(app.address, ethers.MaxUint256);
      const deadline = BigInt(await time.latest()) + 600n;
      await expect(
        market.connect(app).openRequest(user.address, BRAIN, 10, 20, deadline, ANY_COST),
      ).not.to.emit(market, "AllowanceSpent");
      await open({ by: app });
      expect(await market.allowance(user.address, app.address)).to.equal(ethers.MaxUint256);
    });
  });

  describe("maxCost: the most the caller agreed to pay", function () {
    /** What `based prompt` shows and passes: the escrow of 10 + 20 units at the Brain's prices now. */
    async function quoteNow(market: ComputeMarket, registry: BrainRegistry) {
      const [promptPricePer1k, completionPricePer1k] = await registry.pricing(BRAIN);
      const quoted = quoteEscrow({ promptPricePer1k, completionPricePer1k }, 10, 20);
      expect(await market.quote(promptPricePer1k, completionPricePer1k, 10, 20)).to.equal(quoted);
      return quoted;
    }
    /** A completion price at which 20 completion units cost the whole deposit (prompt units free). */
    const DRAINING_PRICE = DEPOSIT * 50n;

    it("attack: price front-run drains a spending account — refused by maxCost", async function () {
      const { market, registry, user, app, carol, gateway } = await loadFixture(deployMarket);
      const quoted = await quoteNow(market, registry);
      // Without a bound the escrow would be the account's whole free balance, and the Brain's own
      // gateway could then settle all 20 completion units at that price.
      expect(await market.quote(0n, DRAINING_PRICE, 10, 20)).to.equal(DEPOSIT);

      // The user's openRequest sits in the mempool; the Brain's wallet (carol) sees it and sends
      // setPricing with a higher tip, so it is mined first in the same block.
      await ethers.provider.send("evm_setAutomine", [false]);
      const sent = (async () => {
        const deadline = BigInt(await time.latest()) + 600n;
        const victim = await market.connect(user).openRequest(user.address, BRAIN, 10, 20, deadline, quoted, {
          gasLimit: 500_000,
          maxPriorityFeePerGas: 1n,
        });
        const frontRun = await registry.connect(carol).setPricing(BRAIN, 0n, DRAINING_PRICE, CONTEXT_LIMIT, {
          gasLimit: 500_000,
          maxPriorityFeePerGas: 10n ** 10n,
        });
        await ethers.provider.send("evm_mine", []);
        return { victim, frontRun };
      })();
      const { victim, frontRun } = await sent.finally(() => ethers.provider.send("evm_setAutomine", [true]));
      const [frontRunReceipt, victimReceipt] = await Promise.all([
        ethers.provider.getTransactionReceipt(frontRun.hash),
        ethers.provider.getTransactionReceipt(victim.hash),
      ]);
      expect(victimReceipt!.blockNumber).to.equal(frontRunReceipt!.blockNumber);
      expect(frontRunReceipt!.index).to.be.lessThan(victimReceipt!.index); // the front-run went first
      expect(frontRunReceipt!.status).to.equal(1);
      expect(victimReceipt!.status).to.equal(0); // … and the user's request was refused
      // The refusal is CostAboveMax(cost at the new prices, the quote the user agreed to).
      const deadline = BigInt(await time.latest()) + 600n;
      await expect(market.connect(user).openRequest(user.address, BRAIN, 10, 20, deadline, quoted))
        .to.be.revertedWithCustomError(market, "CostAboveMax")
        .withArgs(DEPOSIT, quoted);
      expect(await market.balanceOf(user.address)).to.equal(DEPOSIT);
      expect(await market.lastRequestId()).to.equal(0n);

      // The same attack on an app's allowance: the app passes the quote it got, the allowance stays.
      await market.connect(user).authorize(app.address, DEPOSIT);
      await expect(market.connect(app).openRequest(user.address, BRAIN, 10, 20, deadline, quoted))
        .to.be.revertedWithCustomError(market, "CostAboveMax")
        .withArgs(DEPOSIT, quoted);
      expect(await market.allowance(user.address, app.address)).to.equal(DEPOSIT);
      expect(await market.balanceOf(user.address)).to.equal(DEPOSIT);
      // Nothing was escrowed, so the Brain's gateway has nothing to settle.
      await expect(market.connect(gateway).settle(1n, 20, JOB(1n), RESULT, "0x"))
        .to.be.revertedWithCustomError(market, "RequestNotOpen")
        .withArgs(1n, Status.None);
    });

    it("honest path: prices unchanged, the request opens and escrows exactly the quote (maxCost == cost is accepted, one wei less is not)", async function () {
      const { market, registry, user, app } = await loadFixture(deployMarket);
      const quoted = await quoteNow(market, registry);
      const deadline = BigInt(await time.latest()) + 600n;
      await expect(market.connect(user).openRequest(user.address, BRAIN, 10, 20, deadline, quoted - 1n))
        .to.be.revertedWithCustomError(market, "CostAboveMax")
        .withArgs(quoted, quoted - 1n);
      await expect(market.connect(user).openRequest(user.address, BRAIN, 10, 20, deadline, quoted))
        .to.emit(market, "RequestOpened")
        .withArgs(1n, user.address, BRAIN, 10, 20, quoted, deadline);
      expect((await market.getRequest(1n)).escrow).to.equal(quoted);
      expect(await market.balanceOf(user.address)).to.equal(DEPOSIT - quoted);
      await market.connect(user).authorize(app.address, quoted);
      await expect(market.connect(app).openRequest(user.address, BRAIN, 10, 20, deadline, quoted))
        .to.emit(market, "AllowanceSpent")
        .withArgs(user.address, app.address, quoted, 0n);
      // A Brain without prices escrows 0, which any maxCost (0 included) accepts.
      await expect(market.connect(user).openRequest(user.address, 1n, 10, 20, deadline, 0n))
        .to.emit(market, "RequestOpened")
        .withArgs(3n, user.address, 1n, 10, 20, 0n, deadline);
    });

    it("a price drop after the quote: the request escrows the lower cost, not the maxCost", async function () {
      const { market, registry, user, carol } = await loadFixture(deployMarket);
      const quoted = await quoteNow(market, registry);
      await registry
        .connect(carol)
        .setPricing(BRAIN, PROMPT_PRICE / 2n, COMPLETION_PRICE / 2n, CONTEXT_LIMIT);
      const lower = quoteEscrow(
        { promptPricePer1k: PROMPT_PRICE / 2n, completionPricePer1k: COMPLETION_PRICE / 2n },
        10,
        20,
      );
      expect(lower).to.be.lessThan(quoted);
      const deadline = BigInt(await time.latest()) + 600n;
      await expect(market.connect(user).openRequest(user.address, BRAIN, 10, 20, deadline, quoted))
        .to.emit(market, "RequestOpened")
        .withArgs(1n, user.address, BRAIN, 10, 20, lower, deadline);
      expect(await market.balanceOf(user.address)).to.equal(DEPOSIT - lower);
      const r = await market.getRequest(1n);
      expect([r.escrow, r.promptPricePer1k, r.completionPricePer1k]).to.deep.equal([
        lower,
        PROMPT_PRICE / 2n,
        COMPLETION_PRICE / 2n,
      ]);
    });
  });

  describe("settle", function () {
    it("pays the miner and the Brain owner for the units used and refunds the rest: miner + owner + refund = escrow", async function () {
      const { market, based, user, gateway, frank, ownerPayee, open, sign } = await loadFixture(deployMarket);
      const { requestId } = await open({ promptUnits: 10, maxCompletionUnits: 20 });
      const escrow = 50_000_000_000_001n;
      // 10 × (1e15 + 7) + 7 × (2e15 + 3) = 2.4e16 + 91 → 2.4e13 + 1 wei; the owner takes 25 %, rounded down.
      const cost = 24_000_000_000_001n;
      const ownerCut = 6_000_000_000_000n;
      const minerPay = cost - ownerCut;
      const refund = escrow - cost;
      const request = await market.getRequest(requestId);
      expect(
        quoteSettlement(
          {
            escrow: request.escrow,
            promptUnits: Number(request.promptUnits),
            promptPricePer1k: request.promptPricePer1k,
            completionPricePer1k: request.completionPricePer1k,
            ownerBps: Number(request.ownerBps),
          },
          7,
        ),
      ).to.deep.equal({ cost, ownerCut, minerPay, refund });
      const freeBefore = await market.balanceOf(user.address);

      const tx = await market
        .connect(gateway)
        .settle(requestId, 7, JOB(requestId), RESULT, await sign(JOB(requestId), RESULT));
      await expect(tx)
        .to.emit(market, "Settled")
        .withArgs(requestId, frank.address, 7, cost, ownerCut, refund, JOB(requestId), RESULT);
      await expect(tx).to.changeTokenBalances(
        based,
        [market, frank, ownerPayee, user],
        [-cost, minerPay, ownerCut, 0n],
      );
      expect(minerPay + ownerCut + refund).to.equal(escrow);
      expect(await market.balanceOf(user.address)).to.equal(freeBefore + refund);
      const r = await market.getRequest(requestId);
      expect(r.status).to.equal(Status.Settled);
      expect(r.completionUnits).to.equal(7n);
    });

    it("settling for all the completion units escrowed pays exactly the escrow and refunds nothing", async function () {
      const { market, gateway, frank, open, sign } = await loadFixture(deployMarket);
      const { requestId } = await open({ promptUnits: 10, maxCompletionUnits: 20 });
      const escrow = 50_000_000_000_001n;
      await expect(
        market
          .connect(gateway)
          .settle(requestId, 20, JOB(requestId), RESULT, await sign(JOB(requestId), RESULT)),
      )
        .to.emit(market, "Settled")
        .withArgs(requestId, frank.address, 20, escrow, escrow / 4n, 0n, JOB(requestId), RESULT);
    });

    it("only the Brain's current gateway settles; a Brain without one cannot", async function () {
      const { market, carol, gateway, stranger, open, sign } = await loadFixture(deployMarket);
      const { requestId } = await open();
      const signature = await sign(JOB(requestId), RESULT);
      for (const caller of [stranger, carol]) {
        await expect(market.connect(caller).settle(requestId, 1, JOB(requestId), RESULT, signature))
          .to.be.revertedWithCustomError(market, "NotGateway")
          .withArgs(BRAIN, caller.address, gateway.address);
      }
      await market.connect(carol).setGateway(BRAIN, ethers.ZeroAddress);
      await expect(market.connect(gateway).settle(requestId, 1, JOB(requestId), RESULT, signature))
        .to.be.revertedWithCustomError(market, "NotGateway")
        .withArgs(BRAIN, gateway.address, ethers.ZeroAddress);
      await market.connect(carol).setGateway(BRAIN, stranger.address); // the new gateway may
      await expect(market.connect(stranger).settle(requestId, 1, JOB(requestId), RESULT, signature)).to.emit(
        market,
        "Settled",
      );
    });

    it("refuses a second settlement, and settling a request that does not exist (id 0 included)", async function () {
      const { market, gateway, open, sign } = await loadFixture(deployMarket);
      const { requestId } = await open();
      const signature = await sign(JOB(requestId), RESULT);
      await market.connect(gateway).settle(requestId, 3, JOB(requestId), RESULT, signature);
      await expect(market.connect(gateway).settle(requestId, 3, JOB(requestId), RESULT, signature))
        .to.be.revertedWithCustomError(market, "RequestNotOpen")
        .withArgs(requestId, Status.Settled);
      for (const id of [0n, 42n]) {
        await expect(market.connect(gateway).settle(id, 0, JOB(id), RESULT, await sign(JOB(id), RESULT)))
          .to.be.revertedWithCustomError(market, "RequestNotOpen")
          .withArgs(id, Status.None);
      }
    });

    it("settles up to the deadline, not after it", async function () {
      const { market, gateway, open, sign } = await loadFixture(deployMarket);
      const a = await open({ deadlineIn: 600n });
      const b = await open({ deadlineIn: 600n }); // a block later: its deadline is a second later
      const [signA, signB] = [await sign(JOB(a.requestId), RESULT), await sign(JOB(b.requestId), RESULT)];
      await time.setNextBlockTimestamp(a.deadline);
      await expect(market.connect(gateway).settle(a.requestId, 1, JOB(a.requestId), RESULT, signA)).to.emit(
        market,
        "Settled",
      );
      await time.setNextBlockTimestamp(b.deadline + 1n);
      await expect(market.connect(gateway).settle(b.requestId, 1, JOB(b.requestId), RESULT, signB))
        .to.be.revertedWithCustomError(market, "RequestExpired")
        .withArgs(b.requestId, b.deadline);
    });

    it("refuses more completion units than escrowed", async function () {
      const { market, gateway, open, sign } = await loadFixture(deployMarket);
      const { requestId } = await open({ maxCompletionUnits: 20 });
      await expect(
        market
          .connect(gateway)
          .settle(requestId, 21, JOB(requestId), RESULT, await sign(JOB(requestId), RESULT)),
      )
        .to.be.revertedWithCustomError(market, "CompletionUnitsAboveMax")
        .withArgs(21, 20);
    });

    it("refuses a delivery signed by a validator, a stranger or a miner of another Brain", async function () {
      const { market, gateway, erin, dave, signers, open, sign } = await loadFixture(deployMarket);
      const { requestId } = await open();
      for (const [index, address] of [
        [ERIN, erin.address],
        [DAVE, dave.address],
        [10, signers[10]!.address],
      ] as const) {
        await expect(
          market
            .connect(gateway)
            .settle(requestId, 1, JOB(requestId), RESULT, await sign(JOB(requestId), RESULT, index)),
        )
          .to.be.revertedWithCustomError(market, "NotAMiner")
          .withArgs(BRAIN, address);
      }
      expect((await market.getRequest(requestId)).status).to.equal(Status.Open);
    });

    it("attack: a delivery that settled request A cannot settle request B (DeliveryAlreadyUsed)", async function () {
      const { market, gateway, frank, open, sign } = await loadFixture(deployMarket);
      const a = await open();
      const b = await open();
      // The miner signs the job it was given and its result, not a request: the digest names no
      // request, so only the contract's record of used deliveries stops a second payment with it.
      const job = JOB(a.requestId);
      const delivery = await sign(job, RESULT);
      const digest = await market.deliveryDigest(BRAIN, job, RESULT);
      expect(await market.deliveryUsed(digest)).to.equal(false);
      await expect(market.connect(gateway).settle(a.requestId, 1, job, RESULT, delivery))
        .to.emit(market, "Settled")
        .withArgs(a.requestId, frank.address, 1, anyValue, anyValue, anyValue, job, RESULT);
      expect(await market.deliveryUsed(digest)).to.equal(true);
      await expect(market.connect(gateway).settle(b.requestId, 20, job, RESULT, delivery))
        .to.be.revertedWithCustomError(market, "DeliveryAlreadyUsed")
        .withArgs(digest);
      expect((await market.getRequest(b.requestId)).status).to.equal(Status.Open);
      // A refused settlement does not use a delivery up: B settles with its own job's delivery.
      await expect(
        market
          .connect(gateway)
          .settle(b.requestId, 1, JOB(b.requestId), RESULT, await sign(JOB(b.requestId), RESULT)),
      ).to.emit(market, "Settled");
    });

    it("a refused settlement does not use its delivery up", async function () {
      const { market, gateway, open, sign } = await loadFixture(deployMarket);
      const { requestId } = await open({ maxCompletionUnits: 20 });
      const job = JOB(requestId);
      const delivery = await sign(job, RESULT);
      await expect(
        market.connect(gateway).settle(requestId, 21, job, RESULT, delivery),
      ).to.be.revertedWithCustomError(market, "CompletionUnitsAboveMax");
      expect(await market.deliveryUsed(await market.deliveryDigest(BRAIN, job, RESULT))).to.equal(false);
      await expect(market.connect(gateway).settle(requestId, 20, job, RESULT, delivery)).to.emit(
        market,
        "Settled",
      );
    });

    it("a miner's delivery settles only with its job and result, for its Brain, at this market", async function () {
      const { market, gateway, frank, open, sign, based, registry, network } =
        await loadFixture(deployMarket);
      const { requestId } = await open();
      const job = JOB(requestId);
      const delivery = await sign(job, RESULT);
      const other = await ethers.deployContract("ComputeMarket", [
        await based.getAddress(),
        await registry.getAddress(),
        await network.getAddress(),
      ]);
      const forOtherMarket = await sign(job, RESULT, FRANK, {
        verifyingContract: (await other.getAddress()) as Address,
      });
      // Signed by Brain 3's miner, but for Brain 2: it must not pay on a Brain 3 request.
      const forOtherBrain = await sign(job, RESULT, FRANK, { brainId: OTHER_BRAIN });
      for (const [jobHash, result, signature] of [
        [keccak256(toHex("another job")), RESULT, delivery],
        [job, keccak256(toHex("another answer")), delivery],
        [job, RESULT, forOtherMarket],
        [job, RESULT, forOtherBrain],
      ] as const) {
        // The signature recovers to some unrelated address, which is no miner.
        await expect(
          market.connect(gateway).settle(requestId, 1, jobHash, result, signature),
        ).to.be.revertedWithCustomError(market, "NotAMiner");
      }
      await expect(market.connect(gateway).settle(requestId, 1, job, RESULT, delivery))
        .to.emit(market, "Settled")
        .withArgs(requestId, frank.address, 1, anyValue, anyValue, anyValue, job, RESULT);
    });

    it("refuses the malleable (high-s) twin of a valid signature, and malformed signatures", async function () {
      const { market, gateway, open, sign } = await loadFixture(deployMarket);
      const { requestId } = await open();
      const good = await sign(JOB(requestId), RESULT);
      const r = slice(good, 0, 32);
      const s = BigInt(slice(good, 32, 64));
      const v = Number(BigInt(slice(good, 64, 65)));
      const highS = numberToHex(SECP256K1_N - s, { size: 32 });
      const twin = concat([r, highS, numberToHex(v === 27 ? 28 : 27, { size: 1 })]);
      await expect(market.connect(gateway).settle(requestId, 1, JOB(requestId), RESULT, twin))
        .to.be.revertedWithCustomError(market, "ECDSAInvalidSignatureS")
        .withArgs(highS);
      await expect(market.connect(gateway).settle(requestId, 1, JOB(requestId), RESULT, slice(good, 0, 64)))
        .to.be.revertedWithCustomError(market, "ECDSAInvalidSignatureLength")
        .withArgs(64);
      await expect(
        market
          .connect(gateway)
          .settle(requestId, 1, JOB(requestId), RESULT, concat([r, numberToHex(s, { size: 32 }), "0x1d"])),
      ).to.be.revertedWithCustomError(market, "ECDSAInvalidSignature");
      await expect(market.connect(gateway).settle(requestId, 1, JOB(requestId), RESULT, good)).to.emit(
        market,
        "Settled",
      );
    });

    it("a price or split change after a request opened does not touch it", async function () {
      const { market, registry, carol, gateway, frank, open, sign } = await loadFixture(deployMarket);
      const { requestId } = await open({ promptUnits: 10, maxCompletionUnits: 20 });
      await registry.connect(carol).setPricing(BRAIN, PROMPT_PRICE * 100n, COMPLETION_PRICE * 100n, 16);
      await registry.connect(carol).setSplit(BRAIN, 9_000, 1_000, 0);
      const r = await market.getRequest(requestId);
      expect([r.promptPricePer1k, r.completionPricePer1k, r.ownerBps]).to.deep.equal([
        PROMPT_PRICE,
        COMPLETION_PRICE,
        2_500n,
      ]);
      await expect(
        market
          .connect(gateway)
          .settle(requestId, 7, JOB(requestId), RESULT, await sign(JOB(requestId), RESULT)),
      )
        .to.emit(market, "Settled")
        .withArgs(
          requestId,
          frank.address,
          7,
          24_000_000_000_001n,
          6_000_000_000_000n,
          50_000_000_000_001n - 24_000_000_000_001n,
          JOB(requestId),
          RESULT,
        );
    });

    it("a Brain deactivated after the request opened cannot settle it; the account reclaims it after the deadline", async function () {
      const { market, carol, gateway, user, mirror, open, sign } = await loadFixture(deployMarket);
      const { requestId, deadline } = await open();
      await mirror(BRAIN, carol.address, { active: false });
      await expect(
        market
          .connect(gateway)
          .settle(requestId, 1, JOB(requestId), RESULT, await sign(JOB(requestId), RESULT)),
      )
        .to.be.revertedWithCustomError(market, "BrainNotActive")
        .withArgs(BRAIN);
      await time.increaseTo(deadline + 1n);
      await expect(market.reclaim(requestId)).to.emit(market, "Reclaimed");
      expect(await market.balanceOf(user.address)).to.equal(DEPOSIT);
    });
  });

  describe("reclaim", function () {
    it("refused up to the deadline; after it anyone returns the whole escrow to the account; Reclaimed", async function () {
      const { market, based, user, stranger, open } = await loadFixture(deployMarket);
      const { requestId, deadline } = await open();
      const escrow = (await market.getRequest(requestId)).escrow;
      await expect(market.connect(user).reclaim(requestId))
        .to.be.revertedWithCustomError(market, "RequestNotExpired")
        .withArgs(requestId, deadline);
      await time.setNextBlockTimestamp(deadline);
      await expect(market.connect(user).reclaim(requestId))
        .to.be.revertedWithCustomError(market, "RequestNotExpired")
        .withArgs(requestId, deadline);
      const tx = await market.connect(stranger).reclaim(requestId);
      await expect(tx).to.emit(market, "Reclaimed").withArgs(requestId, user.address, escrow);
      await expect(tx).to.changeTokenBalances(based, [market, stranger, user], [0n, 0n, 0n]);
      expect(await market.balanceOf(user.address)).to.equal(DEPOSIT);
      expect(await market.balanceOf(stranger.address)).to.equal(0n);
      expect((await market.getRequest(requestId)).status).to.equal(Status.Reclaimed);
    });

    it("a request is reclaimed once, never after a settlement, and a reclaimed one cannot be settled", async function () {
      const { market, gateway, open, sign } = await loadFixture(deployMarket);
      const settled = await open();
      const reclaimed = await open();
      await market
        .connect(gateway)
        .settle(
          settled.requestId,
          1,
          JOB(settled.requestId),
          RESULT,
          await sign(JOB(settled.requestId), RESULT),
        );
      await time.increaseTo(reclaimed.deadline + 1n);
      await market.reclaim(reclaimed.requestId);
      await expect(market.reclaim(reclaimed.requestId))
        .to.be.revertedWithCustomError(market, "RequestNotOpen")
        .withArgs(reclaimed.requestId, Status.Reclaimed);
      await expect(market.reclaim(settled.requestId))
        .to.be.revertedWithCustomError(market, "RequestNotOpen")
        .withArgs(settled.requestId, Status.Settled);
      await expect(market.reclaim(77n))
        .to.be.revertedWithCustomError(market, "RequestNotOpen")
        .withArgs(77n, Status.None);
    });
  });

  describe("refund", function () {
    it("the gateway returns the whole escrow to the account's free balance at once, before the deadline or after it; Refunded", async function () {
      const { market, based, user, gateway, open } = await loadFixture(deployMarket);
      const early = await open();
      const late = await open();
      const escrowOf = async (id: bigint) => (await market.getRequest(id)).escrow;
      const [earlyEscrow, lateEscrow] = [await escrowOf(early.requestId), await escrowOf(late.requestId)];
      expect(earlyEscrow).to.be.greaterThan(0n);
      const free = await market.balanceOf(user.address);
      const tx = await market.connect(gateway).refund(early.requestId);
      await expect(tx)
        .to.emit(market, "Refunded")
        .withArgs(early.requestId, user.address, BRAIN, earlyEscrow);
      // Within the market: no token moves, the free balance goes up by exactly the escrow.
      await expect(tx).to.changeTokenBalances(based, [market, gateway, user], [0n, 0n, 0n]);
      expect(await market.balanceOf(user.address)).to.equal(free + earlyEscrow);
      expect(await market.balanceOf(gateway.address)).to.equal(0n);
      expect((await time.latest()) < early.deadline).to.equal(true);
      const r = await market.getRequest(early.requestId);
      expect(r.status).to.equal(Status.Refunded);
      expect(r.escrow).to.equal(earlyEscrow); // the record keeps what it held
      // After the deadline the gateway may still refund (sooner than waiting for someone to reclaim).
      await time.increaseTo(late.deadline + 1n);
      await expect(market.connect(gateway).refund(late.requestId))
        .to.emit(market, "Refunded")
        .withArgs(late.requestId, user.address, BRAIN, lateEscrow);
      expect(await market.balanceOf(user.address)).to.equal(DEPOSIT);
    });

    it("attack: the user cancels after receiving work — only the Brain's current gateway may refund", async function () {
      const { market, carol, bob, user, app, gateway, stranger, open } = await loadFixture(deployMarket);
      const { requestId } = await open();
      await market.connect(user).authorize(app.address, ethers.MaxUint256);
      const { requestId: byApp } = await open({ by: app });
      // The account, the app that opened it, the Brain's wallet, a stranger: none is the gateway.
      for (const caller of [user, app, carol, stranger]) {
        for (const id of [requestId, byApp]) {
          await expect(market.connect(caller).refund(id))
            .to.be.revertedWithCustomError(market, "NotGateway")
            .withArgs(BRAIN, caller.address, gateway.address);
        }
      }
      // The gateway of another Brain is not this one's.
      await market.connect(bob).setGateway(OTHER_BRAIN, stranger.address);
      await expect(market.connect(stranger).refund(requestId))
        .to.be.revertedWithCustomError(market, "NotGateway")
        .withArgs(BRAIN, stranger.address, gateway.address);
      // A replaced gateway, and a Brain without one, refund nothing.
      await market.connect(carol).setGateway(BRAIN, ethers.ZeroAddress);
      await expect(market.connect(gateway).refund(requestId))
        .to.be.revertedWithCustomError(market, "NotGateway")
        .withArgs(BRAIN, gateway.address, ethers.ZeroAddress);
      await market.connect(carol).setGateway(BRAIN, app.address);
      await expect(market.connect(gateway).refund(requestId))
        .to.be.revertedWithCustomError(market, "NotGateway")
        .withArgs(BRAIN, gateway.address, app.address);
      expect((await market.getRequest(requestId)).status).to.equal(Status.Open);
      await expect(market.connect(app).refund(requestId)).to.emit(market, "Refunded"); // the new gateway may
    });

    it("attack: a refund is never repeated, never follows a settlement or a reclaim, and a refunded request can be neither settled nor reclaimed", async function () {
      const { market, user, gateway, open, sign } = await loadFixture(deployMarket);
      const refunded = await open();
      const settled = await open();
      const reclaimed = await open();
      await market.connect(gateway).refund(refunded.requestId);
      const free = await market.balanceOf(user.address);
      await expect(market.connect(gateway).refund(refunded.requestId))
        .to.be.revertedWithCustomError(market, "RequestNotOpen")
        .withArgs(refunded.requestId, Status.Refunded);
      await expect(
        market
          .connect(gateway)
          .settle(
            refunded.requestId,
            1,
            JOB(refunded.requestId),
            RESULT,
            await sign(JOB(refunded.requestId), RESULT),
          ),
      )
        .to.be.revertedWithCustomError(market, "RequestNotOpen")
        .withArgs(refunded.requestId, Status.Refunded);
      await market
        .connect(gateway)
        .settle(
          settled.requestId,
          1,
          JOB(settled.requestId),
          RESULT,
          await sign(JOB(settled.requestId), RESULT),
        );
      await expect(market.connect(gateway).refund(settled.requestId))
        .to.be.revertedWithCustomError(market, "RequestNotOpen")
        .withArgs(settled.requestId, Status.Settled);
      await time.increaseTo(reclaimed.deadline + 1n);
      await expect(market.reclaim(refunded.requestId))
        .to.be.revertedWithCustomError(market, "RequestNotOpen")
        .withArgs(refunded.requestId, Status.Refunded);
      await market.reclaim(reclaimed.requestId);
      await expect(market.connect(gateway).refund(reclaimed.requestId))
        .to.be.revertedWithCustomError(market, "RequestNotOpen")
        .withArgs(reclaimed.requestId, Status.Reclaimed);
      for (const id of [0n, 77n]) {
        await expect(market.connect(gateway).refund(id))
          .to.be.revertedWithCustomError(market, "RequestNotOpen")
          .withArgs(id, Status.None);
      }
      // None of the refused calls moved anything; the settlement's refund and the reclaim did.
      const cost = await market.quote(PROMPT_PRICE, COMPLETION_PRICE, 10, 1);
      expect(await market.balanceOf(user.address)).to.equal(DEPOSIT - cost);
      expect(free).to.equal(DEPOSIT - 2n * (await market.getRequest(settled.requestId)).escrow);
    });

    it("a Brain deactivated after the request opened: its gateway still refunds at once", async function () {
      const { market, carol, gateway, user, mirror, open } = await loadFixture(deployMarket);
      const { requestId } = await open();
      await mirror(BRAIN, carol.address, { active: false });
      await expect(market.connect(gateway).refund(requestId)).to.emit(market, "Refunded");
      expect(await market.balanceOf(user.address)).to.equal(DEPOSIT);
    });
  });

  describe("properties", function () {
    it("the escrow rule on-chain equals quoteEscrow over the whole range of prices and units", async function () {
      const { market } = await loadFixture(deployMarket);
      const price = fc.oneof(
        fc.bigInt({ min: 0n, max: 5_000n }),
        fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }),
      );
      const units = fc.oneof(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }));
      await fc.assert(
        fc.asyncProperty(price, price, units, units, async (p, c, pu, cu) => {
          const expected = quoteEscrow({ promptPricePer1k: p, completionPricePer1k: c }, pu, cu);
          expect(await market.quote(p, c, pu, cu)).to.equal(expected);
        }),
        { numRuns: 60 },
      );
    });

    it("over random prices, units and owner shares, miner + owner + refund is exactly the escrow, and BASED is conserved", async function () {
      const price = fc.oneof(fc.bigInt({ min: 0n, max: 3_000n }), fc.bigInt({ min: 0n, max: 10n ** 19n }));
      const caseArb = fc
        .record({
          promptPrice: price,
          completionPrice: price,
          ownerBps: fc.integer({ min: 0, max: 10_000 }),
          promptUnits: fc.integer({ min: 1, max: 100_000 }),
          maxCompletionUnits: fc.integer({ min: 0, max: 100_000 }),
          used: fc.double({ min: 0, max: 1, noNaN: true }),
        })
        .map((c) => ({ ...c, completionUnits: Math.floor(c.used * c.maxCompletionUnits) }));
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const { market, based, registry, carol, gateway, user, frank, ownerPayee, sign, open } =
            await loadFixture(deployMarket);
          await market.connect(user).deposit(BASED(10_000));
          await registry
            .connect(carol)
            .setPricing(BRAIN, c.promptPrice, c.completionPrice, c.promptUnits + c.maxCompletionUnits);
          await registry.connect(carol).setSplit(BRAIN, c.ownerBps, 10_000 - c.ownerBps, 0);
          const held = async () =>
            [
              await based.balanceOf(await market.getAddress()),
              await based.balanceOf(frank.address),
              await based.balanceOf(ownerPayee.address),
              await market.balanceOf(user.address),
            ] as const;
          const [marketBefore, , , freeBefore] = await held();
          const { requestId } = await open({
            promptUnits: c.promptUnits,
            maxCompletionUnits: c.maxCompletionUnits,
          });
          const escrow = quoteEscrow(
            { promptPricePer1k: c.promptPrice, completionPricePer1k: c.completionPrice },
            c.promptUnits,
            c.maxCompletionUnits,
          );
          const [, minerBefore, ownerBefore, freeAfterOpen] = await held();
          expect(freeBefore - freeAfterOpen).to.equal(escrow);

          await market
            .connect(gateway)
            .settle(requestId, c.completionUnits, JOB(requestId), RESULT, await sign(JOB(requestId), RESULT));
          const [marketAfter, minerAfter, ownerAfter, freeAfter] = await held();
          const minerPay = minerAfter - minerBefore;
          const ownerCut = ownerAfter - ownerBefore;
          const refund = freeAfter - freeAfterOpen;
          expect(minerPay + ownerCut + refund).to.equal(escrow);
          expect(marketBefore - marketAfter).to.equal(minerPay + ownerCut); // nothing created or lost
          expect(ownerCut).to.equal(((minerPay + ownerCut) * BigInt(c.ownerBps)) / 10_000n);
          expect({ cost: minerPay + ownerCut, ownerCut, minerPay, refund }).to.deep.equal(
            quoteSettlement(
              {
                escrow,
                promptUnits: c.promptUnits,
                promptPricePer1k: c.promptPrice,
                completionPricePer1k: c.completionPrice,
                ownerBps: c.ownerBps,
              },
              c.completionUnits,
            ),
          );
        }),
        { numRuns: 25 },
      );
    });

    it("over random sequences of deposits, withdrawals, requests (own and by apps), settlements, reclaims, refunds and time, no BASED is created or lost", async function () {
      type Op =
        | { kind: "deposit"; amount: bigint }
        | { kind: "withdraw"; amount: bigint }
        | { kind: "authorize"; allowance: bigint }
        | { kind: "open"; byApp: boolean; promptUnits: number; maxCompletionUnits: number; slack: bigint }
        | { kind: "settle"; pick: number; used: number }
        | { kind: "reclaim"; pick: number }
        | { kind: "refund"; pick: number; byGateway: boolean }
        | { kind: "time"; seconds: number };
      const opArb: fc.Arbitrary<Op> = fc.oneof(
        fc.record({ kind: fc.constant("deposit" as const), amount: fc.bigInt({ min: 1n, max: BASED(50) }) }),
        fc.record({ kind: fc.constant("withdraw" as const), amount: fc.bigInt({ min: 1n, max: BASED(80) }) }),
        fc.record({
          kind: fc.constant("authorize" as const),
          allowance: fc.bigInt({ min: 0n, max: BASED(5) }),
        }),
        fc.record({
          kind: fc.constant("open" as const),
          byApp: fc.boolean(),
          promptUnits: fc.integer({ min: 1, max: 2_000 }),
          maxCompletionUnits: fc.integer({ min: 0, max: 2_000 }),
          slack: fc.bigInt({ min: -3n, max: 3n }),
        }),
        fc.record({
          kind: fc.constant("settle" as const),
          pick: fc.nat(),
          used: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
        fc.record({ kind: fc.constant("reclaim" as const), pick: fc.nat() }),
        fc.record({ kind: fc.constant("refund" as const), pick: fc.nat(), byGateway: fc.boolean() }),
        fc.record({ kind: fc.constant("time" as const), seconds: fc.integer({ min: 1, max: 900 }) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 4, maxLength: 14 }), async (ops) => {
          const { market, based, gateway, user, app, frank, ownerPayee, sign } =
            await loadFixture(deployMarket);
          const marketAddress = await market.getAddress();
          const open = new Map<bigint, { escrow: bigint; maxCompletionUnits: number }>();
          let paidOut = 0n;
          const check = async () => {
            let escrowed = 0n;
            for (const r of open.values()) escrowed += r.escrow;
            // The market holds exactly the free balances and the open escrows.
            expect(await based.balanceOf(marketAddress)).to.equal(
              (await market.balanceOf(user.address)) + escrowed,
            );
          };
          const paid = async () =>
            (await based.balanceOf(frank.address)) + (await based.balanceOf(ownerPayee.address));
          const paidBefore = await paid();
          for (const op of ops) {
            const ok = async (p: Promise<unknown>) => {
              try {
                await (await (p as Promise<{ wait(): Promise<unknown> }>)).wait();
                return true;
              } catch {
                return false;
              }
            };
            if (op.kind === "deposit") await ok(market.connect(user).deposit(op.amount));
            else if (op.kind === "withdraw") {
              const free = await market.balanceOf(user.address);
              expect(await ok(market.connect(user).withdraw(op.amount))).to.equal(op.amount <= free);
            } else if (op.kind === "authorize")
              await ok(market.connect(user).authorize(app.address, op.allowance));
            else if (op.kind === "open") {
              const deadline = BigInt(await time.latest()) + 600n;
              const quoted = quoteEscrow(
                { promptPricePer1k: PROMPT_PRICE, completionPricePer1k: COMPLETION_PRICE },
                op.promptUnits,
                op.maxCompletionUnits,
              );
              const maxCost = quoted + op.slack < 0n ? 0n : quoted + op.slack;
              const freeBefore = await market.balanceOf(user.address);
              const allowanceBefore = await market.allowance(user.address, app.address);
              const opened = await ok(
                market
                  .connect(op.byApp ? app : user)
                  .openRequest(user.address, BRAIN, op.promptUnits, op.maxCompletionUnits, deadline, maxCost),
              );
              // Never more than agreed: above maxCost, beyond the balance or the app's allowance, nothing moves.
              const allowed =
                quoted <= maxCost && quoted <= freeBefore && (!op.byApp || quoted <= allowanceBefore);
              expect(opened).to.equal(allowed);
              if (opened) {
                open.set(await market.lastRequestId(), {
                  escrow: quoted,
                  maxCompletionUnits: op.maxCompletionUnits,
                });
                expect(freeBefore - (await market.balanceOf(user.address))).to.equal(quoted);
                if (op.byApp)
                  expect(allowanceBefore - (await market.allowance(user.address, app.address))).to.equal(
                    quoted,
                  );
              } else {
                expect(await market.balanceOf(user.address)).to.equal(freeBefore);
                expect(await market.allowance(user.address, app.address)).to.equal(allowanceBefore);
              }
            } else if (op.kind === "settle" && open.size > 0) {
              const id = [...open.keys()][op.pick % open.size]!;
              const r = open.get(id)!;
              const units = Math.floor(op.used * r.maxCompletionUnits);
              const freeBefore = await market.balanceOf(user.address);
              const before = await paid();
              if (
                await ok(
                  market.connect(gateway).settle(id, units, JOB(id), RESULT, await sign(JOB(id), RESULT)),
                )
              ) {
                const toPayees = (await paid()) - before;
                const refund = (await market.balanceOf(user.address)) - freeBefore;
                expect(toPayees + refund).to.equal(r.escrow);
                paidOut += toPayees;
                open.delete(id);
              }
            } else if (op.kind === "reclaim" && open.size > 0) {
              const id = [...open.keys()][op.pick % open.size]!;
              const freeBefore = await market.balanceOf(user.address);
              if (await ok(market.reclaim(id))) {
                expect((await market.balanceOf(user.address)) - freeBefore).to.equal(open.get(id)!.escrow);
                open.delete(id);
              }
            } else if (op.kind === "refund" && open.size > 0) {
              const id = [...open.keys()][op.pick % open.size]!;
              const freeBefore = await market.balanceOf(user.address);
              const before = await paid();
              // Only the gateway refunds, at any time while open, exactly the escrow, to the account.
              expect(await ok(market.connect(op.byGateway ? gateway : user).refund(id))).to.equal(
                op.byGateway,
              );
              expect((await paid()) - before).to.equal(0n);
              if (op.byGateway) {
                expect((await market.balanceOf(user.address)) - freeBefore).to.equal(open.get(id)!.escrow);
                open.delete(id);
                expect(await ok(market.connect(gateway).refund(id))).to.equal(false);
              } else expect(await market.balanceOf(user.address)).to.equal(freeBefore);
            } else if (op.kind === "time") await time.increase(op.seconds);
            await check();
          }
          expect((await paid()) - paidBefore).to.equal(paidOut);
        }),
        { numRuns: 20 },
      );
    });
  });
});
