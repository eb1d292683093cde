/**
 * What the BasedAI economy's SDK modules share (sdk/brain-config.ts, sdk/network.ts,
 * sdk/staking.ts, sdk/rewards.ts, sdk/market.ts): the contract addresses of the deployment, the
 * BASED approval step, BASED's own refusals and the Merkle tree dumps the oracle publishes.
 * Transactions go through sdk/contract-call.ts.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { type Address, type Hash, formatEther } from "viem";
import { z } from "zod";
import { bytes32Schema } from "../protocol/schemas";
import { BasedError } from "./errors";
import { brainRegistryAbi } from "../protocol/generated/abis";
import { type ChainContext, basedDeployment, signerOf } from "./chain";
import { type OnStep, ensureAllowance } from "./contract-call";

/** The BasedAI chain's economy contracts of a deployment. */
export type EconomyContracts = {
  BasedToken: Address;
  BrainRegistry: Address;
  Network: Address;
  Staking: Address;
  Emission: Address;
  Consensus: Address;
  ComputeMarket: Address;
};

/** The economy contracts of the deployment `ctx` was connected with. */
export function economyContracts(ctx: ChainContext): EconomyContracts {
  const c = basedDeployment(ctx.deployments).contracts;
  return {
    BasedToken: c.BasedToken,
    BrainRegistry: c.BrainRegistry,
    Network: c.Network,
    Staking: c.Staking,
    Emission: c.Emission,
    Consensus: c.Consensus,
    ComputeMarket: c.ComputeMarket,
  };
}

/** `1.5 BASED`. */
export const BASED = (wei: bigint): string => `${formatEther(wei)} BASED`;

/** Unix seconds as an ISO time. */
export const isoTime = (seconds: bigint | number): string => new Date(Number(seconds) * 1000).toISOString();

/** Refuses an amount of nothing before any chain call (the contracts would revert with ZeroAmount). */
export function assertAmount(amount: bigint): void {
  if (amount <= 0n) throw new BasedError("input", "ZeroAmount", "The amount must be more than 0.");
}

/** Fails with a clear refusal when Brain `brainId` is not active on the BasedAI chain's mirror. */
export async function assertBrainActive(ctx: ChainContext, brainId: number): Promise<void> {
  const active = await ctx.publicClient.readContract({
    address: economyContracts(ctx).BrainRegistry,
    abi: brainRegistryAbi,
    functionName: "isActive",
    args: [BigInt(brainId)],
  });
  if (!active) throw brainNotActive(brainId);
}

export function brainNotActive(brainId: number | bigint): BasedError {
  return new BasedError(
    "refused",
    "BrainNotActive",
    `Brain #${brainId} is not active on the BasedAI chain: it was never mirrored there, or it was deactivated.`,
    "A Brain minted on Ethereum appears on the BasedAI chain within a few blocks.",
    { brainId: String(brainId) },
  );
}

/**
 * Checks that the signer holds `amount` BASED and, when the allowance of `spender` is short,
 * approves exactly `amount` to it. Returns the approval's hash when one was sent.
 */
export function ensureBased(
  ctx: ChainContext,
  spender: { address: Address; name: string },
  amount: bigint,
  what: string,
  onStep?: OnStep,
): Promise<Hash | undefined> {
  const owner = signerOf(ctx);
  return ensureAllowance(ctx, {
    token: economyContracts(ctx).BasedToken,
    spender,
    amount,
    describe: BASED,
    onStep,
    insufficient: (balance) =>
      new BasedError(
        "refused",
        "InsufficientBased",
        `Not enough BASED for ${what}: it needs ${BASED(amount)}, ${owner} has ${BASED(balance)} (short by ${BASED(amount - balance)}).`,
        ctx.deployments.network === "devnet"
          ? "On devnet, the DevnetBasedFaucet gives BASED (drip(address,uint256)), or use a funded devnet account."
          : "Bridge BASED from Ethereum first, then try again.",
        { needed: amount.toString(), balance: balance.toString() },
      ),
  });
}

/** BASED's own ERC-20 refusals (balance or allowance too low), from any contract that moves BASED. */
export function basedTransferRefusal(name: string): BasedError {
  return new BasedError(
    "refused",
    name,
    `BASED refused the transfer: ${name}.`,
    "Check your BASED balance and try again.",
  );
}

// ──────────────────────────────────────────── trees ────────────────────────────────────────────

const treeDumpSchema = z.object({
  format: z.literal("standard-v1"),
  leafEncoding: z.array(z.string()),
  tree: z.array(bytes32Schema),
  values: z.array(z.object({ value: z.array(z.unknown()), treeIndex: z.number().int().nonnegative() })),
});

/**
 * Loads a StandardMerkleTree dump (`JSON.parse` of a file written from `tree.dump()`, bigints as
 * strings) whose leaves have `encoding`; a clear input error when it is not one.
 */
export function loadTreeDump<T extends unknown[]>(
  json: unknown,
  encoding: readonly string[],
  what: string,
): StandardMerkleTree<T> {
  const parsed = treeDumpSchema.safeParse(json);
  if (!parsed.success) {
    throw new BasedError(
      "input",
      "InvalidTree",
      `The ${what} is not a StandardMerkleTree dump: ${z.prettifyError(parsed.error)}`,
      "Pass the JSON of `tree.dump()` (OpenZeppelin merkle-tree), amounts as decimal strings.",
    );
  }
  if (parsed.data.leafEncoding.join(",") !== encoding.join(",")) {
    throw new BasedError(
      "input",
      "InvalidTree",
      `The ${what} has leaves [${parsed.data.leafEncoding.join(", ")}], not [${encoding.join(", ")}].`,
    );
  }
  try {
    return StandardMerkleTree.load(parsed.data as Parameters<typeof StandardMerkleTree.load<T>>[0]);
  } catch (err) {
    throw new BasedError(
      "input",
      "InvalidTree",
      `The ${what} is not a valid Merkle tree: ${(err as Error).message}`,
    );
  }
}
