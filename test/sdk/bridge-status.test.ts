import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { network } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { type Hex, createPublicClient, custom, defineChain, getAddress, zeroAddress } from "viem";
import { type BridgeContext, getBridgeStatus, waitForBridgeTransfer } from "../../sdk/bridge";
import { BasedError } from "../../sdk/errors";
import type { ChainContext, ChainName } from "../../sdk/chain";
import type { Deployments } from "../../sdk/deployments";
import type { SignaturesResponseJson } from "../../protocol/attester";
import { type Message as ProtocolMessage, messageToJson } from "../../protocol/message";
import { statusLines } from "../../cli/commands/bridge";
import { hintFor } from "../../cli/ui/hints";
import { toJson } from "../../cli/ui/output";
import { type Bridges, deployBridges } from "../contracts/bridge/fixture";
import {
  BASED_CHAIN,
  ETH_CHAIN,
  Kind,
  LOCAL_CHAIN,
  type Message,
  encodeBridgeTransfer,
  inboxDomain,
  messageId,
  signAttestation,
} from "../contracts/messaging/messages";

/**
 * `getBridgeStatus` against the bridge fixture on Hardhat's in-process chain, with attesters served
 * by a local HTTP server. The fixture plays both chains on 31337: the Ethereum end is chain 31337
 * (its inbox executes messages from "the BasedAI chain", 32323) and the BasedAI end is 32323.
 */
