import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { ROOT, freePort, runNode, tempDir } from "../../helpers/processes";
import { REDIS_URL, deletePrefix, uniquePrefix } from "./helpers";

const address = (n: number) => `0x${n.toString(16).padStart(40, "0")}`;

/** A deployments file whose chain is not running: the gateway reads it only when asked about members. */
function writeDeployments(dir: string): string {
  const file = path.join(dir, "deployments.json");
  const chain = (chainId: number, port: number, names: string[]) => ({
    chainId,
    rpcUrl: `http://127.0.0.1:${port}`,
    startBlock: 0,
    contracts: Object.fromEntries(names.map((n, i) => [n, address(chainId + i)])),
  });
  fs.writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      network: "devnet",
      createdAt: new Date().toISOString(),
      ethereum: { ...chain(31337, 1, ["Pepecoin", "BrainNFT", "WrappedBased"]), testPepecoin: true },
      based: chain(32323, 2, [
        "BasedToken",
        "BasedBridge",
        "BrainRegistry",
        "MessageInbox",
        "Network",
        "Staking",
        "Emission",
        "Consensus",
        "ComputeMarket",
      ]),
    }),
  );
  return file;
}

/** Resolves with the first stdout line that parses as JSON with msg `msg`. */
function waitForLine(child: ChildProcess, msg: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buffer = "";
    let stderr = "";
    const timer = setTimeout(
      () => reject(new Error(`no "${msg}" line within ${timeoutMs} ms:\n${buffer}\n${stderr}`)),
      timeoutMs,
    );
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on("data", (d: Buffer) => {
      buffer += d.toString();
      for (const line of buffer.split("\n")) {
        try {
          const json = JSON.parse(line) as Record<string, unknown>;
          if (json.msg === msg) {
            clearTimeout(timer);
            resolve(json);
          }
        } catch {
          // a partial line
        }
      }
    });
    child.once("exit", (code) => reject(new Error(`exited ${code} before "${msg}":\n${buffer}\n${stderr}`)));
  });
}

/**
 * The gateway process: flags validated, one JSON "gateway ready" line with its url once it
 * listens, a clean stop on SIGTERM, and a clear exit when Redis is not there.
 */
describe("oracle gateway process (compute/gateway/main.ts)", function () {
  this.timeout(60_000);
  const prefix = uniquePrefix("main");
  let deployments: string;

  before(() => {
    deployments = writeDeployments(tempDir("gateway-main"));
  });
  after(() => deletePrefix(prefix));

  const args = (...extra: string[]) => [
    "--require",
    "tsx/cjs",
    path.join(ROOT, "compute", "gateway", "main.ts"),
    "--deployments",
    deployments,
    "--brain",
    "3",
    ...extra,
  ];

  it("logs `gateway ready` with its url, serves, and stops cleanly on SIGTERM", async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      args(
        "--port",
        String(port),
        "--prefix",
        prefix,
        "--redis-url",
        REDIS_URL,
        // Replica settings: behind one proxy hop, blobs in a directory of its own.
        "--trust-proxy",
        "1",
        "--blob-dir",
        tempDir("gateway-blobs"),
      ),
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      const ready = await waitForLine(child, "gateway ready");
      expect(ready).to.include({ url: `http://127.0.0.1:${port}`, service: "gateway", brain: 3 });
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as {
        ok: boolean;
        brainId: number;
      };
      expect(health).to.include({ ok: true, brainId: 3 });
      const exited = new Promise<number | null>((r) => child.once("exit", r));
      const stopped = waitForLine(child, "gateway stopped");
      child.kill("SIGTERM");
      await stopped;
      expect(await exited).to.equal(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("exits at once with how to start Redis when it is unreachable, and on bad flags", async () => {
    const down = await runNode(args("--port", "0", "--redis-url", "redis://127.0.0.1:1"), {}, 30_000);
    expect(down.status).to.equal(4); // the environment is not ready (README exit codes)
    expect(down.stderr).to.include("Cannot reach Redis").and.include("redis-server");
    const bad = await runNode(args("--port", "http"), {}, 30_000);
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.include("invalid configuration").and.include("port");
    const proxy = await runNode(args("--trust-proxy", "everyone"), {}, 30_000);
    expect(proxy.status).to.equal(2);
    expect(proxy.stderr).to.include("invalid configuration").and.include("trust");
    const ttl = await runNode(args("--blob-ttl-s", "5"), {}, 30_000);
    expect(ttl.status).to.equal(2);
    expect(ttl.stderr).to.include("invalid configuration").and.include("blob");
    const quota = await runNode(args("--free-blob-quota-mib", "lots"), {}, 30_000);
    expect(quota.status).to.equal(2);
    expect(quota.stderr).to.include("invalid configuration").and.include("quota");
  });
});
