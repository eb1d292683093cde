/**
 * Membership of a Brain ("memorize", Network on the BasedAI chain, docs/architecture.md §3): register as a
 * miner or validator (paying the Brain's fee), leave, list the members. When a role is full, a
 * registrant replaces the member with the lowest pruning score past its immunity: the walk along
 * the attested pruning order needs that order's Merkle tree (an epoch report's `pruningTree`).
 */
import { type Address, type Hash, getAddress, parseEventLogs } from "viem";
import { z } from "zod";
import {
  type MemberRole,
  type PruneHint,
  type PruningLeaf,
  type PruningTree,
  Role,
  pruneHints,
} from "../protocol/report";
import {
  BASED,
  assertBrainActive,
  brainNotActive,
  economyContracts,
  ensureBased,
  loadTreeDump,
} from "./economy";
import { BasedError } from "./errors";
import { brainRegistryAbi, consensusAbi, networkAbi } from "../protocol/generated/abis";
import { type ChainContext, signerOf } from "./chain";
import { genericRefusal, type OnStep, type Revert, sendContractCall, eventOf } from "./contract-call";

/** Where a member is reached, as Network records it: `host:port` or a URL, at most 128 bytes. */
export const endpointSchema = z
  .string()
  .refine((s) => new TextEncoder().encode(s).length <= 128, "at most 128 bytes")
  .refine(
    (s) =>
      /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):\d{1,5}$/.test(s) ||
      z.url({ protocol: /^(https?|wss?|grpcs?)$/ }).safeParse(s).success,
    "expected host:port (e.g. 203.0.113.7:8091) or a URL",
  )
  .refine((s) => {
    const port = /:(\d{1,5})$/.exec(s)?.[1];
    return port === undefined || (Number(port) >= 1 && Number(port) <= 65_535);
  }, "the port must be 1–65535");

export type RoleName = "validator" | "miner";
export const ROLE_OF: Record<RoleName, MemberRole> = { validator: Role.Validator, miner: Role.Miner };
const NAME_OF: Record<number, RoleName | "none"> = { 0: "none", 1: "validator", 2: "miner" };

/** Network.Device. */
export type DeviceName = "cpu" | "gpu";
const DEVICE_OF: Record<DeviceName, number> = { cpu: 0, gpu: 1 };

export type Member = {
  uid: number;
  account: Address;
  /** BasedAI-chain block of the registration. */
  registeredAt: number;
  role: RoleName;
};

export type BrainMembers = {
  brainId: number;
  validators: { count: number; max: number; list: Member[] };
  miners: { count: number; max: number; list: Member[] };
};

/** Every member of Brain `brainId`, per role (Network.membersOf), and the caps. */
export async function getMembers(ctx: ChainContext, brainId: number): Promise<BrainMembers> {
  const network = economyContracts(ctx).Network;
  const read = { address: network, abi: networkAbi } as const;
  const id = BigInt(brainId);
  const [[validatorUids, validators], [minerUids, miners], maxValidators, maxMiners] = await Promise.all([
    ctx.publicClient.readContract({ ...read, functionName: "membersOf", args: [id, Role.Validator] }),
    ctx.publicClient.readContract({ ...read, functionName: "membersOf", args: [id, Role.Miner] }),
    ctx.publicClient.readContract({ ...read, functionName: "MAX_VALIDATORS" }),
    ctx.publicClient.readContract({ ...read, functionName: "MAX_MINERS" }),
  ]);
  const list = (
    uids: readonly number[],
    members: readonly { account: Address; registeredAt: bigint }[],
    role: RoleName,
  ) =>
    members.map((m, i) => ({
      uid: uids[i]!,
      account: m.account,
      registeredAt: Number(m.registeredAt),
      role,
    }));
  return {
    brainId,
    validators: {
      count: validators.length,
      max: maxValidators,
      list: list(validatorUids, validators, "validator"),
    },
    miners: { count: miners.length, max: maxMiners, list: list(minerUids, miners, "miner") },
  };
}

