import { expect } from "chai";
import fc from "fast-check";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { AbiCoder, type Wallet } from "ethers";
import type { MessageInbox } from "../../../typechain-types";
import {
  BASED_CHAIN,
  ETH_CHAIN,
  Kind,
  LOCAL_CHAIN,
  type Message,
  Status,
  attesterWallets,
  encodeAttesterSet,
  encodeBridgeTransfer,
  inboxDomain,
  messageId,
  signSorted,
  sortAddresses,
  thresholdOf,
} from "../messaging/messages";
import { BASED, type Bridges, deployBridgesWith } from "./fixture";

/** Tight limits so random sequences hit them: at most 600 per transfer, a bucket of 1,000 refilling
 *  1 BASED/s (1,000 s from empty to full). */
const PROP_LIMITS = { maxTransfer: BASED(600), capacity: BASED(1_000), rate: BASED(1) };

function deployPropertyBridges(): Promise<Bridges> {
  return deployBridgesWith(PROP_LIMITS);
}

/** Who may sit in an attester set: the fixture's four (each inbox's version 1) and four newcomers. */
const POOL: readonly Wallet[] = [...attesterWallets(4), ...attesterWallets(4, "rotation")].sort((a, b) =>
  BigInt(a.address) < BigInt(b.address) ? -1 : 1,
);

/** The inbox a message goes to: Ethereum's (from the BasedAI chain) or the BasedAI chain's. */
type Side = "ethereum" | "based";
const sideOf = (m: Message): Side => (m.srcChainId === BASED_CHAIN ? "ethereum" : "based");

type Who = 0 | 1;
type Cmd =
  | { t: "lock"; from: Who; to: Who; amount: bigint }
  | { t: "burn"; from: Who; to: Who; percent: number; overdraw: boolean }
  | { t: "relay"; toEthereum: boolean; pick: number }
  | { t: "retry"; pick: number }
  | { t: "retryAfterRefill"; pick: number }
  | { t: "replay"; pick: number; extra: bigint; redirect: boolean }
  | { t: "wait"; seconds: number }
  // The current set of one inbox signs an ATTESTER_SET that installs the members of the POOL
  // whose bits are set in `members` as the next version; `signers` picks which quorum signs it.
  | { t: "rotate"; toEthereum: boolean; members: number; signers: number };

const who = fc.constantFrom<Who>(0, 1);
const command: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 3,
    // Up to 700 BASED (some above the 600 maximum), down to a single wei.
    arbitrary: fc.record({
      t: fc.constant("lock" as const),
      from: who,
      to: who,
      amount: fc.bigInt({ min: 1n, max: BASED(700) }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("burn" as const),
      from: who,
      to: who,
      percent: fc.integer({ min: 1, max: 100 }),
      overdraw: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ t: fc.constant("relay" as const), toEthereum: fc.boolean(), pick: fc.nat() }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("retry" as const), pick: fc.nat() }) },
  // Waits exactly as long as the bucket says (RateLimitReached's wait), then retries.
  { weight: 1, arbitrary: fc.record({ t: fc.constant("retryAfterRefill" as const), pick: fc.nat() }) },
  {
    // A used nonce signed again by a threshold over another payload (more, or to someone else).
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("replay" as const),
      pick: fc.nat(),
      extra: fc.bigInt({ min: 0n, max: BASED(100) }),
      redirect: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("wait" as const), seconds: fc.integer({ min: 1, max: 400 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("rotate" as const),
      toEthereum: fc.boolean(),
      members: fc.integer({ min: 1, max: 2 ** POOL.length - 1 }),
      signers: fc.nat(),
    }),
  },
);

const amountOf = (m: Message): bigint =>
  AbiCoder.defaultAbiCoder().decode(["address", "address", "uint256"], m.payload)[2] as bigint;

