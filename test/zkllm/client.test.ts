import fs from "node:fs";
import { builtinModules, createRequire } from "node:module";
import path from "node:path";
import { expect } from "chai";
import ts from "typescript";
import {
  type ModelFiles,
  type ZkllmModel,
  generateGreedy,
  openModel,
  plainBackend,
} from "../../zkllm/client";
import { readModelDir } from "../../zkllm/model-dir";
import { PROMPTS, REPO_ROOT, SHIPPED_MODEL_DIR } from "./model/helpers";

/** Every file reachable from `entry` by relative imports, and the packages they import. */
function importClosure(entry: string): { files: string[]; packages: Set<string> } {
  const files: string[] = [];
  const packages = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (files.includes(file)) continue;
    files.push(file);
    const info = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
    for (const { fileName: spec } of info.importedFiles) {
      if (!spec.startsWith(".")) {
        packages.add(spec);
        continue;
      }
      const base = path.resolve(path.dirname(file), spec);
      const target = [`${base}.ts`, path.join(base, "index.ts"), base].find(
        (f) => fs.existsSync(f) && fs.statSync(f).isFile(),
      );
      if (!target) throw new Error(`${file} imports ${spec}, which does not resolve`);
      queue.push(target);
    }
  }
  return { files: files.map((f) => path.relative(REPO_ROOT, f)), packages };
}

const CLIENT_DOOR = path.join(REPO_ROOT, "zkllm", "client.ts");

describe("zkllm/client: the client door", () => {
  describe("browser-safe", () => {
    it("imports no node built-in, no onnxruntime and no file reader, however deep", () => {
      const { files, packages } = importClosure(CLIENT_DOOR);
      expect(files).to.include.members(["zkllm/ckks/client.ts", "zkllm/tokenizer/gpt2.ts"]);
      const builtins = new Set(builtinModules);
      const nodeOnly = [...packages].filter(
        (p) => p.startsWith("node:") || builtins.has(p.split("/")[0]!) || p.startsWith("onnxruntime"),
      );
      expect(nodeOnly).to.deep.equal([]);
      for (const file of ["zkllm/model-dir.ts", "zkllm/model/files.ts", "zkllm/tokenizer/index.ts"]) {
        expect(files).not.to.include(file);
      }
    });

    it("bundles for the browser with esbuild", function () {
      this.timeout(60_000);
      // esbuild comes with tsx (a dependency); bundling resolves each package's browser build.
      const esbuild = createRequire(require.resolve("tsx/package.json"))("esbuild") as {
        buildSync(options: object): { errors: unknown[]; outputFiles?: { contents: Uint8Array }[] };
      };
      const result = esbuild.buildSync({
        entryPoints: [CLIENT_DOOR],
        bundle: true,
        platform: "browser",
        format: "esm",
        write: false,
        logLevel: "silent",
      });
      expect(result.errors).to.deep.equal([]);
      expect(result.outputFiles![0]!.contents.length).to.be.greaterThan(100_000);
    });
  });

  describe("opening a model from its files' contents", () => {
    let files: ModelFiles;
    let model: ZkllmModel;
    before(() => {
      files = readModelDir(SHIPPED_MODEL_DIR);
      model = openModel(files);
    });

    it("reads the tokenizer and config at once", () => {
      const config = JSON.parse(fs.readFileSync(path.join(SHIPPED_MODEL_DIR, "config.json"), "utf8")) as {
        n_positions: number;
        vocab_size: number;
      };
      expect(model.nPositions).to.equal(config.n_positions);
      expect(model.tokenizer.vocabSize).to.equal(config.vocab_size);
      expect(model.eotId).to.equal(model.tokenizer.eotId);
      expect(model.tokenizer.decode(model.tokenizer.encode(PROMPTS[0]!))).to.equal(PROMPTS[0]);
    });

    it("checks the plan against the weights with its own sha256 where the reader gave none", () => {
      const { weightsSha256, ...rest } = files;
      expect(weightsSha256).to.match(/^[0-9a-f]{64}$/);
      expect(openModel(rest).plan().modelSha256).to.equal(weightsSha256);
      const other = new Uint8Array(files.weights!);
      other[other.length - 1] = other[other.length - 1]! ^ 1;
      expect(() => openModel({ ...rest, weights: other }).plan()).to.throw(/other weights/);
    });

    it("says what is missing: the plan, or the weights", () => {
      const { plan, ...noPlan } = files;
      expect(plan).to.be.a("string");
      expect(() => openModel(noPlan).plan()).to.throw(/zkllm-plan\.json.*based model convert/);
      const { weights, weightsSha256, ...noWeights } = files;
      expect(weights && weightsSha256).to.be.ok;
      expect(() => openModel(noWeights).split()).to.throw(/model\.safetensors/);
      expect(() => openModel({ ...files, config: "{" })).to.throw(/config\.json is not JSON/);
    });

    it("generates through the plan's hybrid session, handing out each token as it comes", async () => {
      const backend = plainBackend(model.split().server);
      const promptIds = model.tokenizer.encode(PROMPTS[1]!);
      const seen: Array<[number, boolean]> = [];
      const ids = await model.generate(promptIds, {
        backend,
        maxTokens: 8,
        onToken: (id, last) => seen.push([id, last]),
      });
      expect(ids).to.have.length(8);
      expect(seen).to.deep.equal(ids.map((id, i) => [id, i === 7]));
      // The same loop on a session of the same plan: nothing else happens in `generate`.
      expect(await generateGreedy(model.session(backend), promptIds, { maxTokens: 8 })).to.deep.equal(ids);
    });

    it("keeps the hybrid rule at the context's end: the last position still gives one token", async () => {
      const backend = plainBackend(model.split().server);
      const long = model.tokenizer.encode(PROMPTS.join(" ").repeat(3)).slice(0, model.nPositions - 2);
      expect(await model.generate(long, { backend, maxTokens: 10 })).to.have.length(3);
    });
  });
});
