import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { addressSchema } from "../protocol/schemas";
import { BasedError } from "./errors";

/** Addresses and facts one chain's deployment leaves for off-chain code. */
export const chainDeploymentSchema = z.object({
  chainId: z.number().int().positive(),
  rpcUrl: z.string().url(),
  /** Block of the first deployment transaction: where watchers start reading events. */
  startBlock: z.number().int().nonnegative(),
  contracts: z.record(z.string(), addressSchema),
});

/** The deployments file written by `npm run devnet` (and by deployments to real networks). */
export const deploymentsSchema = z.object({
  version: z.literal(1),
  network: z.string(),
  createdAt: z.string(),
  ethereum: chainDeploymentSchema.extend({
    contracts: z
      .object({ Pepecoin: addressSchema, BrainNFT: addressSchema, WrappedBased: addressSchema })
      .catchall(addressSchema),
    /** True when Pepecoin is the devnet's TestPepecoin (an open faucet). */
    testPepecoin: z.boolean(),
  }),
  /** The BasedAI chain: present once the devnet (or a deployment) runs both chains. */
  based: chainDeploymentSchema
    .extend({
      contracts: z
        .object({
          BasedToken: addressSchema,
          BasedBridge: addressSchema,
          BrainRegistry: addressSchema,
          MessageInbox: addressSchema,
          Network: addressSchema,
          Staking: addressSchema,
          Emission: addressSchema,
          Consensus: addressSchema,
          ComputeMarket: addressSchema,
        })
        .catchall(addressSchema),
    })
    .optional(),
  /** The oracle's attester set both inboxes were deployed with. */
  attesters: z
    .object({ version: z.number().int().positive(), addresses: z.array(addressSchema).min(1) })
    .optional(),
});

export type ChainDeployment = z.infer<typeof chainDeploymentSchema>;
export type Deployments = z.infer<typeof deploymentsSchema>;

/** Where `npm run devnet` writes its deployments unless BASED_DEPLOYMENTS says otherwise. */
export const DEFAULT_DEPLOYMENTS_FILE = path.resolve(__dirname, "..", ".devnet", "deployments.json");

/** Reads and validates a deployments file; says how to create one when it is missing. */
export function readDeployments(file: string = DEFAULT_DEPLOYMENTS_FILE): Deployments {
  let raw: string;
  try {
    raw = fs.readFileSync(file, "utf8");
  } catch {
    throw new BasedError(
      "environment",
      "DeploymentsMissing",
      `No deployments file at ${file}.`,
      "Start a local network with `npm run devnet` (it writes this file), or point BASED_DEPLOYMENTS at one.",
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new BasedError(
      "environment",
      "DeploymentsInvalid",
      `${file} is not JSON: ${(err as Error).message}`,
    );
  }
  const parsed = deploymentsSchema.safeParse(json);
  if (!parsed.success) {
    throw new BasedError(
      "environment",
      "DeploymentsInvalid",
      `${file} is not a valid deployments file: ${z.prettifyError(parsed.error)}`,
      "Restart `npm run devnet` to write a fresh one.",
    );
  }
  return parsed.data;
}

/** Writes a deployments file atomically (readers never see half a file). */
export function writeDeployments(file: string, deployments: Deployments): void {
  const valid = deploymentsSchema.parse(deployments);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(valid, null, 2) + "\n");
  fs.renameSync(tmp, file);
}
