import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { GuardianMultisig, TestPepecoin } from "../../../typechain-types";

describe("GuardianMultisig", function () {
  /** A 2-of-3 wallet (a, b, c) holding 100 test tokens; `outsider` owns nothing. */
  async function deployWallet() {
    const [a, b, c, d, outsider] = await ethers.getSigners();
    if (!a || !b || !c || !d || !outsider) throw new Error("need 5 signers");
    const wallet = (await ethers.deployContract("GuardianMultisig", [
      [a.address, b.address, c.address],
      2,
    ])) as unknown as GuardianMultisig;
    const token = (await ethers.deployContract("TestPepecoin")) as unknown as TestPepecoin;
    await token.mint(await wallet.getAddress(), 100n);
    const walletAddr = await wallet.getAddress();
    const tokenAddr = await token.getAddress();
    const pay = (to: string, amount: bigint) => token.interface.encodeFunctionData("transfer", [to, amount]);
    const self = {
      addOwner: (owner: string) => wallet.interface.encodeFunctionData("addOwner", [owner]),
      removeOwner: (owner: string) => wallet.interface.encodeFunctionData("removeOwner", [owner]),
      changeThreshold: (threshold: bigint) =>
        wallet.interface.encodeFunctionData("changeThreshold", [threshold]),
    };
    return { wallet, walletAddr, token, tokenAddr, a, b, c, d, outsider, pay, self };
  }

  it("refuses a bad owner list or threshold at deployment", async function () {
    const { wallet, a, b } = await loadFixture(deployWallet);
    const factory = await ethers.getContractFactory("GuardianMultisig");
    await expect(factory.deploy([a.address, b.address], 0))
      .to.be.revertedWithCustomError(wallet, "InvalidThreshold")
      .withArgs(0n, 2n);
    await expect(factory.deploy([a.address, b.address], 3))
      .to.be.revertedWithCustomError(wallet, "InvalidThreshold")
      .withArgs(3n, 2n);
    await expect(factory.deploy([a.address, a.address], 1))
      .to.be.revertedWithCustomError(wallet, "InvalidOwner")
      .withArgs(a.address);
    await expect(factory.deploy([ethers.ZeroAddress], 1))
      .to.be.revertedWithCustomError(wallet, "InvalidOwner")
      .withArgs(ethers.ZeroAddress);
    await expect(factory.deploy([], 1)).to.be.revertedWithCustomError(wallet, "InvalidThreshold");
    const many = Array.from({ length: 21 }, (_, i) =>
      ethers.getAddress(`0x${(i + 1).toString(16).padStart(40, "0")}`),
    );
    await expect(factory.deploy(many, 1))
      .to.be.revertedWithCustomError(wallet, "TooManyOwners")
      .withArgs(21n, 20n);
  });

  it("runs a call once the threshold of owners confirmed it, exactly once", async function () {
    const { wallet, token, tokenAddr, a, b, c, outsider, pay } = await loadFixture(deployWallet);
    await expect(wallet.connect(outsider).submit(tokenAddr, 0, pay(outsider.address, 10n)))
      .to.be.revertedWithCustomError(wallet, "NotOwner")
      .withArgs(outsider.address);
    await expect(wallet.connect(a).submit(tokenAddr, 0, pay(outsider.address, 10n)))
      .to.emit(wallet, "Submitted")
      .withArgs(0n, a.address, tokenAddr, 0n, pay(outsider.address, 10n));
    expect(await wallet.confirmations(0)).to.equal(1n);
    await expect(wallet.connect(a).confirm(0)).to.be.revertedWithCustomError(wallet, "AlreadyConfirmed");
    await expect(wallet.connect(a).execute(0))
      .to.be.revertedWithCustomError(wallet, "BelowThreshold")
      .withArgs(0n, 1n, 2n);
    await expect(wallet.connect(outsider).confirm(0)).to.be.revertedWithCustomError(wallet, "NotOwner");
    await wallet.connect(b).confirm(0);
    await expect(wallet.connect(outsider).execute(0)).to.be.revertedWithCustomError(wallet, "NotOwner");
    await expect(wallet.connect(c).execute(0)).to.emit(wallet, "Executed").withArgs(0n, c.address);
    expect(await token.balanceOf(outsider.address)).to.equal(10n);
    await expect(wallet.connect(c).execute(0))
      .to.be.revertedWithCustomError(wallet, "AlreadyExecuted")
      .withArgs(0n);
    await expect(wallet.connect(c).confirm(0)).to.be.revertedWithCustomError(wallet, "AlreadyExecuted");
    await expect(wallet.connect(c).execute(1)).to.be.revertedWithCustomError(wallet, "UnknownTransaction");
    expect(await token.balanceOf(outsider.address)).to.equal(10n);
  });

  it("a revoked confirmation no longer counts; a failing call leaves the transaction pending", async function () {
    const { wallet, token, tokenAddr, a, b, outsider, pay } = await loadFixture(deployWallet);
    await wallet.connect(a).submit(tokenAddr, 0, pay(outsider.address, 1_000n)); // more than it holds
    await wallet.connect(b).confirm(0);
    await expect(wallet.connect(b).execute(0)).to.be.revertedWithCustomError(
      token,
      "ERC20InsufficientBalance",
    );
    expect((await wallet.transaction(0)).executed).to.be.false;
    await wallet.connect(b).revoke(0);
    await expect(wallet.connect(b).revoke(0)).to.be.revertedWithCustomError(wallet, "NotConfirmed");
    await token.mint(await wallet.getAddress(), 1_000n);
    await expect(wallet.connect(a).execute(0))
      .to.be.revertedWithCustomError(wallet, "BelowThreshold")
      .withArgs(0n, 1n, 2n);
    await wallet.connect(b).confirm(0);
    await wallet.connect(a).execute(0);
    expect(await token.balanceOf(outsider.address)).to.equal(1_000n);
  });

  it("owners and threshold change only through the wallet itself", async function () {
    const { wallet, walletAddr, a, b, c, d, self } = await loadFixture(deployWallet);
    await expect(wallet.connect(a).addOwner(d.address))
      .to.be.revertedWithCustomError(wallet, "NotSelf")
      .withArgs(a.address);
    await expect(wallet.connect(a).removeOwner(c.address)).to.be.revertedWithCustomError(wallet, "NotSelf");
    await expect(wallet.connect(a).changeThreshold(1)).to.be.revertedWithCustomError(wallet, "NotSelf");

    await wallet.connect(a).submit(walletAddr, 0, self.addOwner(d.address));
    await wallet.connect(b).confirm(0);
    await expect(wallet.connect(b).execute(0)).to.emit(wallet, "OwnerAdded").withArgs(d.address);
    expect(await wallet.owners()).to.deep.equal([a.address, b.address, c.address, d.address]);

    await wallet.connect(d).submit(walletAddr, 0, self.changeThreshold(3n));
    await wallet.connect(c).confirm(1);
    await wallet.connect(c).execute(1);
    expect(await wallet.threshold()).to.equal(3n);

    // A threshold above the owners is refused (the wallet's call reverts with the reason).
    await wallet.connect(a).submit(walletAddr, 0, self.changeThreshold(5n));
    await wallet.connect(b).confirm(2);
    await wallet.connect(c).confirm(2);
    await expect(wallet.connect(a).execute(2))
      .to.be.revertedWithCustomError(wallet, "InvalidThreshold")
      .withArgs(5n, 4n);
  });

  it("a removed owner's confirmation stops counting, and removal cannot make the threshold unreachable", async function () {
    const { wallet, walletAddr, tokenAddr, a, b, c, outsider, pay, self } = await loadFixture(deployWallet);
    // c confirms a payment that nobody else has confirmed yet.
    await wallet.connect(c).submit(tokenAddr, 0, pay(outsider.address, 1n));
    await wallet.connect(a).submit(walletAddr, 0, self.removeOwner(c.address));
    await wallet.connect(b).confirm(1);
    await expect(wallet.connect(a).execute(1)).to.emit(wallet, "OwnerRemoved").withArgs(c.address);
    expect(await wallet.isOwner(c.address)).to.be.false;
    expect(await wallet.isConfirmed(0, c.address)).to.be.true;
    expect(await wallet.confirmations(0)).to.equal(0n);
    await expect(wallet.connect(c).confirm(0)).to.be.revertedWithCustomError(wallet, "NotOwner");
    // 2 owners, threshold 2: removing one more would leave the threshold out of reach.
    await wallet.connect(a).submit(walletAddr, 0, self.removeOwner(b.address));
    await wallet.connect(b).confirm(2);
    await expect(wallet.connect(a).execute(2))
      .to.be.revertedWithCustomError(wallet, "InvalidThreshold")
      .withArgs(2n, 1n);
  });
});
