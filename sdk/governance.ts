/**
 * GigaBrain governance (contracts/governance/): proposals on Ethereum's GigaBrainGovernor, votes of
 * the GigaBrains (one per Brain in the proposal's snapshot set, cast by the Brain NFT's owner), the
 * Pepecoin house's lock-to-vote veto, and queue/execute through Ethereum's TimelockController.
 *
 * Calls for the BasedAI chain are proposed as calls to `GovernanceOutbox.send(target, value, data,
 * salt)`: executing the proposal emits `GovernanceCallSent`, which the attesters carry as a
 * GOVERNANCE_CALL message to the BasedAI chain's GovernanceCallReceiver; it schedules the call into
 * the BasedAI TimelockController, where anyone executes it once its delay has passed
 * (`getBasedCall`, `executeBasedCall`).
 *
 * Every action checks what the contracts would refuse before sending (and explains a refusal that
 * still happens with `explainGovernanceError`). Browser-safe.
 */
import {
  type Abi,
  type AbiFunction,
  type AbiParameter,
  type Address,
  type Hash,
  type Hex,
  decodeFunctionData,
  encodeAbiParameters,
  encodeFunctionData,
  erc20Abi,
  formatEther,
  getAddress,
  isAddress,
  keccak256,
  parseEventLogs,
  stringToHex,
  zeroHash,
} from "viem";
import * as abis from "../protocol/generated/abis";
import {
  brainNFTAbi,
  gigaBrainGovernorAbi,
  gigaBrainSetsAbi,
  governanceCallReceiverAbi,
  governanceOutboxAbi,
  pepecoinHouseAbi,
} from "../protocol/generated/abis";
import { type ChainContext, type ChainName, signerOf } from "./chain";
import {
  type OnStep,
  type Revert,
  ensureAllowance,
  eventOf,
  genericRefusal,
  sendContractCall,
} from "./contract-call";
import type { Deployments } from "./deployments";
import { BasedError } from "./errors";

// ───────────────────────────────────────── contracts ─────────────────────────────────────────

/** The governance contracts of a deployment (BasedAI-side ones only when it has a BasedAI chain). */
export type GovernanceContracts = {
  GigaBrainSets: Address;
  GigaBrainGovernor: Address;
  PepecoinHouse: Address;
  EthereumTimelock: Address;
  GovernanceOutbox: Address;
  EthereumGuardian?: Address;
  BasedTimelock?: Address;
  GovernanceCallReceiver?: Address;
  BasedGuardian?: Address;
};

const ETHEREUM_GOVERNANCE = [
  "GigaBrainSets",
  "GigaBrainGovernor",
  "PepecoinHouse",
  "EthereumTimelock",
  "GovernanceOutbox",
] as const;

const noGovernance = (missing: string) =>
  new BasedError(
    "environment",
    "NoGovernance",
    `This deployment has no governance (the deployments name no ${missing}).`,
    "Use a deployments file written after the governance contracts were deployed (BASED_DEPLOYMENTS).",
    { missing },
  );

/** The governance contracts named in the deployments, or `NoGovernance` when they are absent. */
export function governanceContracts(deployments: Deployments): GovernanceContracts {
  const eth = deployments.ethereum.contracts as Record<string, Address | undefined>;
  for (const name of ETHEREUM_GOVERNANCE) if (!eth[name]) throw noGovernance(`Ethereum ${name}`);
  const based = (deployments.based?.contracts ?? {}) as Record<string, Address | undefined>;
  return {
    GigaBrainSets: eth.GigaBrainSets!,
    GigaBrainGovernor: eth.GigaBrainGovernor!,
    PepecoinHouse: eth.PepecoinHouse!,
    EthereumTimelock: eth.EthereumTimelock!,
    GovernanceOutbox: eth.GovernanceOutbox!,
    EthereumGuardian: eth.EthereumGuardian,
    BasedTimelock: based.BasedTimelock,
    GovernanceCallReceiver: based.GovernanceCallReceiver,
    BasedGuardian: based.BasedGuardian,
  };
}

function basedGovernance(deployments: Deployments): {
  BasedTimelock: Address;
  GovernanceCallReceiver: Address;
} {
  const based = (deployments.based?.contracts ?? {}) as Record<string, Address | undefined>;
  for (const name of ["BasedTimelock", "GovernanceCallReceiver"] as const)
    if (!based[name]) throw noGovernance(`BasedAI ${name}`);
  return { BasedTimelock: based.BasedTimelock!, GovernanceCallReceiver: based.GovernanceCallReceiver! };
}

// ───────────────────────────────────────── ABIs by deployment name ─────────────────────────────────────────

/** Deployment names whose contract is not named after them (the ABIs all come from the build, or viem's ERC-20). */
const ABI_ALIASES: Record<string, string> = {
  EthereumGuardian: "guardianMultisigAbi",
  BasedGuardian: "guardianMultisigAbi",
  EthereumTimelock: "timelockControllerAbi",
  BasedTimelock: "timelockControllerAbi",
};

/** The ABI of the deployments' contract `name` from protocol/generated/abis.ts; undefined when it has none. */
export function abiOfDeployed(name: string): Abi | undefined {
  if (name === "Pepecoin") return erc20Abi;
  const exportName = ABI_ALIASES[name] ?? `${name.charAt(0).toLowerCase()}${name.slice(1)}Abi`;
  return (abis as Record<string, Abi | undefined>)[exportName];
}

/** The Ethereum and BasedAI TimelockController's ABI, when the build exports it. */
function timelockAbi(): Abi {
  const abi = abiOfDeployed("BasedTimelock");
  if (abi) return abi;
  throw new BasedError(
    "environment",
    "NoTimelockAbi",
    "protocol/generated/abis.ts has no TimelockController ABI, which executing a BasedAI timelock operation needs.",
    "Export @openzeppelin/contracts/governance/TimelockController.sol:TimelockController in scripts/hardhat/abi-export.ts and compile.",
  );
}

// ───────────────────────────────────────── parsing calls ─────────────────────────────────────────

/** One call a proposal makes, resolved against the deployments and the contract's ABI. */
export type GovernanceCall = {
  /** The chain the call runs on ("based": through GovernanceOutbox and the BasedAI timelock). */
  chain: ChainName;
  /** The deployments' name of the called contract. */
  contract: string;
  target: Address;
  /** The function's signature, e.g. `setVetoQuorum(uint256)`. */
  function: string;
  /** The arguments as parsed (bigints as decimal strings in JSON). */
  args: readonly unknown[];
  value: bigint;
  data: Hex;
};

const invalidCall = (raw: string, why: string, hint?: string) =>
  new BasedError("input", "InvalidCall", `Invalid call "${raw}": ${why}.`, hint, { call: raw });

/** Splits `a, [b, c], "d,e"` at its top-level commas. */
function splitArgs(text: string, raw: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let current = "";
  for (const ch of text) {
    if (quote) {
      current += ch;
      if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === "[") depth++;
    else if (ch === "]") depth--;
    if (depth < 0) throw invalidCall(raw, "a ] closes no [");
    if (ch === "," && depth === 0) {
      parts.push(current.trim());
      current = "";
    } else current += ch;
  }
  if (quote) throw invalidCall(raw, `a ${quote} quote is not closed`);
  if (depth !== 0) throw invalidCall(raw, "a [ is not closed");
  if (current.trim() !== "" || parts.length > 0) parts.push(current.trim());
  return parts;
}

const signatureOf = (fn: AbiFunction) => `${fn.name}(${fn.inputs.map((i) => i.type).join(",")})`;

