/**
 * The devnet's Brain #3 as a working Brain (issue 7): the labs account (its wallet) sets the
 * shipped model as its task, prices, and its gateway; then scripts/devnet.ts starts a gateway, two miners and two validators for it.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import type { Logger } from "pino";
import { privateKeyToAccount } from "viem/accounts";
import { modelContentHash } from "../../sdk/node/model-cache";
import { configureBrain } from "../../sdk/brain-config";
import { economyContracts } from "../../sdk/economy";
import { readDeployments } from "../../sdk/node/deployments-file";
import { DEVNET_ACCOUNTS, DEVNET_BRAIN, devnetPrivateKey } from "../../sdk/devnet";
import { brainRegistryAbi } from "../../protocol/generated/abis";
import { setBrainGateway } from "../../sdk/market";
import { jsonRpc } from "./network";
import { type ChainContext, connectBased } from "../../sdk/chain";

const ROOT = path.resolve(__dirname, "..", "..");
export const SHIPPED_MODEL_DIR = path.join(ROOT, "zkllm", "models", "brain-gpt2-tiny");

/** The Redis key prefix of a devnet's gateway: one per state directory, so devnets never share queues. */
export function devnetRedisPrefix(stateDir: string): string {
  return `based-devnet-${createHash("sha256").update(path.resolve(stateDir)).digest("hex").slice(0, 12)}`;
}

/** A context of the `based` SDK signing with devnet account `index`. */
export function devnetContext(deploymentsFile: string, index: number) {
  return connectBased(
    { deployments: readDeployments(deploymentsFile), privateKey: devnetPrivateKey(index) },
    { withAccount: true },
  );
}

async function waitForMirror(ctx: ChainContext, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const active = await ctx.publicClient.readContract({
      address: economyContracts(ctx).BrainRegistry,
      abi: brainRegistryAbi,
      functionName: "isActive",
      args: [BigInt(DEVNET_BRAIN.id)],
    });
    if (active) return;
    if (Date.now() > deadline) {
      throw new Error(
        `Brain #${DEVNET_BRAIN.id} was not mirrored to the BasedAI chain within ${timeoutMs / 1000} s: see the attester and relayer logs`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Configures Brain #3 (task, pricing, gateway) as its wallet and fast-forwards the BasedAI chain
 * past the task's notice period (a devnet has no one to give notice to). The service accounts got
 * their BASED at deployment (scripts/devnet/deploy-based.ts).
 */
export async function prepareDevnetBrain(
  deploymentsFile: string,
  basedRpc: string,
  log: Logger,
): Promise<void> {
  const labs = await devnetContext(deploymentsFile, DEVNET_ACCOUNTS.labs);
  await waitForMirror(labs, 120_000);
  // Every devnet starts fresh chains: Brain #3 has no task yet.
  const contentHash = modelContentHash(SHIPPED_MODEL_DIR);
  log.info({ brain: DEVNET_BRAIN.id, contentHash }, "setting the shipped model as the Brain's task");
  await configureBrain(labs, DEVNET_BRAIN.id, {
    task: {
      modelUri: `file://${SHIPPED_MODEL_DIR}`,
      contentHash,
      templateId: 0,
      sourceRepo: "",
      sourceCommit: "",
    },
    pricing: DEVNET_BRAIN.pricing,
    profile: { name: "Brain Three (devnet)" },
  });
  // The task notice (1 day) would keep miners idle: skip it on the devnet's clock.
  await jsonRpc(basedRpc, "evm_increaseTime", [86_401]);
  await jsonRpc(basedRpc, "evm_mine", []);
  const gateway = privateKeyToAccount(devnetPrivateKey(DEVNET_BRAIN.gatewayAccount)).address;
  await setBrainGateway(labs, DEVNET_BRAIN.id, gateway);
}
