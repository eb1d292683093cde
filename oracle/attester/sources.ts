/**
 * What an attester watches, and how each event becomes a message (docs/protocol.md):
 * - Ethereum BrainNFT `Transfer` (mint, transfer, deactivation) and `BasedWalletLinked` →
 *   BRAIN_EVENT with the Brain's full state at that block, for the BasedAI chain;
 * - Ethereum EthereumBridge `BridgeBurned` → BRIDGE_TRANSFER for the BasedAI chain;
 * - BasedAI BasedBridge `BridgeLocked` → BRIDGE_TRANSFER for Ethereum;
 * - Ethereum GovernanceOutbox `GovernanceCallSent` → GOVERNANCE_CALL for the BasedAI chain.
 * Every attester derives the same message from the same log, so their signatures add up.
 *
 * Bridge transfers come from the logs alone (nodes keep logs). A Brain snapshot reads the Brain's
 * state at the event's block; a node without archive state (an attester back after a long
 * downtime) may have pruned it. Reading it anywhere else would give another message than the other
 * attesters', so the event is skipped with an error (`onSkipped`) and the attester goes on: the
 * Brain's next event carries its full state (docs/decisions.md "Finality").
 */
import {
  type Address,
  type Chain,
  type Log,
  type PublicClient,
  type Transport,
  parseEventLogs,
  zeroAddress,
} from "viem";
import {
  basedBridgeAbi,
  brainNFTAbi,
  ethereumBridgeAbi,
  governanceOutboxAbi,
} from "../../protocol/generated/abis";
import { encodeGovernanceCall } from "../../protocol/governance";
import {
  type BridgeDirection,
  type Message,
  MessageKind,
  encodeBrainEvent,
  encodeBridgeTransfer,
  eventNonce,
} from "../../protocol/message";
import type { ChainContext, ChainName } from "../../sdk/chain";

export type Watch = {
  /** Chain the logs come from. */
  source: ChainContext;
  /** Chain the messages go to. */
  destination: ChainContext;
  /** Contracts whose logs this watch reads. */
  addresses: Address[];
  /**
   * Turns the logs of one block range into messages, in log order. An event whose message needs
   * state the node no longer has is left out and handed to `onSkipped`.
   */
  toMessages(logs: Log[], onSkipped?: (event: SkippedEvent) => void): Promise<Message[]>;
};

/** An event no message was made of: the node pruned the state of its block. */
export type SkippedEvent = { block: bigint; logIndex: number; what: string; err: string };

/**
 * What nodes answer to a read at a block whose state they pruned (geth: "missing trie node",
 * "historical state … is not available"; Erigon, Nethermind, Besu and hosted RPCs: similar).
 */
const PRUNED_STATE =
  /missing trie node|historical state|state (is )?not available|state unavailable|state histor|pruned|header not found|unknown block|old data not available/i;

/** The node pruned the state a read at an old block asked for (it still answers at its head). */
export class StateUnavailableError extends Error {
  override name = "StateUnavailableError";
  constructor(
    readonly blockNumber: bigint,
    cause: unknown,
  ) {
    const lines = String(cause).split("\n");
    // viem's first line is generic ("Missing or invalid parameters."): name the node's own words.
    const said = lines.find((l) => PRUNED_STATE.test(l)) ?? lines[0];
    super(`the node has no state at block ${blockNumber}: ${said?.trim()}`);
  }
}

type Logged = { blockNumber: bigint | null; logIndex: number | null };

function nonceOf(log: Logged): bigint {
  if (log.blockNumber === null || log.logIndex === null) throw new Error("pending log has no position");
  return eventNonce(log.blockNumber, log.logIndex);
}

/** Brain events on Ethereum → BRAIN_EVENT snapshots for the BasedAI chain. */
export function brainWatch(ethereum: ChainContext, based: ChainContext, brainNFT: Address): Watch {
  return {
    source: ethereum,
    destination: based,
    addresses: [brainNFT],
    async toMessages(logs, onSkipped) {
      const events = parseEventLogs({ abi: brainNFTAbi, logs, strict: true }).filter(
        (e) => e.eventName === "Transfer" || e.eventName === "BasedWalletLinked",
      );
      const messages: Message[] = [];
      for (const e of events) {
        const id = e.eventName === "Transfer" ? e.args.tokenId : e.args.id;
        let snapshot: Awaited<ReturnType<typeof brainStateAt>>;
        try {
          snapshot = await brainStateAt(ethereum.publicClient, brainNFT, id, e.blockNumber);
        } catch (err) {
          if (!(err instanceof StateUnavailableError)) throw err;
          onSkipped?.({
            block: e.blockNumber,
            logIndex: e.logIndex,
            what: `BRAIN_EVENT of Brain #${id} (${e.eventName})`,
            err: err.message,
          });
          continue;
        }
        messages.push({
          srcChainId: BigInt(ethereum.chain.id),
          dstChainId: BigInt(based.chain.id),
          nonce: nonceOf(e),
          kind: MessageKind.BRAIN_EVENT,
          payload: encodeBrainEvent(snapshot),
        });
      }
      return messages;
    },
  };
}

