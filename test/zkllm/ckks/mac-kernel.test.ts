import { expect } from "chai";
import { MacKernel } from "../../../zkllm/ckks/mac-kernel";
import { getCkksContext, type ParamSetId } from "../../../zkllm/ckks/params";
import { randomVector } from "./helpers";

/**
 * The kernel's multiply-accumulate must give exactly what SEAL's multiply-plain and add give: the
 * evaluator's outputs (and validators' replay hashes) depend on it bit for bit.
 */
describe("zkllm/ckks multiply-accumulate kernel", function () {
  this.timeout(60_000);

  for (const id of ["n8192-q100", "n8192-q60", "n4096-q69"] as ParamSetId[]) {
    it(`${id}: Σ ct_k ⊙ pt_k equals SEAL's multiplyPlain + add, byte for byte`, async () => {
      const ctx = await getCkksContext(id);
      const { seal, evaluator: ev } = ctx;
      const none = seal.ComprModeType.none;
      const keys = seal.KeyGenerator(ctx.context);
      const publicKey = keys.createPublicKey();
      const encryptor = seal.Encryptor(ctx.context, publicKey);
      const kernel = new MacKernel(ctx.set.polyModulusDegree, ctx.levelModuli[0]!);
      const made: { delete(): void }[] = [keys, publicKey, encryptor];
      try {
        const terms = 40;
        const cts = [];
        const pts = [];
        for (let k = 0; k < terms; k++) {
          const x = seal.PlainText();
          ctx.encoder.encode(randomVector(ctx.slots, k + 1, 3), ctx.inputScale, x);
          const ct = seal.CipherText();
          encryptor.encrypt(x, ct);
          const pt = seal.PlainText();
          ctx.encoder.encode(randomVector(ctx.slots, 100 + k, 0.5), ctx.weightScale, pt);
          made.push(x, ct, pt);
          cts.push(ct);
          pts.push(pt);
        }
        const expected = seal.CipherText();
        const tmp = seal.CipherText();
        made.push(expected, tmp);
        ev.multiplyPlain(cts[0]!, pts[0]!, expected);
        for (let k = 1; k < terms; k++) {
          ev.multiplyPlain(cts[k]!, pts[k]!, tmp);
          ev.add(expected, tmp, expected);
        }

        kernel.clear();
        const header = cts[0]!.saveArray(none);
        for (let k = 0; k < terms; k++) {
          kernel.add(
            kernel.storeCiphertext(cts[k]!.saveArray(none)),
            kernel.storePlaintext(pts[k]!.saveArray(none)),
          );
        }
        const raw = kernel.result(header, ctx.inputScale * ctx.weightScale);
        const got = seal.CipherText();
        made.push(got);
        got.loadArray(ctx.context, raw);
        expect(Buffer.compare(got.saveArray(none), expected.saveArray(none))).to.equal(0);
        expect(kernel.plaintextBytes).to.equal(
          terms * ctx.set.polyModulusDegree * ctx.levelModuli[0]!.length * 8,
        );
      } finally {
        for (const m of made) m.delete();
      }
    });
  }

  it("refuses serializations of another layout instead of summing garbage", async () => {
    const ctx = await getCkksContext("n8192-q100");
    const kernel = new MacKernel(ctx.set.polyModulusDegree, ctx.levelModuli[0]!);
    expect(() => kernel.storePlaintext(new Uint8Array(100))).to.throw(/serialized plaintext has 100 bytes/);
    expect(() => kernel.storeCiphertext(new Uint8Array(100))).to.throw(/serialized ciphertext has 100 bytes/);
    expect(kernel.plaintextBytes).to.equal(0);
  });
});
