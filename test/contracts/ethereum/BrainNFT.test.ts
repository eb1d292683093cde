import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { BrainNFT, BrainReceiverMock } from "../../../typechain-types";
import {
  burned499,
  burnPriceAfter,
  burnSum,
  Class,
  DEAD,
  deployBrains,
  filled,
  fund,
  LOCK,
  metadata,
  mintMany,
  PEPE,
  RESERVED_IDS,
  STAKE,
  trait,
} from "./helpers";

/** BrainReceiverMock.Mode */
const Mode = { Accept: 0, Reject: 1, Revert: 2, ReenterBurn: 3, ReenterStake: 4, ReenterDeactivate: 5 };

/** Id of the Brain minted by a transaction, read from its BrainMinted event. */
async function mintedId(brain: BrainNFT, tx: { wait(): Promise<unknown> }): Promise<bigint> {
  const receipt = (await tx.wait()) as { logs: { topics: readonly string[]; data: string }[] };
  for (const log of receipt.logs) {
    const parsed = brain.interface.parseLog(log);
    if (parsed?.name === "BrainMinted") return parsed.args[0] as bigint;
  }
  throw new Error("no BrainMinted event");
}

/** Mints one stake Brain for `who` and returns its id and unlock time. */
async function stakeMint(
  brain: BrainNFT,
  who: HardhatEthersSigner,
): Promise<{ id: bigint; unlockAt: bigint }> {
  const id = await mintedId(brain, await brain.connect(who).mintByStake());
  return { id, unlockAt: (await brain.brainInfo(id)).unlockAt };
}

async function burnMint(brain: BrainNFT, who: HardhatEthersSigner): Promise<bigint> {
  return mintedId(brain, await brain.connect(who).mintByBurn(ethers.MaxUint256));
}

/** Both ERC-721 safeTransferFrom overloads: without `data`, and with it when given. */
function safeTransfer(
  brain: BrainNFT,
  who: HardhatEthersSigner,
  from: string,
  to: string,
  id: bigint | number,
  data?: string,
) {
  const b = brain.connect(who);
  return data === undefined
    ? b["safeTransferFrom(address,address,uint256)"](from, to, id)
    : b["safeTransferFrom(address,address,uint256,bytes)"](from, to, id, data);
}

