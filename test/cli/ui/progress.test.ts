import { expect } from "chai";
import { PassThrough } from "node:stream";
import { createDownloadBar } from "../../../cli/ui/progress";

/** A terminal-like stream that keeps what was drawn. */
function terminal(isTTY: boolean) {
  const stream = Object.assign(new PassThrough(), { isTTY, columns: 100 }) as unknown as NodeJS.WriteStream;
  let drawn = "";
  (stream as unknown as PassThrough).on("data", (d: Buffer) => (drawn += d.toString()));
  return { stream, drawn: () => drawn };
}

describe("cli/ui/progress: a model download shows a progress bar", () => {
  it("draws the file, its share and the file count on a terminal", () => {
    const t = terminal(true);
    const bar = createDownloadBar(true, t.stream);
    bar.onProgress({ file: "model.safetensors", fileIndex: 4, files: 8, bytes: 0, fileBytes: 4 * 2 ** 20 });
    bar.onProgress({
      file: "model.safetensors",
      fileIndex: 4,
      files: 8,
      bytes: 2 * 2 ** 20,
      fileBytes: 4 * 2 ** 20,
    });
    bar.stop();
    expect(t.drawn())
      .to.contain("fetching the model")
      .and.contain("50%")
      .and.contain("model.safetensors (5/8) 2.0 MiB");
  });

  it("draws nothing when output is not a terminal, or in --json mode", () => {
    for (const [tty, enabled] of [
      [false, true],
      [true, false],
    ] as const) {
      const t = terminal(tty);
      const bar = createDownloadBar(enabled, t.stream);
      bar.onProgress({ file: "vocab.json", fileIndex: 0, files: 8, bytes: 10, fileBytes: 10 });
      bar.stop();
      expect(t.drawn()).to.equal("");
    }
  });
});
