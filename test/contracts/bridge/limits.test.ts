/**
 * The bridges' deployed rate limits against the bound they are chosen for (docs/decisions.md,
 * "Bridge limits"): a compromised attester set moves at most 1 % of the circulating BASED per
 * 24 hours, both directions together, once the chain is 30 days old. The limits are read from
 * contracts deployed by the Ignition modules with their default parameters, as the devnet deploys
 * them; the supply comes from the emission schedule (oracle/consensus/emission.ts, the twin of
 * EmissionSchedule.sol).
 */
import { expect } from "chai";
import hre, { ethers } from "hardhat";
import { impersonateAccount, loadFixture, setBalance, time } from "@nomicfoundation/hardhat-network-helpers";
import type {
  BasedBridge,
  BasedToken,
  EthereumBridge,
  MessageInbox,
  WrappedBased,
} from "../../../typechain-types";
import BasedModule from "../../../ignition/modules/Based";
import EthereumDevnetModule from "../../../ignition/modules/EthereumDevnet";
import { emissionBetween } from "../../../oracle/consensus/emission";
import {
  Kind,
  LOCAL_CHAIN,
  type Message,
  Status,
  attesterWallets,
  deliver,
  encodeBridgeTransfer,
  messageId,
} from "../messaging/messages";

/** The stated bound: basis points of the circulating supply per day, from `fromDay` on. */
const BOUND = { basisPoints: 100n, fromDay: 30n } as const;
const DAY = 86_400n;
/** BasedAI blocks are 10 s apart (docs/architecture.md §1). */
const BLOCKS_PER_DAY = DAY / 10n;
/** BASED emitted in the chain's first `days` days: the whole circulating supply (Emission alone mints). */
const supplyAfterDays = (days: bigint): bigint => emissionBetween(0n, days * BLOCKS_PER_DAY);
const boundAfterDays = (days: bigint): bigint => (supplyAfterDays(days) * BOUND.basisPoints) / 10_000n;

/** Ignition's chain ids by default: Ethereum 31337 (the test network itself), BasedAI 32323. */
const ETHEREUM_ID = 31337n;
const BASED_ID = 32323n;

/** A signer for the contract at `address` (the test network lets it send transactions). */
async function impersonate(address: string) {
  await impersonateAccount(address);
  await setBalance(address, 10n ** 18n);
  return ethers.getSigner(address);
}