/** `1000`, `0x3e8`, `1000e18` or `1.5e18` as an integer (exact). */
function parseInteger(text: string): bigint | undefined {
  if (/^-?\d+$/.test(text)) return BigInt(text);
  if (/^0x[0-9a-fA-F]+$/.test(text)) return BigInt(text);
  const sci = /^(-?)(\d+)(?:\.(\d+))?e(\d+)$/.exec(text);
  if (sci) {
    const [, sign, whole, fraction = "", exp] = sci;
    const e = Number(exp);
    if (fraction.length > e) return undefined;
    const value = BigInt(whole! + fraction.padEnd(e, "0"));
    return sign === "-" ? -value : value;
  }
  return undefined;
}

/** One argument of ABI type `param.type` from its text; `names` resolves deployment names to addresses. */
function parseArg(
  text: string,
  param: AbiParameter,
  type: string,
  names: Record<string, Address>,
  fail: (why: string) => BasedError,
): unknown {
  const label = `${param.name ? `${param.name} ` : ""}(${type})`;
  const array = /^(.*)\[(\d*)\]$/.exec(type);
  if (array) {
    if (!text.startsWith("[") || !text.endsWith("]")) throw fail(`${label} must be a list such as [a, b]`);
    const items = splitArgs(text.slice(1, -1), text);
    if (array[2] !== "" && items.length !== Number(array[2]))
      throw fail(`${label} takes exactly ${array[2]} items, got ${items.length}`);
    return items.map((item) => parseArg(item, param, array[1]!, names, fail));
  }
  const unquoted = /^(["']).*\1$/s.test(text) ? text.slice(1, -1) : text;
  if (type === "address") {
    const named = names[unquoted];
    if (named) return named;
    if (isAddress(unquoted, { strict: false })) return getAddress(unquoted);
    throw fail(`${label} must be a 0x address or a contract name of the deployments, got "${text}"`);
  }
  const int = /^(u?)int(\d*)$/.exec(type);
  if (int) {
    const value = parseInteger(unquoted);
    const bits = BigInt(int[2] || "256");
    const signed = int[1] === "";
    if (value === undefined)
      throw fail(`${label} must be a whole number (e.g. 1000, 0x3e8 or 1000e18), got "${text}"`);
    const min = signed ? -(1n << (bits - 1n)) : 0n;
    const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
    if (value < min || value > max) throw fail(`${label} is out of range: ${value}`);
    return value;
  }
  if (type === "bool") {
    if (unquoted === "true") return true;
    if (unquoted === "false") return false;
    throw fail(`${label} must be true or false, got "${text}"`);
  }
  if (type === "string") return unquoted;
  const bytes = /^bytes(\d*)$/.exec(type);
  if (bytes) {
    if (!/^0x([0-9a-fA-F]{2})*$/.test(unquoted))
      throw fail(`${label} must be 0x-prefixed hex bytes, got "${text}"`);
    const size = (unquoted.length - 2) / 2;
    if (bytes[1] !== "" && size !== Number(bytes[1]))
      throw fail(`${label} must be exactly ${bytes[1]} bytes, got ${size}`);
    return unquoted.toLowerCase() as Hex;
  }
  throw fail(`arguments of type ${type} (${param.name ?? "unnamed"}) are not supported on the command line`);
}

/** The deployments' contract names and addresses of one chain. */
function contractsOf(deployments: Deployments, chain: ChainName): Record<string, Address> {
  return (
    chain === "ethereum" ? deployments.ethereum.contracts : (deployments.based?.contracts ?? {})
  ) as Record<string, Address>;
}

/**
 * Parses `<contract>.<function>(<args>)` (optionally prefixed `based:` or `ethereum:`) against the
 * deployments and the contract's ABI: the contract is a deployments name, the function one of its
 * state-changing functions, each argument parsed by its ABI type (addresses may be deployments
 * names; integers `1000`, `0x3e8`, `1000e18`; lists `[a, b]`; strings quoted or not). Without a
 * chain, the contract's name says it, when only one chain has it.
 */
export function parseGovernanceCall(
  deployments: Deployments,
  raw: string,
  chain?: ChainName,
): GovernanceCall {
  let text = raw.trim();
  const prefix = /^(based|ethereum):/.exec(text);
  if (prefix) {
    chain = prefix[1] as ChainName;
    text = text.slice(prefix[0].length);
  }
  const m = /^([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$/s.exec(text);
  if (!m)
    throw invalidCall(
      raw,
      "expected <contract>.<function>(<args>), e.g. PepecoinHouse.setVetoQuorum(1000000e18)",
    );
  const [, contract, fnName, argText] = m as unknown as [string, string, string, string];
  const onEthereum = contract in contractsOf(deployments, "ethereum");
  const onBased = contract in contractsOf(deployments, "based");
  if (!chain) {
    if (onEthereum && onBased)
      throw invalidCall(
        raw,
        `${contract} is deployed on both chains`,
        "Say which chain (based or ethereum), or prefix the call with based: or ethereum:.",
      );
    chain = onBased ? "based" : "ethereum";
  }
  const names = contractsOf(deployments, chain);
  const target = names[contract];
  if (!target) {
    const known = Object.keys(names).sort().join(", ");
    throw invalidCall(
      raw,
      `the deployments name no ${contract} on ${chain === "based" ? "the BasedAI chain" : "Ethereum"}`,
      `Contracts there: ${known}.`,
    );
  }
  const abi = abiOfDeployed(contract);
  if (!abi) throw invalidCall(raw, `protocol/generated/abis.ts has no ABI for ${contract}`);
  const writable = abi.filter(
    (i): i is AbiFunction =>
      i.type === "function" &&
      i.name === fnName &&
      i.stateMutability !== "view" &&
      i.stateMutability !== "pure",
  );
  if (writable.length === 0) {
    const fns = abi
      .filter(
        (i): i is AbiFunction =>
          i.type === "function" && i.stateMutability !== "view" && i.stateMutability !== "pure",
      )
      .map(signatureOf)
      .sort();
    throw invalidCall(
      raw,
      `${contract} has no state-changing function ${fnName}`,
      `Its functions: ${fns.join(", ")}.`,
    );
  }
  const texts = splitArgs(argText, raw);
  const candidates = writable.filter((f) => f.inputs.length === texts.length);
  if (candidates.length !== 1) {
    throw invalidCall(
      raw,
      candidates.length === 0
        ? `${contract}.${fnName} takes ${writable.map((f) => `${f.inputs.length} argument(s): ${signatureOf(f)}`).join(" or ")}; got ${texts.length}`
        : `${contract}.${fnName} is overloaded with ${texts.length} arguments`,
    );
  }
  const fn = candidates[0]!;
  const args = fn.inputs.map((param, i) =>
    parseArg(texts[i]!, param, param.type, names, (why) => invalidCall(raw, `argument ${i + 1}, ${why}`)),
  );
  const data = encodeFunctionData({ abi: [fn], functionName: fn.name, args });
  return { chain, contract, target, function: signatureOf(fn), args, value: 0n, data };
}

// ───────────────────────────────────────── proposing ─────────────────────────────────────────

/** A proposal's action as the governor holds it. */
export type ProposalAction = { target: Address; value: bigint; data: Hex };

/** The salt of a BasedAI-chain call: distinct per proposal (its description) and per call. */
export function basedCallSalt(description: string, index: number): Hex {
  return keccak256(
    encodeAbiParameters([{ type: "string" }, { type: "uint256" }], [description, BigInt(index)]),
  );
}

/**
 * The governor's actions for `calls`: Ethereum calls as they are, BasedAI-chain calls wrapped into
 * `GovernanceOutbox.send(target, value, data, salt)`.
 */
export function proposalActions(
  contracts: Pick<GovernanceContracts, "GovernanceOutbox">,
  calls: readonly GovernanceCall[],
  description: string,
): ProposalAction[] {
  return calls.map((c, i) =>
    c.chain === "ethereum"
      ? { target: c.target, value: c.value, data: c.data }
      : {
          target: contracts.GovernanceOutbox,
          value: 0n,
          data: encodeFunctionData({
            abi: governanceOutboxAbi,
            functionName: "send",
            args: [c.target, c.value, c.data, basedCallSalt(description, i)],
          }),
        },
  );
}

/** `title` with the `#proposer=<address>` suffix that reserves the description for its proposer. */
export function proposalDescription(title: string, proposer: Address): string {
  return `${title}\n\n#proposer=${proposer.toLowerCase()}`;
}

/** The title of a description (without its `#proposer=` suffix). */
export function proposalTitle(description: string): string {
  return description.replace(/\s*#proposer=0x[0-9a-fA-F]{40}$/, "");
}

export type Regime = "optimistic" | "gigabrain";

export type Proposed = {
  proposalId: bigint;
  proposer: Address;
  /** The Brain the proposal was made with (GigaBrain regime); null in the optimistic period. */
  brainId: number | null;
  regime: Regime;
  description: string;
  descriptionHash: Hex;
  calls: GovernanceCall[];
  actions: ProposalAction[];
  /** Vote start (the snapshot) and end, Unix seconds. */
  voteStart: number;
  voteEnd: number;
  transactionHash: Hash;
};

const governorRead = (ctx: ChainContext) =>
  ({ address: governanceContracts(ctx.deployments).GigaBrainGovernor, abi: gigaBrainGovernorAbi }) as const;

async function now(ctx: ChainContext): Promise<bigint> {
  return (await ctx.publicClient.getBlock()).timestamp;
}

/**
 * Proposes `calls` under `title` (the description gets the signer's `#proposer=` suffix): in the
 * optimistic period only the Labs proposer may, with `propose`; after it the owner of a current
 * GigaBrain, naming it (`brainId`, `proposeWithBrain`). Refused before sending when the regime,
 * the proposer or the Brain would be refused, or the same proposal exists already.
 */
export async function propose(
  ctx: ChainContext,
  options: { title: string; calls: readonly GovernanceCall[]; brainId?: number; onStep?: OnStep },
): Promise<Proposed> {
  const { title, calls, brainId, onStep } = options;
  if (title.trim() === "") throw new BasedError("input", "InvalidTitle", "A proposal needs a title.");
  if (calls.length === 0)
    throw new BasedError(
      "input",
      "NoCalls",
      "A proposal needs at least one call.",
      "Name each with <contract>.<function>(<args>).",
    );
  const contracts = governanceContracts(ctx.deployments);
  const gov = governorRead(ctx);
  const proposer = signerOf(ctx);
  onStep?.("check", "reading the governor's regime");
  const [end, labs, t] = await Promise.all([
    ctx.publicClient.readContract({ ...gov, functionName: "optimisticPeriodEnd" }),
    ctx.publicClient.readContract({ ...gov, functionName: "labsProposer" }),
    now(ctx),
  ]);
  // The transaction lands at a later timestamp: a second of margin at the boundary.
  const optimistic = t + 1n < end;
  if (optimistic) {
    if (brainId !== undefined) throw explainGovernanceError({ name: "OptimisticPeriodActive", args: [end] });
    if (getAddress(labs) !== proposer)
      throw explainGovernanceError({ name: "NotLabsProposer", args: [proposer] });
  } else {
    if (brainId === undefined) throw explainGovernanceError({ name: "OptimisticPeriodOver", args: [end] });
    const sets = contracts.GigaBrainSets;
    const isGiga = await ctx.publicClient.readContract({
      address: sets,
      abi: gigaBrainSetsAbi,
      functionName: "isGigaBrain",
      args: [BigInt(brainId)],
    });
    if (!isGiga) throw explainGovernanceError({ name: "NotGigaBrain", args: [BigInt(brainId), t] });
    const owner = await ownerOfBrain(ctx, brainId);
    if (owner !== proposer)
      throw explainGovernanceError({ name: "NotBrainOwner", args: [BigInt(brainId), proposer, owner] });
  }
  const description = proposalDescription(title.trim(), proposer);
  const descriptionHash = keccak256(stringToHex(description));
  const actions = proposalActions(contracts, calls, description);
  const targets = actions.map((a) => a.target);
  const values = actions.map((a) => a.value);
  const calldatas = actions.map((a) => a.data);
  const proposalId = await ctx.publicClient.readContract({
    ...gov,
    functionName: "hashProposal",
    args: [targets, values, calldatas, descriptionHash],
  });
  const snapshot = await ctx.publicClient.readContract({
    ...gov,
    functionName: "proposalSnapshot",
    args: [proposalId],
  });
  if (snapshot !== 0n) {
    throw new BasedError(
      "refused",
      "ProposalExists",
      `The same proposal (these calls with this title, by ${proposer}) exists already: ${proposalId}.`,
      "Give the new proposal another title.",
      { proposalId: proposalId.toString() },
    );
  }
  const label = `the proposal "${title.trim()}"`;
  const receipt =
    brainId === undefined
      ? await sendContractCall(
          ctx,
          { ...gov, functionName: "propose", args: [targets, values, calldatas, description] },
          { explain: explainGovernanceError, label, onStep },
        )
      : await sendContractCall(
          ctx,
          {
            ...gov,
            functionName: "proposeWithBrain",
            args: [BigInt(brainId), targets, values, calldatas, description],
          },
          { explain: explainGovernanceError, label, onStep },
        );
  const event = eventOf(receipt, gigaBrainGovernorAbi, "ProposalCreated");
  return {
    proposalId: event.args.proposalId,
    proposer,
    brainId: brainId ?? null,
    regime: optimistic ? "optimistic" : "gigabrain",
    description,
    descriptionHash,
    calls: [...calls],
    actions,
    voteStart: Number(event.args.voteStart),
    voteEnd: Number(event.args.voteEnd),
    transactionHash: receipt.transactionHash,
  };
}

async function ownerOfBrain(ctx: ChainContext, brainId: number): Promise<Address> {
  try {
    return getAddress(
      await ctx.publicClient.readContract({
        address: ctx.deployments.ethereum.contracts.BrainNFT,
        abi: brainNFTAbi,
        functionName: "ownerOf",
        args: [BigInt(brainId)],
      }),
    );
  } catch {
    throw new BasedError("refused", "BrainNotFound", `Brain #${brainId} does not exist.`, undefined, {
      brainId: String(brainId),
    });
  }
}

// ───────────────────────────────────────── GigaBrains ─────────────────────────────────────────

export type GigaBrainSet = {
  /** The set's version (0: no set delivered yet). */
  version: number;
  /** The BasedAI block it was taken at. */
  basedBlock: number;
  /** Ethereum time (Unix seconds) from which it is in force. */
  since: number;
  brainIds: number[];
};

/** The GigaBrain set in force now (or `version`), with the BasedAI block it is from. */
export async function getGigaBrains(ctx: ChainContext, version?: number): Promise<GigaBrainSet> {
  const sets = {
    address: governanceContracts(ctx.deployments).GigaBrainSets,
    abi: gigaBrainSetsAbi,
  } as const;
  const v =
    version === undefined
      ? await ctx.publicClient.readContract({ ...sets, functionName: "versionCount" })
      : BigInt(version);
  const [info, bitmap] = await Promise.all([
    ctx.publicClient.readContract({ ...sets, functionName: "setInfo", args: [v] }),
    ctx.publicClient.readContract({ ...sets, functionName: "bitmapOf", args: [v] }),
  ]);
  const brainIds: number[] = [];
  bitmap.forEach((word, w) => {
    for (let b = 0; b < 256; b++) if ((word >> BigInt(b)) & 1n) brainIds.push(w * 256 + b);
  });
  return { version: Number(v), basedBlock: Number(info.basedBlock), since: Number(info.since), brainIds };
}

// ───────────────────────────────────────── reading proposals ─────────────────────────────────────────

export const PROPOSAL_STATES = [
  "pending",
  "active",
  "canceled",
  "defeated",
  "succeeded",
  "queued",
  "expired",
  "executed",
] as const;
export type ProposalState = (typeof PROPOSAL_STATES)[number];

type Created = {
  proposalId: bigint;
  proposer: Address;
  actions: ProposalAction[];
  description: string;
  voteStart: bigint;
  voteEnd: bigint;
  blockNumber: bigint;
  transactionHash: Hash;
};

/** Every ProposalCreated of the governor since the deployment's first block. */
async function createdProposals(ctx: ChainContext): Promise<Created[]> {
  const logs = await ctx.publicClient.getContractEvents({
    ...governorRead(ctx),
    eventName: "ProposalCreated",
    fromBlock: BigInt(ctx.deployments.ethereum.startBlock),
    toBlock: "latest",
  });
  return logs.map((log) => {
    const a = log.args as {
      proposalId: bigint;
      proposer: Address;
      targets: readonly Address[];
      values: readonly bigint[];
      calldatas: readonly Hex[];
      voteStart: bigint;
      voteEnd: bigint;
      description: string;
    };
    return {
      proposalId: a.proposalId,
      proposer: a.proposer,
      actions: a.targets.map((target, i) => ({ target, value: a.values[i]!, data: a.calldatas[i]! })),
      description: a.description,
      voteStart: a.voteStart,
      voteEnd: a.voteEnd,
      blockNumber: log.blockNumber,
      transactionHash: log.transactionHash,
    };
  });
}

async function createdProposal(ctx: ChainContext, proposalId: bigint): Promise<Created> {
  const found = (await createdProposals(ctx)).find((p) => p.proposalId === proposalId);
  if (!found) {
    throw new BasedError(
      "refused",
      "ProposalNotFound",
      `No proposal ${proposalId} on this governor.`,
      "List the proposals to find its id.",
      { proposalId: proposalId.toString() },
    );
  }
  return found;
}

export type ProposalSummary = {
  proposalId: bigint;
  title: string;
  proposer: Address;
  state: ProposalState;
  voteStart: number;
  /** The deadline, with any late-quorum or veto extension. */
  voteEnd: number;
};

/** Every proposal of the governor, newest first. */
export async function listProposals(ctx: ChainContext): Promise<ProposalSummary[]> {
  const gov = governorRead(ctx);
  const created = await createdProposals(ctx);
  const rows = await Promise.all(
    created.map(async (p) => {
      const [state, deadline] = await Promise.all([
        ctx.publicClient.readContract({ ...gov, functionName: "state", args: [p.proposalId] }),
        ctx.publicClient.readContract({ ...gov, functionName: "proposalDeadline", args: [p.proposalId] }),
      ]);
      return {
        proposalId: p.proposalId,
        title: proposalTitle(p.description),
        proposer: p.proposer,
        state: PROPOSAL_STATES[state] ?? "pending",
        voteStart: Number(p.voteStart),
        voteEnd: Number(deadline),
      };
    }),
  );
  return rows.reverse();
}

/** One action of a proposal, decoded when its target is a deployments contract with an ABI. */
export type DecodedAction = ProposalAction & {
  chain: ChainName;
  /** The deployments' name of the contract finally called (on the BasedAI chain for a wrapped call). */
  contract: string | null;
  /** `name(types)`, when decoded. */
  function: string | null;
  args: readonly unknown[] | null;
  /** For a BasedAI-chain call: the call the BasedAI timelock will make, its salt and operation id there. */
  based: { target: Address; value: bigint; data: Hex; salt: Hex; operationId: Hex } | null;
};

function nameOf(deployments: Deployments, chain: ChainName, address: Address): string | null {
  const entry = Object.entries(contractsOf(deployments, chain)).find(
    ([, a]) => a.toLowerCase() === address.toLowerCase(),
  );
  return entry?.[0] ?? null;
}

function decodeCall(
  deployments: Deployments,
  chain: ChainName,
  target: Address,
  data: Hex,
): { contract: string | null; function: string | null; args: readonly unknown[] | null } {
  const contract = nameOf(deployments, chain, target);
  const abi = contract ? abiOfDeployed(contract) : undefined;
  if (!abi) return { contract, function: null, args: null };
  try {
    const decoded = decodeFunctionData({ abi, data });
    const fn = abi.find(
      (i): i is AbiFunction =>
        i.type === "function" &&
        i.name === decoded.functionName &&
        i.inputs.length === (decoded.args?.length ?? 0),
    );
    return { contract, function: fn ? signatureOf(fn) : decoded.functionName, args: decoded.args ?? [] };
  } catch {
    return { contract, function: null, args: null };
  }
}

/** The BasedAI timelock's operation id of a call (`hashOperation(target, value, data, 0, salt)`). */
export function basedOperationId(target: Address, value: bigint, data: Hex, salt: Hex): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "address" }, { type: "uint256" }, { type: "bytes" }, { type: "bytes32" }, { type: "bytes32" }],
      [target, value, data, zeroHash, salt],
    ),
  );
}

