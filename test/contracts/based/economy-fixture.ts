/**
 * The BasedAI chain's economy on one Hardhat network: BASED, the inbox (trusting "Ethereum" = 1
 * for Brain events and this chain, 31337, for its own epoch reports), BrainRegistry, Network,
 * Staking, Emission and Consensus, with small parameters so tests can walk through epochs.
 * Brains 1, 2 and 3 are mirrored active (wallets alice, bob, carol); 9 is a stake Brain still locked
 * and 8 was deactivated. `FUNDING` BASED is minted to each of the first 12 signers before the admin
 * gives up minting, so afterwards Emission is BASED's only minter (the supply property relies on it).
 */
import { ethers } from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import type { Signer } from "ethers";
import type { Hex } from "viem";
import type {
  BasedToken,
  BrainRegistry,
  Consensus,
  Emission,
  MessageInbox,
  Network,
  Staking,
} from "../../../typechain-types";
import { Class } from "../ethereum/helpers";
import {
  ETH_CHAIN,
  Kind,
  LOCAL_CHAIN,
  attesterWallets,
  deliver,
  encodeBrainEvent,
} from "../messaging/messages";
import { type ReportPayload, encodeReportPayload, reportNonce } from "../../../protocol/report";

export const BASED = (n: bigint | number): bigint => BigInt(n) * 10n ** 18n;
/** What each of the first 12 signers holds at the start. */
export const FUNDING = BASED(1_000_000);
export const EPOCH_REPORT = 6;

/** Small parameters: epochs of 20 blocks, 50 blocks of immunity, 1 hour unbonding, 10-block window,
 * 30 blocks to answer a challenge, a bond of 10 % of the epoch's emission and at least 100 BASED (the
 * floor: an epoch emits 200 BASED). */
export const PARAMS = {
  tempo: 20n,
  immunityPeriod: 50n,
  unbondingPeriod: 3_600n,
  challengeWindow: 10n,
  challengeTimeout: 30n,
  minChallengeBond: BASED(100),
  challengeBondBps: 1_000,
  maxWeights: 1_792,
  reportGas: 2_000_000n,
} as const;

export type EconomyParams = {
  -readonly [K in keyof typeof PARAMS]: (typeof PARAMS)[K] extends bigint ? bigint : number;
};

