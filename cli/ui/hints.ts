/**
 * What to do next, in the `based` command's own words. The SDK's errors say what happened and a
 * hint in the SDK's terms (it is also a library, so it names no command or flag); here each code
 * the command can act on gets the command line that fixes it, built from the error's details.
 * A code without an entry, or an entry without the details it needs, keeps the SDK's hint.
 */
import { formatEther } from "viem";
import type { BasedError } from "../../sdk/errors";

type Hint = (d: Record<string, string>, err: BasedError) => string | undefined;

const ether = (wei: string | undefined) => (wei === undefined ? undefined : formatEther(BigInt(wei)));

/** Needs every named detail; otherwise the SDK's own hint stands. */
const needs =
  (keys: readonly string[], hint: (d: Record<string, string>) => string): Hint =>
  (d) =>
    keys.every((k) => d[k] !== undefined) ? hint(d) : undefined;

const HINTS: Record<string, Hint> = {
  // Brains (Ethereum)
  BurnPriceAboveMax: needs(
    ["price"],
    (d) => `Pass --max-price ${ether(d.price)} (or more) to accept the current price.`,
  ),
  BrainNotFound: () => "Mint one with `based brain mint --burn` or `based brain mint --stake`.",
  BrainNotActive: needs(
    ["brainId"],
    (d) =>
      `A Brain minted on Ethereum appears on the BasedAI chain within a few blocks; check it with \`based brain show ${d.brainId}\`.`,
  ),
  // Brain configuration
  InvalidContextLimit: () => "Pass --context-limit <compute units> (together with --price).",
  InvalidSplit: () =>
    "Pass three whole numbers of basis points that sum to 10000, e.g. --split 2500:3750:3750.",
  NotBrainWallet: (d) =>
    d.caller !== undefined && d.brainId !== undefined
      ? `Sign with that wallet's key (BASED_PRIVATE_KEY), or have the Brain's owner link your address on Ethereum with \`based brain link ${d.brainId} ${d.caller}\`.`
      : d.brainId !== undefined
        ? `Sign with the Brain's wallet (\`based brain show ${d.brainId}\` names it).`
        : undefined,
  // Bridge
  BridgeTimeout: (d, err) =>
    d.messageId === undefined
      ? undefined
      : `${err.hint ?? ""} Follow it with \`based bridge status ${d.messageId}\`.`.trim(),
  BridgeMessageSuperseded: needs(
    ["supersededBy"],
    (d) =>
      `See what was delivered instead with \`based bridge status ${d.supersededBy}\`; if it is not your transfer, report it to the bridge's guardian.`,
  ),
  // Membership
  NoPruningOrder: () =>
    "A full role admits a new member only by replacing one; wait for the next epoch report, then pass its --pruning-tree.",
  RoleFull: () =>
    "Pass the attested pruning order of the latest epoch report with --pruning-tree <file> (a StandardMerkleTree dump of pruningTree(...)).",
  AlreadyRegistered: needs(
    ["brainId"],
    (d) =>
      `One account holds one uid per Brain; leave first with \`based deregister --brain ${d.brainId}\` to register again.`,
  ),
  NotRegistered: needs(
    ["brainId"],
    (d) =>
      `Register with \`based register --brain ${d.brainId} --role miner|validator --endpoint host:port\`.`,
  ),
  FeeAboveMax: needs(["fee"], (d) => `Pass --max-fee ${ether(d.fee)} (or more) to accept the current fee.`),
  InvalidEndpoint: () => "Pass --endpoint host:port (or a URL).",
  // Staking
  NotAValidator: needs(
    ["brainId"],
    (d) =>
      `Stake to the Brain itself (leave out --validator), or pick a validator from \`based brain show ${d.brainId}\`.`,
  ),
  InsufficientStake: () =>
    "Unstake at most what the position holds (`based stake show` lists your positions).",
  NothingToWithdraw: (d) =>
    d.nextReleaseAt === undefined
      ? "Unstake first with `based stake remove --brain <id> --amount <BASED>`."
      : undefined,
  // Weights
  NotValidator: needs(
    ["brainId"],
    (d) =>
      `Register first: \`based register --brain ${d.brainId} --role validator --endpoint host:port\` (or \`based validator start\`, which registers).`,
  ),
  UnknownUid: () => "Weights go to the Brain's miners only (`based brain show <id>` lists them).",
  // Rewards
  NoAttestedRewards: () =>
    "Set BASED_ATTESTERS to the attesters' HTTP endpoints, or pass the epoch's rewards tree with --tree.",
  NoReward: () =>
    "Pass --address of an account in the tree; accounts earn as miners, validators, stakers and Brain owners.",
  NoReport: needs(
    ["epoch"],
    (d) =>
      `The attesters sign an epoch's report after it ends; try again later (\`based rewards show --epoch ${d.epoch}\`).`,
  ),
  ReportNotFinal: (d) =>
    d.epoch !== undefined && d.finalizesAt === undefined
      ? `Check it with \`based rewards show --epoch ${d.epoch}\` and claim once it is final.`
      : undefined,
  ReportChallenged: needs(
    ["epoch", "finalizesAt"],
    (d) =>
      `Follow it with \`based rewards show --epoch ${d.epoch}\`; claim once the revision is accepted, or from block ${d.finalizesAt} as reported.`,
  ),
  ChallengeClosed: needs(
    ["epoch"],
    (d) =>
      `\`based rewards show --epoch ${d.epoch}\` shows the report's state; a final report is claimed from as it stands (\`based rewards claim --epoch ${d.epoch}\`).`,
  ),
  SameResult: () => "Pass --root with the different rewards root you computed for the epoch.",
  NoLapsedChallenge: needs(
    ["epoch", "lapsesAt"],
    (d) =>
      `Run \`based rewards settle --epoch ${d.epoch}\` from block ${d.lapsesAt} if no revision came by then (\`based rewards show --epoch ${d.epoch}\`).`,
  ),
  // Governance
  NoGovernance: () =>
    "Point BASED_DEPLOYMENTS at a deployments file written after the governance contracts were deployed.",
  InvalidCall: () =>
    'Pass --call "<contract>.<function>(<args>)" with a contract of the deployments file, e.g. --call "PepecoinHouse.setVetoQuorum(2000000e18)".',
  NoCalls: () => 'Pass at least one --call "<contract>.<function>(<args>)".',
  ProposalExists: () => "Pass another --title: a proposal's id is the hash of its calls and its description.",
  NotLabsProposer: () =>
    "In the first year only Based Labs' proposer proposes; after it, a GigaBrain's owner proposes with `based gov propose … --brain <id>`.",
  OptimisticPeriodOver: () =>
    "Pass --brain <id> of a GigaBrain you own (`based gov gigabrains` lists the current set).",
  OptimisticPeriodActive: () =>
    "Leave out --brain: in the optimistic first year only Based Labs' proposer proposes.",
  NotGigaBrain: (d) =>
    `\`based gov gigabrains\` lists the current set; a vote counts the set of the proposal's vote start${d.brainId === undefined ? "" : `, and Brain #${d.brainId} was not in it`}.`,
  NotBrainOwner: needs(
    ["brainId", "owner"],
    (d) => `Sign with the key of ${d.owner}, Brain #${d.brainId}'s owner (BASED_PRIVATE_KEY).`,
  ),
  BrainAlreadyVoted: needs(
    ["proposalId"],
    (d) => `Nothing to do: its vote is counted (\`based gov show ${d.proposalId}\`).`,
  ),
  VoteNotOpen: needs(
    ["proposalId"],
    (d) => `\`based gov show ${d.proposalId}\` says when its vote starts; try again from then.`,
  ),
  VoteClosed: needs(
    ["proposalId"],
    (d) =>
      `\`based gov show ${d.proposalId}\` shows its outcome; locked PEPE comes back with \`based gov unlock ${d.proposalId}\`.`,
  ),
  VoteNotOver: needs(
    ["proposalId"],
    (d) =>
      `Unlock after its vote ends (\`based gov show ${d.proposalId}\` says when): \`based gov unlock ${d.proposalId}\`.`,
  ),
  NothingLocked: needs(
    ["proposalId"],
    (d) => `\`based gov show ${d.proposalId} --address <you>\` shows what you locked.`,
  ),
  ProposalNotFound: () => "`based gov list` lists the proposals and their ids.",
  WrongProposalState: needs(["proposalId", "state"], (d) => {
    const next: Record<string, string> = {
      pending: `wait for its vote (\`based gov show ${d.proposalId}\`)`,
      active: `wait for the end of its vote (\`based gov show ${d.proposalId}\`)`,
      succeeded: `queue it first: \`based gov queue ${d.proposalId}\``,
      queued: `execute it after its eta: \`based gov execute ${d.proposalId}\``,
    };
    return `It is ${d.state}: ${next[d.state ?? ""] ?? `nothing more can be done with it (\`based gov show ${d.proposalId}\`)`}.`;
  }),
  GovernorUnableToCancel: () =>
    "Only the proposer cancels, while the proposal is pending or its vote is active.",
  NotReady: (d) =>
    d.proposalId !== undefined
      ? `Run \`based gov execute ${d.proposalId}\` after its eta (\`based gov show ${d.proposalId}\`).`
      : d.operationId !== undefined
        ? `Run \`based gov execute-based ${d.operationId}\` once ready (\`based gov based-call ${d.operationId}\`).`
        : undefined,
  OperationUnknown: needs(
    ["operationId"],
    (d) =>
      `Follow it with \`based gov based-call ${d.operationId}\`; the attesters deliver it a few blocks after the Ethereum execution.`,
  ),
  // Compute market
  InsufficientBalance: (d, err) => {
    if (d.action === "open" && d.needed !== undefined && d.balance !== undefined) {
      const short = formatEther(BigInt(d.needed) - BigInt(d.balance));
      return `Deposit more first: \`based account deposit <BASED>\` (at least ${short} BASED), or ask for fewer tokens (--max-tokens).`;
    }
    if (d.action === "withdraw")
      return "Withdraw at most the free balance (`based account show`); escrowed BASED returns when its request settles or is reclaimed.";
    return err.hint;
  },
  AppNotAuthorized: needs(
    ["app"],
    (d) => `The account holder authorizes it with \`based account authorize ${d.app} <BASED>\`.`,
  ),
  AllowanceExceeded: needs(
    ["app"],
    (d) => `The account holder raises it with \`based account authorize ${d.app} <BASED>\`.`,
  ),
  CostAboveMax: needs(
    ["cost"],
    (d) =>
      `Nothing was escrowed. Check the Brain's prices${d.brainId ? ` (\`based brain show ${d.brainId}\`)` : ""}, then pass --max-cost ${ether(d.cost)} (or more) to accept them, or ask for fewer tokens (--max-tokens).`,
  ),
  ContextLimitExceeded: () => "Shorten the prompt or ask for fewer completion units (--max-tokens).",
  RequestNotOpen: (d) =>
    d.status === "none" ? "Check the request id (`based account show` lists your open requests)." : undefined,
  NotGateway: needs(
    ["brainId"],
    (d) => `The Brain's wallet names it with \`based brain config ${d.brainId} --gateway <address>\`.`,
  ),
  RequestExpired: needs(
    ["requestId"],
    (d) => `Reclaim it to the account with \`based account reclaim ${d.requestId}\`.`,
  ),
  // Prompts and models
  GatewayUnreachable: () =>
    "Is it running? On devnet `npm run devnet` starts one for Brain #3; elsewhere check --gateway or BASED_GATEWAY_URL.",
  NoEncryptedPlan: () =>
    "Convert the model with `based model convert`, or use --plain on a Brain with ZK off.",
  ModelNotFound: () =>
    "Pass --model <dir> of a converted model (config.json, model.safetensors, vocab.json, merges.txt, zkllm-plan.json).",
  ModelDirMissing: () =>
    "Point at a converted model directory (`based model convert <hf-dir> --out <dir>` makes one).",
  NoModelFiles: () =>
    "Point at a converted model directory (`based model convert <hf-dir> --out <dir>` makes one).",
  UnsupportedModelUri: () =>
    "A Brain's task model is served from file://<absolute dir> (one machine) or an http(s):// directory; its owner sets it with `based brain config`.",
  // Configuration (the service shell's own "invalid configuration" keeps its hint)
  InvalidConfig: (_d, err) =>
    err.message.startsWith("invalid configuration")
      ? undefined
      : "Fix the value or remove it to use the default. `based --help` lists the variables and the config file fields.",
};

/** A refusal the Brain's gateway sent back (its code is the gateway's own). */
const GATEWAY_REFUSAL =
  "Check --brain (a gateway serves one Brain) and --gateway; the message says what the gateway refused.";

/** The hint `based` shows for `err`: the command's own when it has one, else the SDK's. */
export function hintFor(err: BasedError): string | undefined {
  const details = err.details ?? {};
  if (details.refusedBy === "gateway" && err.kind === "refused") return GATEWAY_REFUSAL;
  return HINTS[err.code]?.(details, err) ?? err.hint;
}
