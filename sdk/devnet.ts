import { toHex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { BasedError } from "./errors";

/** Hardhat's well-known development mnemonic: its accounts are funded on every devnet chain.
 *  Never use these keys anywhere else: everybody knows them. */
export const DEVNET_MNEMONIC = "test test test test test test test test test test test junk";

/** Chain ids on which the SDK may fall back to a devnet key. */
export const DEVNET_CHAIN_IDS: readonly number[] = [31337, 32323];

export const DEVNET_ETHEREUM = { chainId: 31337, port: 8545 } as const;
export const DEVNET_BASED = { chainId: 32323, port: 9545, blockTimeSeconds: 10 } as const;

/**
 * Attesters run with devnet accounts 10–13 (their HTTP ports follow the first one). Four, not
 * three: the threshold is floor(2n/3)+1, which for n = 3 is 3 (no attester may fail); n = 4 = 3f+1
 * tolerates one attester down (3 of 4) and stops at two down (docs/decisions.md).
 */
export const DEVNET_ATTESTER_ACCOUNTS = [10, 11, 12, 13] as const;
export const DEVNET_ATTESTER_PORT = 7101;
/** The devnet relayer pays gas with account 14. */
export const DEVNET_RELAYER_ACCOUNT = 14;

/** Role of each devnet account index (the devnet funds these with PEPE). */
export const DEVNET_ACCOUNTS = {
  /** Deploys everything and is the default user of the `based` command. */
  dev: 0,
  /** Based Labs: receives the reserved Brains #0–#6 and #47. */
  labs: 1,
} as const;

/**
 * Devnet GigaBrain governance (docs/governance.md): the same contracts as a public deployment with
 * minutes instead of days — the vote opens 60 s after a proposal, lasts 5 minutes (extended by 60 s
 * on a late flip), a passed proposal may be queued for 10 minutes, each timelock waits 60 s — and
 * a veto quorum of 1,000,000 PEPE (a tenth of a funded account's PEPE). Both guardians
 * (EthereumGuardian, BasedGuardian) are 2-of-3 GuardianMultisigs owned by devnet accounts 7, 8
 * and 9. The Labs proposer is the labs account.
 */
export const DEVNET_GOVERNANCE = {
  votingDelay: 60,
  votingPeriod: 5 * 60,
  voteExtension: 60,
  gracePeriod: 10 * 60,
  vetoQuorum: 1_000_000n * 10n ** 18n,
  ethereumTimelockDelay: 60,
  basedTimelockDelay: 60,
  guardianThreshold: 2,
} as const;
export const DEVNET_GUARDIAN_ACCOUNTS = [7, 8, 9] as const;

/** PEPE the devnet faucet gives each of the first `DEVNET_FUNDED_ACCOUNTS` accounts. */
export const DEVNET_PEPE_PER_ACCOUNT = 10_000_000n * 10n ** 18n;
export const DEVNET_FUNDED_ACCOUNTS = 5;
/** BASED the devnet faucet gives the same accounts (a faucet call gives at most 1,000,000). */
export const DEVNET_BASED_PER_ACCOUNT = 1_000_000n * 10n ** 18n;

/** The private key of devnet account `index` (hex, 0x-prefixed). */
export function devnetPrivateKey(index: number): `0x${string}` {
  const account = mnemonicToAccount(DEVNET_MNEMONIC, { addressIndex: index });
  const key = account.getHdKey().privateKey;
  // A mnemonic-derived HD key always has its private half; the check only narrows the type.
  if (!key) throw new BasedError("environment", "DevnetKey", "The devnet mnemonic produced no private key.");
  return toHex(key);
}

/**
 * The devnet's economy parameters (the Based Ignition module's, scaled down so a demo sees epochs):
 * 30-block epochs (5 minutes of 10-second blocks), 60 blocks of immunity, 60 seconds of unbonding,
 * a 5-block challenge window, a bond of 10 % of the epoch's emission (at least 10 BASED) and 60
 * blocks for the attesters to answer a challenge. Mainnet defaults are in ECONOMY_DEFAULTS.
 */
export const DEVNET_ECONOMY = {
  tempo: 30,
  immunityPeriod: 60,
  unbondingPeriod: 60,
  challengeWindow: 5,
  challengeTimeout: 60,
  minChallengeBond: 10n * 10n ** 18n,
  challengeBondBps: 1_000,
} as const;

/**
 * The devnet's working Brain (issue 7): reserved Brain #3 (owned by the labs account) runs the
 * shipped model with a gateway (account 15, HTTP 7200), two miners (16, 17) and two validators
 * (18, 19). Prices are per 1,000 compute units (a unit is a token).
 */
export const DEVNET_BRAIN = {
  id: 3,
  gatewayAccount: 15,
  gatewayPort: 7200,
  minerAccounts: [16, 17],
  validatorAccounts: [18, 19],
  /** Each validator stakes this much BASED to itself. */
  validatorStake: 1_000,
  basedPerServiceAccount: 10_000n * 10n ** 18n,
  pricing: {
    promptPricePer1k: 1n * 10n ** 18n,
    completionPricePer1k: 2n * 10n ** 18n,
    contextLimit: 128,
  },
} as const;
