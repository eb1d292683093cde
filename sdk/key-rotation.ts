/**
 * When a client makes a fresh CKKS key set (secret key, and the Galois and relinearization keys
 * the plan needs) instead of reusing the one it has (issue 17). Every encrypted prompt names the
 * content hashes of its evaluation keys, so prompts under one key set are linkable by anyone who
 * sees them (the gateway, the miner): the policy decides how many prompts share one set.
 *
 * - `"session"` (the default): a fresh set for every prompt, so nothing links two prompts by their
 *   keys. On the shipped model (zkllm/models/brain-gpt2-tiny, n8192-q100, 19 rotations) making a
 *   set takes ~0.15 s on a 2-core EPYC (bench/zkllm/keygen.ts, docs/benchmarks.md) and each prompt
 *   uploads its 6.6 MiB of Galois keys once.
 * - `{ everyPrompts: N }`: a fresh set after N prompts; the N prompts of one set are linkable.
 * - `"never"`: one set for ever (what clients did before): every prompt of the user is linkable.
 *
 * Validators' canaries open their keys through the same policy and default (compute/validator),
 * so keys do not tell a canary from a user's prompt. This file is the pure, browser-safe part:
 * the decision and its text forms; the keystore on a computer is sdk/node/keystore.ts, and
 * `freshKeys` is the session policy without any storage (a browser's choice).
 */
import { z } from "zod";
import { createClient } from "../zkllm/client";
import { BasedError } from "./errors";
import type { OpenKeys } from "./prompt";

/** How many prompts share one key set (see the file comment). */
export type KeyRotation = "session" | "never" | { readonly everyPrompts: number };

/** A fresh key set for every prompt: key generation costs ~0.15 s on the shipped model. */
export const DEFAULT_KEY_ROTATION: KeyRotation = "session";

/** The measured cost of a fresh key set, as help texts state it. */
export const KEY_SET_COST =
  "~0.15 s to make a key set (shipped model, 2-core EPYC) and a 6.6 MiB upload per set";

const EVERY = /^every:(\d{1,9})$/;
const everyPromptsSchema = z.strictObject({ everyPrompts: z.number().int().min(1) });

/**
 * The text form (`--keys`, BASED_KEY_ROTATION, the config file): `session`, `never` or `every:N`
 * (N ≥ 1); the config file may also hold `{ "everyPrompts": N }`.
 */
export const keyRotationSchema: z.ZodType<KeyRotation, unknown> = z
  .unknown()
  .transform((value, ctx): KeyRotation => {
    const text = typeof value === "string" ? value.trim() : undefined;
    if (text === "session" || text === "never") return text;
    const m = text === undefined ? null : EVERY.exec(text);
    if (m && Number(m[1]) >= 1) return { everyPrompts: Number(m[1]) };
    const object = everyPromptsSchema.safeParse(value);
    if (object.success) return object.data;
    ctx.addIssue({
      code: "custom",
      message: `expected session, never or every:N with N a whole number ≥ 1, not ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  });

/** Parses the text form; an input error names `source` (a flag or variable) and the forms. */
export function parseKeyRotation(value: unknown, source = "The key rotation policy"): KeyRotation {
  const parsed = keyRotationSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new BasedError(
    "input",
    "InvalidKeyRotation",
    `${source} is invalid: ${parsed.error.issues[0]?.message ?? "not a key rotation policy"}.`,
    "Use session (a fresh key set for every prompt, the default), never (one set for ever) or every:N (a fresh set after N prompts).",
  );
}

/** The text form of a policy: `session`, `never` or `every:N`. */
export function formatKeyRotation(policy: KeyRotation): string {
  return typeof policy === "string" ? policy : `every:${policy.everyPrompts}`;
}

/**
 * The rotation decision: whether the next prompt must use a fresh key set, given how many
 * prompts already used the current one (`null` when there is no current set). Pure.
 */
export function needsFreshKeys(policy: KeyRotation, promptsOnCurrentSet: number | null): boolean {
  if (promptsOnCurrentSet === null) return true;
  if (policy === "session") return true;
  if (policy === "never") return false;
  if (!(Number.isInteger(policy.everyPrompts) && policy.everyPrompts >= 1)) {
    throw new RangeError(`everyPrompts must be a whole number ≥ 1, not ${policy.everyPrompts}`);
  }
  return promptsOnCurrentSet >= policy.everyPrompts;
}

/**
 * The session policy with nothing stored: a fresh secret key and evaluation keys for each prompt,
 * kept in memory only (the prompt deletes the client when it ends).
 */
export const freshKeys: OpenKeys = async (paramSet, plan) => {
  const client = await createClient({ paramSet });
  try {
    return { client, evalKeys: client.makeEvalKeysForPlan(plan), fresh: true };
  } catch (err) {
    client.delete();
    throw err;
  }
};
