/**
 * End-to-end seconds per generated token of an encrypted prompt on the devnet (client → Brain #3's
 * gateway → a miner and back, as `based prompt` does it), beside the engine alone (client and
 * evaluator in one process): the network's cost.
 *
 *   npx tsx bench/e2e/prompt-bench.ts [--tokens 16] [--prompts 3] [--json]
 *
 * 1. The engine alone on the shipped model, before any devnet runs. It is kept warm as a miner
 *    keeps it (one evaluator, every step's plaintexts encoded, keys loaded): `generateIds` builds
 *    a fresh evaluator per call and encodes the weights during the first prompt pass, which would
 *    charge the engine's prompt pass with work a running miner did long before.
 * 2. A devnet with Brain #3's services (scripts/devnet.ts on free ports, its own state directory,
 *    1-second blocks: two chains, four attesters, a relayer, the gateway on Redis, two miners and
 *    two validators sending canaries), then, prompt by prompt, `runPrompt` through its gateway
 *    (encrypted, no escrow) and the engine alone again in this process while the devnet runs, so
 *    both see the same background load.
 * 3. The devnet stopped (SIGINT), its state directory and Redis keys removed.
 *
 * Both sides generate exactly `--tokens` tokens (no stop at end-of-text), one prompt at a time,
 * with the same greedy loop as `runPrompt`. The prompt pass (its logits give the first token) is
 * timed apart: from the session being open (network) or the first call (engine) to the first
 * token; then (last token − first token) / (tokens − 1) per generated token. Bytes: ciphertext
 * bytes for the engine (TransferStats), HTTP body bytes for the network (requests and responses of
 * this process, base64 and JSON included). Warm-up prompts upload the evaluation keys once and let
 * both miners fetch and load them; they are not counted. Each generated token's time on the
 * network is split with each job's round trip (submit → result in hand, timed here) and the
 * miner's part of it as the gateway logs it (`latencyMs`: hand-out → result accepted).
 */
import { deleteRedisPrefix } from "../../compute/gateway/redis-prefix";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_REDIS_URL, type JobView, type SubmitJob } from "../../protocol/gateway";
import { SHIPPED_MODEL_DIR, devnetRedisPrefix } from "../../scripts/devnet/brain-services";
import { DEVNET_BRAIN } from "../../sdk/devnet";
import { GatewayClient } from "../../sdk/gateway-client";
import { type PromptResult, runPrompt } from "../../sdk/prompt";
import { type RunningDevnet, startDevnet, tempDir } from "../../test/helpers/processes";
import {
  type ServerCall,
  createClient,
  emptyStats,
  encryptedBackend,
  generateGreedy,
  openModel,
} from "../../zkllm/client";
import { createEvaluator } from "../../zkllm/evaluator";
import { serverWeights } from "../../zkllm/hybrid/engine-plan";
import { readModelDir } from "../../zkllm/model-dir";
import { loadTokenizer } from "../../zkllm/tokenizer";
import { keystoreKeys } from "../../sdk/node/keystore";
import { openModelDir } from "../../sdk/node/model-cache";

const PROMPTS = ["The jury said", "In the morning, she", "He looked at the", "The city council voted"];

type Measure = {
  /** Seconds of the prompt pass (its logits give the first token). */
  promptPassS: number;
  /** Seconds per generated token after the first (one single-row pass each). */
  perTokenS: number;
  /** Bytes per generated token after the first, and of the prompt pass. */
  upPerToken: number;
  downPerToken: number;
  promptPassUp: number;
  promptPassDown: number;
  /** Requests per generated token: plan steps for the engine, HTTP requests on the network. */
  requestsPerToken: number;
  /** Where a generated token's time goes, ms (see `Split`). */
  split: Split;
  ids: number[];
};

/**
 * Per generated token, ms. Engine: the client's own work (encrypt, decrypt, everything else) and
 * the evaluator. Network: the client's own work, the miner as the gateway saw it (hand-out →
 * result accepted, from the gateway's log) and the rest of each job's round trip (submit, the
 * miner's poll answered, the result's way back to the client's long poll).
 */
