import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { expect } from "chai";
import fc from "fast-check";
import { tftWeight } from "../../../oracle/consensus/emission";
import { apportion, expDet, sigmoidDet } from "../../../oracle/consensus/math";
import {
  type SparseU16,
  type U16Entry,
  type YumaInput,
  type YumaOutput,
  type YumaPackedInput,
  type YumaPackedOutput,
  fromSparse,
  toSparse,
  yumaEpoch,
  yumaEpochPacked,
} from "../../../oracle/consensus/yuma";
import { createRng } from "../../../zkllm/model/forward";

/**
 * (Loops check with node:assert and compare whole arrays at once: hardhat-chai-matchers makes each
 * chai assertion cost about a millisecond.)
 *
 * The Yuma engine (oracle/consensus/yuma.ts) against Bittensor subtensor's own epoch scenarios
 * (pallets/subtensor/src/tests/epoch.rs: the values its tests assert and log), hand-worked cases,
 * the whitepaper options, and properties that must hold for any Brain.
 */

/** subtensor's default κ: 32767 as a u16 proportion. */
const SUBTENSOR_KAPPA = 32_767 / 65_535;
/** subtensor's fixed_proportion_to_u16: floor(x · 65535). */
const u16 = (x: number) => Math.floor(x * 65_535);
const bondOf = (out: YumaOutput, i: number, j: number) => out.bonds[i]!.find((e) => e[0] === j)?.[1] ?? 0;
const json = (x: unknown) => JSON.stringify(x, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));
const sum = (xs: readonly bigint[]) => xs.reduce((a, b) => a + b, 0n);

/** Emissions within 0.01 % (or 2 units for tiny values) of what subtensor computed. */
function expectNear(actual: readonly bigint[], expected: readonly number[], what: string) {
  expect(actual.length).to.equal(expected.length);
  const off = expected.flatMap((e, i) => {
    const a = Number(actual[i]!);
    return Math.abs(a - e) <= Math.max(1e-4 * e, 2) ? [] : [`uid ${i}: ${a} vs subtensor's ${e}`];
  });
  expect(off, what).to.deep.equal([]);
}

/** Bonds within one u16 step of subtensor's (its I32F32 truncation drifts down by about a step per epoch). */
function expectBondsNear(out: YumaOutput, column: number, expected: readonly number[], what: string) {
  const off = expected.flatMap((e, i) => {
    const b = bondOf(out, i, column);
    return Math.abs(b - e) <= 1 ? [] : [`bonds[${i}][${column}] = ${b} vs subtensor's ${e}`];
  });
  expect(off, what).to.deep.equal([]);
}

/** Rows as compressed rows (entries kept in the given order). */
function packed(rows: readonly (readonly (readonly [number, number])[])[]): SparseU16 {
  const rowPtr = new Uint32Array(rows.length + 1);
  const flat = rows.flat();
  rows.forEach((r, i) => (rowPtr[i + 1] = rowPtr[i]! + r.length));
  return {
    rowPtr,
    cols: Uint16Array.from(flat, (e) => e[0]),
    vals: Uint16Array.from(flat, (e) => e[1]),
  };
}

interface Scenario {
  name: string;
  epochs: number;
  /** The input of epoch e, given the bonds the previous epoch returned. */
  input: (epoch: number, bonds: SparseU16 | undefined) => YumaPackedInput;
}

/**
 * Brains of every shape the engine has a path for: dense and sparse rows, rows out of uid order,
 * exact ties at the median, inactive and outdated validators, staked uids without a permit, permits
 * from the previous epoch, every parameter and option, bonds carried over several epochs, and one
 * full Brain (256 × 1,792, dense).
 */
function scenarios(): Scenario[] {
  const brain = (
    seed: number,
    V: number,
    M: number,
    opts: { density: number; quantized?: boolean; shuffle?: boolean },
  ) => {
    const rand = createRng(seed);
    const n = V + M;
    const quality = Array.from({ length: M }, () => rand());
    const weights = Array.from({ length: n }, (_, u) => {
      if (u >= V) return [] as [number, number][];
      const row: [number, number][] = [];
      for (let m = 0; m < M; m++) {
        if (rand() >= opts.density) continue;
        const w = opts.quantized
          ? Math.floor(rand() * 4) * 1000
          : Math.min(65_535, Math.floor(quality[m]! * (0.8 + 0.4 * rand()) * 54_000));
        row.push([V + m, w]);
      }
      if (opts.shuffle) {
        for (let i = row.length - 1; i > 0; i--) {
          const r = Math.floor(rand() * (i + 1));
          [row[i], row[r]] = [row[r]!, row[i]!];
        }
      }
      return row;
    });
    const bonds = Array.from({ length: n }, (_, u) =>
      u < V
        ? Array.from(
            { length: M },
            (_, m) => [V + m, Math.floor(rand() * 65_536)] as [number, number],
          ).filter(() => rand() < opts.density)
        : [],
    );
    const stake = Array.from({ length: n }, (_, u) =>
      u < V && rand() < 0.95 ? BigInt(Math.floor((1 + 99 * rand()) * 1e6)) * 10n ** 18n : 0n,
    );
    return { rand, n, weights, bonds, stake };
  };
  const dense = brain(11, 64, 192, { density: 1 });
  const sparse = brain(12, 40, 300, { density: 0.1, shuffle: true });
  const ties = brain(13, 48, 60, { density: 0.9, quantized: true });
  const opts = brain(14, 30, 90, { density: 0.7 });
  const full = brain(15, 256, 1792, { density: 1 });
  const lastUpdateOf = (b: { n: number; rand: () => number }, V: number) =>
    Array.from({ length: b.n }, (_, u) => (u < V ? (b.rand() < 0.85 ? 9_990 : 100) : 0));
  const sparseLast = lastUpdateOf(sparse, 40);
  const optsLast = lastUpdateOf(opts, 30);
  return [
    {
      name: "dense, 64 validators × 192 miners, 3 epochs",
      epochs: 3,
      input: (_e, bonds) => ({
        stake: dense.stake,
        weights: packed(dense.weights),
        bonds: bonds ?? packed(dense.bonds),
        emission: 10n ** 21n,
        currentBlock: 10_000,
        lastUpdate: Array.from({ length: dense.n }, (_, u) => (u < 64 ? 9_990 : 0)),
        blockAtRegistration: Array.from({ length: dense.n }, (_, u) => u % 500),
        tempo: 360,
      }),
    },
    {
      name: "sparse rows out of uid order, κ = 0.05; inactive and outdated validators; 32 permits for 40 stakes; permits carried",
      epochs: 3,
      input: (e, bonds) => ({
        stake: sparse.stake,
        weights: packed(sparse.weights),
        bonds: bonds ?? packed(sparse.bonds),
        emission: 123_456_789_012_345_678_901n,
        currentBlock: 10_000,
        activityCutoff: 5_000,
        lastUpdate: sparseLast,
        blockAtRegistration: Array.from({ length: sparse.n }, (_, u) => (u * 7_919) % 10_000),
        tempo: 360,
        params: { maxAllowedValidators: 32, kappa: 0.05 },
        validatorPermit:
          e === 0 ? undefined : Array.from({ length: sparse.n }, (_, u) => u % 3 !== 0 && u < 40),
      }),
    },
    {
      name: "quantized weights and equal stakes: exact ties at the median",
      epochs: 2,
      input: (_e, bonds) => ({
        stake: ties.stake.map((s) => (s > 0n ? 10n ** 21n : 0n)),
        weights: packed(ties.weights),
        bonds,
        emission: 10n ** 18n,
      }),
    },
    {
      name: "every parameter and option: κ, EMA, penalty, min stake, sigmoid, β·accuracy, server share",
      epochs: 3,
      input: (e, bonds) => ({
        stake: opts.stake,
        weights: packed(opts.weights),
        bonds: bonds ?? packed(opts.bonds),
        emission: 10n ** 20n + 7n,
        currentBlock: 10_000,
        lastUpdate: optsLast,
        blockAtRegistration: Array.from({ length: opts.n }, (_, u) => (u * 31) % 9_000),
        tempo: 100,
        accuracy: Array.from({ length: opts.n }, (_, u) => (u % 5) / 4),
        params: {
          kappa: [0.3, 32_767 / 65_535, 0.8][e]!,
          bondsMovingAverage: [0.5, 0.9, 0][e]!,
          bondsPenalty: [0.5, 0, 1][e]!,
          minStake: 5n * 10n ** 24n,
          sigmoidConsensus: e !== 1,
          rho: 7,
          beta: e === 2 ? 0 : 250_000_000_000_000_000n,
          serverShareBps: e === 1 ? undefined : 7_000,
        },
      }),
    },
    {
      name: "a full Brain: 256 validators × 1,792 miners, dense",
      epochs: 1,
      input: () => ({
        stake: full.stake,
        weights: packed(full.weights),
        bonds: packed(full.bonds),
        emission: 3_600n * 10n ** 18n,
        currentBlock: 10_000,
        lastUpdate: Array.from({ length: full.n }, (_, u) => (u < 256 ? 9_990 : 0)),
        blockAtRegistration: Array.from({ length: full.n }, (_, u) => u % 500),
        tempo: 360,
      }),
    },
  ];
}

