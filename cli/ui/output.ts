import { BasedError } from "../../sdk/errors";
import { hintFor } from "./hints";

/** How a command reports: human text on stdout, or one JSON document for scripts (--json). */
export type Output = {
  json: boolean;
  /** The command's result: a JSON document, or the human lines. */
  result(data: Record<string, unknown>, human: () => string): void;
};

/** JSON.stringify that writes bigints (token amounts in wei) as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);
}

export function createOutput(json: boolean): Output {
  return {
    json,
    result(data, human) {
      process.stdout.write((json ? toJson({ ok: true, ...data }) : human()) + "\n");
    },
  };
}

/** Prints an error the way the mode asks and returns the exit code to use. */
export function reportError(err: unknown, json: boolean): number {
  const based =
    err instanceof BasedError
      ? err
      : new BasedError("environment", "Unexpected", err instanceof Error ? err.message : String(err));
  const exitCode = err instanceof BasedError ? err.exitCode : 1;
  const hint = hintFor(based);
  if (json) {
    const error = {
      code: based.code,
      kind: based.kind,
      message: based.message,
      hint,
      ...based.details,
    };
    process.stdout.write(toJson({ ok: false, error }) + "\n");
  } else {
    process.stderr.write(`Error: ${based.message}\n${hint ? `  → ${hint}\n` : ""}`);
  }
  return exitCode;
}
