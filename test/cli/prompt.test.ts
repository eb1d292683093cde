import { expect } from "chai";
import { choosePromptMode } from "../../cli/commands/prompt";
import { buildProgram } from "../../cli/main";
import { BasedError } from "../../sdk/errors";
import { KEY_SET_COST } from "../../sdk/key-rotation";
import { basedInProcess } from "../helpers/cli";

describe("cli/commands/prompt: choosing how a prompt travels", () => {
  it("`based prompt` chooses the mode from the Brain: --plain is required with ZK off, and warned about with ZK on", () => {
    expect(choosePromptMode(3, true, false)).to.deep.equal({ mode: "encrypted" });
    const plainOnZk = choosePromptMode(3, true, true);
    expect(plainOnZk.mode).to.equal("plain");
    expect(plainOnZk.warning).to.match(/unencrypted/);
    expect(choosePromptMode(7, false, true)).to.deep.equal({ mode: "plain" });
    expect(() => choosePromptMode(7, false, false))
      .to.throw(BasedError, /ZK mode off/)
      .with.property("hint")
      .that.matches(/--plain/);
  });
});

describe("cli/commands/prompt: --keys and --pad are checked before anything is read or sent", () => {
  type Json = Record<string, unknown>;
  it("a bad --keys or keyRotation in the config file is bad input (exit 2) naming the forms", async () => {
    for (const bad of ["sometimes", "every:0", "every:"]) {
      const res = await basedInProcess(["prompt", "hi", "--brain", "3", "--keys", bad]);
      expect(res.status, bad).to.equal(2);
      expect((res.json.error as Json).code).to.equal("InvalidConfig");
      expect((res.json.error as Json).message)
        .to.include("--keys")
        .and.include("every:N");
    }
    const file = await basedInProcess(["prompt", "hi", "--brain", "3"], { keyRotation: "every:-1" });
    expect(file.status).to.equal(2);
    expect((file.json.error as Json).message).to.include("keyRotation");
  });

  it("--pad with --plain is refused: a plain prompt's miner reads the answer", async () => {
    const res = await basedInProcess(["prompt", "hi", "--brain", "3", "--plain", "--pad"]);
    expect(res.status).to.equal(2);
    expect((res.json.error as Json).code).to.equal("PadNeedsEncryption");
  });

  it("--help states the key policy's default and cost, and what --pad costs", () => {
    const program = buildProgram(() => {});
    const help = program.commands.find((c) => c.name() === "prompt")!.helpInformation();
    let after = "";
    program.commands
      .find((c) => c.name() === "prompt")!
      .configureOutput({ writeOut: (s) => (after += s) })
      .outputHelp();
    expect(help).to.include("--keys").and.include("--pad");
    expect(after).to.match(/default session/);
    expect(after).to.include(KEY_SET_COST);
    expect(after).to.match(/pay for --max-tokens/);
  });
});
