/**
 * SDK contexts on Hardhat's in-process network (the contract fixtures' chain), for tests that call
 * the SDK against contracts deployed in the test, and the check that a call was refused.
 */
import { expect } from "chai";
import { network } from "hardhat";
import { type Address, createPublicClient, createWalletClient, custom, defineChain } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { ChainContext, ChainName } from "../../sdk/chain";
import type { Deployments } from "../../sdk/deployments";
import { devnetPrivateKey } from "../../sdk/devnet";
import { BasedError } from "../../sdk/errors";

/** The in-process chain as viem sees it. */
export const inProcessChain = defineChain({
  id: 31337,
  name: "in-process",
  nativeCurrency: { name: "ETH", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: ["http://in-process"] } },
});

/**
 * A context for chain `name` of `deployments` on the in-process network, signing as `signer`: a
 * devnet account index (its key signs locally) or an address Hardhat holds the key of. The public
 * client has no block-number cache: tests mine between reads.
 */
export function inProcessContext(options: {
  signer: number | Address;
  name?: ChainName;
  deployments?: Deployments;
}): ChainContext {
  const transport = custom(network.provider);
  const account =
    typeof options.signer === "number"
      ? privateKeyToAccount(devnetPrivateKey(options.signer))
      : options.signer;
  return {
    name: options.name ?? "ethereum",
    deployments: options.deployments ?? (undefined as never),
    chain: inProcessChain,
    publicClient: createPublicClient({ chain: inProcessChain, transport, cacheTime: 0 }),
    walletClient: createWalletClient({ chain: inProcessChain, transport, account }),
    usingDevnetKey: false,
  };
}

/** The BasedError `promise` rejects with (with code `code`, when given). */
export async function refusal(promise: Promise<unknown>, code?: string): Promise<BasedError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(BasedError);
    if (code !== undefined) expect((err as BasedError).code, (err as Error).message).to.equal(code);
    return err as BasedError;
  }
  expect.fail(code === undefined ? "expected a refusal" : `expected a refusal ${code}`);
}
