import { expect } from "chai";
import path from "node:path";
import { basedAsync, tempDir } from "../../helpers/processes";

/** `based miner start`'s refusals that come before any chain or gateway is contacted. */
describe("based miner start: bad flags and settings are refused with clear errors", function () {
  this.timeout(120_000);
  const env = { HOME: tempDir("miner-cli-home") };

  it("documents its options", async () => {
    const help = await basedAsync(["miner", "start", "--help"], env);
    expect(help.status).to.equal(0);
    for (const flag of [
      "--brain",
      "--gateway",
      "--workers",
      "--storage",
      "--model-cache",
      "--no-register",
      "--concurrency",
    ])
      expect(help.stdout).to.contain(flag);
    expect(help.stdout).to.contain("miner ready");
  });

  it("refuses a bad --workers, an unknown fault and a missing deployment, each with its exit code", async () => {
    const [workers, fault, noDevnet] = await Promise.all([
      basedAsync(["miner", "start", "--brain", "3", "--workers", "0", "--json"], env),
      basedAsync(["miner", "start", "--brain", "3", "--json"], { ...env, BASED_MINER_FAULT: "lazy" }),
      basedAsync(["miner", "start", "--brain", "3", "--json"], {
        ...env,
        BASED_DEPLOYMENTS: path.join(tempDir("miner-cli"), "deployments.json"),
      }),
    ]);
    expect(workers.status).to.equal(2);
    expect(workers.json).to.deep.include({ ok: false });
    expect(JSON.stringify(workers.json)).to.contain("--workers").and.to.contain("at least 1");
    expect(fault.status).to.equal(2);
    expect(JSON.stringify(fault.json)).to.contain("BASED_MINER_FAULT");
    expect(noDevnet.status).to.equal(4);
  });
});