/** SHA-256 of every output, doubles by their exact bits. */
function digestOf(outs: readonly YumaPackedOutput[]): string {
  const h = createHash("sha256");
  for (const o of outs) {
    for (const xs of [o.emission, o.serverEmission, o.validatorEmission]) h.update(xs.join(",") + ";");
    for (const xs of [
      o.incentive,
      o.dividends,
      o.consensus,
      o.trust,
      o.validatorTrust,
      o.rank,
      o.consensusFactor,
    ]) {
      h.update(new Uint8Array(Float64Array.from(xs).buffer));
    }
    h.update(o.validatorPermit.map(Number).join("") + o.active.map(Number).join(""));
    for (const a of [o.bonds.rowPtr, o.bonds.cols, o.bonds.vals])
      h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  return h.digest("hex");
}

function runScenario(s: Scenario, engine: (x: YumaPackedInput) => YumaPackedOutput): string {
  const outs: YumaPackedOutput[] = [];
  let bonds: SparseU16 | undefined;
  for (let e = 0; e < s.epochs; e++) {
    const out = engine(s.input(e, bonds));
    outs.push(out);
    bonds = out.bonds;
  }
  return digestOf(outs);
}

describe("oracle consensus: Yuma epoch (subtensor's classic epoch, deterministic)", function () {
  describe("golden scenarios from subtensor (pallets/subtensor/src/tests/epoch.rs)", function () {
    it("test_bonds: 4 validators, 4 servers, 8 epochs of self-weights and weight changes with bonds carried", function () {
      // stakes 1..4 on validators; val → srv weights 0.1/0.2/0.3/0.4 (stored u16 values); tempo 1.
      const srv: U16Entry[] = [
        [4, 16_383],
        [5, 32_767],
        [6, 49_149],
        [7, 65_535],
      ];
      const epochs: { change: (w: U16Entry[][]) => void; E: number[]; col: number; B: number[] }[] = [
        {
          change: () => {},
          E: [49999998, 99999999, 150000000, 200000001, 49998779, 100000610, 149996337, 200004272],
          col: 4,
          B: [16383, 32767, 49151, 65535],
        },
        {
          change: (w) => (w[0] = [[0, 65_535]]), // val1: self-weight only
          E: [44998351, 101110561, 151667215, 202223870, 49998779, 100000610, 149996337, 200004272],
          col: 4,
          B: [14582, 32767, 49151, 65535],
        },
        {
          change: (w) => (w[1] = [[1, 65_535]]), // val2: self-weight only
          E: [40496805, 90999783, 157929636, 210573773, 49998779, 100000610, 149996337, 200004272],
          col: 4,
          B: [12603, 28321, 49151, 65535],
        },
        {
          change: (w) => (w[2] = [[2, 65_535]]), // val3 too: 60 % of stake now scores 0 → consensus 0
          E: [99999999, 199999999, 299999999, 399999999, 0, 0, 0, 0],
          col: 7,
          B: [12602, 28320, 49150, 65535],
        },
        {
          change: (w) => (w[2] = [[7, 65_535]]), // val3 → srv4: 1
          E: [36443733, 81898628, 163565493, 218092144, 0, 0, 0, 500000000],
          col: 7,
          B: [10951, 24609, 49150, 65535],
        },
        {
          change: () => {},
          E: [32799427, 73706612, 168638129, 224855830, 0, 0, 0, 500000000],
          col: 7,
          B: [9559, 21482, 49150, 65535],
        },
        {
          change: () => {},
          E: [29518068, 66336137, 173203134, 230942659, 0, 0, 0, 500000000],
          col: 7,
          B: [8376, 18824, 49150, 65535],
        },
        {
          change: () => {},
          E: [26565175, 59701871, 177311856, 236421095, 0, 0, 0, 500000000],
          col: 7,
          // from the logged emaB (max-upscaled): 0.1123638137, 0.2525234516, 0.7499832308, 1
          B: [u16(0.1123638137), u16(0.2525234516), u16(0.7499832308), 65535],
        },
      ];
      const weights: U16Entry[][] = [srv, srv, srv, srv, [], [], [], []];
      let bonds: U16Entry[][] | undefined;
      let validatorPermit: boolean[] | undefined;
      epochs.forEach((epoch, t) => {
        epoch.change(weights);
        const out = yumaEpoch({
          stake: [1, 2, 3, 4, 0, 0, 0, 0],
          weights,
          bonds,
          emission: 1_000_000_000n,
          params: { kappa: SUBTENSOR_KAPPA, maxAllowedValidators: 8 },
          lastUpdate: [1, 1, 1, 1, 0, 0, 0, 0],
          blockAtRegistration: [0, 0, 0, 0, 0, 0, 0, 0],
          currentBlock: t + 1,
          tempo: 1,
          validatorPermit,
        });
        expect(sum(out.emission)).to.equal(1_000_000_000n);
        expectNear(out.emission, epoch.E, `epoch ${t + 1}`);
        expectBondsNear(out, epoch.col, epoch.B, `epoch ${t + 1}`);
        bonds = out.bonds;
        validatorPermit = out.validatorPermit;
      });
      // The exact u16 values where no truncation drift is involved.
      expect(bonds!.slice(0, 4).map((r) => r.find((e) => e[0] === 7)![1])).to.deep.equal([
        7363, 16549, 49151, 65535,
      ]);
    });

    it("test_active_stake: a validator past the activity cutoff loses its stake, then its bonds decay", function () {
      const w: U16Entry[] = [
        [2, 65_535],
        [3, 65_535],
      ]; // u16::MAX / 2 each, stored max-upscaled
      const base = {
        stake: [1, 1, 1, 1],
        weights: [w, w, [], []],
        emission: 1_000_000_000n,
        params: { kappa: SUBTENSOR_KAPPA, maxAllowedValidators: 4 },
        blockAtRegistration: [0, 0, 0, 0],
        tempo: 1,
      };
      const e1 = yumaEpoch({ ...base, lastUpdate: [1, 1, 0, 0], currentBlock: 1 });
      expect(e1.emission).to.deep.equal([250000000n, 250000000n, 250000000n, 250000000n]);
      expect(e1.dividends.slice(0, 2).map(u16)).to.deep.equal([32767, 32767]);
      for (const v of [0, 1]) for (const s of [2, 3]) expect(bondOf(e1, v, s)).to.equal(65_535);

      // Block 5002: only uid 0 updated its weights; uid 1 (last update 1) is past the 5000-block cutoff.
      const e2 = yumaEpoch({ ...base, bonds: e1.bonds, lastUpdate: [5002, 1, 0, 0], currentBlock: 5002 });
      expect(e2.active).to.deep.equal([true, false, false, false]);
      expectNear(e2.emission, [274999999, 224999999, 250000000, 250000000], "block 5002");
      expect(e2.dividends.slice(0, 2).map(u16)).to.deep.equal([36044, 29490]); // floor(0.55·65535), floor(0.45·65535)
      for (const s of [2, 3]) {
        expect(bondOf(e2, 0, s)).to.equal(65_535);
        expect(bondOf(e2, 1, s)).to.equal(53_619);
      }

      // Block 5003: uid 1 is back.
      const e3 = yumaEpoch({ ...base, bonds: e2.bonds, lastUpdate: [5002, 5002, 0, 0], currentBlock: 5003 });
      expectNear(e3.emission, [272501132, 227498866, 250000000, 250000000], "block 5003");
      expect(e3.dividends.slice(0, 2).map(u16)).to.deep.equal([35716, 29818]);
      for (const s of [2, 3]) {
        expect(bondOf(e3, 0, s)).to.equal(65_535);
        expect(bondOf(e3, 1, s)).to.equal(54_712);
      }
    });

    it("test_outdated_weights: weights set before a uid re-registered are dropped", function () {
      const w: U16Entry[] = [
        [2, 65_535],
        [3, 32_768],
      ]; // 2/3, 1/3 stored max-upscaled
      const params = { kappa: SUBTENSOR_KAPPA, maxAllowedValidators: 4 };
      const e1 = yumaEpoch({
        stake: [1, 1, 1, 1],
        weights: [w, w, [[2, 65_535]], [[3, 65_535]]], // servers' self-weights are masked
        emission: 1_000_000_000n,
        params,
        lastUpdate: [1, 1, 1, 1],
        blockAtRegistration: [0, 0, 0, 0],
        currentBlock: 1,
        tempo: 0,
      });
      expectNear(e1.emission, [250000000, 250000000, 333331637, 166668361], "block 1");

      // uid 3 is replaced at block 1 by a new key without stake; at block 2 only uid 0 re-set weights.
      const e2 = yumaEpoch({
        stake: [1, 1, 1, 0],
        weights: [w, w, [[2, 65_535]], [[3, 65_535]]],
        bonds: e1.bonds,
        emission: 1_000_000_000n,
        params,
        lastUpdate: [2, 1, 1, 1],
        blockAtRegistration: [0, 0, 0, 1],
        currentBlock: 2,
        tempo: 0,
        validatorPermit: [true, true, true, false],
      });
      expect(e2.consensus[3]).to.equal(0); // uid 1's weight on uid 3 predates its registration
      expectNear(e2.emission, [250000000, 250000000, 500000000, 0], "block 2");
      expect(u16(e2.dividends[0]!)).to.equal(32_767);
      expect(bondOf(e2, 0, 2)).to.equal(65_535);
      expect(bondOf(e2, 0, 3)).to.equal(65_535);
    });

    it("test_zero_weights: no usable weights → emission by stake; outdated, then fresh weights", function () {
      const base = {
        stake: [1, 0],
        emission: 1_000_000_000n,
        params: { kappa: SUBTENSOR_KAPPA },
        tempo: 65_534,
      };
      const noWeights = yumaEpoch({
        ...base,
        weights: [[], []],
        lastUpdate: [0, 0],
        blockAtRegistration: [0, 0],
        currentBlock: 0,
      });
      expect(noWeights.emission).to.deep.equal([1_000_000_000n, 0n]);
      const selfOnly = yumaEpoch({
        ...base,
        weights: [[], [[1, 65_535]]],
        lastUpdate: [0, 1],
        blockAtRegistration: [0, 0],
        currentBlock: 1,
      });
      expect(selfOnly.emission).to.deep.equal([1_000_000_000n, 0n]);
      // The server re-registers at block 2, the block the validator set its weights: outdated.
      const outdated = yumaEpoch({
        ...base,
        weights: [[[1, 65_535]], []],
        lastUpdate: [2, 1],
        blockAtRegistration: [0, 2],
        currentBlock: 2,
      });
      expect(outdated.emission).to.deep.equal([1_000_000_000n, 0n]);
      const fresh = yumaEpoch({
        ...base,
        weights: [[[1, 65_535]], []],
        lastUpdate: [3, 1],
        blockAtRegistration: [0, 2],
        currentBlock: 3,
      });
      expect(fresh.emission).to.deep.equal([500_000_000n, 500_000_000n]);
    });

    it("test_512_graph: 64 validators, 448 servers, 3 epochs (blockwise and interleaved uids, server self-weights off/on)", function () {
      const n = 512;
      const stakePerValidator = 328_125_000_000_000n; // 21e15 / 64
      for (const interleave of [0, 1]) {
        for (const serverSelf of [false, true]) {
          const isValidator = (u: number) => (interleave === 0 ? u < 64 : u % 8 === 0);
          const uids = Array.from({ length: n }, (_, u) => u);
          const validators = uids.filter(isValidator);
          const servers = uids.filter((u) => !isValidator(u));
          // u16::MAX / 512 on every server, stored max-upscaled: 65535.
          const row: U16Entry[] = servers.map((s) => [s, 65_535]);
          const weights = uids.map((u) =>
            isValidator(u) ? row : serverSelf ? ([[u, 65_535]] as U16Entry[]) : [],
          );
          let bonds: U16Entry[][] | undefined;
          let out!: YumaOutput;
          for (let epoch = 0; epoch < 3; epoch++) {
            out = yumaEpoch({
              stake: uids.map((u) => (isValidator(u) ? stakePerValidator : 0n)),
              weights,
              bonds,
              emission: 1_000_000_000n,
              params: { kappa: SUBTENSOR_KAPPA, maxAllowedValidators: 64 },
              lastUpdate: uids.map((u) => (isValidator(u) || serverSelf ? 1 : 0)),
              blockAtRegistration: uids.map(() => 0),
              currentBlock: 1,
              tempo: 65_534,
            });
            bonds = out.bonds;
          }
          const what = `interleave ${interleave}, server self-weight ${serverSelf}`;
          const at = (xs: readonly number[], uids: number[], f = (x: number) => x) =>
            json(uids.map((u) => f(xs[u]!)));
          const all = (uids: number[], x: unknown) => json(uids.map(() => x));
          for (const k of ["rank", "trust", "consensus", "incentive"] as const) {
            expect(at(out[k], validators), `${what}: validators' ${k}`).to.equal(all(validators, 0));
          }
          expect(at(out.dividends, validators, u16), what).to.equal(all(validators, 1023)); // floor(65535 / 64)
          expect(
            json(validators.map((v) => [bondOf(out, v, validators[0]!), bondOf(out, v, servers[0]!)])),
            what,
          ).to.equal(all(validators, [0, 65_535]));
          expectNear(
            validators.map((v) => out.emission[v]!),
            validators.map(() => 7_812_500),
            what,
          );
          expect(at(out.rank, servers, u16), what).to.equal(all(servers, 146)); // floor(65535 / 448)
          expect(at(out.trust, servers, u16), what).to.equal(all(servers, 65_535));
          expect(at(out.consensus, servers, u16), what).to.equal(all(servers, 146));
          expect(at(out.incentive, servers, u16), what).to.equal(all(servers, 146));
          expect(at(out.dividends, servers), what).to.equal(all(servers, 0));
          expect(json(servers.map((s) => out.bonds[s])), what).to.equal(all(servers, []));
          expectNear(
            servers.map((s) => out.emission[s]!),
            servers.map(() => 1_116_071),
            what,
          );
        }
      }
    });

    it("test_deregistered_miner_bonds: bonds on a uid registered within the last tempo are reset", function () {
      // Validators 0 and 1 (stake 1 each) weight miners 2 and 3 equally. Last epoch only validator 0
      // held a bond on uid 3 — which has since been re-registered by someone else.
      const w: U16Entry[] = [
        [2, 65_535],
        [3, 65_535],
      ];
      const epoch = (registeredAt3: number) =>
        yumaEpoch({
          stake: [1, 1, 0, 0],
          weights: [w, w, [], []],
          bonds: [
            [
              [2, 65_535],
              [3, 65_535],
            ],
            [[2, 65_535]],
            [],
            [],
          ],
          emission: 1_000n,
          lastUpdate: [100, 100, 0, 0],
          blockAtRegistration: [0, 0, 0, registeredAt3],
          currentBlock: 100,
          tempo: 10,
        });
      // Registered at or after currentBlock − tempo: the old column is dropped, only ΔB = [½, ½] remains.
      const reset = epoch(90);
      expect([bondOf(reset, 0, 3), bondOf(reset, 1, 3)]).to.deep.equal([65_535, 65_535]);
      // Registered before: the EMA keeps 0.9·[1, 0] + 0.1·[½, ½] = [0.95, 0.05] → 0.05 / 0.95 · 65535.
      const kept = epoch(89);
      expect([bondOf(kept, 0, 3), bondOf(kept, 1, 3)]).to.deep.equal([65_535, u16(0.05 / 0.95)]);
      expect(kept.dividends[0]! > reset.dividends[0]!).to.equal(true);
    });

    it("test_10_graph and test_1_graph: self-weights only → nothing ranked, emission by stake", function () {
      const ten = yumaEpoch({
        stake: Array(10).fill(1),
        weights: Array.from({ length: 10 }, (_, i) => [[i, 65_535]] as U16Entry[]),
        emission: 1_000_000_000n,
        lastUpdate: Array(10).fill(1),
        blockAtRegistration: Array(10).fill(0),
        currentBlock: 1,
      });
      for (const x of [ten.rank, ten.trust, ten.consensus, ten.incentive, ten.dividends]) {
        expect(x).to.deep.equal(Array(10).fill(0));
      }
      expectNear(ten.emission, Array(10).fill(99_999_999), "10 graph");
      const one = yumaEpoch({ stake: [1_000_000_000], weights: [[[0, 65_535]]], emission: 1_000_000_000n });
      expect([one.rank[0], one.trust[0], one.consensus[0], one.incentive[0], one.dividends[0]]).to.deep.equal(
        [0, 0, 0, 0, 0],
      );
      expect(one.emission).to.deep.equal([1_000_000_000n]);
    });
  });

  describe("hand-worked cases", function () {
    // Validators 0 (stake 3) and 1 (stake 1), miners 2 and 3 (no stake), κ = 0.5.
    //   W (normalized): v0 → [0.75, 0.25], v1 → [0.25, 0.75]      S = [0.75, 0.25]
    //   consensus: miner 2: scores 0.25 (stake .25), 0.75 (.75); stake ≤ 0.25 is 0.25, not > 0.5 → 0.75
    //              miner 3: scores 0.25 (stake .75) — already > 0.5 → 0.25
    //   clipped:   v0 → [0.75, 0.25]; v1 → [0.25, 0.25]          validator trust: [1, 0.5]
    //   preranks:  [0.75·0.75 + 0.25·0.25, 0.75·0.25 + 0.25·0.75] = [0.625, 0.375]
    //   ranks:     [0.625, 0.75·0.25 + 0.25·0.25] = [0.625, 0.25]  → trust [1, 2/3]
    //   incentive: [0.625, 0.25] / 0.875 = [5/7, 2/7]
    //   ΔB = S ∘ W̄: v0 [0.5625, 0.1875], v1 [0.0625, 0.0625]; column-normalized: v0 [0.9, 0.75], v1 [0.1, 0.25]
    //   no old bonds → EMA = 0.1·ΔB, normalized = ΔB
    //   dividends: v0 0.9·5/7 + 0.75·2/7 = 6/7, v1 0.1·5/7 + 0.25·2/7 = 1/7
    //   emission 7000: I and D each sum to 1 → halves: miners 2500, 1000; validators 3000, 500
    //   stored bonds: column max → v0 [1, 1] = 65535; v1 [0.1/0.9, 0.25/0.75] → floor(7281.67) = 7281, 21845
    const hand: YumaInput = {
      stake: [3n, 1n, 0n, 0n],
      weights: [
        [
          [2, 49_152],
          [3, 16_384],
        ],
        [
          [2, 16_384],
          [3, 49_152],
        ],
        [],
        [],
      ],
      emission: 7_000n,
    };

    it("2 validators, 2 miners: consensus, clipping, trust, incentive, dividends, bonds, emission", function () {
      const out = yumaEpoch(hand);
      expect(out.consensus).to.deep.equal([0, 0, 0.75, 0.25]);
      expect(out.validatorTrust).to.deep.equal([1, 0.5, 0, 0]);
      expect(out.trust[2]).to.equal(1);
      expect(out.trust[3]).to.be.closeTo(2 / 3, 1e-15);
      expect(out.incentive[2]).to.be.closeTo(5 / 7, 1e-15);
      expect(out.incentive[3]).to.be.closeTo(2 / 7, 1e-15);
      expect(out.rank).to.deep.equal(out.incentive);
      expect(out.dividends[0]).to.be.closeTo(6 / 7, 1e-15);
      expect(out.dividends[1]).to.be.closeTo(1 / 7, 1e-15);
      expect(out.emission).to.deep.equal([3000n, 500n, 2500n, 1000n]);
      expect(out.serverEmission).to.deep.equal([0n, 0n, 2500n, 1000n]);
      expect(out.validatorEmission).to.deep.equal([3000n, 500n, 0n, 0n]);
      expect(out.bonds).to.deep.equal([
        [
          [2, 65_535],
          [3, 65_535],
        ],
        [
          [2, 7_281],
          [3, 21_845],
        ],
        [],
        [],
      ]);
      expect(out.validatorPermit).to.deep.equal([true, true, false, false]);
    });

    it("second epoch with the same weights: the bonds EMA moves validator 1 towards its stake-weighted share", function () {
      const first = yumaEpoch(hand);
      const second = yumaEpoch({ ...hand, bonds: first.bonds });
      // Old bonds column-normalized: miner 2: 65535 / (65535 + 7281) = 0.900008…, miner 3: 0.75 exactly;
      // ΔB is the same as before, so the EMA stays at [0.9, 0.75] / [0.1, 0.25] up to the u16 rounding.
      const b2 = 65_535 / (65_535 + 7_281);
      const d0 = ((0.1 * 0.9 + 0.9 * b2) * 5) / 7 + (0.75 * 2) / 7;
      const d1 = ((0.1 * 0.1 + 0.9 * (1 - b2)) * 5) / 7 + (0.25 * 2) / 7;
      expect(second.dividends[0]).to.be.closeTo(d0 / (d0 + d1), 1e-12);
      expect(second.dividends[1]).to.be.closeTo(d1 / (d0 + d1), 1e-12);
      expect(sum(second.emission)).to.equal(7_000n);
      expect(second.emission.slice(2)).to.deep.equal([2500n, 1000n]);
    });

    it("validator permits go to the top-k stakes, ties to the higher uid (subtensor's stable ascending sort)", function () {
      const out = yumaEpoch({
        stake: [5, 5, 7, 0, 5],
        weights: [[], [], [], [], []],
        emission: 0n,
        params: { maxAllowedValidators: 2 },
      });
      expect(out.validatorPermit).to.deep.equal([false, false, true, false, true]);
      const all = yumaEpoch({
        stake: [5, 0, 7],
        weights: [[], [], []],
        emission: 0n,
        params: { maxAllowedValidators: 3 },
      });
      expect(all.validatorPermit).to.deep.equal([true, false, true]); // zero stake never gets a permit
    });

    it("a validator without a permit, an inactive one and a self-weight do not move consensus", function () {
      // Validator 2 disagrees but has no permit in force; validator 3 disagrees but is inactive.
      const agree: U16Entry[] = [
        [4, 65_535],
        [5, 0],
      ];
      const disagree: U16Entry[] = [
        [2, 65_535],
        [5, 65_535],
      ];
      const out = yumaEpoch({
        stake: [10, 10, 100, 100, 0, 0],
        weights: [agree, agree, disagree, disagree, [], []],
        emission: 1_000n,
        validatorPermit: [true, true, false, true, false, false],
        lastUpdate: [90, 90, 90, 10, 0, 0],
        blockAtRegistration: [0, 0, 0, 0, 0, 0],
        currentBlock: 100,
        activityCutoff: 50,
      });
      expect(out.active).to.deep.equal([true, true, true, false, false, false]);
      expect(out.consensus).to.deep.equal([0, 0, 0, 0, 1, 0]);
      expect(out.emission[4]).to.equal(500n);
      expect(out.emission[0]! + out.emission[1]!).to.equal(500n);
      expect(out.emission[2]! + out.emission[3]! + out.emission[5]!).to.equal(0n);
    });
  });

  describe("the whitepaper's options (off by default)", function () {
    const input: YumaInput = {
      stake: [3n, 1n, 0n, 0n],
      weights: [
        [
          [2, 49_152],
          [3, 16_384],
        ],
        [
          [2, 16_384],
          [3, 49_152],
        ],
        [],
        [],
      ],
      emission: 10n ** 21n,
    };

    it("sigmoid consensus scales ranks by σ(ρ(T − κ))", function () {
      const out = yumaEpoch({ ...input, params: { sigmoidConsensus: true, rho: 10 } });
      const sig = (x: number) => 1 / (1 + Math.exp(-x)); // reference only; the engine never calls Math.exp
      const f2 = sig(10 * (1 - 0.5));
      const f3 = sig(10 * (2 / 3 - 0.5));
      expect(out.consensusFactor[2]).to.be.closeTo(f2, 1e-15);
      expect(out.consensusFactor[3]).to.be.closeTo(f3, 1e-15);
      const r2 = 0.625 * f2;
      const r3 = 0.25 * f3;
      expect(out.incentive[2]).to.be.closeTo(r2 / (r2 + r3), 1e-14);
      expect(out.incentive[3]).to.be.closeTo(r3 / (r2 + r3), 1e-14);
      expect(out.rank[2]).to.be.closeTo(5 / 7, 1e-15); // ranks themselves are unchanged
      expect(sum(out.emission)).to.equal(10n ** 21n);
    });

    it("β(t)·Accuracy adds to the normalized ranks; zero accuracy or β = 0 changes nothing", function () {
      const classic = yumaEpoch(input);
      const withAcc = yumaEpoch({ ...input, accuracy: [0, 0, 0, 1], params: { beta: 0.5 } });
      expect(withAcc.incentive[2]).to.be.closeTo(5 / 7 / 1.5, 1e-15);
      expect(withAcc.incentive[3]).to.be.closeTo((2 / 7 + 0.5) / 1.5, 1e-15);
      const asWad = yumaEpoch({ ...input, accuracy: [0, 0, 0, 1], params: { beta: 5n * 10n ** 17n } });
      expect(json(asWad)).to.equal(json(withAcc));
      expect(json(yumaEpoch({ ...input, accuracy: [0, 0, 0, 0], params: { beta: 1 } }))).to.equal(
        json(classic),
      );
      expect(json(yumaEpoch({ ...input, accuracy: [0, 0, 0, 1], params: { beta: tftWeight(0n) } }))).to.equal(
        json(classic),
      );
    });

    it("serverShareBps fixes the miners' part exactly", function () {
      const out = yumaEpoch({ ...input, params: { serverShareBps: 7_500 } });
      expect(sum(out.serverEmission)).to.equal((10n ** 21n * 3n) / 4n);
      expect(sum(out.validatorEmission)).to.equal(10n ** 21n / 4n);
      const half = yumaEpoch({ ...input, params: { serverShareBps: 5_000 } });
      const classic = yumaEpoch(input);
      half.emission.forEach((e, i) => expect(Number(e - classic.emission[i]!)).to.be.within(-1e6, 1e6));
    });
  });

  describe("deterministic helpers (oracle/consensus/math.ts)", function () {
    it("expDet agrees with Math.exp to a few ulp on [−40, 40] and sigmoidDet is the logistic", function () {
      let worst = 0;
      for (let x = -40; x <= 40; x += 0.0137) {
        const rel = Math.abs(expDet(x) - Math.exp(x)) / Math.exp(x);
        if (rel > worst) worst = rel;
      }
      expect(worst).to.be.below(1e-15);
      expect(expDet(0)).to.equal(1);
      expect(expDet(1)).to.be.closeTo(Math.E, 1e-15);
      expect(sigmoidDet(0)).to.equal(0.5);
      expect(sigmoidDet(800)).to.equal(1);
      expect(sigmoidDet(-800)).to.be.below(1e-300);
      expect(Number.isNaN(expDet(NaN))).to.equal(true);
    });

    it("apportion: largest remainder, ties to the lower index, exact sums", function () {
      expect(apportion(10n, [1, 1, 1])).to.deep.equal([4n, 3n, 3n]);
      expect(apportion(7n, [0.5, 0.25, 0.25])).to.deep.equal([3n, 2n, 2n]);
      expect(apportion(5n, [0, 1, 0])).to.deep.equal([0n, 5n, 0n]);
      expect(() => apportion(5n, [0, 0])).to.throw(RangeError);
      fc.assert(
        fc.property(
          fc.bigInt({ min: 0n, max: 10n ** 30n }),
          fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 20 }),
          (total, shares) => {
            fc.pre(shares.some((s) => s >= 2 ** -50));
            const parts = apportion(total, shares);
            assert.equal(sum(parts), total);
            parts.forEach((p, k) => {
              assert.ok(p >= 0n);
              if (shares[k] === 0) assert.equal(p, 0n);
            });
          },
        ),
        { numRuns: 200 },
      );
    });
  });

  describe("properties (fast-check)", function () {
    /** A random small Brain with every optional input present. */
    const brain = fc.integer({ min: 2, max: 9 }).chain((n) => {
      const uid = fc.integer({ min: 0, max: n - 1 });
      const row = fc.uniqueArray(fc.tuple(uid, fc.integer({ min: 0, max: 65_535 })), {
        selector: (e) => e[0],
        maxLength: n,
      });
      const perUid = <T>(a: fc.Arbitrary<T>) => fc.array(a, { minLength: n, maxLength: n });
      return fc.record({
        stake: perUid(
          fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 10n ** 24n }), fc.bigInt({ min: 1n, max: 4n })),
        ),
        weights: perUid(row),
        bonds: perUid(row),
        emission: fc.bigInt({ min: 0n, max: 10n ** 24n }),
        kappa: fc.constantFrom(0.5, SUBTENSOR_KAPPA, 0.3, 0.8, 1),
        bondsMovingAverage: fc.constantFrom(0.9, 0, 0.5, 1),
        bondsPenalty: fc.constantFrom(1, 0, 0.5),
        lastUpdate: perUid(fc.integer({ min: 0, max: 30 })),
        blockAtRegistration: perUid(fc.integer({ min: 0, max: 30 })),
        currentBlock: fc.integer({ min: 0, max: 40 }),
        activityCutoff: fc.integer({ min: 0, max: 40 }),
        tempo: fc.integer({ min: 0, max: 10 }),
        validatorPermit: perUid(fc.boolean()),
      });
    });
    type Brain = typeof brain extends fc.Arbitrary<infer T> ? T : never;
    const toInput = (b: Brain): YumaInput => ({
      stake: b.stake,
      weights: b.weights,
      bonds: b.bonds,
      emission: b.emission,
      params: {
        kappa: b.kappa,
        bondsMovingAverage: b.bondsMovingAverage,
        bondsPenalty: b.bondsPenalty,
        maxAllowedValidators: b.stake.length,
      },
      lastUpdate: b.lastUpdate,
      blockAtRegistration: b.blockAtRegistration,
      currentBlock: b.currentBlock,
      activityCutoff: b.activityCutoff,
      tempo: b.tempo,
      validatorPermit: b.validatorPermit,
    });

    it("consensus is the stake-weighted median (brute force, 33–90 validators: the bucketed search)", function () {
      const column = fc.record({
        // Equal stakes and few distinct values make exact ties at the crossing (and at bucket edges) likely.
        stakes: fc.oneof(
          fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 33, maxLength: 90 }),
          fc.integer({ min: 33, max: 90 }).map((v) => Array<number>(v).fill(1)),
        ),
        values: fc.oneof(
          fc.array(fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 65_535 })), {
            minLength: 90,
            maxLength: 90,
          }),
          fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 90, maxLength: 90 }),
        ),
        kappa: fc.constantFrom(0.5, SUBTENSOR_KAPPA, 0.2, 0.9),
      });
      fc.assert(
        fc.property(column, ({ stakes, values, kappa }) => {
          // Validator i puts values[i] on miner v and 65535 − values[i] on miner v + 1.
          const v = stakes.length;
          const weights: U16Entry[][] = stakes.map((_, i) => [
            [v, values[i]!],
            [v + 1, 65_535 - values[i]!],
          ]);
          const out = yumaEpoch({
            stake: [...stakes, 0, 0],
            weights: [...weights, [], []],
            emission: 0n,
            params: { kappa },
          });
          // The reference: the same integer masses, sorted, first cumulative crossing of Q − κQ.
          const total = stakes.reduce((a, b) => a + b, 0);
          const mass = stakes.map((s) => Math.floor((s / total) * 2 ** 42));
          const q = mass.reduce((a, b) => a + b, 0);
          const minority = q - kappa * q;
          for (const [miner, score] of [
            [v, (i: number) => values[i]! / 65_535],
            [v + 1, (i: number) => (65_535 - values[i]!) / 65_535],
          ] as const) {
            const order = stakes.map((_, i) => i).sort((a, b) => score(a) - score(b));
            let cum = 0;
            let expected = 0;
            for (let t = 0; t < order.length; t++) {
              cum += mass[order[t]!]!;
              const next = order[t + 1];
              if (next !== undefined && score(next) === score(order[t]!)) continue;
              if (cum > minority) {
                expected = score(order[t]!);
                break;
              }
            }
            assert.equal(out.consensus[miner], expected, `miner ${miner}`);
          }
        }),
        { numRuns: 150 },
      );
    });

    it("emissions are non-negative and sum exactly to the input emission (server + validator = total per uid)", function () {
      fc.assert(
        fc.property(brain, (b) => {
          const out = yumaEpoch(toInput(b));
          assert.equal(sum(out.emission), b.emission);
          out.emission.forEach((e, i) => {
            assert.ok(e >= 0n);
            assert.equal(out.serverEmission[i]! + out.validatorEmission[i]!, e);
          });
          for (const row of out.bonds) for (const [, v] of row) assert.ok(v >= 1 && v <= 65_535);
        }),
        { numRuns: 300 },
      );
    });

    it("invariant under permuting uids (up to floating-point rounding; consensus exactly)", function () {
      const withPerm = brain.chain((b) =>
        fc.tuple(fc.constant(b), fc.shuffledSubarray([...b.stake.keys()], { minLength: b.stake.length })),
      );
      fc.assert(
        fc.property(withPerm, ([b, p]) => {
          const n = b.stake.length;
          const move = <T>(xs: readonly T[]) => {
            const out = new Array<T>(n);
            xs.forEach((x, i) => (out[p[i]!] = x));
            return out;
          };
          const moveRows = (rows: readonly (readonly U16Entry[])[]) =>
            move(rows.map((r) => r.map(([j, v]): [number, number] => [p[j]!, v])));
          const permuted: Brain = {
            ...b,
            stake: move(b.stake),
            weights: moveRows(b.weights),
            bonds: moveRows(b.bonds),
            lastUpdate: move(b.lastUpdate),
            blockAtRegistration: move(b.blockAtRegistration),
            validatorPermit: move(b.validatorPermit),
          };
          const a = yumaEpoch(toInput(b));
          const c = yumaEpoch(toInput(permuted));
          const tol = b.emission / 10n ** 12n + 2n;
          for (let i = 0; i < n; i++) {
            const j = p[i]!;
            const d = a.emission[i]! - c.emission[j]!;
            assert.ok(d <= tol && -d <= tol, `uid ${i}: ${a.emission[i]} vs ${c.emission[j]}`);
            assert.equal(c.consensus[j], a.consensus[i]);
            for (const k of ["incentive", "dividends", "trust", "validatorTrust"] as const) {
              assert.ok(Math.abs(c[k][j]! - a[k][i]!) <= 1e-12, `${k}[${i}]`);
            }
            assert.equal(c.validatorPermit[j], a.validatorPermit[i]);
            for (let x = 0; x < n; x++) assert.ok(Math.abs(bondOf(c, j, p[x]!) - bondOf(a, i, x)) <= 1);
          }
        }),
        { numRuns: 200 },
      );
    });

    it("self-weights are ignored: a uid that only weights itself earns no incentive", function () {
      fc.assert(
        fc.property(brain, fc.nat(), fc.integer({ min: 1, max: 65_535 }), (b, pick, selfWeight) => {
          const n = b.stake.length;
          const k = pick % n;
          // Nobody else weights k; k's own row gains (or changes) a weight on itself.
          const weights = b.weights.map((r, i) => (i === k ? r : r.filter(([j]) => j !== k)));
          const without = {
            ...b,
            weights: weights.map((r, i) => (i === k ? r.filter(([j]) => j !== k) : r)),
          };
          const withSelf = {
            ...b,
            weights: weights.map((r, i) =>
              i === k ? [...r.filter(([j]) => j !== k), [k, selfWeight] as [number, number]] : r,
            ),
          };
          const a = yumaEpoch(toInput(without));
          const c = yumaEpoch(toInput(withSelf));
          assert.equal(json(c), json(a));
          assert.equal(c.incentive[k], 0);
          assert.equal(c.serverEmission[k], 0n);
        }),
        { numRuns: 150 },
      );
    });

    it("a validator copying last epoch's consensus earns no more than an honest one with the same stake", function () {
      const scenario = fc.record({
        honest: fc.array(fc.integer({ min: 1, max: 1_000 }), { minLength: 2, maxLength: 4 }),
        miners: fc.integer({ min: 2, max: 4 }),
        truths: fc.array(fc.array(fc.integer({ min: 0, max: 65_535 }), { minLength: 4, maxLength: 4 }), {
          minLength: 3,
          maxLength: 8,
        }),
        copierFirst: fc.boolean(),
      });
      fc.assert(
        fc.property(scenario, ({ honest, miners, truths, copierFirst }) => {
          // uids: copier and the honest validators (copier first or last), then the miners.
          const v = honest.length + 1;
          const copier = copierFirst ? 0 : honest.length;
          const honestUids = [...Array(v).keys()].filter((u) => u !== copier);
          const twin = honestUids[0]!; // same stake as the copier
          const stake = new Array<number>(v + miners).fill(0);
          honestUids.forEach((u, t) => (stake[u] = honest[t]!));
          stake[copier] = honest[0]!;
          let copied: U16Entry[] = [];
          let bonds: U16Entry[][] | undefined;
          let copierTotal = 0n;
          let twinTotal = 0n;
          for (const truth of truths) {
            const honestRow: U16Entry[] = [];
            for (let m = 0; m < miners; m++) if (truth[m]! > 0) honestRow.push([v + m, truth[m]!]);
            const weights = stake.map((_, u) => (u === copier ? copied : u < v ? honestRow : []));
            const out = yumaEpoch({ stake, weights, bonds, emission: 10n ** 21n });
            copierTotal += out.validatorEmission[copier]!;
            twinTotal += out.validatorEmission[twin]!;
            bonds = out.bonds;
            // The copier sets what it saw: this epoch's consensus, max-upscaled to u16.
            const c = out.consensus.slice(v);
            const max = Math.max(...c);
            copied =
              max === 0
                ? []
                : c.flatMap((x, m) => (x > 0 ? [[v + m, Math.round((x / max) * 65_535)] as U16Entry] : []));
          }
          assert.ok(
            copierTotal <= twinTotal + BigInt(truths.length),
            `copier ${copierTotal} > honest ${twinTotal}`,
          );
        }),
        { numRuns: 150 },
      );
    });

    it("a copier that lags changing weights earns strictly less", function () {
      const truths = [
        [65_535, 0, 0],
        [0, 65_535, 0],
        [0, 0, 65_535],
        [65_535, 0, 0],
      ];
      const stake = [100, 100, 100, 0, 0, 0]; // 0 honest, 1 honest twin, 2 copier; miners 3..5
      let copied: U16Entry[] = [];
      let bonds: U16Entry[][] | undefined;
      const earned = [0n, 0n, 0n];
      for (const t of truths) {
        const row: U16Entry[] = t.flatMap((w, m) => (w > 0 ? [[3 + m, w] as U16Entry] : []));
        const out = yumaEpoch({
          stake,
          weights: [row, row, copied, [], [], []],
          bonds,
          emission: 10n ** 21n,
        });
        for (let u = 0; u < 3; u++) earned[u] = earned[u]! + out.validatorEmission[u]!;
        bonds = out.bonds;
        copied = row; // next epoch it copies this epoch's (now stale) consensus
      }
      expect(earned[2]! < earned[1]!).to.equal(true);
      expect(earned[0]).to.equal(earned[1]);
    });

    it("deterministic: the same input twice gives identical JSON; the packed API agrees with the tuple API", function () {
      fc.assert(
        fc.property(brain, (b) => {
          const input = toInput(b);
          const a = yumaEpoch(input);
          const again = yumaEpoch(structuredClone(input));
          assert.equal(json(again), json(a));
          const packed = yumaEpochPacked({
            ...input,
            weights: toSparse(b.weights),
            bonds: toSparse(b.bonds),
          });
          assert.equal(json({ ...packed, bonds: fromSparse(packed.bonds) }), json(a));
        }),
        { numRuns: 100 },
      );
    });
  });

  describe("bit for bit the engine before its speed work (issue 6)", function () {
    // SHA-256 of every output of these scenarios (runScenario), recorded from the engine as it was
    // before the column-block rewrite: any change to a result, in any bit, shows here.
    const recorded: Record<string, string> = {
      "dense, 64 validators × 192 miners, 3 epochs":
        "6910391cb3f40d39c35b84030f7994db15f45bb9c94a63da21315f3f63f2c94f",
      "sparse rows out of uid order, κ = 0.05; inactive and outdated validators; 32 permits for 40 stakes; permits carried":
        "f381bb6ef51316728c5c28b2da3086f28e3d12d2766fda17c7c868ec073861f5",
      "quantized weights and equal stakes: exact ties at the median":
        "0e0a9758e2cc242943edd0248ff538815d6252ec1968e887ef9ef3a709abfddf",
      "every parameter and option: κ, EMA, penalty, min stake, sigmoid, β·accuracy, server share":
        "2e1d25d0a404566b91f748adb12936778e352820562e6f1449236b5221589b3b",
      "a full Brain: 256 validators × 1,792 miners, dense":
        "4df643529a6d8cbdeef1de63a6dfb0c9997b0161126ef6671be19d186e567765",
    };
    const all = scenarios();
    for (const s of all) {
      it(s.name, function () {
        expect(runScenario(s, yumaEpochPacked)).to.equal(recorded[s.name]);
      });
      it(`${s.name}: the JavaScript core too`, function () {
        expect(runScenario(s, (x) => yumaEpochPacked(x, { engine: "js" }))).to.equal(recorded[s.name]);
      });
    }
    it("the tuple API gives the same outputs as the packed one on them", function () {
      for (const s of all.slice(0, 4)) {
        const viaTuples = (x: YumaPackedInput): YumaPackedOutput => {
          const out = yumaEpoch({
            ...x,
            weights: fromSparse(x.weights),
            bonds: x.bonds && fromSparse(x.bonds),
          });
          return { ...out, bonds: toSparse(out.bonds) };
        };
        assert.equal(runScenario(s, viaTuples), recorded[s.name], s.name);
      }
    });
  });

  describe("the WebAssembly core gives the JavaScript core's bits (oracle/consensus/yuma-core*.ts)", function () {
    /**
     * Brains over 32 working rows (the bucketed median), odd and even uid counts (column pairs and
     * a lone last column), columns with weights and no bonds, bonds and no weights, neither, rows
     * out of uid order, runs of consecutive uids, self-weights, zero weights, masks, reset columns
     * and every parameter.
     */
    const mid = fc
      .record({
        V: fc.integer({ min: 1, max: 70 }),
        M: fc.integer({ min: 0, max: 90 }),
        seed: fc.integer(),
        density: fc.constantFrom(1, 0.9, 0.5, 0.1),
        bondDensity: fc.constantFrom(0, 1, 0.6, 0.05),
        shuffle: fc.boolean(),
        holes: fc.boolean(),
        quantized: fc.boolean(),
        kappa: fc.constantFrom(0.5, SUBTENSOR_KAPPA, 0.05, 0.8, 1),
        bondsMovingAverage: fc.constantFrom(0.9, 0, 0.5, 1),
        bondsPenalty: fc.constantFrom(1, 0, 0.5),
        masks: fc.boolean(),
        epochs: fc.integer({ min: 1, max: 3 }),
      })
      .map((p) => {
        const rand = createRng(p.seed);
        const n = p.V + p.M;
        const weights = Array.from({ length: n }, (_, u) => {
          const row: [number, number][] = [];
          if (u >= p.V) return row;
          for (let j = 0; j < n; j++) {
            // With holes, columns 0, 3, 6, … get no weight at all: lone columns in pairs. Without,
            // dense rows have runs of consecutive uids (and a self-weight) for the eight-wide path.
            if ((p.holes && j % 3 === 0) || rand() >= p.density) continue;
            row.push([j, p.quantized ? Math.floor(rand() * 4) * 1000 : Math.floor(rand() * 65_536)]);
          }
          if (p.shuffle) row.reverse();
          return row;
        });
        const bonds = Array.from({ length: n }, (_, u) => {
          const row: [number, number][] = [];
          if (u >= p.V) return row;
          for (let j = 0; j < n; j++) if (rand() < p.bondDensity) row.push([j, Math.floor(rand() * 65_536)]);
          return row;
        });
        const stake = Array.from({ length: n }, (_, u) =>
          u < p.V && rand() < 0.9 ? BigInt(Math.floor(1 + rand() * 1e9)) : 0n,
        );
        const lastUpdate = Array.from({ length: n }, () => Math.floor(rand() * 1_000));
        const blockAtRegistration = Array.from({ length: n }, () => Math.floor(rand() * 1_000));
        const input = (bondsIn: SparseU16 | undefined): YumaPackedInput => ({
          stake,
          weights: packed(weights),
          bonds: bondsIn,
          emission: 10n ** 21n + 17n,
          params: {
            kappa: p.kappa,
            bondsMovingAverage: p.bondsMovingAverage,
            bondsPenalty: p.bondsPenalty,
            maxAllowedValidators: Math.max(1, p.V - 3),
          },
          ...(p.masks
            ? {
                currentBlock: 1_000,
                activityCutoff: 500,
                tempo: 50,
                lastUpdate,
                blockAtRegistration,
              }
            : {}),
        });
        return { p, input, firstBonds: p.bondDensity > 0 ? packed(bonds) : undefined };
      });

    it("same outputs, every bit, over random Brains and consecutive epochs", function () {
      fc.assert(
        fc.property(mid, ({ p, input, firstBonds }) => {
          const run = (engine: "wasm" | "js") => {
            const outs: YumaPackedOutput[] = [];
            let bonds = firstBonds;
            for (let e = 0; e < p.epochs; e++) {
              const out = yumaEpochPacked(input(bonds), { engine });
              outs.push(out);
              bonds = out.bonds;
            }
            return digestOf(outs);
          };
          assert.equal(run("wasm"), run("js"));
        }),
        { numRuns: 150, seed: 6 },
      );
    });

    it("a small Brain after a large one sees none of its data (the WebAssembly memory is reused)", function () {
      const full = scenarios().at(-1)!;
      const small = scenarios()[1]!;
      const before = runScenario(small, (x) => yumaEpochPacked(x, { engine: "js" }));
      runScenario(full, yumaEpochPacked);
      expect(runScenario(small, yumaEpochPacked)).to.equal(before);
    });

    it("a uid named twice in weights or bonds gets the same error from both cores", function () {
      const twice = packed([
        [
          [1, 5],
          [2, 9],
          [1, 7],
        ],
        [],
        [],
      ]);
      const ok = packed([[[1, 5]], [], []]);
      for (const [weights, bonds, message] of [
        [twice, undefined, "weights row 0 names uid 1 twice"],
        [ok, twice, "bonds row 0 names uid 1 twice"],
      ] as const) {
        for (const engine of ["wasm", "js"] as const) {
          expect(() =>
            yumaEpochPacked({ stake: [5n, 1n, 1n], weights, bonds, emission: 10n }, { engine }),
          ).to.throw(RangeError, message);
        }
      }
    });
  });

  describe("input validation", function () {
    const ok: YumaInput = { stake: [1, 0], weights: [[[1, 1]], []], emission: 10n };
    const bad: [string, Partial<YumaInput>][] = [
      ["negative stake", { stake: [-1, 0] }],
      ["fractional stake", { stake: [0.5, 0] }],
      ["a weight above u16", { weights: [[[1, 70_000]], []] }],
      [
        "a uid named twice",
        {
          weights: [
            [
              [1, 1],
              [1, 2],
            ],
            [],
          ],
        },
      ],
      ["weights of the wrong length", { weights: [[]] }],
      ["bonds of the wrong length", { bonds: [[]] }],
      ["κ = 0", { params: { kappa: 0 } }],
      ["a negative emission", { emission: -1n }],
      ["bps above 10,000", { params: { serverShareBps: 10_001 } }],
      ["a lastUpdate of the wrong length", { lastUpdate: [1] }],
    ];
    for (const [what, change] of bad) {
      it(`refuses ${what}`, function () {
        expect(() => yumaEpoch({ ...ok, ...change })).to.throw();
      });
    }
    it("ignores weights on uids that do not exist, as subtensor does", function () {
      const out = yumaEpoch({
        ...ok,
        weights: [
          [
            [1, 1],
            [7, 5],
          ],
          [],
        ],
      });
      expect(json(out)).to.equal(json(yumaEpoch(ok)));
    });
    it("a Brain without stake splits the emission equally (ties to the lower uid)", function () {
      expect(yumaEpoch({ stake: [0, 0, 0], weights: [[], [], []], emission: 10n }).emission).to.deep.equal([
        4n,
        3n,
        3n,
      ]);
    });
  });
});
