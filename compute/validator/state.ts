/**
 * What a validator keeps between runs, in one JSON file under its state directory: the scoring
 * EMAs (so a restart does not forget who cheated) and the weights commitment waiting for its
 * reveal, with its salt. The commitment is written before its transaction is sent: a validator
 * that dies between the commit and the reveal can still reveal after a restart, and one that died
 * before the transaction landed finds out by comparing the hash with the chain's.
 *
 * The salt must stay secret until the reveal (anyone holding it and the weights could confirm a
 * guess), so the file is private (0600) and written to a temporary name, then renamed: a crash
 * leaves the old file or the new one, never half of one.
 */
import fs from "node:fs";
import path from "node:path";
import { type Address, getAddress } from "viem";
import { z } from "zod";
import { bytes32Schema } from "../../protocol/schemas";
import type { ScoringState } from "./scoring";

const epochSchema = z.string().regex(/^\d+$/);

const minerStateSchema = z.object({
  correctness: z.number().min(0).max(1).nullable(),
  availability: z.number().min(0).max(1),
  latency: z.number().min(0).max(1).nullable(),
  rounds: z.number().int().min(0),
});

const commitSchema = z.object({
  /** The epoch the hash binds (decimal). */
  epoch: epochSchema,
  uids: z.array(z.number().int().min(0).max(2047)),
  weights: z.array(z.number().int().min(0).max(65_535)),
  salt: bytes32Schema,
  hash: bytes32Schema,
  /** "sending": written before the transaction; "committed": its receipt was seen. */
  status: z.enum(["sending", "committed"]),
});
export type StoredCommit = z.infer<typeof commitSchema>;

const stateSchema = z.object({
  version: z.literal(1),
  brainId: z.number().int(),
  validator: z.string().transform((a) => getAddress(a)),
  rounds: z.number().int().min(0),
  scores: z.record(z.string(), minerStateSchema),
  commit: commitSchema.nullable(),
  /** The last epoch whose commitment was revealed (decimal), for the logs and a reader. */
  lastRevealed: epochSchema.nullable(),
});
export type ValidatorState = Omit<z.infer<typeof stateSchema>, "scores"> & { scores: ScoringState };

export function stateFileName(brainId: number, validator: Address): string {
  return `validator-brain${brainId}-${getAddress(validator)}.json`;
}

export class ValidatorStateFile {
  readonly file: string;

  constructor(
    dir: string,
    readonly brainId: number,
    readonly validator: Address,
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = path.join(dir, stateFileName(brainId, validator));
  }

  /** The stored state, or a fresh one when there is none; a file that is not ours is refused. */
  read(): ValidatorState {
    if (!fs.existsSync(this.file)) {
      return {
        version: 1,
        brainId: this.brainId,
        validator: getAddress(this.validator),
        rounds: 0,
        scores: {},
        commit: null,
        lastRevealed: null,
      };
    }
    let parsed;
    try {
      parsed = stateSchema.parse(JSON.parse(fs.readFileSync(this.file, "utf8")));
    } catch (err) {
      throw new Error(
        `${this.file} is not a validator state file (${(err as Error).message.split("\n")[0]}); move it away to start afresh (a pending reveal in it would be lost)`,
      );
    }
    if (parsed.brainId !== this.brainId || parsed.validator !== getAddress(this.validator)) {
      throw new Error(`${this.file} belongs to validator ${parsed.validator} of Brain #${parsed.brainId}`);
    }
    return parsed as ValidatorState;
  }

  write(state: ValidatorState): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, "w", 0o600);
    try {
      fs.writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
      // On disk before the commitment's transaction goes out, not just in the page cache.
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
  }
}
