import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { planLinear } from "../../../zkllm/ckks/linear";
import { type EnginePlan, createPlan } from "../../../zkllm/ckks/plan";
import type { KeyRotation } from "../../../sdk/key-rotation";
import { keystoreKeys, openKeystore } from "../../../sdk/node/keystore";
import { tempDir } from "../../helpers/processes";

const PARAM_SET = "n4096-q69" as const;
/** A one-step plan small enough for fast keys. */
const PLAN: EnginePlan = createPlan(PARAM_SET, [
  planLinear({
    id: "w@1",
    paramSet: PARAM_SET,
    inFeatures: 128,
    outFeatures: 64,
    tokens: 1,
    weight: "w",
    bias: null,
    weightLayout: "in-out",
  }),
]);

const sha = (b: Uint8Array | undefined) => createHash("sha256").update(b!).digest("hex");

describe("sdk/node/keystore: key sets rotated by the policy, old ones deleted", function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  const fresh = () => {
    const d = tempDir("based-keyrot");
    dirs.push(d);
    return path.join(d, "keys");
  };
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  /** Opens the keystore once per prompt, as a prompt does: the Galois hash and freshness of each. */
  async function prompts(dir: string, rotation: KeyRotation, n: number) {
    const out: { galois: string; fresh: boolean; files: string[] }[] = [];
    for (let i = 0; i < n; i++) {
      const ks = await openKeystore(dir, PARAM_SET, PLAN, { rotation });
      ks.client.delete();
      const keyDir = path.join(dir, PARAM_SET);
      const files = fs.existsSync(keyDir) ? fs.readdirSync(keyDir).sort() : [];
      out.push({ galois: sha(ks.evalKeys.galois), fresh: ks.fresh, files });
    }
    return out;
  }

  it("never: one set for every prompt (today's behaviour), made once", async () => {
    const got = await prompts(fresh(), "never", 3);
    expect(got.map((p) => p.fresh)).to.deep.equal([true, false, false]);
    expect(new Set(got.map((p) => p.galois)).size).to.equal(1);
  });

  it("session: a new Galois hash for every prompt, nothing stored, and a stored set deleted", async () => {
    const dir = fresh();
    const [kept] = await prompts(dir, "never", 1);
    expect(kept!.files).to.include("secret.key");
    const got = await prompts(dir, "session", 3);
    expect(got.every((p) => p.fresh)).to.equal(true);
    const hashes = [kept!.galois, ...got.map((p) => p.galois)];
    expect(new Set(hashes).size).to.equal(4);
    // The kept set was rotated out: its secret key and evaluation keys are gone.
    for (const p of got) expect(p.files).to.deep.equal([]);
    // keystoreKeys defaults to the session policy.
    const opened = await keystoreKeys(dir)(PARAM_SET, PLAN);
    opened.client.delete();
    expect(opened.fresh).to.equal(true);
    expect(hashes).not.to.include(sha(opened.evalKeys.galois));
  });

  it("every:N: the same set for N prompts, then a fresh one, the old set's files deleted", async () => {
    const dir = fresh();
    const got = await prompts(dir, { everyPrompts: 2 }, 5);
    expect(got.map((p) => p.fresh)).to.deep.equal([true, false, true, false, true]);
    const [a, b, c, d, e] = got.map((p) => p.galois);
    expect(a).to.equal(b);
    expect(c).to.equal(d);
    expect(new Set([a, c, e]).size).to.equal(3);
    // One set on disk at a time: a secret key, one manifest and its blob, the count.
    const evalFiles = got[4]!.files.filter((f) => f.startsWith("eval-"));
    expect(evalFiles.filter((f) => f.endsWith(".galois"))).to.have.length(1);
    expect(got[4]!.files).to.include.members(["secret.key", "uses.json"]);
    const stored = fs.readFileSync(
      path.join(
        dir,
        PARAM_SET,
        evalFiles.find((f) => f.endsWith(".galois"))!,
      ),
    );
    expect(sha(stored)).to.equal(e);
    // Switching to never keeps the current set.
    const [kept] = await prompts(dir, "never", 1);
    expect(kept!.galois).to.equal(e);
    expect(kept!.fresh).to.equal(false);
  });
});