describe("BrainNFT", function () {
  describe("deployment", function () {
    it("gives the reserved Brains #0–#6 and #47 to labs as class Reserved; activeSupply is 8", async function () {
      const { brain, labs } = await loadFixture(deployBrains);
      for (const id of RESERVED_IDS) {
        expect(await brain.ownerOf(id)).to.equal(labs.address);
        const info = await brain.brainInfo(id);
        expect(info.owner).to.equal(labs.address);
        expect(info.class).to.equal(Class.Reserved);
        expect(info.unlockAt).to.equal(0n);
        expect(info.basedWallet).to.equal(labs.address);
      }
      expect(await brain.balanceOf(labs.address)).to.equal(8n);
      expect(await brain.activeSupply()).to.equal(8n);
      expect(await brain.burnMints()).to.equal(0n);
      for (const id of [7, 46, 48, 1023]) {
        await expect(brain.ownerOf(id))
          .to.be.revertedWithCustomError(brain, "ERC721NonexistentToken")
          .withArgs(id);
      }
    });

    it("emits BrainMinted(Reserved, paid 0) and Transfer from zero for each reserved Brain", async function () {
      const { brain, labs } = await loadFixture(deployBrains);
      const tx = brain.deploymentTransaction();
      if (tx === null) throw new Error("no deployment transaction");
      for (const id of RESERVED_IDS) {
        await expect(tx).to.emit(brain, "BrainMinted").withArgs(id, labs.address, Class.Reserved, 0n, 0n);
        await expect(tx).to.emit(brain, "Transfer").withArgs(ethers.ZeroAddress, labs.address, id);
      }
    });

    it("fixes the rules in constants: MAX_BRAINS 1024, STAKE_AMOUNT 100,000 PEPE, STAKE_LOCK 90 days", async function () {
      const { brain, pepe, labs } = await loadFixture(deployBrains);
      expect(await brain.MAX_BRAINS()).to.equal(1024n);
      expect(await brain.STAKE_AMOUNT()).to.equal(PEPE(100_000));
      expect(await brain.STAKE_LOCK()).to.equal(90n * 86_400n);
      expect(await brain.BURN_BASE_PRICE()).to.equal(PEPE(1_000));
      expect(await brain.BURN_PRICE_STEP()).to.equal(PEPE(200));
      expect(await brain.BURN_ADDRESS()).to.equal(DEAD);
      expect(await brain.pepecoin()).to.equal(await pepe.getAddress());
      expect(await brain.labs()).to.equal(labs.address);
      expect(await brain.name()).to.equal("BasedAI Brain");
      expect(await brain.symbol()).to.equal("BRAIN");
      expect(await brain.supportsInterface("0x80ac58cd")).to.equal(true); // ERC-721
      expect(await brain.supportsInterface("0x5b5e139f")).to.equal(true); // ERC-721 metadata
    });

    it("refuses a zero Pepecoin address and a zero labs address (ZeroAddress)", async function () {
      const { brain, pepe, labs } = await loadFixture(deployBrains);
      const factory = await ethers.getContractFactory("BrainNFT");
      const pepeAddr = await pepe.getAddress();
      await expect(factory.deploy(ethers.ZeroAddress, labs.address)).to.be.revertedWithCustomError(
        brain,
        "ZeroAddress",
      );
      await expect(factory.deploy(pepeAddr, ethers.ZeroAddress)).to.be.revertedWithCustomError(
        brain,
        "ZeroAddress",
      );
    });
  });

  describe("burn mint", function () {
    it("costs 1,000 then 1,200 then 1,400 PEPE for the 1st, 2nd and 3rd burn mints", async function () {
      const { brain, pepe, brainAddr, alice, bob } = await loadFixture(deployBrains);
      const prices = [PEPE(1_000), PEPE(1_200), PEPE(1_400)];
      for (const [k, price] of prices.entries()) {
        expect(await brain.burnPrice()).to.equal(price);
        const who = k === 1 ? bob : alice;
        await expect(brain.connect(who).mintByBurn(ethers.MaxUint256)).to.changeTokenBalances(
          pepe,
          [who.address, DEAD, brainAddr],
          [-price, price, 0n],
        );
        expect(await brain.burnMints()).to.equal(BigInt(k + 1));
      }
      expect(await brain.burnPrice()).to.equal(PEPE(1_600));
    });

    it("costs 100,800 PEPE for the 500th burn mint (499 real burn mints before it)", async function () {
      const { brain, pepe, brainAddr, alice, carol } = await loadFixture(burned499);
      expect(await brain.burnMints()).to.equal(499n);
      expect(await pepe.balanceOf(DEAD)).to.equal(burnSum(499));
      expect(await pepe.balanceOf(DEAD)).to.equal(PEPE(25_349_200));
      expect(await brain.burnPrice()).to.equal(PEPE(100_800));
      // ids 7…46 and 48…506 are taken, so the 500th burn Brain is #507.
      expect(await brain.ownerOf(506)).to.equal(alice.address);
      const mint = brain.connect(carol).mintByBurn(PEPE(100_800));
      await expect(mint).to.changeTokenBalances(
        pepe,
        [carol.address, DEAD, brainAddr],
        [-PEPE(100_800), PEPE(100_800), 0n],
      );
      await expect(mint)
        .to.emit(brain, "BrainMinted")
        .withArgs(507n, carol.address, Class.Burn, PEPE(100_800), 0n);
      expect(await brain.burnMints()).to.equal(500n);
      expect(await brain.burnPrice()).to.equal(PEPE(101_000));
    });

    it("sends the burned PEPE to 0x…dEaD: payer −price, dEaD +price, contract unchanged", async function () {
      const { brain, pepe, brainAddr, alice } = await loadFixture(deployBrains);
      await burnMint(brain, alice); // a later mint, so dEaD already holds PEPE
      const price = await brain.burnPrice();
      const mint = brain.connect(alice).mintByBurn(price);
      await expect(mint).to.changeTokenBalances(pepe, [alice.address, DEAD, brainAddr], [-price, price, 0n]);
      await expect(mint).to.emit(pepe, "Transfer").withArgs(alice.address, DEAD, price);
      expect(await pepe.balanceOf(brainAddr)).to.equal(0n);
    });

    it("mints a transferable Burn Brain to the payer and emits BrainMinted(id, owner, Burn, price, 0)", async function () {
      const { brain, alice } = await loadFixture(deployBrains);
      const mint = brain.connect(alice).mintByBurn(PEPE(1_000));
      await expect(mint)
        .to.emit(brain, "BrainMinted")
        .withArgs(7n, alice.address, Class.Burn, PEPE(1_000), 0n);
      await expect(mint).to.emit(brain, "Transfer").withArgs(ethers.ZeroAddress, alice.address, 7n);
      const info = await brain.brainInfo(7);
      expect(info.owner).to.equal(alice.address);
      expect(info.class).to.equal(Class.Burn);
      expect(info.unlockAt).to.equal(0n);
      expect(info.basedWallet).to.equal(alice.address);
      expect(await brain.activeSupply()).to.equal(9n);
    });

    it("returns the new id from mintByBurn", async function () {
      const { brain, alice } = await loadFixture(deployBrains);
      expect(await brain.connect(alice).mintByBurn.staticCall(ethers.MaxUint256)).to.equal(7n);
    });

    it("refuses when the price is above maxPrice with BurnPriceAboveMax(price, maxPrice); maxPrice == price is accepted", async function () {
      const { brain, alice, bob } = await loadFixture(deployBrains);
      await expect(brain.connect(alice).mintByBurn(PEPE(1_000) - 1n))
        .to.be.revertedWithCustomError(brain, "BurnPriceAboveMax")
        .withArgs(PEPE(1_000), PEPE(1_000) - 1n);
      // alice quoted 1,000 but bob's mint lands first: her mint must not pay 1,200.
      const quoted = await brain.burnPrice();
      await brain.connect(bob).mintByBurn(quoted);
      await expect(brain.connect(alice).mintByBurn(quoted))
        .to.be.revertedWithCustomError(brain, "BurnPriceAboveMax")
        .withArgs(PEPE(1_200), PEPE(1_000));
      await expect(brain.connect(alice).mintByBurn(PEPE(1_200))).to.emit(brain, "BrainMinted");
      expect(await brain.burnMints()).to.equal(2n);
    });

    it("accepts a payer whose balance and allowance equal the price exactly", async function () {
      const { brain, pepe, brainAddr, eve } = await loadFixture(deployBrains);
      await fund(pepe, brainAddr, eve, PEPE(1_000), PEPE(1_000));
      await brain.connect(eve).mintByBurn(PEPE(1_000));
      expect(await brain.ownerOf(7)).to.equal(eve.address);
      expect(await pepe.balanceOf(eve.address)).to.equal(0n);
      expect(await pepe.allowance(eve.address, brainAddr)).to.equal(0n);
    });

    it("refuses a payer without enough PEPE with InsufficientPepe(needed, balance)", async function () {
      const { brain, pepe, brainAddr, eve } = await loadFixture(deployBrains);
      await expect(brain.connect(eve).mintByBurn(ethers.MaxUint256))
        .to.be.revertedWithCustomError(brain, "InsufficientPepe")
        .withArgs(PEPE(1_000), 0n);
      await fund(pepe, brainAddr, eve, PEPE(1_000) - 1n);
      await expect(brain.connect(eve).mintByBurn(ethers.MaxUint256))
        .to.be.revertedWithCustomError(brain, "InsufficientPepe")
        .withArgs(PEPE(1_000), PEPE(1_000) - 1n);
      expect(await brain.activeSupply()).to.equal(8n);
    });

    it("refuses a payer without enough allowance with InsufficientPepeAllowance(needed, allowance)", async function () {
      const { brain, pepe, brainAddr, eve } = await loadFixture(deployBrains);
      await pepe.mint(eve.address, PEPE(5_000));
      await expect(brain.connect(eve).mintByBurn(ethers.MaxUint256))
        .to.be.revertedWithCustomError(brain, "InsufficientPepeAllowance")
        .withArgs(PEPE(1_000), 0n);
      await pepe.connect(eve).approve(brainAddr, PEPE(999));
      await expect(brain.connect(eve).mintByBurn(ethers.MaxUint256))
        .to.be.revertedWithCustomError(brain, "InsufficientPepeAllowance")
        .withArgs(PEPE(1_000), PEPE(999));
      expect(await brain.burnMints()).to.equal(0n);
    });
  });

  describe("stake mint", function () {
    it("locks exactly 100,000 PEPE in the contract and sets unlockAt = mint time + 90 days", async function () {
      const { brain, pepe, brainAddr, alice } = await loadFixture(deployBrains);
      const mint = brain.connect(alice).mintByStake();
      await expect(mint).to.changeTokenBalances(pepe, [alice.address, brainAddr, DEAD], [-STAKE, STAKE, 0n]);
      const unlockAt = BigInt(await time.latest()) + LOCK;
      await expect(mint)
        .to.emit(brain, "BrainMinted")
        .withArgs(7n, alice.address, Class.Stake, STAKE, unlockAt);
      await expect(mint).to.emit(brain, "Transfer").withArgs(ethers.ZeroAddress, alice.address, 7n);
      const info = await brain.brainInfo(7);
      expect(info.owner).to.equal(alice.address);
      expect(info.class).to.equal(Class.Stake);
      expect(info.unlockAt).to.equal(unlockAt);
      expect(info.basedWallet).to.equal(alice.address);
      expect(await brain.activeSupply()).to.equal(9n);
    });

    it("returns the new id from mintByStake and leaves the burn price and burnMints alone", async function () {
      const { brain, alice } = await loadFixture(deployBrains);
      expect(await brain.connect(alice).mintByStake.staticCall()).to.equal(7n);
      await mintMany(brain, alice, "stake", 3);
      expect(await brain.burnMints()).to.equal(0n);
      expect(await brain.burnPrice()).to.equal(PEPE(1_000));
    });

    it("refuses a staker without 100,000 PEPE with InsufficientPepe(needed, balance)", async function () {
      const { brain, pepe, brainAddr, eve } = await loadFixture(deployBrains);
      await fund(pepe, brainAddr, eve, STAKE - 1n);
      await expect(brain.connect(eve).mintByStake())
        .to.be.revertedWithCustomError(brain, "InsufficientPepe")
        .withArgs(STAKE, STAKE - 1n);
    });

    it("refuses a staker without a 100,000 PEPE allowance with InsufficientPepeAllowance(needed, allowance)", async function () {
      const { brain, pepe, brainAddr, eve } = await loadFixture(deployBrains);
      await fund(pepe, brainAddr, eve, STAKE, STAKE - 1n);
      await expect(brain.connect(eve).mintByStake())
        .to.be.revertedWithCustomError(brain, "InsufficientPepeAllowance")
        .withArgs(STAKE, STAKE - 1n);
      await pepe.connect(eve).approve(brainAddr, STAKE);
      await brain.connect(eve).mintByStake();
      expect(await pepe.balanceOf(eve.address)).to.equal(0n);
      expect(await pepe.balanceOf(brainAddr)).to.equal(STAKE);
    });
  });

  describe("ids", function () {
    it("gives the first public mint id 7, then 8…46, then skips the reserved #47 for 48", async function () {
      const { brain, labs, alice, bob } = await loadFixture(deployBrains);
      await expect(brain.connect(alice).mintByBurn(ethers.MaxUint256))
        .to.emit(brain, "BrainMinted")
        .withArgs(7n, alice.address, Class.Burn, PEPE(1_000), 0n);
      await mintMany(brain, alice, "burn", 20);
      await mintMany(brain, alice, "stake", 19);
      for (let id = 7; id <= 46; id++) expect(await brain.ownerOf(id)).to.equal(alice.address);
      expect(await brain.connect(bob).mintByStake.staticCall()).to.equal(48n);
      await expect(brain.connect(bob).mintByStake())
        .to.emit(brain, "Transfer")
        .withArgs(ethers.ZeroAddress, bob.address, 48n);
      expect(await brain.ownerOf(47)).to.equal(labs.address);
      expect((await brain.brainInfo(47)).class).to.equal(Class.Reserved);
      expect(await burnMint(brain, bob)).to.equal(49n);
    });

    it("reuses the id of a deactivated stake Brain before any higher id", async function () {
      const { brain, alice, bob } = await loadFixture(deployBrains);
      const { id, unlockAt } = await stakeMint(brain, alice); // #7
      expect(await burnMint(brain, bob)).to.equal(8n);
      expect(await burnMint(brain, bob)).to.equal(9n);
      await time.increaseTo(unlockAt);
      await brain.connect(alice).deactivate(id);
      expect(await burnMint(brain, bob)).to.equal(7n);
      expect(await burnMint(brain, bob)).to.equal(10n);
    });

    it("a freed id keeps nothing of the deactivated Brain: class, unlock time and linked wallet are fresh", async function () {
      const { brain, alice, bob, carol } = await loadFixture(deployBrains);
      const { id, unlockAt } = await stakeMint(brain, alice);
      await brain.connect(alice).linkBasedWallet(id, carol.address);
      await time.increaseTo(unlockAt);
      await brain.connect(alice).deactivate(id);
      expect(await burnMint(brain, bob)).to.equal(id);
      const info = await brain.brainInfo(id);
      expect(info.owner).to.equal(bob.address);
      expect(info.class).to.equal(Class.Burn);
      expect(info.unlockAt).to.equal(0n);
      expect(info.basedWallet).to.equal(bob.address);
    });
  });

  describe("the 1024-Brain cap", function () {
    it("holds exactly 1024 active Brains (8 reserved, 499 burn, 517 stake), then refuses both mints with BrainCapReached(1024)", async function () {
      const { brain, pepe, brainAddr, labs, alice, bob } = await loadFixture(filled);
      expect(await brain.activeSupply()).to.equal(1024n);
      expect(await brain.balanceOf(labs.address)).to.equal(8n);
      expect(await brain.balanceOf(alice.address)).to.equal(499n);
      expect(await brain.balanceOf(bob.address)).to.equal(517n);
      expect(await brain.ownerOf(506)).to.equal(alice.address);
      expect(await brain.ownerOf(507)).to.equal(bob.address);
      expect(await brain.ownerOf(1023)).to.equal(bob.address);
      expect(await pepe.balanceOf(brainAddr)).to.equal(517n * STAKE);
      expect(await pepe.balanceOf(DEAD)).to.equal(burnSum(499));
      await expect(brain.connect(alice).mintByBurn(ethers.MaxUint256))
        .to.be.revertedWithCustomError(brain, "BrainCapReached")
        .withArgs(1024n);
      await expect(brain.connect(alice).mintByStake())
        .to.be.revertedWithCustomError(brain, "BrainCapReached")
        .withArgs(1024n);
      await expect(brain.ownerOf(1024)).to.be.revertedWithCustomError(brain, "ERC721NonexistentToken");
    });

    it("accepts a mint again after a deactivation, on the freed id, and then is full again", async function () {
      const { brain, alice, bob, carol } = await loadFixture(filled);
      await time.increase(LOCK);
      await brain.connect(bob).deactivate(800);
      expect(await brain.activeSupply()).to.equal(1023n);
      // The 500th burn mint, at 100,800 PEPE, takes the freed slot.
      await expect(brain.connect(carol).mintByBurn(PEPE(100_800)))
        .to.emit(brain, "BrainMinted")
        .withArgs(800n, carol.address, Class.Burn, PEPE(100_800), 0n);
      expect(await brain.activeSupply()).to.equal(1024n);
      await expect(brain.connect(alice).mintByStake())
        .to.be.revertedWithCustomError(brain, "BrainCapReached")
        .withArgs(1024n);
    });

    it("finds the smallest free id in any of the four 256-id words", async function () {
      const { brain, alice, bob } = await loadFixture(filled);
      await time.increase(LOCK);
      for (const id of [1023, 700, 511, 900]) await brain.connect(bob).deactivate(id);
      expect(await brain.activeSupply()).to.equal(1020n);
      for (const id of [511, 700, 900, 1023]) {
        expect((await stakeMint(brain, alice)).id).to.equal(BigInt(id));
      }
      await expect(brain.connect(alice).mintByStake()).to.be.revertedWithCustomError(
        brain,
        "BrainCapReached",
      );
    });
  });

  describe("transfers", function () {
    async function withStakeAndBurn() {
      const b = await loadFixture(deployBrains);
      const stake = await stakeMint(b.brain, b.alice); // #7
      const burnId = await burnMint(b.brain, b.alice); // #8
      return { ...b, stakeId: stake.id, burnId };
    }

    it("refuses transferFrom of a stake Brain by its owner (StakeBrainNonTransferable)", async function () {
      const { brain, alice, bob, stakeId } = await withStakeAndBurn();
      await expect(brain.connect(alice).transferFrom(alice.address, bob.address, stakeId))
        .to.be.revertedWithCustomError(brain, "StakeBrainNonTransferable")
        .withArgs(stakeId);
      expect(await brain.ownerOf(stakeId)).to.equal(alice.address);
    });

    it("refuses both safeTransferFrom overloads for a stake Brain (StakeBrainNonTransferable)", async function () {
      const { brain, alice, bob, stakeId } = await withStakeAndBurn();
      await expect(safeTransfer(brain, alice, alice.address, bob.address, stakeId))
        .to.be.revertedWithCustomError(brain, "StakeBrainNonTransferable")
        .withArgs(stakeId);
      await expect(safeTransfer(brain, alice, alice.address, bob.address, stakeId, "0x1234"))
        .to.be.revertedWithCustomError(brain, "StakeBrainNonTransferable")
        .withArgs(stakeId);
      expect(await brain.ownerOf(stakeId)).to.equal(alice.address);
    });

    it("refuses approve of a stake Brain (StakeBrainNonTransferable), but clearing the approval is allowed", async function () {
      const { brain, alice, bob, stakeId } = await withStakeAndBurn();
      await expect(brain.connect(alice).approve(bob.address, stakeId))
        .to.be.revertedWithCustomError(brain, "StakeBrainNonTransferable")
        .withArgs(stakeId);
      await expect(brain.connect(alice).approve(ethers.ZeroAddress, stakeId))
        .to.emit(brain, "Approval")
        .withArgs(alice.address, ethers.ZeroAddress, stakeId);
      expect(await brain.getApproved(stakeId)).to.equal(ethers.ZeroAddress);
    });

    it("refuses an operator's transfers of a stake Brain after setApprovalForAll (StakeBrainNonTransferable)", async function () {
      const { brain, alice, bob, carol, stakeId } = await withStakeAndBurn();
      await brain.connect(alice).setApprovalForAll(bob.address, true);
      await expect(brain.connect(bob).transferFrom(alice.address, carol.address, stakeId))
        .to.be.revertedWithCustomError(brain, "StakeBrainNonTransferable")
        .withArgs(stakeId);
      await expect(safeTransfer(brain, bob, alice.address, bob.address, stakeId))
        .to.be.revertedWithCustomError(brain, "StakeBrainNonTransferable")
        .withArgs(stakeId);
      expect(await brain.ownerOf(stakeId)).to.equal(alice.address);
    });

    it("moves burn Brains with transferFrom, both safeTransferFroms, approve and operator approval", async function () {
      const { brain, alice, bob, carol, dave, burnId } = await withStakeAndBurn();
      await expect(brain.connect(alice).transferFrom(alice.address, bob.address, burnId))
        .to.emit(brain, "Transfer")
        .withArgs(alice.address, bob.address, burnId);
      await safeTransfer(brain, bob, bob.address, carol.address, burnId);
      expect(await brain.ownerOf(burnId)).to.equal(carol.address);
      await safeTransfer(brain, carol, carol.address, dave.address, burnId, "0x");
      expect(await brain.ownerOf(burnId)).to.equal(dave.address);
      await brain.connect(dave).approve(alice.address, burnId);
      await brain.connect(alice).transferFrom(dave.address, alice.address, burnId);
      expect(await brain.ownerOf(burnId)).to.equal(alice.address);
      expect(await brain.getApproved(burnId)).to.equal(ethers.ZeroAddress);
      await brain.connect(alice).setApprovalForAll(bob.address, true);
      await brain.connect(bob).transferFrom(alice.address, carol.address, burnId);
      expect(await brain.ownerOf(burnId)).to.equal(carol.address);
      expect((await brain.brainInfo(burnId)).class).to.equal(Class.Burn);
      expect(await brain.activeSupply()).to.equal(10n);
    });

    it("moves reserved Brains like any ERC-721", async function () {
      const { brain, labs, alice } = await withStakeAndBurn();
      await brain.connect(labs).transferFrom(labs.address, alice.address, 3);
      await safeTransfer(brain, labs, labs.address, alice.address, 47);
      expect(await brain.ownerOf(3)).to.equal(alice.address);
      expect(await brain.ownerOf(47)).to.equal(alice.address);
      expect((await brain.brainInfo(47)).class).to.equal(Class.Reserved);
    });

    it("still refuses transfers by someone neither owner nor approved (ERC721InsufficientApproval)", async function () {
      const { brain, alice, bob, burnId } = await withStakeAndBurn();
      await expect(brain.connect(bob).transferFrom(alice.address, bob.address, burnId))
        .to.be.revertedWithCustomError(brain, "ERC721InsufficientApproval")
        .withArgs(bob.address, burnId);
    });

    it("refuses approve of an id that does not exist, inside and beyond 0…1023 (ERC721NonexistentToken)", async function () {
      const { brain, alice } = await withStakeAndBurn();
      for (const id of [9n, 1023n, 1024n, 5000n, ethers.MaxUint256]) {
        await expect(brain.connect(alice).approve(alice.address, id))
          .to.be.revertedWithCustomError(brain, "ERC721NonexistentToken")
          .withArgs(id);
      }
    });
  });

  describe("deactivate", function () {
    it("refuses before 90 days with StakeLocked(id, unlockAt)", async function () {
      const { brain, alice } = await loadFixture(deployBrains);
      const { id, unlockAt } = await stakeMint(brain, alice);
      await expect(brain.connect(alice).deactivate(id))
        .to.be.revertedWithCustomError(brain, "StakeLocked")
        .withArgs(id, unlockAt);
      await time.increase(LOCK / 2n);
      await expect(brain.connect(alice).deactivate(id))
        .to.be.revertedWithCustomError(brain, "StakeLocked")
        .withArgs(id, unlockAt);
    });

    it("refuses one second before unlockAt and accepts at unlockAt exactly", async function () {
      const { brain, alice } = await loadFixture(deployBrains);
      const { id, unlockAt } = await stakeMint(brain, alice);
      // An explicit gas limit skips estimation, so the transaction really runs in a block at that time.
      await time.setNextBlockTimestamp(unlockAt - 1n);
      await expect(brain.connect(alice).deactivate(id, { gasLimit: 200_000 }))
        .to.be.revertedWithCustomError(brain, "StakeLocked")
        .withArgs(id, unlockAt);
      expect(BigInt(await time.latest())).to.equal(unlockAt - 1n);
      await time.setNextBlockTimestamp(unlockAt);
      await expect(brain.connect(alice).deactivate(id, { gasLimit: 200_000 })).to.emit(
        brain,
        "BrainDeactivated",
      );
      expect(BigInt(await time.latest())).to.equal(unlockAt);
    });

    it("after 90 days burns the NFT, frees the slot, emits events and returns exactly 100,000 PEPE", async function () {
      const { brain, pepe, brainAddr, alice, bob } = await loadFixture(deployBrains);
      const { id, unlockAt } = await stakeMint(brain, alice);
      await stakeMint(brain, bob); // another stake stays locked in the contract
      await time.increaseTo(unlockAt + 1000n);
      const deactivation = brain.connect(alice).deactivate(id);
      await expect(deactivation).to.changeTokenBalances(
        pepe,
        [alice.address, brainAddr, DEAD],
        [STAKE, -STAKE, 0n],
      );
      await expect(deactivation).to.emit(brain, "BrainDeactivated").withArgs(id, alice.address, STAKE);
      await expect(deactivation).to.emit(brain, "Transfer").withArgs(alice.address, ethers.ZeroAddress, id);
      await expect(deactivation).to.emit(pepe, "Transfer").withArgs(brainAddr, alice.address, STAKE);
      await expect(brain.ownerOf(id))
        .to.be.revertedWithCustomError(brain, "ERC721NonexistentToken")
        .withArgs(id);
      await expect(brain.brainInfo(id)).to.be.revertedWithCustomError(brain, "ERC721NonexistentToken");
      expect(await brain.activeSupply()).to.equal(9n);
      expect(await brain.balanceOf(alice.address)).to.equal(0n);
      expect(await pepe.balanceOf(brainAddr)).to.equal(STAKE);
      // Once only.
      await expect(brain.connect(alice).deactivate(id))
        .to.be.revertedWithCustomError(brain, "ERC721NonexistentToken")
        .withArgs(id);
    });

    it("refuses a caller who does not own the Brain with NotBrainOwner(id, caller), even after unlock", async function () {
      const { brain, alice, bob } = await loadFixture(deployBrains);
      const { id, unlockAt } = await stakeMint(brain, alice);
      await expect(brain.connect(bob).deactivate(id))
        .to.be.revertedWithCustomError(brain, "NotBrainOwner")
        .withArgs(id, bob.address);
      await time.increaseTo(unlockAt);
      await expect(brain.connect(bob).deactivate(id))
        .to.be.revertedWithCustomError(brain, "NotBrainOwner")
        .withArgs(id, bob.address);
    });

    it("refuses burn and reserved Brains with NotStakeBrain(id), even after 90 days", async function () {
      const { brain, labs, alice } = await loadFixture(deployBrains);
      const burnId = await burnMint(brain, alice);
      await time.increase(LOCK * 10n);
      await expect(brain.connect(alice).deactivate(burnId))
        .to.be.revertedWithCustomError(brain, "NotStakeBrain")
        .withArgs(burnId);
      for (const id of [0, 6, 47]) {
        await expect(brain.connect(labs).deactivate(id))
          .to.be.revertedWithCustomError(brain, "NotStakeBrain")
          .withArgs(id);
      }
      expect(await brain.activeSupply()).to.equal(9n);
    });

    it("refuses ids that do not exist with ERC721NonexistentToken(id)", async function () {
      const { brain, alice } = await loadFixture(deployBrains);
      for (const id of [7n, 1023n, 1024n, ethers.MaxUint256]) {
        await expect(brain.connect(alice).deactivate(id))
          .to.be.revertedWithCustomError(brain, "ERC721NonexistentToken")
          .withArgs(id);
      }
    });
  });

  describe("linkBasedWallet", function () {
    it("lets the owner link a BasedAI wallet (BasedWalletLinked) and zero resets it to the owner", async function () {
      const { brain, alice, carol } = await loadFixture(deployBrains);
      const id = await burnMint(brain, alice);
      await expect(brain.connect(alice).linkBasedWallet(id, carol.address))
        .to.emit(brain, "BasedWalletLinked")
        .withArgs(id, carol.address);
      expect((await brain.brainInfo(id)).basedWallet).to.equal(carol.address);
      await expect(brain.connect(alice).linkBasedWallet(id, ethers.ZeroAddress))
        .to.emit(brain, "BasedWalletLinked")
        .withArgs(id, ethers.ZeroAddress);
      expect((await brain.brainInfo(id)).basedWallet).to.equal(alice.address);
    });

    it("works for stake and reserved Brains too", async function () {
      const { brain, labs, alice, carol } = await loadFixture(deployBrains);
      const { id } = await stakeMint(brain, alice);
      await brain.connect(alice).linkBasedWallet(id, carol.address);
      expect((await brain.brainInfo(id)).basedWallet).to.equal(carol.address);
      await brain.connect(labs).linkBasedWallet(47, carol.address);
      expect((await brain.brainInfo(47)).basedWallet).to.equal(carol.address);
    });

    it("refuses anyone but the owner with NotBrainOwner(id, caller), and ids that do not exist", async function () {
      const { brain, labs, alice, bob } = await loadFixture(deployBrains);
      const id = await burnMint(brain, alice);
      await expect(brain.connect(bob).linkBasedWallet(id, bob.address))
        .to.be.revertedWithCustomError(brain, "NotBrainOwner")
        .withArgs(id, bob.address);
      await expect(brain.connect(alice).linkBasedWallet(0, alice.address))
        .to.be.revertedWithCustomError(brain, "NotBrainOwner")
        .withArgs(0n, alice.address);
      await expect(brain.connect(labs).linkBasedWallet(9, labs.address))
        .to.be.revertedWithCustomError(brain, "ERC721NonexistentToken")
        .withArgs(9n);
      expect((await brain.brainInfo(id)).basedWallet).to.equal(alice.address);
    });

    it("an approved operator cannot link: only the owner can", async function () {
      const { brain, alice, bob } = await loadFixture(deployBrains);
      const id = await burnMint(brain, alice);
      await brain.connect(alice).setApprovalForAll(bob.address, true);
      await expect(brain.connect(bob).linkBasedWallet(id, bob.address))
        .to.be.revertedWithCustomError(brain, "NotBrainOwner")
        .withArgs(id, bob.address);
    });

    it("a transfer of a burn Brain resets the link to the new owner (BasedWalletLinked(id, 0))", async function () {
      const { brain, alice, bob, carol } = await loadFixture(deployBrains);
      const id = await burnMint(brain, alice);
      await brain.connect(alice).linkBasedWallet(id, carol.address);
      await expect(brain.connect(alice).transferFrom(alice.address, bob.address, id))
        .to.emit(brain, "BasedWalletLinked")
        .withArgs(id, ethers.ZeroAddress);
      const info = await brain.brainInfo(id);
      expect(info.owner).to.equal(bob.address);
      expect(info.basedWallet).to.equal(bob.address);
      // Without a link there is nothing to reset and no event.
      await expect(brain.connect(bob).transferFrom(bob.address, alice.address, id)).not.to.emit(
        brain,
        "BasedWalletLinked",
      );
      expect((await brain.brainInfo(id)).basedWallet).to.equal(alice.address);
    });
  });

  describe("brainInfo", function () {
    it("reports owner, class, unlockAt and basedWallet for reserved, burn and stake Brains", async function () {
      const { brain, labs, alice, bob } = await loadFixture(deployBrains);
      const burnId = await burnMint(brain, alice);
      const { id: stakeId, unlockAt } = await stakeMint(brain, bob);
      expect(unlockAt).to.equal(BigInt(await time.latest()) + LOCK);
      const rows: [bigint, string, bigint, bigint][] = [
        [0n, labs.address, Class.Reserved, 0n],
        [47n, labs.address, Class.Reserved, 0n],
        [burnId, alice.address, Class.Burn, 0n],
        [stakeId, bob.address, Class.Stake, unlockAt],
      ];
      for (const [id, owner, cls, unlock] of rows) {
        const info = await brain.brainInfo(id);
        expect([info.owner, info.class, info.unlockAt, info.basedWallet]).to.deep.equal([
          owner,
          cls,
          unlock,
          owner,
        ]);
      }
    });

    it("reverts for ids that do not exist (ERC721NonexistentToken)", async function () {
      const { brain } = await loadFixture(deployBrains);
      for (const id of [7n, 1024n]) {
        await expect(brain.brainInfo(id))
          .to.be.revertedWithCustomError(brain, "ERC721NonexistentToken")
          .withArgs(id);
      }
    });
  });

  describe("tokenURI", function () {
    it("is a base64 JSON data URI with name, attributes and a base64 SVG image showing the number (burn)", async function () {
      const { brain, alice } = await loadFixture(deployBrains);
      const id = await burnMint(brain, alice);
      const meta = await metadata(brain, id);
      expect(meta.name).to.equal("BasedAI Brain #7");
      expect(meta.description).to.equal(
        "A BasedAI Brain: the right to run one Brain of miners and validators on the BasedAI network.",
      );
      expect(trait(meta, "Class")).to.equal("Burn");
      expect(trait(meta, "Lock")).to.equal("Permanent");
      expect(trait(meta, "Unlock")).to.equal(0);
      expect(meta.image.startsWith("data:image/svg+xml;base64,")).to.equal(true);
      expect(meta.svg.startsWith("<svg")).to.equal(true);
      expect(meta.svg.endsWith("</svg>")).to.equal(true);
      expect(meta.svg).to.contain("Brain #7<");
      expect(meta.svg).to.contain("Burn / Permanent<");
    });

    it("shows reserved Brains as Reserved and Permanent", async function () {
      const { brain } = await loadFixture(deployBrains);
      for (const id of [0, 47]) {
        const meta = await metadata(brain, id);
        expect(meta.name).to.equal(`BasedAI Brain #${id}`);
        expect(trait(meta, "Class")).to.equal("Reserved");
        expect(trait(meta, "Lock")).to.equal("Permanent");
        expect(meta.svg).to.contain(`Brain #${id}<`);
        expect(meta.svg).to.contain("Reserved / Permanent<");
      }
    });

    it("shows a stake Brain as Locked until unlockAt, then Unlocked", async function () {
      const { brain, alice } = await loadFixture(deployBrains);
      const { id, unlockAt } = await stakeMint(brain, alice);
      let meta = await metadata(brain, id);
      expect(trait(meta, "Class")).to.equal("Stake");
      expect(trait(meta, "Lock")).to.equal("Locked");
      expect(trait(meta, "Unlock")).to.equal(Number(unlockAt));
      expect(meta.svg).to.contain(`Stake / Locked @${unlockAt}<`);
      await time.increaseTo(unlockAt - 10n);
      expect(trait(await metadata(brain, id), "Lock")).to.equal("Locked");
      await time.increaseTo(unlockAt);
      meta = await metadata(brain, id);
      expect(trait(meta, "Lock")).to.equal("Unlocked");
      expect(meta.svg).to.contain(`Stake / Unlocked @${unlockAt}<`);
    });

    it("renders the highest id #1023", async function () {
      const { brain } = await loadFixture(filled);
      const meta = await metadata(brain, 1023);
      expect(meta.name).to.equal("BasedAI Brain #1023");
      expect(meta.svg).to.contain("Brain #1023<");
    });

    it("reverts for ids that do not exist (ERC721NonexistentToken)", async function () {
      const { brain } = await loadFixture(deployBrains);
      for (const id of [7n, 1024n]) {
        await expect(brain.tokenURI(id))
          .to.be.revertedWithCustomError(brain, "ERC721NonexistentToken")
          .withArgs(id);
      }
    });
  });

  describe("contract receivers and reentrancy", function () {
    async function withReceiver() {
      const b = await loadFixture(deployBrains);
      const receiver = (await ethers.deployContract("BrainReceiverMock", [
        b.brainAddr,
        await b.pepe.getAddress(),
      ])) as unknown as BrainReceiverMock;
      const receiverAddr = await receiver.getAddress();
      await b.pepe.mint(receiverAddr, PEPE(1_000_000));
      return { ...b, receiver, receiverAddr };
    }

    it("mints burn and stake Brains to a contract that accepts them, and it can deactivate", async function () {
      const { brain, pepe, receiver, receiverAddr } = await withReceiver();
      await receiver.mintByBurn(ethers.MaxUint256);
      await receiver.mintByStake();
      expect(await brain.ownerOf(7)).to.equal(receiverAddr);
      expect(await brain.ownerOf(8)).to.equal(receiverAddr);
      expect(await receiver.received()).to.equal(2n);
      await time.increase(LOCK);
      await expect(receiver.deactivate(8)).to.changeTokenBalance(pepe, receiverAddr, STAKE);
    });

    it("refuses a receiver that re-enters mintByBurn from onERC721Received (ReentrancyGuardReentrantCall)", async function () {
      const { brain, pepe, brainAddr, receiver, receiverAddr } = await withReceiver();
      await receiver.setMode(Mode.ReenterBurn, 0);
      await expect(receiver.mintByBurn(ethers.MaxUint256)).to.be.revertedWithCustomError(
        brain,
        "ReentrancyGuardReentrantCall",
      );
      await expect(receiver.mintByStake()).to.be.revertedWithCustomError(
        brain,
        "ReentrancyGuardReentrantCall",
      );
      expect(await brain.activeSupply()).to.equal(8n);
      expect(await brain.burnMints()).to.equal(0n);
      expect(await pepe.balanceOf(receiverAddr)).to.equal(PEPE(1_000_000));
      expect(await pepe.balanceOf(brainAddr)).to.equal(0n);
    });

    it("refuses a receiver that re-enters mintByStake from onERC721Received (ReentrancyGuardReentrantCall)", async function () {
      const { brain, pepe, receiver, receiverAddr } = await withReceiver();
      await receiver.setMode(Mode.ReenterStake, 0);
      await expect(receiver.mintByStake()).to.be.revertedWithCustomError(
        brain,
        "ReentrancyGuardReentrantCall",
      );
      await expect(receiver.mintByBurn(ethers.MaxUint256)).to.be.revertedWithCustomError(
        brain,
        "ReentrancyGuardReentrantCall",
      );
      expect(await brain.activeSupply()).to.equal(8n);
      expect(await pepe.balanceOf(receiverAddr)).to.equal(PEPE(1_000_000));
    });

    it("refuses a receiver that re-enters deactivate from onERC721Received (ReentrancyGuardReentrantCall)", async function () {
      const { brain, receiver } = await withReceiver();
      await receiver.mintByStake(); // #7, accepted
      await time.increase(LOCK);
      await receiver.setMode(Mode.ReenterDeactivate, 7);
      await expect(receiver.mintByBurn(ethers.MaxUint256)).to.be.revertedWithCustomError(
        brain,
        "ReentrancyGuardReentrantCall",
      );
      expect(await brain.activeSupply()).to.equal(9n);
      expect(await brain.ownerOf(7)).to.equal(await receiver.getAddress());
    });

    it("a receiver that refuses the NFT makes the mint revert with nothing lost (ERC721InvalidReceiver / its own error)", async function () {
      const { brain, pepe, brainAddr, alice, receiver, receiverAddr } = await withReceiver();
      await receiver.setMode(Mode.Reject, 0);
      await expect(receiver.mintByBurn(ethers.MaxUint256))
        .to.be.revertedWithCustomError(brain, "ERC721InvalidReceiver")
        .withArgs(receiverAddr);
      await expect(receiver.mintByStake())
        .to.be.revertedWithCustomError(brain, "ERC721InvalidReceiver")
        .withArgs(receiverAddr);
      await receiver.setMode(Mode.Revert, 0);
      await expect(receiver.mintByBurn(ethers.MaxUint256))
        .to.be.revertedWithCustomError(receiver, "BrainRefused")
        .withArgs(7n);
      await expect(receiver.mintByStake())
        .to.be.revertedWithCustomError(receiver, "BrainRefused")
        .withArgs(7n);
      expect(await pepe.balanceOf(receiverAddr)).to.equal(PEPE(1_000_000));
      expect(await pepe.balanceOf(DEAD)).to.equal(0n);
      expect(await pepe.balanceOf(brainAddr)).to.equal(0n);
      expect(await brain.activeSupply()).to.equal(8n);
      expect(await brain.burnMints()).to.equal(0n);
      expect(await brain.balanceOf(receiverAddr)).to.equal(0n);
      // Id 7 and the first-mint price are still there for the next buyer.
      await expect(brain.connect(alice).mintByBurn(PEPE(1_000)))
        .to.emit(brain, "BrainMinted")
        .withArgs(7n, alice.address, Class.Burn, PEPE(1_000), 0n);
    });

    it("refuses a contract that cannot receive ERC-721 at all (ERC721InvalidReceiver)", async function () {
      const { brain, pepe, alice } = await loadFixture(deployBrains);
      // A TestPepecoin is a contract without onERC721Received; it cannot mint, so transfer to it.
      const burnId = await burnMint(brain, alice);
      const pepeAddr = await pepe.getAddress();
      await expect(safeTransfer(brain, alice, alice.address, pepeAddr, burnId))
        .to.be.revertedWithCustomError(brain, "ERC721InvalidReceiver")
        .withArgs(pepeAddr);
    });
  });

  describe("invariants under random sequences (fast-check)", function () {
    type Cmd =
      | { kind: "burn"; who: number }
      | { kind: "stake"; who: number }
      | { kind: "deactivate"; pick: number; days: number }
      | { kind: "transfer"; pick: number; to: number };

    const cmd: fc.Arbitrary<Cmd> = fc.oneof(
      fc.record({ kind: fc.constant("burn" as const), who: fc.nat(3) }),
      fc.record({ kind: fc.constant("stake" as const), who: fc.nat(3) }),
      fc.record({ kind: fc.constant("deactivate" as const), pick: fc.nat(), days: fc.nat(120) }),
      fc.record({ kind: fc.constant("transfer" as const), pick: fc.nat(), to: fc.nat(3) }),
    );

    it("keeps activeSupply == existing Brains ≤ 1024, smallest-free ids, PEPE held == 100,000 × stake Brains, dEaD == burn prices paid", async function () {
      await fc.assert(
        fc.asyncProperty(fc.array(cmd, { minLength: 1, maxLength: 15 }), async (cmds) => {
          const { brain, pepe, brainAddr, labs, alice, bob, carol, dave } = await loadFixture(deployBrains);
          const users = [alice, bob, carol, dave];
          const holders = [labs, ...users];
          const signerOf = new Map(holders.map((s) => [s.address, s]));
          const live = new Map<number, { owner: string; cls: bigint; unlockAt: bigint }>();
          for (const id of RESERVED_IDS)
            live.set(id, { owner: labs.address, cls: Class.Reserved, unlockAt: 0n });
          let burns = 0;
          let burned = 0n;
          const smallestFree = () => {
            let id = 0;
            while (live.has(id)) id++;
            return id;
          };

          for (const c of cmds) {
            if (c.kind === "burn" || c.kind === "stake") {
              const who = users[c.who] as HardhatEthersSigner;
              const expected = smallestFree();
              if (c.kind === "burn") {
                const price = burnPriceAfter(burns);
                expect(await brain.burnPrice()).to.equal(price);
                expect(await mintedId(brain, await brain.connect(who).mintByBurn(price))).to.equal(
                  BigInt(expected),
                );
                live.set(expected, { owner: who.address, cls: Class.Burn, unlockAt: 0n });
                burns++;
                burned += price;
              } else {
                expect(await mintedId(brain, await brain.connect(who).mintByStake())).to.equal(
                  BigInt(expected),
                );
                const unlockAt = BigInt(await time.latest()) + LOCK;
                live.set(expected, { owner: who.address, cls: Class.Stake, unlockAt });
              }
              expect(await brain.ownerOf(expected)).to.equal(who.address);
            } else if (c.kind === "deactivate") {
              const stakes = [...live].filter(([, b]) => b.cls === Class.Stake);
              const pool = stakes.length > 0 ? stakes : [...live];
              const [id, b] = pool[c.pick % pool.length] as [
                number,
                { owner: string; cls: bigint; unlockAt: bigint },
              ];
              const at = BigInt(await time.latest()) + BigInt(c.days) * 86_400n + 1n;
              await time.setNextBlockTimestamp(at);
              const tx = brain
                .connect(signerOf.get(b.owner) as HardhatEthersSigner)
                .deactivate(id, { gasLimit: 300_000 });
              if (b.cls !== Class.Stake) {
                await expect(tx).to.be.revertedWithCustomError(brain, "NotStakeBrain").withArgs(id);
              } else if (at < b.unlockAt) {
                await expect(tx).to.be.revertedWithCustomError(brain, "StakeLocked").withArgs(id, b.unlockAt);
              } else {
                await expect(tx).to.emit(brain, "BrainDeactivated").withArgs(id, b.owner, STAKE);
                live.delete(id);
                await expect(brain.ownerOf(id)).to.be.revertedWithCustomError(
                  brain,
                  "ERC721NonexistentToken",
                );
              }
            } else {
              const pool = [...live].filter(([, b]) => b.cls !== Class.Reserved);
              if (pool.length === 0) continue;
              const [id, b] = pool[c.pick % pool.length] as [
                number,
                { owner: string; cls: bigint; unlockAt: bigint },
              ];
              const to = users[c.to] as HardhatEthersSigner;
              const tx = brain
                .connect(signerOf.get(b.owner) as HardhatEthersSigner)
                .transferFrom(b.owner, to.address, id);
              if (b.cls === Class.Stake) {
                await expect(tx)
                  .to.be.revertedWithCustomError(brain, "StakeBrainNonTransferable")
                  .withArgs(id);
              } else {
                await tx;
                b.owner = to.address;
              }
              expect(await brain.ownerOf(id)).to.equal(b.owner);
            }

            // Invariants after every step.
            const supply = await brain.activeSupply();
            expect(supply).to.equal(BigInt(live.size));
            expect(supply <= 1024n).to.equal(true);
            let held = 0n;
            for (const h of holders) held += await brain.balanceOf(h.address);
            expect(held).to.equal(supply); // every existing token has one of these owners
            const stakes = [...live.values()].filter((b) => b.cls === Class.Stake).length;
            expect(await pepe.balanceOf(brainAddr)).to.equal(BigInt(stakes) * STAKE);
            expect(await pepe.balanceOf(DEAD)).to.equal(burned);
            expect(await brain.burnMints()).to.equal(BigInt(burns));
          }

          // At the end, every id up to one past the highest agrees with the model.
          const top = Math.max(...live.keys()) + 1;
          for (let id = 0; id <= top; id++) {
            const b = live.get(id);
            if (b === undefined) {
              await expect(brain.ownerOf(id)).to.be.revertedWithCustomError(brain, "ERC721NonexistentToken");
            } else {
              const info = await brain.brainInfo(id);
              expect([info.owner, info.class, info.unlockAt]).to.deep.equal([b.owner, b.cls, b.unlockAt]);
            }
          }
        }),
        // 20 random sequences by default (FC_RUNS=200 for a deeper local run).
        { numRuns: Number(process.env.FC_RUNS ?? 20) },
      );
    });
  });
});
