import fs from "node:fs";
import { type Address, getAddress, isAddress, parseEther } from "viem";
import { z } from "zod";
import { lowercaseBytes32Schema } from "../../protocol/schemas";
import { BasedError } from "../../sdk/errors";
import { endpointSchema } from "../../sdk/network";

function parseWith<T>(schema: z.ZodType<T>, what: string, raw: string, hint?: string): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const reason = parsed.error.issues[0]?.message ?? "invalid";
    throw new BasedError("input", "InvalidArgument", `Invalid ${what} "${raw}": ${reason}.`, hint);
  }
  return parsed.data;
}

const brainId = z
  .string()
  .regex(/^\d+$/, "a Brain id is a whole number")
  .transform(Number)
  .pipe(z.number().int().min(0, "ids start at 0").max(1023, "ids end at 1023"));

/** A whole or decimal token amount with at most 18 decimals, e.g. `1200` or `0.5`. */
const tokenAmount = z
  .string()
  .regex(/^\d+(\.\d{1,18})?$/, "expected an amount such as 1200 or 1200.5 (at most 18 decimals)")
  .transform((s) => parseEther(s));

const address = z
  .string()
  .refine((s) => isAddress(s, { strict: false }), "expected a 0x-prefixed 20-byte address")
  .transform((s) => getAddress(s));

export const parseBrainId = (raw: string): number => parseWith(brainId, "Brain id", raw);
/** A token amount; `hint` says what to pass instead when it is not one. */
export const parseTokenAmount = (raw: string, what: string, hint?: string): bigint =>
  parseWith(tokenAmount, what, raw, hint);
export const parseAddress = (raw: string, what: string): Address => parseWith(address, what, raw);

// ───────────────────────────────────────── economy flags ─────────────────────────────────────────

/** A whole number from `min` to `max`, e.g. a template id, GiB of storage or an epoch. */
export function parseInteger(raw: string, what: string, min: number, max: number): number {
  const schema = z
    .string()
    .regex(/^\d+$/, "expected a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min, `at least ${min}`).max(max, `at most ${max}`));
  return parseWith(schema, what, raw);
}

/** One of `choices`, e.g. `miner` or `validator`. */
export function parseChoice<const C extends string>(raw: string, what: string, choices: readonly C[]): C {
  const schema = z.string().refine((s): s is C => (choices as readonly string[]).includes(s), {
    message: `expected ${choices.join(" or ")}`,
  });
  return parseWith(schema, what, raw) as C;
}

/** Text of at most `maxBytes` UTF-8 bytes (the contracts bound their strings in bytes). */
export function parseText(raw: string, what: string, maxBytes: number): string {
  const schema = z
    .string()
    .refine((s) => Buffer.byteLength(s, "utf8") <= maxBytes, `at most ${maxBytes} bytes`);
  return parseWith(schema, what, raw);
}

export const parseBytes32 = (raw: string, what: string): `0x${string}` =>
  parseWith(lowercaseBytes32Schema, what, raw);

const BPS_TOTAL = 10_000;
const split = z
  .string()
  .regex(/^\d{1,5}:\d{1,5}:\d{1,5}$/, "expected owner:miners:validators in basis points, e.g. 2500:3750:3750")
  .transform((s) => s.split(":").map(Number) as [number, number, number])
  .refine((parts) => parts.every((p) => p <= BPS_TOTAL), "each part is at most 10000 basis points")
  .refine(
    (parts) => parts[0] + parts[1] + parts[2] === BPS_TOTAL,
    "the three parts must sum to 10000 basis points (100 %)",
  )
  .transform(([ownerBps, minersBps, validatorsBps]) => ({ ownerBps, minersBps, validatorsBps }));

/** `owner:miners:validators` in basis points summing to 10,000. */
export const parseSplit = (raw: string) => parseWith(split, "--split", raw);

/** `<prompt>:<completion>` decimal BASED amounts per 1,000 compute units. */
export function parsePrices(raw: string): { prompt: bigint; completion: bigint } {
  const parts = raw.split(":");
  if (parts.length !== 2) {
    throw new BasedError(
      "input",
      "InvalidArgument",
      `Invalid --price "${raw}": expected <prompt>:<completion> in BASED per 1,000 compute units, e.g. 0.01:0.02.`,
    );
  }
  return {
    prompt: parseTokenAmount(parts[0]!, "--price (prompt)"),
    completion: parseTokenAmount(parts[1]!, "--price (completion)"),
  };
}

/** Where a node is reached: `host:port` or a URL, at most 128 bytes. */
export const parseEndpoint = (raw: string): string => parseWith(endpointSchema, "--endpoint", raw);

/** Reads and parses a JSON file named on the command line (a missing or broken file is bad input). */
export function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new BasedError(
      "input",
      "FileUnreadable",
      `Cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new BasedError(
      "input",
      "InvalidJson",
      `The ${what} ${file} is not JSON: ${(err as Error).message}`,
    );
  }
}
