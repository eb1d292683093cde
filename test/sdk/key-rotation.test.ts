import { expect } from "chai";
import {
  DEFAULT_KEY_ROTATION,
  formatKeyRotation,
  needsFreshKeys,
  parseKeyRotation,
} from "../../sdk/key-rotation";
import { BasedError } from "../../sdk/errors";

describe("sdk/key-rotation: when a prompt gets a fresh key set", () => {
  it("the default is a fresh set for every prompt", () => {
    expect(DEFAULT_KEY_ROTATION).to.equal("session");
  });

  it("session rotates before every prompt, never only when there is no set, every:N after N prompts", () => {
    for (const used of [null, 0, 1, 5, 1000]) expect(needsFreshKeys("session", used)).to.equal(true);
    expect(needsFreshKeys("never", null)).to.equal(true);
    for (const used of [0, 1, 5, 1000]) expect(needsFreshKeys("never", used)).to.equal(false);
    const every3 = { everyPrompts: 3 };
    expect([null, 0, 1, 2, 3, 4].map((u) => needsFreshKeys(every3, u))).to.deep.equal([
      true,
      false,
      false,
      false,
      true,
      true,
    ]);
    // every:1 is the session policy with the set kept on disk.
    expect([0, 1].map((u) => needsFreshKeys({ everyPrompts: 1 }, u))).to.deep.equal([false, true]);
    expect(() => needsFreshKeys({ everyPrompts: 0 }, 1)).to.throw(RangeError);
  });

  it("parses and prints session, never and every:N; anything else is an input error naming the forms", () => {
    expect(parseKeyRotation("session")).to.equal("session");
    expect(parseKeyRotation(" never ")).to.equal("never");
    expect(parseKeyRotation("every:8")).to.deep.equal({ everyPrompts: 8 });
    expect(parseKeyRotation({ everyPrompts: 2 })).to.deep.equal({ everyPrompts: 2 });
    for (const p of ["session", "never", "every:8"] as const)
      expect(formatKeyRotation(parseKeyRotation(p))).to.equal(p);
    for (const bad of ["", "always", "every:0", "every:2x", "every:", { everyPrompts: 0 }, 3]) {
      try {
        parseKeyRotation(bad, "--keys");
        expect.fail(`accepted ${JSON.stringify(bad)}`);
      } catch (err) {
        expect(err).to.be.instanceOf(BasedError);
        expect((err as BasedError).code).to.equal("InvalidKeyRotation");
        expect((err as BasedError).message).to.include("--keys");
        expect((err as BasedError).hint).to.include("every:N");
      }
    }
  });
});
