import { expect } from "chai";
import { choosePromptMode } from "../../cli/commands/prompt";
import { BasedError } from "../../sdk/errors";

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