/** `account`'s role and uid in Brain `brainId` (role "none" when not a member). */
export async function getMembership(
  ctx: ChainContext,
  brainId: number,
  account: Address,
): Promise<{ role: RoleName | "none"; uid: number }> {
  const [role, uid] = await ctx.publicClient.readContract({
    address: economyContracts(ctx).Network,
    abi: networkAbi,
    functionName: "roleOf",
    args: [BigInt(brainId), account],
  });
  return { role: NAME_OF[role] ?? "none", uid };
}

// ───────────────────────────────────────── pruning order ─────────────────────────────────────────

const PRUNING_ENCODING = ["uint16", "uint8", "uint16", "uint16", "address", "uint64"];

/** A pruning-order tree (an epoch report's `pruningTree(...)`) from its JSON dump. */
export function loadPruningTree(json: unknown): PruningTree {
  return loadTreeDump<PruningLeaf>(json, PRUNING_ENCODING, "pruning tree");
}

/**
 * The hints a registrant passes when `role` is full: the attested order's leaves from the Brain's
 * prune cursor up to and including the first member past its immunity (stale and immune ones on
 * the way are included: the contract walks them). Refuses when `tree` is not the attested order
 * or every member it names is immune or gone.
 */
export async function pruneHintsFor(
  ctx: ChainContext,
  brainId: number,
  role: MemberRole,
  tree: PruningTree,
): Promise<PruneHint[]> {
  const { Network, Consensus } = economyContracts(ctx);
  const id = BigInt(brainId);
  const [[epoch, root], [, cursor], immunity, latest] = await Promise.all([
    ctx.publicClient.readContract({ address: Consensus, abi: consensusAbi, functionName: "pruningOrder" }),
    ctx.publicClient.readContract({
      address: Network,
      abi: networkAbi,
      functionName: "pruneCursor",
      args: [id, role],
    }),
    ctx.publicClient.readContract({ address: Network, abi: networkAbi, functionName: "immunityPeriod" }),
    ctx.publicClient.getBlockNumber(),
  ]);
  const roleName = NAME_OF[role]!;
  if (/^0x0+$/.test(root)) throw noPruningOrder(brainId, roleName);
  if (tree.root.toLowerCase() !== root.toLowerCase()) {
    throw new BasedError(
      "refused",
      "PruningTreeMismatch",
      `The pruning tree's root ${tree.root} is not the attested pruning order of epoch ${epoch} (${root}).`,
      `Use the pruning tree of epoch ${epoch}'s report.`,
      { epoch: epoch.toString(), root },
    );
  }
  const candidates = pruneHints(tree, brainId, role, cursor, 0x10000);
  const nextBlock = latest + 1n;
  let immuneUntil = 0n;
  for (let i = 0; i < candidates.length; i++) {
    const h = candidates[i]!;
    const m = await ctx.publicClient.readContract({
      address: Network,
      abi: networkAbi,
      functionName: "member",
      args: [id, h.uid],
    });
    const current =
      m.account.toLowerCase() === h.account.toLowerCase() &&
      m.registeredAt === h.registeredAt &&
      m.role === role;
    if (!current) continue; // stale: the walk consumes it
    const ends = m.registeredAt + immunity;
    if (nextBlock < ends) {
      if (immuneUntil === 0n || ends < immuneUntil) immuneUntil = ends;
      continue;
    }
    return candidates.slice(0, i + 1);
  }
  throw new BasedError(
    "refused",
    "NoPrunableMember",
    `Brain #${brainId}'s ${roleName}s are full and every member left in the pruning order (from rank ${cursor}) is immune or gone.`,
    immuneUntil > 0n
      ? `Try again from block ${immuneUntil}, when the first immunity ends, or after the next epoch report.`
      : "Try again after the next epoch report (it brings a new pruning order).",
    { from: String(cursor), ...(immuneUntil > 0n ? { immuneUntil: immuneUntil.toString() } : {}) },
  );
}

function noPruningOrder(brainId: number | bigint, role: string): BasedError {
  return new BasedError(
    "refused",
    "NoPruningOrder",
    `Brain #${brainId}'s ${role}s are full and there is no attested pruning order yet (or it is under challenge).`,
    "A full role admits a new member only by replacing one; wait for the next epoch report, then register with its pruning tree.",
    { brainId: String(brainId), role },
  );
}

