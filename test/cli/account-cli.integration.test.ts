import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import {
  type Address,
  type Hex,
  createPublicClient,
  erc20Abi,
  http,
  keccak256,
  parseEther,
  toHex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { buildProgram } from "../../cli/main";
import { DELIVERY_TYPES, deliveryDomain, deliveryMessage } from "../../protocol/gateway";
import { jsonRpc } from "../../scripts/devnet/network";
import { chainSettings, loadConfig } from "../../sdk/node/config";
import { type Deployments } from "../../sdk/deployments";
import { readDeployments } from "../../sdk/node/deployments-file";
import { DEVNET_ACCOUNTS, DEVNET_BASED, devnetPrivateKey } from "../../sdk/devnet";
import { brainRegistryAbi, computeMarketAbi } from "../../protocol/generated/abis";
import { getRequest, openRequest, quoteEscrow, quoteSettlement, settleRequest } from "../../sdk/market";
import { type RunningDevnet, basedAsync, startDevnet, tempDir } from "../helpers/processes";
import { connectBased } from "../../sdk/chain";

type Json = Record<string, unknown>;

const based = basedAsync;
const BRAIN = 3;
/** The prices the test gives Brain #3: 1 BASED per 1,000 prompt units, 2 per 1,000 completion units. */
const PRICING = { promptPricePer1k: parseEther("1"), completionPricePer1k: parseEther("2") };

describe("based account and brain config --gateway: commands and options", () => {
  it("--help names the account commands, their arguments and brain config's --gateway", () => {
    const program = buildProgram(() => {});
    const help = (...names: string[]) =>
      names.reduce((c, n) => c.commands.find((sub) => sub.name() === n)!, program).helpInformation();
    for (const word of ["show", "deposit", "withdraw", "authorize", "reclaim"])
      expect(help("account")).to.include(word);
    expect(help("account", "show")).to.include("--address");
    expect(help("account", "authorize")).to.include("<allowance>");
    expect(help("account", "reclaim")).to.include("<requestId>");
    expect(help("brain", "config")).to.include("--gateway");
  });
});

/**
 * The spending account as a user drives it with `based` against `npm run devnet` (1-second
 * BasedAI-chain blocks, no Brain services): the labs account prices Brain #3 and names its gateway,
 * the dev account deposits, withdraws and authorizes an app; a miner's signed delivery settles one
 * request (opened with the SDK) and another is reclaimed after its deadline.
 */
describe("devnet + based account (CLI end to end)", function () {
  this.timeout(240_000);

  let devnet: RunningDevnet;
  let deployments: Deployments;
  let env: NodeJS.ProcessEnv;
  const dev = privateKeyToAccount(devnetPrivateKey(DEVNET_ACCOUNTS.dev));
  const labsKey = devnetPrivateKey(DEVNET_ACCOUNTS.labs);
  const labs = privateKeyToAccount(labsKey);
  const minerKey = devnetPrivateKey(2);
  const miner = privateKeyToAccount(minerKey);
  const bystanderKey = devnetPrivateKey(3);
  const appKey = devnetPrivateKey(4);
  const app = privateKeyToAccount(appKey);
  const as = (key: Hex) => ({ ...env, BASED_PRIVATE_KEY: key });
  const sdk = (key: Hex) =>
    connectBased(
      chainSettings(loadConfig({ BASED_DEPLOYMENTS: devnet.deploymentsFile, BASED_PRIVATE_KEY: key })),
      {
        withAccount: true,
      },
    );

  async function rpc(method: string, params: unknown[] = []): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await jsonRpc(devnet.basedRpcUrl, method, params);
      } catch (err) {
        // The node may close an idle keep-alive socket under a request.
        if (attempt >= 3 || !(err instanceof TypeError)) throw err;
      }
    }
  }
  const client = () => createPublicClient({ transport: http(devnet.basedRpcUrl) });
  const market = () => deployments.based!.contracts.ComputeMarket;
  const free = (who: Address) =>
    client().readContract({
      address: market(),
      abi: computeMarketAbi,
      functionName: "balanceOf",
      args: [who],
    });
  const wallet = (who: Address) =>
    client().readContract({
      address: deployments.based!.contracts.BasedToken,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [who],
    });
  const error = (res: { json: Json }) => res.json.error as Record<string, string>;
  /** The request the authorized app opened on the dev's account (still open at the end). */
  let appRequest: { requestId: bigint; escrow: bigint };

  before(async () => {
    devnet = await startDevnet({ basedBlockTime: 1, epochReports: false });
    deployments = readDeployments(devnet.deploymentsFile);
    const configFile = path.join(tempDir("based-config"), "config.json");
    fs.writeFileSync(configFile, JSON.stringify({ logLevel: "silent" }));
    env = { BASED_DEPLOYMENTS: devnet.deploymentsFile, BASED_CONFIG: configFile };
    const deadline = Date.now() + 90_000;
    for (;;) {
      const active = await client().readContract({
        address: deployments.based!.contracts.BrainRegistry,
        abi: brainRegistryAbi,
        functionName: "isActive",
        args: [BigInt(BRAIN)],
      });
      if (active) break;
      if (Date.now() > deadline)
        throw new Error(`Brain #${BRAIN} not mirrored after 90 s:\n${devnet.output()}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  after(async () => {
    if (devnet) await devnet.stop();
  });

  it("brain config --gateway: only the Brain's wallet names it; it shows in the configuration", async () => {
    const [stranger, badAddress, set] = await Promise.all([
      based(["brain", "config", "3", "--gateway", dev.address, "--json"], env), // the dev key
      based(["brain", "config", "3", "--gateway", "0x1234", "--json"], as(labsKey)),
      based(
        [
          "brain",
          "config",
          "3",
          "--price",
          "1:2",
          "--context-limit",
          "4096",
          "--gateway",
          labs.address,
          "--json",
        ],
        as(labsKey),
      ),
    ]);
    expect(stranger.status).to.equal(3);
    expect(error(stranger).code).to.equal("NotBrainWallet");
    expect(error(stranger).message).to.include(`Only Brain #3's BasedAI wallet may name its gateway`);
    expect(badAddress.status).to.equal(2);

    expect(set.status, set.stdout + set.stderr).to.equal(0);
    expect((set.json.transactions as Json[]).map((t) => t.action)).to.deep.equal([
      "setPricing",
      "setGateway",
    ]);
    expect((set.json.config as Json).gateway).to.equal(labs.address);

    const shown = await based(["brain", "config", "3"], env);
    expect(shown.status, shown.stderr).to.equal(0);
    expect(shown.stdout).to.include(`gateway        ${labs.address}`);
  });

  it("deposit, show and withdraw move BASED between the wallet and the free balance; an over-withdrawal is refused (exit 3) and moves nothing", async () => {
    const walletBefore = await wallet(dev.address);
    const deposited = await based(["account", "deposit", "25", "--json"], env);
    expect(deposited.status, deposited.stdout + deposited.stderr).to.equal(0);
    expect(deposited.json.deposited).to.include({
      account: dev.address,
      amount: parseEther("25").toString(),
      balance: parseEther("25").toString(),
    });
    expect((deposited.json.deposited as Json).approvalHash).to.match(/^0x[0-9a-f]{64}$/);
    expect(walletBefore - (await wallet(dev.address))).to.equal(parseEther("25"));

    const [shown, human, other] = await Promise.all([
      based(["account", "show", "--json"], env),
      based(["account", "show"], env),
      based(["account", "show", "--address", miner.address, "--json"], env),
    ]);
    expect(shown.status, shown.stderr).to.equal(0);
    expect(shown.json.account).to.deep.include({
      account: dev.address,
      balance: parseEther("25").toString(),
      escrowed: "0",
      openRequests: [],
    });
    expect(human.stdout).to.include(`Spending account of ${dev.address}`);
    expect(human.stdout).to.include("free balance   25 BASED");
    expect(other.json.account).to.include({ account: miner.address, balance: "0" });

    const withdrawn = await based(["account", "withdraw", "10", "--json"], env);
    expect(withdrawn.status, withdrawn.stdout + withdrawn.stderr).to.equal(0);
    expect(withdrawn.json.withdrawn).to.include({
      amount: parseEther("10").toString(),
      balance: parseEther("15").toString(),
    });

    const [tooMuch, tooMuchHuman, zero, notANumber] = await Promise.all([
      based(["account", "withdraw", "100", "--json"], env),
      based(["account", "withdraw", "15.000000000000000001"], env),
      based(["account", "withdraw", "0", "--json"], env),
      based(["account", "deposit", "ten", "--json"], env),
    ]);
    expect(tooMuch.status).to.equal(3);
    expect(error(tooMuch)).to.include({
      code: "InsufficientBalance",
      balance: parseEther("15").toString(),
      needed: parseEther("100").toString(),
    });
    expect(error(tooMuch).message).to.include("has 15 BASED free, not enough to withdraw that much");
    expect(error(tooMuch).message).to.include("short by 85 BASED");
    expect(error(tooMuch).hint).to.include("based account show");
    expect(tooMuchHuman.status).to.equal(3);
    expect(tooMuchHuman.stderr).to.include("short by 0.000000000000000001 BASED");
    expect(zero.status).to.equal(2);
    expect(error(zero).code).to.equal("ZeroAmount");
    expect(notANumber.status).to.equal(2);
    expect(await free(dev.address)).to.equal(parseEther("15"));
  });

  it("authorize lets an app escrow on the account up to its allowance; unlimited and revoked allowances", async () => {
    const authorized = await based(["account", "authorize", app.address, "0.06", "--json"], env);
    expect(authorized.status, authorized.stdout + authorized.stderr).to.equal(0);
    expect(authorized.json.authorized).to.include({
      account: dev.address,
      app: app.address,
      allowance: parseEther("0.06").toString(),
      unlimited: false,
    });

    // The app opens a prompt on the dev's account with the SDK: 0.05 BASED at Brain #3's prices.
    const appCtx = await sdk(appKey);
    const escrow = quoteEscrow(PRICING, 10, 20);
    expect(escrow).to.equal(parseEther("0.05"));
    // A quote below the Brain's prices now (as after a price rise) is refused before anything is sent.
    try {
      await openRequest(appCtx, {
        brainId: BRAIN,
        promptUnits: 10,
        maxCompletionUnits: 20,
        deadlineSeconds: 600,
        maxCost: escrow - 1n,
        account: dev.address,
      });
      expect.fail("escrowed above maxCost");
    } catch (err) {
      expect(err).to.include({ code: "CostAboveMax", kind: "refused" });
      expect((err as { details?: Record<string, string> }).details).to.include({
        cost: escrow.toString(),
        maxCost: (escrow - 1n).toString(),
      });
    }
    const opened = await openRequest(appCtx, {
      brainId: BRAIN,
      promptUnits: 10,
      maxCompletionUnits: 20,
      deadlineSeconds: 600,
      maxCost: escrow,
      account: dev.address,
    });
    expect(opened).to.include({ account: dev.address, escrow });
    expect((await getRequest(appCtx, opened.requestId)).account).to.equal(dev.address);
    const allowance = () =>
      client().readContract({
        address: market(),
        abi: computeMarketAbi,
        functionName: "allowance",
        args: [dev.address, app.address],
      });
    expect(await allowance()).to.equal(parseEther("0.01"));
    // A second one would need 0.05 of the 0.01 left.
    try {
      await openRequest(appCtx, {
        brainId: BRAIN,
        promptUnits: 10,
        maxCompletionUnits: 20,
        deadlineSeconds: 600,
        maxCost: escrow,
        account: dev.address,
      });
      expect.fail("the app escrowed beyond its allowance");
    } catch (err) {
      expect(err).to.include({ code: "AllowanceExceeded", kind: "refused" });
    }

    const [unlimited, bad, self] = await Promise.all([
      based(["account", "authorize", app.address, "unlimited", "--json"], env),
      based(["account", "authorize", "not-an-address", "1", "--json"], env),
      based(["account", "authorize", dev.address, "1", "--json"], env),
    ]);
    expect(unlimited.status, unlimited.stdout + unlimited.stderr).to.equal(0);
    expect(unlimited.json.authorized).to.include({ unlimited: true });
    expect(bad.status).to.equal(2);
    expect(self.status).to.equal(2);
    expect(error(self).code).to.equal("SelfAuthorization");
    const revoked = await based(["account", "authorize", app.address, "0"], env);
    expect(revoked.status, revoked.stderr).to.equal(0);
    expect(revoked.stdout).to.include("none (revoked)");
    expect(await allowance()).to.equal(0n);
    appRequest = opened;
  });

  it("a miner's signed delivery, posted by the gateway, pays miner and owner for the units used and refunds the rest: they sum to the escrow", async () => {
    const registered = await based(
      ["register", "--brain", "3", "--role", "miner", "--endpoint", "127.0.0.1:9102", "--json"],
      as(minerKey),
    );
    expect(registered.status, registered.stdout + registered.stderr).to.equal(0);

    const user = await sdk(devnetPrivateKey(DEVNET_ACCOUNTS.dev));
    const opened = await openRequest(user, {
      brainId: BRAIN,
      promptUnits: 100,
      maxCompletionUnits: 300,
      deadlineSeconds: 600,
      maxCost: quoteEscrow(PRICING, 100, 300),
    });
    expect(opened.escrow).to.equal(parseEther("0.7")); // 100 × 1/1000 + 300 × 2/1000
    const resultHash = keccak256(toHex("four tokens"));
    const jobHash = keccak256(toHex("the job the miner was given"));
    const signature = await miner.signTypedData({
      domain: deliveryDomain(DEVNET_BASED.chainId, market()),
      types: DELIVERY_TYPES,
      primaryType: "Delivery",
      message: deliveryMessage(BRAIN, jobHash, resultHash),
    });
    const [freeBefore, minerBefore, ownerBefore] = await Promise.all([
      free(dev.address),
      wallet(miner.address),
      wallet(labs.address),
    ]);

    const gateway = await sdk(labsKey);
    const settled = await settleRequest(gateway, {
      requestId: opened.requestId,
      completionUnits: 4,
      jobHash,
      resultHash,
      signature,
    });
    const request = await getRequest(gateway, opened.requestId);
    expect(request).to.include({ status: "settled", completionUnits: 4, ownerBps: 2_500 });
    const expected = quoteSettlement(request, 4);
    expect(expected.cost).to.equal(parseEther("0.108")); // 100 × 1/1000 + 4 × 2/1000
    expect(settled).to.include({ miner: miner.address, completionUnits: 4, ...expected });
    expect(settled.minerPay + settled.ownerCut + settled.refund).to.equal(opened.escrow);
    expect((await wallet(miner.address)) - minerBefore).to.equal(settled.minerPay);
    expect((await wallet(labs.address)) - ownerBefore).to.equal(settled.ownerCut);
    expect((await free(dev.address)) - freeBefore).to.equal(settled.refund);

    try {
      await settleRequest(gateway, {
        requestId: opened.requestId,
        completionUnits: 4,
        jobHash,
        resultHash,
        signature,
      });
      expect.fail("settled twice");
    } catch (err) {
      expect(err).to.include({ code: "RequestNotOpen", kind: "refused" });
      expect((err as Error).message).to.include("already settled");
    }
  });

  it("reclaim is refused before the deadline; after it anyone returns the whole escrow to the account, once", async () => {
    const user = await sdk(devnetPrivateKey(DEVNET_ACCOUNTS.dev));
    const opened = await openRequest(user, {
      brainId: BRAIN,
      promptUnits: 10,
      maxCompletionUnits: 20,
      deadlineSeconds: 30,
      maxCost: quoteEscrow(PRICING, 10, 20),
    });
    const id = opened.requestId.toString();
    const early = await based(["account", "reclaim", id, "--json"], env);
    expect(early.status).to.equal(3);
    expect(error(early)).to.include({ code: "RequestNotExpired", deadline: String(opened.deadline) });
    expect(error(early).message).to.include(`Request ${id} is open until`);

    const shown = await based(["account", "show", "--json"], env);
    const account = shown.json.account as { escrowed: string; openRequests: Json[] };
    expect(account.openRequests.map((r) => r.requestId)).to.deep.equal([appRequest.requestId.toString(), id]);
    expect(account.openRequests[1]).to.include({
      brainId: BRAIN,
      escrow: opened.escrow.toString(),
      deadline: opened.deadline,
      reclaimable: false,
    });
    expect(account.escrowed).to.equal((appRequest.escrow + opened.escrow).toString());

    const freeBefore = await free(dev.address);
    await rpc("evm_increaseTime", [31]);
    await rpc("evm_mine");
    const [expired, bad] = await Promise.all([
      based(["account", "show"], env),
      based(["account", "reclaim", "0", "--json"], env),
    ]);
    expect(expired.stdout).to.include(`(expired: \`based account reclaim ${id}\`)`);
    expect(bad.status).to.equal(2);
    // Anyone may reclaim; the BASED goes to the request's account.
    const reclaimed = await based(["account", "reclaim", id, "--json"], as(bystanderKey));
    expect(reclaimed.status, reclaimed.stdout + reclaimed.stderr).to.equal(0);
    expect(reclaimed.json.reclaimed).to.include({
      requestId: id,
      account: dev.address,
      amount: opened.escrow.toString(),
    });
    expect((await free(dev.address)) - freeBefore).to.equal(opened.escrow);
    expect(await free(privateKeyToAccount(bystanderKey).address)).to.equal(0n);

    const [again, after] = await Promise.all([
      based(["account", "reclaim", id], env),
      based(["account", "show", "--json"], env),
    ]);
    expect(again.status).to.equal(3);
    expect(again.stderr).to.include(`Request ${id} is already reclaimed`);
    const left = (after.json.account as { openRequests: Json[] }).openRequests.map((r) => r.requestId);
    expect(left).to.deep.equal([appRequest.requestId.toString()]);
  });
});
