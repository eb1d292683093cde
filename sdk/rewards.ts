/**
 * Epoch rewards (Consensus on the BasedAI chain, docs/architecture.md §3–4): the attested epoch report of
 * each epoch and claims against its rewards tree (`[address, uint256]` leaves, OpenZeppelin's
 * StandardMerkleTree), once per account and epoch, after the report's challenge window. The
 * amounts and proofs come from a tree dump, or from the attesters that computed the epoch
 * (`GET /epochs/:epoch/rewards/:address`); either way they are checked against the root the chain
 * accepted, so an attester cannot make a claimant send a bad claim.
 *
 * During its window a pending report can be challenged (`challengeReport`): the challenger posts a
 * different rewards root for the same inputs and bonds `challengeBondOf(epoch)` BASED. The
 * attesters answer with a revision, final at once (the bond returns if it takes the challenger's
 * root, else it burns); without one within the challenge timeout the report is final as it stands,
 * and anyone burns the bond with `settleLapsedChallenge`.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { type Address, type Hash, type Hex, getAddress } from "viem";
import { rewardProofResponseSchema } from "../protocol/attester";
import { bytes32Schema } from "../protocol/schemas";
import { type RewardsTree, rewardProof } from "../protocol/report";
import { BASED, basedTransferRefusal, economyContracts, ensureBased, loadTreeDump } from "./economy";
import { BasedError } from "./errors";
import { consensusAbi } from "../protocol/generated/abis";
import { type ChainContext, signerOf } from "./chain";
import { genericRefusal, type OnStep, type Revert, sendContractCall, eventOf } from "./contract-call";

/** Consensus.Status. */
export const REPORT_STATUSES = ["none", "pending", "challenged", "settled"] as const;
export type ReportStatus = (typeof REPORT_STATUSES)[number];

export type EpochReport = {
  epoch: number;
  status: ReportStatus;
  /** Claimable: settled, pending past its challenge window, or challenged past its lapse block. */
  final: boolean;
  /** The epoch's emission (wei of BASED) and how much was claimed. */
  amount: bigint;
  claimed: bigint;
  rewardsRoot: Hex;
  pruningRoot: Hex;
  inputsHash: Hex;
  revision: number;
  /**
   * BasedAI-chain block from which the report is final without anyone acting: while pending, the
   * end of its challenge window (it can be challenged before it); while challenged, the block at
   * which the challenge lapses (`lapsesAt`) if no revision settled it before.
   */
  finalizesAt: number;
  /** While challenged: the block from which it is final as reported without a revision (= finalizesAt); else null. */
  lapsesAt: number | null;
  /** Who challenged it (kept after the challenge is settled); null if never challenged. */
  challenger: Address | null;
  /** The root the challenger posted; null if never challenged. */
  challengedRoot: Hex | null;
  /** The challenge's bond (wei of BASED), kept after it is settled; 0 if never challenged. */
  bond: bigint;
  /** What a challenge of this report bonds (`challengeBondOf`): a share of its emission, at least the minimum. */
  challengeBond: bigint;
  /** The epoch's blocks: [startBlock, endBlock). */
  startBlock: number;
  endBlock: number;
  /** Where the chain is now. */
  currentBlock: number;
  currentEpoch: number;
  /** The next epoch whose report Consensus expects. */
  nextEpoch: number;
};

