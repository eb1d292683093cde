/**
 * The client side of encrypted inference: it alone holds the CKKS secret key.
 *
 * The secret key lives in this module's closure: the client object never exposes it, and the
 * server side (`server.ts`, `pool.ts`, `worker.ts`) never imports this file (a test walks their
 * import graph). The one way out is `exportSecretKey`, a separate function for the user's own
 * keystore (sdk/keystore.ts), so that keys made once stay on the user's machine and evaluation
 * keys need not be uploaded again; `createClient({ secretKey })` takes such a key back. What
 * leaves the client for the network is ciphertexts and evaluation keys (Galois keys for exactly
 * the plan's rotation steps; relinearization keys only when a plan asks for them), all as checked
 * blobs from `serialize.ts`.
 *
 * Encryption is symmetric and "seeded": only one of the two ciphertext polynomials travels (the
 * other is regenerated from a 64-byte seed), halving uploads, and the fresh noise is smaller than
 * public-key encryption's (no e·u terms), which the low-precision parameter sets rely on.
 */
import type { Decryptor } from "node-seal/implementation/decryptor";
import type { Encryptor } from "node-seal/implementation/encryptor";
import type { KeyGenerator } from "node-seal/implementation/key-generator";
import type { PublicKey } from "node-seal/implementation/public-key";
import type { SecretKey } from "node-seal/implementation/secret-key";
import { createActionCounter, type ActionCounter } from "./actions";
import { ZkllmInputError } from "./errors";
import { layoutLinearInputs, readLinearOutputs, type LinearPlanStep } from "./linear";
import { getCkksContext, type CkksContext, type ParamSet, type ParamSetId } from "./params";
import { planNeedsRelinearization, planRotations, type EnginePlan } from "./plan";
import { initZstd, loadCiphertext, saveCiphertext, writeBlob, type EvalKeyBlobs } from "./serialize";
import { sha256 } from "../../protocol/hash";

export type { EvalKeyBlobs } from "./serialize";

/** Options of `createClient`. */
export type CreateClientOptions = {
  paramSet: ParamSetId;
  /** Counter to record actions into (default: a fresh one, see `client.actions`). */
  actions?: ActionCounter;
  /** A key saved by `exportSecretKey` to use instead of a fresh one (same parameter set). */
  secretKey?: Uint8Array;
};

/** A client session: its secret key and the operations that need it. */
export type CkksClient = {
  readonly paramSet: ParamSet;
  /** Actions this client has performed (encode, encrypt, decrypt). */
  readonly actions: ActionCounter;
  /** Number of real slots per ciphertext. */
  readonly slots: number;
  /** Galois keys for `rotations` (and relinearization keys if asked): what the evaluator needs. */
  makeEvalKeys(rotations: readonly number[], options?: { relinearization?: boolean }): EvalKeyBlobs;
  /** Evaluation keys for every step of a plan. */
  makeEvalKeysForPlan(plan: EnginePlan): EvalKeyBlobs;
  /** Encrypts one slot vector (≤ slots values, the rest zero) at the input scale. */
  encryptSlots(values: ArrayLike<number>): Uint8Array;
  /** Decrypts an output blob back to its slot values. */
  decryptSlots(blob: Uint8Array): Float64Array;
  /** Lays out tokens × inFeatures activations for a linear step and encrypts them (the request). */
  encryptLinearInputs(step: LinearPlanStep, x: readonly ArrayLike<number>[]): Uint8Array[];
  /** Decrypts a linear step's response into tokens × outFeatures values. */
  decryptLinearOutputs(step: LinearPlanStep, outputs: readonly Uint8Array[]): Float64Array[];
  /** Frees the SEAL objects (keys, encryptor, decryptor); the client is unusable afterwards. */
  delete(): void;
};

