import { expect } from "chai";
import type { AddressInfo } from "node:net";
import path from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { loadFixture, setBalance } from "@nomicfoundation/hardhat-network-helpers";
import pino from "pino";
import { type Address, type Hex, getAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { Attester } from "../../../oracle/attester/attester";
import { attesterServer } from "../../../oracle/attester/server";
import { Relayer } from "../../../oracle/relayer/relayer";
import type { MessagesResponseJson } from "../../../protocol/attester";
import { type Message, attestationTypedData, messageId, messageToJson } from "../../../protocol/message";
import { BASED } from "../../contracts/bridge/fixture";
import { BASED_CHAIN, Kind, Status, deliver, encodeAttesterSet } from "../../contracts/messaging/messages";
import { tempDir } from "../../helpers/processes";
import { type BridgeSetup, bridgeSetup, inProcess, lock } from "../harness";

const log = pino({ level: "silent" });

/** Serves `app` on a free local port; returns its URL. */
async function serve(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: "127.0.0.1" });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

/** Keys whose addresses sort below `bound`: signatures from them come first in a sorted list. */
function lowKeys(n: number, bound: Address): Hex[] {
  const keys: Hex[] = [];
  while (keys.length < n) {
    const key = generatePrivateKey();
    if (BigInt(privateKeyToAccount(key).address) < BigInt(bound)) keys.push(key);
  }
  return keys;
}

/**
 * A byzantine attester endpoint: it lists valid signatures of real messages, by throw-away keys
 * that are no attesters (the inbox answers `NotAttester` to any delivery that uses one).
 */
function junkEndpoint(messages: () => Message[], keys: Hex[], inbox: Address): FastifyInstance {
  const app = Fastify({ logger: false });
  const entries = async () => {
    const out: MessagesResponseJson["messages"] = [];
    for (const m of messages()) {
      for (const key of keys) {
        const account = privateKeyToAccount(key);
        out.push({
          seq: out.length,
          id: messageId(m),
          message: messageToJson(m),
          signer: account.address,
          setVersion: 1,
          signature: await account.signTypedData(attestationTypedData(m, 1, inbox)),
        });
      }
    }
    return out;
  };
  app.get("/messages", async () => ({
    attester: privateKeyToAccount(keys[0]!).address,
    messages: await entries(),
  }));
  app.get("/messages/:id/signatures", async () => {
    const all = await entries();
    return { id: all[0]!.id, message: all[0]!.message, signatures: all };
  });
  return app;
}

