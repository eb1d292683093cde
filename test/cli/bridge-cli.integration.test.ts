import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { type Address, createPublicClient, erc20Abi, formatEther, http, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { readDeployments } from "../../sdk/node/deployments-file";
import { BRIDGE_DEFAULTS } from "../../ignition/modules/ethereum-contracts";
import { DEVNET_ACCOUNTS, devnetPrivateKey } from "../../sdk/devnet";
import { type RunningDevnet, based, startDevnet, tempDir } from "../helpers/processes";

type Json = Record<string, unknown>;

/**
 * `based bridge …` as a user runs it, against `npm run devnet` (scripts/devnet.ts, 1-second
 * BasedAI-chain blocks, four attesters and a relayer): lock BASED for wBASED, burn it back, follow
 * a message with `status`, and the refusals that must come before any transaction.
 */
describe("devnet + based bridge (CLI end to end)", function () {
  this.timeout(240_000);

  let devnet: RunningDevnet;
  let env: NodeJS.ProcessEnv;
  const dev = privateKeyToAccount(devnetPrivateKey(DEVNET_ACCOUNTS.dev));

  async function balances(who: Address) {
    const d = readDeployments(devnet.deploymentsFile);
    const read = (rpc: string, token: Address) =>
      createPublicClient({ transport: http(rpc) }).readContract({
        address: token,
        abi: erc20Abi,
        functionName: "balanceOf",
        args: [who],
      });
    const [basedBalance, wbased] = await Promise.all([
      read(devnet.basedRpcUrl, d.based!.contracts.BasedToken),
      read(devnet.rpcUrl, d.ethereum.contracts.WrappedBased),
    ]);
    return { based: basedBalance, wbased };
  }

  before(async () => {
    devnet = await startDevnet({ basedBlockTime: 1 });
    const configFile = path.join(tempDir("based-config"), "config.json");
    fs.writeFileSync(configFile, JSON.stringify({ logLevel: "silent" }));
    const attesters = [0, 1, 2, 3].map((i) => `http://127.0.0.1:${devnet.attesterPort + i}`).join(",");
    env = { BASED_DEPLOYMENTS: devnet.deploymentsFile, BASED_CONFIG: configFile, BASED_ATTESTERS: attesters };
  });

  after(async () => {
    if (devnet) await devnet.stop();
  });

  it("bridge --help names both directions, status and BASED_ATTESTERS", () => {
    const help = based(["bridge", "--help"], env);
    expect(help.status).to.equal(0);
    for (const word of ["to-ethereum", "to-based", "status", "BASED_ATTESTERS"])
      expect(help.stdout).to.include(word);
    const to = based(["bridge", "to-ethereum", "--help"], env);
    for (const word of ["--amount", "--recipient", "--no-wait", "--timeout"])
      expect(to.stdout).to.include(word);
  });

  it("to-ethereum locks BASED, waits for the relay and prints the mint transaction; status shows it executed", async () => {
    const before = await balances(dev.address);
    const sent = based(["bridge", "to-ethereum", "--amount", "250", "--json"], env);
    expect(sent.status, sent.stdout + sent.stderr).to.equal(0);
    const transfer = sent.json.transfer as Json;
    expect(transfer).to.include({
      direction: "to-ethereum",
      state: "executed",
      amount: parseEther("250").toString(),
      sender: dev.address,
      recipient: dev.address,
      sourceChainId: 32323,
      destinationChainId: 31337,
    });
    expect(transfer.messageId).to.match(/^0x[0-9a-f]{64}$/);
    expect(transfer.approvalHash).to.match(/^0x[0-9a-f]{64}$/); // the first lock approves BASED
    expect(transfer.destinationTransactionHash).to.match(/^0x[0-9a-f]{64}$/);
    expect((transfer.signatures as Json).threshold).to.equal(3);
    const after = await balances(dev.address);
    expect(after.wbased - before.wbased).to.equal(parseEther("250"));
    expect(before.based - after.based).to.equal(parseEther("250"));

    const status = based(["bridge", "status", String(transfer.messageId), "--json"], env);
    expect(status.status, status.stderr).to.equal(0);
    const s = status.json.status as Json;
    expect(s).to.include({ state: "executed", kind: "BRIDGE_TRANSFER" });
    expect(s.inboxes).to.deep.equal({ ethereum: "executed", based: "none" });
    expect((s.signatures as Json).valid).to.equal(4);
    expect((s.destination as Json).transactionHash).to.equal(transfer.destinationTransactionHash);
    expect((s.transfer as Json).amount).to.equal(parseEther("250").toString());

    const human = based(["bridge", "status", String(transfer.messageId)], env);
    expect(human.stdout).to.include("executed");
    expect(human.stdout).to.include("4 (3 needed)");
  });

  it("to-based burns wBASED and releases the BASED to a chosen recipient", async () => {
    const recipient = privateKeyToAccount(devnetPrivateKey(7)).address;
    const before = await balances(recipient);
    const res = based(["bridge", "to-based", "--amount", "100.5", "--recipient", recipient], env);
    expect(res.status, res.stdout + res.stderr).to.equal(0);
    expect(res.stdout).to.match(
      /Bridged 100\.5 wBASED → 100\.5 BASED for 0x[0-9a-fA-F]{40} on the BasedAI chain/,
    );
    expect(res.stdout).to.include("delivery tx");
    expect((await balances(recipient)).based - before.based).to.equal(parseEther("100.5"));
  });

  it("--no-wait returns after the lock with the message id, which status then follows to execution", async () => {
    const sent = based(["bridge", "to-ethereum", "--amount", "1", "--no-wait", "--json"], env);
    expect(sent.status, sent.stdout + sent.stderr).to.equal(0);
    const transfer = sent.json.transfer as Json;
    expect(transfer.state).to.equal("sent");
    // Each lock approves exactly its amount (no standing allowance is left behind).
    expect(transfer.approvalHash).to.match(/^0x[0-9a-f]{64}$/);
    const deadline = Date.now() + 30_000;
    let state = "";
    while (state !== "executed") {
      if (Date.now() > deadline)
        throw new Error(`message ${String(transfer.messageId)} still ${state} after 30 s`);
      const status = based(["bridge", "status", String(transfer.messageId), "--json"], env);
      expect(status.status, status.stderr).to.equal(0);
      state = String((status.json.status as Json).state);
      expect(["unknown", "pending", "signed", "executed"]).to.include(state);
    }
  });

  it("brain show adds the BasedAI chain mirror: registry state and whether the Brain earns rewards", () => {
    const shown = based(["brain", "show", "3", "--json"], env);
    expect(shown.status, shown.stderr).to.equal(0);
    const mirror = shown.json.mirror as Json;
    expect(mirror).to.include({
      available: true,
      mirrored: true,
      active: true,
      inSync: true,
      earnsRewards: true,
    });
    expect(mirror.class).to.equal("reserved");
    expect(mirror.owner).to.equal((shown.json.brain as Json).owner);
    const human = based(["brain", "show", "3"], env);
    expect(human.stdout).to.include("BasedAI chain mirror");
    expect(human.stdout).to.include("earns rewards  yes");
  });

  it("refuses transfers it cannot make, with the amounts, before sending anything (exit 3)", () => {
    const poor = { ...env, BASED_PRIVATE_KEY: devnetPrivateKey(9) };
    const noBased = based(["bridge", "to-ethereum", "--amount", "5", "--json"], poor);
    expect(noBased.status).to.equal(3);
    const e1 = noBased.json.error as Record<string, string>;
    expect(e1).to.include({ code: "InsufficientBased", needed: parseEther("5").toString(), balance: "0" });
    expect(e1.hint).to.match(/faucet/i);

    const noWrapped = based(["bridge", "to-based", "--amount", "1000"], env);
    expect(noWrapped.status).to.equal(3);
    expect(noWrapped.stderr).to.match(
      /Not enough wBASED: the transfer needs 1000 wBASED, 0x[0-9a-fA-F]{40} has [\d.]+ wBASED/,
    );

    const aboveMax = BRIDGE_DEFAULTS.maxTransfer + 10n ** 18n;
    const tooBig = based(["bridge", "to-ethereum", "--amount", formatEther(aboveMax), "--json"], env);
    expect(tooBig.status).to.equal(3);
    expect(tooBig.json.error).to.include({
      code: "TransferAboveMax",
      amount: aboveMax.toString(),
      maxTransfer: BRIDGE_DEFAULTS.maxTransfer.toString(),
    });
  });

  it("refuses bad input with exit code 2 before touching a chain", () => {
    for (const amount of ["12abc", "0", "1.0000000000000000001", ""]) {
      const res = based(["bridge", "to-ethereum", "--amount", amount, "--json"], env);
      expect(res.status, `--amount "${amount}"`).to.equal(2);
    }
    expect(based(["bridge", "to-ethereum"], env).status).to.equal(2); // --amount is required
    expect(based(["bridge", "to-based", "--amount", "1", "--recipient", "0x1234"], env).status).to.equal(2);
    expect(based(["bridge", "to-based", "--amount", "1", "--timeout", "soon"], env).status).to.equal(2);
    const badId = based(["bridge", "status", "0x1234", "--json"], env);
    expect(badId.status).to.equal(2);
    expect((badId.json.error as Json).message).to.include("message id");
    const badAttesters = based(["bridge", "status", `0x${"ab".repeat(32)}`, "--json"], {
      ...env,
      BASED_ATTESTERS: "not a url",
    });
    expect(badAttesters.status).to.equal(2);
  });

  it("status of an id nobody knows says so (state unknown)", () => {
    const res = based(["bridge", "status", `0x${"ab".repeat(32)}`, "--json"], env);
    expect(res.status, res.stderr).to.equal(0);
    const s = res.json.status as Json;
    expect(s.state).to.equal("unknown");
    expect(s.inboxes).to.deep.equal({ ethereum: "none", based: "none" });
  });
});