// ─────────────────────────────────────────── register ───────────────────────────────────────────

export type RegisterOptions = {
  role: RoleName;
  /** "host:port" or a URL where the node is reached. */
  endpoint: string;
  device?: DeviceName;
  storageGiB?: number;
  /** The most BASED (wei) the registrant pays; default: the fee read now. */
  maxFee?: bigint;
  /** The attested pruning order, needed only when the role is full. */
  pruningTree?: PruningTree;
  onStep?: OnStep;
};

export type Registered = {
  brainId: number;
  uid: number;
  role: RoleName;
  account: Address;
  /** Wei of BASED paid to the Brain. */
  fee: bigint;
  /** Who received the fee (the Brain's reward recipient). */
  feeRecipient: Address;
  endpoint: string;
  device: DeviceName;
  storageGiB: number;
  /** The member replaced when the role was full. */
  replaced: { uid: number; account: Address } | null;
  transactionHash: Hash;
  approvalHash: Hash | null;
};

/**
 * Registers the signer in Brain `brainId` as `role`: reads the fee, refuses early what the
 * contract would refuse, approves BASED to Network when the allowance is short, builds pruning
 * hints when the role is full, and registers.
 */
export async function registerMember(
  ctx: ChainContext,
  brainId: number,
  options: RegisterOptions,
): Promise<Registered> {
  const { onStep } = options;
  const account = signerOf(ctx);
  const { Network, BrainRegistry } = economyContracts(ctx);
  const id = BigInt(brainId);
  const role = ROLE_OF[options.role];
  const device = options.device ?? "cpu";
  const storageGiB = options.storageGiB ?? 0;

  onStep?.("check", `reading Brain #${brainId}'s fee and members`);
  await assertBrainActive(ctx, brainId);
  const [membership, fee, recipient, [validators, miners], maxValidators, maxMiners] = await Promise.all([
    getMembership(ctx, brainId, account),
    ctx.publicClient.readContract({
      address: BrainRegistry,
      abi: brainRegistryAbi,
      functionName: "registrationFee",
      args: [id],
    }),
    ctx.publicClient.readContract({
      address: BrainRegistry,
      abi: brainRegistryAbi,
      functionName: "rewardRecipient",
      args: [id],
    }),
    ctx.publicClient.readContract({ address: Network, abi: networkAbi, functionName: "counts", args: [id] }),
    ctx.publicClient.readContract({ address: Network, abi: networkAbi, functionName: "MAX_VALIDATORS" }),
    ctx.publicClient.readContract({ address: Network, abi: networkAbi, functionName: "MAX_MINERS" }),
  ]);
  if (membership.role !== "none") {
    throw explainNetworkError({ name: "AlreadyRegistered", args: [id, account, membership.uid] });
  }
  const maxFee = options.maxFee ?? fee;
  if (fee > maxFee) throw explainNetworkError({ name: "FeeAboveMax", args: [fee, maxFee] });

  const full = role === Role.Validator ? validators >= maxValidators : miners >= maxMiners;
  let hints: PruneHint[] = [];
  if (full) {
    if (!options.pruningTree) {
      throw new BasedError(
        "refused",
        "RoleFull",
        `Brain #${brainId} has all ${role === Role.Validator ? maxValidators : maxMiners} ${options.role}s it may have; a new one replaces the member with the lowest pruning score past its immunity.`,
        "Register with the attested pruning order of the latest epoch report (pruningTree: a StandardMerkleTree dump).",
        { brainId: String(brainId), role: options.role },
      );
    }
    onStep?.("check", "finding the member to replace in the pruning order");
    hints = await pruneHintsFor(ctx, brainId, role, options.pruningTree);
  }

  const approvalHash =
    fee > 0n
      ? await ensureBased(
          ctx,
          { address: Network, name: "Network" },
          fee,
          `Brain #${brainId}'s registration fee`,
          onStep,
        )
      : undefined;
  const receipt = await sendContractCall(
    ctx,
    {
      address: Network,
      abi: networkAbi,
      functionName: "register",
      args: [id, { role, endpoint: options.endpoint, device: DEVICE_OF[device], storageGiB, maxFee }, hints],
    },
    { explain: explainNetworkError, label: `the registration in Brain #${brainId}`, onStep },
  );
  const registered = eventOf(receipt, networkAbi, "MemberRegistered");
  const pruned = parseEventLogs({ abi: networkAbi, eventName: "MemberRemoved", logs: receipt.logs }).find(
    (l) => l.args.pruned,
  );
  return {
    brainId,
    uid: registered.args.uid,
    role: options.role,
    account,
    fee: registered.args.fee,
    feeRecipient: getAddress(recipient),
    endpoint: options.endpoint,
    device,
    storageGiB,
    replaced:
      pruned && pruned.eventName === "MemberRemoved"
        ? { uid: pruned.args.uid, account: pruned.args.account }
        : null,
    transactionHash: receipt.transactionHash,
    approvalHash: approvalHash ?? null,
  };
}

