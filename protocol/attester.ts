/**
 * The attester's HTTP API (oracle/attester/server.ts serves it; docs/protocol.md lists the epoch
 * routes): zod schemas and types of what its clients send in paths and read back — the signed
 * messages it lists, its signatures of one message, an account's reward and proof in an epoch.
 * The relayer and the SDK parse answers with these, so a field the server adds or renames is
 * changed here once. Schemas check shape only: who signed what is for the reader to verify
 * (recoverAttester).
 */
import type { Hex } from "viem";
import { z } from "zod";
import { messageJsonSchema } from "./message";
import { BYTES32_PATTERN, addressSchema, bytes32Schema, hexBytesSchema } from "./schemas";

/** A message id in a path (`/messages/:id/signatures`), or as a command's argument. */
export const messageIdSchema = z
  .string()
  .regex(BYTES32_PATTERN, "expected a 32-byte hex message id (0x + 64 hex)") as z.ZodType<Hex, string>;

/**
 * One attester's signature of one message for one attester-set version, as `GET /messages` lists
 * them and `GET /messages/:id/signatures` answers; `seq` is its place in the attester's journal.
 */
export const signedMessageSchema = z.object({
  seq: z.number().int().nonnegative(),
  id: bytes32Schema,
  message: messageJsonSchema,
  signer: addressSchema,
  setVersion: z.number().int().positive(),
  signature: hexBytesSchema,
});
export type SignedMessage = z.infer<typeof signedMessageSchema>;
/** A signed message as the server writes it (bigints of the message as decimal strings). */
export type SignedMessageJson = z.input<typeof signedMessageSchema>;

/** `GET /messages?after=&limit=`: the attester's journal from `after` on, in order. */
export const messagesResponseSchema = z.object({
  attester: addressSchema,
  messages: z.array(signedMessageSchema),
});
export type MessagesResponse = z.infer<typeof messagesResponseSchema>;
export type MessagesResponseJson = z.input<typeof messagesResponseSchema>;

/** `GET /messages/:id/signatures[?setVersion=]`: the message and this attester's signature of it. */
export const signaturesResponseSchema = z.object({
  id: bytes32Schema,
  message: messageJsonSchema,
  signatures: z.array(signedMessageSchema),
});
export type SignaturesResponse = z.infer<typeof signaturesResponseSchema>;
export type SignaturesResponseJson = z.input<typeof signaturesResponseSchema>;

const decimal = z.string().regex(/^\d+$/, "expected a decimal integer");

/**
 * `GET /epochs/:epoch/rewards/:address`: what the account earned in the epoch (0 and no proof when
 * it has no leaf) and the proof against the rewards root the attester computed.
 */
export const rewardProofResponseSchema = z.object({
  epoch: decimal,
  account: addressSchema,
  amount: decimal.transform(BigInt),
  proof: z.array(bytes32Schema),
  rewardsRoot: bytes32Schema,
  inputsHash: bytes32Schema,
});
export type RewardProofResponse = z.infer<typeof rewardProofResponseSchema>;
