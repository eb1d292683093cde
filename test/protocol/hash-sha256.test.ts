import { createHash } from "node:crypto";
import { expect } from "chai";
import fc from "fast-check";
import { sha256Hex } from "../../protocol/hash";

const reference = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("protocol/hash sha256: the one SHA-256 of the client and the services (viem)", () => {
  it("gives the FIPS 180-4 test vectors", () => {
    const ascii = (s: string) => new TextEncoder().encode(s);
    expect(sha256Hex(ascii(""))).to.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Hex(ascii("abc"))).to.equal(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    expect(sha256Hex(ascii("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))).to.equal(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  it("agrees with node's hash on every length around the block and padding edges", () => {
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff);
    for (let n = 0; n <= bytes.length; n++)
      expect(sha256Hex(bytes.subarray(0, n)), `n=${n}`).to.equal(reference(bytes.subarray(0, n)));
  });

  it("agrees with node's hash on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (b) => sha256Hex(b) === reference(b)),
      { numRuns: 200, seed: 7 },
    );
  });
});