describe("Bridge limits as deployed (Ignition defaults)", function () {
  async function deployDefaults() {
    const attesters = attesterWallets(4, "limits");
    const members = attesters.map((a) => a.address);
    const guardianOwners = (await ethers.getSigners()).slice(7, 10).map((s) => s.address);
    const based = await hre.ignition.deploy(BasedModule, {
      parameters: { Based: { attesters: members, guardianOwners } },
    });
    const eth = await hre.ignition.deploy(EthereumDevnetModule, {
      parameters: { EthereumDevnet: { attesters: members, guardianOwners } },
    });
    const at = async <T>(name: string, contract: { getAddress(): Promise<string> }) =>
      (await ethers.getContractAt(name, await contract.getAddress())) as unknown as T;
    return {
      quorum: attesters.slice(0, 3),
      basedToken: await at<BasedToken>("BasedToken", based.basedToken),
      basedInbox: await at<MessageInbox>("MessageInbox", based.messageInbox),
      basedBridge: await at<BasedBridge>("BasedBridge", based.basedBridge),
      emission: await based.emission.getAddress(),
      wbased: await at<WrappedBased>("WrappedBased", eth.wrappedBased),
      ethInbox: await at<MessageInbox>("MessageInbox", eth.messageInbox),
      ethBridge: await at<EthereumBridge>("EthereumBridge", eth.ethereumBridge),
    };
  }

  /** The most a bucket lets through in any 24 hours: a full bucket, then a day of refill. */
  async function dailyMax(bridge: BasedBridge | EthereumBridge): Promise<bigint> {
    const { capacity, rate } = await bridge.inboundBucket();
    return capacity + rate * DAY;
  }

  it("both directions together let at most 1 % of the circulating supply out in 24 h from day 30 on (the supply only grows)", async function () {
    const f = await loadFixture(deployDefaults);
    const total = (await dailyMax(f.basedBridge)) + (await dailyMax(f.ethBridge));
    expect(total > 0n).to.be.true;
    for (const day of [BOUND.fromDay, 365n, 4n * 365n]) {
      expect(total <= boundAfterDays(day), `day ${day}: ${total} > ${boundAfterDays(day)}`).to.be.true;
    }
    // Each transfer the source accepts can be released: it fits the destination's bucket.
    for (const bridge of [f.basedBridge, f.ethBridge]) {
      expect((await bridge.maxTransfer()) <= (await bridge.inboundBucket()).capacity).to.be.true;
    }
  });

  it("attack: rate limits that bound nothing — a day of maximal withdrawals stays under the bound", async function () {
    this.timeout(120_000);
    const f = await loadFixture(deployDefaults);
    const [, thief] = await ethers.getSigners();
    /**
     * A compromised attester set (a threshold of signatures) sends transfers to `thief` as fast as
     * `bridge`'s bucket lets them through for 24 hours of chain time: everything it holds at the
     * start, then a transfer whenever it has refilled to the per-transfer maximum, and the rest at
     * the last second. Returns what `thief` received.
     */
    async function drain(
      inbox: MessageInbox,
      bridge: BasedBridge | EthereumBridge,
      srcChainId: bigint,
      balance: () => Promise<bigint>,
    ): Promise<bigint> {
      const maxTransfer = await bridge.maxTransfer();
      const { capacity, rate } = await bridge.inboundBucket();
      expect(rate > 0n).to.be.true;
      const before = await balance();
      const start = BigInt(await time.latest()) + 1n;
      const end = start + DAY;
      let moved = 0n;
      let log = 1n;
      for (let at = start; at <= end;) {
        const b = await bridge.inboundBucket();
        const refilled = b.tokens + (at - BigInt(b.lastUpdated)) * rate;
        const tokens = refilled < capacity ? refilled : capacity;
        const amount = tokens < maxTransfer ? tokens : maxTransfer;
        const m: Message = {
          srcChainId,
          dstChainId: LOCAL_CHAIN,
          nonce: (1_000n + log++) << 32n,
          kind: Kind.BRIDGE_TRANSFER,
          payload: encodeBridgeTransfer(thief!.address, thief!.address, amount),
        };
        await time.setNextBlockTimestamp(at);
        await deliver(inbox, m, f.quorum);
        expect(await inbox.messageStatus(messageId(m))).to.equal(Status.Executed);
        moved += amount;
        if (at === end) break;
        const refill = (maxTransfer - (tokens - amount) + rate - 1n) / rate;
        const next = at + (refill > 1n ? refill : 1n);
        at = next < end ? next : end;
      }
      // Not a wei more in that last second: the bucket is empty.
      const one: Message = {
        srcChainId,
        dstChainId: LOCAL_CHAIN,
        nonce: (1_000n + log) << 32n,
        kind: Kind.BRIDGE_TRANSFER,
        payload: encodeBridgeTransfer(thief!.address, thief!.address, rate + 1n),
      };
      await time.setNextBlockTimestamp(end + 1n);
      await deliver(inbox, one, f.quorum);
      expect(await inbox.messageStatus(messageId(one))).to.equal(Status.Failed);
      expect((await balance()) - before).to.equal(moved);
      // The attack did take the most the bucket allows: a full bucket and a day of refill.
      expect(moved).to.equal(capacity + rate * DAY);
      return moved;
    }

    const bound = boundAfterDays(BOUND.fromDay);
    // Ethereum: wBASED minted out of nothing.
    const minted = await drain(f.ethInbox, f.ethBridge, BASED_ID, () => f.wbased.balanceOf(thief!.address));
    expect(minted <= bound, `wBASED minted in a day: ${minted} > ${bound}`).to.be.true;
    // The BasedAI chain: BASED locked in the bridge, as much as a day could release (minted as
    // Emission, BASED's only minter: nobody holds BASED's admin role after the deployment).
    const emission = await impersonate(f.emission);
    await f.basedToken
      .connect(emission)
      .mint(await f.basedBridge.getAddress(), await dailyMax(f.basedBridge));
    const released = await drain(f.basedInbox, f.basedBridge, ETHEREUM_ID, () =>
      f.basedToken.balanceOf(thief!.address),
    );
    expect(minted + released <= bound, `both directions in a day: ${minted + released} > ${bound}`).to.be
      .true;
  });
});
