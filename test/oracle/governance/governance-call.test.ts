import path from "node:path";
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { id as hashText } from "ethers";
import pino from "pino";
import { type Hex, encodeAbiParameters, getAddress, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { Attester } from "../../../oracle/attester/attester";
import { governanceWatch } from "../../../oracle/attester/sources";
import { Journal } from "../../../oracle/signing/journal";
import { decodeGovernanceCall, encodeGovernanceCall } from "../../../protocol/governance";
import { MessageKind, messageId, pickSignatures } from "../../../protocol/message";
import { DAY, PARAMS, deployGovernance, type Governance } from "../../contracts/governance/fixture";
import { Status } from "../../contracts/messaging/messages";
import { tempDir } from "../../helpers/processes";
import { inProcess } from "../harness";

const NEW_DELAY = 3n * BigInt(DAY);

/**
 * GOVERNANCE_CALL end to end on the in-process network: the governance fixture's Ethereum side emits
 * `GovernanceCallSent` (read by the attesters as chain 1, "Ethereum"), and its BasedAI side (inbox
 * trusting chain 1, GovernanceCallReceiver, BasedAI timelock) lives on 31337, the messages'
 * destination.
 */
describe("oracle attester: governance calls (GOVERNANCE_CALL)", function () {
  const log = pino({ level: "silent" });
  const ethereum = inProcess("ethereum", 1);
  const based = inProcess("based", 31337);

  async function setup() {
    const g = await deployGovernance();
    const start = BigInt(await ethers.provider.getBlockNumber()) + 1n;
    const outbox = getAddress(await g.outbox.getAddress());
    const basedInbox = getAddress(await g.basedInbox.getAddress());
    const makeAttester = (index: number) =>
      new Attester({
        account: privateKeyToAccount(g.attesters[index]!.privateKey as Hex),
        journal: new Journal(path.join(tempDir("attester"), `attester-${index}.jsonl`)),
        watches: [governanceWatch(ethereum, based, outbox)],
        inboxes: [{ ctx: based, address: basedInbox }],
        finality: new Map([[1, { kind: "depth", depth: 1 }]]),
        startBlocks: new Map([[1, start]]),
        log,
      });
    return { ...g, makeAttester };
  }

  /** A Labs proposal whose one action is `outbox.send(BasedAI timelock, 0, updateDelay(NEW_DELAY), salt)`, executed. */
  async function sendThroughGovernance(g: Governance, salt: Hex) {
    const { governor, outbox, basedTimelock, labs } = g;
    const data = basedTimelock.interface.encodeFunctionData("updateDelay", [NEW_DELAY]) as Hex;
    const targets = [await outbox.getAddress()];
    const calldatas = [
      outbox.interface.encodeFunctionData("send", [await basedTimelock.getAddress(), 0n, data, salt]),
    ];
    const description = `BasedAI timelock delay to 3 days (${salt})`;
    await governor.connect(labs).propose(targets, [0n], calldatas, description);
    const proposalId = await governor.hashProposal(targets, [0n], calldatas, hashText(description));
    await g.toVoteEnd(proposalId);
    await governor.queue(targets, [0n], calldatas, hashText(description));
    await time.increase(PARAMS.ethDelay);
    const tx = await governor.execute(targets, [0n], calldatas, hashText(description));
    return { tx, data };
  }

  it("a passed proposal's GovernanceCallSent becomes, once final, the message the receiver schedules and the BasedAI timelock runs", async () => {
    const g = await loadFixture(setup);
    const attesters = [0, 1, 2].map((i) => g.makeAttester(i));
    const salt = hashText("oracle governance call") as Hex;
    const { tx, data } = await sendThroughGovernance(g, salt);
    // The fixture's independent (ethers) derivation of the message from the same log.
    const expected = await g.governanceCallOf(tx);

    // Depth 1: nothing is signed while the event's block is the head.
    expect((await Promise.all(attesters.map((a) => a.poll()))).flat()).to.deep.equal([]);
    await mine(1);
    const signed = (await Promise.all(attesters.map((a) => a.poll()))).flat();
    expect(signed).to.have.lengthOf(3);
    const [message] = signed.map((s) => s.message);
    // Identical bytes from every attester, equal to the fixture's message.
    for (const s of signed) expect(s.message).to.deep.equal(message);
    expect(message!.kind).to.equal(MessageKind.GOVERNANCE_CALL);
    expect(message!.srcChainId).to.equal(1n);
    expect(message!.dstChainId).to.equal(31337n);
    expect(message!.nonce).to.equal(expected.nonce);
    expect(message!.payload).to.equal(expected.payload);
    expect(decodeGovernanceCall(message!.payload)).to.deep.equal({
      dstChainId: 31337n,
      target: getAddress(await g.basedTimelock.getAddress()),
      value: 0n,
      data,
      salt,
    });
    // Nothing is signed twice.
    await mine(3);
    expect((await Promise.all(attesters.map((a) => a.poll()))).flat()).to.deep.equal([]);

    const signatures = pickSignatures(
      signed.map((s, i) => ({ signer: attesters[i]!.address, signature: s.signature })),
      3,
    );
    await expect(g.basedInbox.receiveMessage(message!, 1, signatures!)).to.emit(
      g.receiver,
      "GovernanceCallScheduled",
    );
    const id = messageId(message!);
    expect(await g.basedInbox.messageStatus(id)).to.equal(Status.Executed);
    const operationId = await g.basedTimelock.hashOperation(
      await g.basedTimelock.getAddress(),
      0n,
      data,
      ethers.ZeroHash,
      salt,
    );
    expect(await g.receiver.received(operationId)).to.equal(true);
    expect(await g.basedTimelock.isOperationPending(operationId)).to.equal(true);
    // After the BasedAI timelock's delay anyone executes it.
    await time.increase(PARAMS.basedDelay);
    await g.basedTimelock.execute(await g.basedTimelock.getAddress(), 0n, data, ethers.ZeroHash, salt);
    expect(await g.basedTimelock.getMinDelay()).to.equal(NEW_DELAY);
    // The same message again is refused by the inbox.
    await expect(g.basedInbox.receiveMessage(message!, 1, signatures!)).to.be.revertedWithCustomError(
      g.basedInbox,
      "AlreadyDelivered",
    );
  });

  it("logs of other contracts and other events of the outbox give no message", async () => {
    const g = await loadFixture(setup);
    const attester = g.makeAttester(0);
    // A BrainNFT transfer on "Ethereum" is not the outbox's: ignored.
    await g.brain.connect(g.alice).transferFrom(g.alice.address, g.frank.address, 1);
    await mine(2);
    expect(await attester.poll()).to.deep.equal([]);
  });

  describe("payload encoding", () => {
    const call = {
      dstChainId: 32323n,
      target: getAddress("0x00000000000000000000000000000000000000aa"),
      value: 7n,
      data: "0x12345678" as Hex,
      salt: `0x${"ab".repeat(32)}` as Hex,
    };

    it("is abi.encode(uint64, address, uint256, bytes, bytes32), and decodes back", () => {
      const payload = encodeGovernanceCall(call);
      expect(payload).to.equal(
        encodeAbiParameters(
          [
            { type: "uint64" },
            { type: "address" },
            { type: "uint256" },
            { type: "bytes" },
            { type: "bytes32" },
          ],
          [call.dstChainId, call.target, call.value, call.data, call.salt],
        ),
      );
      expect(decodeGovernanceCall(payload)).to.deep.equal(call);
    });

    it("refuses malformed calls and payloads: zero target, zero chain, trailing bytes, truncation", () => {
      expect(() => encodeGovernanceCall({ ...call, target: zeroAddress })).to.throw(/zero address/);
      expect(() => encodeGovernanceCall({ ...call, dstChainId: 0n })).to.throw(/chain id/);
      const payload = encodeGovernanceCall(call);
      expect(() => decodeGovernanceCall(`${payload}00`)).to.throw(/canonical/);
      expect(() => decodeGovernanceCall(payload.slice(0, 130) as Hex)).to.throw();
      const zeroTarget = encodeAbiParameters(
        [
          { type: "uint64" },
          { type: "address" },
          { type: "uint256" },
          { type: "bytes" },
          { type: "bytes32" },
        ],
        [1n, zeroAddress, 0n, "0x", call.salt],
      );
      expect(() => decodeGovernanceCall(zeroTarget)).to.throw(/zero address/);
    });
  });
});
