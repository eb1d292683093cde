/**
 * Reads an `EpochSnapshot` (oracle/consensus/epoch-types.ts) from the BasedAI chain: everything the
 * epoch computation needs, as the chain held it at the epoch's last block (`endBlock − 1`). Every
 * read is pinned to that block and every log is read up to it, so attesters that read the same
 * chain get the same snapshot, whenever they read it and whatever else happened since.
 *
 * - Brains: every Brain ever mirrored (BrainRegistry `BrainMirrored` logs since the deployment's
 *   start block), active or not; its reward flag, recipient, split and stake from the registry and
 *   Staking views.
 * - Members: Network.membersOf per role (ascending uid).
 * - Stake: Staking views for the totals and each position; the positions themselves (who staked
 *   to whom) come from `Staked` logs, since Staking keeps no list of them.
 * - Weights: the latest Consensus `WeightsRevealed` per current validator (same uid, same account,
 *   revealed since its registration).
 *
 * Logs are read once: `EconomyLogs` keeps what it fetched and only reads new blocks, so a reporter
 * that reads epoch after epoch does not read the chain's history again each time.
 */
import {
  type Address,
  type Chain,
  type Hex,
  type Log,
  type PublicClient,
  type Transport,
  getAddress,
  parseEventLogs,
  zeroAddress,
} from "viem";
import { emissionBetween, tftWeight } from "../consensus/emission";
import type {
  BrainSnapshot,
  EpochSnapshot,
  ValidatorSnapshot,
  WeightsSnapshot,
} from "../consensus/epoch-types";
import { Role, unpackWeights } from "../../protocol/report";
import { brainRegistryAbi, consensusAbi, networkAbi, stakingAbi } from "../../protocol/generated/abis";

/** The BasedAI chain's economy contracts a snapshot reads. */
export type EconomyAddresses = {
  BrainRegistry: Address;
  Network: Address;
  Staking: Address;
  Consensus: Address;
};

export type SnapshotSource = {
  client: PublicClient<Transport, Chain>;
  contracts: EconomyAddresses;
  /** The logs of the economy contracts, read incrementally (share one per chain). */
  logs: EconomyLogs;
  /** Most concurrent reads (default 16). */
  concurrency?: number;
};

/** A revealed weight vector, as the `WeightsRevealed` log carries it. */
type Reveal = {
  brainId: number;
  uid: number;
  validator: Address;
  block: bigint;
  logIndex: number;
  /** The epoch of the commitment it opened. */
  epoch: bigint;
  weights: Hex;
};

/** A commitment, as the `WeightsCommitted` log carries it. */
type Commitment = { validator: Address; epoch: bigint; block: bigint };