type Split = { client: number; server: number; transport: number };

/**
 * The engine alone, warm, as a miner keeps it: one evaluator with every step's plaintexts encoded
 * and the keys loaded, serving one client in this process (the same pieces `generateIds` joins,
 * kept across prompts: a fresh `generateIds` encodes the weights during its first prompt pass).
 */
async function warmEngine() {
  const model = openModel(readModelDir(SHIPPED_MODEL_DIR));
  const plan = model.plan();
  const split = model.split();
  const client = await createClient({ paramSet: plan.engine.paramSet });
  const evaluator = await createEvaluator({ plan: plan.engine, weights: serverWeights(split.server) });
  const keys = evaluator.loadEvalKeys(client.makeEvalKeysForPlan(plan.engine));
  for (const step of plan.engine.steps) evaluator.prepare(step.id);
  const server: ServerCall = async (id, inputs) => evaluator.evaluate(id, inputs, keys);
  return {
    async run(prompt: number[], tokens: number): Promise<Measure> {
      const stats = emptyStats();
      const session = model.session(encryptedBackend(client, plan.engine, server, plan.buckets, stats));
      const t0 = performance.now();
      // The prompt pass ends when the first token is known.
      let first = 0;
      let atFirst = { ...stats };
      const ids = await generateGreedy(session, prompt, {
        maxTokens: tokens,
        onToken: () => {
          if (first > 0) return;
          first = performance.now();
          atFirst = { ...stats };
        },
      });
      const last = performance.now();
      const n = tokens - 1;
      const per = (k: keyof typeof stats) => (stats[k] - atFirst[k]) / n;
      const perTokenMs = (last - first) / n;
      return {
        promptPassS: (first - t0) / 1000,
        perTokenS: perTokenMs / 1000,
        upPerToken: per("bytesUp"),
        downPerToken: per("bytesDown"),
        promptPassUp: atFirst.bytesUp,
        promptPassDown: atFirst.bytesDown,
        requestsPerToken: per("requests"),
        split: { client: perTokenMs - per("serverMs"), server: per("serverMs"), transport: 0 },
        ids,
      };
    },
    close() {
      keys.delete();
      evaluator.delete();
      client.delete();
    },
  };
}

/** HTTP body bytes and requests of this process (the gateway client uses the global fetch). */
const wire = { up: 0, down: 0, requests: 0 };
function countWire(): void {
  const real = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const body = init?.body;
    wire.requests++;
    if (typeof body === "string") wire.up += Buffer.byteLength(body);
    else if (body instanceof Uint8Array) wire.up += body.byteLength;
    const res = await real(input, init);
    wire.down += Number(res.headers.get("content-length") ?? 0);
    return res;
  };
}

type JobTiming = { jobId: string; sessionId: string; step: string; roundTripMs: number };

/** The gateway client `based prompt` uses, timing each job from submit to result in hand. */
class TimedGatewayClient extends GatewayClient {
  readonly jobs = new Map<string, JobTiming>();
  private readonly submitted = new Map<string, { sessionId: string; step: string; at: number }>();

  override async submitJob(sessionId: string, body: SubmitJob): Promise<{ jobId: string }> {
    const at = performance.now();
    const r = await super.submitJob(sessionId, body);
    this.submitted.set(r.jobId, { sessionId, step: body.kind === "linear" ? body.step : "generate", at });
    return r;
  }

  override async waitForJob(jobId: string, timeoutMs?: number): Promise<JobView> {
    const view = await super.waitForJob(jobId, timeoutMs);
    const s = this.submitted.get(jobId);
    if (s) this.jobs.set(jobId, { jobId, ...s, roundTripMs: performance.now() - s.at });
    return view;
  }
}

