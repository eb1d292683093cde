/**
 * Time and memory of one Yuma epoch (oracle/consensus/yuma.ts) for a full Brain — 256 validators ×
 * 1,792 miners, dense weights (every validator weights every miner), last epoch's bonds on every
 * (validator, miner) pair — and for 1,024 such Brains, the whole network, on one core; then the
 * epoch report's two Merkle trees for the whole network (protocol/report.ts: the pruning
 * tree, one leaf per member, and the rewards tree, one leaf per account) against OpenZeppelin's
 * `StandardMerkleTree.of` on a sample, after the cost of one inner node's Keccak-256.
 *
 *   npx tsx bench/yuma-bench.ts [--brains 1024] [--runs 30] [--members N] [--accounts N] [--engine wasm|js]
 *
 * --engine picks the Yuma core (oracle/consensus/yuma-core.ts): WebAssembly (the default) or the
 * JavaScript reference, for comparison; both give the same outputs.
 *
 * Inputs come from a seeded generator (mulberry32), so every run times the same data: per Brain,
 * a "true quality" per miner, and each validator's weight = quality × (1 ± 20 % noise) as u16;
 * validator stakes spread over two orders of magnitude; random u16 bonds. Generating a Brain is
 * not timed. Each of the 1,024 Brains is distinct, generated just before its epoch (holding all
 * 1,024 inputs at once would take about 2 GB).
 *
 * Reports: the tuple API `yumaEpoch` (rows of [uid, u16], as the issue specifies) and the packed
 * API `yumaEpochPacked` (compressed rows, what the oracle reads from the chain) — median, p95 and
 * minimum wall time of `--runs` timed runs after warm-up, and the process's CPU time per epoch
 * (process.cpuUsage over batches: it leaves out the time other jobs on a shared machine hold the
 * core, but counts V8's own helper threads, garbage collection included); the network total, wall
 * and CPU; heap and RSS; the trees' build times (members default to brains × 2,048, accounts to
 * brains × 2,048; 0 skips a tree).
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { type Address } from "viem";
import { keccak256Hasher } from "../protocol/hash";
import { type PruneCandidate, Role, pruningOrder, pruningTree, rewardsTree } from "../protocol/report";
import {
  type SparseU16,
  type U16Entry,
  type YumaOptions,
  type YumaPackedInput,
  fromSparse,
  yumaEpoch,
  yumaEpochPacked,
} from "../oracle/consensus/yuma";
import { createRng } from "../zkllm/model/forward";

const VALIDATORS = 256;
const MINERS = 1_792;
const N = VALIDATORS + MINERS;

/** Dense validator → miner rows: uids 0…255 are validators, 256…2047 miners. */
function denseRows(value: (v: number, m: number) => number): SparseU16 {
  const nnz = VALIDATORS * MINERS;
  const rowPtr = new Uint32Array(N + 1);
  const cols = new Uint16Array(nnz);
  const vals = new Uint16Array(nnz);
  let k = 0;
  for (let v = 0; v < N; v++) {
    if (v < VALIDATORS) {
      for (let m = 0; m < MINERS; m++) {
        cols[k] = VALIDATORS + m;
        vals[k] = value(v, m);
        k++;
      }
    }
    rowPtr[v + 1] = k;
  }
  return { rowPtr, cols, vals };
}

