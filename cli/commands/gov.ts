import type { Command } from "commander";
import { formatEther } from "viem";
import { isoTime } from "../../sdk/economy";
import { BasedError } from "../../sdk/errors";
import {
  type GovernanceCall,
  type Proposal,
  type Support,
  cancelProposal,
  castVote,
  executeBasedCall,
  executeProposal,
  getBasedCall,
  getGigaBrains,
  getProposal,
  listProposals,
  lockPepe,
  parseGovernanceCall,
  propose,
  queueProposal,
  unlockPepe,
} from "../../sdk/governance";
import { readDeployments } from "../../sdk/node/deployments-file";
import type { ChainName } from "../../sdk/chain";
import { signerOf } from "../../sdk/chain";
import {
  parseAddress,
  parseBrainId,
  parseBytes32,
  parseChoice,
  parseText,
  parseTokenAmount,
} from "../core/args";
import type { CommandContext, Wrap } from "../core/context";

const PEPE = (wei: bigint) => `${formatEther(wei)} PEPE`;
/** The contracts bound nothing, but a title is for people: keep it a line's worth. */
const MAX_TITLE_BYTES = 1_000;

/** A proposal id: a whole number (decimal, as `based gov list` prints it, or 0x hex). */
export function parseProposalId(raw: string): bigint {
  if (/^\d{1,78}$/.test(raw) || /^0x[0-9a-fA-F]{1,64}$/.test(raw)) {
    const id = BigInt(raw);
    if (id < 1n << 256n) return id;
  }
  throw new BasedError(
    "input",
    "InvalidArgument",
    `Invalid proposal id "${raw}": expected the whole number \`based gov list\` prints.`,
  );
}

