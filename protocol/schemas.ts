/**
 * The zod primitives every layer's schemas share: an Ethereum address, a private key, hex bytes
 * and 32 bytes of hex, the inference mode. One definition each, so a config file, a gateway
 * request, an attester's answer and an epoch file refuse the same malformed value with the same
 * message.
 */
import { type Address, type Hex, getAddress } from "viem";
import { z } from "zod";

/** 0x and 40 hex digits, in any case: EIP-55 casing is not required of input. */
export const ADDRESS_PATTERN = /^0x[0-9a-fA-F]{40}$/;
/** 0x and 64 hex digits, in any case. */
export const BYTES32_PATTERN = /^0x[0-9a-fA-F]{64}$/;

/** A 20-byte address, kept as written (files written back must not change case). */
export const addressSchema = z
  .string()
  .regex(ADDRESS_PATTERN, "expected a 20-byte hex address (0x + 40 hex digits)") as z.ZodType<
  Address,
  string
>;

/** A 20-byte address in its EIP-55 form (viem's `getAddress`), for values compared with viem's. */
export const checksummedAddressSchema = addressSchema.transform((a) => getAddress(a));

/** Bytes as 0x-prefixed hex, two digits a byte (a payload, a signature), kept as written. */
export const hexBytesSchema = z
  .string()
  .regex(/^0x([0-9a-fA-F]{2})*$/, "expected 0x-prefixed hex bytes") as z.ZodType<Hex, string>;

/** 32 bytes of hex (a hash, a root, an id), kept as written. */
export const bytes32Schema = z
  .string()
  .regex(BYTES32_PATTERN, "expected 32 bytes of hex (0x + 64 hex digits)") as z.ZodType<Hex, string>;

/** 32 bytes of hex in lowercase, for values compared as strings. */
export const lowercaseBytes32Schema = bytes32Schema.transform((s) => s.toLowerCase() as Hex);

/** A secp256k1 private key as viem's accounts take it. */
export const privateKeySchema = z
  .string()
  .regex(BYTES32_PATTERN, "expected a 32-byte hex private key (0x + 64 hex digits)") as z.ZodType<
  Hex,
  string
>;

/**
 * How a Brain runs a prompt: "encrypted" (the client keeps its key; miners compute on CKKS
 * ciphertexts) or "plain" (miners see the token ids).
 */
export const inferenceModeSchema = z.enum(["encrypted", "plain"]);
export type InferenceMode = z.infer<typeof inferenceModeSchema>;
