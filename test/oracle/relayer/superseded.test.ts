import { expect } from "chai";
import { network } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { type Hex, createPublicClient, custom, defineChain, getAddress } from "viem";
import { messageInboxAbi } from "../../../protocol/generated/abis";
import { Superseded, supersededBy } from "../../../oracle/relayer/relayer";
import { deployBridges } from "../../contracts/bridge/fixture";
import {
  BASED_CHAIN,
  Kind,
  LOCAL_CHAIN,
  type Message,
  encodeBridgeTransfer,
  inboxDomain,
  messageId,
  signSorted,
} from "../../contracts/messaging/messages";

/**
 * The relayer gives up on a message the inbox refuses for good: another payload was delivered under
 * its (source chain, nonce). Checked on the real revert of the in-process inbox, as viem reports it.
 */
describe("oracle relayer: a message whose nonce another message took", function () {
  it("decodes NonceAlreadyUsed from the inbox's revert as Superseded, and nothing else", async function () {
    const f = await loadFixture(deployBridges);
    const chain = defineChain({
      id: Number(LOCAL_CHAIN),
      name: "hardhat",
      nativeCurrency: { name: "ETH", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: ["http://in-process"] } },
    });
    // A node over HTTP answers a revert as a JSON-RPC error { code: 3, data }; the in-process
    // provider throws its own error, so it is put in that shape (as the relayer sees it).
    const transport = custom({
      async request(args: { method: string; params?: unknown[] }) {
        try {
          return await network.provider.request(args);
        } catch (err) {
          const { message, data } = err as { message: string; data?: unknown };
          throw Object.assign(new Error(message), { code: 3, data });
        }
      },
    });
    const client = createPublicClient({ chain, transport });
    const inbox = getAddress(await f.ethInbox.getAddress());
    const transfer = (amount: bigint): Message => ({
      srcChainId: BASED_CHAIN,
      dstChainId: LOCAL_CHAIN,
      nonce: (7n << 32n) | 1n,
      kind: Kind.BRIDGE_TRANSFER,
      payload: encodeBridgeTransfer(f.alice.address, f.bob.address, amount),
    });
    const first = transfer(5n);
    await f.relay(first);
    const refusal = async (m: Message) => {
      const signatures = await signSorted(f.quorum, inboxDomain(LOCAL_CHAIN, inbox), m, 1);
      return client
        .simulateContract({
          address: inbox,
          abi: messageInboxAbi,
          functionName: "receiveMessage",
          args: [{ ...m, payload: m.payload as Hex }, 1, signatures as Hex[]],
        })
        .then(
          () => undefined,
          (err: unknown) => err,
        );
    };

    const superseded = supersededBy(await refusal(transfer(6n)));
    expect(superseded).to.be.instanceOf(Superseded);
    expect(superseded!.message).to.include(messageId(first));
    // The same message again is AlreadyDelivered: not superseded (the relayer reads its status).
    const again = await refusal(first);
    expect(again).to.not.equal(undefined);
    expect(supersededBy(again)).to.equal(undefined);
    expect(supersededBy(new Error("connection refused"))).to.equal(undefined);
  });
});
