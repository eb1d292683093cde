/**
 * Compute units of a session (protocol.ts `sessionViewSchema`): a unit is one token row through
 * the whole plan, bucket padding included, counted by the gateway from the work it handed out —
 * never from what the client declares. The gateway cannot read encrypted prompts, but every linear
 * job names its plan step and bucket (`<step>@<rows>`): a pass runs every step of the plan once
 * for one bucket of rows (sdk/prompt.ts's backend sends one job per step per pass), so each step
 * accounts for the rows that went through it, and the session's units are the rows of the step
 * that carried the most. Labels cannot lower the bill: a job is counted at the bucket it names,
 * whichever step it names. Plain sessions count the tokens they sent and got back. Pure: no I/O.
 */

/** A linear job's step and bucket: `L0.qkv@16` → (`L0.qkv`, 16). */
const BUCKETED = /^(.+)@(\d{1,6})$/;

/** Whether completing a job on `step` can change the session's units (worth recording). */
export function countsForUnits(step: string): boolean {
  return BUCKETED.test(step);
}

/** Rows through the plan from the completed jobs per step (`L0.qkv@16` → 2 jobs, …). */
export function passUnits(stepCounts: Readonly<Record<string, number>>): number {
  const rows = new Map<string, number>();
  for (const [step, count] of Object.entries(stepCounts)) {
    const m = BUCKETED.exec(step);
    if (!m) continue;
    rows.set(m[1]!, (rows.get(m[1]!) ?? 0) + count * Number(m[2]));
  }
  return Math.max(0, ...rows.values());
}

/**
 * A session's units: `prompt` as charged (the escrow's, else a plain session's prompt tokens),
 * `completion` the rest of what was computed — encrypted: the rows through the plan beyond the
 * prompt units; plain: the tokens returned.
 */
export function sessionUnits(
  stepCounts: Readonly<Record<string, number>>,
  promptUnits: number,
  plainTokens = 0,
): { prompt: number; completion: number } {
  return { prompt: promptUnits, completion: Math.max(0, passUnits(stepCounts) - promptUnits) + plainTokens };
}
