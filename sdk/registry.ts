/**
 * The BasedAI chain's mirror of the Brains (BrainRegistry, docs/architecture.md §3): what the BasedAI chain
 * believes about a Brain (owner, class, unlock time, wallet, active), and whether it earns BASED.
 * The mirror follows Ethereum through BRAIN_EVENT messages, so it may lag by a few blocks.
 */
import type { Address } from "viem";
import { type Brain, BRAIN_CLASSES, type BrainClass } from "./brain";
import { brainRegistryAbi } from "../protocol/generated/abis";
import { type ChainContext, basedDeployment } from "./chain";

export type MirroredBrain = {
  id: number;
  /** The BrainRegistry contract read. */
  registry: Address;
  /** False when no BRAIN_EVENT for this id has reached the BasedAI chain yet. */
  mirrored: boolean;
  /** Whether the Brain exists on Ethereum as of the last snapshot applied. */
  active: boolean;
  /** The NFT owner on Ethereum (zero after a deactivation). */
  owner: Address;
  class: BrainClass;
  /** Stake Brains: unix seconds from which the Brain earns; 0 otherwise. */
  unlockAt: number;
  /** The Brain's wallet on the BasedAI chain. */
  basedWallet: Address;
  /** Nonce (source block << 32 | log index) of the snapshot applied last. */
  lastNonce: bigint;
  /** `BrainRegistry.earnsRewards(id, now)` with the BasedAI chain's latest block time. */
  earnsRewards: boolean;
  /** The BasedAI chain's latest block time (unix seconds): the "now" of `earnsRewards`. */
  checkedAt: number;
};

/** Reads Brain `id` from the BrainRegistry on the BasedAI chain. */
export async function getMirroredBrain(based: ChainContext, id: number): Promise<MirroredBrain> {
  const registry = basedDeployment(based.deployments).contracts.BrainRegistry;
  const block = await based.publicClient.getBlock({ blockTag: "latest" });
  const read = { address: registry, abi: brainRegistryAbi, blockNumber: block.number } as const;
  const [state, earnsRewards] = await Promise.all([
    based.publicClient.readContract({ ...read, functionName: "brain", args: [BigInt(id)] }),
    based.publicClient.readContract({
      ...read,
      functionName: "earnsRewards",
      args: [BigInt(id), block.timestamp],
    }),
  ]);
  return {
    id,
    registry,
    mirrored: state.lastNonce > 0n,
    active: state.active,
    owner: state.owner,
    class: BRAIN_CLASSES[state.class] ?? "none",
    unlockAt: Number(state.unlockAt),
    basedWallet: state.basedWallet,
    lastNonce: state.lastNonce,
    earnsRewards,
    checkedAt: Number(block.timestamp),
  };
}

/**
 * Whether the mirror shows what Ethereum shows now (`brain` undefined: the Brain does not exist
 * on Ethereum). False means an event is still on its way through the oracle.
 */
export function mirrorMatches(brain: Brain | undefined, mirror: MirroredBrain): boolean {
  if (!brain) return !mirror.active;
  return (
    mirror.active &&
    mirror.owner.toLowerCase() === brain.owner.toLowerCase() &&
    mirror.class === brain.class &&
    mirror.unlockAt === brain.unlockAt &&
    mirror.basedWallet.toLowerCase() === brain.basedWallet.toLowerCase()
  );
}

/** Why a mirrored Brain does or does not earn BASED, in words. */
export function rewardsExplanation(mirror: MirroredBrain): string {
  if (mirror.earnsRewards) return "yes";
  if (!mirror.mirrored) return "no: not mirrored on the BasedAI chain yet";
  if (!mirror.active) return "no: deactivated";
  if (mirror.class === "stake" && mirror.checkedAt < mirror.unlockAt) {
    return `no: stake locked until ${new Date(mirror.unlockAt * 1000).toISOString()} (BasedAI chain time)`;
  }
  return "no";
}
