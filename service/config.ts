/**
 * Configuration of the oracle services, validated with zod. Flags carry everything but keys;
 * keys come from the environment (ATTESTER_PRIVATE_KEY, RELAYER_PRIVATE_KEY) so they never land
 * in process listings or shell history.
 */
import { parseArgs } from "node:util";
import pino, { type Logger } from "pino";
import { z } from "zod";
import { privateKeySchema } from "../protocol/schemas";

export const attesterConfigSchema = z
  .object({
    deployments: z.string().min(1),
    port: z.coerce.number().int().min(0).max(65535).default(7101),
    stateDir: z.string().min(1),
    finalityDepth: z.coerce.number().int().min(0).default(2),
    /** Finality depth 0 signs events that a reorg could undo: allowed only when asked for (devnet). */
    allowZeroFinality: z.boolean().default(false),
    pollMs: z.coerce.number().int().min(50).default(1_000),
    /** --no-epoch-reports: do not compute and sign epoch reports (for tests that sign their own). */
    noEpochReports: z.boolean().default(false),
    privateKey: privateKeySchema,
  })
  .refine((c) => c.finalityDepth > 0 || c.allowZeroFinality, {
    message: "finality depth 0 needs --allow-zero-finality (devnet only)",
    path: ["finalityDepth"],
  });

export const relayerConfigSchema = z.object({
  deployments: z.string().min(1),
  attester: z.array(z.string().url()).min(1),
  stateDir: z.string().min(1),
  pollMs: z.coerce.number().int().min(50).default(1_000),
  privateKey: privateKeySchema,
});

/** Parses flags + environment with `schema`, or exits 2 with a clear message. */
export function loadServiceConfig<T>(
  schema: z.ZodType<T>,
  flags: Record<string, { type: "string" | "boolean"; multiple?: boolean }>,
  env: Record<string, string | undefined>,
): T {
  const { values } = parseArgs({ options: flags, strict: true });
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values))
    raw[k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== "") raw[k] = v;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    console.error(`invalid configuration: ${z.prettifyError(parsed.error)}`);
    process.exit(2);
  }
  return parsed.data;
}

export function serviceLogger(name: string): Logger {
  return pino({ name, level: process.env.BASED_LOG_LEVEL ?? "info", base: { service: name } });
}
