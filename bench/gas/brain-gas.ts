/**
 * Gas of the Brain operations beside OpenZeppelin's plain ERC-721 `_safeMint`, measured in one run
 * on the in-process Hardhat network (docs/benchmarks.md, "Brains on Ethereum: gas").
 *
 *   npx hardhat run bench/gas/brain-gas.ts
 *
 * Prints a markdown table of `gasUsed` from the receipts (21,000 intrinsic gas and calldata
 * included, as a user pays it).
 */
import { ethers, network } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionResponse } from "ethers";

const PEPE = (n: number): bigint => BigInt(n) * 10n ** 18n;

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait();
  if (receipt === null || receipt.status !== 1) throw new Error("transaction failed");
  return receipt.gasUsed;
}

interface Row {
  operation: string;
  gas: bigint;
  floor?: { name: string; gas: bigint };
}

async function main(): Promise<void> {
  if (network.name !== "hardhat") throw new Error("run on the in-process hardhat network");
  const [labs, alice, bob, carol, dave, erin, frank] = await ethers.getSigners();
  if (!labs || !alice || !bob || !carol || !dave || !erin || !frank) throw new Error("need 7 signers");

  const pepe = await ethers.deployContract("TestPepecoin");
  const brain = await ethers.deployContract("BrainNFT", [await pepe.getAddress(), labs.address]);
  const plain = await ethers.deployContract("PlainERC721");
  const brainAddr = await brain.getAddress();
  for (const who of [alice, bob, carol, frank]) {
    await pepe.mint(who.address, PEPE(10_000_000));
    await pepe.connect(who).approve(brainAddr, ethers.MaxUint256);
  }
  // erin approves exactly what she pays, so her allowance is written down by each mint.
  await pepe.mint(erin.address, PEPE(10_000_000));

  // Floor: OpenZeppelin ERC721._safeMint to an EOA, first for a holder and then a later one. Alice
  // keeps a token throughout, so no transfer below empties her balance (no refund in either run).
  const floorFirst = await gasOf(plain.safeMint(alice.address, 1));
  const floorLater = await gasOf(plain.safeMint(alice.address, 2));
  await gasOf(plain.safeMint(alice.address, 3));
  await gasOf(plain.safeMint(alice.address, 4));
  const floorTransfer = await gasOf(plain.connect(alice).transferFrom(alice.address, dave.address, 1));
  const floorSafeTransfer = await gasOf(
    plain.connect(alice)["safeTransferFrom(address,address,uint256)"](alice.address, dave.address, 2),
  );
  const floorTransferLater = await gasOf(plain.connect(alice).transferFrom(alice.address, dave.address, 3));
  const first = { name: "floor, first for holder", gas: floorFirst };
  const later = { name: "floor, later for holder", gas: floorLater };

  const rows: Row[] = [
    { operation: "PlainERC721.safeMint to an EOA, first for a new holder (floor)", gas: floorFirst },
    { operation: "PlainERC721.safeMint to an EOA, later mint for the same holder (floor)", gas: floorLater },
  ];

  const burn = (who: typeof alice) => gasOf(brain.connect(who).mintByBurn(ethers.MaxUint256));
  rows.push({
    operation: "mintByBurn, first ever (new holder; 0x…dEaD had no PEPE)",
    gas: await burn(alice),
    floor: first,
  });
  rows.push({ operation: "mintByBurn, second (same holder)", gas: await burn(alice), floor: later });
  for (let i = 3; i < 10; i++) await burn(alice);
  rows.push({ operation: "mintByBurn, 10th (same holder)", gas: await burn(alice), floor: later });
  rows.push({
    operation: "mintByBurn, 11th, first mint by a new holder",
    gas: await burn(bob),
    floor: first,
  });
  await pepe.connect(erin).approve(brainAddr, await brain.burnPrice());
  rows.push({
    operation: "mintByBurn, 12th, new holder, exact allowance (written down)",
    gas: await burn(erin),
    floor: first,
  });

  const stakeId = await brain.connect(carol).mintByStake.staticCall();
  const stakeFirst = await gasOf(brain.connect(carol).mintByStake());
  rows.push({
    operation: "mintByStake, first (new holder; contract had no PEPE)",
    gas: stakeFirst,
    floor: first,
  });
  rows.push({
    operation: "mintByStake, later (same holder)",
    gas: await gasOf(brain.connect(carol).mintByStake()),
    floor: later,
  });

  await time.increase(90 * 24 * 60 * 60);
  if ((await brain.ownerOf(stakeId)) !== carol.address) throw new Error(`expected stake Brain #${stakeId}`);
  rows.push({
    operation: "deactivate (after 90 days; refunds 100,000 PEPE)",
    gas: await gasOf(brain.connect(carol).deactivate(stakeId)),
  });
  rows.push({
    operation: "mintByBurn reusing the freed id (new holder)",
    gas: await burn(frank),
    floor: first,
  });

  rows.push({
    operation: "burn Brain transferFrom (to a new holder)",
    gas: await gasOf(brain.connect(alice).transferFrom(alice.address, dave.address, 7)),
    floor: { name: "PlainERC721.transferFrom, new holder", gas: floorTransfer },
  });
  rows.push({
    operation: "burn Brain safeTransferFrom (to a holder who has one already)",
    gas: await gasOf(
      brain.connect(alice)["safeTransferFrom(address,address,uint256)"](alice.address, dave.address, 8),
    ),
    floor: { name: "PlainERC721.safeTransferFrom, same case", gas: floorSafeTransfer },
  });
  rows.push({
    operation: "linkBasedWallet (first link)",
    gas: await gasOf(brain.connect(alice).linkBasedWallet(9, erin.address)),
  });
  rows.push({
    operation: "burn Brain transferFrom that also clears a linked wallet (holder has one already)",
    gas: await gasOf(brain.connect(alice).transferFrom(alice.address, dave.address, 9)),
    floor: { name: "PlainERC721.transferFrom, same case", gas: floorTransferLater },
  });

  const fmt = (n: bigint) => n.toLocaleString("en-US");
  const lines = [
    "| Operation | gasUsed | Compared with | Difference |",
    "| --- | ---: | --- | ---: |",
    ...rows.map((r) =>
      r.floor === undefined
        ? `| ${r.operation} | ${fmt(r.gas)} | | |`
        : `| ${r.operation} | ${fmt(r.gas)} | ${r.floor.name} (${fmt(r.floor.gas)}) | ${r.gas >= r.floor.gas ? "+" : "−"}${fmt(r.gas >= r.floor.gas ? r.gas - r.floor.gas : r.floor.gas - r.gas)} |`,
    ),
  ];
  console.log(lines.join("\n"));

  const burnRows = rows.filter((r) => r.operation.startsWith("mintByBurn") && r.floor !== undefined);
  const worst = burnRows.reduce(
    (m, r) => (r.gas - (r.floor?.gas ?? 0n) > m ? r.gas - (r.floor?.gas ?? 0n) : m),
    0n,
  );
  console.log(`\nLargest mintByBurn − floor: ${fmt(worst)} gas (aim: ≤ 60,000).`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
