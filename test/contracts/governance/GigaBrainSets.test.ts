import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import {
  BASED_CHAIN,
  ETH_CHAIN,
  Kind,
  LOCAL_CHAIN,
  type Message,
  deliver,
  eventNonce,
  messageId,
} from "../messaging/messages";
import { GIGA, deployGovernance, encodeGigaBrainSet } from "./fixture";

describe("GigaBrainSets", function () {
  const setMessage = (basedBlock: bigint, payload: string, nonceBlock = basedBlock): Message => ({
    srcChainId: BASED_CHAIN,
    dstChainId: LOCAL_CHAIN,
    nonce: eventNonce(nonceBlock, 0),
    kind: Kind.GIGABRAIN_SET,
    payload,
  });

  it("stores the delivered set as a version: members, size, block and bitmap", async function () {
    const { sets } = await loadFixture(deployGovernance);
    expect(await sets.versionCount()).to.equal(1n);
    const info = await sets.setInfo(1);
    expect(info.basedBlock).to.equal(1100n);
    expect(info.size).to.equal(BigInt(GIGA.length));
    expect(await sets.currentBasedBlock()).to.equal(1100n);
    for (const id of GIGA) expect(await sets.isGigaBrain(id)).to.be.true;
    expect(await sets.isGigaBrain(6)).to.be.false;
    expect(await sets.isGigaBrain(1023)).to.be.false;
    expect(await sets.isGigaBrain(5000)).to.be.false;
    const bits = await sets.bitmapOf(1);
    expect(bits[0]).to.equal(0b111111n);
    expect(bits.slice(1)).to.deep.equal([0n, 0n, 0n]);
  });

  it("emits GigaBrainSetUpdated and handles ids across all four words", async function () {
    const { sets, ethInbox, quorum } = await loadFixture(deployGovernance);
    const ids = [7, 255, 256, 600, 1023];
    const m = setMessage(5000n, encodeGigaBrainSet(5000n, ids));
    await expect(deliver(ethInbox, m, quorum))
      .to.emit(sets, "GigaBrainSetUpdated")
      .withArgs(2n, messageId(m), 5000n, BigInt(ids.length));
    for (const id of ids) expect(await sets.isGigaBrain(id)).to.be.true;
    expect(await sets.isGigaBrain(0)).to.be.false;
    const bits = await sets.bitmapOf(2);
    expect(bits[0]).to.equal((1n << 7n) | (1n << 255n));
    expect(bits[1]).to.equal(1n);
    expect(bits[2]).to.equal(1n << (600n - 512n));
    expect(bits[3]).to.equal(1n << 255n);
  });

  it("keeps every version: a past timepoint reads the set then in force", async function () {
    const { sets, deliverSet } = await loadFixture(deployGovernance);
    const t1 = BigInt(await time.latest());
    await time.increase(100);
    await deliverSet([9, 10]);
    const t2 = BigInt(await time.latest());
    expect(await sets.versionAt(t1)).to.equal(1n);
    expect(await sets.versionAt(t2)).to.equal(2n);
    expect(await sets.versionAt(t1 - 1000n)).to.equal(0n);
    expect(await sets.isGigaBrainAt(1, t1)).to.be.true;
    expect(await sets.isGigaBrainAt(1, t2)).to.be.false;
    expect(await sets.isGigaBrainAt(9, t1)).to.be.false;
    expect(await sets.isGigaBrainAt(9, t2)).to.be.true;
    expect(await sets.sizeAt(t1)).to.equal(6n);
    expect(await sets.sizeAt(t2)).to.equal(2n);
    expect(await sets.sizeAt(t1 - 1000n)).to.equal(0n);
  });

  it("accepts an empty set (no Brain reaches 0.5 %)", async function () {
    const { sets, deliverSet } = await loadFixture(deployGovernance);
    await deliverSet([]);
    expect(await sets.versionCount()).to.equal(2n);
    expect(await sets.sizeAt(await time.latest())).to.equal(0n);
    expect(await sets.isGigaBrain(0)).to.be.false;
  });

  it("refuses a set taken at or before the current one's BasedAI block", async function () {
    const { sets, ethInbox, quorum } = await loadFixture(deployGovernance);
    for (const block of [1100n, 1099n]) {
      const m = setMessage(block, encodeGigaBrainSet(block, [1]), block + 10_000n);
      await expect(deliver(ethInbox, m, quorum))
        .to.emit(ethInbox, "MessageFailed")
        .withArgs(messageId(m), sets.interface.encodeErrorResult("StaleGigaBrainSet", [block, 1100n]));
    }
    expect(await sets.versionCount()).to.equal(1n);
    expect(await sets.isGigaBrain(1)).to.be.true;
    expect(await sets.isGigaBrain(2)).to.be.true;
  });

  it("refuses ids out of order, repeated or beyond 1023", async function () {
    const { sets, ethInbox, quorum } = await loadFixture(deployGovernance);
    const cases: [number[], number, number][] = [
      [[3, 2], 1, 2],
      [[3, 3], 1, 3],
      [[1, 1024], 1, 1024],
    ];
    let block = 2000n;
    for (const [ids, index, id] of cases) {
      const m = setMessage(block, encodeGigaBrainSet(block, ids));
      await expect(deliver(ethInbox, m, quorum))
        .to.emit(ethInbox, "MessageFailed")
        .withArgs(messageId(m), sets.interface.encodeErrorResult("InvalidBrainId", [index, id]));
      block += 1n;
    }
    expect(await sets.versionCount()).to.equal(1n);
  });

  it("is called only by the inbox, only with GIGABRAIN_SET from the BasedAI chain", async function () {
    const { sets, alice } = await loadFixture(deployGovernance);
    const m = setMessage(9000n, encodeGigaBrainSet(9000n, [1]));
    await expect(sets.connect(alice).handleMessage(messageId(m), m))
      .to.be.revertedWithCustomError(sets, "NotInbox")
      .withArgs(alice.address);
    const inboxAddr = await sets.inbox();
    await ethers.provider.send("hardhat_setBalance", [inboxAddr, "0xde0b6b3a7640000"]);
    const inbox = await ethers.getImpersonatedSigner(inboxAddr);
    await expect(sets.connect(inbox).handleMessage(messageId(m), { ...m, srcChainId: ETH_CHAIN }))
      .to.be.revertedWithCustomError(sets, "WrongSourceChain")
      .withArgs(ETH_CHAIN, BASED_CHAIN);
    await expect(sets.connect(inbox).handleMessage(messageId(m), { ...m, kind: Kind.GOVERNANCE_CALL }))
      .to.be.revertedWithCustomError(sets, "WrongKind")
      .withArgs(Kind.GOVERNANCE_CALL, Kind.GIGABRAIN_SET);
  });

  it("stores a set of 300 GigaBrains within the handler's gas", async function () {
    const { sets, ethInbox, quorum } = await loadFixture(deployGovernance);
    const ids = Array.from({ length: 300 }, (_, i) => i * 3);
    const m = setMessage(3000n, encodeGigaBrainSet(3000n, ids));
    const receipt = await (await deliver(ethInbox, m, quorum)).wait();
    expect(await sets.versionCount()).to.equal(2n);
    expect(await sets.isGigaBrain(897)).to.be.true;
    expect(await sets.isGigaBrain(898)).to.be.false;
    expect(receipt!.gasUsed).to.be.below(600_000n);
  });
});