function brain(seed: number): YumaPackedInput {
  const rand = createRng(seed);
  const quality = Float64Array.from({ length: MINERS }, () => rand());
  const weights = denseRows((_v, m) =>
    Math.min(65_535, Math.floor(quality[m]! * (0.8 + 0.4 * rand()) * 54_000)),
  );
  const bonds = denseRows(() => 1 + Math.floor(rand() * 65_534));
  const stake = Array.from({ length: N }, (_, u) =>
    u < VALIDATORS ? BigInt(Math.floor((1 + 99 * rand()) * 1e6)) * 10n ** 18n : 0n,
  );
  return {
    stake,
    weights,
    bonds,
    emission: 360n * 10n * 10n ** 18n, // one 360-block epoch at 10 BASED a block
    lastUpdate: Array.from({ length: N }, (_, u) => (u < VALIDATORS ? 9_990 : 0)),
    blockAtRegistration: Array.from({ length: N }, (_, u) => u % 500),
    currentBlock: 10_000,
    activityCutoff: 20_000,
    tempo: 360,
  };
}

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return {
    median: at(0.5),
    p95: at(0.95),
    min: s[0]!,
    max: s[s.length - 1]!,
    mean: ms.reduce((a, b) => a + b, 0) / ms.length,
  };
}
/** Process CPU time in ms (user + system, all threads). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** CPU ms per call of f: the least over `batches` batches of `per` calls. */
function cpuPerCall(f: () => unknown, batches: number, per: number): number {
  let best = Infinity;
  for (let b = 0; b < batches; b++) {
    const c = cpuMs();
    for (let i = 0; i < per; i++) f();
    best = Math.min(best, (cpuMs() - c) / per);
  }
  return best;
}

/** A distinct address per integer (not a real account: only its bytes matter here). */
const addressOf = (i: number) =>
  `0x${((i * 2_654_435_761) >>> 0).toString(16).padStart(8, "0")}${i.toString(16).padStart(32, "0")}` as Address;

const f1 = (x: number) => x.toFixed(1);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

/** One full Brain, both APIs, and its memory. */
function oneBrain(runs: number, gc: (() => void) | undefined, opts: YumaOptions) {
  const input = brain(1);
  const tuples = {
    ...input,
    weights: fromSparse(input.weights),
    bonds: fromSparse(input.bonds!) as U16Entry[][],
  };
  for (let i = 0; i < 5; i++) {
    yumaEpochPacked(input, opts);
    yumaEpoch(tuples, opts);
  }
  const packedMs: number[] = [];
  const tupleMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    yumaEpochPacked(input, opts);
    packedMs.push(performance.now() - t);
    t = performance.now();
    yumaEpoch(tuples, opts);
    tupleMs.push(performance.now() - t);
  }
  const p = stats(packedMs);
  const t = stats(tupleMs);
  const packedCpu = cpuPerCall(() => yumaEpochPacked(input, opts), 6, 5);
  const tupleCpu = cpuPerCall(() => yumaEpoch(tuples, opts), 6, 5);
  console.log(
    `one full Brain, ${runs} runs after warm-up (wall), and CPU time per epoch (least of 6 batches of 5):`,
  );
  console.log(
    `  yumaEpochPacked (compressed rows)  median ${f1(p.median)} ms  p95 ${f1(p.p95)} ms  min ${f1(p.min)} ms  CPU ${f1(packedCpu)} ms`,
  );
  console.log(
    `  yumaEpoch (rows of [uid, u16])     median ${f1(t.median)} ms  p95 ${f1(t.p95)} ms  min ${f1(t.min)} ms  CPU ${f1(tupleCpu)} ms`,
  );

  // ── memory of one epoch ──
  gc?.();
  const before = process.memoryUsage();
  const out = yumaEpochPacked(input, opts);
  const after = process.memoryUsage();
  console.log(
    `  memory: heap ${mib(before.heapUsed)} → ${mib(after.heapUsed)}, array buffers ${mib(before.arrayBuffers)} → ${mib(after.arrayBuffers)}` +
      ` (one epoch's output + garbage; run with --expose-gc for a clean baseline), RSS ${mib(after.rss)}`,
  );
  void out;

  return { input, packedMedian: p.median, tupleMedian: t.median };
}