/** A proposal's actions decoded: Ethereum calls, and BasedAI-chain calls out of their GovernanceOutbox.send. */
export function decodeActions(deployments: Deployments, actions: readonly ProposalAction[]): DecodedAction[] {
  const outbox = (deployments.ethereum.contracts as Record<string, Address | undefined>).GovernanceOutbox;
  return actions.map((a) => {
    if (outbox && a.target.toLowerCase() === outbox.toLowerCase()) {
      try {
        const { functionName, args } = decodeFunctionData({ abi: governanceOutboxAbi, data: a.data });
        if (functionName === "send") {
          const [target, value, data, salt] = args;
          return {
            ...a,
            chain: "based",
            ...decodeCall(deployments, "based", target, data),
            based: { target, value, data, salt, operationId: basedOperationId(target, value, data, salt) },
          };
        }
      } catch {
        // Not a send: shown as a plain Ethereum call below.
      }
    }
    return { ...a, chain: "ethereum", ...decodeCall(deployments, "ethereum", a.target, a.data), based: null };
  });
}

export type Proposal = ProposalSummary & {
  description: string;
  descriptionHash: Hex;
  regime: Regime;
  /** Unix seconds of the latest block, for the times below. */
  now: number;
  gigaBrains: {
    for: number;
    against: number;
    abstain: number;
    /** GigaBrains in the snapshot set: the electorate. */
    electorate: number;
    /** Votes needed (For + Against + Abstain) in the GigaBrain regime; 0 for an optimistic proposal. */
    quorum: number;
    quorumReached: boolean;
  };
  pepe: {
    /** PEPE wei locked For and Against. */
    for: bigint;
    against: bigint;
    /** The veto quorum this proposal is held to (fixed at its first lock; the house's current one before). */
    vetoQuorum: bigint;
    vetoed: boolean;
    /** What `account` has locked on it (not yet unlocked), when asked. */
    locked: { account: Address; for: bigint; against: bigint } | null;
  };
  /** When the proposal can be executed (Unix seconds), once queued; null before. */
  eta: number | null;
  /** Until when a succeeded proposal can be queued, or a queued one executed; null otherwise. */
  expiresAt: number | null;
  actions: DecodedAction[];
  transactionHash: Hash;
};

