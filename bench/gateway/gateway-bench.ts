/**
 * The Brain gateway's own overhead, without FHE: how long each route takes, and how many jobs per
 * second one gateway sustains with many sessions on loopback.
 *
 *   npx tsx bench/gateway/gateway-bench.ts [--sessions 20] [--seconds 20] [--payload-kib 128] \
 *     [--miners 1,2,4] [--replicas 1,2] [--wire binary|json] [--json]
 *
 * This process runs a gateway (`startGateway`, real Redis under a unique prefix deleted at the
 * end, membership an in-memory set, no rate limit). A second process (this file again, forked)
 * runs the load: real `GatewayClient` miners with their own keys, signing every request (EIP-191
 * with nonces) and every result (EIP-712 Delivery over the Brain, the job's `jobHash` and the
 * outputs hash, checked by the gateway against the hash it took at submit), and real clients.
 * Miners answer at once with one output of ciphertext size (computed once per
 * miner, so the load process spends its CPU on HTTP and signatures, not on work the gateway never
 * sees); clients submit one input of the same size per job (a `linear` job, as `based prompt`
 * sends one per plan step). The gateway does not share its event loop with the load that way, and
 * its CPU time per job (and Redis's, from INFO cpu) is measured apart from the load's.
 *
 * With `--replicas 2` (docs/gateway.md "Replicas") a second gateway on the same Redis prefix runs
 * in a process of its own (this file again, forked), and the load spreads its requests over both
 * as a round-robin load balancer would: each request, a client's or a miner's, goes to the next
 * replica, so a result posted to one replica wakes a client long-polling the other. The gateway CPU
 * per job is then both processes' together.
 *
 * For each number of replicas and of miners (one poller each, as `based miner start --workers 1` runs):
 * - latency: one session, jobs one after another (submit → long-poll until the result is in hand);
 * - throughput: `--sessions` sessions, each a loop of submit → wait, for `--seconds`.
 * Every job is timed by the load process on one clock: submit (POST /sessions/:id/jobs), hand-out
 * (POST /miner/work: from the later of "submit acknowledged" and "poll sent" to the work item in
 * hand, so time spent waiting behind other jobs is not counted), result post (POST
 * /miner/jobs/:id/result), result → client (from the miner sending its result to the client's
 * long poll, GET /jobs/:id?waitMs, returning it), the whole round trip (submit sent → result in
 * hand), and the queue wait (a job waiting for a busy miner). A last table gives the CPU of the
 * pieces a job's bytes go through (outputs hash, signature recoveries, base64), to read the
 * gateway's CPU per job against.
 *
 * `--wire binary` (the default, as `based prompt` and miners talk now): ciphertexts travel as
 * frames (application/vnd.based.frames) on every leg, and a client runs each job with one
 * submit-and-wait request (`GatewayClient.runJob`): its "submit" column is then 0 (the request
 * returns with the result; see the round trip). `--wire json`: base64 in JSON, submit then long
 * poll, as older clients do. `--json` prints the results as JSON.
 */
import { deleteRedisPrefix } from "../../compute/gateway/redis-prefix";
import { type ChildProcess, fork } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import pino from "pino";
import { type Hex, getAddress, recoverMessageAddress, recoverTypedDataAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  DEFAULT_REDIS_URL,
  DELIVERY_TYPES,
  type GatewayDomain,
  type WorkItem,
  deliveryDomain,
  deliveryMessage,
  fromBase64,
  jobHash,
  outputsHash,
  randomHex,
  signedRequestMessage,
  toBase64,
} from "../../protocol/gateway";
import { sha256Hex } from "../../protocol/hash";
import { startGateway } from "../../compute/gateway/server";
import { GatewayClient, type SignerOptions } from "../../sdk/gateway-client";

const ROOT = path.resolve(__dirname, "..", "..");
const REDIS_URL = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
const BRAIN = 3;
const DOMAIN: GatewayDomain = {
  chainId: 32323,
  network: getAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
  brainId: BRAIN,
};
const DELIVERY = { chainId: 32323, computeMarket: getAddress("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512") };
/** A single-row product of layer 0, as a generated token's first job. */
const STEP = "L0.qkv@1";

