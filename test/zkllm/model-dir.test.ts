import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { openModel } from "../../zkllm/client";
import { readModelDir, readPlan } from "../../zkllm/model-dir";
import { SHIPPED_MODEL_DIR } from "./model/helpers";

describe("zkllm/model-dir: reading a model directory", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "zkllm-model-dir-"));
    for (const f of ["vocab.json", "merges.txt", "config.json"])
      fs.copyFileSync(path.join(SHIPPED_MODEL_DIR, f), path.join(dir, f));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("reads every file of a converted model, with the weights' sha256", () => {
    const files = readModelDir(SHIPPED_MODEL_DIR);
    expect(files.weights).to.have.length(fs.statSync(path.join(SHIPPED_MODEL_DIR, "model.safetensors")).size);
    expect(files.plan).to.be.a("string");
    expect(openModel(files).plan().modelSha256).to.equal(files.weightsSha256);
  });

  it("leaves the weights out when asked, and reads a plan only where there is one", () => {
    const light = readModelDir(SHIPPED_MODEL_DIR, { weights: false });
    expect(light.weights).to.equal(undefined);
    expect(light.weightsSha256).to.equal(undefined);
    const files = readModelDir(dir);
    expect(files.plan).to.equal(undefined);
    expect(files.weights).to.equal(undefined);
    expect(openModel(files).nPositions).to.be.greaterThan(0);
  });

  it("readPlan names the file that is missing or made for other weights", () => {
    expect(() => readPlan(dir)).to.throw(/zkllm-plan\.json does not exist: convert the checkpoint first/);
    fs.copyFileSync(path.join(SHIPPED_MODEL_DIR, "zkllm-plan.json"), path.join(dir, "zkllm-plan.json"));
    fs.writeFileSync(path.join(dir, "model.safetensors"), "not the weights");
    expect(() => readPlan(dir)).to.throw(/zkllm-plan\.json was made for other weights/);
    expect(readPlan(SHIPPED_MODEL_DIR).engine.steps.length).to.be.greaterThan(0);
  });
});
