import { ethers, network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { BrainNFT, TestPepecoin } from "../../../typechain-types";

/** `n` whole PEPE (18 decimals). */
export const PEPE = (n: bigint | number): bigint => BigInt(n) * 10n ** 18n;

export const DEAD = "0x000000000000000000000000000000000000dEaD";
export const STAKE = PEPE(100_000);
export const LOCK = 90n * 24n * 60n * 60n;
export const RESERVED_IDS = [0, 1, 2, 3, 4, 5, 6, 47] as const;

/** BrainNFT.BrainClass */
export const Class = { None: 0n, Reserved: 1n, Burn: 2n, Stake: 3n } as const;

/** Price of the burn mint that follows `issued` earlier burn mints, as docs/architecture.md §2 states it. */
export const burnPriceAfter = (issued: bigint | number): bigint => PEPE(1_000) + PEPE(200) * BigInt(issued);

/** Sum of the prices of the first `n` burn mints. */
export const burnSum = (n: number): bigint => {
  let sum = 0n;
  for (let k = 0; k < n; k++) sum += burnPriceAfter(k);
  return sum;
};

export interface Brains {
  brain: BrainNFT;
  pepe: TestPepecoin;
  brainAddr: string;
  labs: HardhatEthersSigner;
  alice: HardhatEthersSigner;
  bob: HardhatEthersSigner;
  carol: HardhatEthersSigner;
  dave: HardhatEthersSigner;
  /** Holds no PEPE and approved nothing. */
  eve: HardhatEthersSigner;
}

/** Gives `who` `amount` PEPE and approves the BrainNFT for `allowance` (unlimited by default). */
export async function fund(
  pepe: TestPepecoin,
  brainAddr: string,
  who: HardhatEthersSigner,
  amount: bigint,
  allowance: bigint = ethers.MaxUint256,
): Promise<void> {
  await pepe.mint(who.address, amount);
  await pepe.connect(who).approve(brainAddr, allowance);
}

/** TestPepecoin + BrainNFT with labs = signer 0; alice, bob, carol and dave funded and approved. */
export async function deployBrains(): Promise<Brains> {
  const [labs, alice, bob, carol, dave, eve] = await ethers.getSigners();
  if (!labs || !alice || !bob || !carol || !dave || !eve) throw new Error("need 6 signers");
  const pepe = await ethers.deployContract("TestPepecoin");
  const brain = await ethers.deployContract("BrainNFT", [await pepe.getAddress(), labs.address]);
  const brainAddr = await brain.getAddress();
  for (const who of [alice, bob, carol, dave]) await fund(pepe, brainAddr, who, PEPE(1_000_000_000));
  return { brain, pepe, brainAddr, labs, alice, bob, carol, dave, eve };
}

/**
 * Really mints `count` Brains from `from`, one transaction (and one automined block) each, sent
 * straight to the in-process node: no gas estimation, no receipt polling, about 1 ms a mint. The
 * node throws on a reverted transaction, so a failure stops the loop.
 */
export async function mintMany(
  brain: BrainNFT,
  from: HardhatEthersSigner,
  kind: "burn" | "stake",
  count: number,
): Promise<void> {
  const to = await brain.getAddress();
  const data =
    kind === "burn"
      ? brain.interface.encodeFunctionData("mintByBurn", [ethers.MaxUint256])
      : brain.interface.encodeFunctionData("mintByStake");
  for (let i = 0; i < count; i++) {
    await network.provider.request({
      method: "eth_sendTransaction",
      params: [{ from: from.address, to, data, gas: "0x7a120" }],
    });
  }
}

/** 499 burn mints by alice (ids 7…46 and 48…506): the next burn mint is the 500th. */
export async function burned499(): Promise<Brains> {
  const b = await deployBrains();
  await mintMany(b.brain, b.alice, "burn", 499);
  return b;
}

/**
 * All 1024 slots taken: the 8 reserved Brains, 499 burn Brains of alice (ids 7…46, 48…506) and
 * 517 stake Brains of bob (ids 507…1023).
 */
export async function filled(): Promise<Brains & { stakeFirstId: number }> {
  const b = await deployBrains();
  await mintMany(b.brain, b.alice, "burn", 499);
  await mintMany(b.brain, b.bob, "stake", 517);
  return { ...b, stakeFirstId: 507 };
}

/** Decodes a `data:<mime>;base64,` URI, checking the prefix. */
export function decodeDataUri(uri: string, mime: string): string {
  const prefix = `data:${mime};base64,`;
  if (!uri.startsWith(prefix)) throw new Error(`not a base64 ${mime} data URI: ${uri.slice(0, 40)}`);
  return Buffer.from(uri.slice(prefix.length), "base64").toString("utf8");
}

export interface BrainMetadata {
  name: string;
  description: string;
  attributes: { trait_type: string; value: string | number; display_type?: string }[];
  image: string;
}

/** tokenURI → parsed JSON and decoded SVG. */
export async function metadata(
  brain: BrainNFT,
  id: bigint | number,
): Promise<BrainMetadata & { svg: string }> {
  const json = JSON.parse(decodeDataUri(await brain.tokenURI(id), "application/json")) as BrainMetadata;
  return { ...json, svg: decodeDataUri(json.image, "image/svg+xml") };
}

/** The value of trait `trait` in the metadata. */
export function trait(meta: BrainMetadata, trait: string): string | number | undefined {
  return meta.attributes.find((a) => a.trait_type === trait)?.value;
}
