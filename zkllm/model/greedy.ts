/**
 * Greedy decoding, the one loop every generator in the repository runs: `based model generate`,
 * `based prompt`, the miner's plain jobs and the validator's canaries. Where the logits come from
 * is the caller's business: a hybrid session (its server products local, or behind a Brain's
 * gateway) or the onnx runner. The client door (zkllm/client.ts) is its public home; it lives
 * here, beside the argmax, so that the onnx runner and the miner can use it without loading the
 * client's key-holding code.
 */
import { argmax } from "./forward";

/** Where a greedy loop's logits come from. */
export type LogitsSource = {
  /** Feeds `ids` (the prompt, then each chosen token) and returns the logits that follow the last. */
  step(ids: readonly number[]): Promise<ArrayLike<number>>;
  /**
   * The longest sequence, prompt and answer together, decoding may reach: the context's end. A
   * hybrid session takes one token from its last position's logits (n_positions + 1); the onnx
   * runner stops once prompt and answer fill the context (n_positions), as forward.ts's
   * `generate` does.
   */
  readonly maxSequence: number;
};

export type GreedyOptions = {
  /** The most tokens to generate. */
  maxTokens: number;
  /** Stop after this token (it ends the answer); none: run to maxTokens or the context's end. */
  eosId?: number;
  /** Called with every token as soon as it is known; `last` when the answer ends with it. */
  onToken?: (id: number, last: boolean) => void;
};

/**
 * Greedy decoding from a fresh source: the prompt in one step, then one step per token. Stops at
 * `maxTokens`, after `eosId`, or at the source's context end; returns the new token ids.
 */
export async function generateGreedy(
  source: LogitsSource,
  promptIds: readonly number[],
  options: GreedyOptions,
): Promise<number[]> {
  const out: number[] = [];
  if (options.maxTokens < 1) return out;
  let logits = await source.step(promptIds);
  for (;;) {
    const id = argmax(logits);
    out.push(id);
    const last =
      out.length >= options.maxTokens ||
      id === options.eosId ||
      promptIds.length + out.length >= source.maxSequence;
    options.onToken?.(id, last);
    if (last) return out;
    logits = await source.step([id]);
  }
}
