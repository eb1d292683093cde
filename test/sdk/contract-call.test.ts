import { expect } from "chai";
import { type Address, erc20Abi, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import artifact from "../../artifacts/contracts/test/TestPepecoin.sol/TestPepecoin.json";
import { brainNFTAbi, testPepecoinAbi } from "../../protocol/generated/abis";
import type { ChainContext } from "../../sdk/chain";
import { ensureAllowance, sendContractCall } from "../../sdk/contract-call";
import { devnetPrivateKey } from "../../sdk/devnet";
import { BasedError } from "../../sdk/errors";
import { inProcessContext, refusal } from "../helpers/in-process";

/** A context on the in-process chain, signing with devnet account `index`. */
const inProcess = (index: number) => inProcessContext({ signer: index });

describe("sdk/contract-call: one typed way to send, one approval step", function () {
  const alice = inProcess(1);
  const spender = privateKeyToAccount(devnetPrivateKey(2)).address;
  let pepe: Address;

  before(async () => {
    const hash = await alice.walletClient!.deployContract({
      abi: testPepecoinAbi,
      bytecode: artifact.bytecode as `0x${string}`,
      args: [],
    });
    const receipt = await alice.publicClient.waitForTransactionReceipt({ hash });
    pepe = receipt.contractAddress!;
  });

  const balanceOf = (who: Address) =>
    alice.publicClient.readContract({ address: pepe, abi: erc20Abi, functionName: "balanceOf", args: [who] });

  it("sends a call checked against the ABI and waits for its receipt", async () => {
    const me = alice.walletClient!.account.address;
    const receipt = await sendContractCall(
      alice,
      { address: pepe, abi: testPepecoinAbi, functionName: "mint", args: [me, parseEther("10")] },
      { label: "a mint" },
    );
    expect(receipt.status).to.equal("success");
    expect(await balanceOf(me)).to.equal(parseEther("10"));
  });

  it("a refusal is decoded before any gas is spent: verbatim by default, or as the caller explains it", async () => {
    const me = alice.walletClient!.account.address;
    const before = await alice.publicClient.getTransactionCount({ address: me });
    const call = {
      address: pepe,
      abi: testPepecoinAbi,
      functionName: "transfer",
      args: [spender, parseEther("1000")],
    } as const;
    const verbatim = await refusal(
      sendContractCall(alice, call, { label: "a transfer", contract: "TestPepecoin" }),
    );
    expect(verbatim).to.include({ kind: "refused", code: "ERC20InsufficientBalance" });
    expect(verbatim.message).to.match(/^TestPepecoin refused the call: ERC20InsufficientBalance\(/);
    const explained = await refusal(
      sendContractCall(alice, call, {
        label: "a transfer",
        explain: (r) => new BasedError("refused", "TooPoor", `short: ${String(r.args[2])} needed`),
      }),
    );
    expect(explained).to.include({ code: "TooPoor", message: `short: ${parseEther("1000")} needed` });
    expect(await alice.publicClient.getTransactionCount({ address: me })).to.equal(before);
  });

  it("ensureAllowance approves exactly the amount once, then sends nothing; a short balance is the caller's refusal", async () => {
    const me = alice.walletClient!.account.address;
    const request = {
      token: pepe,
      spender: { address: spender, name: "the spender" },
      amount: parseEther("4"),
      insufficient: (balance: bigint) =>
        new BasedError("refused", "InsufficientPepe", `has ${balance}`, undefined, {
          balance: String(balance),
        }),
      describe: (n: bigint) => `${n} wei of PEPE`,
    };
    const steps: string[] = [];
    const hash = await ensureAllowance(alice, { ...request, onStep: (s) => steps.push(s) });
    expect(hash).to.match(/^0x[0-9a-f]{64}$/);
    expect(steps).to.deep.equal(["approve"]);
    const allowance = () =>
      alice.publicClient.readContract({
        address: pepe,
        abi: erc20Abi,
        functionName: "allowance",
        args: [me, spender],
      });
    expect(await allowance()).to.equal(parseEther("4"));
    expect(await ensureAllowance(alice, request)).to.equal(undefined);
    const short = await refusal(ensureAllowance(alice, { ...request, amount: parseEther("11") }));
    expect(short).to.include({ code: "InsufficientPepe", message: `has ${parseEther("10")}` });
  });

  it("a wrong function name or wrong arguments do not compile", () => {
    // Never called: the type checker (npm run typecheck) is the test.
    const _typeChecks = (ctx: ChainContext, token: Address) => [
      sendContractCall(
        ctx,
        {
          address: token,
          abi: brainNFTAbi,
          // @ts-expect-error BrainNFT has no function `mintByBurnn`.
          functionName: "mintByBurnn",
          args: [1n],
        },
        { label: "" },
      ),
      sendContractCall(
        ctx,
        {
          address: token,
          abi: brainNFTAbi,
          functionName: "mintByBurn",
          // @ts-expect-error mintByBurn takes a uint256, not a string.
          args: ["1"],
        },
        { label: "" },
      ),
      sendContractCall(
        ctx,
        {
          address: token,
          abi: brainNFTAbi,
          // @ts-expect-error a view function is not a transaction.
          functionName: "burnPrice",
          args: [],
        },
        { label: "" },
      ),
    ];
    expect(_typeChecks).to.be.a("function");
  });
});
