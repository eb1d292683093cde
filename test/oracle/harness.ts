/**
 * The oracle in process, on the in-process Hardhat network: both bridge ends of the fixture live
 * on chain 31337, and attesters read the BasedBridge as "the BasedAI chain" (32323), so what they
 * sign is deliverable to the fixture's Ethereum-side inbox, which trusts 32323.
 */
import path from "node:path";
import { ethers, network } from "hardhat";
import pino from "pino";
import {
  type Hex,
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  getAddress,
  type LocalAccount,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { Attester } from "../../oracle/attester/attester";
import type { Finality } from "../../oracle/finality";
import { bridgeWatch } from "../../oracle/attester/sources";
import { Journal } from "../../oracle/signing/journal";
import {
  type Message,
  MessageKind,
  encodeBridgeTransfer,
  eventNonce,
  messageId,
} from "../../protocol/message";
import type { ChainContext, ChainName } from "../../sdk/chain";
import { deployBridges } from "../contracts/bridge/fixture";
import { tempDir } from "../helpers/processes";

/** Chain `name` as the oracle sees it: the in-process node under chain id `id`, with `account`'s wallet. */
export function inProcess(name: ChainName, id: number, account?: LocalAccount): ChainContext {
  const chain = defineChain({
    id,
    name: "hardhat",
    nativeCurrency: { name: "ETH", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: ["http://in-process"] } },
  });
  const transport = custom(network.provider);
  return {
    name,
    // The oracle reads only the chain and its clients.
    deployments: undefined as never,
    chain,
    publicClient: createPublicClient({ chain, transport }),
    ...(account ? { walletClient: createWalletClient({ chain, transport, account }) } : {}),
    usingDevnetKey: false,
  };
}

/** The BasedAI chain as attesters see it (the peer id the inbox trusts), and Ethereum. */
export function inProcessSides(): { basedSide: ChainContext; ethSide: ChainContext } {
  return { basedSide: inProcess("based", 32323), ethSide: inProcess("ethereum", 31337) };
}

const log = pino({ level: "silent" });

/** Both bridges, and attesters of the fixture's set signing BasedBridge locks for the Ethereum inbox. */
export async function bridgeSetup() {
  const { basedSide, ethSide } = inProcessSides();
  const f = await deployBridges();
  const start = BigInt(await ethers.provider.getBlockNumber());
  const ethInboxAddress = getAddress(await f.ethInbox.getAddress());
  const basedBridge = getAddress(await f.basedBridge.getAddress());
  /** An attester of the fixture's set; `finality` is a depth, or a rule, for the BasedAI side (32323). */
  const makeAttester = (index: number, finality: number | Finality, dir = tempDir("attester")) => {
    const wallet = f.attesters[index]!;
    return new Attester({
      account: privateKeyToAccount(wallet.privateKey as Hex),
      journal: new Journal(path.join(dir, `attester-${index}.jsonl`)),
      watches: [bridgeWatch(basedSide, ethSide, basedBridge, "to-ethereum")],
      inboxes: [{ ctx: ethSide, address: ethInboxAddress }],
      finality: new Map([
        [32323, typeof finality === "number" ? { kind: "depth", depth: finality } : finality],
      ]),
      startBlocks: new Map([[32323, start]]),
      log,
    });
  };
  return { ...f, ethInboxAddress, makeAttester };
}

export type BridgeSetup = Awaited<ReturnType<typeof bridgeSetup>>;

/** alice locks `amount` for bob; returns the block and the message every attester must derive. */
export async function lock(f: BridgeSetup, amount: bigint) {
  const receipt = (await (await f.basedBridge.connect(f.alice).lock(f.bob.address, amount)).wait())!;
  const event = receipt.logs.find((l) => l.address === f.basedBridge.target)!;
  const message: Message = {
    srcChainId: 32323n,
    dstChainId: 31337n,
    nonce: eventNonce(BigInt(receipt.blockNumber), event.index),
    kind: MessageKind.BRIDGE_TRANSFER,
    payload: encodeBridgeTransfer({
      sender: getAddress(f.alice.address),
      recipient: getAddress(f.bob.address),
      amount,
    }),
  };
  return { block: BigInt(receipt.blockNumber), message, id: messageId(message) };
}
