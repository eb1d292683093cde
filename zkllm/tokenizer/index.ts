/**
 * The tokenizer of a model directory on disk (node-only: it reads vocab.json and merges.txt).
 * The tokenizer itself is ./gpt2.ts, which the browser-safe client door uses directly.
 */
import fs from "node:fs";
import path from "node:path";
import { Gpt2Tokenizer } from "./gpt2";

export {
  ENDOFTEXT,
  GPT2_PRETOKENIZE,
  Gpt2Tokenizer,
  TokenizerError,
  bytesToUnicode,
  parseMerges,
} from "./gpt2";
export type { EncodeOptions } from "./gpt2";

/** Loads the tokenizer of a Hugging Face GPT-2 model directory (vocab.json + merges.txt). */
export function loadTokenizer(modelDir: string): Gpt2Tokenizer {
  const vocab = fs.readFileSync(path.join(modelDir, "vocab.json"), "utf8");
  const merges = fs.readFileSync(path.join(modelDir, "merges.txt"), "utf8");
  return Gpt2Tokenizer.fromText(vocab, merges);
}
