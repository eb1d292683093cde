/**
 * GOVERNANCE_CALL (kind 4, Ethereum → BasedAI; docs/protocol.md "Governance calls"): a call that a
 * passed GigaBrain proposal made Ethereum's timelock send through `GovernanceOutbox.send`. The
 * payload is the `GovernanceCallSent` event's fields, in order, and `GovernanceCallReceiver` on the
 * BasedAI chain schedules it into the BasedAI timelock. Pure functions, no I/O.
 */
import { type Address, type Hex, decodeAbiParameters, encodeAbiParameters, getAddress } from "viem";
import { z } from "zod";
import { addressSchema, bytes32Schema, hexBytesSchema } from "./schemas";

const GOVERNANCE_CALL_PARAMS = [
  { name: "dstChainId", type: "uint64" },
  { name: "target", type: "address" },
  { name: "value", type: "uint256" },
  { name: "data", type: "bytes" },
  { name: "salt", type: "bytes32" },
] as const;

export type GovernanceCall = {
  /** The chain that must execute it (the receiver refuses any other). */
  dstChainId: bigint;
  /** Contract the BasedAI timelock calls. */
  target: Address;
  /** Native value of the call. */
  value: bigint;
  /** Calldata. */
  data: Hex;
  /** Distinguishes otherwise identical calls (part of the timelock's operation id). */
  salt: Hex;
};

/** A governance call as validated: a uint64 chain id, a non-zero target (the outbox refuses zero). */
export const governanceCallSchema = z.object({
  dstChainId: z.bigint().refine((v) => v > 0n && v < 1n << 64n, "expected a non-zero uint64 chain id"),
  target: addressSchema
    .transform((a) => getAddress(a))
    .refine((a) => BigInt(a) !== 0n, "the target must not be the zero address"),
  value: z.bigint().refine((v) => v >= 0n && v < 1n << 256n, "expected a uint256"),
  data: hexBytesSchema,
  salt: bytes32Schema,
});

/** The GOVERNANCE_CALL payload: `abi.encode(uint64 dstChainId, address target, uint256 value, bytes data, bytes32 salt)`. */
export function encodeGovernanceCall(call: GovernanceCall): Hex {
  const c = governanceCallSchema.parse(call);
  return encodeAbiParameters(GOVERNANCE_CALL_PARAMS, [c.dstChainId, c.target, c.value, c.data, c.salt]);
}

/**
 * The inverse of `encodeGovernanceCall`; throws on a payload that is not exactly one such encoding
 * (trailing bytes included) or whose fields the outbox could never have emitted.
 */
export function decodeGovernanceCall(payload: Hex): GovernanceCall {
  const [dstChainId, target, value, data, salt] = decodeAbiParameters(GOVERNANCE_CALL_PARAMS, payload);
  const call = governanceCallSchema.parse({ dstChainId, target, value, data, salt });
  if (encodeGovernanceCall(call).toLowerCase() !== payload.toLowerCase())
    throw new RangeError("the payload is not the canonical encoding of a governance call");
  return call;
}
