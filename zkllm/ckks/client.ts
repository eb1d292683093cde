/**
 * The client side of encrypted inference: it alone holds the CKKS secret key.
 *
 * The secret key lives in this module's closure: nothing here returns it, serializes it or hands
 * it to another module, and the server side (`server.ts`, `pool.ts`, `worker.ts`) never imports
 * this file (a test walks their import graph). What leaves the client is ciphertexts and
 * evaluation keys (Galois keys for exactly the plan's rotation steps; relinearization keys only
 * when a plan asks for them), all as checked blobs from `serialize.ts`.
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

export type { EvalKeyBlobs } from "./serialize";

/** Options of `createClient`. */
export type CreateClientOptions = {
  paramSet: ParamSetId;
  /** Counter to record actions into (default: a fresh one, see `client.actions`). */
  actions?: ActionCounter;
};

/** A client session: a fresh secret key and the operations that need it. */
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

/** Creates a client with a fresh key pair for a parameter set. */
export async function createClient(options: CreateClientOptions): Promise<CkksClient> {
  await initZstd();
  const ctx = await getCkksContext(options.paramSet);
  return buildClient(ctx, options.actions ?? createActionCounter());
}

function buildClient(ctx: CkksContext, actions: ActionCounter): CkksClient {
  const { seal, set } = ctx;
  const keyGenerator: KeyGenerator = seal.KeyGenerator(ctx.context);
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

  return {
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
}

function checkStepSet(step: LinearPlanStep, set: ParamSet): void {
  if (step.paramSet !== set.id) {
    throw new ZkllmInputError(
      "WrongParameters",
      `Step "${step.id}" uses ${step.paramSet}; this client uses ${set.id}.`,
    );
  }
}
