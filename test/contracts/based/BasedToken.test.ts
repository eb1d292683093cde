import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { BasedToken, DevnetBasedFaucet } from "../../../typechain-types";

const BLOCKS_PER_HALVING = 3_155_760n;
const INITIAL_REWARD = 10n * 10n ** 18n;

/** Σ over all blocks of `10 BASED >> floor(h / 3_155_760)` (docs/architecture.md §3), era by era until the
 *  reward shifts to zero. */
function halvingSeriesSum(): bigint {
  let sum = 0n;
  for (let era = 0n; INITIAL_REWARD >> era > 0n; era++) sum += BLOCKS_PER_HALVING * (INITIAL_REWARD >> era);
  return sum;
}

describe("BasedToken", function () {
  async function deployToken() {
    const [admin, minter, alice, mallory] = await ethers.getSigners();
    if (!admin || !minter || !alice || !mallory) throw new Error("need 4 signers");
    const based = (await ethers.deployContract("BasedToken", [admin.address])) as unknown as BasedToken;
    const MINTER = await based.MINTER_ROLE();
    await based.grantRole(MINTER, minter.address);
    return { based, admin, minter, alice, mallory, MINTER };
  }

  it("is the ERC-20 'Based' / 'BASED' with 18 decimals and no initial supply", async function () {
    const { based } = await loadFixture(deployToken);
    expect(await based.name()).to.equal("Based");
    expect(await based.symbol()).to.equal("BASED");
    expect(await based.decimals()).to.equal(18n);
    expect(await based.totalSupply()).to.equal(0n);
  });

  it("caps the supply at the exact sum of the halving series: Σ 3,155,760 × (10 BASED >> k) until it is zero", async function () {
    const { based } = await loadFixture(deployToken);
    const sum = halvingSeriesSum();
    expect(sum).to.equal(63_115_199_999_999_999_940_040_560n);
    expect(await based.cap()).to.equal(sum);
    expect(await based.MAX_SUPPLY()).to.equal(sum);
    expect(await based.BLOCKS_PER_HALVING()).to.equal(BLOCKS_PER_HALVING);
    expect(await based.INITIAL_BLOCK_REWARD()).to.equal(INITIAL_REWARD);
  });

  it("mints up to the cap exactly and refuses one wei more (ERC20ExceededCap)", async function () {
    const { based, minter, alice } = await loadFixture(deployToken);
    const cap = await based.cap();
    await based.connect(minter).mint(alice.address, cap - 1n);
    await expect(based.connect(minter).mint(alice.address, 2n))
      .to.be.revertedWithCustomError(based, "ERC20ExceededCap")
      .withArgs(cap + 1n, cap);
    await expect(based.connect(minter).mint(alice.address, 1n)).to.changeTokenBalance(based, alice, 1n);
    expect(await based.totalSupply()).to.equal(cap);
    await expect(based.connect(minter).mint(alice.address, 1n)).to.be.revertedWithCustomError(
      based,
      "ERC20ExceededCap",
    );
    // Burning is not offered, but transfers still work at the cap.
    await based.connect(alice).transfer(minter.address, 5n);
  });

  it("only MINTER_ROLE mints; only the admin grants and revokes it", async function () {
    const { based, admin, minter, alice, mallory, MINTER } = await loadFixture(deployToken);
    await expect(based.connect(mallory).mint(mallory.address, 1n))
      .to.be.revertedWithCustomError(based, "AccessControlUnauthorizedAccount")
      .withArgs(mallory.address, MINTER);
    await expect(based.connect(admin).mint(admin.address, 1n)).to.be.revertedWithCustomError(
      based,
      "AccessControlUnauthorizedAccount",
    );
    await expect(based.connect(mallory).grantRole(MINTER, mallory.address)).to.be.revertedWithCustomError(
      based,
      "AccessControlUnauthorizedAccount",
    );
    await expect(based.connect(minter).mint(alice.address, 7n))
      .to.emit(based, "Transfer")
      .withArgs(ethers.ZeroAddress, alice.address, 7n);
    await based.connect(admin).revokeRole(MINTER, minter.address);
    await expect(based.connect(minter).mint(alice.address, 1n)).to.be.revertedWithCustomError(
      based,
      "AccessControlUnauthorizedAccount",
    );
  });

  it("supports ERC-2612 permit under the domain ('Based', '1')", async function () {
    const { based, minter, alice, mallory } = await loadFixture(deployToken);
    await based.connect(minter).mint(alice.address, 100n);
    const deadline = BigInt(await time.latest()) + 3600n;
    const domain = {
      name: "Based",
      version: "1",
      chainId: 31337n,
      verifyingContract: await based.getAddress(),
    };
    const types = {
      Permit: [
        { name: "owner", type: "address" },
        { name: "spender", type: "address" },
        { name: "value", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    };
    const sig = ethers.Signature.from(
      await alice.signTypedData(domain, types, {
        owner: alice.address,
        spender: mallory.address,
        value: 60n,
        nonce: 0n,
        deadline,
      }),
    );
    await based.permit(alice.address, mallory.address, 60n, deadline, sig.v, sig.r, sig.s);
    expect(await based.allowance(alice.address, mallory.address)).to.equal(60n);
  });
});

describe("DevnetBasedFaucet", function () {
  async function deployFaucet() {
    const [admin, alice] = await ethers.getSigners();
    if (!admin || !alice) throw new Error("need 2 signers");
    const based = (await ethers.deployContract("BasedToken", [admin.address])) as unknown as BasedToken;
    const faucet = (await ethers.deployContract("DevnetBasedFaucet", [
      await based.getAddress(),
      10n ** 21n,
    ])) as unknown as DevnetBasedFaucet;
    return { based, faucet, admin, alice };
  }

  it("mints BASED to anyone, at most maxPerCall per call, once it holds MINTER_ROLE", async function () {
    const { based, faucet, alice } = await loadFixture(deployFaucet);
    await expect(faucet.connect(alice).drip(alice.address, 1n)).to.be.revertedWithCustomError(
      based,
      "AccessControlUnauthorizedAccount",
    );
    await based.grantRole(await based.MINTER_ROLE(), await faucet.getAddress());
    await expect(faucet.connect(alice).drip(alice.address, 10n ** 21n))
      .to.emit(faucet, "Dripped")
      .withArgs(alice.address, 10n ** 21n);
    expect(await based.balanceOf(alice.address)).to.equal(10n ** 21n);
    await expect(faucet.connect(alice).drip(alice.address, 10n ** 21n + 1n))
      .to.be.revertedWithCustomError(faucet, "FaucetAmountTooLarge")
      .withArgs(10n ** 21n + 1n, 10n ** 21n);
    expect(await faucet.based()).to.equal(await based.getAddress());
    expect(await faucet.maxPerCall()).to.equal(10n ** 21n);
  });
});
