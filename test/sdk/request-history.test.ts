import { expect } from "chai";
import { ethers } from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import type { Address } from "viem";
import type { ComputeMarket } from "../../typechain-types";
import type { Deployments } from "../../sdk/deployments";
import { getRequestHistory } from "../../sdk/request-history";
import { deployEconomy } from "../contracts/based/economy-fixture";
import { inProcessContext } from "../helpers/in-process";

const BRAIN = 3;
const OTHER = 2;

describe("sdk/request-history: a Brain's RequestOpened events with their block times", function () {
  this.timeout(60_000);

  it("reads this Brain's requests only, oldest first, with their units and block timestamps, within the window and limit", async () => {
    const eco = await deployEconomy();
    const market = (await ethers.deployContract("ComputeMarket", [
      await eco.based.getAddress(),
      await eco.registry.getAddress(),
      await eco.network.getAddress(),
    ])) as unknown as ComputeMarket;
    const user = eco.signers[7]!;
    await eco.based.connect(user).approve(market, ethers.MaxUint256);
    await market.connect(user).deposit(10n ** 21n);
    const opened: { brain: number; units: [number, number]; block: number }[] = [];
    const open = async (brain: number, p: number, m: number) => {
      const deadline = BigInt((await ethers.provider.getBlock("latest"))!.timestamp) + 3_600n;
      const tx = await market
        .connect(user)
        .openRequest(user.address, brain, p, m, deadline, ethers.MaxUint256);
      const receipt = await tx.wait();
      opened.push({ brain, units: [p, m], block: receipt!.blockNumber });
      await mine(3, { interval: 7 });
    };
    await open(BRAIN, 16, 8);
    await open(OTHER, 32, 4);
    await open(BRAIN, 48, 16);
    await open(BRAIN, 16, 2);

    const deployments = {
      version: 1,
      network: "in-process",
      createdAt: new Date(0).toISOString(),
      ethereum: undefined as never,
      based: {
        chainId: 31337,
        rpcUrl: "http://in-process",
        startBlock: 0,
        contracts: { ComputeMarket: (await market.getAddress()) as Address },
      },
    } as unknown as Deployments;
    const ctx = inProcessContext({ signer: 0, name: "based", deployments });
    // Small chunks: the reader walks back through several log ranges.
    const all = await getRequestHistory(ctx, BRAIN, { chunkBlocks: 2n });
    const mine3 = opened.filter((o) => o.brain === BRAIN);
    expect(all.map((r) => [r.promptUnits, r.maxCompletionUnits])).to.deep.equal(mine3.map((o) => o.units));
    expect(all.map((r) => Number(r.blockNumber))).to.deep.equal(mine3.map((o) => o.block));
    for (const r of all) {
      expect(r.brainId).to.equal(BRAIN);
      expect(r.account).to.equal(user.address);
      const block = await ethers.provider.getBlock(Number(r.blockNumber));
      expect(r.timestamp).to.equal(block!.timestamp);
    }
    expect(all[1]!.timestamp - all[0]!.timestamp).to.be.greaterThan(0);
    // The latest two only; and a window that reaches back to the last request alone.
    const limited = await getRequestHistory(ctx, BRAIN, { limit: 2 });
    expect(limited.map((r) => r.maxCompletionUnits)).to.deep.equal([16, 2]);
    const head = await ethers.provider.getBlockNumber();
    const recent = await getRequestHistory(ctx, BRAIN, {
      windowBlocks: BigInt(head - mine3.at(-1)!.block + 1),
    });
    expect(recent.map((r) => r.maxCompletionUnits)).to.deep.equal([2]);
  });
});