/** One proposal: its state, both houses' tallies, quorum, eta and its decoded calls. */
export async function getProposal(
  ctx: ChainContext,
  proposalId: bigint,
  options: { account?: Address } = {},
): Promise<Proposal> {
  const gov = governorRead(ctx);
  const houseAddr = governanceContracts(ctx.deployments).PepecoinHouse;
  const house = { address: houseAddr, abi: pepecoinHouseAbi } as const;
  const p = await createdProposal(ctx, proposalId);
  const id = proposalId;
  const [state, deadline, snapshot, tally, electorate, eta, grace, houseTally, vetoed, vetoQuorum, block] =
    await Promise.all([
      ctx.publicClient.readContract({ ...gov, functionName: "state", args: [id] }),
      ctx.publicClient.readContract({ ...gov, functionName: "proposalDeadline", args: [id] }),
      ctx.publicClient.readContract({ ...gov, functionName: "proposalSnapshot", args: [id] }),
      ctx.publicClient.readContract({ ...gov, functionName: "proposalTally", args: [id] }),
      ctx.publicClient.readContract({ ...gov, functionName: "proposalElectorate", args: [id] }),
      ctx.publicClient.readContract({ ...gov, functionName: "proposalEta", args: [id] }),
      ctx.publicClient.readContract({ ...gov, functionName: "gracePeriod" }),
      ctx.publicClient.readContract({ ...house, functionName: "tallyOf", args: [id] }),
      ctx.publicClient.readContract({ ...house, functionName: "vetoed", args: [id] }),
      ctx.publicClient.readContract({ ...house, functionName: "vetoQuorum" }),
      ctx.publicClient.getBlock(),
    ]);
  const locked = options.account
    ? await ctx.publicClient.readContract({ ...house, functionName: "lockedOf", args: [id, options.account] })
    : undefined;
  const s = PROPOSAL_STATES[state] ?? "pending";
  const votes = tally.forVotes + tally.againstVotes + tally.abstainVotes;
  const n = Number(electorate);
  const quorum = tally.optimistic ? 0 : Math.ceil(n / 3);
  return {
    proposalId: id,
    title: proposalTitle(p.description),
    proposer: p.proposer,
    state: s,
    voteStart: Number(snapshot),
    voteEnd: Number(deadline),
    description: p.description,
    descriptionHash: keccak256(stringToHex(p.description)),
    regime: tally.optimistic ? "optimistic" : "gigabrain",
    now: Number(block.timestamp),
    gigaBrains: {
      for: tally.forVotes,
      against: tally.againstVotes,
      abstain: tally.abstainVotes,
      electorate: n,
      quorum,
      quorumReached: tally.optimistic || votes * 3 >= n,
    },
    pepe: {
      for: houseTally.forLocked,
      against: houseTally.againstLocked,
      vetoQuorum: houseTally.started ? houseTally.quorum : vetoQuorum,
      vetoed,
      locked:
        options.account && locked ? { account: options.account, against: locked[0], for: locked[1] } : null,
    },
    eta: eta === 0n ? null : Number(eta),
    expiresAt: s === "succeeded" ? Number(deadline) + grace : s === "queued" ? Number(eta) + grace : null,
    actions: decodeActions(ctx.deployments, p.actions),
    transactionHash: p.transactionHash,
  };
}