async function main() {
  const { values } = parseArgs({
    options: {
      brains: { type: "string", default: "1024" },
      engine: { type: "string", default: "wasm" },
      runs: { type: "string", default: "30" },
      members: { type: "string" },
      accounts: { type: "string" },
    },
  });
  const brains = Number(values.brains);
  if (values.engine !== "wasm" && values.engine !== "js") throw new Error("--engine is wasm or js");
  const opts: YumaOptions = { engine: values.engine };
  const runs = Number(values.runs);
  const members = Number(values.members ?? brains * 2_048);
  const accounts = Number(values.accounts ?? brains * 2_048);
  const gc = (globalThis as { gc?: () => void }).gc;

  console.log(
    `machine: ${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} logical CPUs (nproc ${os.availableParallelism()}), ${mib(os.totalmem())} RAM`,
  );
  console.log(
    `node ${process.version}, single thread, ${values.engine} core; load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
  console.log(
    `full Brain: ${VALIDATORS} validators × ${MINERS} miners, ${VALIDATORS * MINERS} weights, as many bonds\n`,
  );

  // One function, so that its inputs (the tuple rows above all: about 200 MB of small arrays that
  // every major GC would have to mark) are garbage before the network runs.
  const { input, packedMedian, tupleMedian } = oneBrain(runs, gc, opts);

  // ── the network: `brains` distinct full Brains ──
  const perBrain: number[] = [];
  let cpuSum = 0;
  let peakRss = 0;
  let peakHeap = 0;
  let total = 0n;
  for (let b = 0; b < brains; b++) {
    const x = brain(1_000 + b);
    const c0 = cpuMs();
    const t0 = performance.now();
    const o = yumaEpochPacked(x, opts);
    perBrain.push(performance.now() - t0);
    cpuSum += cpuMs() - c0;
    total += o.emission.reduce((a, e) => a + e, 0n);
    if (b % 64 === 0 || b === brains - 1) {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }
  }
  const s = stats(perBrain);
  const sumMs = perBrain.reduce((a, b2) => a + b2, 0);
  console.log(`\n${brains} distinct full Brains (yumaEpochPacked, generation not timed):`);
  console.log(
    `  total ${f1(sumMs)} ms = ${(sumMs / 1000).toFixed(2)} s wall, ${(cpuSum / 1000).toFixed(2)} s CPU  (per Brain: mean ${f1(s.mean)}, median ${f1(s.median)}, p95 ${f1(s.p95)}, min ${f1(s.min)}, max ${f1(s.max)} ms)`,
  );
  console.log(
    `  tuple API extrapolated: 1,024 × ${f1(tupleMedian)} ms = ${((1_024 * tupleMedian) / 1000).toFixed(2)} s`,
  );
  console.log(`  peak sampled heap ${mib(peakHeap)}, RSS ${mib(peakRss)}`);
  console.log(`  emissions summed exactly: ${total === BigInt(brains) * input.emission}`);
  const scale = brains >= 1_024 ? 1 : 1_024 / brains;
  const how = brains >= 1_024 ? "measured" : `extrapolated from ${brains} Brains`;
  console.log(
    `\ngoals: full Brain < 50 ms: packed ${packedMedian < 50 ? "met" : "NOT met"} (${f1(packedMedian)} ms), ` +
      `tuples ${tupleMedian < 50 ? "met" : "NOT met"} (${f1(tupleMedian)} ms); ` +
      `1,024 Brains < 10 s on one core: ${sumMs * scale < 10_000 ? "met" : "NOT met"} ` +
      `(${((sumMs * scale) / 1000).toFixed(1)} s wall, ${((cpuSum * scale) / 1000).toFixed(1)} s CPU, ${how})`,
  );

  await trees(members, accounts);
}

/**
 * The report's trees for a network of `members` members and `accounts` rewarded accounts, built
 * the way the attesters build them (report.ts), and OpenZeppelin's StandardMerkleTree.of on a
 * 2,000-leaf sample of each for comparison (the same root, checked). One function per tree, so the
 * first is garbage before the second is built.
 */
async function trees(members: number, accounts: number): Promise<void> {
  if (members > 0 || accounts > 0) await nodeHashBench();
  if (members > 0) await pruningTreeBench(members);
  if (accounts > 0) await rewardsTreeBench(accounts);
}

const SAMPLE = 2_000;
async function timed<T>(f: () => T | Promise<T>): Promise<{ r: T; cpu: number; wall: number }> {
  const c = cpuMs();
  const w = performance.now();
  const r = await f();
  return { r, cpu: cpuMs() - c, wall: performance.now() - w };
}
const perLeaf = (ms: number, n: number) => `${((ms / n) * 1000).toFixed(1)} µs a leaf`;
const seconds = (x: { wall: number; cpu: number }) =>
  `${(x.wall / 1000).toFixed(2)} s wall, ${(x.cpu / 1000).toFixed(2)} s CPU`;
const memory = () => `heap ${mib(process.memoryUsage().heapUsed)}, RSS ${mib(process.memoryUsage().rss)}`;

/** One inner node's hash (64 bytes: two children), the trees' unit of work, in CPU per hash. */
async function nodeHashBench(): Promise<void> {
  const keccak = await keccak256Hasher();
  const pair = Uint8Array.from({ length: 64 }, (_, i) => i);
  const out = new Uint8Array(32);
  const n = 1_000_000;
  let best = Infinity;
  for (let batch = 0; batch < 3; batch++) {
    const c = cpuMs();
    for (let i = 0; i < n; i++) keccak.hashInto(pair, out, 0);
    best = Math.min(best, cpuMs() - c);
  }
  console.log(`
Keccak-256 of a 64-byte node pair (protocol/hash.ts): ${((best / n) * 1000).toFixed(2)} µs CPU`);
}

async function pruningTreeBench(members: number): Promise<void> {
  const all: PruneCandidate[] = Array.from({ length: members }, (_, i) => ({
    brainId: Math.floor(i / 2_048),
    role: i % 2_048 < VALIDATORS ? Role.Validator : Role.Miner,
    uid: i % 2_048,
    account: addressOf(i),
    registeredAt: BigInt(i % 5_000),
    score: BigInt((i * 7_919) % 100_000),
  }));
  const order = await timed(() => pruningOrder(all));
  const built = await timed(() => pruningTree(order.r));
  const few = order.r.slice(0, SAMPLE);
  const oz = await timed(() =>
    StandardMerkleTree.of(few, ["uint16", "uint8", "uint16", "uint16", "address", "uint64"], {
      sortLeaves: false,
    }),
  );
  const same = oz.r.root === (await pruningTree(few)).root;
  console.log(`\npruning tree, ${members} members (${(members / 2_048).toFixed(0)} full Brains):`);
  console.log(`  pruningOrder ${seconds(order)}`);
  console.log(`  pruningTree  ${seconds(built)} (${perLeaf(built.cpu, members)}); ${memory()}`);
  console.log(
    `  OpenZeppelin StandardMerkleTree.of, ${SAMPLE} of them: ${perLeaf(oz.cpu, SAMPLE)} CPU (same root: ${same}); ` +
      `${members} would take about ${(((oz.cpu / SAMPLE) * members) / 1000).toFixed(0)} s`,
  );
}

async function rewardsTreeBench(accounts: number): Promise<void> {
  const rewards = Array.from({ length: accounts }, (_, i) => ({
    account: addressOf(i),
    amount: BigInt(i + 1) * 10n ** 15n,
  }));
  const built = await timed(() => rewardsTree(rewards));
  const few = built.r
    .dump()
    .values.slice(0, SAMPLE)
    .map((v) => v.value);
  const oz = await timed(() => StandardMerkleTree.of(few, ["address", "uint256"], { sortLeaves: false }));
  const same =
    oz.r.root ===
    (await rewardsTree(few.map(([account, amount]) => ({ account: account as Address, amount })))).root;
  console.log(`\nrewards tree, ${accounts} accounts:`);
  console.log(`  rewardsTree  ${seconds(built)} (${perLeaf(built.cpu, accounts)}); ${memory()}`);
  console.log(
    `  OpenZeppelin StandardMerkleTree.of, ${SAMPLE} of them: ${perLeaf(oz.cpu, SAMPLE)} CPU (same root: ${same}); ` +
      `${accounts} would take about ${(((oz.cpu / SAMPLE) * accounts) / 1000).toFixed(0)} s`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
