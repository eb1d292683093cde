/**
 * What a Brain's users have asked for: ComputeMarket's `RequestOpened(requestId, account, brainId,
 * promptUnits, maxCompletionUnits, escrow, deadline)` events, with the timestamps of their blocks.
 * Validators shape their canaries on it (compute/validator/canary-shape.ts), so canaries look like
 * the Brain's own users' prompts in size and timing. Public chain data: nothing here is private.
 */
import type { Address } from "viem";
import { computeMarketAbi } from "../protocol/generated/abis";
import type { ChainContext } from "./chain";
import { economyContracts } from "./economy";

/** One request as ComputeMarket opened it. */
export type OpenedRequest = {
  requestId: bigint;
  account: Address;
  brainId: number;
  promptUnits: number;
  maxCompletionUnits: number;
  blockNumber: bigint;
  /** Unix seconds of the block that opened it. */
  timestamp: number;
};

export type RequestHistoryOptions = {
  /** How far back to look, in blocks (default 60,480: a week of 10-second blocks). */
  windowBlocks?: bigint;
  /** At most this many requests, the latest (default 512). */
  limit?: number;
  /** Blocks per `eth_getLogs` call (default 10,000: what public RPCs commonly allow). */
  chunkBlocks?: bigint;
};

/**
 * The latest requests opened for `brainId` within the window, oldest first. Reads the logs
 * backwards in chunks until `limit` requests are found or the window (and the deployment's start
 * block) is passed, then the timestamps of their blocks (one read per distinct block).
 */
export async function getRequestHistory(
  ctx: ChainContext,
  brainId: number,
  options: RequestHistoryOptions = {},
): Promise<OpenedRequest[]> {
  const market = economyContracts(ctx).ComputeMarket;
  const limit = options.limit ?? 512;
  const chunk = options.chunkBlocks ?? 10_000n;
  const head = await ctx.publicClient.getBlockNumber();
  const start = BigInt(ctx.deployments.based?.startBlock ?? 0);
  const window = options.windowBlocks ?? 60_480n;
  const floor = head - window + 1n > start ? head - window + 1n : start;

  const found: Omit<OpenedRequest, "timestamp">[] = [];
  for (let to = head; to >= floor && found.length < limit; to -= chunk) {
    const from = to - chunk + 1n > floor ? to - chunk + 1n : floor;
    const logs = await ctx.publicClient.getContractEvents({
      address: market,
      abi: computeMarketAbi,
      eventName: "RequestOpened",
      args: { brainId: BigInt(brainId) },
      fromBlock: from,
      toBlock: to,
    });
    const batch = logs.map((e) => ({
      requestId: e.args.requestId!,
      account: e.args.account!,
      brainId: Number(e.args.brainId!),
      promptUnits: Number(e.args.promptUnits!),
      maxCompletionUnits: Number(e.args.maxCompletionUnits!),
      blockNumber: e.blockNumber,
    }));
    found.unshift(...batch);
    if (from === floor) break;
  }
  const latest = found.slice(-limit);

  const times = new Map<bigint, number>();
  for (const b of new Set(latest.map((r) => r.blockNumber))) {
    const block = await ctx.publicClient.getBlock({ blockNumber: b });
    times.set(b, Number(block.timestamp));
  }
  return latest.map((r) => ({ ...r, timestamp: times.get(r.blockNumber)! }));
}
