import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { type Address, createPublicClient, erc20Abi, getAddress, http, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { jsonRpc } from "../../scripts/devnet/network";
import { readDeployments } from "../../sdk/node/deployments-file";
import { DEVNET_ACCOUNTS, DEVNET_PEPE_PER_ACCOUNT, devnetPrivateKey } from "../../sdk/devnet";
import { brainNFTAbi } from "../../protocol/generated/abis";
import { type RunningDevnet, based, startDevnet, tempDir } from "../helpers/processes";

/**
 * The user's first commands, end to end: `npm run devnet` (scripts/devnet.ts) on a real Hardhat
 * node, then `based brain …` as separate processes, exactly as a person runs them.
 */
describe("devnet + based brain (CLI end to end)", function () {
  this.timeout(240_000);

  let devnet: RunningDevnet;
  let env: NodeJS.ProcessEnv;
  const dev = privateKeyToAccount(devnetPrivateKey(DEVNET_ACCOUNTS.dev));
  const labs = privateKeyToAccount(devnetPrivateKey(DEVNET_ACCOUNTS.labs));

  const rpc = (method: string, params: unknown[] = []) => jsonRpc(devnet.rpcUrl, method, params);

  before(async () => {
    devnet = await startDevnet();
    // A config file of our own keeps the user's ~/.config/based out of the test.
    const configFile = path.join(tempDir("based-config"), "config.json");
    fs.writeFileSync(configFile, JSON.stringify({ logLevel: "silent" }));
    env = { BASED_DEPLOYMENTS: devnet.deploymentsFile, BASED_CONFIG: configFile };
  });

  after(async () => {
    if (devnet) await devnet.stop();
  });

  it("devnet deploys the Ethereum side, funds the dev account and gives the labs the reserved Brains", async () => {
    const deployments = readDeployments(devnet.deploymentsFile);
    expect(deployments.ethereum.chainId).to.equal(31337);
    expect(deployments.ethereum.testPepecoin).to.equal(true);
    const client = createPublicClient({ transport: http(devnet.rpcUrl) });
    const balance = await client.readContract({
      address: deployments.ethereum.contracts.Pepecoin,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [dev.address],
    });
    expect(balance).to.equal(DEVNET_PEPE_PER_ACCOUNT);
    for (const id of [0, 6, 47]) {
      const owner = await client.readContract({
        address: deployments.ethereum.contracts.BrainNFT,
        abi: brainNFTAbi,
        functionName: "ownerOf",
        args: [BigInt(id)],
      });
      expect(owner).to.equal(labs.address);
    }
    expect(devnet.output()).to.include("BasedAI devnet is running.");
  });

  it("based --help explains the commands, configuration and exit codes", () => {
    const help = based(["--help"], env);
    expect(help.status).to.equal(0);
    expect(help.stdout).to.include("brain");
    expect(help.stdout).to.include("BASED_PRIVATE_KEY");
    expect(help.stdout).to.include("Exit codes");
    const mintHelp = based(["brain", "mint", "--help"], env);
    expect(mintHelp.stdout).to.include("--max-price");
  });

  it("mint --burn takes id 7 at 1,000 PEPE, then --max-price below the new price is refused with the price", () => {
    const first = based(["brain", "mint", "--burn", "--json"], env);
    expect(first.status, first.stderr).to.equal(0);
    const brain = first.json.brain as Record<string, unknown>;
    expect(brain.id).to.equal(7);
    expect(brain.class).to.equal("burn");
    expect(brain.paid).to.equal(parseEther("1000").toString());

    const refused = based(["brain", "mint", "--burn", "--max-price", "1000", "--json"], env);
    expect(refused.status).to.equal(3);
    const error = refused.json.error as Record<string, string>;
    expect(error.code).to.equal("BurnPriceAboveMax");
    expect(error.price).to.equal(parseEther("1200").toString());
    expect(error.hint).to.include("--max-price 1200");

    const second = based(["brain", "mint", "--burn", "--max-price", "1200"], env);
    expect(second.status, second.stderr).to.equal(0);
    expect(second.stdout).to.match(/Minted Brain #8 by burn for 1200 PEPE/);
  });

  it("mint --stake locks 100,000 PEPE; deactivate is refused while locked and works after 90 days", async () => {
    const staked = based(["brain", "mint", "--stake", "--json"], env);
    expect(staked.status, staked.stderr).to.equal(0);
    const brain = staked.json.brain as { id: number; class: string; unlockAt: number };
    expect(brain).to.include({ id: 9, class: "stake" });

    const locked = based(["brain", "deactivate", "9", "--json"], env);
    expect(locked.status).to.equal(3);
    expect((locked.json.error as Record<string, string>).code).to.equal("StakeLocked");
    expect((locked.json.error as Record<string, string>).unlockAt).to.equal(String(brain.unlockAt));

    const shown = based(["brain", "show", "9"], env);
    expect(shown.stdout).to.include("stake");
    expect(shown.stdout).to.include("locked");

    await rpc("evm_increaseTime", [90 * 24 * 3600]);
    await rpc("evm_mine");
    const done = based(["brain", "deactivate", "9", "--json"], env);
    expect(done.status, done.stdout + done.stderr).to.equal(0);
    expect((done.json.deactivated as Record<string, string>).refunded).to.equal(
      parseEther("100000").toString(),
    );

    const gone = based(["brain", "show", "9", "--json"], env);
    expect(gone.status).to.equal(3);
    expect((gone.json.error as Record<string, string>).code).to.equal("BrainNotFound");
  });

  it("show prints owner, class and wallet; link sets the BasedAI wallet and 0x0 resets it", () => {
    const wallet: Address = getAddress("0x00000000000000000000000000000000000000aa");
    const linked = based(["brain", "link", "7", wallet, "--json"], env);
    expect(linked.status, linked.stderr).to.equal(0);
    let shown = based(["brain", "show", "7", "--json"], env);
    expect((shown.json.brain as Record<string, string>).basedWallet).to.equal(wallet);
    expect((shown.json.brain as Record<string, string>).owner).to.equal(dev.address);

    based(["brain", "link", "7", "0x0000000000000000000000000000000000000000"], env);
    shown = based(["brain", "show", "7", "--json"], env);
    expect((shown.json.brain as Record<string, string>).basedWallet).to.equal(dev.address);
  });

  it("someone else's key cannot deactivate or link a Brain it does not own", () => {
    const stranger = { ...env, BASED_PRIVATE_KEY: devnetPrivateKey(2) };
    const link = based(["brain", "link", "7", dev.address, "--json"], stranger);
    expect(link.status).to.equal(3);
    expect((link.json.error as Record<string, string>).code).to.equal("NotBrainOwner");
    const deactivate = based(["brain", "deactivate", "0", "--json"], {
      ...env,
      BASED_PRIVATE_KEY: devnetPrivateKey(2),
    });
    expect((deactivate.json.error as Record<string, string>).code).to.equal("NotBrainOwner");
    const reserved = based(["brain", "deactivate", "0", "--json"], {
      ...env,
      BASED_PRIVATE_KEY: devnetPrivateKey(DEVNET_ACCOUNTS.labs),
    });
    expect(reserved.status).to.equal(3);
    expect((reserved.json.error as Record<string, string>).code).to.equal("NotStakeBrain");
  });

  it("an account without PEPE is told how much it needs and has", () => {
    const poor = { ...env, BASED_PRIVATE_KEY: devnetPrivateKey(9) };
    const burn = based(["brain", "mint", "--burn", "--json"], poor);
    expect(burn.status).to.equal(3);
    const error = burn.json.error as Record<string, string>;
    expect(error.code).to.equal("InsufficientPepe");
    expect(error.needed).to.equal(parseEther("1400").toString());
    expect(error.balance).to.equal("0");
    const human = based(["brain", "mint", "--stake"], poor);
    expect(human.status).to.equal(3);
    expect(human.stderr).to.include("needs 100000 PEPE");
    expect(human.stderr).to.include("faucet");
  });

  it("bad input is refused with exit code 2 and a message, before touching the chain", () => {
    const tooBig = based(["brain", "show", "1024", "--json"], env);
    expect(tooBig.status).to.equal(2);
    expect((tooBig.json.error as Record<string, string>).message).to.include("1023");
    expect(based(["brain", "show", "seven"], env).status).to.equal(2);
    expect(based(["brain", "mint"], env).stderr).to.include("--burn or --stake");
    expect(based(["brain", "mint", "--burn", "--stake"], env).status).to.equal(2);
    expect(based(["brain", "mint", "--burn", "--max-price", "12abc"], env).status).to.equal(2);
    expect(based(["brain", "mint", "--stake", "--max-price", "5"], env).status).to.equal(2);
    expect(based(["brain", "link", "7", "0x1234"], env).status).to.equal(2);
    const badKey = based(["brain", "mint", "--burn", "--json"], { ...env, BASED_PRIVATE_KEY: "0xnot-a-key" });
    expect(badKey.status).to.equal(2);
    expect((badKey.json.error as Record<string, string>).code).to.equal("InvalidConfig");
    expect(based(["brain", "frobnicate"], env).status).to.equal(2);
  });

  it("without a devnet the commands say how to start one (exit code 4)", () => {
    const missing = based(["brain", "show", "7", "--json"], {
      ...env,
      BASED_DEPLOYMENTS: "/nonexistent/deployments.json",
    });
    expect(missing.status).to.equal(4);
    expect((missing.json.error as Record<string, string>).hint).to.include("npm run devnet");

    const deployments = readDeployments(devnet.deploymentsFile);
    const stale = path.join(tempDir("based-stale"), "deployments.json");
    fs.writeFileSync(
      stale,
      JSON.stringify({ ...deployments, ethereum: { ...deployments.ethereum, rpcUrl: "http://127.0.0.1:9" } }),
    );
    const unreachable = based(["brain", "show", "7"], { ...env, BASED_DEPLOYMENTS: stale });
    expect(unreachable.status).to.equal(4);
    expect(unreachable.stderr).to.include("npm run devnet");
  });

  it("Ctrl-C stops the devnet and removes its deployments file", async () => {
    const code = await devnet.stop();
    expect(code).to.equal(0);
    expect(fs.existsSync(devnet.deploymentsFile)).to.equal(false);
  });
});