// ───────────────────────────────────────── voting ─────────────────────────────────────────

export const SUPPORT = { against: 0, for: 1, abstain: 2 } as const;
export type Support = keyof typeof SUPPORT;

export type Voted = {
  proposalId: bigint;
  brainId: number;
  voter: Address;
  support: Support;
  transactionHash: Hash;
};

const stateOf = async (ctx: ChainContext, proposalId: bigint): Promise<ProposalState> =>
  PROPOSAL_STATES[
    await ctx.publicClient.readContract({ ...governorRead(ctx), functionName: "state", args: [proposalId] })
  ] ?? "pending";

/** Refuses when the proposal does not exist or its state is not one of `expected`. */
async function assertState(
  ctx: ChainContext,
  proposalId: bigint,
  expected: readonly ProposalState[],
  action: string,
): Promise<ProposalState> {
  const snapshot = await ctx.publicClient.readContract({
    ...governorRead(ctx),
    functionName: "proposalSnapshot",
    args: [proposalId],
  });
  if (snapshot === 0n)
    throw explainGovernanceError({ name: "GovernorNonexistentProposal", args: [proposalId] });
  const state = await stateOf(ctx, proposalId);
  if (!expected.includes(state)) throw wrongState(proposalId, state, expected, action);
  return state;
}

function wrongState(
  proposalId: bigint,
  state: ProposalState,
  expected: readonly ProposalState[],
  action: string,
): BasedError {
  const id = proposalId.toString();
  const details = { proposalId: id, state };
  if (action === "vote" || action === "lock") {
    const what = action === "vote" ? "Votes are" : "PEPE is locked";
    return state === "pending"
      ? new BasedError(
          "refused",
          "VoteNotOpen",
          `Proposal ${id} is pending: its vote has not started.`,
          `${what} taken from its vote start.`,
          details,
        )
      : new BasedError(
          "refused",
          "VoteClosed",
          `Proposal ${id}'s vote is closed (it is ${state}).`,
          `${what} taken only while the vote is active.`,
          details,
        );
  }
  return new BasedError(
    "refused",
    "WrongProposalState",
    `Proposal ${id} is ${state}: to ${action} it, it must be ${expected.join(" or ")}.`,
    undefined,
    details,
  );
}

/**
 * Casts GigaBrain `brainId`'s vote on `proposalId`; refused before sending when the vote is not
 * open, the Brain is not a GigaBrain of the proposal's snapshot, the signer does not own it, or it
 * voted already.
 */
export async function castVote(
  ctx: ChainContext,
  options: { proposalId: bigint; brainId: number; support: Support; onStep?: OnStep },
): Promise<Voted> {
  const { proposalId, brainId, support, onStep } = options;
  const gov = governorRead(ctx);
  const voter = signerOf(ctx);
  onStep?.("check", `checking proposal ${proposalId} and Brain #${brainId}`);
  await assertState(ctx, proposalId, ["active"], "vote");
  const snapshot = await ctx.publicClient.readContract({
    ...gov,
    functionName: "proposalSnapshot",
    args: [proposalId],
  });
  const id = BigInt(brainId);
  const isGiga = await ctx.publicClient.readContract({
    address: governanceContracts(ctx.deployments).GigaBrainSets,
    abi: gigaBrainSetsAbi,
    functionName: "isGigaBrainAt",
    args: [id, snapshot],
  });
  if (!isGiga) throw explainGovernanceError({ name: "NotGigaBrain", args: [id, snapshot] });
  const owner = await ownerOfBrain(ctx, brainId);
  if (owner !== voter) throw explainGovernanceError({ name: "NotBrainOwner", args: [id, voter, owner] });
  const voted = await ctx.publicClient.readContract({
    ...gov,
    functionName: "hasBrainVoted",
    args: [proposalId, id],
  });
  if (voted) throw explainGovernanceError({ name: "BrainAlreadyVoted", args: [proposalId, id] });
  const receipt = await sendContractCall(
    ctx,
    { ...gov, functionName: "castBrainVote", args: [proposalId, id, SUPPORT[support]] },
    {
      explain: explainGovernanceError,
      label: `Brain #${brainId}'s vote ${support} on proposal ${proposalId}`,
      onStep,
    },
  );
  eventOf(receipt, gigaBrainGovernorAbi, "BrainVoteCast");
  return { proposalId, brainId, voter, support, transactionHash: receipt.transactionHash };
}