/** `latencyMs` of each completed job (hand-out → result accepted), from the gateway's log. */
function minerLatencies(gatewayLog: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of fs.readFileSync(gatewayLog, "utf8").split("\n")) {
    if (!line.includes('"job completed"')) continue;
    try {
      const entry = JSON.parse(line) as { jobId?: string; latencyMs?: number };
      if (entry.jobId && typeof entry.latencyMs === "number") out.set(entry.jobId, entry.latencyMs);
    } catch {
      // not a JSON line
    }
  }
  return out;
}

type NetworkMeasure = Measure & { result: PromptResult };

async function throughNetwork(
  gateway: TimedGatewayClient,
  prompt: number[],
  tokens: number,
  keystoreDir: string,
): Promise<NetworkMeasure> {
  let opened = NaN;
  let first = NaN;
  let last = NaN;
  let atOpen = { ...wire };
  let atFirst = { ...wire };
  let atLast = { ...wire };
  const result = await runPrompt({
    gateway,
    brainId: DEVNET_BRAIN.id,
    model: openModelDir(SHIPPED_MODEL_DIR, "encrypted"),
    prompt,
    maxTokens: tokens,
    mode: "encrypted",
    // One kept key set (the warm-up uploads it, the miners load it once): the bench measures
    // generation; a fresh set per prompt (the default policy) costs ~0.15 s more (bench/zkllm/keygen.ts).
    openKeys: keystoreKeys(keystoreDir, "never"),
    // No token has this id: generation never stops early, so both sides make `tokens` tokens.
    eosId: -1,
    onStep: (s) => {
      if (/^session \S+ open on miner/.test(s)) {
        opened = performance.now();
        atOpen = { ...wire };
      }
    },
    onToken: () => {
      last = performance.now();
      atLast = { ...wire };
      if (Number.isNaN(first)) {
        first = last;
        atFirst = atLast;
      }
    },
  });
  const n = result.ids.length - 1;
  const per = (k: keyof typeof wire) => (atLast[k] - atFirst[k]) / n;
  return {
    promptPassS: (first - opened) / 1000,
    perTokenS: (last - first) / 1000 / n,
    upPerToken: per("up"),
    downPerToken: per("down"),
    promptPassUp: atFirst.up - atOpen.up,
    promptPassDown: atFirst.down - atOpen.down,
    requestsPerToken: per("requests"),
    split: { client: NaN, server: NaN, transport: NaN }, // filled from the gateway's log at the end
    ids: result.ids,
    result,
  };
}