/** Orders addresses by their numeric value (the same as lowercase hex order). */
const byAddress = (a: Address, b: Address): number => {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * The economy contracts' logs that a snapshot needs, fetched once and kept: when each Brain was
 * first mirrored, when each stake position (Brain, validator, staker) first appeared, and the
 * weight reveals. Queries name the last block they may see; they must not go below a block an
 * earlier query already went past (reveals superseded there are dropped to bound memory).
 */
export class EconomyLogs {
  private fetchedTo: bigint;
  /** The highest block a reveal query went up to: queries below it could miss pruned reveals. */
  private floor = -1n;
  private readonly brains = new Map<number, bigint>();
  /** Per (Brain, validator): each staker and the block of its first stake. */
  private readonly positions = new Map<string, Map<Address, bigint>>();
  /** Per (Brain, uid): reveals in chain order. */
  private readonly reveals = new Map<string, Reveal[]>();
  /** Per (Brain, uid): commitments in chain order. */
  private readonly commits = new Map<string, Commitment[]>();

  constructor(
    private readonly client: PublicClient<Transport, Chain>,
    private readonly contracts: EconomyAddresses,
    /** The deployment's first block (nothing of the economy happened before it). */
    readonly startBlock: bigint,
    /** Most blocks per `eth_getLogs` request. */
    private readonly maxRange = 5_000n,
  ) {
    this.fetchedTo = startBlock - 1n;
  }

  /** Fetches the logs of every block up to `block` not fetched yet. */
  async syncTo(block: bigint): Promise<void> {
    while (this.fetchedTo < block) {
      const from = this.fetchedTo + 1n;
      const to = block < from + this.maxRange - 1n ? block : from + this.maxRange - 1n;
      const logs = await this.client.getLogs({
        address: [this.contracts.BrainRegistry, this.contracts.Staking, this.contracts.Consensus],
        fromBlock: from,
        toBlock: to,
      });
      this.ingest(logs);
      this.fetchedTo = to;
    }
  }

  private ingest(logs: Log[]): void {
    const from = (address: Address) => logs.filter((l) => l.address.toLowerCase() === address.toLowerCase());
    for (const e of parseEventLogs({
      abi: brainRegistryAbi,
      eventName: "BrainMirrored",
      logs: from(this.contracts.BrainRegistry),
      strict: true,
    })) {
      const id = Number(e.args.brainId);
      if (!this.brains.has(id)) this.brains.set(id, e.blockNumber);
    }
    for (const e of parseEventLogs({
      abi: stakingAbi,
      eventName: "Staked",
      logs: from(this.contracts.Staking),
      strict: true,
    })) {
      const key = `${e.args.brainId}:${getAddress(e.args.validator)}`;
      const stakers = this.positions.get(key) ?? new Map<Address, bigint>();
      const staker = getAddress(e.args.staker);
      if (!stakers.has(staker)) stakers.set(staker, e.blockNumber);
      this.positions.set(key, stakers);
    }
    for (const e of parseEventLogs({
      abi: consensusAbi,
      eventName: "WeightsCommitted",
      logs: from(this.contracts.Consensus),
      strict: true,
    })) {
      const key = `${Number(e.args.brainId)}:${e.args.uid}`;
      const list = this.commits.get(key) ?? [];
      list.push({ validator: getAddress(e.args.validator), epoch: e.args.epoch, block: e.blockNumber });
      this.commits.set(key, list);
    }
    for (const e of parseEventLogs({
      abi: consensusAbi,
      eventName: "WeightsRevealed",
      logs: from(this.contracts.Consensus),
      strict: true,
    })) {
      const reveal: Reveal = {
        brainId: Number(e.args.brainId),
        uid: e.args.uid,
        validator: getAddress(e.args.validator),
        block: e.blockNumber,
        logIndex: e.logIndex,
        epoch: e.args.epoch,
        weights: e.args.weights,
      };
      const key = `${reveal.brainId}:${reveal.uid}`;
      const list = this.reveals.get(key) ?? [];
      list.push(reveal);
      this.reveals.set(key, list);
    }
  }

  /**
   * The block of the commitment reveal `r` opened: the validator's latest commitment of that epoch
   * before the reveal (a re-commit in the same epoch replaces the earlier one). Undefined if the
   * logs lack it (then the reveal block stands in).
   */
  commitBlockOf(brainId: number, r: Reveal): bigint | undefined {
    let found: bigint | undefined;
    for (const c of this.commits.get(`${brainId}:${r.uid}`) ?? []) {
      if (c.validator === r.validator && c.epoch === r.epoch && c.block <= r.block) found = c.block;
    }
    return found;
  }

  /** Whether a query up to `toBlock` can still be answered (it is not below an earlier one). */
  canRead(toBlock: bigint): boolean {
    return toBlock >= this.floor;
  }

  private check(toBlock: bigint): void {
    if (toBlock > this.fetchedTo)
      throw new Error(`logs are fetched up to block ${this.fetchedTo}, not ${toBlock}`);
    if (toBlock < this.floor)
      throw new Error(`logs before block ${this.floor} were pruned; read epochs in order`);
  }

  /** Brains mirrored at or before `toBlock`, ascending. */
  brainIds(toBlock: bigint): number[] {
    this.check(toBlock);
    return [...this.brains]
      .filter(([, block]) => block <= toBlock)
      .map(([id]) => id)
      .sort((a, b) => a - b);
  }

  /** Stakers that ever staked to Brain `brainId` through `validator` (zero: the Brain) by `toBlock`. */
  stakers(brainId: number, validator: Address, toBlock: bigint): Address[] {
    this.check(toBlock);
    const stakers = this.positions.get(`${brainId}:${getAddress(validator)}`) ?? new Map<Address, bigint>();
    return [...stakers]
      .filter(([, block]) => block <= toBlock)
      .map(([staker]) => staker)
      .sort(byAddress);
  }

  /**
   * The latest reveal at or before `toBlock` of uid `uid` in Brain `brainId` by `validator` since block
   * `since` (its registration). Older reveals of that uid are dropped: later queries see newer blocks.
   */
  latestReveal(
    brainId: number,
    uid: number,
    validator: Address,
    since: bigint,
    toBlock: bigint,
  ): Reveal | undefined {
    this.check(toBlock);
    this.floor = toBlock;
    const list = this.reveals.get(`${brainId}:${uid}`);
    if (!list) return undefined;
    let visible = 0;
    while (visible < list.length && list[visible]!.block <= toBlock) visible++;
    // Everything before the latest visible reveal of this uid can never be the answer again.
    if (visible > 1) list.splice(0, visible - 1);
    const r = visible === 0 ? undefined : list[0]!;
    return r && r.validator === validator && r.block >= since ? r : undefined;
  }
}

/** Runs at most `limit` of the calls given to it at a time (the rest wait their turn). */
function limiter(limit: number): <R>(call: () => Promise<R>) => Promise<R> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (call) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await call();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

/** Epoch `epoch`'s blocks: [startBlock, endBlock) (Consensus.epochBounds). */
export async function epochBounds(
  source: Pick<SnapshotSource, "client" | "contracts">,
  epoch: bigint,
): Promise<{ startBlock: bigint; endBlock: bigint }> {
  const [startBlock, endBlock] = await source.client.readContract({
    address: source.contracts.Consensus,
    abi: consensusAbi,
    functionName: "epochBounds",
    args: [epoch],
  });
  return { startBlock, endBlock };
}

/**
 * Epoch `epoch`'s snapshot. The epoch must be over (its last block mined); the caller decides how
 * deep it must be first (the reporter waits for its finality depth).
 */
export async function readEpochSnapshot(source: SnapshotSource, epoch: bigint): Promise<EpochSnapshot> {
  const { client, contracts, logs } = source;
  const { startBlock, endBlock } = await epochBounds(source, epoch);
  const at = endBlock - 1n;
  const [lastBlock] = await Promise.all([client.getBlock({ blockNumber: at }), logs.syncTo(at)]);

  // Every read at the epoch's last block, at most `concurrency` at a time.
  const limited = limiter(source.concurrency ?? 16);
  const pinned = { blockNumber: at } as const;
  const registry = { ...pinned, address: contracts.BrainRegistry, abi: brainRegistryAbi } as const;
  const staking = { ...pinned, address: contracts.Staking, abi: stakingAbi } as const;
  const network = { ...pinned, address: contracts.Network, abi: networkAbi } as const;

  /** Non-zero positions of Brain `brainId` through `validator` (zero: the Brain), ascending by staker. */
  const positions = async (brainId: bigint, validator: Address) => {
    const stakers = logs.stakers(Number(brainId), validator, at);
    const amounts = await Promise.all(
      stakers.map((staker) =>
        limited(() =>
          client.readContract({ ...staking, functionName: "stakeOf", args: [brainId, validator, staker] }),
        ),
      ),
    );
    return stakers.map((account, i) => ({ account, amount: amounts[i]! })).filter((p) => p.amount > 0n);
  };

  const validatorSnapshot = async (
    brainId: bigint,
    uid: number,
    member: { account: Address; registeredAt: bigint },
  ): Promise<ValidatorSnapshot> => {
    const account = getAddress(member.account);
    const [stake, takeBps, delegators] = await Promise.all([
      limited(() =>
        client.readContract({ ...staking, functionName: "validatorStake", args: [brainId, account] }),
      ),
      limited(() => client.readContract({ ...staking, functionName: "takeOf", args: [brainId, account] })),
      positions(brainId, account),
    ]);
    return { uid, account, registeredAt: member.registeredAt, stake, takeBps, delegators };
  };

  const brainSnapshot = async (brainId: number): Promise<BrainSnapshot> => {
    const id = BigInt(brainId);
    const [earns, recipient, split, brainStake, brainStakers, [vUids, vList], [mUids, mList]] =
      await Promise.all([
        limited(() =>
          client.readContract({ ...registry, functionName: "earnsRewards", args: [id, lastBlock.timestamp] }),
        ),
        limited(() => client.readContract({ ...registry, functionName: "rewardRecipient", args: [id] })),
        limited(() => client.readContract({ ...registry, functionName: "split", args: [id] })),
        limited(() => client.readContract({ ...staking, functionName: "brainStake", args: [id] })),
        positions(id, zeroAddress),
        limited(() =>
          client.readContract({ ...network, functionName: "membersOf", args: [id, Role.Validator] }),
        ),
        limited(() => client.readContract({ ...network, functionName: "membersOf", args: [id, Role.Miner] })),
      ]);
    const validators = await Promise.all(vUids.map((uid, i) => validatorSnapshot(id, uid, vList[i]!)));
    const weights: WeightsSnapshot[] = [];
    for (const v of validators) {
      const r = logs.latestReveal(brainId, v.uid, v.account, v.registeredAt, at);
      if (r) {
        const revealed = unpackWeights(r.weights).map(([u, w]): [number, number] => [u, w]);
        const committedAt = logs.commitBlockOf(brainId, r) ?? r.block;
        weights.push({ validatorUid: v.uid, block: r.block, committedAt, weights: revealed });
      }
    }
    return {
      brainId,
      earns,
      ownerRecipient: getAddress(recipient),
      split: { ownerBps: split[0], minersBps: split[1], validatorsBps: split[2] },
      brainStake,
      brainStakers,
      validators,
      miners: mUids.map((uid, i) => ({
        uid,
        account: getAddress(mList[i]!.account),
        registeredAt: mList[i]!.registeredAt,
      })),
      weights,
    };
  };

  const ids = logs.brainIds(at);
  const [totalStake, brains] = await Promise.all([
    limited(() => client.readContract({ ...staking, functionName: "totalStake" })),
    Promise.all(ids.map(brainSnapshot)),
  ]);
  return {
    epoch,
    startBlock,
    endBlock,
    emission: emissionBetween(startBlock, endBlock),
    totalStake,
    tftWeight: tftWeight(at),
    brains,
  };
}
