import { expect } from "chai";
import { encodeAbiParameters, keccak256, parseAbiParameters, toHex } from "viem";
import { type WorkJob, encodeTokens, bytesOf, jobHash, outputsHash, toBase64 } from "../../protocol/gateway";

const b64 = (...bytes: number[]) => toBase64(new Uint8Array(bytes));
const KEY = "a".repeat(64);
const linear: WorkJob = {
  kind: "linear",
  step: "L0.qkv@16",
  paramSet: "n8192",
  keys: { galois: KEY, relin: null },
  inputs: [b64(1, 2, 3), b64(4, 5)],
};
const generate: WorkJob = { kind: "generate", tokens: [464, 6511, 531], maxTokens: 8 };

describe("protocol/gateway jobHash: what a miner's Delivery binds", () => {
  it("is the documented encoding (docs/protocol.md, Deliveries)", async () => {
    const tag = (kind: string) => keccak256(toHex(`BasedAI gateway job: ${kind}`));
    const inputs = await outputsHash(linear.kind === "linear" ? linear.inputs.map(bytesOf) : []);
    expect(await jobHash("j1234567890ab", linear)).to.equal(
      keccak256(
        encodeAbiParameters(
          parseAbiParameters(
            "bytes32 tag, string jobId, string step, string paramSet, string galois, string relin, bytes32 inputs",
          ),
          [tag("linear"), "j1234567890ab", "L0.qkv@16", "n8192", KEY, "", inputs],
        ),
      ),
    );
    expect(await jobHash("j1234567890ab", generate)).to.equal(
      keccak256(
        encodeAbiParameters(parseAbiParameters("bytes32 tag, string jobId, bytes tokens, uint32 maxTokens"), [
          tag("generate"),
          "j1234567890ab",
          toHex(encodeTokens([464, 6511, 531])),
          8,
        ]),
      ),
    );
  });

  it("changes with every part of what the miner is given, and with the job id", async () => {
    const base = await jobHash("j1", linear);
    expect(await jobHash("j1", structuredClone(linear))).to.equal(base);
    if (linear.kind !== "linear" || generate.kind !== "generate") throw new Error("unreachable");
    const variants: Array<[string, WorkJob]> = [
      ["step", { ...linear, step: "L0.qkv@1" }],
      ["parameter set", { ...linear, paramSet: "n8192-q100" }],
      ["galois key", { ...linear, keys: { galois: "b".repeat(64), relin: null } }],
      ["keys swapped", { ...linear, keys: { galois: null, relin: KEY } }],
      ["an input's bytes", { ...linear, inputs: [b64(1, 2, 3), b64(4, 6)] }],
      ["inputs split otherwise", { ...linear, inputs: [b64(1, 2), b64(3, 4, 5)] }],
      ["inputs in another order", { ...linear, inputs: [b64(4, 5), b64(1, 2, 3)] }],
    ];
    const seen = new Map([[base, "the job"]]);
    seen.set(await jobHash("j2", linear), "another job id");
    for (const [what, job] of variants) {
      const h = await jobHash("j1", job);
      expect(seen.get(h), `${what} hashes like ${seen.get(h)}`).to.equal(undefined);
      seen.set(h, what);
    }

    const plain = await jobHash("j1", generate);
    for (const job of [
      { ...generate, tokens: [464, 6511, 532] },
      { ...generate, tokens: [464, 6511] },
      { ...generate, maxTokens: 9 },
    ]) {
      expect(await jobHash("j1", job)).to.not.equal(plain);
    }
    // Two sessions with the same prompt: distinct jobs, so distinct deliveries.
    expect(await jobHash("j2", generate)).to.not.equal(plain);
  });
});
