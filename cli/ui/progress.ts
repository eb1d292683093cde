/**
 * A progress bar on stderr (cli-progress) for work whose size is known: a model's files as they
 * download. Like the spinner, it draws only on an interactive terminal and never in --json mode.
 */
import { Presets, SingleBar } from "cli-progress";
import type { DownloadProgress } from "../../sdk/node/model-cache";

export type DownloadBar = { onProgress: DownloadProgress; stop(): void };

export function createDownloadBar(
  enabled: boolean,
  stream: NodeJS.WriteStream = process.stderr,
): DownloadBar {
  if (!enabled || !stream.isTTY) return { onProgress: () => {}, stop() {} };
  let bar: SingleBar | undefined;
  let current = "";
  return {
    onProgress({ file, fileIndex, files, bytes, fileBytes }) {
      if (!bar) {
        bar = new SingleBar(
          {
            stream,
            format: "fetching the model [{bar}] {percentage}% | {file} ({n}/{files}) {mib} MiB",
            hideCursor: true,
            clearOnComplete: true,
          },
          Presets.shades_classic,
        );
        bar.start(1, 0, { file, n: 1, files, mib: "0.0" });
      }
      const mib = (bytes / 2 ** 20).toFixed(1);
      if (file !== current) {
        current = file;
        // Files whose size the server did not send show as done once they are.
        bar.setTotal(fileBytes ?? Math.max(1, bytes));
      }
      bar.update(fileBytes === undefined ? bar.getTotal() : bytes, { file, n: fileIndex + 1, files, mib });
    },
    stop() {
      bar?.stop();
    },
  };
}
