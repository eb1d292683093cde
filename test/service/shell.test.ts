import { expect } from "chai";
import { z } from "zod";
import { attesterService } from "../../oracle/attester/main";
import { BasedError } from "../../sdk/errors";
import { type ServiceDefinition, configure, runService } from "../../service/shell";
import { freePort, tempDir } from "../helpers/processes";

const optionsSchema = z.object({
  brain: z.coerce.number().int().min(0).max(1023, "ids end at 1023"),
  workers: z.coerce.number().int().min(1, "at least 1").optional(),
  register: z.boolean().default(true),
  fault: z.enum(["wrong-results"], { error: "is not a known fault" }).optional(),
});
type Options = z.infer<typeof optionsSchema>;

function definition(
  run: ServiceDefinition<Options, string>["run"],
  shutdownTimeoutMs?: number,
): ServiceDefinition<Options, string> {
  return {
    name: "probe",
    summary: "a service for tests",
    flags: {},
    env: { BASED_PROBE_FAULT: "fault" },
    options: optionsSchema,
    shutdownTimeoutMs,
    run,
  };
}

function refusal(fn: () => unknown): BasedError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(BasedError);
    return err as BasedError;
  }
  expect.fail("expected a refusal");
}

describe("service/shell: one start, config, log, health and shutdown for every service", function () {
  this.timeout(30_000);
  const env = { HOME: tempDir("shell-home") };

  it("options come from flags and the service's variables; a negated flag turns its option off", () => {
    const def = definition(async () => "done");
    const { options, config } = configure(def, {
      flags: { brain: "3", noRegister: true, gateway: "http://gw:1" },
      env: { ...env, BASED_PROBE_FAULT: "wrong-results" },
    });
    expect(options).to.deep.equal({ brain: 3, register: false, fault: "wrong-results" });
    // Shared settings go to the configuration, not the service's options.
    expect(config.gatewayUrl).to.equal("http://gw:1");
    expect(config.logLevel).to.equal("info");
    expect(configure(def, { flags: { brain: "3", register: false }, env }).options.register).to.equal(false);
    // The attester's --no-epoch-reports reaches its positive option.
    const attester = configure(attesterService, {
      flags: {
        stateDir: "/tmp/a",
        noEpochReports: true,
        ethereumFinality: "finalized",
        basedFinality: "depth:0",
        allowZeroFinality: true,
      },
      env,
    });
    expect(attester.options).to.deep.include({
      epochReports: false,
      allowZeroFinality: true,
      ethereumFinality: { kind: "finalized" },
      basedFinality: { kind: "depth", depth: 0 },
    });
    const defaults = configure(attesterService, { flags: { stateDir: "/tmp/a" }, env }).options;
    expect(defaults.epochReports).to.equal(true);
    // Both chains default to their `finalized` block.
    expect(defaults).to.deep.include({
      ethereumFinality: { kind: "finalized" },
      basedFinality: { kind: "finalized" },
    });
  });

  it("a bad option is refused before anything starts, naming the flag or the variable it came from", () => {
    const def = definition(async () => expect.fail("must not start"));
    const flag = refusal(() => configure(def, { flags: { brain: "3", workers: "0" }, env }));
    expect(flag).to.include({ kind: "input", code: "InvalidConfig" });
    expect(flag.message).to.contain("invalid configuration").and.contain("--workers: at least 1");
    const variable = refusal(() =>
      configure(def, { flags: { brain: "3" }, env: { ...env, BASED_PROBE_FAULT: "lazy" } }),
    );
    expect(variable.message).to.contain("BASED_PROBE_FAULT: is not a known fault");
    const shared = refusal(() => configure(def, { flags: { brain: "3", redisUrl: "http://r" }, env }));
    expect(shared.message).to.contain("--redis-url");
    expect(refusal(() => configure(def, { flags: { brain: "1024" }, env })).message).to.contain("--brain");
    // Attack #7: a finality rule is `finalized` or `depth:N`, and depth 0 needs its explicit flag.
    const zero = refusal(() =>
      configure(attesterService, { flags: { stateDir: "/a", basedFinality: "depth:0" }, env }),
    );
    expect(zero.message).to.contain("--based-finality: depth:0 needs --allow-zero-finality");
    const bogus = refusal(() =>
      configure(attesterService, { flags: { stateDir: "/a", ethereumFinality: "2" }, env }),
    );
    expect(bogus.message).to.contain("--ethereum-finality").and.contain('neither "finalized" nor "depth:N"');
    expect(
      configure(attesterService, { flags: { stateDir: "/a", basedFinality: "depth:12" }, env }).options
        .basedFinality,
    ).to.deep.equal({ kind: "depth", depth: 12 });
    // An option the service does not have is refused, not dropped.
    const stray = refusal(() => configure(def, { flags: { brain: "3", noEpochReports: true }, env }));
    expect(stray.message).to.contain("--no-epoch-reports is not an option of the probe");
  });

  it("serves GET /health with what the service reports, and stops on SIGTERM with the service's result", async () => {
    const port = await freePort();
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const def = definition(async ({ signal, setHealth, options }) => {
      setHealth(() => ({ brain: options.brain }));
      started();
      await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
      return "stopped cleanly";
    });
    const result = runService(def, {
      flags: { brain: "7", healthPort: String(port) },
      env: { ...env, BASED_LOG_LEVEL: "silent" },
    });
    await running;
    let health: Record<string, unknown> | undefined;
    for (let i = 0; i < 50 && !health; i++) {
      health = await fetch(`http://127.0.0.1:${port}/health`)
        .then((r) => r.json() as Promise<Record<string, unknown>>)
        .catch(() => undefined);
      if (!health) await new Promise((r) => setTimeout(r, 50));
    }
    expect(health).to.include({ ok: true, service: "probe", brain: 7 });
    process.emit("SIGTERM", "SIGTERM");
    expect(await result).to.equal("stopped cleanly");
    expect(process.listenerCount("SIGTERM")).to.equal(0);
    // The health server went with it.
    const after = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
    expect(after).to.equal(undefined);
  });

  it("a service that does not stop within its bound is given up on (ShutdownTimeout)", async () => {
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const def = definition(async () => {
      started();
      return new Promise<string>(() => {}); // never stops
    }, 200);
    const result = runService(def, { flags: { brain: "1" }, env: { ...env, BASED_LOG_LEVEL: "silent" } });
    await running;
    process.emit("SIGINT", "SIGINT");
    const err = await result.then(
      () => expect.fail("expected a timeout"),
      (e: unknown) => e as BasedError,
    );
    expect(err).to.be.instanceOf(BasedError);
    expect(err).to.include({ code: "ShutdownTimeout", kind: "environment" });
  });
});
