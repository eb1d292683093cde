import { expect } from "chai";
import fc from "fast-check";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { AbiCoder } from "ethers";
import { BASED_CHAIN, type Message, Status, encodeBridgeTransfer, messageId } from "../messaging/messages";
import { BASED, type Bridges, deployBridgesWith } from "./fixture";

/** Tight limits so random sequences hit them: at most 600 per transfer, a bucket of 1,000 refilling
 *  1 BASED/s (1,000 s from empty to full). */
const PROP_LIMITS = { maxTransfer: BASED(600), capacity: BASED(1_000), rate: BASED(1) };

function deployPropertyBridges(): Promise<Bridges> {
  return deployBridgesWith(PROP_LIMITS);
}

type Who = 0 | 1;
type Cmd =
  | { t: "lock"; from: Who; to: Who; amount: bigint }
  | { t: "burn"; from: Who; to: Who; percent: number; overdraw: boolean }
  | { t: "relay"; toEthereum: boolean; pick: number }
  | { t: "retry"; pick: number }
  | { t: "retryAfterRefill"; pick: number }
  | { t: "replay"; pick: number; extra: bigint; redirect: boolean }
  | { t: "wait"; seconds: number };

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
);

const amountOf = (m: Message): bigint =>
  AbiCoder.defaultAbiCoder().decode(["address", "address", "uint256"], m.payload)[2] as bigint;

describe("BASED bridge invariant (property, fast-check)", function () {
  it("over random lock / burn / relay / retry / wait / replay sequences, wBASED.totalSupply() ≤ BASED in BasedBridge after every step, a used nonce never carries a second payload, a rate-limited transfer goes through once the bucket's own wait has passed, and once the queues drain every locked amount is minted exactly once", async function () {
    // How often the interesting paths ran, over all runs (checked at the end so the property
    // cannot pass by never reaching the limits).
    const seen = {
      failedOnDelivery: 0,
      retriedTooEarly: 0,
      retriedLater: 0,
      aboveMax: 0,
      retriedAfterRefill: 0,
      replayRefused: 0,
    };
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40, size: "max" }), async (cmds) => {
        const f = await loadFixture(deployPropertyBridges);
        const { based, wbased, basedBridge, ethBridge } = f;
        const users = [f.alice, f.bob] as const;
        const bridgeAddr = await basedBridge.getAddress();

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
            await time.increase(refusal!.args[0] as bigint);
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
        }

        async function deliverOne(m: Message) {
          await f.relay(m);
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
              all.push(m);
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
              all.push(m);
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
              await expect(f.relay(forged))
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
