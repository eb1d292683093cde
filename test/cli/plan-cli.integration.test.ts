import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { expect } from "chai";
import type { Hex } from "viem";
import { jsonRpc } from "../../scripts/devnet/network";
import { devnetContext } from "../../scripts/devnet/brain-services";
import { configureBrain } from "../../sdk/brain-config";
import { getMirroredBrain } from "../../sdk/registry";
import { DEVNET_ACCOUNTS } from "../../sdk/devnet";
import { modelContentHash } from "../../sdk/node/model-cache";
import type { ChainContext } from "../../sdk/chain";
import { LOSSLESS, QUANTIZED, modelWithPlan } from "../helpers/model-plan";
import {
  type RunningDevnet,
  basedAsync as based,
  freePort,
  startDevnet,
  tempDir,
} from "../helpers/processes";

type Json = Record<string, unknown>;

const BRAIN = 3;
const WARNING =
  "warning: Brain #3's plan is lossy (256-level activation quantization; measured agreement 98.8 %): the encrypted answer may differ from the plain one.";

/**
 * A lossy plan (activation quantization here) may make an encrypted answer differ from the plain
 * one: `based brain show` says so from the Brain's model when it is on this machine (never
 * downloading it), `based model fetch` puts it there, and `based prompt` warns before it runs.
 * Brain #3's task points at copies of the shipped model with plans written for each case.
 */
