import { expect } from "chai";
import { randomBytes } from "node:crypto";
import {
  FRAME_LIMITS,
  FrameError,
  decodeFrames,
  encodeFrames,
  postResultSchema,
  submitJobSchema,
} from "../../protocol/gateway";

/** A framed body built by hand: header text, then frames (lengths as given, or the bytes' own). */
function frame(header: string, frames: Uint8Array[], count = frames.length): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + frames.reduce((a, f) => a + 4 + f.length, 0));
  const view = new DataView(out.buffer);
  view.setUint32(0, h.length, true);
  out.set(h, 4);
  let at = 4 + h.length;
  view.setUint32(at, count, true);
  at += 4;
  for (const f of frames) {
    view.setUint32(at, f.length, true);
    out.set(f, at + 4);
    at += 4 + f.length;
  }
  return out;
}

const refusal = (body: Uint8Array, limits = FRAME_LIMITS): string => {
  try {
    decodeFrames(body, limits);
  } catch (err) {
    expect(err).to.be.instanceOf(FrameError);
    return (err as Error).message;
  }
  throw new Error("expected a FrameError");
};

describe("protocol/gateway framed bodies (application/vnd.based.frames)", () => {
  const inputs = [new Uint8Array(randomBytes(131_072)), new Uint8Array(0), new Uint8Array([7])];

  it("round-trips a message: byte strings as frames, the rest as the JSON header", () => {
    const job = { kind: "linear", step: "l0.qkv@16", inputs };
    const body = encodeFrames(job);
    // One copy of the bytes and a small header: no base64 inflation.
    expect(body.length).to.be.below(131_073 + 200);
    const back = decodeFrames(body) as typeof job;
    expect(back.kind).to.equal("linear");
    expect(back.inputs.map((b) => Buffer.from(b).toString("hex"))).to.deep.equal(
      inputs.map((b) => Buffer.from(b).toString("hex")),
    );
    // The same zod schema as a JSON body validates it (bytes where base64 was).
    expect(submitJobSchema.safeParse(back).success).to.equal(true);
    const nested = { lockToken: "t".repeat(16), result: { outputs: inputs }, none: null };
    expect((decodeFrames(encodeFrames(nested)) as typeof nested).result.outputs[0]!.length).to.equal(131_072);
  });

  it("refuses a truncated body at every place", () => {
    const body = encodeFrames({ inputs });
    expect(refusal(body.subarray(0, 2))).to.match(/truncated: the header length/);
    expect(refusal(body.subarray(0, 10))).to.match(/truncated: a \d+-byte header/);
    const headerEnd = 4 + new DataView(body.buffer).getUint32(0, true);
    expect(refusal(body.subarray(0, headerEnd + 2))).to.match(/truncated: the frame count/);
    expect(refusal(body.subarray(0, headerEnd + 6))).to.match(/truncated: frame 0's length/);
    expect(refusal(body.subarray(0, body.length - 1))).to.match(/truncated: frame 2 needs 1 bytes/);
    expect(refusal(Uint8Array.from([...body, 0]))).to.match(/1 bytes follow the last frame/);
  });

  it("refuses lengths over its limits before reading them", () => {
    const small = {
      ...FRAME_LIMITS,
      maxBodyBytes: 1000,
      maxHeaderBytes: 100,
      maxFrames: 2,
      maxFrameBytes: 10,
    };
    expect(refusal(new Uint8Array(1001), small)).to.match(/1001 bytes; at most 1000/);
    expect(refusal(frame(JSON.stringify({ pad: "x".repeat(100) }), []), small)).to.match(
      /header has \d+ bytes; at most 100/,
    );
    const refs = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ $frame: i })));
    expect(
      refusal(
        frame(
          refs(3),
          [1, 2, 3].map((n) => new Uint8Array([n])),
        ),
        small,
      ),
    ).to.match(/3 frames; at most 2/);
    expect(refusal(frame(refs(1), [new Uint8Array(11)]), small)).to.match(/frame 0 has 11 bytes; at most 10/);
    // A count that claims more frames than the body holds.
    expect(refusal(frame(refs(1), [], 1))).to.match(/truncated: frame 0's length/);
  });

  it("refuses a header that is not JSON, and frame references that do not match the frames", () => {
    expect(refusal(frame("{not json", []))).to.match(/header is not UTF-8 JSON/);
    expect(refusal(frame('"\xff"', []).map((b, i) => (i === 5 ? 0xff : b)))).to.match(/not UTF-8 JSON/);
    const one = [new Uint8Array([1])];
    expect(refusal(frame(JSON.stringify({ a: { $frame: 1 } }), one))).to.match(
      /refers to frame 1; the body has frames 0 to 0/,
    );
    expect(refusal(frame(JSON.stringify({ a: { $frame: "0" } }), one))).to.match(/refers to frame "0"/);
    expect(refusal(frame(JSON.stringify({ a: { $frame: 0, b: 1 } }), one))).to.match(/refers to frame 0/);
    expect(refusal(frame(JSON.stringify([{ $frame: 0 }, { $frame: 0 }]), one))).to.match(/frame 0 twice/);
    expect(refusal(frame(JSON.stringify({}), one))).to.match(/frame 0 is not referred to/);
  });

  it("hands the schemas a header that fails them as it is: the gateway answers 400 from the schema", () => {
    const wrong = decodeFrames(encodeFrames({ kind: "linear", step: "l0", inputs: [] }));
    expect(submitJobSchema.safeParse(wrong).success).to.equal(false);
    const notBytes = decodeFrames(frame(JSON.stringify({ lockToken: "t".repeat(16), outputs: [5] }), []));
    expect(postResultSchema.safeParse(notBytes).success).to.equal(false);
  });
});