/** Epoch `epoch`'s report as Consensus holds it, with where the chain is now. */
export async function getEpochReport(ctx: ChainContext, epoch: number): Promise<EpochReport> {
  const consensus = economyContracts(ctx).Consensus;
  const block = await ctx.publicClient.getBlockNumber();
  const read = { address: consensus, abi: consensusAbi, blockNumber: block } as const;
  const e = BigInt(epoch);
  const [report, final, [startBlock, endBlock], currentEpoch, nextEpoch, challengeBond] = await Promise.all([
    ctx.publicClient.readContract({ ...read, functionName: "report", args: [e] }),
    ctx.publicClient.readContract({ ...read, functionName: "isFinal", args: [e] }),
    ctx.publicClient.readContract({ ...read, functionName: "epochBounds", args: [e] }),
    ctx.publicClient.readContract({ ...read, functionName: "currentEpoch" }),
    ctx.publicClient.readContract({ ...read, functionName: "nextEpoch" }),
    ctx.publicClient.readContract({ ...read, functionName: "challengeBondOf", args: [e] }),
  ]);
  const status = REPORT_STATUSES[report.status] ?? "none";
  const challenger = isZero(report.challenger) ? null : report.challenger;
  return {
    epoch,
    status,
    final,
    amount: report.amount,
    claimed: report.claimed,
    rewardsRoot: report.rewardsRoot,
    pruningRoot: report.pruningRoot,
    inputsHash: report.inputsHash,
    revision: report.revision,
    finalizesAt: Number(report.finalizesAt),
    lapsesAt: status === "challenged" ? Number(report.finalizesAt) : null,
    challenger,
    challengedRoot: challenger === null ? null : report.challengedRoot,
    bond: report.bond,
    challengeBond,
    startBlock: Number(startBlock),
    endBlock: Number(endBlock),
    currentBlock: Number(block),
    currentEpoch: Number(currentEpoch),
    nextEpoch: Number(nextEpoch),
  };
}

const isZero = (hex: Hex) => /^0x0+$/.test(hex);

/** A rewards tree (`rewardsTree(...)` of protocol/report.ts) from its JSON dump. */
export function loadRewardsTree(json: unknown): RewardsTree {
  return loadTreeDump<[string, bigint]>(json, ["address", "uint256"], "rewards tree");
}

/** An account's reward in one epoch as an attester serves it, its proof checked against `rewardsRoot`. */
export type AttestedReward = {
  epoch: number;
  account: Address;
  /** Wei of BASED (0: no reward in that epoch). */
  amount: bigint;
  proof: Hex[];
  rewardsRoot: Hex;
  inputsHash: Hex;
  /** The attester that served it. */
  attester: string;
};

