import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { id as hashText } from "ethers";
import {
  ETH_CHAIN,
  Kind,
  LOCAL_CHAIN,
  type Message,
  Status,
  deliver,
  eventNonce,
  messageId,
} from "../messaging/messages";
import { DAY, PARAMS, deployGovernance, encodeGovernanceCall, type Governance } from "./fixture";

const SALT = hashText("governance call 1");
const NEW_DELAY = 3n * BigInt(DAY);

/**
 * Passes and executes a year-one Labs proposal whose one action is `outbox.send(…)`: the BasedAI
 * timelock's own `updateDelay(NEW_DELAY)`. Returns the GOVERNANCE_CALL message an attester makes of it.
 */
async function sendThroughGovernance(g: Governance, salt = SALT) {
  const { governor, outbox, basedTimelock, labs } = g;
  const data = basedTimelock.interface.encodeFunctionData("updateDelay", [NEW_DELAY]);
  const targets = [await outbox.getAddress()];
  const values = [0n];
  const calldatas = [
    outbox.interface.encodeFunctionData("send", [await basedTimelock.getAddress(), 0n, data, salt]),
  ];
  const description = `BasedAI timelock delay to 3 days (${salt})`;
  await governor.connect(labs).propose(targets, values, calldatas, description);
  const proposalId = await governor.hashProposal(targets, values, calldatas, hashText(description));
  await g.toVoteEnd(proposalId);
  await governor.queue(targets, values, calldatas, hashText(description));
  await time.increase(PARAMS.ethDelay);
  const tx = await governor.execute(targets, values, calldatas, hashText(description));
  const message = await g.governanceCallOf(tx);
  return { message, data, tx };
}

/** A GOVERNANCE_CALL from "Ethereum" with a made-up nonce. */
function callMessage(payload: string, nonce = eventNonce(500, 1), srcChainId = ETH_CHAIN): Message {
  return { srcChainId, dstChainId: LOCAL_CHAIN, nonce, kind: Kind.GOVERNANCE_CALL, payload };
}

