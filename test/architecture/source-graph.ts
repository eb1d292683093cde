/**
 * The import graph of the sources, read with TypeScript's own pre-processor (so `import type`,
 * `export … from`, `import()` and `require()` all count), and the layers of docs/architecture.md.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { ROOT } from "../helpers/processes";

/**
 * Bottom to top. Folders in one entry share a layer and may not import each other; a folder may
 * import any folder of a lower layer. Above the `based` command: the deployment modules, the
 * scripts (devnet, builds) and the benchmarks.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ["protocol"],
  ["zkllm"],
  ["sdk"],
  ["service"],
  ["oracle", "compute"],
  ["cli"],
  ["ignition"],
  ["scripts"],
  ["bench"],
];

export function layerOf(file: string): { folder: string; rank: number } | undefined {
  const folder = file.split("/")[0]!;
  const rank = LAYERS.findIndex((l) => l.includes(folder));
  return rank < 0 ? undefined : { folder, rank };
}

export type SourceNode = { file: string; imports: string[]; unresolved: string[] };

const SKIP = new Set(["generated", "assembly"]);

function walk(dir: string, out: string[]): void {
  for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!SKIP.has(entry.name)) walk(rel, out);
    } else if (/\.(ts|js)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(rel);
  }
}

function resolve(from: string, spec: string): string | undefined {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  for (const ext of ["", ".ts", ".js", "/index.ts", "/index.js"]) {
    const candidate = base + ext;
    const full = path.join(ROOT, candidate);
    if (fs.existsSync(full) && fs.statSync(full).isFile()) return candidate;
  }
  // Generated files (ABIs, the Yuma kernels' module) are sources too; they import nothing.
  return undefined;
}

/** Every source file of the layered folders with the project files it imports. */
export function sourceGraph(): Map<string, SourceNode> {
  const files: string[] = [];
  for (const folder of LAYERS.flat()) if (fs.existsSync(path.join(ROOT, folder))) walk(folder, files);
  const graph = new Map<string, SourceNode>();
  for (const file of files) {
    const info = ts.preProcessFile(fs.readFileSync(path.join(ROOT, file), "utf8"), true, true);
    const node: SourceNode = { file, imports: [], unresolved: [] };
    for (const ref of info.importedFiles) {
      const spec = ref.fileName;
      if (!spec.startsWith(".")) continue;
      const target = resolve(file, spec);
      if (target === undefined) {
        if (!/\/generated\//.test(spec)) node.unresolved.push(spec);
      } else if (target.endsWith(".json")) continue;
      else node.imports.push(target);
    }
    graph.set(file, node);
  }
  return graph;
}

/** The strongly connected components with more than one file (Tarjan), each as a sorted list. */
export function importCycles(graph: Map<string, SourceNode>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const onStack = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const cycles: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.imports ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return cycles;
}

/** The same graph between folders (`oracle/epoch`, `sdk`, …): a file stands for its folder. */
export function folderGraph(graph: Map<string, SourceNode>): Map<string, SourceNode> {
  const folderOf = (file: string) => path.posix.dirname(file);
  const folders = new Map<string, SourceNode>();
  for (const node of graph.values()) {
    const from = folderOf(node.file);
    const entry = folders.get(from) ?? { file: from, imports: [], unresolved: [] };
    for (const target of node.imports) {
      const to = folderOf(target);
      if (to !== from && !entry.imports.includes(to)) entry.imports.push(to);
    }
    folders.set(from, entry);
  }
  return folders;
}
