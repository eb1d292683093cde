/**
 * The SDK is a library a web page can bundle: everything in `sdk/` outside `sdk/node/` (chains,
 * Brains, bridge, staking, market, network, rewards, weights, the gateway client and prompt
 * sessions), with `protocol/` and zkllm's client door under it, bundles for the browser platform
 * with no `node:` module, no Node built-in and no file or process work.
 */
import { expect } from "chai";
import * as esbuild from "esbuild";
import fs from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { ROOT, tempDir } from "../helpers/processes";

/** The browser-safe entry points: every SDK module outside sdk/node/, and zkllm's client door. */
function entryPoints(): string[] {
  const sdk = fs
    .readdirSync(path.join(ROOT, "sdk"))
    .filter((f) => f.endsWith(".ts"))
    .map((f) => path.join(ROOT, "sdk", f));
  return [...sdk, path.join(ROOT, "zkllm", "client.ts")];
}

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Bundles `entries` for the browser; returns the Node imports found (importer → module) and the inputs. */
async function bundle(entries: string[]): Promise<{ nodeImports: string[]; inputs: string[] }> {
  const nodeImports: string[] = [];
  const result = await esbuild.build({
    entryPoints: entries,
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    outdir: tempDir("browser-bundle"),
    metafile: true,
    logLevel: "silent",
    // zstd-wasm's module is a file a web page serves beside the bundle.
    loader: { ".wasm": "file" },
    plugins: [
      {
        name: "no-node",
        setup(build) {
          build.onResolve({ filter: /.*/ }, (args) => {
            if (!BUILTINS.has(args.path)) return undefined;
            nodeImports.push(`${path.relative(ROOT, args.importer)} → ${args.path}`);
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  return { nodeImports, inputs: Object.keys(result.metafile.inputs) };
}

describe("sdk: the browser-safe part bundles for the browser platform", function () {
  this.timeout(120_000);

  it("bundles every SDK module outside sdk/node/ and zkllm/client.ts with no Node import", async () => {
    const entries = entryPoints();
    expect(entries.map((e) => path.relative(ROOT, e))).to.include.members([
      "sdk/chain.ts",
      "sdk/bridge.ts",
      "sdk/brain.ts",
      "sdk/staking.ts",
      "sdk/market.ts",
      "sdk/prompt.ts",
      "zkllm/client.ts",
    ]);
    const { nodeImports, inputs } = await bundle(entries);
    expect(nodeImports).to.deep.equal([]);
    // Nothing of the file and process side came in through the back door.
    const forbidden = inputs.filter(
      (i) => i.startsWith("sdk/node/") || i.includes("onnxruntime-node") || i.startsWith("zkllm/model-dir"),
    );
    expect(forbidden).to.deep.equal([]);
    // node-seal's browser build, not its Node one.
    expect(inputs.some((i) => i.includes("node-seal/throws_wasm_web"))).to.equal(true);
    expect(inputs.some((i) => i.includes("node-seal/throws_wasm_node"))).to.equal(false);
  });

  it("the check fails on a module that imports Node (a file reader in the SDK would be caught)", async () => {
    const dir = tempDir("browser-bundle-bad");
    const bad = path.join(dir, "reads-a-file.ts");
    fs.writeFileSync(bad, 'import fs from "node:fs";\nexport const read = () => fs.readFileSync("x");\n');
    const { nodeImports } = await bundle([bad]);
    expect(nodeImports).to.have.length(1);
    expect(nodeImports[0]).to.match(/reads-a-file\.ts → node:fs$/);
    // And sdk/node/ itself is exactly what may not go in.
    const config = await bundle([path.join(ROOT, "sdk", "node", "config.ts")]);
    expect(config.nodeImports.join("\n")).to.contain("node:fs");
  });

  it("the package's exports map gives the SDK its import paths (browser-safe modules apart from sdk/node/)", () => {
    const at = (specifier: string) => path.relative(ROOT, require.resolve(specifier));
    expect(at("basedai/sdk/chain")).to.equal("sdk/chain.ts");
    expect(at("basedai/sdk/prompt")).to.equal("sdk/prompt.ts");
    expect(at("basedai/sdk/node/config")).to.equal("sdk/node/config.ts");
    expect(at("basedai/protocol/gateway")).to.equal("protocol/gateway.ts");
    expect(at("basedai/zkllm/client")).to.equal("zkllm/client.ts");
    // Only the doors: the engine's insides are not part of the package's surface.
    expect(() => require.resolve("basedai/zkllm/ckks/client")).to.throw();
  });
});