describe("sdk bridge status on an in-process chain", function () {
  let server: http.Server;
  let baseUrl = "";
  /** What each attester (path `/a<i>`) answers, by message id. */
  const served = new Map<string, SignaturesResponseJson[]>();

  before(async function () {
    server = http.createServer((req, res) => {
      const match = /^\/a(\d+)\/messages\/(0x[0-9a-f]{64})\/signatures$/.exec(req.url ?? "");
      const body = match ? served.get(match[2]!)?.[Number(match[1])] : undefined;
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  afterEach(() => served.clear());

  function chainContext(name: ChainName, chainId: number, deployments: Deployments): ChainContext {
    const chain = defineChain({
      id: chainId,
      name,
      nativeCurrency: { name: "ETH", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: ["http://in-process"] } },
    });
    const publicClient = createPublicClient({ chain, transport: custom(network.provider) });
    return { name, deployments, chain, publicClient, usingDevnetKey: false };
  }

  /** Both inboxes live on 31337, so the end a message goes to (by its dstChainId) is the one
   *  given chain id 31337 here; the other end gets the made-up peer id its bridge trusts. */
  async function bridgeContext(
    f: Bridges,
    attesters: number,
    destination: ChainName = "ethereum",
  ): Promise<BridgeContext> {
    const ids =
      destination === "ethereum"
        ? { ethereum: Number(LOCAL_CHAIN), based: Number(BASED_CHAIN) }
        : { ethereum: Number(ETH_CHAIN), based: Number(LOCAL_CHAIN) };
    const at = async (c: { getAddress(): Promise<string> }) => getAddress(await c.getAddress());
    const deployments: Deployments = {
      version: 1,
      network: "in-process",
      createdAt: new Date(0).toISOString(),
      ethereum: {
        chainId: ids.ethereum,
        rpcUrl: "http://in-process",
        startBlock: 0,
        contracts: {
          Pepecoin: zeroAddress,
          BrainNFT: zeroAddress,
          WrappedBased: await at(f.wbased),
          EthereumBridge: await at(f.ethBridge),
          MessageInbox: await at(f.ethInbox),
        },
        testPepecoin: false,
      },
      based: {
        chainId: ids.based,
        rpcUrl: "http://in-process",
        startBlock: 0,
        contracts: {
          BasedToken: await at(f.based),
          BasedBridge: await at(f.basedBridge),
          BrainRegistry: await at(f.registry),
          MessageInbox: await at(f.basedInbox),
          Network: zeroAddress,
          Staking: zeroAddress,
          Emission: zeroAddress,
          Consensus: zeroAddress,
          ComputeMarket: zeroAddress,
        },
      },
    };
    return {
      ethereum: chainContext("ethereum", ids.ethereum, deployments),
      based: chainContext("based", ids.based, deployments),
      attesterUrls: Array.from({ length: attesters }, (_, i) => `${baseUrl}/a${i}`),
    };
  }

  /** Each of the fixture's quorum signs `m` for the Ethereum inbox's current set. */
  async function serveSignatures(f: Bridges, m: Message) {
    const inbox = await f.ethInbox.getAddress();
    const version = Number(await f.ethInbox.setVersion());
    const id = messageId(m);
    const json = messageToJson(m as ProtocolMessage);
    served.set(
      id,
      await Promise.all(
        f.quorum.map(async (w, seq) => ({
          id,
          message: json,
          signatures: [
            {
              seq,
              id,
              message: json,
              signer: w.address,
              setVersion: version,
              signature: await signAttestation(w, inboxDomain(LOCAL_CHAIN, inbox), m, version),
            },
          ],
        })),
      ),
    );
  }

  const transfer = (f: Bridges, nonce: bigint, amount: bigint): Message => ({
    srcChainId: BASED_CHAIN,
    dstChainId: LOCAL_CHAIN,
    nonce,
    kind: Kind.BRIDGE_TRANSFER,
    payload: encodeBridgeTransfer(f.alice.address, f.bob.address, amount),
  });

  it("a signed message whose (source chain, nonce) another message took is superseded, naming that message", async function () {
    const f = await loadFixture(deployBridges);
    const ctx = await bridgeContext(f, f.quorum.length);
    const nonce = (7n << 32n) | 1n;
    const delivered = transfer(f, nonce, 5n);
    await f.relay(delivered);
    // A threshold signed another payload under the same source event: the inbox refuses it.
    const other = transfer(f, nonce, 6n);
    await serveSignatures(f, other);
    await expect(f.relay(other)).to.be.revertedWithCustomError(f.ethInbox, "NonceAlreadyUsed");

    const id = messageId(other) as Hex;
    const status = await getBridgeStatus(ctx, id);
    expect(status.signatures.valid).to.equal(3);
    expect(status.signatures.threshold).to.equal(3);
    expect(status.destination?.status).to.equal("none");
    expect(status.state).to.equal("superseded");
    expect(status.destination?.supersededBy).to.equal(messageId(delivered));
    expect(status.destination?.supersededReason).to.include(messageId(delivered));
    expect(status.destination?.supersededReason).to.include("never execute");
    // `based bridge status --json` prints `{ status }`; the human form names the state, the
    // message holding the nonce and what to do.
    const json = JSON.parse(toJson({ status })) as {
      status: { state: string; destination: { supersededBy: string; supersededReason: string } };
    };
    expect(json.status.state).to.equal("superseded");
    expect(json.status.destination.supersededBy).to.equal(messageId(delivered));
    expect(json.status.destination.supersededReason).to.include("guardian");
    const human = statusLines(status).join("\n");
    expect(human).to.include(`Message ${id}: superseded`);
    expect(human).to.include(`superseded by    ${messageId(delivered)}`);
    expect(human).to.include(`based bridge status ${messageId(delivered)}`);

    // The message that holds the nonce is executed, not superseded by itself.
    const held = await getBridgeStatus(ctx, messageId(delivered) as Hex, {
      message: delivered as ProtocolMessage,
    });
    expect(held.state).to.equal("executed");
    expect(held.destination?.supersededBy).to.equal(undefined);
  });

  it("a signed message under an unused nonce stays signed; a burn's message refused by the BasedAI inbox is superseded", async function () {
    const f = await loadFixture(deployBridges);
    const ctx = await bridgeContext(f, f.quorum.length);
    const m = transfer(f, (9n << 32n) | 2n, 5n);
    await serveSignatures(f, m);
    const status = await getBridgeStatus(ctx, messageId(m) as Hex);
    expect(status.state).to.equal("signed");
    expect(status.destination?.supersededBy).to.equal(undefined);

    // A burn's message under a nonce the Based inbox used for another payload is superseded too.
    const burn = (amount: bigint): Message => ({
      srcChainId: ETH_CHAIN,
      dstChainId: LOCAL_CHAIN,
      nonce: (11n << 32n) | 0n,
      kind: Kind.BRIDGE_TRANSFER,
      payload: encodeBridgeTransfer(f.bob.address, f.alice.address, amount),
    });
    await f.relay(burn(1n));
    const toBased = await bridgeContext(f, 0, "based");
    const refused = await getBridgeStatus(toBased, messageId(burn(2n)) as Hex, {
      message: burn(2n) as ProtocolMessage,
    });
    expect(refused.state).to.equal("superseded");
    expect(refused.destination?.chain).to.equal("the BasedAI chain");
    expect(refused.destination?.supersededBy).to.equal(messageId(burn(1n)));
  });

  it("waiting for a sent transfer stops at once when another message took its nonce (refused, not a timeout)", async function () {
    const f = await loadFixture(deployBridges);
    const ctx = await bridgeContext(f, 0);
    const nonce = (13n << 32n) | 0n;
    const holder = transfer(f, nonce, 5n);
    await f.relay(holder);
    const mine = transfer(f, nonce, 7n);
    const id = messageId(mine) as Hex;
    const started = Date.now();
    const err = await waitForBridgeTransfer(
      ctx,
      {
        direction: "to-ethereum",
        messageId: id,
        message: mine as ProtocolMessage,
        sender: getAddress(f.alice.address),
        recipient: getAddress(f.bob.address),
        amount: 7n,
        sourceChainId: Number(BASED_CHAIN),
        destinationChainId: Number(LOCAL_CHAIN),
        sourceTransactionHash: `0x${"11".repeat(32)}`,
        sourceBlockNumber: 13n,
        destinationFromBlock: 0n,
      },
      { timeoutMs: 30_000, pollMs: 50 },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - started).to.be.below(10_000);
    expect(err).to.be.instanceOf(BasedError);
    const refused = err as BasedError;
    expect(refused.kind).to.equal("refused");
    expect(refused.code).to.equal("BridgeMessageSuperseded");
    expect(refused.message).to.include(messageId(holder));
    expect(refused.details?.supersededBy).to.equal(messageId(holder));
    expect(hintFor(refused)).to.include(`based bridge status ${messageId(holder)}`);
  });
});
