import { type Address, getAddress, isAddress, parseEther } from "viem";
import { z } from "zod";
import { BasedError } from "../sdk/errors";

function parseWith<T>(schema: z.ZodType<T>, what: string, raw: string): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const reason = parsed.error.issues[0]?.message ?? "invalid";
    throw new BasedError("input", "InvalidArgument", `Invalid ${what} "${raw}": ${reason}.`);
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
export const parseTokenAmount = (raw: string, what: string): bigint => parseWith(tokenAmount, what, raw);
export const parseAddress = (raw: string, what: string): Address => parseWith(address, what, raw);
