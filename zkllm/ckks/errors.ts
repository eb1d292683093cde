/**
 * Errors of the CKKS engine.
 *
 * The evaluator serves untrusted requests (ciphertexts, keys and plan-step ids sent by clients), so
 * everything wrong with a request surfaces as one typed error, `ZkllmInputError`, with a stable
 * `code` that a gateway can map to a response. Anything else that escapes the engine is a bug.
 */

/** Stable machine-readable reasons a request was refused. */
export type ZkllmInputErrorCode =
  /** The bytes are not a blob of this engine (bad magic, unknown version or kind, bad header). */
  | "MalformedBlob"
  /** The blob ends before the structure it declares. */
  | "TruncatedBlob"
  /** The blob, or the size it declares, exceeds what its kind can be for its parameter set. */
  | "OversizedBlob"
  /** The blob is of another kind than the one expected (e.g. keys where a ciphertext goes). */
  | "WrongKind"
  /** The blob was made for another CKKS parameter set than the evaluator's. */
  | "WrongParameters"
  /** SEAL refused the payload (coefficients out of range, inconsistent metadata). */
  | "InvalidSealObject"
  /** The plan step is not one the evaluator serves, or differs from the one it serves. */
  | "UnknownPlanStep"
  /** The request carries the wrong number of ciphertexts, or ones at the wrong level or scale. */
  | "BadRequest"
  /** The evaluation keys lack a rotation step the plan step needs. */
  | "MissingRotationKey"
  /** A plan or layout description is inconsistent (e.g. shapes that do not match the weights). */
  | "InvalidPlan";

/** A request the engine refuses; the evaluator stays usable after throwing it. */
export class ZkllmInputError extends Error {
  override readonly name = "ZkllmInputError";
  constructor(
    /** Stable reason, for programs. */
    readonly code: ZkllmInputErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Narrows an unknown thrown value to a `ZkllmInputError` (also across worker boundaries by name). */
export function isZkllmInputError(error: unknown): error is ZkllmInputError {
  return error instanceof ZkllmInputError;
}
