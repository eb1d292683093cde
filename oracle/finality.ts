/**
 * When a block is final enough to sign its events (docs/architecture.md §1, docs/decisions.md
 * "Finality"): per source chain, either the chain's own `finalized` block (Ethereum since the
 * merge: a reorg below it needs a third of the stake to be slashed) or, for a chain without that
 * tag, a fixed depth under the head, configured explicitly. Depth 0 signs events a reorg can undo:
 * the service refuses it unless explicitly allowed (devnet).
 *
 * Hardhat (2.29) answers the `finalized` tag with its head: on the devnet `finalized` is depth 0.
 */
import type { Chain, PublicClient, Transport } from "viem";
import { z } from "zod";

export type Finality = { kind: "finalized" } | { kind: "depth"; depth: number };

export const FINALIZED: Finality = { kind: "finalized" };

/** `finalized` or `depth:N` (N a whole number of blocks). */
export const finalitySchema = z.string().transform((s, ctx): Finality => {
  const text = s.trim();
  if (text === "finalized") return FINALIZED;
  const m = /^depth:(\d{1,6})$/.exec(text);
  if (m) return { kind: "depth", depth: Number(m[1]) };
  ctx.addIssue({ code: "custom", message: `"${s}" is neither "finalized" nor "depth:N"` });
  return z.NEVER;
});

export const describeFinality = (f: Finality): string =>
  f.kind === "finalized" ? "finalized" : `depth:${f.depth}`;

export const isZeroDepth = (f: Finality): boolean => f.kind === "depth" && f.depth === 0;

/**
 * The newest block whose events may be signed, and the head. `finalized`: the block the node
 * reports under that tag (an error naming the fix when the chain has none); `depth:N`: head − N.
 */
export async function finalBlock(
  client: PublicClient<Transport, Chain>,
  finality: Finality,
): Promise<{ final: bigint; head: bigint }> {
  // No cache: viem would otherwise serve the same head for its polling interval (4 s by default).
  const head = await client.getBlockNumber({ cacheTime: 0 });
  if (finality.kind === "depth") return { final: head - BigInt(finality.depth), head };
  let final: bigint;
  try {
    final = (await client.getBlock({ blockTag: "finalized" })).number;
  } catch (err) {
    throw new Error(
      `chain ${client.chain.id} did not give its finalized block (${(err as Error).message.split("\n")[0]}); ` +
        "a chain without the tag needs a fixed depth (depth:N)",
    );
  }
  // A node behind a load balancer may answer the tag from a node ahead of the one that gave the head.
  return { final: final < head ? final : head, head };
}