type LoadConfig = {
  /** The replicas' URLs: requests go to each in turn. */
  urls: string[];
  minerKeys: Hex[];
  sessions: number;
  seconds: number;
  latencySeconds: number;
  payloadBytes: number;
  /** Frames and submit-and-wait (true), or JSON with base64 and submit-then-poll. */
  binary: boolean;
};

/** One job, in ms, all on the load process's clock. */
type JobSample = {
  submit: number;
  handOut: number;
  queueWait: number;
  resultPost: number;
  resultToClient: number;
  roundTrip: number;
  /** The miner's time between holding the job and sending its result (building the body). */
  minerWork: number;
};

type PhaseResult = {
  sessions: number;
  jobs: number;
  failed: number;
  seconds: number;
  jobsPerSecond: number;
  samples: JobSample[];
  /** CPU ms per job of the load process (clients and miners). */
  loadCpuMsPerJob: number;
};

/** Between this process and a second replica's. */
type ReplicaMessage =
  | { kind: "start"; prefix: string; members: string[] }
  | { kind: "ready"; url: string }
  | { kind: "cpu" }
  | { kind: "cpuMs"; ms: number }
  | { kind: "stop" };

type LoadMessage =
  | { kind: "phase"; name: "throughput"; at: "start" | "end" }
  | { kind: "done"; latency: PhaseResult; throughput: PhaseResult }
  | { kind: "error"; message: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// The load process

/** Clients of every replica, handed out in turn (a round-robin load balancer). */
class RoundRobin {
  private next = 0;
  constructor(private readonly clients: readonly GatewayClient[]) {}
  get(): GatewayClient {
    return this.clients[this.next++ % this.clients.length]!;
  }
}

type MinerTimes = { pollStart: number; polled: number; postStart: number; posted: number };
type ClientTimes = { jobId: string; sent: number; acknowledged: number; inHand: number };

/** A miner that answers every job at once with the same ciphertext-sized output. */
class BenchMiner {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly signer: SignerOptions;

  constructor(
    private readonly client: RoundRobin,
    key: Hex,
    private readonly times: Map<string, MinerTimes>,
  ) {
    this.signer = { account: privateKeyToAccount(key), domain: DOMAIN };
  }

  async start(payloadBytes: number): Promise<void> {
    const output = new Uint8Array(randomBytes(payloadBytes));
    const outputHash = await outputsHash([output]);
    const answer = { outputs: [output], outputHash };
    // Each job's Delivery binds the job it was given (as a miner does: jobHash of the work item).
    const sign = async (item: WorkItem) =>
      this.signer.account.signTypedData({
        domain: deliveryDomain(DELIVERY.chainId, DELIVERY.computeMarket),
        types: DELIVERY_TYPES,
        primaryType: "Delivery",
        message: deliveryMessage(BRAIN, await jobHash(item.jobId, item.job), outputHash),
      });
    // One poll first, so the gateway counts this miner live before sessions are opened.
    await this.client.get().pollWork(this.signer, 0);
    this.loop = (async () => {
      while (!this.stopped) {
        const pollStart = performance.now();
        const item = await this.client
          .get()
          .pollWork(this.signer, 20_000)
          .catch(() => undefined);
        const polled = performance.now();
        if (!item) continue;
        const signature = await sign(item);
        const postStart = performance.now();
        try {
          await this.client.get().postResult(this.signer, item.jobId, {
            lockToken: item.lockToken,
            ...answer,
            signature,
          });
        } catch (err) {
          console.error(`result of ${item.jobId} refused: ${(err as Error).message}`);
          continue;
        }
        this.times.set(item.jobId, { pollStart, polled, postStart, posted: performance.now() });
      }
    })();
  }

  stop(): void {
    this.stopped = true;
  }
}

async function runPhase(
  client: RoundRobin,
  minerTimes: Map<string, MinerTimes>,
  sessions: number,
  seconds: number,
  input: Uint8Array,
  binary: boolean,
  keepSamples = true,
): Promise<PhaseResult> {
  const opened = await Promise.all(
    Array.from({ length: sessions }, () =>
      client.get().openSession({ brainId: BRAIN, mode: "encrypted", paramSet: "n8192-q100", keys: NO_KEYS }),
    ),
  );
  const clientTimes: ClientTimes[] = [];
  let failed = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  await Promise.all(
    opened.map(async (s) => {
      while (performance.now() < until) {
        const sent = performance.now();
        const job = { kind: "linear", step: STEP, inputs: [input] } as const;
        if (binary) {
          // One request: submitted and answered with the result (long polls on past the wait).
          const view = await client.get().runJob(s.sessionId, { ...job, inputs: [...job.inputs] }, 60_000);
          const inHand = performance.now();
          if (view.state === "completed" && view.result)
            clientTimes.push({ jobId: view.jobId, sent, acknowledged: sent, inHand });
          else failed++;
          continue;
        }
        const { jobId } = await client.get().submitJob(s.sessionId, { ...job, inputs: [...job.inputs] });
        const acknowledged = performance.now();
        const view = await client.get().waitForJob(jobId, 60_000);
        const inHand = performance.now();
        if (view.state === "completed" && view.result)
          clientTimes.push({ jobId, sent, acknowledged, inHand });
        else failed++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await Promise.all(opened.map((s) => client.get().closeSession(s.sessionId)));
  // A miner's post may still be on its way back when the client already holds the result.
  await sleep(200);
  const samples: JobSample[] = [];
  for (const c of clientTimes) {
    const m = minerTimes.get(c.jobId);
    if (!m) continue;
    samples.push({
      submit: c.acknowledged - c.sent,
      handOut: m.polled - Math.max(c.acknowledged, m.pollStart),
      queueWait: Math.max(0, m.pollStart - c.acknowledged),
      resultPost: m.posted - m.postStart,
      resultToClient: c.inHand - m.postStart,
      roundTrip: c.inHand - c.sent,
      minerWork: m.postStart - m.polled,
    });
  }
  return {
    sessions,
    jobs: clientTimes.length,
    failed,
    seconds: elapsed,
    jobsPerSecond: clientTimes.length / elapsed,
    samples: keepSamples ? samples : [],
    loadCpuMsPerJob: (cpu.user + cpu.system) / 1000 / Math.max(1, clientTimes.length),
  };
}

const NO_KEYS = { galois: null, relin: null };

async function loadMain(config: LoadConfig): Promise<void> {
  const send = (m: LoadMessage) => new Promise<void>((resolve) => process.send!(m, () => resolve()));
  const client = new RoundRobin(
    config.urls.map((url) => new GatewayClient({ url, timeoutMs: 30_000, binary: config.binary })),
  );
  const minerTimes = new Map<string, MinerTimes>();
  const miners = config.minerKeys.map((k) => new BenchMiner(client, k, minerTimes));
  await Promise.all(miners.map((m) => m.start(config.payloadBytes)));
  const input = new Uint8Array(randomBytes(config.payloadBytes));

  // Warm-up (V8, fastify's routes, the Redis connections), not counted.
  await runPhase(client, minerTimes, 1, 2, input, config.binary, false);

  const latency = await runPhase(client, minerTimes, 1, config.latencySeconds, input, config.binary);
  await send({ kind: "phase", name: "throughput", at: "start" });
  const throughput = await runPhase(
    client,
    minerTimes,
    config.sessions,
    config.seconds,
    input,
    config.binary,
  );
  await send({ kind: "phase", name: "throughput", at: "end" });
  miners.forEach((m) => m.stop());
  await send({ kind: "done", latency, throughput });
}

// ---------------------------------------------------------------------------------------------
// The gateway process

type RouteStats = { p50: number; p99: number };
type ConfigResult = {
  replicas: number;
  miners: number;
  latency: Omit<PhaseResult, "samples"> & { routes: Record<keyof JobSample, RouteStats> };
  throughput: Omit<PhaseResult, "samples"> & {
    routes: Record<keyof JobSample, RouteStats>;
    /** CPU ms per job of the gateway process (this one), of Redis (the whole server). */
    gatewayCpuMsPerJob: number;
    redisCpuMsPerJob: number;
  };
  samples?: { latency: JobSample[]; throughput: JobSample[] };
};

function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

function routes(samples: readonly JobSample[]): Record<keyof JobSample, RouteStats> {
  const keys: (keyof JobSample)[] = [
    "submit",
    "handOut",
    "queueWait",
    "resultPost",
    "resultToClient",
    "roundTrip",
    "minerWork",
  ];
  return Object.fromEntries(
    keys.map((k) => {
      const xs = samples.map((s) => s[k]);
      return [k, { p50: percentile(xs, 50), p99: percentile(xs, 99) }];
    }),
  ) as Record<keyof JobSample, RouteStats>;
}

async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const field = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, "m").exec(info)?.[1] ?? NaN);
  return field("used_cpu_user") + field("used_cpu_sys");
}

/** Cleanup on Ctrl-C: the running configuration's gateway, load process and Redis keys. */
let interrupted: (() => Promise<void>) | undefined;

/** A bench gateway on `prefix` whose only members are `members` (miners). */
function benchGateway(prefix: string, members: ReadonlySet<string>) {
  return startGateway({
    port: 0,
    // Free sessions (no ComputeMarket here): the gateway refuses them by default.
    freeSessions: true,
    brainId: BRAIN,
    redisUrl: REDIS_URL,
    prefix,
    domain: DOMAIN,
    delivery: DELIVERY,
    isMember: async (a, role) => role === "miner" && members.has(a),
    // One client address carries the whole load here; the per-IP limit is not what is measured.
    rateLimit: { max: 1_000_000_000, timeWindowMs: 60_000 },
    logger: pino({ level: "silent" }),
  });
}

/** A second replica: a gateway in a process of its own, on the same prefix. */
async function startReplica(
  prefix: string,
  members: ReadonlySet<string>,
): Promise<{ url: string; cpuMs(): Promise<number>; stop(): Promise<void> }> {
  const proc = fork(__filename, [], {
    cwd: ROOT,
    execArgv: ["--require", "tsx/cjs"],
    env: { ...process.env, GATEWAY_BENCH_REPLICA: "1" },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const next = (kind: ReplicaMessage["kind"]) =>
    new Promise<ReplicaMessage>((resolve, reject) => {
      const on = (m: ReplicaMessage) => {
        if (m.kind !== kind) return;
        proc.off("message", on);
        resolve(m);
      };
      proc.on("message", on);
      proc.once("exit", (code) => reject(new Error(`the replica process exited (${code})`)));
    });
  const ready = next("ready");
  proc.send({ kind: "start", prefix, members: [...members] } satisfies ReplicaMessage);
  const { url } = (await ready) as Extract<ReplicaMessage, { kind: "ready" }>;
  return {
    url,
    async cpuMs() {
      const answer = next("cpuMs");
      proc.send({ kind: "cpu" } satisfies ReplicaMessage);
      return ((await answer) as Extract<ReplicaMessage, { kind: "cpuMs" }>).ms;
    },
    async stop() {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.send({ kind: "stop" } satisfies ReplicaMessage);
      await Promise.race([exited, sleep(10_000)]);
      proc.kill("SIGKILL");
    },
  };
}

async function runConfig(
  redis: Redis,
  miners: number,
  replicas: number,
  o: { sessions: number; seconds: number; payloadBytes: number; keepSamples: boolean; binary: boolean },
): Promise<ConfigResult> {
  const prefix = `bench-gw-${randomHex(4)}`;
  const minerKeys = Array.from({ length: miners }, () => generatePrivateKey());
  const members = new Set<string>(minerKeys.map((k) => privateKeyToAccount(k).address));
  const gateway = await benchGateway(prefix, members);
  const others: Awaited<ReturnType<typeof startReplica>>[] = [];
  let child: ChildProcess | undefined;
  const cleanup = async () => {
    child?.kill("SIGKILL");
    await Promise.all(others.map((r) => r.stop()));
    await gateway.close();
    await deleteRedisPrefix(redis, prefix);
  };
  interrupted = cleanup;
  try {
    for (let i = 1; i < replicas; i++) others.push(await startReplica(prefix, members));
    const othersCpu = () =>
      Promise.all(others.map((r) => r.cpuMs())).then((ms) => ms.reduce((a, b) => a + b, 0));
    child = fork(__filename, [], {
      cwd: ROOT,
      execArgv: ["--require", "tsx/cjs"],
      env: { ...process.env, GATEWAY_BENCH_LOAD: "1" },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const config: LoadConfig = {
      urls: [gateway.url, ...others.map((r) => r.url)],
      minerKeys,
      sessions: o.sessions,
      seconds: o.seconds,
      latencySeconds: Math.max(3, o.seconds / 4),
      payloadBytes: o.payloadBytes,
      binary: o.binary,
    };
    const proc = child;
    const done = await new Promise<
      Extract<LoadMessage, { kind: "done" }> & { gatewayCpuMs: number; redisCpuMs: number }
    >((resolve, reject) => {
      let cpu0: NodeJS.CpuUsage | undefined;
      let redis0: Promise<number> | undefined;
      let others0: Promise<number> = Promise.resolve(0);
      let othersMs: Promise<number> = Promise.resolve(0);
      let gatewayCpuMs = NaN;
      let redisCpuMs: Promise<number> = Promise.resolve(NaN);
      proc.on("message", (m: LoadMessage) => {
        if (m.kind === "phase" && m.at === "start") {
          cpu0 = process.cpuUsage();
          redis0 = redisCpuSeconds(redis);
          others0 = othersCpu();
        } else if (m.kind === "phase" && m.at === "end") {
          const cpu = process.cpuUsage(cpu0);
          gatewayCpuMs = (cpu.user + cpu.system) / 1000;
          const before = others0;
          othersMs = othersCpu().then(async (after) => after - (await before));
          const start = redis0!;
          redisCpuMs = redisCpuSeconds(redis).then(async (end) => (end - (await start)) * 1000);
        } else if (m.kind === "done") {
          void Promise.all([redisCpuMs, othersMs]).then(
            ([r, other]) => resolve({ ...m, gatewayCpuMs: gatewayCpuMs + other, redisCpuMs: r }),
            reject,
          );
        } else if (m.kind === "error") reject(new Error(m.message));
      });
      proc.once("exit", (code) => reject(new Error(`the load process exited (${code}) before it reported`)));
      proc.send(config);
    });
    const { samples: latencySamples, ...latency } = done.latency;
    const { samples: throughputSamples, ...throughput } = done.throughput;
    return {
      replicas,
      miners,
      latency: { ...latency, routes: routes(latencySamples) },
      throughput: {
        ...throughput,
        routes: routes(throughputSamples),
        gatewayCpuMsPerJob: done.gatewayCpuMs / throughput.jobs,
        redisCpuMsPerJob: done.redisCpuMs / throughput.jobs,
      },
      ...(o.keepSamples ? { samples: { latency: latencySamples, throughput: throughputSamples } } : {}),
    };
  } finally {
    interrupted = undefined;
    await cleanup();
  }
}

/**
 * CPU of the pieces each job's bytes go through, in this process, median of repeated runs: what
 * the gateway does per job (and, for the hash and the base64, what the miner and the client do
 * too).
 */
async function perOperation(payloadBytes: number): Promise<Record<string, number>> {
  const account = privateKeyToAccount(generatePrivateKey());
  const bytes = new Uint8Array(randomBytes(payloadBytes));
  const b64 = toBase64(bytes);
  const body = JSON.stringify({ kind: "linear", step: STEP, inputs: [b64] });
  const message = signedRequestMessage(DOMAIN, {
    method: "POST",
    path: "/v1/miner/work",
    bodySha256: sha256Hex(body),
    nonce: randomHex(16),
    expiry: 1,
  });
  const signature = await account.signMessage({ message });
  const hash = await outputsHash([bytes]);
  const typed = {
    domain: deliveryDomain(DELIVERY.chainId, DELIVERY.computeMarket),
    types: DELIVERY_TYPES,
    primaryType: "Delivery" as const,
    message: deliveryMessage(BRAIN, hash, hash),
  };
  const delivery = await account.signTypedData(typed);
  const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/;
  const ops: [string, () => unknown][] = [
    [`outputsHash (keccak256, hash-wasm) of ${payloadBytes >> 10} KiB`, () => outputsHash([bytes])],
    [
      `sha256 (node:crypto) of the ${Math.round(body.length / 1024)} KiB JSON body`,
      () => createHash("sha256").update(body).digest("hex"),
    ],
    [`base64 check (the zod pattern) of ${Math.round(b64.length / 1024)} KiB`, () => base64Pattern.test(b64)],
    ["base64 decode", () => fromBase64(b64)],
    ["JSON.parse of the body", () => JSON.parse(body)],
    ["recover a signed request (EIP-191)", () => recoverMessageAddress({ message, signature })],
    ["recover a Delivery (EIP-712)", () => recoverTypedDataAddress({ ...typed, signature: delivery })],
    [
      `jobHash of a linear job of ${payloadBytes >> 10} KiB`,
      () =>
        jobHash("j000000000000", {
          kind: "linear",
          step: STEP,
          paramSet: "n8192-q100",
          keys: NO_KEYS,
          inputs: [b64],
        }),
    ],
  ];
  const out: Record<string, number> = {};
  for (const [name, op] of ops) {
    const times: number[] = [];
    for (let i = 0; i < 25; i++) {
      const t = performance.now();
      await op();
      times.push(performance.now() - t);
    }
    out[name] = percentile(times, 50);
  }
  return out;
}

const ms = (x: number) => (Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) : "–");
const pair = (r: RouteStats) => `${ms(r.p50)} / ${ms(r.p99)}`;

function printTable(results: ConfigResult[], payloadKib: number): void {
  console.log(
    `\nms per request, p50 / p99 (${payloadKib} KiB input and output per job; one poller per miner)\n`,
  );
  console.log(
    "| replicas | miners | sessions | jobs/s | jobs | submit | hand-out | result post | result → client | round trip | queue wait | gateway CPU ms/job | load CPU ms/job | Redis CPU ms/job |",
  );
  console.log(
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const r of results) {
    for (const [phase, p] of [
      ["latency", r.latency],
      ["throughput", r.throughput],
    ] as const) {
      const cpu =
        phase === "throughput"
          ? `${r.throughput.gatewayCpuMsPerJob.toFixed(2)} | ${r.throughput.loadCpuMsPerJob.toFixed(2)} | ${r.throughput.redisCpuMsPerJob.toFixed(2)}`
          : `– | ${p.loadCpuMsPerJob.toFixed(2)} | –`;
      console.log(
        `| ${r.replicas} | ${r.miners} | ${p.sessions} | ${p.jobsPerSecond.toFixed(0)} | ${p.jobs}${p.failed ? ` (${p.failed} failed)` : ""} | ${pair(p.routes.submit)} | ${pair(p.routes.handOut)} | ${pair(p.routes.resultPost)} | ${pair(p.routes.resultToClient)} | ${pair(p.routes.roundTrip)} | ${pair(p.routes.queueWait)} | ${cpu} |`,
      );
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sessions: { type: "string", default: "20" },
      seconds: { type: "string", default: "20" },
      "payload-kib": { type: "string", default: "128" },
      miners: { type: "string", default: "1,2,4" },
      replicas: { type: "string", default: "1" },
      json: { type: "boolean", default: false },
      wire: { type: "string", default: "binary" },
    },
  });
  if (values.wire !== "binary" && values.wire !== "json") throw new Error("--wire takes binary or json");
  const binary = values.wire === "binary";
  const sessions = Number(values.sessions);
  const seconds = Number(values.seconds);
  const payloadKib = Number(values["payload-kib"]);
  const minerCounts = values.miners.split(",").map(Number);
  const replicaCounts = values.replicas.split(",").map(Number);
  if (!replicaCounts.every((r) => r === 1 || r === 2)) throw new Error("--replicas takes 1, 2 or 1,2");
  for (const [name, v] of [
    ["--sessions", sessions],
    ["--seconds", seconds],
    ["--payload-kib", payloadKib],
    ...minerCounts.map((m) => ["--miners", m] as const),
  ] as const) {
    if (!(Number.isFinite(v) && v > 0)) throw new Error(`${name} must be a positive number`);
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
  } catch {
    throw new Error(`Redis is not reachable at ${REDIS_URL}: start it (\`redis-server\`) or set REDIS_URL`);
  }
  process.once("SIGINT", () => {
    void (interrupted?.() ?? Promise.resolve()).finally(() => process.exit(130));
  });
  if (!values.json) {
    console.log(
      `# Brain gateway overhead, ${binary ? "frames and submit-and-wait" : "JSON with base64, submit then poll"} (${os.cpus()[0]?.model}, ${os.cpus().length} cores, Node ${process.version}, load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")})`,
    );
  }
  const operations = await perOperation(Math.round(payloadKib * 1024));
  const results: ConfigResult[] = [];
  try {
    for (const replicas of replicaCounts) {
      for (const miners of minerCounts) {
        if (!values.json)
          console.log(
            `… ${replicas} replica(s), ${miners} miner(s): 1 session, then ${sessions} sessions for ${seconds} s`,
          );
        results.push(
          await runConfig(redis, miners, replicas, {
            sessions,
            seconds,
            payloadBytes: Math.round(payloadKib * 1024),
            keepSamples: values.json,
            binary,
          }),
        );
      }
    }
  } finally {
    redis.disconnect();
  }
  if (values.json) {
    console.log(
      JSON.stringify(
        {
          machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version },
          settings: { sessions, seconds, payloadKib, minerCounts, replicaCounts, wire: values.wire },
          operations,
          results,
        },
        null,
        1,
      ),
    );
  } else {
    printTable(results, payloadKib);
    console.log("\nCPU per operation in this process (ms, median of 25)\n");
    console.log("| operation | ms |\n| --- | ---: |");
    for (const [name, v] of Object.entries(operations)) console.log(`| ${name} | ${ms(v)} |`);
  }
}

if (process.env.GATEWAY_BENCH_REPLICA === "1") {
  process.once("message", (start: ReplicaMessage) => {
    if (start.kind !== "start") return;
    void benchGateway(start.prefix, new Set(start.members)).then(
      (gateway) => {
        process.on("message", (m: ReplicaMessage) => {
          if (m.kind === "cpu") {
            const cpu = process.cpuUsage();
            process.send!({ kind: "cpuMs", ms: (cpu.user + cpu.system) / 1000 } satisfies ReplicaMessage);
          } else if (m.kind === "stop") void gateway.close().finally(() => process.exit(0));
        });
        process.send!({ kind: "ready", url: gateway.url } satisfies ReplicaMessage);
      },
      (err: Error) => {
        console.error(err.message);
        process.exit(1);
      },
    );
  });
} else if (process.env.GATEWAY_BENCH_LOAD === "1") {
  process.once("message", (config: LoadConfig) => {
    loadMain(config).then(
      () => process.exit(0),
      (err: Error) => {
        process.send!({ kind: "error", message: err.stack ?? err.message } satisfies LoadMessage, () =>
          process.exit(1),
        );
      },
    );
  });
} else {
  main().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
