import { expect } from "chai";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { createClient } from "../../../zkllm/ckks/client";

const ROOT = resolve(__dirname, "..", "..", "..");
const CKKS = join(ROOT, "zkllm", "ckks");
/** Entry points of everything that runs on the server (miner) side. */
const SERVER_ENTRIES = ["server.ts", "pool.ts", "worker.ts", "worker-bootstrap.js"].map((f) => join(CKKS, f));

/** Relative module specifiers a source file loads (static and dynamic imports, re-exports, require). */
function specifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\bimport\s+(?:type\s+)?(?:[\w*{}\s,]+?\s+from\s+)?["']([^"']+)["']/g,
    /\bexport\s+(?:type\s+)?[\w*{}\s,]*?\s+from\s+["']([^"']+)["']/g,
    /\brequire\(\s*["']([^"']+)["']\s*\)/g,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) for (const m of source.matchAll(pattern)) found.push(m[1] as string);
  return found;
}

function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const base = resolve(dirname(from), spec);
  const candidates = [base, `${base}.ts`, `${base}.js`, join(base, "index.ts"), join(base, "index.js")];
  for (const candidate of candidates) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  throw new Error(`${relative(ROOT, from)} imports ${spec}, which does not resolve`);
}

/** Every local file reachable from the entries, with the path that reached it. */
function importGraph(entries: readonly string[]): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const queue: [string, string[]][] = entries.map((e) => [e, [relative(ROOT, e)]]);
  while (queue.length > 0) {
    const [file, path] = queue.shift() as [string, string[]];
    if (seen.has(file)) continue;
    seen.set(file, path);
    for (const spec of specifiers(readFileSync(file, "utf8"))) {
      const target = resolveLocal(file, spec);
      if (target && !seen.has(target)) queue.push([target, [...path, relative(ROOT, target)]]);
    }
  }
  return seen;
}

describe("zkllm/ckks key separation: the server side cannot reach the secret key", () => {
  it("server.ts, pool.ts and the worker never import client.ts (directly or transitively)", () => {
    const graph = importGraph(SERVER_ENTRIES);
    expect(graph.size).to.be.greaterThan(5);
    const client = join(CKKS, "client.ts");
    expect(graph.has(client), `reached via ${graph.get(client)?.join(" → ")}`).to.equal(false);
    // The walk does see real imports (so an empty graph cannot pass vacuously).
    expect([...graph.keys()].map((f) => relative(CKKS, f))).to.include.members([
      "serialize.ts",
      "params.ts",
      "linear.ts",
      "server.ts",
      "worker.ts",
    ]);
  });

  it("no server-side file creates keys or touches SEAL's SecretKey", () => {
    for (const file of importGraph(SERVER_ENTRIES).keys()) {
      const code = readFileSync(file, "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "");
      const name = relative(ROOT, file);
      expect(code, name).not.to.match(/secret-key|SecretKey|\.secretKey\(|KeyGenerator\(|Decryptor\(/);
    }
  });

  it("the import scanner catches a forbidden import (self-test)", () => {
    expect(
      specifiers(`import { a } from "./client";\nconst b = require("./client.ts");\nexport * from "./x";`),
    ).to.deep.equal(["./client", "./x", "./client.ts"]);
  });

  it("the client object exposes no secret key", async () => {
    const client = await createClient({ paramSet: "n4096-q69" });
    const exposed = Object.keys(client).join(",");
    expect(exposed).not.to.match(/secret/i);
    for (const value of Object.values(client)) {
      expect(String((value as { constructor?: { name?: string } })?.constructor?.name)).not.to.match(
        /SecretKey/,
      );
    }
    client.delete();
  });
});