describe("Governance calls to the BasedAI chain", function () {
  describe("GovernanceOutbox", function () {
    it("only Ethereum's timelock sends; the event carries the payload fields; one call is sent once", async function () {
      const { outbox, timelock, alice, basedTimelock } = await loadFixture(deployGovernance);
      const target = await basedTimelock.getAddress();
      await expect(outbox.connect(alice).send(target, 0, "0x1234", SALT))
        .to.be.revertedWithCustomError(outbox, "NotTimelock")
        .withArgs(alice.address);
      const timelockAddr = await timelock.getAddress();
      await ethers.provider.send("hardhat_setBalance", [timelockAddr, "0xde0b6b3a7640000"]);
      const tl = await ethers.getImpersonatedSigner(timelockAddr);
      await expect(outbox.connect(tl).send(target, 5n, "0x1234", SALT))
        .to.emit(outbox, "GovernanceCallSent")
        .withArgs(LOCAL_CHAIN, target, 5n, "0x1234", SALT);
      const callHash = ethers.keccak256(encodeGovernanceCall(LOCAL_CHAIN, target, 5n, "0x1234", SALT));
      expect(await outbox.sent(callHash)).to.be.true;
      await expect(outbox.connect(tl).send(target, 5n, "0x1234", SALT))
        .to.be.revertedWithCustomError(outbox, "CallAlreadySent")
        .withArgs(callHash);
      await expect(
        outbox.connect(tl).send(ethers.ZeroAddress, 5n, "0x1234", SALT),
      ).to.be.revertedWithCustomError(outbox, "ZeroAddress");
    });
  });

  describe("GovernanceCallReceiver", function () {
    it("a passed proposal reaches the BasedAI timelock, waits its delay, and runs once", async function () {
      const g = await loadFixture(deployGovernance);
      const { basedInbox, basedTimelock, receiver, quorum, frank } = g;
      const { message, data } = await sendThroughGovernance(g);
      const target = await basedTimelock.getAddress();
      const opId = await basedTimelock.hashOperation(target, 0n, data, ethers.ZeroHash, SALT);
      const delivery = deliver(basedInbox, message, quorum);
      await expect(delivery).to.emit(receiver, "GovernanceCallScheduled");
      await expect(delivery).to.emit(basedInbox, "MessageExecuted").withArgs(messageId(message));
      expect(await receiver.received(opId)).to.be.true;
      expect(await basedTimelock.isOperationPending(opId)).to.be.true;
      // Not before the BasedAI delay.
      await expect(
        basedTimelock.connect(frank).execute(target, 0n, data, ethers.ZeroHash, SALT),
      ).to.be.revertedWithCustomError(basedTimelock, "TimelockUnexpectedOperationState");
      await time.increase(PARAMS.basedDelay);
      await basedTimelock.connect(frank).execute(target, 0n, data, ethers.ZeroHash, SALT);
      expect(await basedTimelock.getMinDelay()).to.equal(NEW_DELAY);
      expect(await basedTimelock.isOperationDone(opId)).to.be.true;
      // Once only.
      await expect(
        basedTimelock.connect(frank).execute(target, 0n, data, ethers.ZeroHash, SALT),
      ).to.be.revertedWithCustomError(basedTimelock, "TimelockUnexpectedOperationState");
    });

    it("a replayed message is refused by the inbox; the same call under another nonce by the receiver", async function () {
      const g = await loadFixture(deployGovernance);
      const { basedInbox, receiver, basedTimelock, quorum } = g;
      const { message, data } = await sendThroughGovernance(g);
      await deliver(basedInbox, message, quorum);
      await expect(deliver(basedInbox, message, quorum))
        .to.be.revertedWithCustomError(basedInbox, "AlreadyDelivered")
        .withArgs(messageId(message), Status.Executed);
      const copy = { ...message, nonce: message.nonce + 1n };
      const opId = await basedTimelock.hashOperation(
        await basedTimelock.getAddress(),
        0n,
        data,
        ethers.ZeroHash,
        SALT,
      );
      await expect(deliver(basedInbox, copy, quorum))
        .to.emit(basedInbox, "MessageFailed")
        .withArgs(messageId(copy), receiver.interface.encodeErrorResult("CallAlreadyReceived", [opId]));
    });

    it("a call for another chain is refused", async function () {
      const { basedInbox, basedTimelock, receiver, quorum } = await loadFixture(deployGovernance);
      const target = await basedTimelock.getAddress();
      const m = callMessage(encodeGovernanceCall(999n, target, 0n, "0x", SALT));
      await expect(deliver(basedInbox, m, quorum))
        .to.emit(basedInbox, "MessageFailed")
        .withArgs(
          messageId(m),
          receiver.interface.encodeErrorResult("WrongDestinationChain", [999n, LOCAL_CHAIN]),
        );
      // And the inbox refuses an envelope for another chain outright.
      await expect(deliver(basedInbox, { ...m, dstChainId: 999n }, quorum))
        .to.be.revertedWithCustomError(basedInbox, "WrongDestination")
        .withArgs(999n, LOCAL_CHAIN);
    });

    it("only Ethereum's messages, only through the inbox", async function () {
      const { basedInbox, basedTimelock, receiver, quorum, alice } = await loadFixture(deployGovernance);
      const target = await basedTimelock.getAddress();
      const payload = encodeGovernanceCall(LOCAL_CHAIN, target, 0n, "0x", SALT);
      // The inbox also trusts chain 777 (for another kind): the receiver still refuses it.
      const other = callMessage(payload, eventNonce(600, 0), 777n);
      await expect(deliver(basedInbox, other, quorum))
        .to.emit(basedInbox, "MessageFailed")
        .withArgs(
          messageId(other),
          receiver.interface.encodeErrorResult("WrongSourceChain", [777n, ETH_CHAIN]),
        );
      const m = callMessage(payload);
      await expect(receiver.connect(alice).handleMessage(messageId(m), m))
        .to.be.revertedWithCustomError(receiver, "NotInbox")
        .withArgs(alice.address);
      await expect(
        basedTimelock.connect(alice).schedule(target, 0, "0x", ethers.ZeroHash, SALT, PARAMS.basedDelay),
      ).to.be.revertedWithCustomError(basedTimelock, "AccessControlUnauthorizedAccount");
    });

    it("the guardian (2 of 3) cancels a scheduled call before it runs, and it never comes back", async function () {
      const g = await loadFixture(deployGovernance);
      const { basedInbox, basedTimelock, receiver, guardian, quorum, g1, g2, frank } = g;
      const { message, data } = await sendThroughGovernance(g);
      await deliver(basedInbox, message, quorum);
      const target = await basedTimelock.getAddress();
      const opId = await basedTimelock.hashOperation(target, 0n, data, ethers.ZeroHash, SALT);
      // An EOA, even an owner of the guardian, cannot cancel on its own.
      await expect(basedTimelock.connect(g1).cancel(opId)).to.be.revertedWithCustomError(
        basedTimelock,
        "AccessControlUnauthorizedAccount",
      );
      const cancel = basedTimelock.interface.encodeFunctionData("cancel", [opId]);
      await guardian.connect(g1).submit(target, 0, cancel);
      await expect(guardian.connect(g1).execute(0))
        .to.be.revertedWithCustomError(guardian, "BelowThreshold")
        .withArgs(0n, 1n, 2n);
      await guardian.connect(g2).confirm(0);
      await expect(guardian.connect(g2).execute(0)).to.emit(basedTimelock, "Cancelled").withArgs(opId);
      expect(await basedTimelock.isOperation(opId)).to.be.false;
      await time.increase(PARAMS.basedDelay);
      await expect(
        basedTimelock.connect(frank).execute(target, 0n, data, ethers.ZeroHash, SALT),
      ).to.be.revertedWithCustomError(basedTimelock, "TimelockUnexpectedOperationState");
      // A re-signed copy under a fresh nonce cannot schedule the cancelled call again.
      const copy = { ...message, nonce: message.nonce + 7n };
      await expect(deliver(basedInbox, copy, quorum))
        .to.emit(basedInbox, "MessageFailed")
        .withArgs(messageId(copy), receiver.interface.encodeErrorResult("CallAlreadyReceived", [opId]));
      expect(await basedTimelock.getMinDelay()).to.equal(BigInt(PARAMS.basedDelay));
    });
  });
});
