import {
  type Account,
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
import type { BasedConfig } from "./node/config";
import { type ChainDeployment, type Deployments } from "./deployments";
import { readDeployments } from "./node/deployments-file";
import { DEVNET_ACCOUNTS, DEVNET_CHAIN_IDS, devnetPrivateKey } from "./devnet";
import { BasedError } from "./errors";

/** A connection to the Ethereum side: clients, the deployment, and (for writes) an account. */
export type EthereumContext = {
  deployments: Deployments;
  chain: Chain;
  publicClient: PublicClient<Transport, Chain>;
  /** Present when the caller asked for an account. */
  walletClient?: WalletClient<Transport, Chain, Account>;
  /** True when no key was configured and the well-known devnet key is in use. */
  usingDevnetKey: boolean;
};

/** What connecting needs from the configuration (sdk/config.ts). */
export type ConnectConfig = Pick<
  BasedConfig,
  "deploymentsFile" | "ethereumRpcUrl" | "basedRpcUrl" | "privateKey"
>;

export type ConnectOptions = {
  /** Resolve a signing account (needed for transactions). */
  withAccount?: boolean;
};

/** Which deployed chain to connect to, and how to talk about it in errors. */
export type ChainTarget = {
  deployments: Deployments;
  deployment: ChainDeployment;
  rpcUrl: string;
  /** e.g. "Ethereum", "BasedAI chain". */
  name: string;
  symbol: string;
  /** What to check when a non-devnet RPC does not answer. */
  rpcHint: string;
};

/**
 * Connects to one chain of the deployment, checking that the RPC answers with the chain id the
 * deployment was made on, and resolves the signing key when asked (the devnet key by default on
 * devnet chains only).
 */
export async function connectChain(
  config: ConnectConfig,
  target: ChainTarget,
  options: ConnectOptions = {},
): Promise<EthereumContext> {
  const { deployment, rpcUrl, name } = target;
  const chainId = deployment.chainId;
  const isDevnet = DEVNET_CHAIN_IDS.includes(chainId);
  const chain = defineChain({
    id: chainId,
    name: isDevnet ? `${name} devnet` : `${name} (${chainId})`,
    nativeCurrency: { name: target.symbol, symbol: target.symbol, decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const transport = http(rpcUrl, { retryCount: 0, timeout: 15_000 });
  const publicClient = createPublicClient({ chain, transport });

  let answered: number;
  try {
    answered = await publicClient.getChainId();
  } catch {
    throw new BasedError(
      "environment",
      "RpcUnreachable",
      `Cannot reach the ${name} RPC at ${rpcUrl}.`,
      isDevnet ? "Start the local network with `npm run devnet` and keep it running." : target.rpcHint,
    );
  }
  if (answered !== chainId) {
    throw new BasedError(
      "environment",
      "WrongChain",
      `The RPC at ${rpcUrl} serves chain ${answered}, but the deployments file is for chain ${chainId}.`,
      "Point the RPC settings and BASED_DEPLOYMENTS at the same network.",
    );
  }

  const context: EthereumContext = {
    deployments: target.deployments,
    chain,
    publicClient,
    usingDevnetKey: false,
  };
  if (options.withAccount) {
    let key = config.privateKey;
    if (key === undefined) {
      if (!isDevnet) {
        throw new BasedError(
          "input",
          "NoKey",
          "No signing key is configured.",
          "Set BASED_PRIVATE_KEY or `privateKey` in the config file (keep it out of your shell history).",
        );
      }
      key = devnetPrivateKey(DEVNET_ACCOUNTS.dev);
      context.usingDevnetKey = true;
    }
    context.walletClient = createWalletClient({ chain, transport, account: privateKeyToAccount(key) });
  }
  return context;
}

/** Connects to the Ethereum side of the deployment (BASED_ETH_RPC_URL overrides its RPC). */
export async function connectEthereum(
  config: ConnectConfig,
  options: ConnectOptions = {},
): Promise<EthereumContext> {
  const deployments = readDeployments(config.deploymentsFile);
  return connectChain(
    config,
    {
      deployments,
      deployment: deployments.ethereum,
      rpcUrl: config.ethereumRpcUrl ?? deployments.ethereum.rpcUrl,
      name: "Ethereum",
      symbol: "ETH",
      rpcHint: "Check BASED_ETH_RPC_URL (or ethereumRpcUrl in the config file).",
    },
    options,
  );
}

/** The wallet client, or a clear error when the context was made without an account. */
export function requireWallet(ctx: EthereumContext): WalletClient<Transport, Chain, Account> {
  if (!ctx.walletClient) throw new Error("this action needs a context made with { withAccount: true }");
  return ctx.walletClient;
}