// ───────────────────────────────────────── the Pepecoin house ─────────────────────────────────────────

const PEPE = (wei: bigint) => `${formatEther(wei)} PEPE`;

export type Locked = {
  proposalId: bigint;
  account: Address;
  support: "for" | "against";
  amount: bigint;
  /** All the account has locked on the proposal now, each side. */
  lockedFor: bigint;
  lockedAgainst: bigint;
  vetoed: boolean;
  approvalHash: Hash | null;
  transactionHash: Hash;
};

/**
 * Locks `amount` PEPE wei of the signer on `proposalId`, For or Against, until its vote is over
 * (approving PEPE to the house first when the allowance is short). Refused before sending when
 * the vote is not active or the balance is short.
 */
export async function lockPepe(
  ctx: ChainContext,
  options: { proposalId: bigint; support: "for" | "against"; amount: bigint; onStep?: OnStep },
): Promise<Locked> {
  const { proposalId, support, amount, onStep } = options;
  if (amount <= 0n) throw explainGovernanceError({ name: "ZeroAmount", args: [] });
  const houseAddr = governanceContracts(ctx.deployments).PepecoinHouse;
  const house = { address: houseAddr, abi: pepecoinHouseAbi } as const;
  const account = signerOf(ctx);
  onStep?.("check", `checking proposal ${proposalId}`);
  await assertState(ctx, proposalId, ["active"], "lock");
  const token = await ctx.publicClient.readContract({ ...house, functionName: "pepecoin" });
  const approvalHash = await ensureAllowance(ctx, {
    token,
    spender: { address: houseAddr, name: "the Pepecoin house" },
    amount,
    describe: PEPE,
    onStep,
    insufficient: (balance) =>
      new BasedError(
        "refused",
        "InsufficientPepe",
        `Not enough PEPE to lock: ${PEPE(amount)} asked, ${account} has ${PEPE(balance)}.`,
        "Lock at most your PEPE balance.",
        { needed: amount.toString(), balance: balance.toString() },
      ),
  });
  const receipt = await sendContractCall(
    ctx,
    { ...house, functionName: "lock", args: [proposalId, support === "for" ? 1 : 0, amount] },
    {
      explain: explainGovernanceError,
      label: `the lock of ${PEPE(amount)} ${support} proposal ${proposalId}`,
      onStep,
    },
  );
  const event = eventOf(receipt, pepecoinHouseAbi, "Locked");
  const [[against, forLocked], vetoed] = await Promise.all([
    ctx.publicClient.readContract({ ...house, functionName: "lockedOf", args: [proposalId, account] }),
    ctx.publicClient.readContract({ ...house, functionName: "vetoed", args: [proposalId] }),
  ]);
  return {
    proposalId,
    account,
    support,
    amount: event.args.amount,
    lockedFor: forLocked,
    lockedAgainst: against,
    vetoed,
    approvalHash: approvalHash ?? null,
    transactionHash: receipt.transactionHash,
  };
}

export type Unlocked = { proposalId: bigint; account: Address; amount: bigint; transactionHash: Hash };

/** Takes back all the PEPE the signer locked on `proposalId`, once its vote is over. */
export async function unlockPepe(
  ctx: ChainContext,
  proposalId: bigint,
  options: { onStep?: OnStep } = {},
): Promise<Unlocked> {
  const { onStep } = options;
  const house = {
    address: governanceContracts(ctx.deployments).PepecoinHouse,
    abi: pepecoinHouseAbi,
  } as const;
  const account = signerOf(ctx);
  onStep?.("check", `checking proposal ${proposalId}`);
  await assertState(
    ctx,
    proposalId,
    PROPOSAL_STATES.filter((s) => s !== "pending" && s !== "active"),
    "unlock PEPE from",
  ).catch((err: unknown) => {
    if (err instanceof BasedError && err.code === "WrongProposalState")
      throw explainGovernanceError({
        name: "VoteNotOver",
        args: [proposalId, PROPOSAL_STATES.indexOf(err.details!.state as ProposalState)],
      });
    throw err;
  });
  const [against, forLocked] = await ctx.publicClient.readContract({
    ...house,
    functionName: "lockedOf",
    args: [proposalId, account],
  });
  if (against + forLocked === 0n)
    throw explainGovernanceError({ name: "NothingLocked", args: [proposalId, account] });
  const receipt = await sendContractCall(
    ctx,
    { ...house, functionName: "unlock", args: [proposalId] },
    { explain: explainGovernanceError, label: `unlocking PEPE from proposal ${proposalId}`, onStep },
  );
  const event = eventOf(receipt, pepecoinHouseAbi, "Unlocked");
  return { proposalId, account, amount: event.args.amount, transactionHash: receipt.transactionHash };
}

// ───────────────────────────────────────── lifecycle ─────────────────────────────────────────

const callArgs = (p: Created) =>
  [
    p.actions.map((a) => a.target),
    p.actions.map((a) => a.value),
    p.actions.map((a) => a.data),
    keccak256(stringToHex(p.description)),
  ] as const;

export type Queued = { proposalId: bigint; eta: number; transactionHash: Hash };

/** Queues a succeeded proposal into Ethereum's timelock; returns when it can be executed. */
export async function queueProposal(
  ctx: ChainContext,
  proposalId: bigint,
  options: { onStep?: OnStep } = {},
): Promise<Queued> {
  const { onStep } = options;
  onStep?.("check", `checking proposal ${proposalId}`);
  await assertState(ctx, proposalId, ["succeeded"], "queue");
  const p = await createdProposal(ctx, proposalId);
  const gov = governorRead(ctx);
  const receipt = await sendContractCall(
    ctx,
    { ...gov, functionName: "queue", args: callArgs(p) },
    { explain: explainGovernanceError, label: `queueing proposal ${proposalId}`, onStep },
  );
  const event = eventOf(receipt, gigaBrainGovernorAbi, "ProposalQueued");
  return { proposalId, eta: Number(event.args.etaSeconds), transactionHash: receipt.transactionHash };
}

/** A BasedAI-chain call sent by an executed proposal, and how to follow it there. */
export type BasedCallSent = {
  target: Address;
  value: bigint;
  data: Hex;
  salt: Hex;
  contract: string | null;
  function: string | null;
  /** The GOVERNANCE_CALL message: Ethereum source, nonce `(blockNumber << 32) | logIndex`, its payload. */
  message: { srcChainId: number; dstChainId: bigint; nonce: bigint; payload: Hex };
  /** `keccak256(payload)` (GovernanceOutbox.sent). */
  callHash: Hex;
  /** The BasedAI timelock's operation id, once GovernanceCallReceiver scheduled it. */
  operationId: Hex;
};

