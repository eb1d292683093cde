/**
 * A connection to one chain of a deployment, Ethereum or the BasedAI chain: the one context type
 * every SDK action takes, and one `connect` per chain. Browser-safe: the deployments come in as
 * data (sdk/node/deployments-file.ts reads them from disk), and nothing here touches files.
 */
import {
  type Account,
  type Address,
  type Chain,
  type PublicClient,
  type Transport,
  type WalletClient,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { ChainDeployment, Deployments } from "./deployments";
import { DEVNET_ACCOUNTS, DEVNET_CHAIN_IDS, devnetPrivateKey } from "./devnet";
import { BasedError } from "./errors";

/** The two chains of a deployment. */
export type ChainName = "ethereum" | "based";

/** A connection to one chain: clients, the deployment, and (for writes) an account. */
export type ChainContext = {
  name: ChainName;
  deployments: Deployments;
  chain: Chain;
  publicClient: PublicClient<Transport, Chain>;
  /** Present when the caller asked for an account. */
  walletClient?: WalletClient<Transport, Chain, Account>;
  /** True when no key was configured and the well-known devnet key is in use. */
  usingDevnetKey: boolean;
};

/** What connecting needs: the deployment, RPCs that override its own, and the signing key. */
export type ChainSettings = {
  deployments: Deployments;
  ethereumRpcUrl?: string;
  basedRpcUrl?: string;
  privateKey?: `0x${string}`;
};

export type ConnectOptions = {
  /** Resolve a signing account (needed for transactions). */
  withAccount?: boolean;
};

const LABEL: Record<ChainName, { title: string; symbol: string; rpcVariable: string }> = {
  ethereum: { title: "Ethereum", symbol: "ETH", rpcVariable: "BASED_ETH_RPC_URL" },
  based: { title: "BasedAI chain", symbol: "BASED", rpcVariable: "BASED_RPC_URL" },
};

/** The BasedAI chain's part of the deployments, or a clear error when they describe none. */
export function basedDeployment(deployments: Deployments): NonNullable<Deployments["based"]> {
  if (deployments.based) return deployments.based;
  throw new BasedError(
    "environment",
    "NoBasedChain",
    "The deployments describe no BasedAI chain.",
    "Use a deployments file with a `based` section (BASED_DEPLOYMENTS; the devnet writes one).",
  );
}

/** The deployment of chain `name`, or a clear error when the deployments describe no such chain. */
export function deploymentOf(deployments: Deployments, name: ChainName): ChainDeployment {
  return name === "ethereum" ? deployments.ethereum : basedDeployment(deployments);
}

function rpcOf(settings: ChainSettings, name: ChainName): string {
  const override = name === "ethereum" ? settings.ethereumRpcUrl : settings.basedRpcUrl;
  return override ?? deploymentOf(settings.deployments, name).rpcUrl;
}

/**
 * A context for chain `name` without asking its RPC anything (services that retry on their own
 * use it); `account` makes it able to send.
 */
export function chainContext(settings: ChainSettings, name: ChainName, account?: Account): ChainContext {
  const deployment = deploymentOf(settings.deployments, name);
  const rpcUrl = rpcOf(settings, name);
  const isDevnet = DEVNET_CHAIN_IDS.includes(deployment.chainId);
  const { title, symbol } = LABEL[name];
  const chain = defineChain({
    id: deployment.chainId,
    name: isDevnet ? `${title} devnet` : `${title} (${deployment.chainId})`,
    nativeCurrency: { name: symbol, symbol, decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  // No retries: callers decide how to back off (a service retries its loop, a command reports).
  const transport = http(rpcUrl, { retryCount: 0, timeout: 15_000 });
  return {
    name,
    deployments: settings.deployments,
    chain,
    publicClient: createPublicClient({ chain, transport }),
    walletClient: account ? createWalletClient({ chain, transport, account }) : undefined,
    usingDevnetKey: false,
  };
}

/**
 * Connects to chain `name`, checking that its RPC answers with the chain id the deployment was
 * made on, and resolves the signing key when asked (the devnet dev key by default on devnet only).
 */
async function connect(
  settings: ChainSettings,
  name: ChainName,
  options: ConnectOptions,
): Promise<ChainContext> {
  const deployment = deploymentOf(settings.deployments, name);
  const isDevnet = DEVNET_CHAIN_IDS.includes(deployment.chainId);
  let key = settings.privateKey;
  let usingDevnetKey = false;
  if (options.withAccount && key === undefined) {
    if (!isDevnet) {
      throw new BasedError(
        "input",
        "NoKey",
        "No signing key is configured.",
        "Set BASED_PRIVATE_KEY or `privateKey` in the config file (keep it out of your shell history).",
      );
    }
    key = devnetPrivateKey(DEVNET_ACCOUNTS.dev);
    usingDevnetKey = true;
  }
  const ctx = chainContext(settings, name, options.withAccount ? privateKeyToAccount(key!) : undefined);
  ctx.usingDevnetKey = usingDevnetKey;
  const rpcUrl = ctx.chain.rpcUrls.default.http[0]!;
  let answered: number;
  try {
    answered = await ctx.publicClient.getChainId();
  } catch {
    throw new BasedError(
      "environment",
      "RpcUnreachable",
      `Cannot reach the ${LABEL[name].title} RPC at ${rpcUrl}.`,
      isDevnet
        ? "Start the local network (npm run devnet) and keep it running."
        : `Check ${LABEL[name].rpcVariable} (or the deployments file's rpcUrl).`,
      { chain: name, rpcUrl },
    );
  }
  if (answered !== deployment.chainId) {
    throw new BasedError(
      "environment",
      "WrongChain",
      `The RPC at ${rpcUrl} serves chain ${answered}, but the deployments are for chain ${deployment.chainId}.`,
      "Point the RPC settings and the deployments at the same network.",
    );
  }
  return ctx;
}

/** Connects to the deployment's Ethereum chain. */
export const connectEthereum = (settings: ChainSettings, options: ConnectOptions = {}) =>
  connect(settings, "ethereum", options);

/** Connects to the deployment's BasedAI chain (the same key signs on both: both are EVM). */
export const connectBased = (settings: ChainSettings, options: ConnectOptions = {}) =>
  connect(settings, "based", options);

/** The wallet client, or a clear error when the context was made without an account. */
export function requireWallet(ctx: ChainContext): WalletClient<Transport, Chain, Account> {
  if (!ctx.walletClient) {
    throw new BasedError("input", "NoAccount", "This action sends a transaction: connect with an account.");
  }
  return ctx.walletClient;
}

/** The signing account's address (the context must have been made with an account). */
export function signerOf(ctx: ChainContext): Address {
  return requireWallet(ctx).account.address;
}