/** Creates a client with a fresh secret key for a parameter set, or with a saved one. */
export async function createClient(options: CreateClientOptions): Promise<CkksClient> {
  await initZstd();
  const ctx = await getCkksContext(options.paramSet);
  const saved = options.secretKey ? loadSecretKey(ctx, options.secretKey) : undefined;
  return buildClient(ctx, options.actions ?? createActionCounter(), saved);
}

/** How each live client saves its secret key; kept off the client object so it cannot leak by accident. */
const secretKeyExporters = new WeakMap<CkksClient, () => Uint8Array>();

/**
 * The client's secret key as bytes for the user's own keystore (never for the network): a
 * checked frame around SEAL's serialization that `createClient({ secretKey })` reads back.
 */
export function exportSecretKey(client: CkksClient): Uint8Array {
  const save = secretKeyExporters.get(client);
  if (!save) throw new Error("Not a CKKS client made by createClient.");
  return save();
}

function buildClient(ctx: CkksContext, actions: ActionCounter, saved?: SecretKey): CkksClient {
  const { seal, set } = ctx;
  let keyGenerator: KeyGenerator;
  try {
    keyGenerator = saved ? seal.KeyGenerator(ctx.context, saved) : seal.KeyGenerator(ctx.context);
  } finally {
    // SEAL's KeyGenerator keeps its own copy of a given key.
    saved?.delete();
  }
  const secretKey: SecretKey = keyGenerator.secretKey();
  // SEAL's Encryptor wants a public key even for symmetric encryption; it is never sent.
  const publicKey: PublicKey = keyGenerator.createPublicKey();
  const encryptor: Encryptor = seal.Encryptor(ctx.context, publicKey, secretKey);
  const decryptor: Decryptor = seal.Decryptor(ctx.context, secretKey);
  let deleted = false;
  const alive = () => {
    if (deleted) throw new Error("This CKKS client has been deleted.");
  };
  const outputLevel = set.rescale ? 1 : 0;

  const encryptSlots = (values: ArrayLike<number>): Uint8Array => {
    alive();
    if (values.length > ctx.slots) {
      throw new ZkllmInputError(
        "BadRequest",
        `At most ${ctx.slots} values fit one ciphertext; got ${values.length}.`,
      );
    }
    const padded = new Float64Array(ctx.slots);
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (!Number.isFinite(v) || Math.abs(v) > set.maxAbsInput) {
        throw new ZkllmInputError(
          "BadRequest",
          `Activation ${v} at slot ${i} is outside ±${set.maxAbsInput} (${set.id}).`,
        );
      }
      padded[i] = v;
    }
    const plain = seal.PlainText();
    let serializable: { saveArray(c?: unknown): Uint8Array; delete(): void } | undefined;
    try {
      ctx.encoder.encode(padded, ctx.inputScale, plain);
      actions.count("encode");
      serializable = encryptor.encryptSymmetricSerializable(plain);
      actions.count("encrypt");
      return saveCiphertext(ctx, serializable);
    } finally {
      serializable?.delete();
      plain.delete();
    }
  };

  const decryptSlots = (blob: Uint8Array): Float64Array => {
    alive();
    const ct = loadCiphertext(ctx, blob, {
      seeded: "forbidden",
      level: outputLevel,
      name: "output ciphertext",
    });
    const plain = seal.PlainText();
    try {
      decryptor.decrypt(ct, plain);
      actions.count("decrypt");
      return ctx.encoder.decode(plain);
    } finally {
      plain.delete();
      ct.delete();
    }
  };

  const makeEvalKeys = (
    rotations: readonly number[],
    opts: { relinearization?: boolean } = {},
  ): EvalKeyBlobs => {
    alive();
    const steps = [...new Set(rotations)].sort((a, b) => a - b);
    for (const s of steps) {
      if (!Number.isInteger(s) || s === 0 || Math.abs(s) >= ctx.slots) {
        throw new ZkllmInputError(
          "InvalidPlan",
          `Rotation step ${s} is outside (-${ctx.slots}, ${ctx.slots}) \\ {0}.`,
        );
      }
    }
    const blobs: EvalKeyBlobs = {};
    // Only the listed steps: SEAL's default (every power of two) would cost far more bytes.
    if (steps.length > 0) {
      const galois = keyGenerator.createGaloisKeysSerializable(Int32Array.from(steps));
      try {
        blobs.galois = writeBlob("galoisKeys", set, galois.saveArray(seal.ComprModeType.none));
      } finally {
        galois.delete();
      }
    }
    if (opts.relinearization) {
      const relin = keyGenerator.createRelinKeysSerializable();
      try {
        blobs.relin = writeBlob("relinKeys", set, relin.saveArray(seal.ComprModeType.none));
      } finally {
        relin.delete();
      }
    }
    return blobs;
  };

  const client: CkksClient = {
    paramSet: set,
    actions,
    slots: ctx.slots,
    makeEvalKeys,
    makeEvalKeysForPlan(plan) {
      if (plan.paramSet !== set.id) {
        throw new ZkllmInputError(
          "WrongParameters",
          `The plan uses ${plan.paramSet}; this client uses ${set.id}.`,
        );
      }
      return makeEvalKeys(planRotations(plan), { relinearization: planNeedsRelinearization(plan) });
    },
    encryptSlots,
    decryptSlots,
    encryptLinearInputs(step, x) {
      checkStepSet(step, set);
      for (const v of x) {
        for (let i = 0; i < v.length; i++) {
          const value = v[i] as number;
          if (!Number.isFinite(value) || Math.abs(value) > set.maxAbsInput) {
            throw new ZkllmInputError(
              "BadRequest",
              `Activation ${value} is outside ±${set.maxAbsInput} (${set.id}).`,
            );
          }
        }
      }
      return layoutLinearInputs(step, x).map(encryptSlots);
    },
    decryptLinearOutputs(step, outputs) {
      checkStepSet(step, set);
      if (outputs.length !== step.outputCiphertexts) {
        throw new ZkllmInputError(
          "BadRequest",
          `Step "${step.id}" returns ${step.outputCiphertexts} ciphertexts; got ${outputs.length}.`,
        );
      }
      return readLinearOutputs(step, outputs.map(decryptSlots));
    },
    delete() {
      if (deleted) return;
      deleted = true;
      for (const obj of [decryptor, encryptor, publicKey, secretKey, keyGenerator]) obj.delete();
    },
  };
  secretKeyExporters.set(client, () => {
    alive();
    return frameSecretKey(set, secretKey.saveArray(seal.ComprModeType.none));
  });
  return client;
}

