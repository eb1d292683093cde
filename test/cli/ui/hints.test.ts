import { expect } from "chai";
import { hintFor } from "../../../cli/ui/hints";
import { explainBrainError } from "../../../sdk/brain";
import { explainMarketError } from "../../../sdk/market";
import { explainNetworkError } from "../../../sdk/network";
import { explainWeightsError } from "../../../sdk/weights";
import { BasedError } from "../../../sdk/errors";

describe("cli/ui/hints: the command turns the SDK's error codes into command lines", () => {
  it("adds the flag or command that fixes a refusal, with the values from the error's details", () => {
    const price = explainBrainError("BurnPriceAboveMax", [1200n * 10n ** 18n, 1000n * 10n ** 18n]);
    expect(price.hint).to.not.contain("--");
    expect(hintFor(price)).to.equal("Pass --max-price 1200 (or more) to accept the current price.");

    const fee = explainNetworkError({ name: "FeeAboveMax", args: [50n * 10n ** 18n, 0n] });
    expect(hintFor(fee)).to.contain("--max-fee 50");
    const again = explainNetworkError({ name: "AlreadyRegistered", args: [3n, "0xabc", 4n] });
    expect(hintFor(again)).to.contain("based deregister --brain 3");

    const notValidator = explainWeightsError({ name: "NotValidator", args: [3n, "0xabc"] });
    expect(notValidator.hint).to.not.match(/--role|based /);
    expect(hintFor(notValidator)).to.match(/based register --brain 3 --role validator/);

    const used = explainMarketError(
      { name: "DeliveryAlreadyUsed", args: [`0x${"12".repeat(32)}`] },
      "settle",
    );
    expect(used).to.include({ code: "DeliveryAlreadyUsed", kind: "refused" });
    expect(used.message).to.contain("already settled a request");

    const expired = explainMarketError({ name: "RequestExpired", args: [17n, 1_700_000_000n] }, "settle");
    expect(hintFor(expired)).to.equal("Reclaim it to the account with `based account reclaim 17`.");

    const rose = explainMarketError(
      { name: "CostAboveMax", args: [2n * 10n ** 18n, 5n * 10n ** 16n] },
      "open",
      {
        brainId: 3,
      },
    );
    expect(rose.message).to.contain("escrows 2 BASED, more than the maximum cost of 0.05 BASED");
    expect(rose.hint).to.not.contain("--");
    expect(hintFor(rose)).to.contain("`based brain show 3`");
    expect(hintFor(rose)).to.contain("--max-cost 2 (or more)");
  });

  it("keeps the SDK's hint for codes it does not know, and where the details it needs are missing", () => {
    const unknown = new BasedError("refused", "SomethingElse", "no", "the SDK's hint");
    expect(hintFor(unknown)).to.equal("the SDK's hint");
    // A service's own NotRegistered (no Brain in its details) keeps its own wording.
    const own = new BasedError("refused", "NotRegistered", "not a miner", "start without --no-register");
    expect(hintFor(own)).to.equal("start without --no-register");
    const shell = new BasedError(
      "input",
      "InvalidConfig",
      "invalid configuration: --workers: at least 1",
      "x",
    );
    expect(hintFor(shell)).to.equal("x");
  });

  it("a refusal from the Brain's gateway names the flags that choose Brain and gateway", () => {
    const refused = new BasedError("refused", "WrongBrain", "this gateway serves Brain #3", "sdk", {
      refusedBy: "gateway",
      status: "400",
    });
    expect(hintFor(refused)).to.contain("--brain").and.contain("--gateway");
  });
});
