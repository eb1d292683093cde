/**
 * Named CKKS parameter sets and a cached context factory.
 *
 * Every set stays within SEAL's 128-bit security bound (`CoeffModulus.MaxBitCount(N, tc128)`: 109
 * bits at N=4096, 218 at N=8192) and is checked against it when its context is built. The linear
 * layers need exactly one plaintext-by-ciphertext product per evaluation, so the chains are short:
 *
 * - `n8192-q100`: N=8192, primes [60, 40, 60] (the last is SEAL's special key-switching prime),
 *   activations and weights at scale 2^40, one rescale after the product (drops the 40-bit prime).
 *   Most precise (errors ≤ 1e-6 for GPT-2-sized products), and rotations after the rescale
 *   cost about half.
 * - `n8192-q60`: N=8192, primes [60, 60]: a single data prime, no rescale. Activations at 2^25,
 *   weights at 2^24, the product at 2^49 leaves |y| < 2^10. Every operation works on one prime
 *   instead of two, so multiply-plain, rotations and ciphertexts cost about half (errors ~1e-4).
 * - `n4096-q69`: N=4096, primes [40, 29, 40] (the 109-bit maximum), scales 2^29, one rescale.
 *   Half the slots of N=8192, so about twice the operations; errors ~2e-4 to 1e-3.
 */
import type { CKKSEncoder } from "node-seal/implementation/ckks-encoder";
import type { Context } from "node-seal/implementation/context";
import type { Evaluator } from "node-seal/implementation/evaluator";
import type { SEALLibrary } from "node-seal/implementation/seal";
import { ZkllmInputError } from "./errors";
import { loadSeal, type SealRuntime } from "./seal";

/** Identifiers of the parameter sets (stable: they are written into every serialized blob). */
export type ParamSetId = "n8192-q100" | "n8192-q60" | "n4096-q69";

/** Milliseconds per operation on one core, used by the planner to choose layouts. */
export type OpCosts = {
  /** Plaintext × ciphertext product at the first data level. */
  multiplyPlain: number;
  /** Ciphertext + ciphertext. */
  add: number;
  /** Rotation of a ciphertext at the first data level (key switching with every data prime). */
  rotate: number;
  /** Rotation after the rescale (one prime fewer); equals `rotate` for sets without a rescale. */
  rotateRescaled: number;
  /** Rescale to the next level (0 for sets without a rescale). */
  rescale: number;
  /** Server: check, decompress and load one (seeded) input ciphertext. */
  loadInput: number;
  /** Server: serialize and compress one output ciphertext. */
  saveOutput: number;
  /** Client: encode + symmetric encryption + serialization of one input ciphertext. */
  encrypt: number;
  /** Client: deserialization + decryption + decoding of one output ciphertext. */
  decrypt: number;
  /** Transfer cost per KiB (network and compression), to keep layouts from exploding in size. */
  perKiB: number;
};

/** One named CKKS parameter set. */
export type ParamSet = {
  /** The set's name. */
  readonly id: ParamSetId;
  /** One-byte code written into blob headers. */
  readonly code: number;
  /** Ring dimension N; there are N/2 complex slots, used here as N/2 real slots. */
  readonly polyModulusDegree: number;
  /** Bit sizes of the coefficient-modulus primes; the last one is SEAL's special prime. */
  readonly coeffModulusBits: readonly number[];
  /** log2 of the scale activations are encoded at before encryption. */
  readonly inputScaleBits: number;
  /** log2 of the scale plaintext weights (and biases, times the input scale) are encoded at. */
  readonly weightScaleBits: number;
  /** Whether the product is rescaled (drops the last data prime) before giant-step rotations. */
  readonly rescale: boolean;
  /**
   * Whether the server may rotate inputs before the product (baby steps). A rotation adds
   * key-switching noise of roughly N·σ, independent of the scale: harmless at 2^40, but at 2^25 it
   * dominates the error, so low-scale sets get every input offset from client copies instead.
   */
  readonly babyRotations: boolean;
  /** Largest |value| an activation may have before encryption. */
  readonly maxAbsInput: number;
  /** Largest |value| an output (and every partial sum) may reach without wrapping the modulus. */
  readonly maxAbsOutput: number;
  /**
   * Single-thread costs measured by `bench/zkllm/ckks-linear.ts` (2-core x86_64, Node 20.20,
   * node-seal 6.0.3, warm). Only their ratios matter to the planner. `multiplyPlain` is a term of
   * the multiply-accumulate kernel (./mac-kernel.ts; SEAL's own multiply-plain cost about 3× as
   * much); copying a ciphertext into the kernel adds to `rotate` and `loadInput`, and reducing a
   * sum and loading it back into SEAL to `rescale`.
   */
  readonly costs: OpCosts;
};

