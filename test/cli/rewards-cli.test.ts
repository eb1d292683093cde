/**
 * `based rewards challenge` and `based rewards settle` without a chain: their flags are checked
 * before anything connects (exit code 2), and what `rewards list` and `rewards show` say of a
 * challenged report. The end-to-end path runs against the devnet (economy-cli integration test).
 */
import { expect } from "chai";
import { type Hex, parseEther } from "viem";
import { reportBond, reportState, rewardRowState } from "../../cli/commands/rewards";
import { hintFor } from "../../cli/ui/hints";
import { type EpochReport, type RewardRow, explainConsensusError } from "../../sdk/rewards";
import { buildProgram } from "../../cli/main";
import { basedInProcess } from "../helpers/cli";

type Json = Record<string, unknown>;

const based = (args: string[]) => basedInProcess(args);

const ROOT = `0x${"ab".repeat(32)}`;

const report = (over: Partial<EpochReport>): EpochReport => ({
  epoch: 4,
  status: "pending",
  final: false,
  amount: parseEther("200"),
  claimed: 0n,
  rewardsRoot: `0x${"11".repeat(32)}`,
  pruningRoot: `0x${"22".repeat(32)}`,
  inputsHash: `0x${"33".repeat(32)}`,
  revision: 0,
  finalizesAt: 130,
  lapsesAt: null,
  challenger: null,
  challengedRoot: null,
  bond: 0n,
  challengeBond: parseEther("20"),
  startBlock: 80,
  endBlock: 100,
  currentBlock: 120,
  currentEpoch: 6,
  nextEpoch: 5,
  ...over,
});

const row = (over: Partial<RewardRow>): RewardRow => ({
  epoch: 4,
  status: "challenged",
  final: false,
  amount: null,
  claimed: false,
  rewardsRoot: `0x${"11".repeat(32)}`,
  finalizesAt: 190,
  lapsesAt: 190,
  ...over,
});

describe("based rewards challenge / settle: flags, help and what a challenged report reads as", () => {
  it("--help names the new commands and their flags", () => {
    const program = buildProgram(() => {});
    const rewards = program.commands.find((c) => c.name() === "rewards")!;
    const help = (name: string) => rewards.commands.find((c) => c.name() === name)!.helpInformation();
    for (const word of ["challenge", "settle", "claim", "list", "show"])
      expect(rewards.helpInformation()).to.include(word);
    for (const word of ["--epoch", "--root"]) expect(help("challenge")).to.include(word);
    expect(help("settle")).to.include("--epoch");
  });

  it("a malformed --root or --epoch is refused before anything connects (exit code 2)", async () => {
    for (const bad of ["0x1234", ROOT.slice(0, -1), `${ROOT}00`, "ab".repeat(32), "0xzz" + "0".repeat(62)]) {
      const res = await based(["rewards", "challenge", "--epoch", "3", "--root", bad]);
      expect(res.status, bad).to.equal(2);
      expect((res.json.error as Json).message, bad).to.include("--root");
    }
    for (const args of [
      ["rewards", "challenge", "--epoch", "-1", "--root", ROOT],
      ["rewards", "challenge", "--epoch", "1.5", "--root", ROOT],
      ["rewards", "settle", "--epoch", "x"],
    ]) {
      const res = await based(args);
      expect(res.status, args.join(" ")).to.equal(2);
      expect((res.json.error as Json).message).to.include("--epoch");
    }
  });

  it("a missing --root is commander's usage error", async () => {
    const program = buildProgram(() => {});
    const rewards = program.commands.find((c) => c.name() === "rewards")!;
    for (const c of [program, rewards, ...rewards.commands])
      c.configureOutput({ writeErr: () => {}, writeOut: () => {} });
    let thrown: unknown;
    try {
      await program.parseAsync(["node", "based", "rewards", "challenge", "--epoch", "3"]);
    } catch (err) {
      thrown = err;
    }
    expect(String((thrown as Error | undefined)?.message)).to.include("--root");
  });

  it("rewards list marks every challenged epoch, whatever the account earned", () => {
    for (const amount of [null, 0n, parseEther("3")])
      expect(rewardRowState(row({ amount }))).to.equal(
        "challenged (final from block 190 without a revision)",
      );
    expect(rewardRowState(row({ amount: 0n, final: true }))).to.equal(
      "challenge lapsed at block 190: final as reported",
    );
    expect(rewardRowState(row({ amount: 5n, final: true }))).to.match(/^claimable \(challenge lapsed/);
    expect(rewardRowState(row({ amount: 5n, final: true, claimed: true }))).to.equal("claimed");
    // Unchanged for the other states.
    const pending = { status: "pending", finalizesAt: 130, lapsesAt: null } as const;
    expect(rewardRowState(row({ ...pending, amount: 5n }))).to.equal("pending");
    expect(rewardRowState(row({ ...pending, amount: 5n, final: true }))).to.equal("claimable");
    expect(rewardRowState(row({ ...pending, amount: 0n }))).to.equal("");
  });

  it("rewards show says whether the report is waiting for a revision or final as reported, and the bond", () => {
    const challenger = "0x00000000000000000000000000000000000000aa" as const;
    const challenged = report({
      status: "challenged",
      finalizesAt: 190,
      lapsesAt: 190,
      challenger,
      challengedRoot: ROOT as Hex,
      bond: parseEther("20"),
    });
    expect(reportState(challenged)).to.equal(
      "challenged: waiting for the attesters' revision, final as reported from block 190 (the chain is at 120)",
    );
    expect(reportBond(challenged)).to.match(/^20 BASED \(returned if the revision/);
    const lapsed = { ...challenged, final: true, currentBlock: 200 };
    expect(reportState(lapsed)).to.include("final as reported");
    expect(reportState(lapsed)).to.include("bond to be burned (based rewards settle --epoch 4)");
    expect(reportBond(lapsed)).to.equal("20 BASED (to be burned: no revision came)");
    expect(reportBond(report({}))).to.equal("none (a challenge bonds 20 BASED, before block 130)");
    expect(reportState(report({}))).to.equal("pending: final from block 130 (the chain is at 120)");
  });

  it("the command's hints name the command line that follows a challenge refusal", () => {
    const notYet = explainConsensusError({ name: "NoLapsedChallenge", args: [4n, 190n] });
    expect(hintFor(notYet)).to.include("`based rewards settle --epoch 4` from block 190");
    const none = explainConsensusError({ name: "NoLapsedChallenge", args: [4n, 0n] });
    expect(hintFor(none)).to.equal(none.hint);
    const closed = explainConsensusError({ name: "ChallengeClosed", args: [4n] });
    expect(hintFor(closed)).to.include("`based rewards show --epoch 4`");
    expect(hintFor(explainConsensusError({ name: "SameResult", args: [] }))).to.include("--root");
  });
});
