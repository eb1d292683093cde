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

  it("--max-cost takes a decimal amount of BASED, says what to pass otherwise, and needs the escrow; --help documents it", () => {
    for (const bad of ["ten", "-1", "0.0000000000000000001"]) {
      const run = based(["prompt", "--brain", "3", "hi", "--max-cost", bad, "--json"], {});
      expect(run.status, run.stderr).to.equal(2);
      const error = run.json.error as { code: string; message: string; hint: string };
      expect(error.code).to.equal("InvalidArgument");
      expect(error.message).to.contain("--max-cost");
      expect(error.hint).to.contain("--max-cost 0.05");
    }
    const noEscrow = based(["prompt", "--brain", "3", "hi", "--max-cost", "1", "--no-escrow", "--json"], {});
    expect(noEscrow.status).to.equal(2);
    expect((noEscrow.json.error as { hint: string }).hint).to.contain("Drop --max-cost");
    const help = based(["prompt", "--help"], {});
    expect(help.status).to.equal(0);
    expect(help.stdout).to.contain("--max-cost <BASED>");
    expect(help.stdout.replace(/\s+/g, " ")).to.contain("default: the quote at the Brain's prices");
  });
});