export const PARAM_SETS: Readonly<Record<ParamSetId, ParamSet>> = {
  "n8192-q100": {
    id: "n8192-q100",
    code: 1,
    polyModulusDegree: 8192,
    coeffModulusBits: [60, 40, 60],
    inputScaleBits: 40,
    weightScaleBits: 40,
    rescale: true,
    babyRotations: true,
    // After the rescale the 60-bit prime holds values up to 2^59 / 2^40.
    maxAbsInput: 2 ** 15,
    maxAbsOutput: 2 ** 18,
    costs: {
      multiplyPlain: 0.11,
      add: 0.01,
      rotate: 3.8,
      rotateRescaled: 1.8,
      rescale: 1.0,
      loadInput: 1.5,
      saveOutput: 0.6,
      encrypt: 2.4,
      decrypt: 0.7,
      perKiB: 0.01,
    },
  },
  "n8192-q60": {
    id: "n8192-q60",
    code: 2,
    polyModulusDegree: 8192,
    coeffModulusBits: [60, 60],
    inputScaleBits: 25,
    weightScaleBits: 24,
    rescale: false,
    babyRotations: false,
    // The product sits at 2^49 in a 60-bit prime: |y| < 2^10 keeps it (and its sign) intact.
    maxAbsInput: 2 ** 10,
    maxAbsOutput: 2 ** 10,
    costs: {
      multiplyPlain: 0.055,
      add: 0.01,
      rotate: 1.65,
      rotateRescaled: 1.5,
      rescale: 0,
      loadInput: 0.45,
      saveOutput: 0.45,
      encrypt: 1.4,
      decrypt: 0.7,
      perKiB: 0.01,
    },
  },
  "n4096-q69": {
    id: "n4096-q69",
    code: 3,
    polyModulusDegree: 4096,
    coeffModulusBits: [40, 29, 40],
    inputScaleBits: 29,
    weightScaleBits: 29,
    rescale: true,
    babyRotations: false,
    // After the rescale the 40-bit prime holds values up to 2^39 / 2^29.
    maxAbsInput: 2 ** 9,
    maxAbsOutput: 2 ** 9,
    costs: {
      multiplyPlain: 0.055,
      add: 0.01,
      rotate: 1.55,
      rotateRescaled: 0.72,
      rescale: 0.5,
      loadInput: 0.65,
      saveOutput: 0.2,
      encrypt: 1.3,
      decrypt: 0.9,
      perKiB: 0.01,
    },
  },
};

/** Looks a parameter set up by name; unknown names are an input error. */
export function getParamSet(id: string): ParamSet {
  const set = (PARAM_SETS as Record<string, ParamSet | undefined>)[id];
  if (!set) {
    throw new ZkllmInputError(
      "WrongParameters",
      `Unknown CKKS parameter set "${id}"; known: ${Object.keys(PARAM_SETS).join(", ")}.`,
    );
  }
  return set;
}

/** Looks a parameter set up by its header code. */
export function paramSetByCode(code: number): ParamSet | undefined {
  return Object.values(PARAM_SETS).find((set) => set.code === code);
}

/** Number of real slots a ciphertext of this set carries. */
export function slotCount(set: ParamSet): number {
  return set.polyModulusDegree / 2;
}

/** Number of data primes at the first (freshly encrypted) level. */
export function dataPrimeCount(set: ParamSet): number {
  return set.coeffModulusBits.length - 1;
}

/** A SEAL context for one parameter set, with the stateless helpers both sides share. */
export type CkksContext = {
  readonly set: ParamSet;
  readonly runtime: SealRuntime;
  readonly seal: SEALLibrary;
  readonly context: Context;
  /** Encoder (stateless, no key material). */
  readonly encoder: CKKSEncoder;
  /** Evaluator (stateless, no key material). */
  readonly evaluator: Evaluator;
  /** N/2. */
  readonly slots: number;
  /** 2^inputScaleBits. */
  readonly inputScale: number;
  /** 2^weightScaleBits. */
  readonly weightScale: number;
  /** parms_id of the key level (all primes), as four 64-bit words. */
  readonly keyParmsId: readonly bigint[];
  /** The primes of the key level (every prime, the special one last). */
  readonly keyModuli: readonly bigint[];
  /** parms_id of each data level, first (fresh) to last; index = primes dropped so far. */
  readonly levelParmsIds: readonly (readonly bigint[])[];
  /** The primes of each data level (same indexing). */
  readonly levelModuli: readonly (readonly bigint[])[];
};

