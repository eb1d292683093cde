import { expect } from "chai";
import { compress } from "@bokuweb/zstd-wasm";
import { createClient, type CkksClient, type EvalKeyBlobs } from "../../../zkllm/ckks/client";
import { ZkllmInputError, type ZkllmInputErrorCode } from "../../../zkllm/ckks/errors";
import { planLinear, type LinearPlanStep } from "../../../zkllm/ckks/linear";
import { getCkksContext } from "../../../zkllm/ckks/params";
import { createPlan } from "../../../zkllm/ckks/plan";
import {
  BLOB_HEADER_BYTES,
  loadCiphertext,
  maxRawBytes,
  openBlob,
  readBlobHeader,
  saveCiphertext,
  writeBlob,
} from "../../../zkllm/ckks/serialize";
import { createEvaluator, type CkksEvaluator, type EvalKeys } from "../../../zkllm/ckks/server";
import { matvec, maxAbsDiff, randomVector, randomWeight } from "./helpers";

describe("zkllm/ckks bad input: clear errors, and the evaluator keeps serving", function () {
  this.timeout(120_000);

  const paramSet = "n8192-q100";
  const weights = {
    w: randomWeight(128, 128, "out-in", 11),
    b: { shape: [128], data: randomVector(128, 12) },
  };
  let step: LinearPlanStep;
  let client: CkksClient;
  let other: CkksClient; // another parameter set (N=4096)
  let server: CkksEvaluator;
  let keyBlobs: EvalKeyBlobs;
  let keys: EvalKeys;
  let good: Uint8Array[];
  const x = [randomVector(128, 13)];

  before(async () => {
    step = planLinear({
      id: "layer",
      paramSet,
      inFeatures: 128,
      outFeatures: 128,
      tokens: 1,
      weight: "w",
      bias: "b",
      // A layout with rotations, so key checks matter.
      babySteps: 2,
      maxCopies: 1,
      maxWindow: 8,
    });
    const plan = createPlan(paramSet, [step]);
    client = await createClient({ paramSet });
    other = await createClient({ paramSet: "n4096-q69" });
    server = await createEvaluator({ plan, weights });
    keyBlobs = client.makeEvalKeysForPlan(plan);
    keys = server.loadEvalKeys(keyBlobs);
    good = client.encryptLinearInputs(step, x);
  });

  after(() => {
    keys.delete();
    server.delete();
    client.delete();
    other.delete();
  });

  /** The request must fail with `code`, then a good request must still give the right answer. */
  function expectRefusedThenServes(run: () => unknown, code: ZkllmInputErrorCode, message?: RegExp): void {
    let caught: unknown;
    try {
      run();
    } catch (error) {
      caught = error;
    }
    expect(caught, `expected ${code}`).to.be.instanceOf(ZkllmInputError);
    expect((caught as ZkllmInputError).code, (caught as Error).message).to.equal(code);
    if (message) expect((caught as Error).message).to.match(message);
    const y = client.decryptLinearOutputs(step, server.evaluate("layer", good, keys));
    expect(maxAbsDiff(y, matvec(weights.w, "out-in", weights.b, x))).to.be.lessThan(1e-5);
  }

  const withInput = (blob: Uint8Array) => () => server.evaluate("layer", [blob], keys);
  const first = () => good[0] as Uint8Array;

  it("malformed blobs: bad magic, version, kind code, flags, garbage, empty", () => {
    const patch = (offset: number, value: number) => {
      const b = Uint8Array.from(first());
      b[offset] = value;
      return b;
    };
    expectRefusedThenServes(withInput(patch(0, 0x41)), "MalformedBlob", /magic/);
    expectRefusedThenServes(withInput(patch(4, 9)), "MalformedBlob", /version/);
    expectRefusedThenServes(withInput(patch(5, 77)), "MalformedBlob", /kind/);
    expectRefusedThenServes(withInput(patch(7, 0)), "MalformedBlob", /flags/);
    expectRefusedThenServes(
      withInput(Uint8Array.from({ length: 5000 }, (_, i) => (i * 31) & 255)),
      "MalformedBlob",
    );
    expectRefusedThenServes(withInput(new Uint8Array(0)), "TruncatedBlob");
  });

  it("truncated blobs and trailing bytes", () => {
    expectRefusedThenServes(withInput(first().subarray(0, first().length - 1)), "TruncatedBlob", /declares/);
    expectRefusedThenServes(withInput(first().subarray(0, 10)), "TruncatedBlob");
    const longer = new Uint8Array(first().length + 3);
    longer.set(first());
    expectRefusedThenServes(withInput(longer), "MalformedBlob", /trailing/);
  });

  it("oversized blobs: declared raw size, payload size, and SEAL-level sizes", async () => {
    const ctx = await getCkksContext(paramSet);
    const huge = Uint8Array.from(first());
    new DataView(huge.buffer).setUint32(8, maxRawBytes("ciphertext", ctx.set) + 1, true);
    expectRefusedThenServes(withInput(huge), "OversizedBlob", /at most/);
    const padded = Uint8Array.from(first());
    new DataView(padded.buffer).setUint32(12, 0xfffffff0, true);
    expectRefusedThenServes(withInput(padded), "OversizedBlob");
    // A header that agrees with the zstd frame, but a SEAL header inside claiming 2^40 bytes.
    const raw = openBlob(first(), "ciphertext", ctx.set);
    const lying = Uint8Array.from(raw);
    new DataView(lying.buffer).setBigUint64(8, 1n << 40n, true);
    expectRefusedThenServes(withInput(writeBlob("ciphertext", ctx.set, lying)), "TruncatedBlob", /declares/);
    // A zstd frame whose declared content size disagrees with the header.
    const frame = compress(new Uint8Array(1000), 1);
    const fake = new Uint8Array(BLOB_HEADER_BYTES + frame.length);
    fake.set(first().subarray(0, BLOB_HEADER_BYTES));
    fake.set(frame, BLOB_HEADER_BYTES);
    new DataView(fake.buffer).setUint32(12, frame.length, true);
    expectRefusedThenServes(withInput(fake), "MalformedBlob", /declares/);
  });

  it("wrong parameters: an N=4096 ciphertext into an N=8192 evaluator, relabelled or not", async () => {
    const small = other.encryptSlots([1, 2, 3]);
    expectRefusedThenServes(withInput(small), "WrongParameters", /n4096-q69/);
    // Relabel the blob as n8192-q100: the SEAL parms_id inside still gives it away.
    const ctx4096 = await getCkksContext("n4096-q69");
    const ctx8192 = await getCkksContext(paramSet);
    const relabelled = writeBlob("ciphertext", ctx8192.set, openBlob(small, "ciphertext", ctx4096.set));
    expectRefusedThenServes(withInput(relabelled), "WrongParameters", /parms_id/);
    // Keys of another parameter set are refused too.
    expect(() => server.loadEvalKeys(other.makeEvalKeys([1])))
      .to.throw(ZkllmInputError)
      .with.property("code", "WrongParameters");
  });

  it("wrong kind: keys where a ciphertext goes, a ciphertext where keys go", () => {
    expectRefusedThenServes(withInput(keyBlobs.galois as Uint8Array), "WrongKind", /Expected a ciphertext/);
    expect(() => server.loadEvalKeys({ galois: first() }))
      .to.throw(ZkllmInputError)
      .with.property("code", "WrongKind");
  });

  it("corrupt SEAL content behind a valid header is refused before SEAL parses it", async () => {
    const ctx = await getCkksContext(paramSet);
    const raw = Uint8Array.from(openBlob(first(), "ciphertext", ctx.set));
    // Set a coefficient to 2^64 − 1 (above every modulus); the structure stays valid.
    raw.fill(0xff, 200, 208);
    expectRefusedThenServes(
      withInput(writeBlob("ciphertext", ctx.set, raw)),
      "InvalidSealObject",
      /outside its modulus/,
    );
    // Exactly the modulus is out of range too (coefficients live in [0, q)).
    const edge = Uint8Array.from(openBlob(first(), "ciphertext", ctx.set));
    const dataStart = 16 + 32 + 1 + 40 + 16 + 8;
    new DataView(edge.buffer).setBigUint64(dataStart, ctx.levelModuli[0]?.[0] as bigint, true);
    expectRefusedThenServes(
      withInput(writeBlob("ciphertext", ctx.set, edge)),
      "InvalidSealObject",
      /modulus/,
    );
    // A full (unseeded) ciphertext where clients must send seeded ones.
    const fresh = loadCiphertext(ctx, first(), { seeded: "required" });
    const full = saveCiphertext(ctx, fresh);
    fresh.delete();
    expectRefusedThenServes(withInput(full), "BadRequest", /must be seeded/);
    // Corrupt structure: a ciphertext claiming 3 polynomials.
    const three = Uint8Array.from(openBlob(first(), "ciphertext", ctx.set));
    new DataView(three.buffer).setBigUint64(16 + 32 + 1, 3n, true);
    expectRefusedThenServes(
      withInput(writeBlob("ciphertext", ctx.set, three)),
      "MalformedBlob",
      /polynomials/,
    );
    // Corrupt key blob: cut inside a key.
    const keyRaw = openBlob(keyBlobs.galois as Uint8Array, "galoisKeys", ctx.set);
    expect(() =>
      server.loadEvalKeys({
        galois: writeBlob("galoisKeys", ctx.set, keyRaw.subarray(0, keyRaw.length - 100)),
      }),
    )
      .to.throw(ZkllmInputError)
      .with.property("code")
      .that.is.oneOf(["TruncatedBlob", "MalformedBlob"]);
  });

  it("wrong level or scale: an output sent back as an input, a seeded input at another scale", async () => {
    const output = server.evaluate("layer", good, keys)[0] as Uint8Array;
    expectRefusedThenServes(withInput(output), "BadRequest", /seeded/);
    const ctx = await getCkksContext(paramSet);
    const raw = Uint8Array.from(openBlob(first(), "ciphertext", ctx.set));
    new DataView(raw.buffer).setFloat64(16 + 32 + 1 + 24, 2 ** 30, true);
    expectRefusedThenServes(withInput(writeBlob("ciphertext", ctx.set, raw)), "BadRequest", /scale 2\^30/);
    new DataView(raw.buffer).setFloat64(16 + 32 + 1 + 24, 2 ** 120, true);
    expectRefusedThenServes(withInput(writeBlob("ciphertext", ctx.set, raw)), "MalformedBlob", /scale/);
  });

  it("unknown or altered plan steps, wrong ciphertext counts, foreign keys", async () => {
    expectRefusedThenServes(
      () => server.evaluate("no.such.step", good, keys),
      "UnknownPlanStep",
      /no\.such\.step/,
    );
    const altered = structuredClone(step);
    altered.layout.groups = 50;
    expectRefusedThenServes(() => server.evaluate(altered, good, keys), "UnknownPlanStep", /differs/);
    expectRefusedThenServes(
      () => server.evaluate("layer", [...good, ...good], keys),
      "BadRequest",
      /takes 1/,
    );
    expectRefusedThenServes(() => server.evaluate("layer", [], keys), "BadRequest");
    const fake = { ...keys } as EvalKeys;
    expectRefusedThenServes(() => server.evaluate("layer", good, fake), "BadRequest", /loadEvalKeys/);
    expectRefusedThenServes(
      () => server.evaluate("layer", good, server.loadEvalKeys({})),
      "MissingRotationKey",
    );
    expect(readBlobHeader(first()).kind).to.equal("ciphertext");
  });

  it("the two halves a pool uses (rotate, then evaluateRotated) give evaluate's bytes and check their input", () => {
    const whole = server.evaluate("layer", good, keys);
    const units = Array.from({ length: step.inputCiphertexts + step.estimate.rotate }, (_, i) => i);
    expect(units.length).to.be.greaterThan(1);
    const rotated = [
      ...server.rotate("layer", good, keys, units.slice(0, 1)),
      ...server.rotate("layer", good, keys, units.slice(1)),
    ];
    const halves = server.evaluateRotated("layer", rotated, keys);
    expect(halves.map((b) => Buffer.from(b).toString("hex"))).to.deep.equal(
      whole.map((b) => Buffer.from(b).toString("hex")),
    );
    expectRefusedThenServes(() => server.rotate("layer", good, keys, [1, 0]), "BadRequest", /increasing/);
    expectRefusedThenServes(() => server.rotate("layer", good, keys, [units.length]), "BadRequest");
    expectRefusedThenServes(() => server.rotate("layer", [new Uint8Array(3)], keys, [0]), "TruncatedBlob");
    expectRefusedThenServes(() => server.evaluateRotated("layer", rotated.slice(1), keys), "BadRequest");
    expectRefusedThenServes(
      () =>
        server.evaluateRotated(
          "layer",
          rotated.map((r) => r.subarray(1)),
          keys,
        ),
      "BadRequest",
      /bytes each/,
    );
    expectRefusedThenServes(
      () => server.evaluateRotated("layer", rotated, server.loadEvalKeys({})),
      "MissingRotationKey",
    );
  });

  it("clients refuse activations outside the parameter set's range", () => {
    expect(() => client.encryptLinearInputs(step, [Float64Array.from({ length: 128 }, () => Number.NaN)]))
      .to.throw(ZkllmInputError)
      .with.property("code", "BadRequest");
    expect(() => client.encryptSlots([1e9])).to.throw(ZkllmInputError, /outside/);
  });
});
