/**
 * What a service refuses to start without, each with the error that says how to provide it.
 */
import type { BasedConfig } from "../sdk/node/config";
import type { Deployments } from "../sdk/deployments";
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

/** The BasedAI chain's part of the deployments, which every service needs. */
export function requireBasedChain(deployments: Deployments, file: string): NonNullable<Deployments["based"]> {
  if (deployments.based) return deployments.based;
  throw new BasedError(
    "environment",
    "NoBasedChain",
    `${file} describes no BasedAI chain.`,
    "Start the full devnet (`npm run devnet`), or use a deployments file with a `based` section.",
  );
}
