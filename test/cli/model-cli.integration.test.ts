import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { based, tempDir } from "../helpers/processes";

/** `based model …` as a person runs it: the shipped model, encrypted and plain. */
describe("based model (CLI)", function () {
  this.timeout(180_000);
  const env = { BASED_CONFIG: path.join(tempDir("based-model-cli"), "none.json") };
  fs.writeFileSync(env.BASED_CONFIG, "{}");

  it("generate --json prints the same tokens encrypted and plain, with timings and per-token costs", () => {
    const enc = based(["model", "generate", "The jury said", "--max-tokens", "6", "--json"], env);
    expect(enc.status, enc.stderr).to.equal(0);
    const plain = based(
      ["model", "generate", "The jury said", "--max-tokens", "6", "--plain", "--json"],
      env,
    );
    expect(plain.status, plain.stderr).to.equal(0);
    expect(enc.json.mode).to.equal("encrypted");
    expect(plain.json.mode).to.equal("plain");
    expect(enc.json.ids).to.have.length(6);
    expect(enc.json.ids).to.deep.equal(plain.json.ids);
    expect(enc.json.text).to.equal(plain.json.text);
    const details = enc.json.encrypted as { actionsPerToken: Record<string, number>; evalKeyBytes: number };
    expect(details.actionsPerToken.total).to.be.greaterThan(0);
    expect(details.evalKeyBytes).to.be.greaterThan(0);
    expect((enc.json.timings as { tokensPerSecond: number }).tokensPerSecond).to.be.greaterThan(0);
  });

  it("refuses bad input with exit code 2 and a message", () => {
    const zero = based(["model", "generate", "hi", "--max-tokens", "0", "--json"], env);
    expect(zero.status).to.equal(2);
    expect((zero.json.error as { message: string }).message).to.include("--max-tokens");
    const missing = based(["model", "generate", "hi", "--model", "/nonexistent", "--json"], env);
    expect(missing.status).to.equal(2);
    expect((missing.json.error as { code: string }).code).to.equal("ModelNotFound");
    const both = based(["model", "generate", "hi", "--plain", "--encrypted"], env);
    expect(both.status).to.equal(2);
    const notModel = based(["model", "convert", tempDir("empty"), "--out", tempDir("out"), "--json"], env);
    expect(notModel.status).to.equal(2);
    expect((notModel.json.error as { message: string }).message).to.include("config.json");
  });
});