// ---------------------------------------------------------------------------------------------
// Saved secret keys
//
// | offset | size | field                                             |
// |--------|------|---------------------------------------------------|
// | 0      | 4    | magic `ZKSK`                                      |
// | 4      | 1    | format version (1)                                |
// | 5      | 1    | parameter-set code                                |
// | 6      | 2    | reserved (0)                                      |
// | 8      | 4    | raw length: bytes of SEAL's serialization         |
// | 12     | 32   | sha256 of those bytes                             |
// | 44     | …    | SEAL's serialization (uncompressed)               |
//
// The digest catches a damaged file before SEAL reads it: SEAL throwing inside its WASM leaks
// memory, and a silently different key would only show up as garbage answers much later.

const SECRET_MAGIC = [0x5a, 0x4b, 0x53, 0x4b]; // "ZKSK"
const SECRET_VERSION = 1;
const SECRET_HEADER_BYTES = 44;

function frameSecretKey(set: ParamSet, raw: Uint8Array): Uint8Array {
  const out = new Uint8Array(SECRET_HEADER_BYTES + raw.length);
  out.set(SECRET_MAGIC, 0);
  out[4] = SECRET_VERSION;
  out[5] = set.code;
  new DataView(out.buffer).setUint32(8, raw.length, true);
  out.set(sha256(raw), 12);
  out.set(raw, SECRET_HEADER_BYTES);
  return out;
}

