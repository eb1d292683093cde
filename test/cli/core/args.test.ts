import { expect } from "chai";
import { parseEther } from "viem";
import { parseAddress, parseBrainId, parseTokenAmount } from "../../../cli/core/args";
import { BasedError } from "../../../sdk/errors";

describe("cli/core/args: flags and arguments are validated before anything is sent", () => {
  it("Brain ids are whole numbers 0..1023", () => {
    expect(parseBrainId("0")).to.equal(0);
    expect(parseBrainId("1023")).to.equal(1023);
    for (const bad of ["1024", "-1", "1.5", "seven", "", "0x10"]) {
      expect(() => parseBrainId(bad), bad).to.throw(BasedError, /Invalid Brain id/);
    }
  });

  it("token amounts take up to 18 decimals and become wei", () => {
    expect(parseTokenAmount("1200", "--max-price")).to.equal(parseEther("1200"));
    expect(parseTokenAmount("0.000000000000000001", "--max-price")).to.equal(1n);
    for (const bad of ["-1", "1e3", "1.0000000000000000001", "abc", ""]) {
      expect(() => parseTokenAmount(bad, "--max-price"), bad).to.throw(BasedError, /--max-price/);
    }
  });

  it("addresses are checksummed; malformed ones are refused", () => {
    expect(parseAddress("0x00000000000000000000000000000000000000aa", "wallet")).to.equal(
      "0x00000000000000000000000000000000000000AA",
    );
    expect(() => parseAddress("0x1234", "wallet")).to.throw(BasedError);
  });
});
