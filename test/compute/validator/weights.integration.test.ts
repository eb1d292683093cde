import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { Redis } from "ioredis";
import pino, { type Logger } from "pino";
import { type Hex, keccak256, parseEventLogs, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { MinerEngine } from "../../../compute/miner/engine";
import { runMiner } from "../../../compute/miner/node";
import { packWeights, unpackWeights } from "../../../protocol/report";
import { DEFAULT_REDIS_URL, type GatewayDomain } from "../../../protocol/gateway";
import { type RunningGateway, startGateway } from "../../../compute/gateway/server";
import { type ScoringState, emptyObservation, updateScores } from "../../../compute/validator/scoring";
import { runValidator, settleWeights } from "../../../compute/validator/service";
import { ValidatorStateFile } from "../../../compute/validator/state";
import { jsonRpc } from "../../../scripts/devnet/network";
import { devnetPrivateKey } from "../../../sdk/devnet";
import { economyContracts } from "../../../sdk/economy";
import { BasedError } from "../../../sdk/errors";
import { GatewayClient } from "../../../sdk/gateway-client";
import { brainRegistryAbi, consensusAbi } from "../../../protocol/generated/abis";
import { getMembership, registerMember } from "../../../sdk/network";
import { getStakePositions } from "../../../sdk/staking";
import {
  type EpochTiming,
  commitWeights,
  epochBounds,
  getEpochPosition,
  getEpochTiming,
  getPendingCommit,
  randomSalt,
  revealState,
  revealWeights,
} from "../../../sdk/weights";
import { waitFor } from "../../helpers/oracle";
import { ROOT, type RunningDevnet, basedAsync, startDevnet, tempDir } from "../../helpers/processes";
import { type ChainContext, connectBased } from "../../../sdk/chain";
import { readDeployments } from "../../../sdk/node/deployments-file";
import { hintFor } from "../../../cli/ui/hints";

const BRAIN = 3;
const MODEL_DIR = path.join(ROOT, "zkllm", "models", "brain-gpt2-tiny");

function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: "info" }, { write: (l: string) => void lines.push(l) });
  return { logger, lines };
}

/** Runs `fn` and returns the BasedError it throws (fails when it does not throw one). */
async function refusal(fn: () => Promise<unknown>): Promise<BasedError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof BasedError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

/**
 * Commit-reveal against a real BasedAI devnet chain (1-second blocks, no epoch reports): the SDK's
 * calls, the contract's refusals as BasedErrors, and the validator's state file carrying a
 * commitment across a restart.
 */