describe("devnet + a Brain's lossy plan: brain show, model fetch and prompt tell the user", function () {
  this.timeout(240_000);

  let devnet: RunningDevnet;
  let labs: ChainContext;
  let env: NodeJS.ProcessEnv;
  const work = tempDir("based-plan-cli");
  const cache = path.join(work, "models");
  const lossy = modelWithPlan(QUANTIZED);
  const lossless = modelWithPlan(LOSSLESS);

  /** Sets Brain #3's task as its wallet (labs) and lets the notice period pass. */
  async function setTask(modelUri: string, contentHash: Hex): Promise<void> {
    await configureBrain(labs, BRAIN, {
      task: { modelUri, contentHash, templateId: 0, sourceRepo: "", sourceCommit: "" },
    });
    await jsonRpc(devnet.basedRpcUrl, "evm_increaseTime", [86_401]);
    await jsonRpc(devnet.basedRpcUrl, "evm_mine", []);
  }

  /** `based prompt` to a gateway nobody runs: it fails there, after any warning about the plan. */
  async function promptWithoutGateway(json: boolean) {
    const gateway = `http://127.0.0.1:${await freePort()}`;
    const args = ["prompt", "--brain", "3", "The jury said", "--no-escrow", "--gateway", gateway];
    return based(json ? [...args, "--json"] : args, env);
  }

  before(async () => {
    devnet = await startDevnet({ basedBlockTime: 1, epochReports: false });
    const configFile = path.join(work, "config.json");
    fs.writeFileSync(configFile, JSON.stringify({ logLevel: "silent" }));
    env = {
      BASED_DEPLOYMENTS: devnet.deploymentsFile,
      BASED_CONFIG: configFile,
      BASED_MODEL_CACHE: cache,
      BASED_KEYSTORE: path.join(work, "keys"),
    };
    labs = await devnetContext(devnet.deploymentsFile, DEVNET_ACCOUNTS.labs);
    // Brain #3 is reserved to the labs on Ethereum; the attesters mirror it here shortly after start.
    const deadline = Date.now() + 90_000;
    while (!(await getMirroredBrain(labs, BRAIN)).active) {
      if (Date.now() > deadline)
        throw new Error(`Brain #${BRAIN} not mirrored after 90 s:\n${devnet.output()}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  after(async () => {
    if (devnet) await devnet.stop();
    for (const dir of [work, lossy, lossless]) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("brain show before any task: the plan is unknown, and says why", async () => {
    const shown = await based(["brain", "show", "3", "--json"], env);
    expect(shown.status, shown.stderr).to.equal(0);
    expect(shown.json.plan).to.deep.equal({ available: false, reason: "the Brain has no task model" });
  });

  it("a local (file://) lossy model: brain show names the quantization and the agreement; prompt warns before it runs", async () => {
    await setTask(pathToFileURL(lossy).href, modelContentHash(lossy));
    const [json, human] = await Promise.all([
      based(["brain", "show", "3", "--json"], env),
      based(["brain", "show", "3"], env),
    ]);
    expect(json.status, json.stderr).to.equal(0);
    expect(json.json.plan).to.deep.equal({
      available: true,
      modelDir: lossy,
      lossy: true,
      reasons: ["256-level activation quantization"],
      agreement: 0.988,
    });
    expect(human.status, human.stderr).to.equal(0);
    expect(human.stdout).to.include(
      "  encrypted plan lossy (256-level activation quantization; measured agreement 98.8 %): the encrypted answer may differ from the plain one",
    );

    const prompt = await promptWithoutGateway(false);
    expect(prompt.status, prompt.stderr).to.equal(4); // no gateway runs
    expect(prompt.stderr).to.include(`${WARNING}\n`);
    // The warning comes before the prompt goes anywhere.
    expect(prompt.stderr.indexOf(WARNING)).to.be.lessThan(prompt.stderr.indexOf("Error:"));
    const promptJson = await promptWithoutGateway(true);
    expect(promptJson.status).to.equal(4);
    expect((promptJson.json.error as Json).code).to.equal("GatewayUnreachable");
    expect(promptJson.stderr).to.include(WARNING);
  });

  it("a lossless model: brain show says so and prompt gives no warning", async () => {
    await setTask(pathToFileURL(lossless).href, modelContentHash(lossless));
    const shown = await based(["brain", "show", "3"], env);
    expect(shown.status, shown.stderr).to.equal(0);
    expect(shown.stdout).to.include("  encrypted plan lossless: the encrypted answer equals the plain one");
    const prompt = await promptWithoutGateway(false);
    expect(prompt.status).to.equal(4);
    expect(prompt.stderr).not.to.include("lossy");
  });

  it("an http(s) model: brain show does not download it but names `based model fetch`; once cached, it reads the plan", async () => {
    // Nothing listens on port 9: a download would fail, so the answers below fetched nothing.
    const hash = modelContentHash(lossy);
    await setTask("http://127.0.0.1:9/brain-gpt2-tiny-lossy", hash);
    const missing = await based(["brain", "show", "3", "--json"], env);
    expect(missing.status, missing.stderr).to.equal(0);
    const plan = missing.json.plan as Json;
    expect(plan.available).to.equal(false);
    expect(plan.reason).to.include("not on this machine").and.include("`based model fetch --brain 3`");
    expect(fs.existsSync(cache)).to.equal(false);

    // As `based model fetch` (or a prompt) leaves it: the verified files under their content hash.
    fs.cpSync(lossy, path.join(cache, hash), { recursive: true });
    const [cached, fetched] = await Promise.all([
      based(["brain", "show", "3", "--json"], env),
      based(["model", "fetch", "--brain", "3", "--json"], env),
    ]);
    expect(cached.json.plan).to.deep.include({ available: true, lossy: true, agreement: 0.988 });
    expect(fetched.status, fetched.stderr).to.equal(0);
    expect(fetched.json).to.deep.include({ modelDir: path.join(cache, hash), contentHash: hash });
    expect(fetched.json.plan).to.deep.equal({
      lossy: true,
      reasons: ["256-level activation quantization"],
      agreement: 0.988,
    });
  });

  it("files that no longer match the task: brain show says the plan is unknown, in one line", async () => {
    await setTask(pathToFileURL(lossy).href, modelContentHash(lossless));
    const shown = await based(["brain", "show", "3"], env);
    expect(shown.status, shown.stderr).to.equal(0);
    const line = shown.stdout.split("\n").find((l) => l.startsWith("  encrypted plan"));
    expect(line).to.match(
      /^ {2}encrypted plan unknown: The model at .* has content hash 0x[0-9a-f]{64}, but/,
    );
  });
});
