/**
 * `based gov` without a chain: --call is parsed against the deployments and the contract's ABI
 * (sdk/governance.ts parseGovernanceCall) with clear errors, every command's flags are checked
 * before anything connects (exit code 2), --help names the commands, and what `gov show` prints.
 * The SDK behind the commands runs against the contracts in test/sdk/governance.test.ts.
 */
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { type Address, decodeFunctionData, parseEther } from "viem";
import { basedCallState, parseProposalId, proposalLines } from "../../cli/commands/gov";
import { hintFor } from "../../cli/ui/hints";
import { governanceOutboxAbi } from "../../protocol/generated/abis";
import type { Deployments } from "../../sdk/deployments";
import { BasedError } from "../../sdk/errors";
import {
  type Proposal,
  basedCallSalt,
  decodeActions,
  explainGovernanceError,
  parseGovernanceCall,
  proposalActions,
} from "../../sdk/governance";
import { buildProgram } from "../../cli/main";
import { basedInProcess } from "../helpers/cli";
import { tempDir } from "../helpers/processes";

type Json = Record<string, unknown>;

const a = (n: number): Address => `0x${n.toString(16).padStart(40, "0")}` as Address;

/** A deployments file on devnet chain ids whose RPCs answer nothing (port 9 discards). */
const DEPLOYMENTS = {
  version: 1,
  network: "gov-cli-test",
  createdAt: new Date(0).toISOString(),
  ethereum: {
    chainId: 31337,
    rpcUrl: "http://127.0.0.1:9",
    startBlock: 0,
    testPepecoin: true,
    contracts: {
      Pepecoin: a(1),
      BrainNFT: a(2),
      WrappedBased: a(3),
      MessageInbox: a(4),
      GigaBrainSets: a(5),
      GigaBrainGovernor: a(6),
      PepecoinHouse: a(7),
      EthereumTimelock: a(8),
      GovernanceOutbox: a(9),
      EthereumGuardian: a(10),
    },
  },
  based: {
    chainId: 32323,
    rpcUrl: "http://127.0.0.1:9",
    startBlock: 0,
    contracts: {
      BasedToken: a(20),
      BasedBridge: a(21),
      BrainRegistry: a(22),
      MessageInbox: a(23),
      Network: a(24),
      Staking: a(25),
      Emission: a(26),
      Consensus: a(27),
      ComputeMarket: a(28),
      BasedTimelock: a(29),
      GovernanceCallReceiver: a(30),
      BasedGuardian: a(31),
    },
  },
} as const;
const deployments = DEPLOYMENTS as unknown as Deployments;

/** Runs `based <args> --json` in this process against a deployments file of DEPLOYMENTS. */
function based(args: string[]) {
  const file = path.join(tempDir("gov-cli"), "deployments.json");
  fs.writeFileSync(file, JSON.stringify(DEPLOYMENTS));
  return basedInProcess(args, { deploymentsFile: file });
}

function refused(fn: () => unknown): BasedError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(BasedError);
    return err as BasedError;
  }
  expect.fail("expected an error");
}