/** The signer leaves Brain `brainId` (its stake is not touched). */
export async function deregisterMember(
  ctx: ChainContext,
  brainId: number,
  options: { onStep?: OnStep } = {},
): Promise<{ brainId: number; uid: number; role: RoleName; account: Address; transactionHash: Hash }> {
  const account = signerOf(ctx);
  options.onStep?.("check", `reading your membership in Brain #${brainId}`);
  const membership = await getMembership(ctx, brainId, account);
  if (membership.role === "none") {
    throw explainNetworkError({ name: "NotRegistered", args: [BigInt(brainId), account] });
  }
  const receipt = await sendContractCall(
    ctx,
    {
      address: economyContracts(ctx).Network,
      abi: networkAbi,
      functionName: "deregister",
      args: [BigInt(brainId)],
    },
    { explain: explainNetworkError, label: `leaving Brain #${brainId}`, onStep: options.onStep },
  );
  return {
    brainId,
    uid: membership.uid,
    role: membership.role,
    account,
    transactionHash: receipt.transactionHash,
  };
}

/** Turns a Network custom error into a message that says what to do. */
export function explainNetworkError(revert: Revert): BasedError {
  const { name, args } = revert;
  switch (name) {
    case "BrainNotActive":
      return brainNotActive(args[0] as bigint);
    case "AlreadyRegistered":
      return new BasedError(
        "refused",
        name,
        `${String(args[1])} already holds uid ${String(args[2])} in Brain #${String(args[0])}.`,
        "One account holds one uid per Brain; deregister first to register again.",
        { brainId: String(args[0]), uid: String(args[2]) },
      );
    case "NotRegistered":
      return new BasedError(
        "refused",
        name,
        `${String(args[1])} is not a member of Brain #${String(args[0])}.`,
        "Register with the Brain first (as a miner or a validator).",
        { brainId: String(args[0]) },
      );
    case "FeeAboveMax":
      return new BasedError(
        "refused",
        name,
        `Registering costs ${BASED(args[0] as bigint)}, above your maximum of ${BASED(args[1] as bigint)}.`,
        "Raise your maximum fee to at least the current fee to accept it.",
        { fee: String(args[0]), maxFee: String(args[1]) },
      );
    case "InvalidEndpoint":
      return new BasedError(
        "input",
        name,
        `The endpoint is ${String(args[0])} bytes; it must be 1 to ${String(args[1])}.`,
        "Give the endpoint as host:port or a URL.",
      );
    case "NoPruningOrder":
      return noPruningOrder(args[0] as bigint, NAME_OF[Number(args[1])] ?? "member");
    case "NoPrunableMember":
      return new BasedError(
        "refused",
        name,
        `Every member named by the pruning order from rank ${String(args[2])} is immune or gone.`,
        "Try again when an immunity ends, or after the next epoch report.",
      );
    case "WrongPruneRank":
    case "InvalidPruneProof":
      return new BasedError(
        "refused",
        name,
        `The pruning hints do not match the attested order (${name}).`,
        "Pass the pruning tree of the latest epoch report; it may have changed since you fetched it.",
      );
    case "ERC20InsufficientBalance":
    case "ERC20InsufficientAllowance":
      return new BasedError(
        "refused",
        name,
        `BASED refused the fee transfer: ${name}.`,
        "Check your BASED balance and try again.",
      );
    default:
      return genericRefusal("Network", revert);
  }
}
