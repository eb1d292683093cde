/**
 * The layer rule of docs/architecture.md, checked on the sources' own import lines: every import
 * points to the same layer or a lower one, the two services layers (the cross-chain oracle and a
 * Brain's compute network) never import each other, and no chain of imports comes back to where it
 * started.
 */
import { expect } from "chai";
import { LAYERS, folderGraph, importCycles, layerOf, sourceGraph } from "./source-graph";

describe("architecture: imports point down the layers of docs/architecture.md", function () {
  const graph = sourceGraph();

  it("reads the whole tree (every layer has sources, every relative import resolves)", () => {
    for (const layer of LAYERS.flat()) {
      expect(
        [...graph.keys()].some((f) => f.startsWith(`${layer}/`)),
        `no sources in ${layer}/`,
      ).to.be.true;
    }
    const unresolved = [...graph.values()].flatMap((n) => n.unresolved.map((s) => `${n.file}: ${s}`));
    expect(unresolved).to.deep.equal([]);
  });

  it("no file imports a higher layer, and oracle/ and compute/ never import each other", () => {
    const wrong: string[] = [];
    for (const node of graph.values()) {
      const from = layerOf(node.file);
      for (const target of node.imports) {
        const to = layerOf(target);
        if (from === undefined || to === undefined) continue;
        if (to.rank > from.rank || (to.rank === from.rank && to.folder !== from.folder)) {
          wrong.push(`${node.file} → ${target} (${from.folder} may not import ${to.folder})`);
        }
      }
    }
    expect(wrong).to.deep.equal([]);
  });

  it("no import loop between files", () => {
    expect(importCycles(graph)).to.deep.equal([]);
  });

  it("no import loop between folders (oracle/epoch never reaches back into oracle/attester)", () => {
    expect(importCycles(folderGraph(graph))).to.deep.equal([]);
  });

  it("the checker itself refuses an upward import and a loop", () => {
    const fake = new Map([
      ["protocol/a.ts", { file: "protocol/a.ts", imports: ["sdk/b.ts"], unresolved: [] }],
      ["sdk/b.ts", { file: "sdk/b.ts", imports: ["protocol/a.ts"], unresolved: [] }],
    ]);
    expect(layerOf("protocol/a.ts")!.rank).to.be.below(layerOf("sdk/b.ts")!.rank);
    expect(importCycles(fake)).to.have.length(1);
  });
});
