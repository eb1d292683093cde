/**
 * A MessageInbox as the oracle sees it: the chain it lives on and its address. Attesters sign for
 * it (its chain id and address are the EIP-712 domain) and relayers deliver to it.
 */
import type { Address } from "viem";
import type { ChainContext } from "../sdk/chain";

export type Inbox = {
  /** The destination chain; a relayer's must have a wallet (it sends the deliveries). */
  ctx: ChainContext;
  address: Address;
};

/** Inboxes by chain id, refusing two for one chain (a message names its destination by id only). */
export function inboxesByChain(inboxes: readonly Inbox[]): Map<number, Inbox> {
  const byChain = new Map<number, Inbox>();
  for (const inbox of inboxes) {
    const id = inbox.ctx.chain.id;
    if (byChain.has(id)) throw new Error(`two inboxes given for chain ${id}`);
    byChain.set(id, inbox);
  }
  return byChain;
}