/** SEAL's serialization of a secret key for `ctx`: a plaintext of N × (all primes) coefficients. */
function secretKeyRawBytes(ctx: CkksContext): number {
  const coefficients = ctx.set.polyModulusDegree * ctx.keyModuli.length;
  // header + parms_id + coeff_count + scale, then the array: header + count + data
  return 16 + 32 + 8 + 8 + 16 + 8 + coefficients * 8;
}

function loadSecretKey(ctx: CkksContext, bytes: Uint8Array): SecretKey {
  const bad = (why: string): never => {
    throw new ZkllmInputError("MalformedBlob", `Not a usable saved secret key: ${why}.`);
  };
  if (bytes.length < SECRET_HEADER_BYTES) bad(`${bytes.length} bytes is shorter than its header`);
  if (SECRET_MAGIC.some((b, i) => bytes[i] !== b)) bad("bad magic");
  if (bytes[4] !== SECRET_VERSION) bad(`unsupported version ${bytes[4]}`);
  if (bytes[5] !== ctx.set.code) {
    throw new ZkllmInputError(
      "WrongParameters",
      `The saved secret key is for parameter-set code ${bytes[5]}; ${ctx.set.id} has code ${ctx.set.code}.`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rawLength = view.getUint32(8, true);
  const expected = secretKeyRawBytes(ctx);
  if (rawLength !== expected) bad(`it declares ${rawLength} bytes; ${ctx.set.id} keys have ${expected}`);
  if (bytes.length !== SECRET_HEADER_BYTES + rawLength) bad("its length does not match its header");
  const raw = bytes.subarray(SECRET_HEADER_BYTES);
  const digest = sha256(raw);
  if (digest.some((b, i) => b !== bytes[12 + i])) bad("its checksum does not match");
  checkSecretKeyStructure(ctx, raw, bad);
  const key = ctx.seal.SecretKey();
  try {
    key.loadArray(ctx.context, raw);
  } catch (error) {
    key.delete();
    bad(`SEAL refused it (${error instanceof Error ? error.message : String(error)})`);
  }
  return key;
}

/** The layout and every coefficient below its prime, so SEAL is never the one to refuse. */
function checkSecretKeyStructure(ctx: CkksContext, raw: Uint8Array, bad: (why: string) => never): void {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = ctx.set.polyModulusDegree;
  const count = n * ctx.keyModuli.length;
  const sealHeaderOk = (at: number, size: number) =>
    view.getUint16(at, true) === 0xa15e &&
    view.getUint8(at + 2) === 16 &&
    view.getUint8(at + 3) === 4 &&
    view.getUint8(at + 5) === 0 &&
    view.getBigUint64(at + 8, true) === BigInt(size);
  if (!sealHeaderOk(0, raw.length)) bad("bad SEAL header");
  const parms = [0, 1, 2, 3].map((i) => view.getBigUint64(16 + 8 * i, true));
  if (parms.some((w, i) => w !== ctx.keyParmsId[i]))
    bad(`it belongs to another parameter set than ${ctx.set.id}`);
  if (view.getBigUint64(48, true) !== BigInt(count)) bad("wrong coefficient count");
  if (view.getFloat64(56, true) !== 1) bad("wrong scale");
  if (!sealHeaderOk(64, raw.length - 64) || view.getBigUint64(80, true) !== BigInt(count)) {
    bad("bad coefficient array");
  }
  let at = 88;
  for (const q of ctx.keyModuli) {
    for (let c = 0; c < n; c++, at += 8)
      if (view.getBigUint64(at, true) >= q) bad("a coefficient is out of range");
  }
}

function checkStepSet(step: LinearPlanStep, set: ParamSet): void {
  if (step.paramSet !== set.id) {
    throw new ZkllmInputError(
      "WrongParameters",
      `Step "${step.id}" uses ${step.paramSet}; this client uses ${set.id}.`,
    );
  }
}
