/**
 * What a service refuses to start without, with the error that says how to provide it.
 */
import type { BasedConfig } from "../sdk/node/config";
import { BasedError } from "../sdk/errors";

/** The configured key; services never fall back to a devnet key (each role needs its own). */
export function requireKey(config: Pick<BasedConfig, "privateKey">, what: string): `0x${string}` {
  if (config.privateKey !== undefined) return config.privateKey;
  throw new BasedError(
    "input",
    "NoKey",
    `No key is configured: the service needs one (${what}).`,
    "Set BASED_PRIVATE_KEY, or privateKey in the config file (mode 600).",
  );
}
