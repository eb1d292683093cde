import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import pino from "pino";
import { Children } from "../../../scripts/devnet/children";
import { ROOT, tempDir } from "../../helpers/processes";

/** A child that ignores SIGTERM (a service stuck in its shutdown) or stops on it, then says it is up. */
const STUBBORN = "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); console.log('up');";
const POLITE = "setInterval(() => {}, 1000); console.log('up');";

async function started(children: Children, dir: string, name: string, code: string) {
  const log = path.join(dir, `${name}.log`);
  const child = children.start(name, ["-e", code], {}, log, "warn");
  const deadline = Date.now() + 10_000;
  while (!(fs.existsSync(log) && fs.readFileSync(log, "utf8").includes("up"))) {
    if (Date.now() > deadline) throw new Error(`${name} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

describe("scripts/devnet/children: the devnet's stop is bounded", function () {
  this.timeout(30_000);
  const log = pino({ level: "silent" });

  it("SIGTERM to every child; one that ignores it is killed (SIGKILL) past the bound, and stopAll resolves", async () => {
    const dir = tempDir("children");
    const children = new Children(log, ROOT);
    const stubborn = await started(children, dir, "stubborn", STUBBORN);
    const polite = await started(children, dir, "polite", POLITE);
    const t0 = Date.now();
    await children.stopAll(500);
    expect(Date.now() - t0).to.be.lessThan(10_000);
    expect(polite.signalCode).to.equal("SIGTERM");
    expect(stubborn.signalCode).to.equal("SIGKILL");
  });

  it("a second stop request kills what is left at once, without waiting out the bound", async () => {
    const dir = tempDir("children");
    const children = new Children(log, ROOT);
    const stubborn = await started(children, dir, "stubborn", STUBBORN);
    const first = children.stopAll(60_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(stubborn.exitCode === null && stubborn.signalCode === null, "still running after SIGTERM").to.be
      .true;
    const t0 = Date.now();
    await children.stopAll();
    await first;
    expect(Date.now() - t0).to.be.lessThan(10_000);
    expect(stubborn.signalCode).to.equal("SIGKILL");
  });
});
