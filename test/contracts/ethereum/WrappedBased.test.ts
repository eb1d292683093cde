import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { WrappedBased } from "../../../typechain-types";

const W = (n: number | bigint): bigint => BigInt(n) * 10n ** 18n;

async function deployWrapped() {
  const [governance, bridge, alice, bob, mallory, newBridge, newGovernance] = await ethers.getSigners();
  if (!governance || !bridge || !alice || !bob || !mallory || !newBridge || !newGovernance) {
    throw new Error("need 7 signers");
  }
  const wbased = await ethers.deployContract("WrappedBased", [bridge.address, governance.address]);
  return { wbased, governance, bridge, alice, bob, mallory, newBridge, newGovernance };
}

/** Signs an EIP-2612 permit with ethers' signTypedData against the token's own domain. */
async function signPermit(
  wbased: WrappedBased,
  signer: HardhatEthersSigner,
  owner: string,
  spender: string,
  value: bigint,
  nonce: bigint,
  deadline: bigint,
) {
  const { chainId } = await ethers.provider.getNetwork();
  const domain = {
    name: "Wrapped BASED",
    version: "1",
    chainId,
    verifyingContract: await wbased.getAddress(),
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
  const signature = await signer.signTypedData(domain, types, { owner, spender, value, nonce, deadline });
  const { v, r, s } = ethers.Signature.from(signature);
  return { v, r, s, domain };
}

describe("WrappedBased", function () {
  describe("deployment", function () {
    it("is the 18-decimal ERC-20 'Wrapped BASED' (wBASED) with the given bridge and governance owner", async function () {
      const { wbased, governance, bridge } = await loadFixture(deployWrapped);
      expect(await wbased.name()).to.equal("Wrapped BASED");
      expect(await wbased.symbol()).to.equal("wBASED");
      expect(await wbased.decimals()).to.equal(18n);
      expect(await wbased.totalSupply()).to.equal(0n);
      expect(await wbased.bridge()).to.equal(bridge.address);
      expect(await wbased.owner()).to.equal(governance.address);
      expect(await wbased.pendingOwner()).to.equal(ethers.ZeroAddress);
      const tx = wbased.deploymentTransaction();
      if (tx === null) throw new Error("no deployment transaction");
      await expect(tx).to.emit(wbased, "BridgeChanged").withArgs(ethers.ZeroAddress, bridge.address);
    });

    it("refuses a zero bridge (ZeroAddress) and a zero governance (OwnableInvalidOwner)", async function () {
      const { wbased, governance, bridge } = await loadFixture(deployWrapped);
      const factory = await ethers.getContractFactory("WrappedBased");
      await expect(factory.deploy(ethers.ZeroAddress, governance.address)).to.be.revertedWithCustomError(
        wbased,
        "ZeroAddress",
      );
      await expect(factory.deploy(bridge.address, ethers.ZeroAddress))
        .to.be.revertedWithCustomError(wbased, "OwnableInvalidOwner")
        .withArgs(ethers.ZeroAddress);
    });
  });

  describe("mint and burn", function () {
    it("lets the bridge mint to anyone", async function () {
      const { wbased, bridge, alice } = await loadFixture(deployWrapped);
      await expect(wbased.connect(bridge).mint(alice.address, W(5)))
        .to.emit(wbased, "Transfer")
        .withArgs(ethers.ZeroAddress, alice.address, W(5));
      expect(await wbased.balanceOf(alice.address)).to.equal(W(5));
      expect(await wbased.totalSupply()).to.equal(W(5));
    });

    it("refuses mint from anyone but the bridge with NotBridge(caller), governance and holders included", async function () {
      const { wbased, governance, alice, mallory } = await loadFixture(deployWrapped);
      for (const who of [governance, alice, mallory]) {
        await expect(wbased.connect(who).mint(who.address, 1n))
          .to.be.revertedWithCustomError(wbased, "NotBridge")
          .withArgs(who.address);
      }
      expect(await wbased.totalSupply()).to.equal(0n);
    });

    it("lets the bridge burn a holder's wBASED without an allowance", async function () {
      const { wbased, bridge, alice } = await loadFixture(deployWrapped);
      await wbased.connect(bridge).mint(alice.address, W(5));
      await expect(wbased.connect(bridge).burn(alice.address, W(2)))
        .to.emit(wbased, "Transfer")
        .withArgs(alice.address, ethers.ZeroAddress, W(2));
      expect(await wbased.balanceOf(alice.address)).to.equal(W(3));
      expect(await wbased.totalSupply()).to.equal(W(3));
      await expect(wbased.connect(bridge).burn(alice.address, W(3) + 1n))
        .to.be.revertedWithCustomError(wbased, "ERC20InsufficientBalance")
        .withArgs(alice.address, W(3), W(3) + 1n);
    });

    it("refuses burn from anyone but the bridge with NotBridge(caller), the holder included", async function () {
      const { wbased, governance, bridge, alice, mallory } = await loadFixture(deployWrapped);
      await wbased.connect(bridge).mint(alice.address, W(5));
      await wbased.connect(alice).approve(mallory.address, W(5));
      for (const who of [alice, mallory, governance]) {
        await expect(wbased.connect(who).burn(alice.address, 1n))
          .to.be.revertedWithCustomError(wbased, "NotBridge")
          .withArgs(who.address);
      }
      expect(await wbased.balanceOf(alice.address)).to.equal(W(5));
    });

    it("is an ordinary ERC-20 for holders: transfer, approve, transferFrom", async function () {
      const { wbased, bridge, alice, bob } = await loadFixture(deployWrapped);
      await wbased.connect(bridge).mint(alice.address, W(5));
      await expect(wbased.connect(alice).transfer(bob.address, W(1))).to.changeTokenBalances(
        wbased,
        [alice, bob],
        [-W(1), W(1)],
      );
      await wbased.connect(alice).approve(bob.address, W(2));
      await wbased.connect(bob).transferFrom(alice.address, bob.address, W(2));
      expect(await wbased.balanceOf(bob.address)).to.equal(W(3));
      expect(await wbased.allowance(alice.address, bob.address)).to.equal(0n);
    });
  });

  describe("setBridge (governance)", function () {
    it("lets only the owner change the bridge (OwnableUnauthorizedAccount), the bridge itself included", async function () {
      const { wbased, bridge, mallory, newBridge } = await loadFixture(deployWrapped);
      for (const who of [bridge, mallory]) {
        await expect(wbased.connect(who).setBridge(newBridge.address))
          .to.be.revertedWithCustomError(wbased, "OwnableUnauthorizedAccount")
          .withArgs(who.address);
      }
      expect(await wbased.bridge()).to.equal(bridge.address);
    });

    it("moves minting and burning to the new bridge (BridgeChanged) and refuses the old one after", async function () {
      const { wbased, governance, bridge, alice, newBridge } = await loadFixture(deployWrapped);
      await wbased.connect(bridge).mint(alice.address, W(4));
      await expect(wbased.connect(governance).setBridge(newBridge.address))
        .to.emit(wbased, "BridgeChanged")
        .withArgs(bridge.address, newBridge.address);
      expect(await wbased.bridge()).to.equal(newBridge.address);
      await expect(wbased.connect(bridge).mint(alice.address, 1n))
        .to.be.revertedWithCustomError(wbased, "NotBridge")
        .withArgs(bridge.address);
      await expect(wbased.connect(bridge).burn(alice.address, 1n))
        .to.be.revertedWithCustomError(wbased, "NotBridge")
        .withArgs(bridge.address);
      await wbased.connect(newBridge).mint(alice.address, W(1));
      await wbased.connect(newBridge).burn(alice.address, W(2));
      expect(await wbased.balanceOf(alice.address)).to.equal(W(3));
    });

    it("refuses a zero bridge (ZeroAddress)", async function () {
      const { wbased, governance, bridge } = await loadFixture(deployWrapped);
      await expect(wbased.connect(governance).setBridge(ethers.ZeroAddress)).to.be.revertedWithCustomError(
        wbased,
        "ZeroAddress",
      );
      expect(await wbased.bridge()).to.equal(bridge.address);
    });
  });

  describe("ownership (two-step)", function () {
    it("hands governance over only when the new owner accepts", async function () {
      const { wbased, governance, mallory, newBridge, newGovernance } = await loadFixture(deployWrapped);
      await expect(wbased.connect(governance).transferOwnership(newGovernance.address))
        .to.emit(wbased, "OwnershipTransferStarted")
        .withArgs(governance.address, newGovernance.address);
      expect(await wbased.owner()).to.equal(governance.address);
      expect(await wbased.pendingOwner()).to.equal(newGovernance.address);
      // Not yet the owner: it cannot change the bridge; the old owner still can.
      await expect(wbased.connect(newGovernance).setBridge(newBridge.address))
        .to.be.revertedWithCustomError(wbased, "OwnableUnauthorizedAccount")
        .withArgs(newGovernance.address);
      await expect(wbased.connect(mallory).acceptOwnership())
        .to.be.revertedWithCustomError(wbased, "OwnableUnauthorizedAccount")
        .withArgs(mallory.address);
      await expect(wbased.connect(newGovernance).acceptOwnership())
        .to.emit(wbased, "OwnershipTransferred")
        .withArgs(governance.address, newGovernance.address);
      expect(await wbased.owner()).to.equal(newGovernance.address);
      expect(await wbased.pendingOwner()).to.equal(ethers.ZeroAddress);
      await expect(wbased.connect(governance).setBridge(newBridge.address))
        .to.be.revertedWithCustomError(wbased, "OwnableUnauthorizedAccount")
        .withArgs(governance.address);
      await wbased.connect(newGovernance).setBridge(newBridge.address);
      expect(await wbased.bridge()).to.equal(newBridge.address);
    });

    it("refuses transferOwnership from anyone but the owner", async function () {
      const { wbased, mallory } = await loadFixture(deployWrapped);
      await expect(wbased.connect(mallory).transferOwnership(mallory.address))
        .to.be.revertedWithCustomError(wbased, "OwnableUnauthorizedAccount")
        .withArgs(mallory.address);
    });
  });

  describe("permit (EIP-2612)", function () {
    async function withBalance() {
      const f = await loadFixture(deployWrapped);
      await f.wbased.connect(f.bridge).mint(f.alice.address, W(10));
      return f;
    }

    it("uses the EIP-712 domain ('Wrapped BASED', version 1, this chain, this contract)", async function () {
      const { wbased, alice, bob } = await withBalance();
      const { domain } = await signPermit(wbased, alice, alice.address, bob.address, 1n, 0n, 1n);
      expect(await wbased.DOMAIN_SEPARATOR()).to.equal(ethers.TypedDataEncoder.hashDomain(domain));
      const d = await wbased.eip712Domain();
      expect([d.name, d.version, d.chainId, d.verifyingContract]).to.deep.equal([
        domain.name,
        domain.version,
        domain.chainId,
        domain.verifyingContract,
      ]);
    });

    it("sets the allowance from an owner's signature, bumps the nonce, and the spender can transferFrom", async function () {
      const { wbased, alice, bob, mallory } = await withBalance();
      const deadline = BigInt(await time.latest()) + 3600n;
      expect(await wbased.nonces(alice.address)).to.equal(0n);
      const sig = await signPermit(wbased, alice, alice.address, bob.address, W(4), 0n, deadline);
      // Anyone may submit the signature (here a relayer, mallory).
      await expect(
        wbased.connect(mallory).permit(alice.address, bob.address, W(4), deadline, sig.v, sig.r, sig.s),
      )
        .to.emit(wbased, "Approval")
        .withArgs(alice.address, bob.address, W(4));
      expect(await wbased.allowance(alice.address, bob.address)).to.equal(W(4));
      expect(await wbased.nonces(alice.address)).to.equal(1n);
      await expect(wbased.connect(bob).transferFrom(alice.address, bob.address, W(4))).to.changeTokenBalances(
        wbased,
        [alice, bob],
        [-W(4), W(4)],
      );
      expect(await wbased.allowance(alice.address, bob.address)).to.equal(0n);
    });

    it("refuses a replayed permit (the nonce moved on: ERC2612InvalidSigner)", async function () {
      const { wbased, alice, bob } = await withBalance();
      const deadline = BigInt(await time.latest()) + 3600n;
      const sig = await signPermit(wbased, alice, alice.address, bob.address, W(4), 0n, deadline);
      await wbased.permit(alice.address, bob.address, W(4), deadline, sig.v, sig.r, sig.s);
      await expect(
        wbased.permit(alice.address, bob.address, W(4), deadline, sig.v, sig.r, sig.s),
      ).to.be.revertedWithCustomError(wbased, "ERC2612InvalidSigner");
      expect(await wbased.nonces(alice.address)).to.equal(1n);
      // The next nonce works.
      const next = await signPermit(wbased, alice, alice.address, bob.address, W(1), 1n, deadline);
      await wbased.permit(alice.address, bob.address, W(1), deadline, next.v, next.r, next.s);
      expect(await wbased.allowance(alice.address, bob.address)).to.equal(W(1));
      expect(await wbased.nonces(alice.address)).to.equal(2n);
    });

    it("refuses an expired deadline (ERC2612ExpiredSignature)", async function () {
      const { wbased, alice, bob } = await withBalance();
      const deadline = BigInt(await time.latest()) + 60n;
      const sig = await signPermit(wbased, alice, alice.address, bob.address, W(4), 0n, deadline);
      await time.increaseTo(deadline + 1n);
      await expect(wbased.permit(alice.address, bob.address, W(4), deadline, sig.v, sig.r, sig.s))
        .to.be.revertedWithCustomError(wbased, "ERC2612ExpiredSignature")
        .withArgs(deadline);
      expect(await wbased.nonces(alice.address)).to.equal(0n);
      expect(await wbased.allowance(alice.address, bob.address)).to.equal(0n);
    });

    it("refuses a signature by someone other than the owner (ERC2612InvalidSigner(signer, owner))", async function () {
      const { wbased, alice, bob, mallory } = await withBalance();
      const deadline = BigInt(await time.latest()) + 3600n;
      const sig = await signPermit(wbased, mallory, alice.address, bob.address, W(4), 0n, deadline);
      await expect(wbased.permit(alice.address, bob.address, W(4), deadline, sig.v, sig.r, sig.s))
        .to.be.revertedWithCustomError(wbased, "ERC2612InvalidSigner")
        .withArgs(mallory.address, alice.address);
      expect(await wbased.allowance(alice.address, bob.address)).to.equal(0n);
    });

    it("refuses a permit whose value was changed after signing", async function () {
      const { wbased, alice, bob } = await withBalance();
      const deadline = BigInt(await time.latest()) + 3600n;
      const sig = await signPermit(wbased, alice, alice.address, bob.address, W(1), 0n, deadline);
      await expect(
        wbased.permit(alice.address, bob.address, W(10), deadline, sig.v, sig.r, sig.s),
      ).to.be.revertedWithCustomError(wbased, "ERC2612InvalidSigner");
    });
  });
});
