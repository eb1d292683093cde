import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import pino from "pino";
import { type Hex, getAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { Attester } from "../../../oracle/attester/attester";
import { ConflictingMessageError, Journal } from "../../../oracle/signing/journal";
import {
  type Message,
  MessageKind,
  encodeBridgeTransfer,
  eventNonce,
  messageId,
} from "../../../protocol/message";
import type { ChainContext } from "../../../sdk/chain";
import { tempDir } from "../../helpers/processes";

/**
 * The attester's journal is what keeps it from equivocating: never two different messages for one
 * (source chain, nonce), across restarts too, and a crash mid-write must not brick it.
 */
describe("oracle attester journal: no equivocation, across restarts", () => {
  const alice = getAddress("0x00000000000000000000000000000000000a11ce");
  const bob = getAddress("0x0000000000000000000000000000000000000b0b");
  const transfer = (amount: bigint, nonce = eventNonce(10n, 1)): Message => ({
    srcChainId: 32323n,
    dstChainId: 31337n,
    nonce,
    kind: MessageKind.BRIDGE_TRANSFER,
    payload: encodeBridgeTransfer({ sender: alice, recipient: bob, amount }),
  });
  const sig = (n: number) => `0x${n.toString(16).padStart(130, "0")}` as Hex;
  let file: string;

  beforeEach(() => {
    file = path.join(tempDir("journal"), "nested", "attester.jsonl");
  });

  /** An attester around `journal` that signs for a known set version (no chain needed). */
  function attesterWith(journal: Journal) {
    const account = privateKeyToAccount(`0x${"11".repeat(32)}`);
    // The destination's inbox as the attester reads it: set version 1, and this attester a member.
    const publicClient = {
      readContract: async ({ functionName }: { functionName: string }) =>
        functionName === "isAttester" ? true : 1,
    };
    const ctx = { chain: { id: 31337 }, publicClient } as unknown as ChainContext;
    const inboxes = [{ ctx, address: getAddress(`0x${"12".repeat(20)}`) }];
    return new Attester({
      account,
      journal,
      inboxes,
      watches: [],
      finality: new Map(),
      startBlocks: new Map(),
      log: pino({ level: "silent" }),
    });
  }

  it("records a signature and refuses a different message under the same (source, nonce)", () => {
    const journal = new Journal(file);
    const m = transfer(100n);
    journal.recordSigned(messageId(m), m, 1, sig(1));
    expect(journal.signedFor(m.srcChainId, m.nonce)?.id).to.equal(messageId(m));
    const forged = transfer(999n);
    expect(() => journal.recordSigned(messageId(forged), forged, 1, sig(2))).to.throw(
      ConflictingMessageError,
      /already signed/,
    );
    // The same message again (e.g. re-signed for a new attester-set version) is fine.
    journal.recordSigned(messageId(m), m, 2, sig(3));
    expect(journal.byMessageId(messageId(m))?.setVersion).to.equal(2);
    // Another nonce, or the same nonce from another chain, is another message.
    journal.recordSigned(messageId(transfer(999n, 5n)), transfer(999n, 5n), 1, sig(4));
    const otherChain = { ...forged, srcChainId: 31337n, dstChainId: 32323n };
    journal.recordSigned(messageId(otherChain), otherChain, 1, sig(5));
    journal.close();
  });

  it("still refuses the conflicting message after the journal is reopened (a restart), and keeps cursors", () => {
    const first = new Journal(file);
    const m = transfer(100n);
    first.recordSigned(messageId(m), m, 1, sig(1));
    first.setCursor(32323, 41n);
    first.close();

    const reopened = new Journal(file);
    expect(reopened.cursor(32323)).to.equal(41n);
    expect(reopened.cursor(31337)).to.equal(undefined);
    expect(reopened.signed).to.have.lengthOf(1);
    expect(reopened.byMessageId(messageId(m))?.signature).to.equal(sig(1));
    const forged = transfer(999n);
    expect(() => reopened.recordSigned(messageId(forged), forged, 1, sig(2))).to.throw(
      ConflictingMessageError,
    );
    reopened.close();
  });

  it("an attester restarted on the same journal signs the same message again identically and refuses a different one", async () => {
    const m = transfer(100n);
    const before = attesterWith(new Journal(file));
    const signed = await before.sign(m, 1);
    before.options.journal.close();

    const after = attesterWith(new Journal(file));
    expect((await after.sign(m, 1)).signature).to.equal(signed.signature);
    expect(after.options.journal.signed).to.have.lengthOf(1); // served from the journal, not re-signed
    let refused: unknown;
    try {
      await after.sign(transfer(101n), 1);
    } catch (err) {
      refused = err;
    }
    expect(refused).to.be.instanceOf(ConflictingMessageError);
    after.options.journal.close();
    // Nothing about the refused message reached the disk.
    expect(fs.readFileSync(file, "utf8")).to.not.include(messageId(transfer(101n)));
  });

  it("tolerates a torn last line (a crash mid-append): cut off, and the next entries land on lines of their own", () => {
    const j = new Journal(file);
    const m = transfer(100n);
    j.recordSigned(messageId(m), m, 1, sig(1));
    j.setCursor(32323, 10n);
    j.close();
    fs.appendFileSync(file, '{"type":"signed","seq":1,"id":"0xab'); // torn: no end, no newline

    const reopened = new Journal(file);
    expect(reopened.signed).to.have.lengthOf(1);
    expect(reopened.cursor(32323)).to.equal(10n);
    const next = transfer(5n, eventNonce(11n, 0));
    reopened.recordSigned(messageId(next), next, 1, sig(2));
    reopened.setCursor(32323, 11n);
    reopened.close();

    // A second restart reads everything: the fragment did not glue itself to the next entry.
    const again = new Journal(file);
    expect(again.signed.map((e) => e.id)).to.deep.equal([messageId(m), messageId(next)]);
    expect(again.cursor(32323)).to.equal(11n);
    again.close();
  });

  it("keeps a whole last entry whose newline was lost", () => {
    const j = new Journal(file);
    j.setCursor(1, 5n);
    j.close();
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").trimEnd());
    const reopened = new Journal(file);
    expect(reopened.cursor(1)).to.equal(5n);
    reopened.setCursor(1, 6n);
    reopened.close();
    expect(new Journal(file).cursor(1)).to.equal(6n);
  });

  it("refuses to start on a corrupt line in the middle (tampering or a bug: signing on top could equivocate)", () => {
    const j = new Journal(file);
    const m = transfer(100n);
    j.recordSigned(messageId(m), m, 1, sig(1));
    j.setCursor(32323, 10n);
    j.close();
    const lines = fs.readFileSync(file, "utf8").split("\n");
    lines[0] = lines[0]!.slice(0, 40);
    fs.writeFileSync(file, lines.join("\n"));
    expect(() => new Journal(file)).to.throw(/line 1 is corrupt/);
  });

  it("refuses an entry whose id does not match its message", () => {
    const j = new Journal(file);
    const m = transfer(100n);
    j.recordSigned(messageId(m), m, 1, sig(1));
    j.setCursor(32323, 10n);
    j.close();
    const text = fs.readFileSync(file, "utf8").replace(messageId(m), messageId(transfer(7n)));
    fs.writeFileSync(file, text);
    expect(() => new Journal(file)).to.throw(/does not match its message/);
  });
});
