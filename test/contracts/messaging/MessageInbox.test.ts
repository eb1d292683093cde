import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { TypedDataEncoder, Wallet, hexlify, keccak256, randomBytes } from "ethers";
import type { MessageHandlerMock, MessageInbox } from "../../../typechain-types";
import {
  ATTESTATION_TYPES,
  BASED_CHAIN,
  ETH_CHAIN,
  Kind,
  LOCAL_CHAIN,
  type Message,
  NonceSpace,
  RecoverError,
  Status,
  attesterWallets,
  deliver,
  encodeAttesterSet,
  encodeBridgeTransfer,
  inboxDomain,
  messageId,
  signAttestation,
  signSorted,
  sortAddresses,
  thresholdOf,
  toHighS,
} from "./messages";

/** MessageHandlerMock.Mode */
const Mode = {
  Succeed: 0,
  Revert: 1,
  BurnGas: 2,
  ReturnBomb: 3,
  ReenterRetry: 4,
  ReenterReceive: 5,
} as const;
const HANDLER_GAS = 200_000n;

describe("MessageInbox", function () {
  /** An inbox on 31337 trusting "Ethereum" (src 1), 4 attesters (threshold 3), a mock handler
   *  for BRIDGE_TRANSFER with 200k gas. */
  async function deployInbox() {
    const [owner, relayer, mallory] = await ethers.getSigners();
    if (!owner || !relayer || !mallory) throw new Error("need 3 signers");
    const attesters = attesterWallets(4);
    const inbox = (await ethers.deployContract("MessageInbox", [
      attesters.map((a) => a.address),
      [ETH_CHAIN],
      owner.address,
    ])) as unknown as MessageInbox;
    const inboxAddr = await inbox.getAddress();
    const handler = (await ethers.deployContract("MessageHandlerMock", [
      inboxAddr,
    ])) as unknown as MessageHandlerMock;
    await inbox.setHandler(Kind.BRIDGE_TRANSFER, await handler.getAddress(), HANDLER_GAS);
    const domain = inboxDomain(LOCAL_CHAIN, inboxAddr);
    const quorum = attesters.slice(0, 3);
    let next = 1n;
    /** A fresh BRIDGE_TRANSFER from "Ethereum" to this chain. */
    const message = (overrides: Partial<Message> = {}): Message => ({
      srcChainId: ETH_CHAIN,
      dstChainId: LOCAL_CHAIN,
      nonce: (100n << 32n) | next++,
      kind: Kind.BRIDGE_TRANSFER,
      payload: encodeBridgeTransfer(mallory.address, relayer.address, 5n),
      ...overrides,
    });
    return { inbox, inboxAddr, handler, attesters, quorum, domain, message, owner, relayer, mallory };
  }

  describe("deployment", function () {
    it("starts at set version 1 with the members sorted and threshold floor(2n/3)+1, for n = 1 … 32", async function () {
      const [owner] = await ethers.getSigners();
      for (const n of [1, 2, 3, 4, 5, 13, 19, 32]) {
        const members = attesterWallets(n, `size-${n}`).map((w) => w.address);
        const inbox = await ethers.deployContract("MessageInbox", [members, [ETH_CHAIN], owner!.address]);
        expect(await inbox.setVersion()).to.equal(1n);
        expect(await inbox.threshold()).to.equal(BigInt(thresholdOf(n)));
        expect(await inbox.attesters()).to.deep.equal(members);
      }
      // Wormhole's guardian set: 19 members, quorum 13.
      expect(thresholdOf(19)).to.equal(13);
    });

    it("refuses an initial set that is unsorted, repeats a member, contains zero, is empty or exceeds 32", async function () {
      const [owner] = await ethers.getSigners();
      const Inbox = await ethers.getContractFactory("MessageInbox");
      const [a, b, c] = attesterWallets(3).map((w) => w.address) as [string, string, string];
      const deploy = (members: string[]) => Inbox.deploy(members, [ETH_CHAIN], owner!.address);
      await expect(deploy([b, a, c]))
        .to.be.revertedWithCustomError(Inbox, "AttestersNotAscending")
        .withArgs(1);
      await expect(deploy([a, a, c]))
        .to.be.revertedWithCustomError(Inbox, "AttestersNotAscending")
        .withArgs(1);
      await expect(deploy([ethers.ZeroAddress, a]))
        .to.be.revertedWithCustomError(Inbox, "AttestersNotAscending")
        .withArgs(0);
      await expect(deploy([])).to.be.revertedWithCustomError(Inbox, "InvalidAttesterSetSize").withArgs(0, 32);
      const big = attesterWallets(33, "big").map((w) => w.address);
      await expect(deploy(big))
        .to.be.revertedWithCustomError(Inbox, "InvalidAttesterSetSize")
        .withArgs(33, 32);
    });

    it("refuses chain id zero as a trusted source and reports the trusted ones", async function () {
      const { inbox, attesters, owner } = await loadFixture(deployInbox);
      const Inbox = await ethers.getContractFactory("MessageInbox");
      await expect(
        Inbox.deploy(
          attesters.map((a) => a.address),
          [0n],
          owner.address,
        ),
      ).to.be.revertedWithCustomError(Inbox, "ZeroChainId");
      expect(await inbox.isTrustedSource(ETH_CHAIN)).to.be.true;
      expect(await inbox.isTrustedSource(BASED_CHAIN)).to.be.false;
    });

    it("uses the EIP-712 domain ('BasedAI MessageInbox', '1', this chain, this inbox) and the protocol's Attestation type", async function () {
      const { inbox, inboxAddr, domain, message } = await loadFixture(deployInbox);
      const d = await inbox.eip712Domain();
      expect([d.name, d.version, d.chainId, d.verifyingContract]).to.deep.equal([
        "BasedAI MessageInbox",
        "1",
        LOCAL_CHAIN,
        inboxAddr,
      ]);
      const m = message();
      expect(await inbox.hashAttestation(m, 7)).to.equal(
        TypedDataEncoder.hash(domain, ATTESTATION_TYPES, { ...m, setVersion: 7 }),
      );
      expect(TypedDataEncoder.from(ATTESTATION_TYPES).encodeType("Attestation")).to.equal(
        "Attestation(uint64 srcChainId,uint64 dstChainId,uint64 nonce,uint8 kind,uint32 setVersion,bytes payload)",
      );
    });

    it("derives the message id as keccak256(abi.encode(src, dst, nonce, kind, keccak256(payload)))", async function () {
      const { inbox, message } = await loadFixture(deployInbox);
      for (const m of [message(), message({ payload: "0x" }), message({ kind: 4, nonce: 2n ** 64n - 1n })]) {
        expect(await inbox.messageId(m)).to.equal(messageId(m));
      }
    });
  });

  describe("delivery", function () {
    it("executes a message signed by exactly the threshold, once, and records it as executed", async function () {
      const { inbox, handler, quorum, message, relayer } = await loadFixture(deployInbox);
      const m = message();
      const id = messageId(m);
      expect(await inbox.messageStatus(id)).to.equal(Status.None);
      await expect(deliver(inbox.connect(relayer), m, quorum))
        .to.emit(inbox, "MessageDelivered")
        .withArgs(id, m.srcChainId, m.nonce, m.kind)
        .and.to.emit(handler, "Handled")
        .withArgs(id, m.nonce, m.kind, m.payload)
        .and.to.emit(inbox, "MessageExecuted")
        .withArgs(id);
      expect(await inbox.messageStatus(id)).to.equal(Status.Executed);
      expect(await handler.executions()).to.equal(1n);
    });

    it("accepts more signatures than the threshold when every one is valid", async function () {
      const { inbox, handler, attesters, message } = await loadFixture(deployInbox);
      await deliver(inbox, message(), attesters);
      expect(await handler.executions()).to.equal(1n);
    });

    it("refuses threshold minus one signatures (NotEnoughSignatures)", async function () {
      const { inbox, attesters, message } = await loadFixture(deployInbox);
      const m = message();
      await expect(deliver(inbox, m, attesters.slice(0, 2)))
        .to.be.revertedWithCustomError(inbox, "NotEnoughSignatures")
        .withArgs(2, 3);
      expect(await inbox.messageStatus(messageId(m))).to.equal(Status.None);
    });

    it("refuses the same signer twice, even with enough other signatures (SignersNotAscending)", async function () {
      const { inbox, attesters, domain, message } = await loadFixture(deployInbox);
      const m = message();
      const [s0, s1, s2] = await signSorted(attesters.slice(0, 3), domain, m, 1);
      const [a0, a1] = attesters;
      await expect(inbox.receiveMessage(m, 1, [s0!, s1!, s1!]))
        .to.be.revertedWithCustomError(inbox, "SignersNotAscending")
        .withArgs(2, a1!.address, a1!.address);
      await expect(inbox.receiveMessage(m, 1, [s0!, s0!, s1!, s2!]))
        .to.be.revertedWithCustomError(inbox, "SignersNotAscending")
        .withArgs(1, a0!.address, a0!.address);
    });

    it("refuses signatures that are not sorted by signer address", async function () {
      const { inbox, attesters, domain, message } = await loadFixture(deployInbox);
      const m = message();
      const [s0, s1, s2] = await signSorted(attesters.slice(0, 3), domain, m, 1);
      await expect(inbox.receiveMessage(m, 1, [s1!, s0!, s2!]))
        .to.be.revertedWithCustomError(inbox, "SignersNotAscending")
        .withArgs(1, attesters[0]!.address, attesters[1]!.address);
    });

    it("refuses a signer outside the attester set (NotAttester)", async function () {
      const { inbox, attesters, domain, message } = await loadFixture(deployInbox);
      const m = message();
      const outsider = Wallet.createRandom();
      const signers = [...attesters.slice(0, 2), outsider];
      const sorted = [...signers].sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1));
      const sigs = await signSorted(signers, domain, m, 1);
      await expect(inbox.receiveMessage(m, 1, sigs))
        .to.be.revertedWithCustomError(inbox, "NotAttester")
        .withArgs(sorted.indexOf(outsider), outsider.address);
    });

    it("refuses signatures made for another chain id", async function () {
      const { inbox, inboxAddr, quorum, message } = await loadFixture(deployInbox);
      const m = message();
      const sigs = await signSorted(quorum, inboxDomain(BASED_CHAIN, inboxAddr), m, 1);
      await expect(inbox.receiveMessage(m, 1, sigs)).to.be.revertedWithCustomError(inbox, "NotAttester");
    });

    it("refuses signatures made for another inbox address", async function () {
      const { inbox, quorum, message } = await loadFixture(deployInbox);
      const m = message();
      const otherInbox = Wallet.createRandom().address;
      const sigs = await signSorted(quorum, inboxDomain(LOCAL_CHAIN, otherInbox), m, 1);
      await expect(inbox.receiveMessage(m, 1, sigs)).to.be.revertedWithCustomError(inbox, "NotAttester");
    });

    it("refuses signatures over other content (a tampered payload)", async function () {
      const { inbox, quorum, domain, message } = await loadFixture(deployInbox);
      const m = message();
      const sigs = await signSorted(quorum, domain, m, 1);
      const tampered = {
        ...m,
        payload: encodeBridgeTransfer(
          Wallet.createRandom().address,
          Wallet.createRandom().address,
          10n ** 24n,
        ),
      };
      await expect(inbox.receiveMessage(tampered, 1, sigs)).to.be.revertedWithCustomError(
        inbox,
        "NotAttester",
      );
    });

    it("refuses a high-s (malleable) signature and one that is not 65 bytes", async function () {
      const { inbox, quorum, domain, message } = await loadFixture(deployInbox);
      const m = message();
      const sigs = await signSorted(quorum, domain, m, 1);
      const highS = toHighS(sigs[1]!);
      // The malleable twin (s' = n - s, v flipped) is the same key's signature to raw ecrecover;
      // only OpenZeppelin's low-s rule refuses it.
      expect(highS).to.not.equal(sigs[1]);
      await expect(inbox.receiveMessage(m, 1, [sigs[0]!, highS, sigs[2]!]))
        .to.be.revertedWithCustomError(inbox, "InvalidSignature")
        .withArgs(1, RecoverError.InvalidSignatureS);
      const compact = ethers.Signature.from(sigs[2]!).compactSerialized; // ERC-2098, 64 bytes
      await expect(inbox.receiveMessage(m, 1, [sigs[0]!, sigs[1]!, compact]))
        .to.be.revertedWithCustomError(inbox, "InvalidSignature")
        .withArgs(2, RecoverError.InvalidSignatureLength);
      const garbage = hexlify(new Uint8Array(65));
      await expect(inbox.receiveMessage(m, 1, [garbage, sigs[1]!, sigs[2]!]))
        .to.be.revertedWithCustomError(inbox, "InvalidSignature")
        .withArgs(0, RecoverError.InvalidSignature);
    });

    it("refuses a replay of an executed message, and of a failed one (it can only be retried)", async function () {
      const { inbox, handler, quorum, message } = await loadFixture(deployInbox);
      const done = message();
      await deliver(inbox, done, quorum);
      await expect(deliver(inbox, done, quorum))
        .to.be.revertedWithCustomError(inbox, "AlreadyDelivered")
        .withArgs(messageId(done), Status.Executed);
      await handler.setMode(Mode.Revert, 1);
      const failed = message();
      await deliver(inbox, failed, quorum);
      await expect(deliver(inbox, failed, quorum))
        .to.be.revertedWithCustomError(inbox, "AlreadyDelivered")
        .withArgs(messageId(failed), Status.Failed);
      expect(await handler.executions()).to.equal(1n);
    });

    it("attack: replay keyed on the payload — a second payload under a used nonce is refused", async function () {
      const { inbox, handler, quorum, message, mallory } = await loadFixture(deployInbox);
      const first = message();
      // The same (source chain, nonce) with another payload, signed by a threshold of attesters
      // (a reorg below the finality depth, or attesters that lost their journals): a new message
      // id, so keying the replay check on the id alone would execute it too.
      const second: Message = {
        ...first,
        payload: encodeBridgeTransfer(mallory.address, mallory.address, 1_000_000n),
      };
      expect(messageId(second)).to.not.equal(messageId(first));
      await deliver(inbox, first, quorum);
      await expect(deliver(inbox, second, quorum))
        .to.be.revertedWithCustomError(inbox, "NonceAlreadyUsed")
        .withArgs(ETH_CHAIN, NonceSpace.EVENT_LOG, first.nonce, messageId(first));
      expect(await handler.executions()).to.equal(1n);
      expect(await inbox.messageStatus(messageId(second))).to.equal(Status.None);
      expect(await inbox.messageAt(ETH_CHAIN, Kind.BRIDGE_TRANSFER, first.nonce)).to.equal(messageId(first));
    });

    it("event kinds share one nonce space per source chain (one log, one message); rotations have their own, reports are left to Consensus", async function () {
      const { inbox, handler, quorum, message } = await loadFixture(deployInbox);
      await inbox.setHandler(Kind.BRAIN_EVENT, await handler.getAddress(), HANDLER_GAS);
      await inbox.setHandler(Kind.EPOCH_REPORT, await handler.getAddress(), HANDLER_GAS);
      const used = message();
      await deliver(inbox, used, quorum);
      // Another kind made from the same log position: refused.
      const otherKind = message({ nonce: used.nonce, kind: Kind.BRAIN_EVENT, payload: "0x01" });
      await expect(deliver(inbox, otherKind, quorum))
        .to.be.revertedWithCustomError(inbox, "NonceAlreadyUsed")
        .withArgs(ETH_CHAIN, NonceSpace.EVENT_LOG, used.nonce, messageId(used));
      // The same nonce from another source chain is another message.
      const [owner] = await ethers.getSigners();
      const twoSources = (await ethers.deployContract("MessageInbox", [
        quorum.map((w) => w.address),
        [ETH_CHAIN, BASED_CHAIN],
        owner!.address,
      ])) as unknown as MessageInbox;
      const mock = await ethers.deployContract("MessageHandlerMock", [await twoSources.getAddress()]);
      await twoSources.setHandler(Kind.BRIDGE_TRANSFER, await mock.getAddress(), HANDLER_GAS);
      await deliver(twoSources, used, quorum);
      await deliver(twoSources, { ...used, srcChainId: BASED_CHAIN }, quorum);
      expect(await mock.executions()).to.equal(2n);
      // An ATTESTER_SET numbers itself (the set version), and EPOCH_REPORT's nonces (epoch and
      // revision) are Consensus's to enforce: the same number as a used event nonce is no replay,
      // and the inbox passes two reports under one nonce to the handler (none is recorded here).
      const report1 = message({ nonce: used.nonce, kind: Kind.EPOCH_REPORT, payload: "0x02" });
      await deliver(inbox, report1, quorum);
      await deliver(inbox, message({ nonce: used.nonce, kind: Kind.EPOCH_REPORT, payload: "0x03" }), quorum);
      expect(await inbox.messageAt(ETH_CHAIN, Kind.EPOCH_REPORT, used.nonce)).to.equal(ethers.ZeroHash);
      await deliver(inbox, message({ nonce: 2n }), quorum);
      const members = sortAddresses(quorum.map((w) => w.address));
      await deliver(
        inbox,
        message({ nonce: 2n, kind: Kind.ATTESTER_SET, payload: encodeAttesterSet(2, members) }),
        quorum,
      );
      expect(await inbox.setVersion()).to.equal(2n);
      expect(await inbox.messageAt(ETH_CHAIN, Kind.ATTESTER_SET, 2n)).to.not.equal(ethers.ZeroHash);
      expect(await handler.executions()).to.equal(4n);
    });

    it("a failed message keeps its nonce: another payload is refused while it waits, and its retry still executes", async function () {
      const { inbox, handler, quorum, message, mallory } = await loadFixture(deployInbox);
      await handler.setMode(Mode.Revert, 1);
      const waiting = message();
      await deliver(inbox, waiting, quorum);
      expect(await inbox.messageStatus(messageId(waiting))).to.equal(Status.Failed);
      await handler.setMode(Mode.Succeed, 0);
      const other = message({
        nonce: waiting.nonce,
        payload: encodeBridgeTransfer(mallory.address, mallory.address, 9n),
      });
      await expect(deliver(inbox, other, quorum))
        .to.be.revertedWithCustomError(inbox, "NonceAlreadyUsed")
        .withArgs(ETH_CHAIN, NonceSpace.EVENT_LOG, waiting.nonce, messageId(waiting));
      await expect(inbox.retry(other))
        .to.be.revertedWithCustomError(inbox, "NotFailed")
        .withArgs(messageId(other), Status.None);
      await expect(inbox.retry(waiting)).to.emit(inbox, "MessageExecuted").withArgs(messageId(waiting));
      expect(await handler.executions()).to.equal(1n);
    });

    it("refuses signatures for a stale or a future attester-set version (WrongSetVersion)", async function () {
      const { inbox, quorum, domain, message } = await loadFixture(deployInbox);
      const m = message();
      for (const v of [0, 2]) {
        const sigs = await signSorted(quorum, domain, m, v);
        await expect(inbox.receiveMessage(m, v, sigs))
          .to.be.revertedWithCustomError(inbox, "WrongSetVersion")
          .withArgs(v, 1);
      }
      // Signed for version 1 but submitted as version 2: refused too (the digest differs anyway).
      const v1 = await signSorted(quorum, domain, m, 1);
      await expect(inbox.receiveMessage(m, 2, v1)).to.be.revertedWithCustomError(inbox, "WrongSetVersion");
    });

    it("refuses a message from an untrusted source chain, even one correctly signed", async function () {
      const { inbox, quorum, message } = await loadFixture(deployInbox);
      const m = message({ srcChainId: BASED_CHAIN });
      await expect(deliver(inbox, m, quorum))
        .to.be.revertedWithCustomError(inbox, "UntrustedSource")
        .withArgs(BASED_CHAIN);
    });

    it("refuses a message for another destination chain", async function () {
      const { inbox, quorum, message } = await loadFixture(deployInbox);
      const m = message({ dstChainId: 32323n });
      await expect(deliver(inbox, m, quorum))
        .to.be.revertedWithCustomError(inbox, "WrongDestination")
        .withArgs(32323n, LOCAL_CHAIN);
    });
  });

  describe("handlers", function () {
    it("a failing handler keeps the message retryable, and retry executes it exactly once", async function () {
      const { inbox, handler, quorum, message, mallory } = await loadFixture(deployInbox);
      await handler.setMode(Mode.Revert, 7);
      const m = message();
      const id = messageId(m);
      const reason = handler.interface.encodeErrorResult("MockFailure", [7]);
      await expect(deliver(inbox, m, quorum))
        .to.emit(inbox, "MessageFailed")
        .withArgs(id, reason)
        .and.not.to.emit(inbox, "MessageExecuted");
      expect(await inbox.messageStatus(id)).to.equal(Status.Failed);

      // Still failing: the retry reverts with the handler's own error, the message stays failed.
      await expect(inbox.connect(mallory).retry(m))
        .to.be.revertedWithCustomError(handler, "MockFailure")
        .withArgs(7);
      expect(await inbox.messageStatus(id)).to.equal(Status.Failed);

      // Anyone may retry once the handler can act.
      await handler.setMode(Mode.Succeed, 0);
      await expect(inbox.connect(mallory).retry(m))
        .to.emit(inbox, "MessageExecuted")
        .withArgs(id)
        .and.to.emit(handler, "Handled");
      expect(await inbox.messageStatus(id)).to.equal(Status.Executed);
      expect(await handler.executions()).to.equal(1n);

      await expect(inbox.retry(m))
        .to.be.revertedWithCustomError(inbox, "NotFailed")
        .withArgs(id, Status.Executed);
      await expect(deliver(inbox, m, quorum)).to.be.revertedWithCustomError(inbox, "AlreadyDelivered");
      expect(await handler.executions()).to.equal(1n);
    });

    it("retry refuses a message that was never delivered (it has no checked signatures)", async function () {
      const { inbox, message } = await loadFixture(deployInbox);
      const m = message();
      await expect(inbox.retry(m))
        .to.be.revertedWithCustomError(inbox, "NotFailed")
        .withArgs(messageId(m), Status.None);
    });

    it("a message whose kind has no handler waits as failed (NoHandler) and runs once governance registers one", async function () {
      const { inbox, quorum, message, owner, inboxAddr } = await loadFixture(deployInbox);
      const m = message({ kind: Kind.GOVERNANCE_CALL, payload: "0x1234" });
      const id = messageId(m);
      const noHandler = inbox.interface.encodeErrorResult("NoHandler", [Kind.GOVERNANCE_CALL]);
      await expect(deliver(inbox, m, quorum))
        .to.emit(inbox, "MessageFailed")
        .withArgs(id, noHandler);
      await expect(inbox.retry(m))
        .to.be.revertedWithCustomError(inbox, "NoHandler")
        .withArgs(Kind.GOVERNANCE_CALL);
      const later = await ethers.deployContract("MessageHandlerMock", [inboxAddr]);
      await inbox.connect(owner).setHandler(Kind.GOVERNANCE_CALL, await later.getAddress(), 100_000);
      await expect(inbox.retry(m)).to.emit(later, "Handled");
      expect(await inbox.messageStatus(id)).to.equal(Status.Executed);
    });

    it("only the owner registers handlers; never for ATTESTER_SET; only contracts; zero removes one", async function () {
      const { inbox, handler, mallory, owner } = await loadFixture(deployInbox);
      const handlerAddr = await handler.getAddress();
      await expect(inbox.connect(mallory).setHandler(Kind.BRAIN_EVENT, handlerAddr, 1))
        .to.be.revertedWithCustomError(inbox, "OwnableUnauthorizedAccount")
        .withArgs(mallory.address);
      await expect(inbox.setHandler(Kind.ATTESTER_SET, handlerAddr, 1))
        .to.be.revertedWithCustomError(inbox, "ReservedKind")
        .withArgs(Kind.ATTESTER_SET);
      await expect(inbox.setHandler(Kind.BRAIN_EVENT, mallory.address, 1))
        .to.be.revertedWithCustomError(inbox, "HandlerNotContract")
        .withArgs(mallory.address);
      await expect(inbox.connect(owner).setHandler(Kind.BRAIN_EVENT, handlerAddr, 123_456))
        .to.emit(inbox, "HandlerSet")
        .withArgs(Kind.BRAIN_EVENT, handlerAddr, 123_456);
      expect(await inbox.handlerOf(Kind.BRAIN_EVENT)).to.deep.equal([handlerAddr, 123_456n]);
      await inbox.setHandler(Kind.BRAIN_EVENT, ethers.ZeroAddress, 0);
      expect(await inbox.handlerOf(Kind.BRAIN_EVENT)).to.deep.equal([ethers.ZeroAddress, 0n]);
    });

    it("a relayer giving too little gas cannot make a valid message fail: the delivery reverts, and one with enough gas executes it", async function () {
      const { inbox, handler, quorum, domain, message } = await loadFixture(deployInbox);
      // The handler genuinely needs ~150k of its 200k: any gas short of that would fail it.
      await handler.setMode(Mode.BurnGas, 150_000);
      const m = message();
      const id = messageId(m);
      const sigs = await signSorted(quorum, domain, m, 1);
      const needed = await inbox.receiveMessage.estimateGas(m, 1, sigs);
      await expect(
        inbox.receiveMessage(m, 1, sigs, { gasLimit: needed - 1_000n }),
      ).to.be.revertedWithCustomError(inbox, "InsufficientGasForHandler");
      // Every gas limit from far too little up to enough: each attempt either reverts entirely or
      // executes the message; none leaves it failed.
      let executedAt: bigint | undefined;
      for (let gas = 60_000n; gas <= needed + 20_000n; gas += 7_000n) {
        try {
          await inbox.receiveMessage(m, 1, sigs, { gasLimit: gas });
          executedAt = gas;
          break;
        } catch {
          expect(await inbox.messageStatus(id)).to.equal(Status.None);
        }
      }
      expect(executedAt !== undefined && executedAt >= needed - 7_000n).to.be.true;
      expect(await inbox.messageStatus(id)).to.equal(Status.Executed);
      expect(await handler.executions()).to.equal(1n);
    });

    it("a handler that needs more than its configured gas fails with its full limit and succeeds on retry after governance raises it", async function () {
      const { inbox, handler, quorum, message, owner } = await loadFixture(deployInbox);
      await handler.setMode(Mode.BurnGas, 250_000);
      const m = message();
      await expect(deliver(inbox, m, quorum, { gasLimit: 3_000_000n })).to.emit(inbox, "MessageFailed");
      await inbox.connect(owner).setHandler(Kind.BRIDGE_TRANSFER, await handler.getAddress(), 400_000);
      await expect(inbox.retry(m, { gasLimit: 300_000n })).to.be.revertedWithCustomError(
        inbox,
        "InsufficientGasForHandler",
      );
      expect(await inbox.messageStatus(messageId(m))).to.equal(Status.Failed);
      await expect(inbox.retry(m)).to.emit(inbox, "MessageExecuted");
      expect(await handler.executions()).to.equal(1n);
    });

    it("a huge revert payload from a handler (return bomb) is cut to 256 bytes and the message stays retryable", async function () {
      const { inbox, handler, quorum, message, owner } = await loadFixture(deployInbox);
      await inbox.connect(owner).setHandler(Kind.BRIDGE_TRANSFER, await handler.getAddress(), 2_000_000);
      await handler.setMode(Mode.ReturnBomb, 100_000);
      const m = message();
      const tx = await deliver(inbox, m, quorum);
      const receipt = await tx.wait();
      const failed = receipt!.logs
        .map((l) => inbox.interface.parseLog(l))
        .find((e) => e?.name === "MessageFailed");
      expect(ethers.dataLength(failed!.args.reason as string)).to.equal(256);
      expect(await inbox.MAX_REASON_BYTES()).to.equal(256n);
      expect(await inbox.messageStatus(messageId(m))).to.equal(Status.Failed);
      await handler.setMode(Mode.Succeed, 0);
      await inbox.retry(m);
      expect(await inbox.messageStatus(messageId(m))).to.equal(Status.Executed);
    });

    it("a handler cannot re-enter the inbox while it runs (retry or receiveMessage)", async function () {
      const { inbox, handler, quorum, message } = await loadFixture(deployInbox);
      const reentrant = inbox.interface.encodeErrorResult("ReentrancyGuardReentrantCall");
      for (const mode of [Mode.ReenterRetry, Mode.ReenterReceive]) {
        await handler.setMode(mode, 0);
        const m = message();
        await expect(deliver(inbox, m, quorum))
          .to.emit(inbox, "MessageFailed")
          .withArgs(messageId(m), reentrant);
        expect(await handler.executions()).to.equal(0n);
      }
    });
  });

  describe("attester-set rotation", function () {
    /** The ATTESTER_SET message that installs `members` as `version`. */
    function rotation(version: number, members: string[], nonce: bigint = BigInt(version)): Message {
      return {
        srcChainId: ETH_CHAIN,
        dstChainId: LOCAL_CHAIN,
        nonce,
        kind: Kind.ATTESTER_SET,
        payload: encodeAttesterSet(version, members),
      };
    }

    it("a rotation signed by the current set installs version 2; the old set is then refused and the new one accepted", async function () {
      const { inbox, handler, quorum, attesters, domain, message } = await loadFixture(deployInbox);
      const next = attesterWallets(7, "next");
      const members = next.map((w) => w.address);
      const r = rotation(2, members);
      await expect(deliver(inbox, r, quorum))
        .to.emit(inbox, "AttesterSetRotated")
        .withArgs(2, members, 5)
        .and.to.emit(inbox, "MessageExecuted")
        .withArgs(messageId(r));
      expect(await inbox.setVersion()).to.equal(2n);
      expect(await inbox.threshold()).to.equal(5n);
      expect(await inbox.attesters()).to.deep.equal(members);
      expect(await inbox.isAttester(attesters[0]!.address)).to.be.false;
      expect(await inbox.isAttester(members[0]!)).to.be.true;

      // The old set signing for version 1: stale. The old set signing for version 2: not members.
      const m = message();
      const oldV1 = await signSorted(attesters, domain, m, 1);
      await expect(inbox.receiveMessage(m, 1, oldV1))
        .to.be.revertedWithCustomError(inbox, "WrongSetVersion")
        .withArgs(1, 2);
      const oldV2 = await signSorted([...attesters, next[0]!], domain, m, 2);
      await expect(inbox.receiveMessage(m, 2, oldV2)).to.be.revertedWithCustomError(inbox, "NotAttester");
      // The new set: threshold 5 of 7.
      await expect(deliver(inbox, m, next.slice(0, 4)))
        .to.be.revertedWithCustomError(inbox, "NotEnoughSignatures")
        .withArgs(4, 5);
      await deliver(inbox, m, next.slice(2, 7));
      expect(await handler.executions()).to.equal(1n);
      await expect(deliver(inbox, r, next)).to.be.revertedWithCustomError(inbox, "AlreadyDelivered");
    });

    it("members kept across a rotation stay members, under the new version", async function () {
      const { inbox, attesters, message, handler } = await loadFixture(deployInbox);
      const kept = attesters.slice(0, 2);
      const added = attesterWallets(2, "added");
      const members = sortAddresses([...kept, ...added].map((w) => w.address));
      await deliver(inbox, rotation(2, members), attesters.slice(1, 4));
      for (const a of members) expect(await inbox.isAttester(a)).to.be.true;
      expect(await inbox.isAttester(attesters[2]!.address)).to.be.false;
      await deliver(inbox, message(), [...kept, added[0]!]);
      expect(await handler.executions()).to.equal(1n);
    });

    it("a rotation signed by fewer than the threshold, or by the incoming set, is refused", async function () {
      const { inbox, attesters } = await loadFixture(deployInbox);
      const next = attesterWallets(4, "next");
      const r = rotation(
        2,
        next.map((w) => w.address),
      );
      await expect(deliver(inbox, r, attesters.slice(0, 2)))
        .to.be.revertedWithCustomError(inbox, "NotEnoughSignatures")
        .withArgs(2, 3);
      await expect(deliver(inbox, r, next)).to.be.revertedWithCustomError(inbox, "NotAttester");
      expect(await inbox.setVersion()).to.equal(1n);
    });

    it("a rotation must carry exactly the next version", async function () {
      const { inbox, quorum } = await loadFixture(deployInbox);
      const members = attesterWallets(4, "next").map((w) => w.address);
      for (const v of [1, 3, 0]) {
        await expect(deliver(inbox, rotation(v, members, 1000n + BigInt(v)), quorum))
          .to.be.revertedWithCustomError(inbox, "WrongNewSetVersion")
          .withArgs(v, 2);
      }
      expect(await inbox.setVersion()).to.equal(1n);
    });

    it("a rotation to an unsorted, repeating, empty or oversized set is refused", async function () {
      const { inbox, quorum } = await loadFixture(deployInbox);
      const [a, b] = attesterWallets(2, "next").map((w) => w.address) as [string, string];
      await expect(deliver(inbox, rotation(2, [b, a]), quorum)).to.be.revertedWithCustomError(
        inbox,
        "AttestersNotAscending",
      );
      await expect(deliver(inbox, rotation(2, [a, a]), quorum)).to.be.revertedWithCustomError(
        inbox,
        "AttestersNotAscending",
      );
      await expect(deliver(inbox, rotation(2, []), quorum)).to.be.revertedWithCustomError(
        inbox,
        "InvalidAttesterSetSize",
      );
      const big = attesterWallets(33, "big").map((w) => w.address);
      await expect(deliver(inbox, rotation(2, big), quorum))
        .to.be.revertedWithCustomError(inbox, "InvalidAttesterSetSize")
        .withArgs(33, 32);
      expect(await inbox.setVersion()).to.equal(1n);
    });

    it("signatures gathered before a rotation must be re-signed for the new version", async function () {
      const { inbox, quorum, attesters, domain, message, handler } = await loadFixture(deployInbox);
      const m = message();
      const before = await signSorted(quorum, domain, m, 1);
      // The same members, re-installed as version 2.
      await deliver(
        inbox,
        rotation(
          2,
          attesters.map((w) => w.address),
        ),
        quorum,
      );
      await expect(inbox.receiveMessage(m, 1, before)).to.be.revertedWithCustomError(
        inbox,
        "WrongSetVersion",
      );
      await expect(inbox.receiveMessage(m, 2, before)).to.be.revertedWithCustomError(inbox, "NotAttester");
      const after = await Promise.all(quorum.map((w) => signAttestation(w, domain, m, 2)));
      await inbox.receiveMessage(m, 2, after);
      expect(await handler.executions()).to.equal(1n);
    });
  });

  it("the test helper's ids and digests agree with the contract for random messages", async function () {
    const { inbox, domain } = await loadFixture(deployInbox);
    for (let i = 0; i < 10; i++) {
      const m: Message = {
        srcChainId: BigInt(keccak256(randomBytes(8)).slice(0, 18)),
        dstChainId: LOCAL_CHAIN,
        nonce: BigInt(keccak256(randomBytes(8)).slice(0, 18)),
        kind: i % 6,
        payload: hexlify(randomBytes(i * 13)),
      };
      expect(await inbox.messageId(m)).to.equal(messageId(m));
      expect(await inbox.hashAttestation(m, i)).to.equal(
        TypedDataEncoder.hash(domain, ATTESTATION_TYPES, { ...m, setVersion: i }),
      );
    }
  });
});
