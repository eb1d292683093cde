import { expect } from "chai";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { type Hex, keccak256, toHex } from "viem";
import {
  MODEL_FILES,
  findLocalModel,
  modelContentHash,
  modelPlanLossiness,
  resolveModel,
} from "../../../sdk/node/model-cache";
import { BasedError } from "../../../sdk/errors";
import { LOSSLESS, QUANTIZED, modelWithPlan, withHeadSelection } from "../../helpers/model-plan";
import { tempDir } from "../../helpers/processes";

const MODEL_DIR = path.resolve(__dirname, "..", "..", "..", "zkllm", "models", "brain-gpt2-tiny");

async function refusal(promise: Promise<unknown>): Promise<BasedError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(BasedError);
    return error as BasedError;
  }
  throw new Error("it was not refused");
}

function copyModel(files: readonly string[] = fs.readdirSync(MODEL_DIR)): string {
  const dir = tempDir("miner-model");
  for (const f of files) fs.copyFileSync(path.join(MODEL_DIR, f), path.join(dir, f));
  return dir;
}

/** A static file server over `root` that records the paths asked for. */
async function fileServer(root: string) {
  const requests: string[] = [];
  const overrides = new Map<string, (res: http.ServerResponse) => void>();
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? "/");
    requests.push(url);
    const override = overrides.get(url);
    if (override) return override(res);
    const file = path.join(root, url);
    if (!file.startsWith(root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    overrides,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("miner/model-source: a miner runs only the model whose content hash the Brain names", function () {
  this.timeout(60_000);
  const hash = modelContentHash(MODEL_DIR);
  const dirs: string[] = [];
  const track = (dir: string) => (dirs.push(dir), dir);
  /** A cache directory a file:// model must leave untouched. */
  const scratch = () => track(tempDir("miner-unused-cache"));
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it("is keccak256 of the documented manifest: `<name> <sha256>\\n` per model file, sorted", () => {
    const manifest = [...MODEL_FILES]
      .sort()
      .filter((f) => fs.existsSync(path.join(MODEL_DIR, f)))
      .map(
        (f) =>
          `${f} ${createHash("sha256")
            .update(fs.readFileSync(path.join(MODEL_DIR, f)))
            .digest("hex")}\n`,
      )
      .join("");
    expect(manifest.split("\n")).to.have.length(9); // 8 files + the final newline
    expect(hash).to.equal(keccak256(toHex(manifest)));
    expect(modelContentHash(MODEL_DIR)).to.equal(hash);
  });

  it("does not depend on the order files were written, nor on files outside the model", () => {
    const reversed = track(copyModel([...fs.readdirSync(MODEL_DIR)].reverse()));
    expect(modelContentHash(reversed)).to.equal(hash);
    // training_report.json ships beside the model but is not part of it.
    const bare = track(copyModel(MODEL_FILES.filter((f) => fs.existsSync(path.join(MODEL_DIR, f)))));
    expect(fs.existsSync(path.join(bare, "training_report.json"))).to.equal(false);
    expect(modelContentHash(bare)).to.equal(hash);
    fs.writeFileSync(path.join(bare, "NOTES.md"), "anything");
    expect(modelContentHash(bare)).to.equal(hash);
    // A model file missing is another model.
    fs.rmSync(path.join(bare, "generation_config.json"));
    expect(modelContentHash(bare)).to.not.equal(hash);
  });

  it("uses a file:// directory in place when it matches", async () => {
    expect(await resolveModel(pathToFileURL(MODEL_DIR).href, hash, scratch())).to.equal(MODEL_DIR);
  });

  it("refuses a tampered file, saying which hashes differ and listing the files", async () => {
    const copy = track(copyModel());
    const vocab = path.join(copy, "vocab.json");
    fs.writeFileSync(vocab, fs.readFileSync(vocab, "utf8").replace('"the"', '"teh"'));
    const err = await refusal(resolveModel(pathToFileURL(copy).href, hash, scratch()));
    expect(err.code).to.equal("ModelHashMismatch");
    expect(err.message).to.contain(`the Brain's task names ${hash}`);
    expect(err.message).to.contain(`has content hash ${modelContentHash(copy)}`);
    expect(err.message).to.match(/vocab\.json [0-9a-f]{64}/);
    expect(err.hint).to.contain("restore them");
  });

  it("refuses a wrong hash with a message that says what to do", async () => {
    const wrong = `0x${"ab".repeat(32)}` as Hex;
    const err = await refusal(resolveModel(pathToFileURL(MODEL_DIR).href, wrong, scratch()));
    expect(err.code).to.equal("ModelHashMismatch");
    expect(err.message).to.contain(wrong).and.to.contain(hash);
    expect(err.hint).to.contain("set the task's content hash");
    const bad = await refusal(resolveModel(pathToFileURL(MODEL_DIR).href, "0x1234" as Hex, scratch()));
    expect(bad.code).to.equal("InvalidContentHash");
  });

  it("refuses other schemes and relative file URIs", async () => {
    for (const uri of ["ipfs://bafy/model", "s3://bucket/model", "not a uri", "file://relative/dir"]) {
      const err = await refusal(resolveModel(uri, hash, scratch()));
      expect(err.code, uri).to.equal("UnsupportedModelUri");
    }
  });

  it("fetches an http(s) model's files into the cache, verifies them, then reuses the verified cache", async () => {
    const server = await fileServer(path.dirname(MODEL_DIR));
    const cache = track(tempDir("miner-cache"));
    try {
      const uri = `${server.url}/brain-gpt2-tiny`;
      const seen = new Map<string, { bytes: number; fileIndex: number; files: number }>();
      const dir = await resolveModel(uri, hash, cache, { onProgress: (p) => seen.set(p.file, p) });
      expect(dir).to.equal(path.join(cache, hash));
      expect(modelContentHash(dir)).to.equal(hash);
      expect(fs.readdirSync(dir).sort()).to.deep.equal([...MODEL_FILES].sort());
      expect(fs.readdirSync(cache)).to.deep.equal([hash]); // no partial download left
      // Progress ends at each file's full size, file by file in order.
      for (const [i, name] of MODEL_FILES.entries()) {
        expect(seen.get(name), name).to.deep.include({
          bytes: fs.statSync(path.join(dir, name)).size,
          fileIndex: i,
          files: MODEL_FILES.length,
        });
      }
      // Only the model's files are asked for: nothing is listed or guessed.
      expect([...server.requests].sort()).to.deep.equal(
        MODEL_FILES.map((f) => `/brain-gpt2-tiny/${f}`).sort(),
      );

      server.requests.length = 0;
      expect(await resolveModel(`${uri}/`, hash, cache)).to.equal(dir);
      expect(server.requests).to.deep.equal([]);

      // A cache that no longer verifies is fetched again, not used.
      fs.appendFileSync(path.join(dir, "merges.txt"), "x y\n");
      expect(await resolveModel(uri, hash, cache)).to.equal(dir);
      expect(server.requests).to.have.length(MODEL_FILES.length);
      expect(modelContentHash(dir)).to.equal(hash);
    } finally {
      await server.close();
    }
  });

  it("keeps nothing when the server's files do not match, and reports server errors", async () => {
    const server = await fileServer(path.dirname(MODEL_DIR));
    const cache = track(tempDir("miner-cache"));
    try {
      const uri = `${server.url}/brain-gpt2-tiny/`;
      server.overrides.set("/brain-gpt2-tiny/config.json", (res) => res.writeHead(200).end("{}"));
      const err = await refusal(resolveModel(uri, hash, cache));
      expect(err.code).to.equal("ModelHashMismatch");
      expect(err.message).to.contain(uri).and.to.contain(hash);
      expect(err.hint).to.contain("nothing was kept");
      expect(fs.readdirSync(cache)).to.deep.equal([]);

      server.overrides.set("/brain-gpt2-tiny/config.json", (res) => res.writeHead(503).end("busy"));
      const failed = await refusal(resolveModel(uri, hash, cache));
      expect(failed.code).to.equal("ModelSourceFailed");
      expect(failed.message).to.contain("503");
      expect(fs.readdirSync(cache)).to.deep.equal([]);
    } finally {
      await server.close();
    }
    const gone = await refusal(resolveModel(`${server.url}/brain-gpt2-tiny/`, hash, cache));
    expect(gone.code).to.equal("ModelSourceUnreachable");
  });
});

describe("sdk/node/model-cache: a Brain's model and its plan, read only when already on this machine", () => {
  const dirs: string[] = [];
  const track = (dir: string) => (dirs.push(dir), dir);
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it("findLocalModel: a file:// directory verified in place; an http(s) model only from a verified cache, never fetched", () => {
    const hash = modelContentHash(MODEL_DIR);
    const cache = track(tempDir("local-model-cache"));
    expect(findLocalModel(pathToFileURL(MODEL_DIR).href, hash, cache)).to.equal(MODEL_DIR);
    // Nothing listens on port 9: a fetch would fail, so null means nothing was asked for.
    const uri = "http://127.0.0.1:9/brain-gpt2-tiny";
    expect(findLocalModel(uri, hash, cache)).to.equal(null);
    const cached = path.join(cache, hash);
    fs.cpSync(MODEL_DIR, cached, { recursive: true });
    expect(findLocalModel(uri, hash, cache)).to.equal(cached);
    fs.appendFileSync(path.join(cached, "merges.txt"), "x y\n");
    expect(findLocalModel(uri, hash, cache)).to.equal(null);

    const wrong = `0x${"ab".repeat(32)}` as Hex;
    expect(() => findLocalModel(pathToFileURL(MODEL_DIR).href, wrong, cache))
      .to.throw(BasedError)
      .with.property("code", "ModelHashMismatch");
    expect(() => findLocalModel("ipfs://bafy/model", hash, cache))
      .to.throw(BasedError)
      .with.property("code", "UnsupportedModelUri");
  });

  it("modelPlanLossiness: names what makes a plan lossy and its measured agreement; null without a plan", () => {
    const lossy = track(modelWithPlan(QUANTIZED));
    expect(modelPlanLossiness(lossy)).to.deep.equal({
      lossy: true,
      reasons: ["256-level activation quantization"],
      agreement: 0.988,
    });
    const lossless = track(modelWithPlan(LOSSLESS));
    expect(modelPlanLossiness(lossless)).to.deep.equal({ lossy: false, reasons: [] });
    const dropped = track(
      modelWithPlan((squeeze) => {
        LOSSLESS(squeeze);
        withHeadSelection(squeeze).kept[0]![1] = false;
      }),
    );
    expect(modelPlanLossiness(dropped)?.reasons).to.deep.equal(["1 of 8 attention heads dropped"]);

    fs.rmSync(path.join(lossless, "zkllm-plan.json"));
    expect(modelPlanLossiness(lossless)).to.equal(null);
    // A plan made for other weights is refused, as a prompt would refuse it.
    const other = track(modelWithPlan(QUANTIZED));
    const file = path.join(other, "zkllm-plan.json");
    fs.writeFileSync(
      file,
      fs
        .readFileSync(file, "utf8")
        .replace(/"modelSha256": "[0-9a-f]+"/, `"modelSha256": "${"0".repeat(64)}"`),
    );
    expect(() => modelPlanLossiness(other))
      .to.throw(BasedError, /other weights/)
      .with.property("code", "NoEncryptedPlan");
  });
});
