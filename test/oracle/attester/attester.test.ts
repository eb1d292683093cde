import path from "node:path";
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import pino from "pino";
import { type Hex, getAddress, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { Attester } from "../../../oracle/attester/attester";
import { Journal } from "../../../oracle/signing/journal";
import { attesterServer } from "../../../oracle/attester/server";
import { brainWatch } from "../../../oracle/attester/sources";
import {
  MessageKind,
  decodeBrainEvent,
  decodeBridgeTransfer,
  encodeBridgeTransfer,
  messageId,
  messageJsonSchema,
  pickSignatures,
  recoverAttester,
} from "../../../protocol/message";
import { BASED, deployBridges } from "../../contracts/bridge/fixture";
import { LOCK, PEPE, deployBrains } from "../../contracts/ethereum/helpers";
import { Status } from "../../contracts/messaging/messages";
import { tempDir } from "../../helpers/processes";
import { bridgeSetup, inProcessSides, lock } from "../harness";

/**
 * The attester in process, on the in-process Hardhat network: both bridge ends of the fixture live
 * on chain 31337, and the attester reads the BasedBridge as "the BasedAI chain" (32323), so what
 * it signs is deliverable to the fixture's Ethereum-side inbox, which trusts 32323.
 */
describe("oracle attester: finality, signing and its HTTP server", function () {
  const log = pino({ level: "silent" });
  const { basedSide, ethSide } = inProcessSides();

  it("signs nothing until the event is finalityDepth blocks deep, then exactly the message of the log", async () => {
    const f = await loadFixture(bridgeSetup);
    const attester = f.makeAttester(0, 3);
    const { message, id } = await lock(f, BASED(5));
    expect(await attester.poll()).to.deep.equal([]); // head = the lock's block
    await mine(2);
    expect(await attester.poll()).to.deep.equal([]); // 2 deep
    expect(attester.options.journal.byMessageId(id)).to.equal(undefined);
    await mine(1);
    const signed = await attester.poll(); // 3 deep: final
    expect(signed.map((s) => s.id)).to.deep.equal([id]);
    expect(signed[0]!.message).to.deep.equal(message);
    expect(decodeBridgeTransfer(signed[0]!.message.payload).amount).to.equal(BASED(5));
    // Nothing is signed twice: the cursor moved past the block.
    await mine(5);
    expect(await attester.poll()).to.deep.equal([]);
    expect(attester.options.journal.signed).to.have.lengthOf(1);
  });

  it("signatures of three independent attesters deliver the lock to the Ethereum inbox, which mints wBASED", async () => {
    const f = await loadFixture(bridgeSetup);
    const attesters = [0, 1, 2].map((i) => f.makeAttester(i, 1));
    const { id, message } = await lock(f, BASED(7));
    await mine(1);
    const signed = (await Promise.all(attesters.map((a) => a.poll()))).flat();
    expect(signed.map((s) => s.id)).to.deep.equal([id, id, id]);
    const chosen = pickSignatures(
      signed.map((s, i) => ({ signer: attesters[i]!.address, signature: s.signature })),
      3,
    );
    await f.ethInbox.receiveMessage(message, 1, chosen!);
    expect(await f.ethInbox.messageStatus(id)).to.equal(Status.Executed);
    expect(await f.wbased.balanceOf(f.bob.address)).to.equal(BASED(7));
  });

  it("an attester that signed other content for a (source, nonce) refuses the new one and keeps following the chain", async () => {
    const f = await loadFixture(bridgeSetup);
    const attester = f.makeAttester(0, 0);
    const first = await lock(f, BASED(1));
    const second = await lock(f, BASED(2));
    // As if a reorg had replaced the first lock after the attester had signed its old content.
    const old = {
      ...first.message,
      payload: encodeBridgeTransfer({ sender: zeroAddress, recipient: zeroAddress, amount: 1n }),
    };
    attester.options.journal.recordSigned(messageId(old), old, 1, `0x${"00".repeat(65)}`);
    const signed = await attester.poll();
    expect(signed.map((s) => s.id)).to.deep.equal([second.id]);
    expect(attester.options.journal.byMessageId(first.id)).to.equal(undefined);
    expect(attester.options.journal.cursor(32323)).to.equal(second.block);
  });

  describe("HTTP server", () => {
    async function served() {
      const f = await loadFixture(bridgeSetup);
      const attester = f.makeAttester(1, 0);
      const locked = await lock(f, BASED(3));
      await attester.poll();
      return { f, attester, app: attesterServer(attester), ...locked };
    }

    it("serves a signature that recovers to the attester, for the destination inbox and set version", async () => {
      const { f, attester, app, id, message } = await served();
      const res = await app.inject({ method: "GET", url: `/messages/${id}/signatures` });
      expect(res.statusCode).to.equal(200);
      const body = res.json() as {
        id: string;
        message: unknown;
        signatures: { signer: string; setVersion: number; signature: Hex }[];
      };
      expect(body.id).to.equal(id);
      expect(messageJsonSchema.parse(body.message)).to.deep.equal(message);
      expect(body.signatures).to.have.lengthOf(1);
      const [s] = body.signatures;
      expect(s!.signer).to.equal(attester.address);
      expect(await recoverAttester(message, s!.setVersion, f.ethInboxAddress, s!.signature)).to.equal(
        attester.address,
      );
      // Upper-case hex is the same id.
      const upper = await app.inject({
        method: "GET",
        url: `/messages/0x${id.slice(2).toUpperCase()}/signatures`,
      });
      expect(upper.statusCode).to.equal(200);
      // Asking for the current set version returns the same signature.
      const v1 = await app.inject({ method: "GET", url: `/messages/${id}/signatures?setVersion=1` });
      expect((v1.json() as typeof body).signatures[0]!.signature).to.equal(s!.signature);
      await app.close();
    });

    it("lists what it signed, paged by sequence number", async () => {
      const { app, attester, id } = await served();
      const all = await app.inject({ method: "GET", url: "/messages" });
      expect(all.statusCode).to.equal(200);
      const body = all.json() as { attester: string; messages: { seq: number; id: string }[] };
      expect(body.attester).to.equal(attester.address);
      expect(body.messages.map((m) => m.id)).to.deep.equal([id]);
      const after = await app.inject({ method: "GET", url: "/messages?after=0&limit=10" });
      expect((after.json() as typeof body).messages).to.deep.equal([]);
      const health = await app.inject({ method: "GET", url: "/health" });
      expect(health.json()).to.deep.equal({ ok: true, attester: attester.address, signed: 1 });
      await app.close();
    });

    it("answers 400 to malformed ids and queries and 404 to an id it never signed", async () => {
      const { app, id } = await served();
      const status = async (url: string) => (await app.inject({ method: "GET", url })).statusCode;
      for (const bad of ["0x1234", "1234", `0x${"zz".repeat(32)}`, `${id}00`, `0x${"ab".repeat(33)}`]) {
        expect(await status(`/messages/${bad}/signatures`), bad).to.equal(400);
      }
      for (const q of ["setVersion=0", "setVersion=-1", "setVersion=x", "setVersion=1.5"]) {
        expect(await status(`/messages/${id}/signatures?${q}`), q).to.equal(400);
      }
      for (const q of ["after=abc", "after=-2", "limit=0", "limit=501", "limit=x"]) {
        expect(await status(`/messages?${q}`), q).to.equal(400);
      }
      const unknown = await app.inject({ method: "GET", url: `/messages/0x${"ab".repeat(32)}/signatures` });
      expect(unknown.statusCode).to.equal(404);
      expect(unknown.json()).to.have.property("error").that.includes("has not signed");
      expect(await status("/nothing-here")).to.equal(404);
      await app.close();
    });
  });

  describe("Brain events", () => {
    async function brainSetup() {
      const start = BigInt(await ethers.provider.getBlockNumber()) + 1n;
      const b = await deployBrains();
      const f = await deployBridges(); // an inbox to sign for (any destination will do here)
      const attester = new Attester({
        account: privateKeyToAccount(f.attesters[0]!.privateKey as Hex),
        journal: new Journal(path.join(tempDir("attester"), "a.jsonl")),
        watches: [brainWatch(ethSide, basedSide, getAddress(b.brainAddr))],
        inboxes: [{ ctx: basedSide, address: getAddress(await f.basedInbox.getAddress()) }],
        finality: new Map([[31337, { kind: "depth", depth: 0 }]]),
        startBlocks: new Map([[31337, start]]),
        log,
      });
      return { ...b, attester };
    }

    it("turns BrainNFT mints, transfers and deactivations into full snapshots for the BasedAI chain", async () => {
      const { brain, labs, alice, bob, attester } = await loadFixture(brainSetup);
      const snapshots = async () =>
        (await attester.poll()).map((s) => {
          expect(s.message).to.include({
            srcChainId: 31337n,
            dstChainId: 32323n,
            kind: MessageKind.BRAIN_EVENT,
          });
          return decodeBrainEvent(s.message.payload);
        });

      // The reserved Brains, minted in the constructor.
      const reserved = await snapshots();
      expect(reserved.map((s) => Number(s.brainId))).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 47]);
      expect(
        reserved.every((s) => s.owner === getAddress(labs.address) && s.class === 1 && s.active),
      ).to.equal(true);

      await brain.connect(alice).mintByBurn(PEPE(1_000));
      await brain.connect(alice).transferFrom(alice.address, bob.address, 7n);
      const [minted, moved] = await snapshots();
      // Full state at the end of each event's block: the mint's snapshot has alice, the transfer's bob.
      expect(minted).to.deep.include({
        brainId: 7n,
        owner: getAddress(alice.address),
        class: 2,
        active: true,
      });
      expect(moved).to.deep.include({
        brainId: 7n,
        owner: getAddress(bob.address),
        basedWallet: getAddress(bob.address),
      });

      await brain.connect(alice).mintByStake();
      const [staked] = await snapshots();
      expect(staked).to.deep.include({ brainId: 8n, class: 3, active: true });
      expect(staked!.unlockAt).to.be.greaterThan(0n);
      await time.increase(LOCK);
      await brain.connect(alice).deactivate(8n);
      const [gone] = await snapshots();
      expect(gone).to.deep.equal({
        brainId: 8n,
        owner: zeroAddress,
        class: 0,
        unlockAt: 0n,
        basedWallet: zeroAddress,
        active: false,
      });
    });
  });
});
