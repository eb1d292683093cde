import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { GENERATED_ABIS_FILE, renderAbis } from "../../scripts/hardhat/abi-export";

describe("protocol/generated/abis.ts: contract types come from the build", () => {
  it("is exactly what the current build renders (compile regenerates it)", async () => {
    const committed = fs.readFileSync(path.join(hre.config.paths.root, GENERATED_ABIS_FILE), "utf8");
    expect(committed).to.equal(await renderAbis(hre));
  });
});