const contexts = new Map<ParamSetId, Promise<CkksContext>>();

/** Returns the (cached, per thread) SEAL context for a parameter set. */
export function getCkksContext(id: ParamSetId): Promise<CkksContext> {
  let ctx = contexts.get(id);
  if (!ctx) {
    ctx = buildContext(getParamSet(id));
    contexts.set(id, ctx);
    // A failed build must not poison the cache for later callers.
    ctx.catch(() => contexts.delete(id));
  }
  return ctx;
}

async function buildContext(set: ParamSet): Promise<CkksContext> {
  const runtime = await loadSeal();
  const { seal } = runtime;
  const maxBits = seal.CoeffModulus.MaxBitCount(set.polyModulusDegree, seal.SecurityLevel.tc128);
  const totalBits = set.coeffModulusBits.reduce((a, b) => a + b, 0);
  if (totalBits > maxBits) {
    throw new Error(`${set.id}: ${totalBits} modulus bits exceed the 128-bit-security bound ${maxBits}.`);
  }
  const parms = seal.EncryptionParameters(seal.SchemeType.ckks);
  parms.setPolyModulusDegree(set.polyModulusDegree);
  const modulus = seal.CoeffModulus.Create(set.polyModulusDegree, Int32Array.from(set.coeffModulusBits));
  parms.setCoeffModulus(modulus);
  // `true` builds the modulus-switching chain the rescale walks down; tc128 makes SEAL refuse
  // any parameters below 128-bit security.
  const context = seal.Context(parms, true, seal.SecurityLevel.tc128);
  modulus.delete();
  parms.delete();
  if (!context.parametersSet()) {
    throw new Error(`${set.id}: SEAL refused the parameters (${context.toHuman()}).`);
  }
  const keyData = context.keyContextData;
  const keyParmsId = readParmsId(keyData.parmsId);
  const keyModuli = readModuli(keyData);
  keyData.delete();
  const levelParmsIds: bigint[][] = [];
  const levelModuli: bigint[][] = [];
  let data = context.firstContextData;
  for (;;) {
    levelParmsIds.push(readParmsId(data.parmsId));
    levelModuli.push(readModuli(data));
    const next = data.nextContextData;
    data.delete();
    // The chain ends with a null context data; node-seal wraps it in an object whose accessors throw.
    let nextId: bigint[] | undefined;
    try {
      nextId = readParmsId(next.parmsId);
    } catch {
      nextId = undefined;
    }
    if (!nextId || nextId.every((w) => w === 0n)) {
      next.delete();
      break;
    }
    data = next;
  }
  const encoder = seal.CKKSEncoder(context);
  const evaluator = seal.Evaluator(context);
  return {
    set,
    runtime,
    seal,
    context,
    encoder,
    evaluator,
    slots: encoder.slotCount,
    inputScale: 2 ** set.inputScaleBits,
    weightScale: 2 ** set.weightScaleBits,
    keyParmsId,
    keyModuli,
    levelParmsIds,
    levelModuli,
  };
}

function readModuli(data: { parms: { coeffModulus: BigUint64Array; delete(): void } }): bigint[] {
  const parms = data.parms;
  const moduli = Array.from(parms.coeffModulus);
  parms.delete();
  return moduli;
}

function readParmsId(id: { values: BigUint64Array; delete(): void }): bigint[] {
  const words = Array.from(id.values);
  id.delete();
  return words;
}

/** SEAL's Galois element for a rotation of the slot vector by `step` (left for step > 0). */
export function galoisElementForStep(step: number, polyModulusDegree: number): number {
  const slots = polyModulusDegree / 2;
  const m = 2 * polyModulusDegree;
  if (!Number.isInteger(step) || step === 0 || Math.abs(step) >= slots) {
    throw new RangeError(`Rotation step ${step} is outside (-${slots}, ${slots}) \\ {0}.`);
  }
  // SEAL: elt = 3^(step mod slots) mod 2N (seal/util/galois.cpp, get_elt_from_step).
  const position = step > 0 ? step : slots + step;
  let elt = 1;
  for (let i = 0; i < position; i++) elt = (elt * 3) % m;
  return elt;
}
