import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { type Address, parseEventLogs } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { EscrowInfo } from "../../../compute/gateway/service";
import { computeMarketAbi } from "../../../protocol/generated/abis";
import {
  DELIVERY_TYPES,
  deliveryDomain,
  deliveryMessage,
  jobHash,
  outputsHash,
  sessionClaimTypedData,
  toBase64,
} from "../../../protocol/gateway";
import { Role } from "../../../protocol/report";
import type { Deployments } from "../../../sdk/deployments";
import { devnetPrivateKey } from "../../../sdk/devnet";
import { getRequest, openRequest as openMarketRequest, settleRequest } from "../../../sdk/market";
import { openModelDir } from "../../../sdk/node/model-cache";
import { preparePrompt } from "../../../sdk/prompt";
import { SHIPPED_MODEL } from "../../helpers/model-plan";
import type { ComputeMarket } from "../../../typechain-types";
import { BASED, deployEconomy } from "../../contracts/based/economy-fixture";
import { inProcessContext, refusal } from "../../helpers/in-process";
import {
  BRAIN,
  type TestGateway,
  deletePrefix,
  expectedOutputs,
  signerOf,
  startTestGateway,
  uniquePrefix,
} from "./helpers";

/**
 * The whole path of a paid prompt's settlement, on Hardhat's in-process chain: the gateway hashes
 * the job at submit, the miner (who sees no request) hashes the work item it got and signs the
 * Delivery, and ComputeMarket accepts that delivery for the session's request, once.
 */
