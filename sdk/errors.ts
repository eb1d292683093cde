/**
 * Errors the SDK and the `based` command show to people. Every error carries a stable `code`
 * (for scripts reading `--json`), a message that says what happened, and a hint that says what
 * to do next.
 */
export type BasedErrorKind =
  /** The input was wrong (flags, config, environment variables). Exit code 2. */
  | "input"
  /** A contract rule refused the action (e.g. the stake is still locked). Exit code 3. */
  | "refused"
  /** The environment is not ready (no devnet running, no deployments file). Exit code 4. */
  | "environment";

const EXIT_CODES: Record<BasedErrorKind, number> = { input: 2, refused: 3, environment: 4 };

export class BasedError extends Error {
  override readonly name: string = "BasedError";
  constructor(
    readonly kind: BasedErrorKind,
    /** Stable machine-readable name, e.g. `StakeLocked`. */
    readonly code: string,
    message: string,
    /** What the person can do about it. */
    readonly hint?: string,
    /** Extra values worth showing (amounts as decimal strings). */
    readonly details?: Record<string, string>,
  ) {
    super(message);
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

/**
 * The first line of an error's message, at most `max` characters: what logs and refusal reasons
 * carry (stack traces and multi-line payload dumps stay out of them).
 */
export function errorLine(error: unknown, max = Infinity): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!.slice(0, max);
}