/** Deploys the economy with `params` (PARAMS by default). */
export async function deployEconomyWith(params: EconomyParams = { ...PARAMS }) {
  const signers = await ethers.getSigners();
  const [admin, alice, bob, carol, dave, erin, frank] = signers;
  if (!admin || !alice || !bob || !carol || !dave || !erin || !frank) throw new Error("need 7 signers");
  const attesters = attesterWallets(4);
  const quorum = attesters.slice(0, 3);

  const based = (await ethers.deployContract("BasedToken", [admin.address])) as unknown as BasedToken;
  const minter = await based.MINTER_ROLE();
  await based.grantRole(minter, admin.address);
  for (const s of signers.slice(0, 12)) await based.mint(s.address, FUNDING);
  await based.revokeRole(minter, admin.address);

  const inbox = (await ethers.deployContract("MessageInbox", [
    attesters.map((a) => a.address),
    [ETH_CHAIN, LOCAL_CHAIN],
    admin.address,
  ])) as unknown as MessageInbox;
  const inboxAddr = await inbox.getAddress();
  const registry = (await ethers.deployContract("BrainRegistry", [
    inboxAddr,
    ETH_CHAIN,
  ])) as unknown as BrainRegistry;
  const network = (await ethers.deployContract("Network", [
    await based.getAddress(),
    await registry.getAddress(),
    params.immunityPeriod,
    admin.address,
  ])) as unknown as Network;
  const staking = (await ethers.deployContract("Staking", [
    await based.getAddress(),
    await registry.getAddress(),
    await network.getAddress(),
    params.unbondingPeriod,
  ])) as unknown as Staking;
  const genesisBlock = BigInt(await ethers.provider.getBlockNumber()) + 1n;
  const emission = (await ethers.deployContract("Emission", [
    await based.getAddress(),
    genesisBlock,
  ])) as unknown as Emission;
  const consensus = (await ethers.deployContract("Consensus", [
    inboxAddr,
    LOCAL_CHAIN,
    await emission.getAddress(),
    await network.getAddress(),
    params.tempo,
    {
      window: params.challengeWindow,
      timeout: params.challengeTimeout,
      minBond: params.minChallengeBond,
      bondBps: params.challengeBondBps,
    },
    params.maxWeights,
    admin.address,
  ])) as unknown as Consensus;
  await based.grantRole(minter, await emission.getAddress());
  await emission.bindConsensus(await consensus.getAddress());
  await network.bindPruningOrderSource(await consensus.getAddress());
  await inbox.setHandler(Kind.BRAIN_EVENT, await registry.getAddress(), 200_000n);
  await inbox.setHandler(EPOCH_REPORT, await consensus.getAddress(), params.reportGas);

  let brainNonce = 1n;
  /** Mirrors Brain `brainId` with this state (as a BRAIN_EVENT from "Ethereum"; owner = wallet unless set). */
  async function mirror(
    brainId: bigint,
    wallet: string,
    over: { class?: bigint; unlockAt?: bigint; active?: boolean; owner?: string } = {},
  ) {
    await deliver(
      inbox,
      {
        srcChainId: ETH_CHAIN,
        dstChainId: LOCAL_CHAIN,
        nonce: brainNonce++ << 32n,
        kind: Kind.BRAIN_EVENT,
        payload: encodeBrainEvent({
          brainId,
          owner: over.owner ?? wallet,
          class: Number(over.class ?? Class.Burn),
          unlockAt: over.unlockAt ?? 0n,
          basedWallet: wallet,
          active: over.active ?? true,
        }),
      },
      quorum,
    );
  }
  await mirror(1n, alice.address);
  await mirror(2n, bob.address);
  await mirror(3n, carol.address);
  await mirror(9n, dave.address, { class: Class.Stake, unlockAt: 2n ** 40n });
  await mirror(8n, erin.address, { active: false });

  const networkAddr = await network.getAddress();
  const stakingAddr = await staking.getAddress();
  const consensusAddr = await consensus.getAddress();
  for (const s of signers.slice(0, 12)) {
    await based.connect(s).approve(networkAddr, ethers.MaxUint256);
    await based.connect(s).approve(stakingAddr, ethers.MaxUint256);
    await based.connect(s).approve(consensusAddr, ethers.MaxUint256);
  }

  /** Registers `who` in `brainId` as `role` (1 validator, 2 miner) with no pruning hints. */
  async function register(who: Signer, brainId: bigint, role: 1 | 2, endpoint = "127.0.0.1:9000") {
    return network
      .connect(who)
      .register(brainId, { role, endpoint, device: 0, storageGiB: 10, maxFee: ethers.MaxUint256 }, []);
  }

  /** Signs `payload` as an EPOCH_REPORT from this chain to itself and delivers it. */
  async function deliverReport(payload: ReportPayload, wallets = quorum) {
    return deliver(
      inbox,
      {
        srcChainId: LOCAL_CHAIN,
        dstChainId: LOCAL_CHAIN,
        nonce: reportNonce(payload.epoch, payload.revision),
        kind: EPOCH_REPORT,
        payload: encodeReportPayload(payload),
      },
      wallets,
    );
  }

  /** Mines until epoch `epoch` is over (its end block is mined), so its report is acceptable. */
  async function mineToEndOf(epoch: bigint) {
    const [, end] = await consensus.epochBounds(epoch);
    const now = BigInt(await ethers.provider.getBlockNumber());
    // The report's own transaction is mined in the next block: `end <= block.number` then holds.
    if (now + 1n < end) await mine(end - now - 1n);
  }

  /** Mines until the next block is the first block of epoch `epoch`. */
  async function mineToStartOf(epoch: bigint) {
    const [start] = await consensus.epochBounds(epoch);
    const now = BigInt(await ethers.provider.getBlockNumber());
    if (now + 1n < start) await mine(start - now - 1n);
  }

  const ZERO_HASH = ("0x" + "00".repeat(32)) as Hex;

  return {
    signers,
    admin,
    alice,
    bob,
    carol,
    dave,
    erin,
    frank,
    attesters,
    quorum,
    based,
    inbox,
    registry,
    network,
    staking,
    emission,
    consensus,
    genesisBlock,
    params,
    mirror,
    register,
    deliverReport,
    mineToEndOf,
    mineToStartOf,
    ZERO_HASH,
  };
}

/** The economy with PARAMS (use with loadFixture). */
export function deployEconomy() {
  return deployEconomyWith();
}
