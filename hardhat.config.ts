import { type HardhatUserConfig, subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import "@nomicfoundation/hardhat-toolbox";
import "./scripts/hardhat/abi-export";

// The compiler comes from the exact-pinned `solc` npm package: no network is needed to build
// (docs/architecture.md §7). Any other version would need a download, so refuse it loudly instead.
const SOLC_VERSION = "0.8.28";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }) => {
  if (args.solcVersion !== SOLC_VERSION) {
    throw new Error(
      `Only solc ${SOLC_VERSION} ships with this repository (npm package solc); got a request for ${args.solcVersion}.`,
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solcjs = require("solc") as { version(): string };
  const longVersion = solcjs.version().replace(/\.Emscripten.*$/, "");
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion,
  };
});

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      optimizer: { enabled: true, runs: 10_000 },
      evmVersion: "cancun",
    },
  },
  networks: {
    // `npm run devnet` starts a second node as the BasedAI chain with DEVNET_CHAIN=based.
    hardhat: { chainId: process.env.DEVNET_CHAIN === "based" ? 32323 : 31337 },
    // `npm run devnet` points this at the Ethereum node it started (another port in tests).
    localhost: { url: process.env.DEVNET_ETH_RPC ?? "http://127.0.0.1:8545", chainId: 31337 },
    basedLocal: { url: process.env.DEVNET_BASED_RPC ?? "http://127.0.0.1:9545", chainId: 32323 },
  },
  paths: {
    sources: "./contracts",
    tests: "./test",
    cache: "./cache",
    artifacts: "./artifacts",
  },
  mocha: {
    timeout: 120_000,
    // Workers when a lane runs with --parallel (the integration lane: its files wait on chains and
    // processes as much as they compute, so two at a time fill two cores).
    jobs: Number(process.env.MOCHA_JOBS ?? 2),
  },
  gasReporter: {
    enabled: process.env.REPORT_GAS === "true",
    offline: true,
    currency: "USD",
    reportFormat: "markdown",
    outputFile: process.env.GAS_REPORT_FILE,
    forceTerminalOutput: process.env.GAS_REPORT_FILE !== undefined,
    darkMode: false,
  },
  typechain: {
    outDir: "typechain-types",
    target: "ethers-v6",
  },
};

export default config;
