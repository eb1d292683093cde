/**
 * The devnet's child processes (nodes, deployments, oracle and Brain services), so Ctrl-C (or a
 * failure) stops them all within a bound: SIGTERM first, SIGKILL for whatever has not exited by
 * then, and a second stop request kills at once.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import type { Logger } from "pino";

/**
 * How long the children get to stop after SIGTERM before they are killed: past the longest
 * shutdown bound of a service (the miner's 60 s: jobs in flight are finished and posted).
 */
export const STOP_BOUND_MS = 65_000;

export class Children {
  private readonly all: { name: string; child: ChildProcess }[] = [];
  stopping = false;
  private stopped: Promise<void> | undefined;
  private kill: (() => void) | undefined;

  constructor(
    private readonly log: Logger,
    private readonly cwd: string,
  ) {}

  onFailure?: () => void;
  /** Where the services' process ids are written (tests stop one to see the network cope). */
  pidFile?: string;

  start(
    name: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    logFile: string,
    /** true: its exit stops the devnet; "warn": a miner or validator may die, the network goes on. */
    critical: boolean | "warn" = true,
  ): ChildProcess {
    const out = fs.openSync(logFile, "a");
    const child = spawn(process.execPath, args, {
      cwd: this.cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", out, out],
    });
    fs.closeSync(out);
    this.all.push({ name, child });
    child.once("exit", (code) => {
      if (this.stopping) return;
      if (critical === true) {
        this.log.error({ code }, `${name} stopped unexpectedly: see ${logFile}`);
        this.onFailure?.();
      } else if (critical === "warn") {
        this.log.warn({ code }, `${name} stopped: see ${logFile}; the network goes on without it`);
      }
    });
    if (this.pidFile) {
      const pids = Object.fromEntries(this.all.map(({ name: n, child: c }) => [n, c.pid]));
      fs.writeFileSync(this.pidFile, JSON.stringify(pids, null, 2));
    }
    return child;
  }

  /**
   * Sends SIGTERM to every child still running and resolves once all have exited: those still
   * running after `boundMs` get SIGKILL. Called again while stopping, it kills the rest at once.
   */
  stopAll(boundMs = STOP_BOUND_MS): Promise<void> {
    if (this.stopped) {
      this.kill?.();
      return this.stopped;
    }
    this.stopping = true;
    const running = this.all.filter(({ child }) => child.exitCode === null && child.signalCode === null);
    for (const { child } of running) child.kill("SIGTERM");
    const exits = running.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) resolve();
          else child.once("exit", () => resolve());
        }),
    );
    this.kill = () => {
      clearTimeout(timer);
      const left = running.filter(({ child }) => child.exitCode === null && child.signalCode === null);
      if (left.length > 0)
        this.log.warn({ children: left.map((c) => c.name) }, "still running: killing them (SIGKILL)");
      for (const { child } of left) child.kill("SIGKILL");
    };
    const timer = setTimeout(() => this.kill?.(), boundMs);
    this.stopped = Promise.all(exits).then(() => clearTimeout(timer));
    return this.stopped;
  }
}

/** The exit code of a child process (1 when a signal ended it). */
export function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}
