/**
 * A minimal spinner on stderr for long steps (transactions, waits). It draws only on an
 * interactive terminal and never in --json mode, so scripts see clean output.
 */
export type Spinner = {
  update(text: string): void;
  succeed(text: string): void;
  fail(text?: string): void;
  stop(): void;
};

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export function createSpinner(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): Spinner {
  if (!enabled || !stream.isTTY) {
    return { update() {}, succeed() {}, fail() {}, stop() {} };
  }
  let text = "";
  let frame = 0;
  const draw = () => stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${text}`);
  const timer = setInterval(draw, 80);
  timer.unref();
  const end = (symbol: string, final: string) => {
    clearInterval(timer);
    stream.write(`\r\x1b[2K${symbol ? `${symbol} ${final}\n` : ""}`);
  };
  return {
    update(next) {
      text = next;
      draw();
    },
    succeed(final) {
      end("✔", final);
    },
    fail(final) {
      end("✖", final ?? text);
    },
    stop() {
      end("", "");
    },
  };
}

/** Runs one action under a spinner that shows its steps, then its outcome. */
export async function withSpinner<T>(
  spinner: Spinner,
  run: (onStep: (step: string, detail: string) => void) => Promise<T>,
  success: (result: T) => string,
): Promise<T> {
  try {
    const result = await run((_s, detail) => spinner.update(detail));
    spinner.succeed(success(result));
    return result;
  } catch (err) {
    spinner.fail();
    throw err;
  }
}