describe("oracle relayer: only signatures the inbox accepts", function () {
  this.timeout(120_000);

  async function relayerFor(
    f: BridgeSetup,
    urls: string[],
    extra: Partial<ConstructorParameters<typeof Relayer>[0]> = {},
  ) {
    const key = generatePrivateKey();
    const account = privateKeyToAccount(key);
    await setBalance(account.address, 10n ** 20n);
    return new Relayer({
      attesterUrls: urls,
      inboxes: [{ ctx: inProcess("ethereum", 31337, account), address: f.ethInboxAddress }],
      stateFile: path.join(tempDir("relayer"), "state.json"),
      log,
      backoffMs: 1,
      maxBackoffMs: 1,
      receiptPollMs: 10,
      ...extra,
    });
  }

  /** Rounds of the relayer until `id` is delivered (or `rounds` pass). */
  async function relayUntil(relayer: Relayer, id: string, rounds = 6): Promise<boolean> {
    for (let i = 0; i < rounds; i++) {
      await relayer.poll();
      await relayer.settle();
      if (relayer.delivered.has(id)) return true;
      await new Promise((r) => setTimeout(r, 5));
    }
    return false;
  }

  async function honestAttesters(f: BridgeSetup, indices: number[]) {
    const attesters: Attester[] = indices.map((i) => f.makeAttester(i, 0));
    const apps = attesters.map((a) => attesterServer(a));
    const urls = await Promise.all(apps.map(serve));
    return { attesters, apps, urls };
  }

  it("attack: a relayer stalled by signatures the inbox will refuse (throw-away low addresses) still delivers", async () => {
    const f = await loadFixture(bridgeSetup);
    const { id, message } = await lock(f, BASED(7));
    const honest = await honestAttesters(f, [0, 1, 2]);
    for (const a of honest.attesters) await a.poll();
    const members = f.attesters.map((w) => w.address).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    const junk = junkEndpoint(() => [message], lowKeys(3, getAddress(members[0]!)), f.ethInboxAddress);
    const junkUrl = await serve(junk);
    try {
      const relayer = await relayerFor(f, [junkUrl, ...honest.urls]);
      expect(await relayUntil(relayer, id)).to.equal(true);
      expect(await f.ethInbox.messageStatus(id)).to.equal(Status.Executed);
      expect(await f.wbased.balanceOf(f.bob.address)).to.equal(BASED(7));
    } finally {
      await Promise.all([junk.close(), ...honest.apps.map((a) => a.close())]);
    }
  });

  it("attack: an attester rotated out of the set refuses to sign, on ?setVersion= and for new events", async () => {
    const f = await loadFixture(bridgeSetup);
    const first = await lock(f, BASED(2));
    const outgoing = f.makeAttester(3, 0);
    await outgoing.poll();
    const app = attesterServer(outgoing);
    // The set rotates to version 2 without attester 3.
    const kept = f.attesters.slice(0, 3).map((w) => w.address);
    await deliver(
      f.ethInbox,
      {
        srcChainId: BASED_CHAIN,
        dstChainId: 31337n,
        nonce: 1n,
        kind: Kind.ATTESTER_SET,
        payload: encodeAttesterSet(
          2,
          [...kept].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)),
        ),
      },
      f.quorum,
    );
    expect(await f.ethInbox.isAttester(f.attesters[3]!.address)).to.equal(false);
    const res = await app.inject({ method: "GET", url: `/messages/${first.id}/signatures?setVersion=2` });
    expect(res.statusCode).to.equal(409);
    expect((res.json() as { error: string }).error).to.match(/not in the current attester set \(version 2\)/);
    const second = await lock(f, BASED(3));
    expect(await outgoing.poll()).to.deep.equal([]);
    expect(outgoing.options.journal.byMessageId(second.id)).to.equal(undefined);
    // The members still sign the new event for version 2, and a relayer delivers it.
    const honest = await honestAttesters(f, [0, 1, 2]);
    try {
      for (const a of honest.attesters) await a.poll();
      const relayer = await relayerFor(f, honest.urls);
      expect(await relayUntil(relayer, second.id)).to.equal(true);
    } finally {
      await Promise.all([app.close(), ...honest.apps.map((a) => a.close())]);
    }
  });

  it("a message that never reaches the threshold is dropped after a while, and comes back when signatures do", async () => {
    const f = await loadFixture(bridgeSetup);
    const { id } = await lock(f, BASED(4));
    const honest = await honestAttesters(f, [0, 1, 2]);
    try {
      await honest.attesters[0]!.poll();
      const relayer = await relayerFor(f, honest.urls, { evictAfterMs: 0 });
      await relayer.poll();
      await relayer.settle();
      expect(relayer.waiting.has(id)).to.equal(false);
      expect(relayer.delivered.has(id)).to.equal(false);
      // The other two sign later: their listings bring it back, and it is delivered.
      await honest.attesters[1]!.poll();
      await honest.attesters[2]!.poll();
      expect(await relayUntil(relayer, id)).to.equal(true);
      expect(await f.ethInbox.messageStatus(id)).to.equal(Status.Executed);

      // A bounded waiting list: past maxPending the oldest waiting message goes.
      const a = await lock(f, BASED(1));
      const b = await lock(f, BASED(1));
      await honest.attesters[0]!.poll();
      const capped = await relayerFor(f, honest.urls.slice(0, 1), { maxPending: 1 });
      await capped.poll();
      await capped.settle();
      expect([...capped.waiting]).to.deep.equal([b.id]);
      expect(capped.waiting.has(a.id)).to.equal(false);
    } finally {
      await Promise.all(honest.apps.map((a) => a.close()));
    }
  });
});
