import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { SafetensorsError, SafetensorsFile, serializeSafetensors } from "../../../zkllm/model/safetensors";
import { readSafetensorsFile, writeSafetensorsFile } from "../../../zkllm/model/files";

/** Builds a file from a raw header object and data bytes, for malformed-input cases. */
function rawFile(
  header: unknown,
  data: Uint8Array = new Uint8Array(0),
  headerLenOverride?: bigint,
): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLenOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe("zkllm/model/safetensors", () => {
  const tensors = {
    "b.matrix": { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-30, -7]) },
    "a.vector": { shape: [4], data: Float32Array.from([0.1, 0.2, 0.3, 0.4]) },
    "c.scalar": { shape: [], data: Float32Array.from([42]) },
    "d.empty": { shape: [0, 5], data: new Float32Array(0) },
  };

  it("round-trips float32 tensors and metadata bit for bit", () => {
    const bytes = serializeSafetensors(tensors, { format: "pt", note: "ünïcode" });
    const file = SafetensorsFile.parse(bytes);
    expect([...file.tensors.keys()].sort()).to.deep.equal(Object.keys(tensors).sort());
    expect(file.metadata).to.deep.equal({ format: "pt", note: "ünïcode" });
    for (const [name, t] of Object.entries(tensors)) {
      const got = file.getF32(name);
      expect(got.shape).to.deep.equal(t.shape);
      expect(Array.from(got.data)).to.deep.equal(Array.from(t.data));
    }
  });

  it("writes the reference layout: sorted names, 8-byte aligned data start", () => {
    const bytes = serializeSafetensors(tensors);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).to.equal(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<
      string,
      { data_offsets: [number, number] }
    >;
    expect(Object.keys(header)).to.deep.equal(["a.vector", "b.matrix", "c.scalar", "d.empty"]);
    expect(header["a.vector"]!.data_offsets).to.deep.equal([0, 16]);
    expect(header["b.matrix"]!.data_offsets).to.deep.equal([16, 40]);
  });

  it("reads and writes files", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "safetensors-"));
    try {
      const file = path.join(dir, "t.safetensors");
      writeSafetensorsFile(file, new Map(Object.entries(tensors)));
      expect(Array.from(readSafetensorsFile(file).getF32("b.matrix").data)).to.deep.equal(
        Array.from(tensors["b.matrix"].data),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("decodes F16, BF16 and F64 tensors to float32", () => {
    const f16 = Uint8Array.from([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x7c]); // 1, -2, 0, +inf
    const bf16 = Uint8Array.from([0x80, 0x3f, 0x40, 0xc0]); // 1, -3
    const f64 = new Uint8Array(new Float64Array([0.5, -1.25]).buffer);
    const data = new Uint8Array([...f16, ...bf16, ...f64]);
    const file = SafetensorsFile.parse(
      rawFile(
        {
          h: { dtype: "F16", shape: [4], data_offsets: [0, 8] },
          b: { dtype: "BF16", shape: [2], data_offsets: [8, 12] },
          d: { dtype: "F64", shape: [2], data_offsets: [12, 28] },
        },
        data,
      ),
    );
    expect(Array.from(file.getF32("h").data)).to.deep.equal([1, -2, 0, Infinity]);
    expect(Array.from(file.getF32("b").data)).to.deep.equal([1, -3]);
    expect(Array.from(file.getF32("d").data)).to.deep.equal([0.5, -1.25]);
  });

  it("writes F16 and BF16 tensors that read back as the nearest representable values", () => {
    const values = { v: { shape: [5], data: Float32Array.from([1, -2, 0.1, 1e-30, 70000]) } };
    const f16 = SafetensorsFile.parse(serializeSafetensors(values, undefined, { dtype: "F16" }));
    expect(f16.info("v")).to.include({ dtype: "F16", begin: 0, end: 10 });
    // 0.1 → 0.0999755859375 (the nearest half), 1e-30 underflows, 70000 overflows.
    expect(Array.from(f16.getF32("v").data)).to.deep.equal([1, -2, 0.0999755859375, 0, Infinity]);
    const bf16 = SafetensorsFile.parse(serializeSafetensors(values, undefined, { dtype: "BF16" }));
    expect(bf16.info("v").dtype).to.equal("BF16");
    expect(Array.from(bf16.getF32("v").data).slice(0, 2)).to.deep.equal([1, -2]);
    expect(bf16.getF32("v").data[4]).to.equal(70144); // bfloat16 keeps float32's range
  });

  describe("malformed files", () => {
    const good = serializeSafetensors(tensors);
    const entry = (dtype: string, shape: number[], offsets: [number, number]) => ({
      dtype,
      shape,
      data_offsets: offsets,
    });

    it("rejects a file shorter than the length prefix", () => {
      expect(() => SafetensorsFile.parse(new Uint8Array(5))).to.throw(SafetensorsError, /too short/);
    });

    it("rejects a truncated file (header or data cut off)", () => {
      expect(() => SafetensorsFile.parse(good.subarray(0, 20))).to.throw(SafetensorsError, /truncated/);
      expect(() => SafetensorsFile.parse(good.subarray(0, good.length - 4))).to.throw(
        SafetensorsError,
        /truncated/,
      );
    });

    it("rejects an absurd header length without allocating it", () => {
      expect(() => SafetensorsFile.parse(rawFile({}, new Uint8Array(0), 2n ** 60n))).to.throw(
        SafetensorsError,
        /exceeds/,
      );
    });

    it("rejects a header that is not JSON, not UTF-8, or not an object", () => {
      expect(() => SafetensorsFile.parse(rawFile("{not json"))).to.throw(
        SafetensorsError,
        /not valid UTF-8 JSON/,
      );
      const bad = rawFile("{}");
      bad[8] = 0xff;
      expect(() => SafetensorsFile.parse(bad)).to.throw(SafetensorsError, /not valid UTF-8 JSON/);
      expect(() => SafetensorsFile.parse(rawFile("[1,2]"))).to.throw(SafetensorsError, /object/);
    });

    it("rejects bad entries: missing fields, negative dims, unknown dtype, bad metadata", () => {
      expect(() => SafetensorsFile.parse(rawFile({ x: { dtype: "F32" } }))).to.throw(
        SafetensorsError,
        /tensor "x"/,
      );
      expect(() => SafetensorsFile.parse(rawFile({ x: entry("F32", [-1], [0, 0]) }))).to.throw(
        SafetensorsError,
      );
      expect(() =>
        SafetensorsFile.parse(rawFile({ x: entry("F33", [1], [0, 4]) }, new Uint8Array(4))),
      ).to.throw(SafetensorsError, /unknown dtype F33/);
      expect(() => SafetensorsFile.parse(rawFile({ __metadata__: { a: 1 } }))).to.throw(
        SafetensorsError,
        /metadata/,
      );
    });

    it("rejects out-of-range, reversed and mis-sized offsets", () => {
      const data = new Uint8Array(8);
      expect(() => SafetensorsFile.parse(rawFile({ x: entry("F32", [4], [0, 16]) }, data))).to.throw(
        SafetensorsError,
        /run past/,
      );
      expect(() => SafetensorsFile.parse(rawFile({ x: entry("F32", [1], [8, 4]) }, data))).to.throw(
        SafetensorsError,
        /reversed/,
      );
      expect(() => SafetensorsFile.parse(rawFile({ x: entry("F32", [3], [0, 8]) }, data))).to.throw(
        SafetensorsError,
        /needs 12 bytes/,
      );
    });

    it("rejects overlapping tensors, gaps and trailing bytes", () => {
      const data = new Uint8Array(8);
      const overlap = { x: entry("F32", [2], [0, 8]), y: entry("F32", [1], [4, 8]) };
      expect(() => SafetensorsFile.parse(rawFile(overlap, data))).to.throw(SafetensorsError, /overlaps/);
      expect(() => SafetensorsFile.parse(rawFile({ x: entry("F32", [1], [4, 8]) }, data))).to.throw(
        SafetensorsError,
        /gap/,
      );
      expect(() => SafetensorsFile.parse(rawFile({ x: entry("F32", [1], [0, 4]) }, data))).to.throw(
        SafetensorsError,
        /trailing/,
      );
    });

    it("refuses to decode non-float tensors as floats, and unknown names", () => {
      const file = SafetensorsFile.parse(rawFile({ i: entry("I64", [1], [0, 8]) }, new Uint8Array(8)));
      expect(file.info("i").dtype).to.equal("I64");
      expect(() => file.getF32("i")).to.throw(SafetensorsError, /I64/);
      expect(() => file.getF32("nope")).to.throw(SafetensorsError, /no tensor named/);
    });

    it("refuses to write a tensor whose shape does not match its data", () => {
      expect(() => serializeSafetensors({ x: { shape: [3], data: new Float32Array(2) } })).to.throw(
        SafetensorsError,
        /does not hold/,
      );
    });
  });
});