describe("gateway → ComputeMarket: a paid session settles on chain with the job its miner signed", function () {
  this.timeout(60_000);
  const prefix = uniquePrefix("settle-chain");
  const FRANK = 6; // the devnet mnemonic's accounts are Hardhat's signers: frank mines Brain 3
  const USER = 7;
  const miner = privateKeyToAccount(devnetPrivateKey(FRANK));
  const payer = privateKeyToAccount(devnetPrivateKey(USER));
  let gw: TestGateway;
  let market: ComputeMarket;
  let marketAddress: Address;
  let chainId: number;
  let user: HardhatEthersSigner;
  let gatewayCtx: ReturnType<typeof inProcessContext>;

  before(async () => {
    const { based, registry, network, consensus, emission, staking, inbox, carol, frank, signers, register } =
      await deployEconomy();
    market = (await ethers.deployContract("ComputeMarket", [
      await based.getAddress(),
      await registry.getAddress(),
      await network.getAddress(),
    ])) as unknown as ComputeMarket;
    marketAddress = (await market.getAddress()) as Address;
    chainId = Number((await ethers.provider.getNetwork()).chainId);
    user = signers[USER]!;
    const gatewaySigner = signers[8]!;
    expect(frank.address).to.equal(miner.address);
    expect(user.address).to.equal(payer.address);
    await register(frank, BigInt(BRAIN), Role.Miner);
    await registry.connect(carol).setPricing(BRAIN, 10n ** 15n, 2n * 10n ** 15n, 4_096);
    await market.connect(carol).setGateway(BRAIN, gatewaySigner.address);
    await based.connect(user).approve(market, ethers.MaxUint256);
    await market.connect(user).deposit(BASED(100));

    const addr = async (c: { getAddress(): Promise<string> }) => (await c.getAddress()) as Address;
    const deployments = {
      version: 1,
      network: "in-process",
      createdAt: new Date(0).toISOString(),
      based: {
        chainId,
        rpcUrl: "http://in-process",
        startBlock: 0,
        contracts: {
          BasedToken: await addr(based),
          BrainRegistry: await addr(registry),
          Network: await addr(network),
          Staking: await addr(staking),
          Emission: await addr(emission),
          Consensus: await addr(consensus),
          MessageInbox: await addr(inbox),
          ComputeMarket: marketAddress,
        },
      },
    } as unknown as Deployments;
    gatewayCtx = inProcessContext({ signer: gatewaySigner.address as Address, name: "based", deployments });

    gw = await startTestGateway(prefix, {
      freeSessions: false,
      delivery: { chainId, computeMarket: marketAddress },
      escrowOf: async (id): Promise<EscrowInfo> => {
        const r = await getRequest(gatewayCtx, BigInt(id));
        const { brainId, account, promptUnits, maxCompletionUnits } = r;
        return { brainId, open: r.status === "open", account, promptUnits, maxCompletionUnits };
      },
      isApp: async () => false,
      settle: async (s) =>
        (
          await settleRequest(gatewayCtx, {
            requestId: BigInt(s.requestId),
            completionUnits: s.completionUnits,
            jobHash: s.jobHash,
            resultHash: s.resultHash,
            signature: s.signature,
          })
        ).txHash,
    });
    gw.members.miners.add(miner.address);
    await gw.client.pollWork(signerOf(miner), 0);
  });

  after(async () => {
    await gw?.close();
    await deletePrefix(prefix);
  });

  /** Opens a request of the user's account on Brain 3; its id. */
  const openRequest = async (): Promise<string> => {
    const deadline = BigInt(await time.latest()) + 3_600n;
    await market.connect(user).openRequest(user.address, BRAIN, 4, 20, deadline, ethers.MaxUint256);
    return String(await market.lastRequestId());
  };

  it("settles the request with the miner's Delivery over the job, and that delivery pays no other request", async () => {
    const requestId = await openRequest();
    const expiry = Math.floor(Date.now() / 1000) + 120;
    const claim = {
      expiry,
      signature: await payer.signTypedData(
        sessionClaimTypedData(chainId, marketAddress, { requestId, brainId: BRAIN, mode: "plain", expiry }),
      ),
    };
    const s = await gw.client.openSession({ brainId: BRAIN, mode: "plain", requestId, claim });
    const { jobId } = await gw.client.submitJob(s.sessionId, {
      kind: "generate",
      tokens: [7, 8],
      maxTokens: 3,
    });

    // The miner: what it got names no request; it signs the job it got and its result.
    const item = (await gw.client.pollWork(signerOf(miner), 5_000))!;
    expect(item.jobId).to.equal(jobId);
    expect(item).to.not.have.property("requestId");
    const job = await jobHash(item.jobId, item.job);
    const outputs = expectedOutputs(item);
    const outputHash = await outputsHash(outputs);
    const signature = await miner.signTypedData({
      domain: deliveryDomain(chainId, marketAddress),
      types: DELIVERY_TYPES,
      primaryType: "Delivery",
      message: deliveryMessage(BRAIN, job, outputHash),
    });
    await gw.client.postResult(signerOf(miner), jobId, {
      lockToken: item.lockToken,
      outputs: outputs.map(toBase64),
      outputHash,
      signature,
    });

    const closed = await gw.client.closeSession(s.sessionId);
    expect(closed.settlement, closed.settlement?.error ?? "").to.include({ requestId, error: null });
    const receipt = await gatewayCtx.publicClient.getTransactionReceipt({ hash: closed.settlement!.txHash! });
    const [settled] = parseEventLogs({ abi: computeMarketAbi, logs: receipt.logs, eventName: "Settled" });
    expect(settled!.args).to.deep.include({
      requestId: BigInt(requestId),
      miner: miner.address,
      completionUnits: 3,
      jobHash: job,
      resultHash: outputHash,
    });
    expect((await getRequest(gatewayCtx, BigInt(requestId))).status).to.equal("settled");

    // The same delivery offered for another request (a gateway paid twice for one job): refused.
    const other = await openRequest();
    const again = await refusal(
      settleRequest(gatewayCtx, {
        requestId: BigInt(other),
        completionUnits: 3,
        jobHash: job,
        resultHash: outputHash,
        signature,
      }),
      "DeliveryAlreadyUsed",
    );
    expect(again.message).to.contain("already settled a request");
    expect((await getRequest(gatewayCtx, BigInt(other))).status).to.equal("open");
  });

  it("what a chain observer sees: RequestOpened and Settled name the account, the Brain, bucketed prompt units and the exact completion units, nothing else", async () => {
    // docs/privacy.md, "A chain observer": these are every field the two events publish.
    const fields = (name: string) =>
      computeMarketAbi
        .filter((e) => e.type === "event" && e.name === name)
        .flatMap((e) => (e as { inputs: readonly { name: string }[] }).inputs.map((i) => i.name));
    expect(fields("RequestOpened")).to.deep.equal([
      "requestId",
      "account",
      "brainId",
      "promptUnits",
      "maxCompletionUnits",
      "escrow",
      "deadline",
    ]);
    expect(fields("Settled")).to.deep.equal([
      "requestId",
      "miner",
      "completionUnits",
      "cost",
      "ownerCut",
      "refund",
      "jobHash",
      "resultHash",
    ]);
    // An encrypted prompt's request shows its length rounded up to the plan's bucket, not the length.
    const prepared = preparePrompt(openModelDir(SHIPPED_MODEL, "encrypted"), "The jury said", 4, "encrypted");
    expect(prepared.promptIds.length).to.be.below(16);
    const userCtx = inProcessContext({ signer: USER, name: "based", deployments: gatewayCtx.deployments });
    const opened = await openMarketRequest(userCtx, {
      brainId: BRAIN,
      promptUnits: prepared.promptUnits,
      maxCompletionUnits: prepared.maxCompletionUnits,
      deadlineSeconds: 3_600,
      maxCost: 10n ** 24n,
    });
    const receipt = await gatewayCtx.publicClient.getTransactionReceipt({ hash: opened.txHash });
    const [log] = parseEventLogs({ abi: computeMarketAbi, logs: receipt.logs, eventName: "RequestOpened" });
    expect(log!.args).to.deep.include({
      account: user.address,
      brainId: BigInt(BRAIN),
      promptUnits: 16,
      maxCompletionUnits: 4,
    });
  });
});
