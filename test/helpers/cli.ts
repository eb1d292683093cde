/**
 * The `based` command run inside the test's process (no child process, no chain needed for what is
 * refused before connecting): the exit code it set and the JSON it printed.
 */
import fs from "node:fs";
import path from "node:path";
import { buildProgram } from "../../cli/main";
import { tempDir } from "./processes";

/** Runs `based <args> --json` with a config file of `config` (logs silenced). */
export async function basedInProcess(
  args: string[],
  config: Record<string, unknown> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const file = path.join(tempDir("based-cli"), "config.json");
  fs.writeFileSync(file, JSON.stringify({ logLevel: "silent", ...config }));
  let status = 0;
  const program = buildProgram((code) => (status = code));
  let out = "";
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(["node", "based", ...args, "--json", "--config", file]);
  } finally {
    process.stdout.write = write;
  }
  return { status, json: JSON.parse(out) as Record<string, unknown> };
}