describe("based gov: --call parsing, flags and help", () => {
  it("parses <contract>.<function>(<args>) against the contract's ABI and the deployments", () => {
    const veto = parseGovernanceCall(deployments, "PepecoinHouse.setVetoQuorum(2000000e18)");
    expect(veto).to.deep.include({
      chain: "ethereum",
      contract: "PepecoinHouse",
      target: a(7),
      function: "setVetoQuorum(uint256)",
      args: [parseEther("2000000")],
      value: 0n,
    });
    // Whole numbers as decimal, hex or exact scientific; a deployments name as an address.
    expect(parseGovernanceCall(deployments, "PepecoinHouse.setVetoQuorum(0x10)").args).to.deep.equal([16n]);
    expect(parseGovernanceCall(deployments, "PepecoinHouse.setVetoQuorum(1.5e3)").args).to.deep.equal([
      1500n,
    ]);
    const owner = parseGovernanceCall(deployments, "BasedGuardian.addOwner(Staking)");
    expect(owner).to.deep.include({ chain: "based", target: a(31), args: [a(25)] });
    // The chain from a prefix or --chain; a name on both chains must say which.
    expect(parseGovernanceCall(deployments, "ethereum:EthereumGuardian.changeThreshold(2)").chain).to.equal(
      "ethereum",
    );
    const ambiguous = refused(() =>
      parseGovernanceCall(deployments, "MessageInbox.setHandler(1, Staking, 5)"),
    );
    expect(ambiguous.hint).to.include("Say which chain (based or ethereum)");
    const inbox = parseGovernanceCall(deployments, "MessageInbox.setHandler(3, Staking, 1000000)", "based");
    expect(inbox).to.deep.include({
      chain: "based",
      target: a(23),
      function: "setHandler(uint8,address,uint32)",
    });
    // Lists, quoted strings holding commas, and bytes.
    const lists = parseGovernanceCall(
      deployments,
      'GigaBrainGovernor.propose([PepecoinHouse, 0x00000000000000000000000000000000000000aa], [0, 1e3], [0x, 0xabcd], "a, b")',
    );
    expect(lists.args).to.deep.equal([[a(7), a(0xaa)], [0n, 1000n], ["0x", "0xabcd"], "a, b"]);
    expect(
      refused(() =>
        parseGovernanceCall(deployments, "GigaBrainGovernor.propose(PepecoinHouse, [0], [0x], x)"),
      ).message,
    ).to.include("must be a list such as [a, b]");
    const submit = parseGovernanceCall(deployments, "BasedGuardian.submit(Staking, 0, 0x1234)");
    expect(submit.args).to.deep.equal([a(25), 0n, "0x1234"]);
  });

  it("says what is wrong with a call", () => {
    const cases: [string, string][] = [
      ["PepecoinHouse.setVetoQuorum", "expected <contract>.<function>(<args>)"],
      ["Nowhere.setVetoQuorum(1)", "the deployments name no Nowhere"],
      ["PepecoinHouse.fly(1)", "no state-changing function fly"],
      ["PepecoinHouse.vetoQuorum()", "no state-changing function vetoQuorum"],
      ["PepecoinHouse.setVetoQuorum()", "takes 1 argument(s): setVetoQuorum(uint256); got 0"],
      ["PepecoinHouse.setVetoQuorum(1, 2)", "got 2"],
      ["PepecoinHouse.setVetoQuorum(-1)", "out of range"],
      ["PepecoinHouse.setVetoQuorum(1.5)", "must be a whole number"],
      ["PepecoinHouse.setVetoQuorum(1.55e1)", "must be a whole number"],
      ["BasedGuardian.addOwner(0x1234)", "must be a 0x address or a contract name"],
      ["MessageInbox.setHandler(256, Staking, 1)", "out of range"],
      ["BasedGuardian.submit(Staking, 0, 0x123)", "0x-prefixed hex bytes"],
      ['BasedGuardian.submit(Staking, 0, "0x12)', "quote is not closed"],
    ];
    for (const [raw, why] of cases) {
      const err = refused(() =>
        parseGovernanceCall(deployments, raw, raw.startsWith("MessageInbox") ? "based" : undefined),
      );
      expect(err.code, raw).to.equal("InvalidCall");
      expect(err.kind).to.equal("input");
      expect(err.message, raw).to.include(why);
    }
    // An unknown function lists the contract's functions.
    expect(refused(() => parseGovernanceCall(deployments, "PepecoinHouse.fly(1)")).hint).to.include(
      "setVetoQuorum(uint256)",
    );
  });

  it("wraps a BasedAI-chain call into GovernanceOutbox.send with a per-proposal salt, and decodes it back", () => {
    const calls = [
      parseGovernanceCall(deployments, "PepecoinHouse.setVetoQuorum(7)"),
      parseGovernanceCall(deployments, "BasedGuardian.changeThreshold(2)"),
    ];
    const description = "t\n\n#proposer=0x0000000000000000000000000000000000000001";
    const actions = proposalActions({ GovernanceOutbox: a(9) }, calls, description);
    expect(actions[0]).to.deep.equal({ target: a(7), value: 0n, data: calls[0]!.data });
    expect(actions[1]!.target).to.equal(a(9));
    const sent = decodeFunctionData({ abi: governanceOutboxAbi, data: actions[1]!.data });
    expect(sent.functionName).to.equal("send");
    expect(sent.args).to.deep.equal([a(31), 0n, calls[1]!.data, basedCallSalt(description, 1)]);
    const decoded = decodeActions(deployments, actions);
    expect(decoded.map((d) => [d.chain, d.contract, d.function])).to.deep.equal([
      ["ethereum", "PepecoinHouse", "setVetoQuorum(uint256)"],
      ["based", "BasedGuardian", "changeThreshold(uint256)"],
    ]);
  });

  it("--help names every command and its flags", () => {
    const program = buildProgram(() => {});
    const gov = program.commands.find((c) => c.name() === "gov")!;
    const help = (name: string) => gov.commands.find((c) => c.name() === name)!.helpInformation();
    for (const word of [
      "propose",
      "cancel",
      "gigabrains",
      "list",
      "show",
      "vote",
      "lock",
      "unlock",
      "queue",
      "execute",
      "based-call",
      "execute-based",
    ])
      expect(gov.helpInformation()).to.include(word);
    for (const word of ["--title", "--call", "--chain", "--brain"]) expect(help("propose")).to.include(word);
    expect(help("vote")).to.include("--brain");
    expect(help("lock")).to.include("--amount");
    expect(program.helpInformation()).to.include("gov");
  });

  it("bad flags are refused before anything connects (exit code 2); good ones reach the RPC (exit code 4)", async () => {
    const ID = "123456789";
    const bad: [string[], string][] = [
      [["gov", "propose", "--title", "x", "--call", "Nowhere.f()"], "InvalidCall"],
      [["gov", "propose", "--title", "x"], "NoCalls"],
      [["gov", "propose", "--title", "  ", "--call", "PepecoinHouse.setVetoQuorum(1)"], "InvalidArgument"],
      [
        ["gov", "propose", "--title", "x", "--call", "PepecoinHouse.setVetoQuorum(1)", "--chain", "moon"],
        "InvalidArgument",
      ],
      [
        ["gov", "propose", "--title", "x", "--call", "PepecoinHouse.setVetoQuorum(1)", "--brain", "1024"],
        "InvalidArgument",
      ],
      [["gov", "vote", "abc", "for", "--brain", "1"], "InvalidArgument"],
      [["gov", "vote", ID, "yes", "--brain", "1"], "InvalidArgument"],
      [["gov", "vote", ID, "for", "--brain", "x"], "InvalidArgument"],
      [["gov", "lock", ID, "abstain", "--amount", "5"], "InvalidArgument"],
      [["gov", "lock", ID, "for", "--amount", "five"], "InvalidArgument"],
      [["gov", "lock", ID, "for", "--amount", "0"], "ZeroAmount"],
      [["gov", "show", "-1"], "InvalidArgument"],
      [["gov", "queue", `0x${"f".repeat(65)}`], "InvalidArgument"],
      [["gov", "based-call", "0x1234"], "InvalidArgument"],
      [["gov", "execute-based", "nope"], "InvalidArgument"],
    ];
    for (const [args, code] of bad) {
      const res = await based(args);
      expect(res.status, args.join(" ")).to.equal(2);
      expect((res.json.error as Json).code, args.join(" ")).to.equal(code);
    }
    const call = await based([
      "gov",
      "propose",
      "--title",
      "x",
      "--call",
      "PepecoinHouse.setVetoQuorum(1e18)",
    ]);
    expect(call.status).to.equal(4);
    expect((call.json.error as Json).code).to.equal("RpcUnreachable");
    const invalid = await based(["gov", "propose", "--title", "x", "--call", "Nowhere.f()"]);
    expect((invalid.json.error as Json).hint).to.include("--call");
  });

  it("proposal ids, hints and what gov show prints", () => {
    expect(parseProposalId("42")).to.equal(42n);
    expect(parseProposalId("0x2a")).to.equal(42n);
    expect(() => parseProposalId("1".repeat(79))).to.throw(BasedError);

    const vote = explainGovernanceError({ name: "NotBrainOwner", args: [3n, a(1), a(2)] });
    expect(hintFor(vote)).to.include(`Sign with the key of ${a(2)}`);
    expect(hintFor(explainGovernanceError({ name: "BrainAlreadyVoted", args: [5n, 3n] }))).to.include(
      "based gov show 5",
    );
    expect(hintFor(explainGovernanceError({ name: "OptimisticPeriodOver", args: [0n] }))).to.include(
      "--brain",
    );

    const p: Proposal = {
      proposalId: 42n,
      title: "Raise the veto",
      proposer: a(1),
      state: "queued",
      voteStart: 1_000,
      voteEnd: 2_000,
      description: "Raise the veto",
      descriptionHash: `0x${"00".repeat(32)}`,
      regime: "gigabrain",
      now: 3_000,
      gigaBrains: { for: 2, against: 1, abstain: 0, electorate: 6, quorum: 2, quorumReached: true },
      pepe: {
        for: 0n,
        against: parseEther("10"),
        vetoQuorum: parseEther("1000000"),
        vetoed: false,
        locked: null,
      },
      eta: 4_000,
      expiresAt: 5_000,
      actions: decodeActions(
        deployments,
        proposalActions(
          { GovernanceOutbox: a(9) },
          [parseGovernanceCall(deployments, "BasedGuardian.changeThreshold(2)")],
          "Raise the veto",
        ),
      ),
      transactionHash: `0x${"11".repeat(32)}`,
    };
    const text = proposalLines(p).join("\n");
    for (const part of [
      "Proposal 42: queued",
      "for 2, against 1, abstain 0 of 6 in the snapshot set",
      "2 of 6 GigaBrains voting (reached)",
      "against 10 PEPE; veto quorum 1000000 PEPE",
      "eta",
      "[BasedAI] BasedGuardian.changeThreshold(uint256) with (2)",
      "BasedAI timelock operation 0x",
    ])
      expect(text).to.include(part);
    expect(basedCallState("waiting", 0)).to.include("1970-01-01");
  });
});
