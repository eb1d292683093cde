/**
 * The deployments of a network: each chain's id, RPC, first block and contract addresses, and the
 * oracle's attester set. Browser-safe (the schema only); sdk/node/deployments-file.ts reads and
 * writes the file that `npm run devnet` and real deployments leave.
 */
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

/** Validates deployments given as data (e.g. fetched by a web page); `source` names them in errors. */
export function parseDeployments(json: unknown, source: string): Deployments {
  const parsed = deploymentsSchema.safeParse(json);
  if (!parsed.success) {
    throw new BasedError(
      "environment",
      "DeploymentsInvalid",
      `${source} is not a valid deployments file: ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}
