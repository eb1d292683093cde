import { expect } from "chai";
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { ROOT, tempDir } from "../helpers/processes";

const FIXTURE = path.join(__dirname, "fixtures", "stuck-service.ts");

/** Starts the stuck service; resolves once it logged that it is ready. */
async function startStuck(mode: "exit" | "stay"): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, ["--require", "tsx/cjs", FIXTURE, mode], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: tempDir("stuck-home"), BASED_LOG_LEVEL: "info" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 30_000;
  while (!stderr.includes("stuck ready")) {
    if (child.exitCode !== null) throw new Error(`the fixture exited early:\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`the fixture did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, stderr: () => stderr };
}

/** The exit code, or "running" when the process is still there after `ms`. */
function exitWithin(child: ChildProcess, ms: number): Promise<number | "running"> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve("running"), ms);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code ?? -1);
    });
  });
}

describe("service/shell: a service process exits within its shutdown bound", function () {
  this.timeout(60_000);

  it("after SIGTERM, a service that never stops and holds the event loop open is given up on and the process exits (code 4)", async () => {
    const { child, stderr } = await startStuck("exit");
    child.kill("SIGTERM");
    // The fixture's bound is 0.3 s, plus the shell's 2 s grace: 10 s is far beyond both.
    const code = await exitWithin(child, 10_000);
    if (code === "running") child.kill("SIGKILL");
    expect(code, stderr()).to.equal(4);
    expect(stderr()).to.contain("did not stop within 0.3 s");
  });

  it("without exitProcess (a caller that owns the process, as tests do) the shell does not exit it", async () => {
    const { child } = await startStuck("stay");
    child.kill("SIGTERM");
    const code = await exitWithin(child, 4_000);
    child.kill("SIGKILL");
    expect(code).to.equal("running");
  });
});
