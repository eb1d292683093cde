/**
 * Gas from receipts, as the gas benches report it: `gasUsed` (the 21,000 intrinsic gas and the
 * calldata included, refunds subtracted), the calldata's share of it, and whether it sits at
 * EIP-7623's calldata floor; and the markdown table they print.
 */
import { ethers } from "hardhat";
import type { ContractTransactionResponse } from "ethers";

export interface Measured {
  gas: bigint;
  /** The calldata's share of `gas` (4 per zero byte, 16 per other byte). */
  calldata: bigint;
  /** gasUsed is EIP-7623's calldata floor (21,000 + 10 per token), not execution + calldata. */
  floor: boolean;
}

/** A table row; a row with negative gas is a section title. */
export interface Row extends Measured {
  operation: string;
}

/** The calldata's gas (4 per zero byte, 16 per other byte) and its EIP-7623 tokens. */
export function calldataCost(data: string): { gas: bigint; tokens: bigint } {
  let zero = 0n;
  let other = 0n;
  for (const b of ethers.getBytes(data)) {
    if (b === 0) zero++;
    else other++;
  }
  return { gas: 4n * zero + 16n * other, tokens: zero + 4n * other };
}

/** Waits for `tx` and measures it (a failed transaction throws). */
export async function measure(
  tx: Promise<ContractTransactionResponse>,
): Promise<Measured & { sent: ContractTransactionResponse }> {
  const sent = await tx;
  const receipt = await sent.wait();
  if (receipt === null || receipt.status !== 1) throw new Error("transaction failed");
  const { gas, tokens } = calldataCost(sent.data);
  return { gas: receipt.gasUsed, calldata: gas, floor: receipt.gasUsed === 21_000n + 10n * tokens, sent };
}

/** Prints `rows` as the benches' markdown table. */
export function printGasTable(rows: readonly Row[]): void {
  const fmt = (n: bigint) => n.toLocaleString("en-US");
  console.log("| operation | gasUsed | of which calldata |");
  console.log("| --- | ---: | ---: |");
  for (const r of rows) {
    if (r.gas < 0n) console.log(`| ${r.operation} | | |`);
    else
      console.log(
        `| ${r.operation} | ${fmt(r.gas)}${r.floor ? " (EIP-7623 floor)" : ""} | ${fmt(r.calldata)} |`,
      );
  }
}
