import fs from "node:fs";
import path from "node:path";
import { task } from "hardhat/config";
import { TASK_COMPILE } from "hardhat/builtin-tasks/task-names";
import type { HardhatRuntimeEnvironment } from "hardhat/types";

/** Source folders whose contracts off-chain code (viem) talks to. */
const EXPORTED_SOURCE_DIRS = [
  "contracts/ethereum/",
  "contracts/based/",
  "contracts/messaging/",
  "contracts/governance/",
];
/**
 * Contracts outside those folders that off-chain code calls: the devnet's Pepecoin stand-in (the
 * other contracts/test mocks serve the tests only) and OpenZeppelin's TimelockController, which
 * governance deploys as is on both chains.
 */
const EXPORTED_OTHER_CONTRACTS = [
  "contracts/test/TestPepecoin.sol:TestPepecoin",
  "@openzeppelin/contracts/governance/TimelockController.sol:TimelockController",
];
export const GENERATED_ABIS_FILE = "protocol/generated/abis.ts";

function exportName(contractName: string): string {
  return contractName.charAt(0).toLowerCase() + contractName.slice(1) + "Abi";
}

/** Renders every exported contract's ABI as `as const` TypeScript so viem infers argument and
 *  return types from the build itself (no hand-written ABIs). */
export async function renderAbis(hre: HardhatRuntimeEnvironment): Promise<string> {
  const names = await hre.artifacts.getAllFullyQualifiedNames();
  const picked = names
    .filter(
      (fq) => EXPORTED_SOURCE_DIRS.some((dir) => fq.startsWith(dir)) || EXPORTED_OTHER_CONTRACTS.includes(fq),
    )
    .sort((a, b) => a.localeCompare(b));
  const parts = [
    "// Generated from the Hardhat build by scripts/hardhat/abi-export.ts on every compile. Do not edit.",
    "",
  ];
  for (const fq of picked) {
    const artifact = await hre.artifacts.readArtifact(fq);
    if (artifact.abi.length === 0) continue;
    parts.push(`/** ABI of \`${fq}\`. */`);
    parts.push(
      `export const ${exportName(artifact.contractName)} = ${JSON.stringify(artifact.abi, null, 2)} as const;`,
    );
    parts.push("");
  }
  return parts.join("\n");
}

task(TASK_COMPILE, async (args, hre, runSuper) => {
  const result = await runSuper(args);
  const rendered = await renderAbis(hre);
  const file = path.join(hre.config.paths.root, GENERATED_ABIS_FILE);
  const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  if (current !== rendered) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, rendered);
  }
  return result;
});
