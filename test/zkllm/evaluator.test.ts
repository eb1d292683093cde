import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import ts from "typescript";
import { loadPlanWeights } from "../../zkllm/evaluator";
import { REPO_ROOT, SHIPPED_MODEL_DIR } from "./model/helpers";

/** Every project file reachable from `entry` by relative imports. */
function localClosure(entry: string): string[] {
  const seen: string[] = [];
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (seen.includes(file)) continue;
    seen.push(file);
    for (const { fileName: spec } of ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true)
      .importedFiles) {
      if (!spec.startsWith(".")) continue;
      const base = path.resolve(path.dirname(file), spec);
      const target = [`${base}.ts`, path.join(base, "index.ts"), base].find(
        (f) => fs.existsSync(f) && fs.statSync(f).isFile(),
      );
      if (target) queue.push(target);
    }
  }
  return seen.map((f) => path.relative(REPO_ROOT, f));
}

describe("zkllm/evaluator: the evaluator door", () => {
  it("never reaches the CKKS client (the secret key's side) or the client door", () => {
    const files = localClosure(path.join(REPO_ROOT, "zkllm", "evaluator.ts"));
    expect(files).to.include.members(["zkllm/ckks/server.ts", "zkllm/ckks/pool.ts", "zkllm/model/greedy.ts"]);
    expect(files).not.to.include("zkllm/ckks/client.ts");
    expect(files).not.to.include("zkllm/client.ts");
  });

  it("loads the plan and, for each of its steps, the server's weights", () => {
    const { plan, weights } = loadPlanWeights(SHIPPED_MODEL_DIR);
    const names = new Set(plan.engine.steps.map((s) => s.weight));
    expect(Object.keys(weights).sort()).to.deep.equal([...names].sort());
    for (const step of plan.engine.steps) {
      expect(weights[step.weight]!.data.length).to.equal(step.inFeatures * step.weightOutFeatures);
    }
  });
});