describe("BASED bridge invariant (property, fast-check)", function () {
  it("over random lock / burn / relay / retry / wait / replay / attester-set rotation sequences, wBASED.totalSupply() ≤ BASED in BasedBridge after every step, a used nonce never carries a second payload, no inbox lets more through than its bucket allows, signatures of a replaced set are refused and the message goes through re-signed by the current one, a rate-limited transfer goes through once the bucket's own wait has passed, and once the queues drain every locked amount is minted exactly once", async function () {
    // How often the interesting paths ran, over all runs (checked at the end so the property
    // cannot pass by never reaching the limits).
    const seen = {
      failedOnDelivery: 0,
      retriedTooEarly: 0,
      retriedLater: 0,
      aboveMax: 0,
      retriedAfterRefill: 0,
      replayRefused: 0,
      rotated: 0,
      staleVersionRefused: 0,
      removedSignerRefused: 0,
      resigned: 0,
    };
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40, size: "max" }), async (cmds) => {
        const f = await loadFixture(deployPropertyBridges);
        const { based, wbased, basedBridge, ethBridge } = f;
        const users = [f.alice, f.bob] as const;
        const bridgeAddr = await basedBridge.getAddress();
        const inboxes: Record<Side, MessageInbox> = { ethereum: f.ethInbox, based: f.basedInbox };
        const domains = {
          ethereum: inboxDomain(LOCAL_CHAIN, await f.ethInbox.getAddress()),
          based: inboxDomain(LOCAL_CHAIN, await f.basedInbox.getAddress()),
        };

        // The model of each inbox's attester set (sorted wallets), every wallet that was ever in
        // it, and the signatures each message got when it was made (from the set of that moment,
        // as attesters sign once the source event is final).
        const sets: Record<Side, { version: bigint; wallets: Wallet[] }> = {
          ethereum: { version: 1n, wallets: attesterWallets(4) },
          based: { version: 1n, wallets: attesterWallets(4) },
        };
        const everIn: Record<Side, Set<string>> = {
          ethereum: new Set(sets.ethereum.wallets.map((w) => w.address)),
          based: new Set(sets.based.wallets.map((w) => w.address)),
        };
        const signed = new Map<string, { version: bigint; signatures: string[] }>();
        // What each inbox released, against what its bucket allows since the start.
        const released: Record<Side, bigint> = { ethereum: 0n, based: 0n };
        const startedAt = BigInt(await time.latest());

        /** A quorum (threshold members, from `offset` on) of `side`'s current set signs `m`. */
        async function signNow(side: Side, m: Message, offset = 0) {
          const { version, wallets } = sets[side];
          const quorum = Array.from(
            { length: thresholdOf(wallets.length) },
            (_, i) => wallets[(offset + i) % wallets.length]!,
          );
          return { version, signatures: await signSorted(quorum, domains[side], m, version) };
        }

        // The model: messages not yet delivered, delivered-but-failed, and all ever made.
        const pending = { toEthereum: [] as Message[], toBased: [] as Message[] };
        const failed: Message[] = [];
        const all: Message[] = [];
        const delivered: Message[] = [];
        const expectedWrapped = [0n, 0n];
        const basedStart = await Promise.all(users.map((u) => based.balanceOf(u.address)));
        const expectedBased = [...basedStart];

        const inFlight = () =>
          [...pending.toEthereum, ...pending.toBased, ...failed].reduce((s, m) => s + amountOf(m), 0n);
        const recipientOf = (m: Message): Who => {
          const to = AbiCoder.defaultAbiCoder().decode(
            ["address", "address", "uint256"],
            m.payload,
          )[1] as string;
          return to === users[0].address ? 0 : 1;
        };
        const credit = (m: Message) => {
          if (m.srcChainId === BASED_CHAIN) expectedWrapped[recipientOf(m)]! += amountOf(m);
          else expectedBased[recipientOf(m)]! += amountOf(m);
          released[sideOf(m)] += amountOf(m);
        };

        /** Retries failed message `index` after the wait its bucket reports: it must go through. */
        async function retryAfterOwnWait(index: number) {
          const m = failed[index]!;
          const bridge = m.srcChainId === BASED_CHAIN ? ethBridge : basedBridge;
          try {
            await f.inboxOf(m).retry.staticCall(m);
          } catch (err) {
            const refusal = bridge.interface.parseError((err as { data: string }).data);
            expect(refusal?.name).to.equal("RateLimitReached");
            const wait = refusal!.args[0] as bigint;
            // Well before the wait is over a retry is refused and changes nothing (the margin covers
            // the seconds the chain's clock moves on its own between blocks).
            if (wait > 5n) expect(await retryOne(index)).to.be.false;
            await time.increase(wait);
          }
          // The bucket's own wait is enough: the retry now goes through.
          expect(await retryOne(index)).to.be.true;
          seen.retriedAfterRefill++;
        }

        async function check() {
          const supply = await wbased.totalSupply();
          const locked = await based.balanceOf(bridgeAddr);
          expect(supply <= locked, `wBASED ${supply} > locked ${locked}`).to.be.true;
          // Nothing is lost: what is locked but not wrapped is exactly what is still on its way.
          expect(locked - supply).to.equal(inFlight());
          for (const i of [0, 1] as const) {
            expect(await wbased.balanceOf(users[i].address)).to.equal(expectedWrapped[i]);
            expect(await based.balanceOf(users[i].address)).to.equal(expectedBased[i]);
          }
          // Rate limits: no inbox released more than a full bucket plus the refill since the start.
          const allowed = PROP_LIMITS.capacity + PROP_LIMITS.rate * (BigInt(await time.latest()) - startedAt);
          for (const side of ["ethereum", "based"] as const) {
            expect(released[side] <= allowed, `${side} released ${released[side]} > ${allowed}`).to.be.true;
          }
        }

        /** Records a new lock/burn message and its signatures by its destination's current set. */
        async function made(m: Message) {
          all.push(m);
          signed.set(messageId(m), await signNow(sideOf(m), m));
        }

        /** Delivers `m` with the signatures it got; if a rotation made them stale since, they must be
         *  refused, as must a removed attester's signature for the current version, and the message
         *  goes through re-signed by the current set. */
        async function relay(m: Message) {
          const side = sideOf(m);
          const inbox = inboxes[side];
          const current = sets[side];
          let sig = signed.get(messageId(m))!;
          if (sig.version !== current.version) {
            await expect(inbox.receiveMessage(m, sig.version, sig.signatures))
              .to.be.revertedWithCustomError(inbox, "WrongSetVersion")
              .withArgs(sig.version, current.version);
            seen.staleVersionRefused++;
            const members = new Set(current.wallets.map((w) => w.address));
            const removed = POOL.filter((w) => everIn[side].has(w.address) && !members.has(w.address));
            if (removed.length > 0) {
              // A removed attester signing for the current version, beside a full quorum of members.
              const outsider = removed[Number(m.nonce % BigInt(removed.length))]!;
              const quorum = [outsider, ...current.wallets.slice(0, thresholdOf(current.wallets.length))];
              const signers = sortAddresses(quorum.map((w) => w.address));
              await expect(
                inbox.receiveMessage(
                  m,
                  current.version,
                  await signSorted(quorum, domains[side], m, current.version),
                ),
              )
                .to.be.revertedWithCustomError(inbox, "NotAttester")
                .withArgs(signers.indexOf(outsider.address), outsider.address);
              seen.removedSignerRefused++;
            }
            expect(await inbox.messageStatus(messageId(m))).to.equal(Status.None);
            sig = await signNow(side, m, Number(m.nonce & 0xffn));
            signed.set(messageId(m), sig);
            seen.resigned++;
          }
          await inbox.receiveMessage(m, sig.version, sig.signatures);
        }

        async function deliverOne(m: Message) {
          await relay(m);
          delivered.push(m);
          const status = await f.inboxOf(m).messageStatus(messageId(m));
          if (status === Status.Executed) credit(m);
          else {
            expect(status).to.equal(Status.Failed);
            failed.push(m);
            seen.failedOnDelivery++;
          }
        }

        async function retryOne(index: number): Promise<boolean> {
          const m = failed[index]!;
          try {
            await f.inboxOf(m).retry(m);
          } catch {
            expect(await f.inboxOf(m).messageStatus(messageId(m))).to.equal(Status.Failed);
            seen.retriedTooEarly++;
            return false;
          }
          seen.retriedLater++;
          failed.splice(index, 1);
          credit(m);
          return true;
        }

        for (const c of cmds) {
          switch (c.t) {
            case "lock": {
              const [from, to] = [users[c.from], users[c.to]];
              if (c.amount > PROP_LIMITS.maxTransfer) {
                await expect(
                  basedBridge.connect(from).lock(to.address, c.amount),
                ).to.be.revertedWithCustomError(basedBridge, "TransferAboveMax");
                seen.aboveMax++;
                break;
              }
              const m = await f.messageOf(await basedBridge.connect(from).lock(to.address, c.amount));
              expectedBased[c.from]! -= c.amount;
              pending.toEthereum.push(m);
              await made(m);
              break;
            }
            case "burn": {
              const [from, to] = [users[c.from], users[c.to]];
              const balance = await wbased.balanceOf(from.address);
              const amount = c.overdraw ? balance + 1n : (balance * BigInt(c.percent)) / 100n;
              if (amount === 0n) break;
              if (amount > balance || amount > PROP_LIMITS.maxTransfer) {
                await expect(ethBridge.connect(from).burn(to.address, amount)).to.be.reverted;
                break;
              }
              const m = await f.messageOf(await ethBridge.connect(from).burn(to.address, amount));
              expectedWrapped[c.from]! -= amount;
              pending.toBased.push(m);
              await made(m);
              break;
            }
            case "relay": {
              const queue = c.toEthereum ? pending.toEthereum : pending.toBased;
              if (queue.length === 0) break;
              // Any order: relayers race and attesters sign in parallel.
              const [m] = queue.splice(c.pick % queue.length, 1);
              await deliverOne(m!);
              break;
            }
            case "retry":
              if (failed.length > 0) await retryOne(c.pick % failed.length);
              break;
            case "retryAfterRefill":
              if (failed.length > 0) await retryAfterOwnWait(c.pick % failed.length);
              break;
            case "replay": {
              if (delivered.length === 0) break;
              const m = delivered[c.pick % delivered.length]!;
              const [sender, recipient, amount] = AbiCoder.defaultAbiCoder().decode(
                ["address", "address", "uint256"],
                m.payload,
              ) as unknown as [string, string, bigint];
              const other = recipient === users[0].address ? users[1].address : users[0].address;
              const forged: Message = {
                ...m,
                payload: encodeBridgeTransfer(sender, c.redirect ? other : recipient, amount + c.extra),
              };
              if (forged.payload === m.payload) break;
              const before = await f.inboxOf(m).messageStatus(messageId(m));
              // Signed by the current set: the nonce, not the signatures, is what refuses it.
              const sig = await signNow(sideOf(m), forged);
              await expect(f.inboxOf(m).receiveMessage(forged, sig.version, sig.signatures))
                .to.be.revertedWithCustomError(f.inboxOf(m), "NonceAlreadyUsed")
                .withArgs(m.srcChainId, 0, m.nonce, messageId(m));
              expect(await f.inboxOf(m).messageStatus(messageId(forged))).to.equal(Status.None);
              expect(await f.inboxOf(m).messageStatus(messageId(m))).to.equal(before);
              seen.replayRefused++;
              break;
            }
            case "wait":
              await time.increase(c.seconds);
              break;
            case "rotate": {
              const side: Side = c.toEthereum ? "ethereum" : "based";
              const inbox = inboxes[side];
              const wallets = POOL.filter((_, i) => (c.members >> i) & 1);
              const addresses = wallets.map((w) => w.address);
              const version = sets[side].version + 1n;
              const rotation: Message = {
                srcChainId: side === "ethereum" ? BASED_CHAIN : ETH_CHAIN,
                dstChainId: LOCAL_CHAIN,
                nonce: version,
                kind: Kind.ATTESTER_SET,
                payload: encodeAttesterSet(version, addresses),
              };
              const sig = await signNow(side, rotation, c.signers);
              await expect(inbox.receiveMessage(rotation, sig.version, sig.signatures))
                .to.emit(inbox, "AttesterSetRotated")
                .withArgs(version, addresses, thresholdOf(wallets.length));
              sets[side] = { version, wallets };
              for (const a of addresses) everIn[side].add(a);
              expect(await inbox.setVersion()).to.equal(version);
              expect(await inbox.threshold()).to.equal(BigInt(thresholdOf(wallets.length)));
              expect(await inbox.attesters()).to.deep.equal(addresses);
              // The new set cannot deliver again what the old one delivered.
              const done = delivered.filter((m) => sideOf(m) === side);
              if (done.length > 0) {
                const m = done[c.signers % done.length]!;
                const again = await signNow(side, m);
                await expect(
                  inbox.receiveMessage(m, again.version, again.signatures),
                ).to.be.revertedWithCustomError(inbox, "AlreadyDelivered");
              }
              seen.rotated++;
              break;
            }
          }
          await check();
        }

        // Drain: deliver everything, then keep retrying as the buckets refill.
        for (const m of [...pending.toEthereum, ...pending.toBased]) await deliverOne(m);
        pending.toEthereum.length = 0;
        pending.toBased.length = 0;
        await check();
        // Each failed transfer goes through after exactly the wait its bucket reports.
        while (failed.length > 0) {
          await retryAfterOwnWait(failed.length - 1);
          await check();
        }

        expect(await wbased.totalSupply()).to.equal(await based.balanceOf(bridgeAddr));
        for (const m of all) expect(await f.inboxOf(m).messageStatus(messageId(m))).to.equal(Status.Executed);
      }),
      { numRuns: 30 },
    );
    for (const [path, count] of Object.entries(seen)) expect(count, path).to.be.greaterThan(0);
  });
});