/** Every --call parsed against the deployments (before anything connects). */
export function parseCalls(
  ctx: CommandContext,
  raws: readonly string[],
  chain?: ChainName,
): GovernanceCall[] {
  if (raws.length === 0) {
    throw new BasedError(
      "input",
      "NoCalls",
      "A proposal needs at least one --call.",
      'Pass --call "<contract>.<function>(<args>)", e.g. --call "PepecoinHouse.setVetoQuorum(2000000e18)".',
    );
  }
  const deployments = readDeployments(ctx.config.deploymentsFile);
  return raws.map((raw) => parseGovernanceCall(deployments, raw, chain));
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** `based gov …`: GigaBrain governance. */
export function registerGovCommands(program: Command, wrap: Wrap): void {
  const gov = program
    .command("gov")
    .description("GigaBrain governance: propose, vote with a GigaBrain, lock PEPE to veto, queue and execute")
    .addHelpText(
      "after",
      `
Proposals live on Ethereum's GigaBrainGovernor. In its first year only Based Labs' proposer
proposes, and a proposal passes unless more than half of the GigaBrains vote Against. After it,
the owner of a GigaBrain proposes with it (--brain), and a proposal passes when For > Against
with at least a third of the GigaBrains voting. GigaBrains are the Brains with at least 0.5 % of
all BasedAI stake, in the set in force at the proposal's vote start (\`based gov gigabrains\`);
each votes once, by its owner at the time of the vote.

The Pepecoin house can veto: PEPE holders lock PEPE For or Against while the vote is active; if
Against exceeds For and reaches the veto quorum, the proposal is defeated. Locked PEPE comes back
with \`based gov unlock\` once the vote is over, whatever the outcome.

A proposal that passed is queued into Ethereum's timelock (\`based gov queue\`), then executed
after its delay (\`based gov execute\`). Calls for the BasedAI chain travel as a GOVERNANCE_CALL
message and are scheduled into the BasedAI timelock; anyone executes them after its delay
(\`based gov based-call\`, \`based gov execute-based\`); until then the guardian may cancel them.

Lifecycle:
  based gov propose --title "…" --call "PepecoinHouse.setVetoQuorum(2000000e18)"
  based gov vote <id> for --brain 3          based gov lock <id> against --amount 500000
  based gov queue <id>    based gov execute <id>    based gov unlock <id>`,
    );

  gov
    .command("propose")
    .description("propose calls on Ethereum or the BasedAI chain (Labs in year 1; a GigaBrain's owner after)")
    .requiredOption(
      "--title <text>",
      "the proposal's title (its description; your #proposer= suffix is added)",
    )
    .option(
      "--call <call>",
      "<contract>.<function>(<args>) of a deployments contract; repeat for several (in order)",
      collect,
      [],
    )
    .option(
      "--chain <chain>",
      "where the calls run: based|ethereum (default: the chain the deployments name the contract on); prefix a call with based: or ethereum: to choose per call",
    )
    .option("--brain <id>", "your GigaBrain (required after the optimistic first year)")
    .addHelpText(
      "after",
      `
Each --call names a contract of the deployments file and one of its state-changing functions
from the contract's ABI; arguments are checked against the function's inputs: addresses as 0x…
or a deployments name, integers as 1000, 0x3e8 or 1000e18 (wei), bool true|false, bytes as 0x…,
lists as [a, b], strings quoted when they hold a comma. A call on the BasedAI chain is proposed as
GovernanceOutbox.send(target, 0, data, salt) on Ethereum.

Examples:
  based gov propose --title "Raise the veto quorum" --call "PepecoinHouse.setVetoQuorum(2000000e18)"
  based gov propose --title "Guardian threshold" --chain based --call "BasedGuardian.changeThreshold(3)" --brain 7`,
    )
    .action(
      wrap(async (ctx, _args, options) => {
        const opts = options as { title: string; call: string[]; chain?: string; brain?: string };
        const title = parseText(opts.title.trim(), "--title", MAX_TITLE_BYTES);
        if (title === "") throw new BasedError("input", "InvalidArgument", "--title is empty.");
        const chain =
          opts.chain === undefined
            ? undefined
            : parseChoice(opts.chain, "--chain", ["based", "ethereum"] as const);
        const brainId = opts.brain === undefined ? undefined : parseBrainId(opts.brain);
        const calls = parseCalls(ctx, opts.call, chain);
        const eth = await ctx.ethereum({ withAccount: true });
        const spinner = ctx.spinner();
        try {
          const done = await propose(eth, { title, calls, brainId, onStep: (_s, d) => spinner.update(d) });
          spinner.succeed(`proposed ${done.proposalId}`);
          ctx.out.result({ proposal: done }, () =>
            [
              `Proposed "${title}" (${done.regime === "optimistic" ? "optimistic period" : `with GigaBrain #${done.brainId}`})`,
              `  id          ${done.proposalId}`,
              `  vote        ${isoTime(done.voteStart)} … ${isoTime(done.voteEnd)}`,
              ...done.calls.map(
                (c, i) => `  call ${i + 1}      ${callLine(c.chain, c.contract, c.function, c.args)}`,
              ),
              `  tx ${done.transactionHash}`,
              `Vote with \`based gov vote ${done.proposalId} for|against|abstain --brain <id>\` once it is active.`,
            ].join("\n"),
          );
        } catch (err) {
          spinner.fail();
          throw err;
        }
      }),
    );

  gov
    .command("cancel <id>")
    .description("cancel your proposal while it is pending or its vote is active")
    .action(
      wrap(async (ctx, [raw]) => {
        const proposalId = parseProposalId(raw!);
        const eth = await ctx.ethereum({ withAccount: true });
        const done = await cancelProposal(eth, proposalId);
        ctx.out.result(
          { cancelled: done },
          () => `Cancelled proposal ${proposalId}\n  tx ${done.transactionHash}`,
        );
      }),
    );

  gov
    .command("gigabrains")
    .description("the GigaBrain set in force (the voters of new proposals) and the BasedAI block it is from")
    .action(
      wrap(async (ctx) => {
        const eth = await ctx.ethereum();
        const set = await getGigaBrains(eth);
        ctx.out.result({ gigaBrains: set }, () =>
          set.version === 0
            ? "No GigaBrain set delivered yet."
            : [
                `GigaBrains (set ${set.version}, BasedAI block ${set.basedBlock}, in force since ${isoTime(set.since)}): ${set.brainIds.length}`,
                `  ${set.brainIds.map((id) => `#${id}`).join(" ")}`,
              ].join("\n"),
        );
      }),
    );

  gov
    .command("list")
    .description("every proposal, newest first, with its state")
    .action(
      wrap(async (ctx) => {
        const eth = await ctx.ethereum();
        const proposals = await listProposals(eth);
        ctx.out.result({ proposals }, () =>
          proposals.length === 0
            ? "No proposals yet."
            : proposals
                .map(
                  (p) =>
                    `${p.state.padEnd(10)} ${p.proposalId}\n           ${p.title} (vote ends ${isoTime(p.voteEnd)})`,
                )
                .join("\n"),
        );
      }),
    );

  gov
    .command("show <id>")
    .description("a proposal: state, GigaBrain votes, PEPE locked and the veto, quorum, eta and its calls")
    .option(
      "--address <address>",
      "also show what this account has locked (default: yours, when a key is set)",
    )
    .action(
      wrap(async (ctx, [raw], options) => {
        const proposalId = parseProposalId(raw!);
        const opts = options as { address?: string };
        const explicit = opts.address === undefined ? undefined : parseAddress(opts.address, "--address");
        const eth = await ctx.ethereum({
          withAccount: explicit === undefined && ctx.config.privateKey !== undefined,
        });
        const account = explicit ?? (eth.walletClient ? signerOf(eth) : undefined);
        const p = await getProposal(eth, proposalId, { account });
        ctx.out.result({ proposal: p }, () => proposalLines(p).join("\n"));
      }),
    );

  gov
    .command("vote <id> <support>")
    .description("cast your GigaBrain's vote: for, against or abstain")
    .requiredOption(
      "--brain <id>",
      "the GigaBrain voting (you must own it; it must be in the proposal's set)",
    )
    .addHelpText("after", "\nExample:\n  based gov vote 1234… for --brain 3")
    .action(
      wrap(async (ctx, [rawId, rawSupport], options) => {
        const proposalId = parseProposalId(rawId!);
        const support = parseChoice(rawSupport!, "vote", ["for", "against", "abstain"] as const) as Support;
        const brainId = parseBrainId((options as { brain: string }).brain);
        const eth = await ctx.ethereum({ withAccount: true });
        const spinner = ctx.spinner();
        try {
          const done = await castVote(eth, {
            proposalId,
            brainId,
            support,
            onStep: (_s, d) => spinner.update(d),
          });
          spinner.succeed(`voted ${support}`);
          ctx.out.result(
            { vote: done },
            () =>
              `Brain #${brainId} voted ${support} on proposal ${proposalId}\n  tx ${done.transactionHash}`,
          );
        } catch (err) {
          spinner.fail();
          throw err;
        }
      }),
    );

  gov
    .command("lock <id> <support>")
    .description("lock PEPE for or against a proposal while its vote is active (the Pepecoin house's veto)")
    .requiredOption("--amount <PEPE>", "PEPE to lock, e.g. 500000 (approved to the house first when needed)")
    .addHelpText(
      "after",
      `
The proposal is vetoed when the PEPE locked Against exceeds the PEPE locked For and reaches the
veto quorum (\`based gov show <id>\`). Locks add up; all of it comes back with \`based gov unlock <id>\`
once the vote is over.

Example:
  based gov lock 1234… against --amount 500000`,
    )
    .action(
      wrap(async (ctx, [rawId, rawSupport], options) => {
        const proposalId = parseProposalId(rawId!);
        const support = parseChoice(rawSupport!, "lock side", ["for", "against"] as const);
        const amount = parseTokenAmount((options as { amount: string }).amount, "--amount");
        if (amount === 0n) throw new BasedError("input", "ZeroAmount", "--amount must be more than 0.");
        const eth = await ctx.ethereum({ withAccount: true });
        const spinner = ctx.spinner();
        try {
          const done = await lockPepe(eth, {
            proposalId,
            support,
            amount,
            onStep: (_s, d) => spinner.update(d),
          });
          spinner.succeed(`locked ${PEPE(done.amount)}`);
          ctx.out.result({ lock: done }, () =>
            [
              `Locked ${PEPE(done.amount)} ${support} proposal ${proposalId}`,
              `  yours now   ${PEPE(done.lockedFor)} for, ${PEPE(done.lockedAgainst)} against`,
              `  vetoed      ${done.vetoed ? "yes" : "no"}`,
              ...(done.approvalHash ? [`  approval tx ${done.approvalHash}`] : []),
              `  tx ${done.transactionHash}`,
              `Take it back once the vote is over: based gov unlock ${proposalId}`,
            ].join("\n"),
          );
        } catch (err) {
          spinner.fail();
          throw err;
        }
      }),
    );

  gov
    .command("unlock <id>")
    .description("take back all the PEPE you locked on a proposal, once its vote is over")
    .action(
      wrap(async (ctx, [raw]) => {
        const proposalId = parseProposalId(raw!);
        const eth = await ctx.ethereum({ withAccount: true });
        const done = await unlockPepe(eth, proposalId);
        ctx.out.result(
          { unlock: done },
          () => `Unlocked ${PEPE(done.amount)} from proposal ${proposalId}\n  tx ${done.transactionHash}`,
        );
      }),
    );

  gov
    .command("queue <id>")
    .description("queue a succeeded proposal into Ethereum's timelock (anyone may)")
    .action(
      wrap(async (ctx, [raw]) => {
        const proposalId = parseProposalId(raw!);
        const eth = await ctx.ethereum({ withAccount: true });
        const done = await queueProposal(eth, proposalId);
        ctx.out.result(
          { queued: done },
          () =>
            `Queued proposal ${proposalId}: executable from ${isoTime(done.eta)} (based gov execute ${proposalId})\n  tx ${done.transactionHash}`,
        );
      }),
    );

  gov
    .command("execute <id>")
    .description(
      "execute a queued proposal after the timelock's delay (anyone may); says how to follow BasedAI-chain calls",
    )
    .action(
      wrap(async (ctx, [raw]) => {
        const proposalId = parseProposalId(raw!);
        const eth = await ctx.ethereum({ withAccount: true });
        const done = await executeProposal(eth, proposalId);
        ctx.out.result({ executed: done }, () =>
          [
            `Executed proposal ${proposalId}`,
            `  tx ${done.transactionHash}`,
            ...done.basedCalls.flatMap((c, i) => [
              `BasedAI-chain call ${i + 1}: ${callLine("based", c.contract, c.function, null)} → ${c.target}`,
              `  GOVERNANCE_CALL message from chain ${c.message.srcChainId}, nonce ${c.message.nonce} (the attesters deliver it to GovernanceCallReceiver)`,
              `  BasedAI timelock operation ${c.operationId}`,
              `  follow it:  based gov based-call ${c.operationId}`,
              `  once ready: based gov execute-based ${c.operationId}`,
            ]),
          ].join("\n"),
        );
      }),
    );

  gov
    .command("based-call <operation>")
    .description("where a governance call stands on the BasedAI chain (its BasedAI timelock operation)")
    .action(
      wrap(async (ctx, [raw]) => {
        const operationId = parseBytes32(raw!, "operation id");
        const based = await ctx.based();
        const op = await getBasedCall(based, operationId);
        ctx.out.result({ operation: op }, () =>
          [
            `BasedAI timelock operation ${operationId}: ${basedCallState(op.status, op.readyAt)}`,
            ...(op.target
              ? [
                  `  call      ${callLine("based", op.contract, op.function, null)} → ${op.target}`,
                  `  message   ${op.messageId}`,
                ]
              : []),
          ].join("\n"),
        );
      }),
    );

  gov
    .command("execute-based <operation>")
    .description(
      "execute a governance call scheduled in the BasedAI timelock, once its delay has passed (anyone may)",
    )
    .action(
      wrap(async (ctx, [raw]) => {
        const operationId = parseBytes32(raw!, "operation id");
        const based = await ctx.based({ withAccount: true });
        const done = await executeBasedCall(based, operationId);
        ctx.out.result(
          { executedBased: done },
          () => `Executed BasedAI timelock operation ${operationId}\n  tx ${done.transactionHash}`,
        );
      }),
    );
}

function callLine(
  chain: ChainName,
  contract: string | null,
  fn: string | null,
  args: readonly unknown[] | null,
): string {
  const where = chain === "based" ? "[BasedAI] " : "[Ethereum] ";
  const name = `${contract ?? "?"}.${fn ?? "?"}`;
  return `${where}${name}${args ? ` with (${args.map(String).join(", ")})` : ""}`;
}

/** What `gov based-call` says of an operation's status. */
export function basedCallState(status: string, readyAt: number | null): string {
  switch (status) {
    case "unknown":
      return "not scheduled (yet): the attesters deliver the GOVERNANCE_CALL a few blocks after the Ethereum execution";
    case "waiting":
      return `scheduled, executable from ${isoTime(readyAt ?? 0)} (the guardian may cancel it until then)`;
    case "ready":
      return "ready: anyone may execute it";
    case "done":
      return "executed";
    default:
      return "cancelled by the guardian";
  }
}

/** What `gov show` prints. */
export function proposalLines(p: Proposal): string[] {
  const g = p.gigaBrains;
  const quorum =
    p.regime === "optimistic"
      ? "none (optimistic: passes unless more than half of the GigaBrains vote Against)"
      : `${g.quorum} of ${g.electorate} GigaBrains voting (${g.quorumReached ? "reached" : "not reached"})`;
  return [
    `Proposal ${p.proposalId}: ${p.state}`,
    `  title       ${p.title}`,
    `  proposer    ${p.proposer} (${p.regime === "optimistic" ? "optimistic period" : "GigaBrain regime"})`,
    `  vote        ${isoTime(p.voteStart)} … ${isoTime(p.voteEnd)}`,
    `  GigaBrains  for ${g.for}, against ${g.against}, abstain ${g.abstain} of ${g.electorate} in the snapshot set`,
    `  quorum      ${quorum}`,
    `  PEPE        for ${PEPE(p.pepe.for)}, against ${PEPE(p.pepe.against)}; veto quorum ${PEPE(p.pepe.vetoQuorum)}${p.pepe.vetoed ? " — VETOED" : ""}`,
    ...(p.pepe.locked && p.pepe.locked.for + p.pepe.locked.against > 0n
      ? [`  yours       ${PEPE(p.pepe.locked.for)} for, ${PEPE(p.pepe.locked.against)} against`]
      : []),
    ...(p.eta === null ? [] : [`  eta         ${isoTime(p.eta)}`]),
    ...(p.expiresAt === null
      ? []
      : [
          `  expires     ${isoTime(p.expiresAt)} (${p.state === "succeeded" ? "queue" : "execute"} it before)`,
        ]),
    ...p.actions.flatMap((a, i) => [
      `  call ${i + 1}      ${callLine(a.chain, a.contract, a.function, a.args)}`,
      ...(a.based ? [`              BasedAI timelock operation ${a.based.operationId}`] : []),
    ]),
  ];
}