describe("validator weights: commit in one epoch, reveal in the next (devnet)", function () {
  this.timeout(300_000);

  let devnet: RunningDevnet;
  let validator: ChainContext;
  let minerCtx: ChainContext;
  let timing: EpochTiming;
  let uids: { a: number; b: number; validator: number };

  const mine = async (blocks: bigint) => {
    if (blocks > 0n) await jsonRpc(devnet.basedRpcUrl, "hardhat_mine", [toHex(blocks)]);
  };
  /** Mines until a transaction sent now lands in the first blocks of the next epoch. */
  const nextEpoch = async () => {
    const pos = await getEpochPosition(validator, timing);
    await mine(pos.end - pos.head);
  };
  /** Makes sure a few blocks are left in the epoch, so a commit sent now lands in it. */
  const roomInEpoch = async () => {
    const pos = await getEpochPosition(validator, timing);
    if (pos.blocksLeft < 12n) await nextEpoch();
  };
  const log = pino({ level: "silent" });

  before(async () => {
    devnet = await startDevnet({ basedBlockTime: 1, epochReports: false });
    const ctx = (key: Hex) =>
      connectBased(
        { deployments: readDeployments(devnet.deploymentsFile), privateKey: key },
        { withAccount: true },
      );
    [validator, minerCtx] = await Promise.all([ctx(devnetPrivateKey(0)), ctx(devnetPrivateKey(2))]);
    const minerB = await ctx(devnetPrivateKey(3));
    await waitFor(
      `Brain #${BRAIN} mirrored on the BasedAI chain`,
      () =>
        validator.publicClient.readContract({
          address: validator.deployments.based!.contracts.BrainRegistry,
          abi: brainRegistryAbi,
          functionName: "isActive",
          args: [BigInt(BRAIN)],
        }),
      120_000,
      500,
    );
    const [v, a, b] = await Promise.all([
      registerMember(validator, BRAIN, { role: "validator", endpoint: "127.0.0.1:9101" }),
      registerMember(minerCtx, BRAIN, { role: "miner", endpoint: "127.0.0.1:9102" }),
      registerMember(minerB, BRAIN, { role: "miner", endpoint: "127.0.0.1:9103" }),
    ]);
    uids = { validator: v.uid, a: a.uid, b: b.uid };
    timing = await getEpochTiming(validator);
  });

  after(async () => {
    if (devnet) await devnet.stop();
  });

  it("epoch helpers agree with Consensus", async () => {
    const [current, bounds] = await Promise.all([
      validator.publicClient.readContract({
        address: validator.deployments.based!.contracts.Consensus,
        abi: consensusAbi,
        functionName: "currentEpoch",
      }),
      validator.publicClient.readContract({
        address: validator.deployments.based!.contracts.Consensus,
        abi: consensusAbi,
        functionName: "epochBounds",
        args: [7n],
      }),
    ]);
    const pos = await getEpochPosition(validator, timing);
    // `pos` is the epoch of the next block; the contract's view is of the head.
    expect(pos.epoch === current || pos.epoch === current + 1n).to.equal(true);
    expect([epochBounds(7n, timing).start, epochBounds(7n, timing).end]).to.deep.equal([...bounds]);
    expect(revealState(5n, 5n)).to.equal("early");
    expect(revealState(5n, 6n)).to.equal("due");
    expect(revealState(5n, 7n)).to.equal("expired");
  });

  it("a commitment reveals in the next epoch only, and only with the same weights and salt", async () => {
    const weights = { brainId: BRAIN, uids: [uids.a, uids.b], weights: [60_000, 5_000], salt: randomSalt() };
    await roomInEpoch();
    const committed = await commitWeights(validator, weights);
    expect(committed.uid).to.equal(uids.validator);
    const pending = await getPendingCommit(validator, BRAIN);
    expect(pending).to.deep.include({ hash: committed.hash, epoch: committed.epoch });

    const early = await refusal(() => revealWeights(validator, weights));
    expect(early.code).to.equal("RevealTooEarly");
    expect(early.hint).to.match(new RegExp(`epoch ${committed.epoch + 1n}`));

    await nextEpoch();
    for (const wrong of [
      { ...weights, salt: randomSalt() },
      { ...weights, weights: [60_000, 5_001] },
      { ...weights, uids: [uids.a], weights: [60_000] },
    ]) {
      const e = await refusal(() => revealWeights(validator, wrong));
      expect(e.code).to.equal("CommitMismatch");
      expect(e.kind).to.equal("refused");
      expect(e.details?.expected).to.equal(committed.hash);
      expect(e.hint).to.match(/exactly the weights and salt/);
    }
    // Nothing was lost by the refusals: the right reveal still goes through.
    expect(await getPendingCommit(validator, BRAIN)).to.deep.include({ hash: committed.hash });
    const revealed = await revealWeights(validator, weights);
    expect(revealed.epoch).to.equal(committed.epoch);
    const receipt = await validator.publicClient.getTransactionReceipt({ hash: revealed.transactionHash });
    const [event] = parseEventLogs({ abi: consensusAbi, eventName: "WeightsRevealed", logs: receipt.logs });
    expect(event!.args.weights).to.equal(
      packWeights([
        [uids.a, 60_000],
        [uids.b, 5_000],
      ]),
    );
    expect(await getPendingCommit(validator, BRAIN)).to.equal(null);
    expect((await refusal(() => revealWeights(validator, weights))).code).to.equal("NoCommit");
  });

  it("a reveal after the next epoch, a non-validator and malformed weights are refused with what to do", async () => {
    const weights = { brainId: BRAIN, uids: [uids.a], weights: [1], salt: randomSalt() };
    await roomInEpoch();
    await commitWeights(validator, weights);
    await nextEpoch();
    await nextEpoch();
    const late = await refusal(() => revealWeights(validator, weights));
    expect(late.code).to.equal("RevealTooLate");

    const notValidator = await refusal(() => commitWeights(minerCtx, weights));
    expect(notValidator.code).to.equal("NotValidator");
    expect(hintFor(notValidator)).to.match(/--role validator/);

    const salt = randomSalt();
    expect(
      (await refusal(() => commitWeights(validator, { brainId: BRAIN, uids: [1, 2], weights: [1], salt })))
        .code,
    ).to.equal("WeightsLengthMismatch");
    expect(
      (await refusal(() => commitWeights(validator, { brainId: BRAIN, uids: [1], weights: [70_000], salt })))
        .code,
    ).to.equal("InvalidWeights");
    expect(
      (await refusal(() => commitWeights(validator, { brainId: BRAIN, uids: [1, 1], weights: [1, 2], salt })))
        .code,
    ).to.equal("InvalidWeights");
    expect(
      (
        await refusal(() =>
          commitWeights(validator, { brainId: BRAIN, uids: [1], weights: [1], salt: "0x12" }),
        )
      ).code,
    ).to.equal("InvalidSalt");
    // Weights for a uid that is not a miner: committed fine (the hash hides them), refused at the reveal.
    const bogus = { brainId: BRAIN, uids: [uids.validator], weights: [9], salt };
    await roomInEpoch();
    await commitWeights(validator, bogus);
    await nextEpoch();
    expect((await refusal(() => revealWeights(validator, bogus))).code).to.equal("UnknownUid");
  });

  it("the validator's state file carries a commitment across a restart, and the restarted validator reveals it", async () => {
    const dir = tempDir("based-validator-state");
    const me = validator.walletClient!.account.address;
    const file = new ValidatorStateFile(dir, BRAIN, me);
    const minerA = minerCtx.walletClient!.account.address;
    const minerB = privateKeyToAccount(devnetPrivateKey(3)).address;
    const scores: ScoringState = updateScores(
      {},
      {
        [minerA]: { ...emptyObservation(), canaries: { ok: 3, wrong: 0, failed: 0 }, available: true },
        [minerB]: { ...emptyObservation(), canaries: { ok: 2, wrong: 1, failed: 0 }, available: true },
      },
    );
    const state = file.read();
    expect(state).to.deep.include({ rounds: 0, commit: null });
    state.scores = scores;
    state.rounds = 1;
    file.write(state);
    expect(fs.statSync(file.file).mode & 0o777).to.equal(0o600);

    await roomInEpoch();
    const first = await settleWeights({
      based: validator,
      brainId: BRAIN,
      uid: uids.validator,
      timing,
      state,
      stateFile: file,
      log,
    });
    expect(first.committed, first.dropped).to.not.equal(undefined);
    const onDisk = new ValidatorStateFile(dir, BRAIN, me).read();
    expect(onDisk.commit).to.deep.include({
      status: "committed",
      hash: first.committed!.hash,
      epoch: first.committed!.epoch.toString(),
    });
    expect(onDisk.commit!.weights[onDisk.commit!.uids.indexOf(uids.a)]).to.equal(65_535);
    expect(onDisk.commit!.weights[onDisk.commit!.uids.indexOf(uids.b)]).to.be.below(65_535 * 0.1);
    // Called again in the same epoch: nothing new (one commitment per epoch).
    const again = await settleWeights({
      based: validator,
      brainId: BRAIN,
      uid: uids.validator,
      timing,
      state,
      stateFile: file,
      log,
    });
    expect(again).to.deep.equal({});

    // "Restart": a new process reads the file back, in the next epoch.
    await nextEpoch();
    const restarted = new ValidatorStateFile(dir, BRAIN, me).read();
    const second = await settleWeights({
      based: validator,
      brainId: BRAIN,
      uid: uids.validator,
      timing,
      state: restarted,
      stateFile: new ValidatorStateFile(dir, BRAIN, me),
      log,
    });
    expect(second.revealed?.epoch).to.equal(first.committed!.epoch);
    expect(second.revealed?.packed).to.equal(first.committed!.packed);
    expect(second.committed?.epoch).to.equal(first.committed!.epoch + 1n);
    expect(new ValidatorStateFile(dir, BRAIN, me).read()).to.deep.include({
      lastRevealed: first.committed!.epoch.toString(),
    });

    // A crash after writing the file but before the transaction landed: the restart sees the
    // chain does not hold that hash, drops it and commits again in the same epoch.
    const crashed = new ValidatorStateFile(dir, BRAIN, me).read();
    crashed.commit = { ...crashed.commit!, status: "sending", hash: keccak256(toHex("never sent")) };
    file.write(crashed);
    const third = await settleWeights({
      based: validator,
      brainId: BRAIN,
      uid: uids.validator,
      timing,
      state: file.read(),
      stateFile: file,
      log,
    });
    expect(third.dropped).to.match(/never landed/);
    expect(third.committed?.epoch).to.equal(second.committed!.epoch);
    expect((await getPendingCommit(validator, BRAIN))?.hash).to.equal(third.committed!.hash);

    // Down for two epochs: the window closed; the commitment is dropped and a new one made.
    await nextEpoch();
    await nextEpoch();
    const fourth = await settleWeights({
      based: validator,
      brainId: BRAIN,
      uid: uids.validator,
      timing,
      state: file.read(),
      stateFile: file,
      log,
    });
    expect(fourth.dropped).to.match(/reveal window/);
    expect(fourth.revealed).to.equal(undefined);
    expect(fourth.committed).to.not.equal(undefined);

    // A file that is not a validator state is refused, not silently replaced.
    fs.writeFileSync(file.file, "{}");
    expect(() => file.read()).to.throw(/not a validator state file/);
  });

  describe("the service end to end: a gateway, an honest and a dishonest miner, the chain", () => {
    const prefix = `test-validator-e2e-${Math.random().toString(36).slice(2, 10)}`;
    let gateway: RunningGateway;
    let engine: MinerEngine;
    const stopMiners = new AbortController();
    let miners: Promise<void>[] = [];

    before(async () => {
      const domain: GatewayDomain = {
        chainId: validator.chain.id,
        network: economyContracts(validator).Network,
        brainId: BRAIN,
      };
      gateway = await startGateway({
        port: 0,
        // Free sessions (no ComputeMarket here): the gateway refuses them by default.
        freeSessions: true,
        brainId: BRAIN,
        prefix,
        domain,
        isMember: async (address, role) => (await getMembership(validator, BRAIN, address)).role === role,
        lockMs: 20_000,
        minerTimeoutMs: 5_000,
      });
      engine = await MinerEngine.create(MODEL_DIR, { workers: 1 });
      const miner = (index: number, fault?: "wrong-results") =>
        runMiner({
          client: new GatewayClient({ url: gateway.url }),
          signer: { account: privateKeyToAccount(devnetPrivateKey(index)), domain },
          engine,
          delivery: { chainId: validator.chain.id, computeMarket: economyContracts(validator).ComputeMarket },
          pollWaitMs: 1_000,
          signal: stopMiners.signal,
          logger: pino({ level: "silent" }),
          ...(fault ? { fault } : {}),
        });
      miners = [miner(2), miner(3, "wrong-results")];
    });

    after(async () => {
      stopMiners.abort();
      await Promise.all(miners);
      await engine?.close();
      await gateway?.close();
      const redis = new Redis(process.env.REDIS_URL ?? DEFAULT_REDIS_URL);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });

    it("runValidator: ready, scores a round, commits, reveals in the next epoch with the dishonest miner below, stops on abort", async () => {
      const stop = new AbortController();
      const { logger, lines } = memoryLogger();
      const stateDir = tempDir("based-validator-e2e");
      const running = runValidator({
        based: validator,
        brainId: BRAIN,
        gatewayUrl: gateway.url,
        modelDir: MODEL_DIR,
        mode: "encrypted",
        stateDir,
        canaryIntervalMs: 300,
        canariesPerRound: 2,
        replaysPerRound: 6,
        shape: { promptTokens: [4, 14], maxTokens: [2, 2] },
        epochPollMs: 300,
        signal: stop.signal,
        log: logger,
      });
      let result: unknown;
      running.then(
        () => (result = "resolved"),
        (err: unknown) => (result = err),
      );
      const minerA = privateKeyToAccount(devnetPrivateKey(2)).address;
      const minerB = privateKeyToAccount(devnetPrivateKey(3)).address;
      type Line = { msg: string; tx?: Hex; scores?: Record<string, number> };
      const parsed = () => lines.map((l) => JSON.parse(l) as Line);
      /** The index of the first line after `from` that `pick` accepts. */
      const lineAfter = (from: number, pick: (l: Line) => boolean) => {
        const i = parsed().findIndex((l, k) => k > from && pick(l));
        return i < 0 ? undefined : i;
      };
      const until = (what: string, find: () => number | undefined, timeoutMs: number) =>
        waitFor(what, async () => (result ? Promise.reject(result) : find()), timeoutMs, 250);
      let revealed: number;
      try {
        const ready = await until(
          "validator ready",
          () => lineAfter(-1, (l) => l.msg === "validator ready"),
          60_000,
        );
        // Sessions go to either miner at random: wait until both were checked, the dishonest one caught.
        const caught = await until(
          "a round where the honest miner is verified and the dishonest one caught",
          () =>
            lineAfter(
              ready,
              (l) =>
                l.msg === "round scored" &&
                (l.scores?.[minerA] ?? 0) > 0.5 &&
                (l.scores?.[minerB] ?? 1) <= 0.05,
            ),
          150_000,
        );
        // The next epoch's commitment carries those scores; the epoch after reveals it.
        const mark = Math.max(caught, lines.length - 1);
        await nextEpoch();
        const committed = await until(
          "weights committed",
          () => lineAfter(mark, (l) => l.msg === "weights committed"),
          60_000,
        );
        await nextEpoch();
        revealed = await until(
          "weights revealed",
          () => lineAfter(committed, (l) => l.msg === "weights revealed"),
          60_000,
        );
      } catch (err) {
        stop.abort();
        await running.catch(() => undefined);
        throw new Error(`${(err as Error).message}\n${lines.slice(-20).join("")}`);
      }
      stop.abort();
      await running;
      expect(lines.at(-1)).to.contain('"msg":"validator stopped"');

      const receipt = await validator.publicClient.getTransactionReceipt({ hash: parsed()[revealed]!.tx! });
      const [event] = parseEventLogs({ abi: consensusAbi, eventName: "WeightsRevealed", logs: receipt.logs });
      const weights = new Map(unpackWeights(event!.args.weights));
      expect(weights.get(uids.a)).to.equal(65_535);
      expect(weights.get(uids.b) ?? 0).to.be.below(65_535 * 0.06);
      const file = fs.readdirSync(stateDir).find((f) => f.endsWith(".json"))!;
      const state = JSON.parse(fs.readFileSync(path.join(stateDir, file), "utf8")) as {
        lastRevealed: string;
      };
      expect(BigInt(state.lastRevealed) >= event!.args.epoch).to.equal(true);
    });

    it("`based validator start` registers, tops up its stake, says ready and stops cleanly on SIGTERM; refusals say what to do", async () => {
      const key = devnetPrivateKey(4);
      const me = privateKeyToAccount(key).address;
      const configFile = path.join(tempDir("based-config"), "config.json");
      fs.writeFileSync(configFile, JSON.stringify({}));
      const env = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        BASED_DEPLOYMENTS: devnet.deploymentsFile,
        BASED_CONFIG: configFile,
        BASED_PRIVATE_KEY: key,
        BASED_GATEWAY_URL: gateway.url,
        BASED_LOG_LEVEL: "info",
      };
      const stateDir = tempDir("based-validator-cli");
      const args = [
        "validator",
        "start",
        "--brain",
        String(BRAIN),
        "--model",
        MODEL_DIR,
        "--state-dir",
        stateDir,
      ];

      // Not registered and told not to register: refused, with the way out.
      const refused = await basedAsync([...args, "--no-register", "--json"], env);
      expect(refused.status).to.equal(3);
      expect(refused.json.error).to.deep.include({ code: "NotRegistered" });
      // A miner of the Brain cannot validate it with the same key.
      const asMiner = await basedAsync([...args, "--json"], {
        ...env,
        BASED_PRIVATE_KEY: devnetPrivateKey(2),
      });
      expect(asMiner.status).to.equal(3);
      expect(asMiner.json.error).to.deep.include({ code: "WrongRole" });
      // No --model and a Brain without a task: nothing to validate.
      const noTask = await basedAsync(
        ["validator", "start", "--brain", String(BRAIN), "--state-dir", stateDir, "--json"],
        {
          ...env,
          BASED_PRIVATE_KEY: devnetPrivateKey(0),
        },
      );
      expect(noTask.status).to.equal(3);
      expect(noTask.json.error).to.deep.include({ code: "NoTask" });
      // A round needs a canary: refused before anything is sent, naming the flag.
      const noCanaries = await basedAsync([...args, "--canaries-per-round", "0", "--json"], env);
      expect(noCanaries.status).to.equal(2);
      expect(JSON.stringify(noCanaries.json.error)).to.match(/canaries-per-round|canariesPerRound/);

      const child = spawn(
        process.execPath,
        [path.join(ROOT, "bin", "based.js"), ...args, "--stake", "10", "--canaries-per-round", "2"],
        {
          cwd: ROOT,
          env,
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let output = "";
      child.stdout.on("data", (d: Buffer) => (output += d.toString()));
      child.stderr.on("data", (d: Buffer) => (output += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      try {
        await waitFor(
          "the validator to be ready",
          async () => {
            if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${output}`);
            return output.includes('"msg":"validator ready"');
          },
          120_000,
          250,
        );
      } catch (err) {
        child.kill("SIGKILL");
        throw err;
      }
      expect((await getMembership(validator, BRAIN, me)).role).to.equal("validator");
      const { positions } = await getStakePositions(validator, me);
      expect(positions.find((p) => p.brainId === BRAIN && p.validator === me)?.amount).to.equal(
        10n * 10n ** 18n,
      );
      child.kill("SIGTERM");
      expect(await exited).to.equal(0);
      expect(output).to.contain('"canariesPerRound":2');
      expect(output).to.contain('"msg":"validator stopped"');
      expect(output).to.contain(`Validator ${me} of Brain #${BRAIN} stopped`);
    });
  });
});
