/**
 * GIGABRAIN_SET (kind 3, BasedAI → Ethereum; docs/protocol.md "GigaBrain sets"): the Brains whose
 * stake is at least 0.5 % of all stake on the BasedAI chain, taken at a BasedAI block (the last
 * block of an epoch), for `GigaBrainSets` on Ethereum. Pure functions, no I/O.
 */
import { type Hex, decodeAbiParameters, encodeAbiParameters } from "viem";
import { z } from "zod";

/** Brain ids are below this (BrainNFT.MAX_BRAINS, GigaBrainSets.MAX_BRAINS). */
export const MAX_BRAINS = 1024;

/** Low 32 bits of every GIGABRAIN_SET nonce: a log index no block can reach. */
export const GIGABRAIN_SET_NONCE_LOW = 0xffff_ffffn;

const GIGABRAIN_SET_PARAMS = [
  { name: "basedBlock", type: "uint64" },
  { name: "brainIds", type: "uint16[]" },
] as const;

export type GigaBrainSet = {
  /** The BasedAI block the set was taken at. */
  basedBlock: bigint;
  /** The GigaBrains, strictly ascending, each below MAX_BRAINS. */
  brainIds: readonly number[];
};

/** What GigaBrainSets accepts: ids strictly ascending and below 1024; the block keeps the nonce a uint64. */
export const gigaBrainSetSchema = z.object({
  basedBlock: z.bigint().refine((b) => b >= 0n && b < 1n << 31n, "the BasedAI block must be below 2^31"),
  brainIds: z
    .array(
      z
        .number()
        .int()
        .min(0)
        .max(MAX_BRAINS - 1),
    )
    .max(MAX_BRAINS)
    .refine(
      (ids) => ids.every((id, i) => i === 0 || id > ids[i - 1]!),
      "Brain ids must be strictly ascending",
    ),
});

/** The GIGABRAIN_SET payload: `abi.encode(uint64 basedBlock, uint16[] brainIds)`. */
export function encodeGigaBrainSet(set: GigaBrainSet): Hex {
  const s = gigaBrainSetSchema.parse(set);
  return encodeAbiParameters(GIGABRAIN_SET_PARAMS, [s.basedBlock, s.brainIds]);
}

/** The inverse of `encodeGigaBrainSet`; throws on a set GigaBrainSets would refuse or a non-canonical payload. */
export function decodeGigaBrainSet(payload: Hex): GigaBrainSet {
  const [basedBlock, brainIds] = decodeAbiParameters(GIGABRAIN_SET_PARAMS, payload);
  const set = gigaBrainSetSchema.parse({ basedBlock, brainIds: [...brainIds] });
  if (encodeGigaBrainSet(set).toLowerCase() !== payload.toLowerCase())
    throw new RangeError("the payload is not the canonical encoding of a GigaBrain set");
  return set;
}

/**
 * The nonce of the set taken at BasedAI block `basedBlock`: `(basedBlock << 32) | 0xFFFFFFFF`. It is
 * in the inbox's event-log nonce space (Messages.nonceSpace(GIGABRAIN_SET) = 0) next to the
 * BasedAI chain's BRIDGE_TRANSFER nonces `(block << 32) | logIndex`, but log index 2^32 − 1 never
 * occurs (a block holds far fewer logs), so no log-derived message can take it; one block, one set.
 * Below 2^31 the block also keeps the top bit clear (EPOCH_REPORT nonces from the same chain use it).
 */
export function gigaBrainSetNonce(basedBlock: bigint): bigint {
  if (basedBlock < 0n || basedBlock >= 1n << 31n)
    throw new RangeError(`BasedAI block ${basedBlock} is out of range`);
  return (basedBlock << 32n) | GIGABRAIN_SET_NONCE_LOW;
}

/** Set bits of GigaBrainSets' 1,024-bit bitmap (bit `id % 256` of word `id / 256`), ascending. */
export function idsOfBitmap(words: readonly bigint[]): number[] {
  const ids: number[] = [];
  words.forEach((word, w) => {
    for (let bit = 0; bit < 256; bit++) if ((word >> BigInt(bit)) & 1n) ids.push(w * 256 + bit);
  });
  return ids;
}