/** The Brain's state at the end of `blockNumber` (inactive, zero owner, once deactivated). */
async function brainStateAt(
  client: PublicClient<Transport, Chain>,
  brainNFT: Address,
  id: bigint,
  blockNumber: bigint,
) {
  try {
    const info = await client.readContract({
      address: brainNFT,
      abi: brainNFTAbi,
      functionName: "brainInfo",
      args: [id],
      blockNumber,
    });
    return {
      brainId: id,
      owner: info.owner,
      class: info.class,
      unlockAt: info.unlockAt,
      basedWallet: info.basedWallet,
      active: true,
    };
  } catch (err) {
    if (!String(err).includes("ERC721NonexistentToken")) {
      // Pruned state, if the node still answers at its head; anything else is retried.
      if (
        PRUNED_STATE.test(String(err)) &&
        (await client.getCode({ address: brainNFT }).then(
          () => true,
          () => false,
        ))
      )
        throw new StateUnavailableError(blockNumber, err);
      throw err;
    }
    return {
      brainId: id,
      owner: zeroAddress,
      class: 0,
      unlockAt: 0n,
      basedWallet: zeroAddress,
      active: false,
    };
  }
}

const BRIDGE_CHAINS: Record<BridgeDirection, { source: ChainName; destination: ChainName }> = {
  "to-ethereum": { source: "based", destination: "ethereum" },
  "to-based": { source: "ethereum", destination: "based" },
};

/**
 * A bridge contract's outgoing transfers → BRIDGE_TRANSFER messages for the other chain:
 * `to-ethereum` reads the BasedBridge's locks, `to-based` the EthereumBridge's burns.
 */
export function bridgeWatch(
  source: ChainContext,
  destination: ChainContext,
  bridge: Address,
  direction: BridgeDirection,
): Watch {
  // With the chains swapped the other bridge's ABI would parse the logs and find nothing: a
  // watch that silently signs no transfer. Refuse it when the service is put together instead.
  const expected = BRIDGE_CHAINS[direction];
  if (source.name !== expected.source || destination.name !== expected.destination) {
    throw new Error(
      `bridge ${direction} goes from ${expected.source} to ${expected.destination}, not from ${source.name} to ${destination.name}`,
    );
  }
  return {
    source,
    destination,
    addresses: [bridge],
    async toMessages(logs) {
      const events =
        direction === "to-ethereum"
          ? parseEventLogs({ abi: basedBridgeAbi, logs, eventName: "BridgeLocked", strict: true })
          : parseEventLogs({ abi: ethereumBridgeAbi, logs, eventName: "BridgeBurned", strict: true });
      return events.map((e) => ({
        srcChainId: BigInt(source.chain.id),
        dstChainId: BigInt(destination.chain.id),
        nonce: nonceOf(e),
        kind: MessageKind.BRIDGE_TRANSFER,
        payload: encodeBridgeTransfer(e.args),
      }));
    },
  };
}

/**
 * Ethereum GovernanceOutbox `GovernanceCallSent` → GOVERNANCE_CALL messages for the BasedAI chain
 * (docs/protocol.md "Governance calls"): the payload is the event's fields in order, the nonce the
 * log's position, like every event watch. The event's own `dstChainId` goes into the payload as
 * emitted (the receiver refuses a call made for another chain), and the message goes to `based`.
 */
export function governanceWatch(ethereum: ChainContext, based: ChainContext, outbox: Address): Watch {
  if (ethereum.name !== "ethereum" || based.name !== "based") {
    throw new Error(`governance calls go from ethereum to based, not from ${ethereum.name} to ${based.name}`);
  }
  return {
    source: ethereum,
    destination: based,
    addresses: [outbox],
    async toMessages(logs) {
      const events = parseEventLogs({
        abi: governanceOutboxAbi,
        logs,
        eventName: "GovernanceCallSent",
        strict: true,
      });
      return events.map((e) => ({
        srcChainId: BigInt(ethereum.chain.id),
        dstChainId: BigInt(based.chain.id),
        nonce: nonceOf(e),
        kind: MessageKind.GOVERNANCE_CALL,
        payload: encodeGovernanceCall(e.args),
      }));
    },
  };
}
