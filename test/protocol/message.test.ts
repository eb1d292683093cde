import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import { type Address, type Hex, getAddress, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { MessageHandlerMock, MessageInbox } from "../../typechain-types";
import {
  type Message,
  MessageKind,
  type SignedBy,
  attestationDigest,
  attestationTypedData,
  attesterThreshold,
  decodeAttesterSet,
  decodeBrainEvent,
  decodeBridgeTransfer,
  encodeAttesterSet,
  encodeBrainEvent,
  encodeBridgeTransfer,
  eventNonce,
  messageId,
  messageJsonSchema,
  messageToJson,
  pickSignatures,
  recoverAttester,
} from "../../protocol/message";
import { Status } from "../contracts/messaging/messages";

/**
 * The TypeScript side of docs/protocol.md (protocol/message.ts, viem) against the Solidity
 * side: the same message id and EIP-712 digest as MessageInbox computes, signatures the inbox
 * accepts, payloads that round-trip, and the relayer's choice of signatures.
 */
describe("oracle messages: TypeScript encoding agrees with MessageInbox", function () {
  const keys = Array.from(
    { length: 4 },
    (_, i) => `0x${(BigInt(i + 1) * 0x1234567890abcdefn).toString(16).padStart(64, "0")}` as Hex,
  );
  const accounts = keys.map((k) => privateKeyToAccount(k));

  async function deployInbox() {
    const [owner] = await ethers.getSigners();
    const inbox = (await ethers.deployContract("MessageInbox", [
      accounts.map((a) => a.address).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)),
      [32323n],
      owner!.address,
    ])) as unknown as MessageInbox;
    const handler = (await ethers.deployContract("MessageHandlerMock", [
      await inbox.getAddress(),
    ])) as unknown as MessageHandlerMock;
    await inbox.setHandler(MessageKind.BRIDGE_TRANSFER, await handler.getAddress(), 200_000);
    return { inbox, handler, address: (await inbox.getAddress()) as Address };
  }

  const arbMessage = fc.record({
    srcChainId: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    dstChainId: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    nonce: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    kind: fc.constantFrom(...Object.values(MessageKind)),
    payload: fc.uint8Array({ maxLength: 300 }).map((b) => `0x${Buffer.from(b).toString("hex")}` as Hex),
  });
  const asStruct = (m: Message) => ({ ...m, payload: m.payload });

  it("messageId equals MessageInbox.messageId for arbitrary messages", async () => {
    const { inbox } = await loadFixture(deployInbox);
    await fc.assert(
      fc.asyncProperty(arbMessage, async (m) => {
        expect(await inbox.messageId(asStruct(m))).to.equal(messageId(m));
      }),
      { numRuns: 60 },
    );
  });

  it("the attestation digest equals MessageInbox.hashAttestation (domain: chain id and inbox address)", async () => {
    const { inbox, address } = await loadFixture(deployInbox);
    await fc.assert(
      fc.asyncProperty(arbMessage, fc.integer({ min: 1, max: 2 ** 32 - 1 }), async (m, version) => {
        // The domain's chainId is the destination: the inbox hashes with its own chain (31337).
        const local = { ...m, dstChainId: 31337n };
        expect(await inbox.hashAttestation(asStruct(local), version)).to.equal(
          attestationDigest(local, version, address),
        );
      }),
      { numRuns: 60 },
    );
  });

  it("signatures made from attestationTypedData are accepted by the inbox and recover to their signer", async () => {
    const { inbox, handler, address } = await loadFixture(deployInbox);
    const m: Message = {
      srcChainId: 32323n,
      dstChainId: 31337n,
      nonce: eventNonce(12n, 3),
      kind: MessageKind.BRIDGE_TRANSFER,
      payload: encodeBridgeTransfer({
        sender: accounts[0]!.address,
        recipient: accounts[1]!.address,
        amount: 5n,
      }),
    };
    const signed: SignedBy[] = [];
    for (const account of accounts) {
      const signature = await account.signTypedData(attestationTypedData(m, 1, address));
      expect(await recoverAttester(m, 1, address, signature)).to.equal(account.address);
      signed.push({ signer: account.address, signature });
    }
    const chosen = pickSignatures(signed, attesterThreshold(accounts.length));
    expect(chosen).to.have.lengthOf(3);
    await inbox.receiveMessage(asStruct(m), 1, chosen!);
    expect(await inbox.messageStatus(messageId(m))).to.equal(Status.Executed);
    expect(await handler.executions()).to.equal(1n);
    // A signature for another inbox (another domain) recovers to someone else.
    const elsewhere = await accounts[0]!.signTypedData(attestationTypedData(m, 1, zeroAddress));
    expect(await recoverAttester(m, 1, address, elsewhere)).to.not.equal(accounts[0]!.address);
  });

  it("eventNonce is (block << 32) | logIndex and refuses a log index outside 32 bits", () => {
    expect(eventNonce(7n, 5)).to.equal((7n << 32n) | 5n);
    expect(eventNonce(0n, 0)).to.equal(0n);
    expect(eventNonce(1n, 2 ** 32 - 1)).to.equal((1n << 32n) + 2n ** 32n - 1n);
    expect(() => eventNonce(1n, 2 ** 32)).to.throw(RangeError);
    expect(() => eventNonce(1n, -1)).to.throw(RangeError);
  });

  it("payloads round-trip: BRIDGE_TRANSFER, BRAIN_EVENT, ATTESTER_SET (sorted on encode)", () => {
    const arbAddress = fc
      .uint8Array({ minLength: 20, maxLength: 20 })
      .map((b) => getAddress(`0x${Buffer.from(b).toString("hex")}`));
    fc.assert(
      fc.property(
        arbAddress,
        arbAddress,
        fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
        (sender, recipient, amount) => {
          expect(decodeBridgeTransfer(encodeBridgeTransfer({ sender, recipient, amount }))).to.deep.equal({
            sender,
            recipient,
            amount,
          });
        },
      ),
    );
    fc.assert(
      fc.property(
        fc.record({
          brainId: fc.bigInt({ min: 0n, max: 1023n }),
          owner: arbAddress,
          class: fc.integer({ min: 0, max: 3 }),
          unlockAt: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          basedWallet: arbAddress,
          active: fc.boolean(),
        }),
        (snapshot) => {
          expect(decodeBrainEvent(encodeBrainEvent(snapshot))).to.deep.equal(snapshot);
        },
      ),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 32 - 1 }),
        fc.uniqueArray(arbAddress, { maxLength: 8 }),
        (v, set) => {
          const decoded = decodeAttesterSet(encodeAttesterSet(v, set));
          expect(decoded.newVersion).to.equal(v);
          expect(decoded.attesters).to.deep.equal([...set].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)));
        },
      ),
    );
  });

  it("messages survive their JSON form (bigints as strings), and the schema refuses bad ones", () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const back = messageJsonSchema.parse(JSON.parse(JSON.stringify(messageToJson(m))));
        expect(back).to.deep.equal(m);
        expect(messageId(back)).to.equal(messageId(m));
      }),
      { numRuns: 100 },
    );
    const ok = messageToJson({ srcChainId: 1n, dstChainId: 2n, nonce: 3n, kind: 2, payload: "0x" });
    expect(messageJsonSchema.safeParse({ ...ok, kind: 9 }).success).to.equal(false);
    expect(messageJsonSchema.safeParse({ ...ok, nonce: (1n << 64n).toString() }).success).to.equal(false);
    expect(messageJsonSchema.safeParse({ ...ok, payload: "0x123" }).success).to.equal(false);
    expect(messageJsonSchema.safeParse({ ...ok, payload: `0x${"00".repeat(16_385)}` }).success).to.equal(
      false,
    );
  });

  describe("pickSignatures", () => {
    const sig = (n: number) => `0x${n.toString(16).padStart(130, "0")}` as Hex;
    const a = getAddress("0x00000000000000000000000000000000000000a1");
    const b = getAddress("0x00000000000000000000000000000000000000b2");
    const c = getAddress("0x0000000000000000000000000000000000000c03");
    const d = getAddress("0xd000000000000000000000000000000000000004");

    it("sorts by signer address (numerically, whatever the letter case) and takes exactly the threshold", () => {
      const chosen = pickSignatures(
        [
          { signer: d, signature: sig(4) },
          { signer: c.toLowerCase() as Address, signature: sig(3) },
          { signer: a, signature: sig(1) },
          { signer: b, signature: sig(2) },
        ],
        3,
      );
      expect(chosen).to.deep.equal([sig(1), sig(2), sig(3)]);
    });

    it("counts a signer once, however often (or in whatever case) it appears", () => {
      const twice = [
        { signer: a, signature: sig(1) },
        { signer: a.toLowerCase() as Address, signature: sig(1) },
        { signer: b, signature: sig(2) },
      ];
      expect(pickSignatures(twice, 3)).to.equal(undefined);
      expect(pickSignatures(twice, 2)).to.deep.equal([sig(1), sig(2)]);
    });

    it("returns undefined below the threshold (and for no signatures)", () => {
      expect(pickSignatures([], 1)).to.equal(undefined);
      expect(pickSignatures([{ signer: a, signature: sig(1) }], 2)).to.equal(undefined);
    });

    it("the threshold is floor(2n/3) + 1", () => {
      expect([1, 2, 3, 4, 13, 19].map(attesterThreshold)).to.deep.equal([1, 2, 3, 3, 9, 13]);
    });
  });
});