export type Executed = { proposalId: bigint; basedCalls: BasedCallSent[]; transactionHash: Hash };

/** Executes a queued proposal whose eta has passed; lists the BasedAI-chain calls it sent. */
export async function executeProposal(
  ctx: ChainContext,
  proposalId: bigint,
  options: { onStep?: OnStep } = {},
): Promise<Executed> {
  const { onStep } = options;
  const gov = governorRead(ctx);
  onStep?.("check", `checking proposal ${proposalId}`);
  await assertState(ctx, proposalId, ["queued"], "execute");
  const [eta, t] = await Promise.all([
    ctx.publicClient.readContract({ ...gov, functionName: "proposalEta", args: [proposalId] }),
    now(ctx),
  ]);
  if (t + 1n < eta) {
    throw new BasedError(
      "refused",
      "NotReady",
      `Proposal ${proposalId} is queued until ${new Date(Number(eta) * 1000).toISOString()} (Ethereum timelock delay).`,
      "Execute it from then.",
      { proposalId: proposalId.toString(), eta: eta.toString() },
    );
  }
  const p = await createdProposal(ctx, proposalId);
  const value = p.actions.reduce((sum, a) => sum + a.value, 0n);
  const receipt = await sendContractCall(
    ctx,
    { ...gov, functionName: "execute", args: callArgs(p), value } as Parameters<typeof sendContractCall>[1],
    { explain: explainGovernanceError, label: `executing proposal ${proposalId}`, onStep },
  );
  eventOf(receipt, gigaBrainGovernorAbi, "ProposalExecuted");
  const outbox = governanceContracts(ctx.deployments).GovernanceOutbox.toLowerCase();
  const sent = parseEventLogs({
    abi: governanceOutboxAbi,
    eventName: "GovernanceCallSent",
    logs: receipt.logs,
  });
  const basedCalls = sent
    .filter((log) => log.address.toLowerCase() === outbox)
    .map((log): BasedCallSent => {
      const { dstChainId, target, value: v, data, salt } = log.args;
      const payload = encodeAbiParameters(
        [
          { type: "uint64" },
          { type: "address" },
          { type: "uint256" },
          { type: "bytes" },
          { type: "bytes32" },
        ],
        [dstChainId, target, v, data, salt],
      );
      return {
        target,
        value: v,
        data,
        salt,
        ...decodeCall(ctx.deployments, "based", target, data),
        message: {
          srcChainId: ctx.deployments.ethereum.chainId,
          dstChainId,
          nonce: (receipt.blockNumber << 32n) | BigInt(log.logIndex),
          payload,
        },
        callHash: keccak256(payload),
        operationId: basedOperationId(target, v, data, salt),
      };
    });
  return { proposalId, basedCalls, transactionHash: receipt.transactionHash };
}

export type Cancelled = { proposalId: bigint; transactionHash: Hash };

/** Cancels the signer's own proposal while it is pending or its vote is active. */
export async function cancelProposal(
  ctx: ChainContext,
  proposalId: bigint,
  options: { onStep?: OnStep } = {},
): Promise<Cancelled> {
  const { onStep } = options;
  const me = signerOf(ctx);
  onStep?.("check", `checking proposal ${proposalId}`);
  await assertState(ctx, proposalId, ["pending", "active"], "cancel");
  const p = await createdProposal(ctx, proposalId);
  if (getAddress(p.proposer) !== me)
    throw explainGovernanceError({ name: "GovernorUnableToCancel", args: [proposalId, me] });
  const receipt = await sendContractCall(
    ctx,
    { ...governorRead(ctx), functionName: "cancel", args: callArgs(p) },
    { explain: explainGovernanceError, label: `cancelling proposal ${proposalId}`, onStep },
  );
  eventOf(receipt, gigaBrainGovernorAbi, "ProposalCanceled");
  return { proposalId, transactionHash: receipt.transactionHash };
}

// ───────────────────────────────────────── the BasedAI side ─────────────────────────────────────────

export type BasedCallStatus = {
  operationId: Hex;
  /** "unknown": no GOVERNANCE_CALL scheduled it (yet); "done": executed; "cancelled": the guardian cancelled it. */
  status: "unknown" | "waiting" | "ready" | "done" | "cancelled";
  target: Address | null;
  value: bigint | null;
  data: Hex | null;
  salt: Hex | null;
  contract: string | null;
  function: string | null;
  /** Unix seconds from which anyone may execute it; null until scheduled. */
  readyAt: number | null;
  /** Latest BasedAI block's time. */
  now: number;
  messageId: Hex | null;
};

/**
 * Where BasedAI timelock operation `operationId` (a governance call) stands, from
 * GovernanceCallReceiver's GovernanceCallScheduled event; `ctx` is the BasedAI chain. Telling
 * "done" from "cancelled" needs the timelock's ABI; without it a scheduled operation past its
 * delay reads "ready".
 */
export async function getBasedCall(ctx: ChainContext, operationId: Hex): Promise<BasedCallStatus> {
  const { GovernanceCallReceiver, BasedTimelock } = basedGovernance(ctx.deployments);
  const [logs, block] = await Promise.all([
    ctx.publicClient.getContractEvents({
      address: GovernanceCallReceiver,
      abi: governanceCallReceiverAbi,
      eventName: "GovernanceCallScheduled",
      args: { operationId },
      fromBlock: BigInt(ctx.deployments.based?.startBlock ?? 0),
      toBlock: "latest",
    }),
    ctx.publicClient.getBlock(),
  ]);
  const t = Number(block.timestamp);
  const log = logs[0];
  if (!log) {
    return {
      operationId,
      status: "unknown",
      target: null,
      value: null,
      data: null,
      salt: null,
      contract: null,
      function: null,
      readyAt: null,
      now: t,
      messageId: null,
    };
  }
  const a = log.args as {
    messageId: Hex;
    target: Address;
    value: bigint;
    data: Hex;
    salt: Hex;
    readyAt: bigint;
  };
  let status: BasedCallStatus["status"] = t >= Number(a.readyAt) ? "ready" : "waiting";
  const abi = abiOfDeployed("BasedTimelock");
  if (abi) {
    const state = (await ctx.publicClient.readContract({
      address: BasedTimelock,
      abi,
      functionName: "getOperationState",
      args: [operationId],
    })) as number;
    // TimelockController.OperationState: Unset (cancelled once scheduled), Waiting, Ready, Done.
    status = (["cancelled", "waiting", "ready", "done"] as const)[state] ?? status;
  }
  const decoded = decodeCall(ctx.deployments, "based", a.target, a.data);
  return {
    operationId,
    status,
    target: a.target,
    value: a.value,
    data: a.data,
    salt: a.salt,
    contract: decoded.contract,
    function: decoded.function,
    readyAt: Number(a.readyAt),
    now: t,
    messageId: a.messageId,
  };
}

