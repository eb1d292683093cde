import { expect } from "chai";
import { based } from "../helpers/processes";

describe("based prompt: flags are checked before anything is contacted", function () {
  this.timeout(60_000);

  it("`based prompt` refuses bad flags before it connects to anything (exit code 2)", () => {
    const human = based(["prompt", "--brain", "3", "hi", "--max-tokens", "0"], {});
    expect(human.status, human.stderr).to.equal(2);
    expect(human.stderr).to.contain("--max-tokens");
    const json = based(["prompt", "--brain", "3", "hi", "--deadline", "90000", "--json"], {});
    expect(json.status).to.equal(2);
    expect(json.json.ok).to.equal(false);
    expect((json.json.error as { code: string }).code).to.equal("InvalidArgument");
  });
});