/** What one attester says `account` earned in `epoch`; undefined when it does not know (yet) or lies. */
async function askAttesterReward(
  url: string,
  epoch: number,
  account: Address,
  timeoutMs: number,
): Promise<AttestedReward | undefined> {
  try {
    const res = await fetch(`${url}/epochs/${epoch}/rewards/${account}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) return undefined;
    const body = rewardProofResponseSchema.parse(await res.json());
    if (Number(body.epoch) !== epoch || getAddress(body.account) !== account) return undefined;
    // A zero amount has no leaf to prove; a non-zero one must verify against the root it names.
    if (
      body.amount !== 0n &&
      !StandardMerkleTree.verify(body.rewardsRoot, ["address", "uint256"], [account, body.amount], body.proof)
    )
      return undefined;
    const { amount, proof, rewardsRoot, inputsHash } = body;
    return { epoch, account, amount, proof, rewardsRoot, inputsHash, attester: url };
  } catch {
    return undefined;
  }
}

/**
 * `account`'s reward in `epoch` from the attesters that computed the epoch, its proof verified;
 * with `rewardsRoot` (the root the chain accepted), only answers for that root count.
 */
export async function fetchAttestedReward(
  attesterUrls: readonly string[],
  epoch: number,
  account: Address,
  options: { rewardsRoot?: Hex; timeoutMs?: number } = {},
): Promise<AttestedReward | undefined> {
  const answers = await Promise.all(
    attesterUrls.map((url) => askAttesterReward(url, epoch, getAddress(account), options.timeoutMs ?? 5_000)),
  );
  const root = options.rewardsRoot?.toLowerCase();
  const valid = answers.filter(
    (a): a is AttestedReward =>
      a !== undefined && (root === undefined || a.rewardsRoot.toLowerCase() === root),
  );
  // A proven amount beats "nothing" (which no proof can show): one attester cannot hide a reward.
  return valid.find((a) => a.amount > 0n) ?? valid[0];
}

/** One epoch of `listRewards`. */
export type RewardRow = {
  epoch: number;
  /** The report on the chain ("none": computed by the attesters, not accepted yet). */
  status: ReportStatus;
  final: boolean;
  /** Wei of BASED the account earned; null when no attester could say (for the accepted root). */
  amount: bigint | null;
  claimed: boolean;
  rewardsRoot: Hex | null;
  /**
   * Block from which the report is final without anyone acting: the end of its challenge window
   * while pending, the lapse block while challenged; null without a report or once settled.
   */
  finalizesAt: number | null;
  /** While challenged: the block from which the report is final as reported without a revision; else null. */
  lapsesAt: number | null;
};

/**
 * What `account` earned in each of the last `last` epochs (default 20) up to the one Consensus
 * expects next, from the attesters, and whether it was claimed. The next epoch is listed only when
 * an attester has computed it already.
 */
export async function listRewards(
  ctx: ChainContext,
  options: { account: Address; attesterUrls: readonly string[]; last?: number },
): Promise<{ account: Address; nextEpoch: number; rows: RewardRow[] }> {
  const account = getAddress(options.account);
  const consensus = economyContracts(ctx).Consensus;
  const block = await ctx.publicClient.getBlockNumber();
  const read = { address: consensus, abi: consensusAbi, blockNumber: block } as const;
  const nextEpoch = Number(await ctx.publicClient.readContract({ ...read, functionName: "nextEpoch" }));
  const first = Math.max(0, nextEpoch - (options.last ?? 20));
  const epochs = Array.from({ length: nextEpoch + 1 - first }, (_, i) => first + i);
  const rows = await Promise.all(
    epochs.map(async (epoch): Promise<RewardRow | undefined> => {
      const e = BigInt(epoch);
      const [report, final, claimed] = await Promise.all([
        ctx.publicClient.readContract({ ...read, functionName: "report", args: [e] }),
        ctx.publicClient.readContract({ ...read, functionName: "isFinal", args: [e] }),
        ctx.publicClient.readContract({ ...read, functionName: "claimed", args: [e, account] }),
      ]);
      const status = REPORT_STATUSES[report.status] ?? "none";
      const accepted = status === "none" ? undefined : report.rewardsRoot;
      const reward = await fetchAttestedReward(options.attesterUrls, epoch, account, {
        rewardsRoot: accepted,
      });
      if (status === "none" && !reward) return undefined;
      return {
        epoch,
        status,
        final,
        amount: reward?.amount ?? null,
        claimed,
        rewardsRoot: accepted ?? reward?.rewardsRoot ?? null,
        finalizesAt: status === "pending" || status === "challenged" ? Number(report.finalizesAt) : null,
        lapsesAt: status === "challenged" ? Number(report.finalizesAt) : null,
      };
    }),
  );
  return { account, nextEpoch, rows: rows.filter((r): r is RewardRow => r !== undefined) };
}

export type Claimed = {
  epoch: number;
  account: Address;
  amount: bigint;
  transactionHash: Hash;
};

/** Where a claim's amount and proof come from: a tree dump, or the attesters that computed the epoch. */
export type RewardSource = { tree: RewardsTree } | { attesterUrls: readonly string[] };

/**
 * Claims `account`'s reward (default: the signer's) of final epoch `epoch`, with the proof from
 * `tree` or from the attesters, after checking everything that would refuse it: no report yet, not
 * final, another epoch's tree, no leaf for the account, already claimed. Anyone may send the claim;
 * the BASED go to `account`.
 */
export async function claimReward(
  ctx: ChainContext,
  options: { epoch: number; account?: Address; onStep?: OnStep } & RewardSource,
): Promise<Claimed> {
  const { epoch, onStep } = options;
  const account = getAddress(options.account ?? signerOf(ctx));
  const consensus = economyContracts(ctx).Consensus;
  onStep?.("check", `reading epoch ${epoch}'s report`);
  const report = await getEpochReport(ctx, epoch);
  assertClaimable(report);
  let leaf: { amount: bigint; proof: Hex[] } | undefined;
  if ("tree" in options) {
    const { tree } = options;
    if (tree.root.toLowerCase() !== report.rewardsRoot.toLowerCase()) {
      throw new BasedError(
        "refused",
        "RewardsTreeMismatch",
        `This rewards tree (root ${tree.root}) is not epoch ${epoch}'s: its report has root ${report.rewardsRoot}.`,
        `Use the rewards tree of epoch ${epoch}'s report (revision ${report.revision}).`,
        { rewardsRoot: report.rewardsRoot },
      );
    }
    leaf = rewardProof(tree, account);
  } else {
    onStep?.("check", `asking the attesters for ${account}'s proof of epoch ${epoch}`);
    const attested = await fetchAttestedReward(options.attesterUrls, epoch, account, {
      rewardsRoot: report.rewardsRoot,
    });
    if (!attested) {
      throw new BasedError(
        "environment",
        "NoAttestedRewards",
        options.attesterUrls.length === 0
          ? "No attester to ask for the proof: none is configured."
          : `No attester served epoch ${epoch}'s rewards for its accepted root ${report.rewardsRoot} (asked ${options.attesterUrls.join(", ")}).`,
        "Set BASED_ATTESTERS to the attesters' HTTP endpoints, or give the epoch's rewards tree.",
      );
    }
    if (attested.amount > 0n) leaf = { amount: attested.amount, proof: attested.proof };
  }
  if (!leaf) {
    throw new BasedError(
      "refused",
      "NoReward",
      `${account} has no reward in epoch ${epoch}'s rewards tree.`,
      "Claim for an account in the tree; accounts earn as miners, validators, stakers and Brain owners.",
    );
  }
  const already = await ctx.publicClient.readContract({
    address: consensus,
    abi: consensusAbi,
    functionName: "claimed",
    args: [BigInt(epoch), account],
  });
  if (already) throw explainConsensusError({ name: "AlreadyClaimed", args: [BigInt(epoch), account] });

  const receipt = await sendContractCall(
    ctx,
    {
      address: consensus,
      abi: consensusAbi,
      functionName: "claim",
      args: [BigInt(epoch), account, leaf.amount, leaf.proof],
    },
    {
      explain: explainConsensusError,
      label: `the claim of ${BASED(leaf.amount)} for epoch ${epoch}`,
      onStep,
    },
  );
  const event = eventOf(receipt, consensusAbi, "Claimed");
  return { epoch, account, amount: event.args.amount, transactionHash: receipt.transactionHash };
}

/** A challenge posted by `challengeReport`. */
export type Challenged = {
  epoch: number;
  challenger: Address;
  /** The rewards root the challenger says is right. */
  rewardsRoot: Hex;
  /** Wei of BASED bonded: returned if the attesters' revision takes `rewardsRoot`, burned otherwise. */
  bond: bigint;
  /** Without a revision before this block, the report is final as reported and the bond burns. */
  lapsesAt: number;
  transactionHash: Hash;
};

/**
 * Challenges epoch `epoch`'s pending report with `rewardsRoot` (a different result for the same
 * inputs), bonding `challengeBondOf(epoch)` BASED from the signer (approved to Consensus first when
 * the allowance is short). Refused before anything is sent when there is no report, its window
 * has closed (or it is challenged or settled already), the root is the report's own, or the signer
 * holds less than the bond.
 */
export async function challengeReport(
  ctx: ChainContext,
  options: { epoch: number; rewardsRoot: Hex; onStep?: OnStep },
): Promise<Challenged> {
  const { epoch, onStep } = options;
  if (!bytes32Schema.safeParse(options.rewardsRoot).success) {
    throw new BasedError(
      "input",
      "InvalidRoot",
      `Invalid rewards root ${options.rewardsRoot}: expected 32 bytes as 0x-prefixed hex.`,
    );
  }
  const rewardsRoot = options.rewardsRoot.toLowerCase() as Hex;
  const consensus = economyContracts(ctx).Consensus;
  onStep?.("check", `reading epoch ${epoch}'s report`);
  const report = await getEpochReport(ctx, epoch);
  assertChallengeable(report, rewardsRoot);
  // challengeBondOf depends on the epoch's emission only, fixed when its report was accepted.
  const bond = report.challengeBond;
  await ensureBased(ctx, { address: consensus, name: "Consensus" }, bond, "this challenge's bond", onStep);
  const receipt = await sendContractCall(
    ctx,
    {
      address: consensus,
      abi: consensusAbi,
      functionName: "challenge",
      args: [BigInt(epoch), report.inputsHash, rewardsRoot],
    },
    {
      explain: explainConsensusError,
      label: `the challenge of epoch ${epoch}'s report (bond ${BASED(bond)})`,
      onStep,
    },
  );
  const event = eventOf(receipt, consensusAbi, "ReportChallenged");
  return {
    epoch,
    challenger: event.args.challenger,
    rewardsRoot: event.args.root,
    bond: event.args.bond,
    lapsesAt: Number(event.args.lapsesAt),
    transactionHash: receipt.transactionHash,
  };
}

/** Refuses a challenge Consensus would refuse: no report, window closed, same root. */
function assertChallengeable(r: EpochReport, rewardsRoot: Hex): void {
  const epoch = String(r.epoch);
  switch (r.status) {
    case "none":
      throw new BasedError(
        "refused",
        "NoReport",
        `Epoch ${r.epoch} has no report to challenge (Consensus expects epoch ${r.nextEpoch}'s report next; the chain is at block ${r.currentBlock}).`,
        "A report can be challenged during its window once the attesters' report is accepted.",
        { epoch },
      );
    case "challenged":
      throw new BasedError(
        "refused",
        "ChallengeClosed",
        `Epoch ${r.epoch}'s report is challenged already (by ${r.challenger}): ${r.final ? `the challenge lapsed at block ${r.finalizesAt} and the report is final as reported` : `the attesters have until block ${r.finalizesAt} to answer with a revision`}.`,
        "One challenge per report; the attesters' revision settles it.",
        { epoch, closedAt: String(r.finalizesAt) },
      );
    case "settled":
      throw new BasedError(
        "refused",
        "ChallengeClosed",
        `Epoch ${r.epoch}'s report was settled by a revision: it is final and can no longer be challenged.`,
        "A settled report is claimed from as it stands.",
        { epoch },
      );
    default:
  }
  // The transaction lands in the next block at the earliest: the window covers blocks before finalizesAt.
  if (r.currentBlock + 1 >= r.finalizesAt) {
    throw new BasedError(
      "refused",
      "ChallengeClosed",
      `Epoch ${r.epoch}'s challenge window closed at block ${r.finalizesAt} (the chain is at block ${r.currentBlock}): the report is final as it stands.`,
      "A report can be challenged only during its window; a final one is claimed from as it stands.",
      { epoch, closedAt: String(r.finalizesAt) },
    );
  }
  if (rewardsRoot.toLowerCase() === r.rewardsRoot.toLowerCase()) {
    throw explainConsensusError({ name: "SameResult", args: [] });
  }
}

/** A lapsed challenge closed by `settleLapsedChallenge`. */
export type LapsedChallengeSettled = {
  epoch: number;
  /** Wei of BASED burned. */
  bond: bigint;
  transactionHash: Hash;
};

/**
 * Closes epoch `epoch`'s challenge that no revision answered before its lapse block: the report
 * stands (it is final already) and the challenger's bond is burned. Anyone may send it.
 */
export async function settleLapsedChallenge(
  ctx: ChainContext,
  epoch: number,
  options: { onStep?: OnStep } = {},
): Promise<LapsedChallengeSettled> {
  const { onStep } = options;
  onStep?.("check", `reading epoch ${epoch}'s report`);
  const r = await getEpochReport(ctx, epoch);
  if (r.status !== "challenged") {
    throw explainConsensusError({ name: "NoLapsedChallenge", args: [BigInt(epoch), 0n] });
  }
  if (r.currentBlock + 1 < r.finalizesAt) {
    throw explainConsensusError({ name: "NoLapsedChallenge", args: [BigInt(epoch), BigInt(r.finalizesAt)] });
  }
  const receipt = await sendContractCall(
    ctx,
    {
      address: economyContracts(ctx).Consensus,
      abi: consensusAbi,
      functionName: "settleLapsedChallenge",
      args: [BigInt(epoch)],
    },
    {
      explain: explainConsensusError,
      label: `settling epoch ${epoch}'s lapsed challenge`,
      onStep,
    },
  );
  const event = eventOf(receipt, consensusAbi, "ChallengeLapsed");
  return { epoch, bond: event.args.bond, transactionHash: receipt.transactionHash };
}

/** Refuses a claim on a report that is missing, pending its window, or challenged. */
function assertClaimable(r: EpochReport): void {
  if (r.final) return;
  switch (r.status) {
    case "none":
      throw new BasedError(
        "refused",
        "NoReport",
        `Epoch ${r.epoch} has no report yet (it ends at block ${r.endBlock}; the chain is at block ${r.currentBlock}, Consensus expects epoch ${r.nextEpoch}'s report next).`,
        "The attesters sign an epoch's report after it ends; try again later.",
        { epoch: String(r.epoch) },
      );
    case "pending":
      throw new BasedError(
        "refused",
        "ReportNotFinal",
        `Epoch ${r.epoch}'s report is not final yet: it can be challenged until block ${r.finalizesAt} (the chain is at block ${r.currentBlock}).`,
        `Claim again from block ${r.finalizesAt}, about ${Math.max(1, r.finalizesAt - r.currentBlock)} block(s) from now.`,
        { finalizesAt: String(r.finalizesAt) },
      );
    default:
      throw new BasedError(
        "refused",
        "ReportChallenged",
        `Epoch ${r.epoch}'s report is challenged: it becomes final when the attesters' revision is accepted, or at block ${r.finalizesAt} without one (the chain is at block ${r.currentBlock}).`,
        `Claim once the revision is accepted (with its rewards tree), or from block ${r.finalizesAt} as reported, about ${Math.max(1, r.finalizesAt - r.currentBlock)} block(s) from now.`,
        { epoch: String(r.epoch), finalizesAt: String(r.finalizesAt) },
      );
  }
}

/** Turns a Consensus custom error into a message that says what to do. */
export function explainConsensusError(revert: Revert): BasedError {
  const { name, args } = revert;
  switch (name) {
    case "AlreadyClaimed":
      return new BasedError(
        "refused",
        name,
        `${String(args[1])} already claimed its reward of epoch ${String(args[0])}.`,
        "Each account claims once per epoch; nothing more is owed for this one.",
      );
    case "ReportNotFinal":
      return new BasedError(
        "refused",
        name,
        `Epoch ${String(args[0])}'s report is not final yet (pending its challenge window, challenged, or missing).`,
        "Claim once it is final.",
        { epoch: String(args[0]) },
      );
    case "InvalidProof":
      return new BasedError(
        "refused",
        name,
        `The proof does not show ${String(args[1])} earning ${BASED(args[2] as bigint)} in epoch ${String(args[0])}.`,
        "Use the rewards tree of that epoch's accepted report.",
      );
    case "ClaimExceedsEmission":
      return new BasedError(
        "refused",
        name,
        `Paying this claim would pay out more than epoch ${String(args[0])}'s emission: the report's tree is wrong.`,
        "Challenge the report, or wait for a revision.",
      );
    case "ChallengeClosed":
      return new BasedError(
        "refused",
        name,
        `Epoch ${String(args[0])}'s report can no longer be challenged: it has no report yet, its challenge window has passed, it is already challenged, or it was settled.`,
        "Read the epoch's report: a report challenged already waits for the attesters' revision; a final one is claimed from as it stands.",
        { epoch: String(args[0]) },
      );
    case "InputsHashMismatch":
      return new BasedError(
        "refused",
        name,
        `The challenge names inputs hash ${String(args[1])}, but the report's is ${String(args[0])}: a challenge disputes the result of the same inputs.`,
        "Compute the rewards root from the report's inputs and challenge with its inputs hash.",
        { inputsHash: String(args[0]) },
      );
    case "SameResult":
      return new BasedError(
        "refused",
        name,
        "The challenge posts the report's own rewards root: there is nothing to dispute.",
        "Challenge only with the different rewards root you computed for the epoch.",
      );
    case "NoLapsedChallenge": {
      const lapsesAt = args[1] as bigint;
      return lapsesAt === 0n
        ? new BasedError(
            "refused",
            name,
            `Epoch ${String(args[0])}'s report has no open challenge to settle (never challenged, answered by a revision, or already settled).`,
            "Nothing to do: Consensus holds no bond for it.",
            { epoch: String(args[0]) },
          )
        : new BasedError(
            "refused",
            name,
            `Epoch ${String(args[0])}'s challenge has not lapsed: the attesters may answer it before block ${lapsesAt}.`,
            `Settle it from block ${lapsesAt} if no revision came by then.`,
            { epoch: String(args[0]), lapsesAt: String(lapsesAt) },
          );
    }
    case "ERC20InsufficientBalance":
    case "ERC20InsufficientAllowance":
      return basedTransferRefusal(name);
    default:
      return genericRefusal("Consensus", revert);
  }
}