/** Executes BasedAI timelock operation `operationId` (anyone may, once ready); `ctx` is the BasedAI chain. */
export async function executeBasedCall(
  ctx: ChainContext,
  operationId: Hex,
  options: { onStep?: OnStep } = {},
): Promise<{ operationId: Hex; transactionHash: Hash }> {
  const { onStep } = options;
  onStep?.("check", `reading operation ${operationId}`);
  const op = await getBasedCall(ctx, operationId);
  if (op.status === "unknown") {
    throw new BasedError(
      "refused",
      "OperationUnknown",
      `No governance call scheduled BasedAI timelock operation ${operationId} (yet).`,
      "The attesters deliver the GOVERNANCE_CALL a few blocks after the proposal's execution on Ethereum; check the id and try again later.",
      { operationId },
    );
  }
  if (op.status === "done" || op.status === "cancelled") {
    throw new BasedError(
      "refused",
      "OperationClosed",
      `Operation ${operationId} was ${op.status === "done" ? "executed" : "cancelled by the guardian"} already.`,
      undefined,
      {
        operationId,
        status: op.status,
      },
    );
  }
  if (op.status === "waiting") {
    throw new BasedError(
      "refused",
      "NotReady",
      `Operation ${operationId} is in the BasedAI timelock's delay until ${new Date(op.readyAt! * 1000).toISOString()}.`,
      "Execute it from then (the guardian may cancel it until it runs).",
      { operationId, readyAt: String(op.readyAt) },
    );
  }
  const abi = timelockAbi();
  const { BasedTimelock } = basedGovernance(ctx.deployments);
  const receipt = await sendContractCall(
    ctx,
    {
      address: BasedTimelock,
      abi,
      functionName: "execute",
      args: [op.target!, op.value!, op.data!, zeroHash, op.salt!],
      value: op.value!,
    } as Parameters<typeof sendContractCall>[1],
    { explain: explainGovernanceError, label: `executing BasedAI timelock operation ${operationId}`, onStep },
  );
  return { operationId, transactionHash: receipt.transactionHash };
}

// ───────────────────────────────────────── errors ─────────────────────────────────────────

const date = (seconds: unknown) => new Date(Number(seconds as bigint) * 1000).toISOString();

/** Turns a governance contract's custom error into a message that says why and what to do. */
export function explainGovernanceError(revert: Revert): BasedError {
  const { name, args } = revert;
  const a = args.map((x) => String(x));
  switch (name) {
    case "NotLabsProposer":
      return new BasedError(
        "refused",
        name,
        `During the first year of governance only the Labs proposer may propose; ${a[0]} is not it.`,
        "After the optimistic period, the owner of a GigaBrain proposes with it.",
        { caller: a[0]! },
      );
    case "OptimisticPeriodOver":
      return new BasedError(
        "refused",
        name,
        `The optimistic period ended at ${date(args[0])}: proposals now name the proposer's GigaBrain.`,
        "Propose with a GigaBrain you own.",
        { endedAt: a[0]! },
      );
    case "OptimisticPeriodActive":
      return new BasedError(
        "refused",
        name,
        `Until ${date(args[0])} (the optimistic period) only the Labs proposer proposes, without a Brain.`,
        "Propose without a Brain as the Labs proposer, or wait for the end of the optimistic period.",
        { endsAt: a[0]! },
      );
    case "NotGigaBrain":
      return new BasedError(
        "refused",
        name,
        `Brain #${a[0]} is not a GigaBrain in the set in force at ${date(args[1])} (a vote counts the set of the proposal's vote start, a new proposal the current set).`,
        "Only Brains with at least 0.5 % of all BasedAI stake when the set was taken are GigaBrains; list the current set.",
        { brainId: a[0]!, timepoint: a[1]! },
      );
    case "NotBrainOwner":
      return new BasedError(
        "refused",
        name,
        `${a[1]} does not own Brain #${a[0]}: its owner is ${a[2]}.`,
        "Sign with the Brain owner's key (BASED_PRIVATE_KEY).",
        { brainId: a[0]!, caller: a[1]!, owner: a[2]! },
      );
    case "BrainAlreadyVoted":
      return new BasedError(
        "refused",
        name,
        `Brain #${a[1]} already voted on proposal ${a[0]} (perhaps under a previous owner): one vote per Brain.`,
        "Nothing to do: the Brain's vote is counted.",
        { proposalId: a[0]!, brainId: a[1]! },
      );
    case "BrainIdRequired":
      return new BasedError(
        "refused",
        name,
        "A vote must name its Brain.",
        "Vote with castBrainVote (a Brain id).",
      );
    case "GovernorNonexistentProposal":
      return new BasedError(
        "refused",
        "ProposalNotFound",
        `No proposal ${a[0]} on this governor.`,
        "List the proposals to find its id.",
        {
          proposalId: a[0]!,
        },
      );
    case "GovernorUnexpectedProposalState": {
      const state = PROPOSAL_STATES[Number(args[1])] ?? a[1];
      return new BasedError(
        "refused",
        "WrongProposalState",
        `Proposal ${a[0]} is ${state}: the governor refused the action in that state.`,
        undefined,
        {
          proposalId: a[0]!,
          state: String(state),
        },
      );
    }
    case "GovernorUnableToCancel":
      return new BasedError(
        "refused",
        name,
        `${a[1]} cannot cancel proposal ${a[0]}: only its proposer may, while it is pending or its vote is active.`,
        undefined,
        { proposalId: a[0]!, caller: a[1]! },
      );
    case "GovernorRestrictedProposer":
      return new BasedError(
        "refused",
        name,
        `The description is reserved for another proposer (its #proposer= suffix), not ${a[0]}.`,
        "Use your own description.",
      );
    case "GovernorAlreadyCastVote":
      return new BasedError("refused", name, `${a[0]} already voted.`);
    case "GovernorInvalidVoteType":
      return new BasedError("input", name, "A vote is For, Against or Abstain.");
    case "GovernorInvalidProposalLength":
      return new BasedError(
        "input",
        name,
        "The proposal's targets, values and calldatas differ in number (or are empty).",
      );
    case "VoteNotActive": {
      const state = PROPOSAL_STATES[Number(args[1])] ?? a[1];
      return state === "pending"
        ? new BasedError(
            "refused",
            "VoteNotOpen",
            `Proposal ${a[0]} is pending: PEPE is locked from its vote start.`,
            undefined,
            {
              proposalId: a[0]!,
              state: String(state),
            },
          )
        : new BasedError(
            "refused",
            "VoteClosed",
            `Proposal ${a[0]}'s vote is closed (it is ${state}): PEPE is locked only while it is active.`,
            undefined,
            {
              proposalId: a[0]!,
              state: String(state),
            },
          );
    }
    case "VoteNotOver": {
      const state = PROPOSAL_STATES[Number(args[1])] ?? a[1];
      return new BasedError(
        "refused",
        name,
        `Proposal ${a[0]}'s vote is not over (it is ${state}): locked PEPE comes back once it ends.`,
        "Unlock after the vote's deadline.",
        { proposalId: a[0]!, state: String(state) },
      );
    }
    case "NothingLocked":
      return new BasedError(
        "refused",
        name,
        `${a[1]} has no PEPE locked on proposal ${a[0]} (or took it back already).`,
        undefined,
        {
          proposalId: a[0]!,
          account: a[1]!,
        },
      );
    case "InvalidSupport":
      return new BasedError("input", name, "The Pepecoin house takes For or Against (no Abstain).");
    case "ZeroAmount":
      return new BasedError("input", name, "The amount must be more than 0.");
    case "ERC20InsufficientBalance":
      return new BasedError("refused", "InsufficientPepe", "Not enough PEPE for this lock.");
    case "ERC20InsufficientAllowance":
      return new BasedError(
        "refused",
        name,
        "The Pepecoin house may not pull that much PEPE: approve it first.",
      );
    case "NotTimelock":
    case "NotGovernance":
    case "GovernorOnlyExecutor":
      return new BasedError(
        "refused",
        name,
        `Only governance may make this call (${name}).`,
        "Propose it instead.",
      );
    default:
      return genericRefusal("Governance", revert);
  }
}