/** Splits each generated token's time with the jobs' round trips and the gateway's miner latencies. */
function splitNetwork(m: NetworkMeasure, jobs: JobTiming[], latencies: Map<string, number>): void {
  // Single-row steps (bucket 1) are the generated tokens' passes; the prompt pass uses its bucket.
  const gen = jobs.filter((j) => j.sessionId === m.result.sessionId && j.step.endsWith("@1"));
  const n = m.ids.length - 1;
  const roundTrips = gen.reduce((a, j) => a + j.roundTripMs, 0) / n;
  const miner = gen.reduce((a, j) => a + (latencies.get(j.jobId) ?? NaN), 0) / n;
  m.split = { client: m.perTokenS * 1000 - roundTrips, server: miner, transport: roundTrips - miner };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

type Summary = Omit<Measure, "ids"> & { overallPerTokenS: number };

function summarize(ms: Measure[], tokens: number): Summary {
  const avg = (f: (m: Measure) => number) => mean(ms.map(f));
  const s = {
    promptPassS: avg((m) => m.promptPassS),
    perTokenS: avg((m) => m.perTokenS),
    upPerToken: avg((m) => m.upPerToken),
    downPerToken: avg((m) => m.downPerToken),
    promptPassUp: avg((m) => m.promptPassUp),
    promptPassDown: avg((m) => m.promptPassDown),
    requestsPerToken: avg((m) => m.requestsPerToken),
    split: {
      client: avg((m) => m.split.client),
      server: avg((m) => m.split.server),
      transport: avg((m) => m.split.transport),
    },
  };
  // What a user waits per token for a whole answer: the prompt pass and tokens − 1 single-row passes.
  return { ...s, overallPerTokenS: (s.promptPassS + (tokens - 1) * s.perTokenS) / tokens };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tokens: { type: "string", default: "16" },
      prompts: { type: "string", default: "3" },
      json: { type: "boolean", default: false },
    },
  });
  const tokens = Number(values.tokens);
  const count = Number(values.prompts);
  if (!Number.isInteger(tokens) || tokens < 2) throw new Error("--tokens must be an integer ≥ 2");
  if (!Number.isInteger(count) || count < 1 || count > PROMPTS.length)
    throw new Error(`--prompts must be 1..${PROMPTS.length}`);
  const log = (line: string) => {
    if (!values.json) console.log(line);
  };
  const tokenizer = loadTokenizer(SHIPPED_MODEL_DIR);
  const prompts = PROMPTS.slice(0, count).map((p) => tokenizer.encode(p));
  const machine = {
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    node: process.version,
    loadAverage: os.loadavg(),
  };
  log(
    `# Encrypted prompt: devnet vs the engine alone (${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadAverage.map((l) => l.toFixed(1)).join(" ")})`,
  );
  log(`${count} prompts × ${tokens} tokens, one prompt at a time, shipped model`);

  log("preparing the engine (weights encoded, keys loaded)…");
  const engine = await warmEngine();
  // Warm up V8 and SEAL so the first measured prompt is not charged for it.
  await engine.run(prompts[0]!, 2);
  log("engine alone, no devnet running…");
  const quiet: Measure[] = [];
  for (const p of prompts) quiet.push(await engine.run(p, tokens));

  log("starting the devnet with Brain #3's services (minutes)…");
  const work = tempDir("based-prompt-bench");
  const keystoreDir = path.join(work, "keys");
  let devnet: RunningDevnet | undefined;
  const stop = async () => {
    if (!devnet) return;
    const d = devnet;
    devnet = undefined;
    await d.stop();
    await deleteRedisPrefix(process.env.REDIS_URL ?? DEFAULT_REDIS_URL, devnetRedisPrefix(d.stateDir)).catch(
      () => undefined,
    );
    fs.rmSync(d.stateDir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  };
  process.once("SIGINT", () => void stop().finally(() => process.exit(130)));
  const network: NetworkMeasure[] = [];
  const loaded: Measure[] = [];
  let startS = 0;
  let keysUploaded = 0;
  const miners = new Set<string>();
  try {
    const t0 = performance.now();
    devnet = await startDevnet({ brainServices: true, basedBlockTime: 1, timeoutMs: 600_000 });
    startS = (performance.now() - t0) / 1000;
    log(`devnet ready in ${startS.toFixed(0)} s (${devnet.gatewayUrl})`);
    countWire();
    const gateway = new TimedGatewayClient({ url: devnet.gatewayUrl });

    // Warm-up: the key upload, and each miner fetching and loading the keys once.
    const warmMiners = new Set<string>();
    for (let i = 0; i < 6 && warmMiners.size < DEVNET_BRAIN.minerAccounts.length; i++) {
      const r = await throughNetwork(gateway, prompts[0]!, 2, keystoreDir);
      keysUploaded += r.result.keysUploaded;
      r.result.miners.forEach((m) => warmMiners.add(m));
    }
    log(
      `warm-up done (keys uploaded: ${(keysUploaded / 2 ** 20).toFixed(1)} MiB; miners ${warmMiners.size})`,
    );

    // Prompt by prompt, network then engine, so both see the same background load.
    for (const [i, p] of prompts.entries()) {
      const n = await throughNetwork(gateway, p, tokens, keystoreDir);
      n.result.miners.forEach((m) => miners.add(m));
      network.push(n);
      loaded.push(await engine.run(p, tokens));
      log(
        `prompt ${i + 1}: network ${n.perTokenS.toFixed(3)} s/token, engine (devnet running) ${loaded.at(-1)!.perTokenS.toFixed(3)} s/token`,
      );
    }
    const latencies = minerLatencies(path.join(devnet.stateDir, "gateway.log"));
    for (const n of network) splitNetwork(n, [...gateway.jobs.values()], latencies);
  } finally {
    engine.close();
    await stop();
  }

  const same = network.every((n, i) => JSON.stringify(n.ids) === JSON.stringify(loaded[i]!.ids));
  const rows: [string, Summary][] = [
    ["engine alone, no devnet", summarize(quiet, tokens)],
    ["engine alone, devnet running", summarize(loaded, tokens)],
    ["devnet: client → gateway → miner", summarize(network, tokens)],
  ];
  const net = rows[2]![1];
  const ref = rows[1]![1];
  const report = {
    machine,
    settings: { tokens, prompts: count },
    devnetStartS: startS,
    keysUploadedBytes: keysUploaded,
    miners: [...miners],
    sameTokens: same,
    rows: Object.fromEntries(rows),
    ratio: {
      perToken: net.perTokenS / ref.perTokenS,
      perTokenVsQuiet: net.perTokenS / rows[0]![1].perTokenS,
      promptPass: net.promptPassS / ref.promptPassS,
      overall: net.overallPerTokenS / ref.overallPerTokenS,
    },
    networkCostPerTokenS: net.perTokenS - ref.perTokenS,
    networkCostPerRequestMs: ((net.perTokenS - ref.perTokenS) * 1000) / ref.requestsPerToken,
  };
  if (values.json) {
    console.log(
      JSON.stringify(
        {
          ...report,
          raw: {
            quiet,
            loaded,
            network: network.map(({ result, ...m }) => ({
              ...m,
              sessionId: result.sessionId,
              miners: result.miners,
            })),
          },
        },
        null,
        1,
      ),
    );
    return;
  }
  const kib = (b: number) => (b / 1024).toFixed(0);
  console.log(
    "\n| run | prompt pass s | s / generated token | s / token overall | requests / token | KiB up / token | KiB down / token | prompt pass KiB up / down |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const [name, s] of rows) {
    console.log(
      `| ${name} | ${s.promptPassS.toFixed(2)} | ${s.perTokenS.toFixed(3)} | ${s.overallPerTokenS.toFixed(3)} | ${s.requestsPerToken.toFixed(1)} | ${kib(s.upPerToken)} | ${kib(s.downPerToken)} | ${kib(s.promptPassUp)} / ${kib(s.promptPassDown)} |`,
    );
  }
  console.log(
    "\nwhere a generated token's time goes, ms per token (network: server = the miner from hand-out to result accepted, as the gateway logged it; transport = the rest of the jobs' round trips)\n",
  );
  console.log("| run | client | server / miner | transport | total |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const [name, s] of rows) {
    const t = s.split;
    console.log(
      `| ${name} | ${t.client.toFixed(0)} | ${t.server.toFixed(0)} | ${t.transport.toFixed(0)} | ${(s.perTokenS * 1000).toFixed(0)} |`,
    );
  }
  console.log(
    `\nnetwork ÷ engine (devnet running): ${report.ratio.perToken.toFixed(2)}× per generated token, ${report.ratio.promptPass.toFixed(2)}× for the prompt pass, ${report.ratio.overall.toFixed(2)}× overall; ` +
      `${(report.networkCostPerTokenS * 1000).toFixed(0)} ms more per token = ${report.networkCostPerRequestMs.toFixed(1)} ms per plan step`,
  );
  console.log(
    `network ÷ engine (no devnet): ${report.ratio.perTokenVsQuiet.toFixed(2)}× per generated token; same tokens on both sides: ${same ? "yes" : "NO"}; miners used: ${miners.size}; devnet start ${startS.toFixed(0)} s`,
  );
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
