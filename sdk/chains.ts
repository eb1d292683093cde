import { type Chain, type PublicClient, type Transport, createPublicClient, defineChain, http } from "viem";
import type { ChainDeployment } from "./deployments";

/** A viem chain for one deployed chain of the network (Ethereum or the BasedAI chain). */
export function chainOf(
  deployment: ChainDeployment,
  name: string,
  symbol = "ETH",
  rpcUrl = deployment.rpcUrl,
): Chain {
  return defineChain({
    id: deployment.chainId,
    name,
    nativeCurrency: { name: symbol, symbol, decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

/** A public client for a deployed chain; no retries, so callers decide how to back off. */
export function publicClientOf(chain: Chain): PublicClient<Transport, Chain> {
  return createPublicClient({
    chain,
    transport: http(chain.rpcUrls.default.http[0], { retryCount: 0, timeout: 15_000 }),
  });
}
