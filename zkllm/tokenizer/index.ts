import fs from "node:fs";
import path from "node:path";
import { Gpt2Tokenizer } from "./bpe";

export {
  ENDOFTEXT,
  GPT2_PRETOKENIZE,
  Gpt2Tokenizer,
  TokenizerError,
  bytesToUnicode,
  parseMerges,
} from "./bpe";
export type { EncodeOptions } from "./bpe";

/** Loads the tokenizer of a Hugging Face GPT-2 model directory (vocab.json + merges.txt). */
export function loadTokenizer(modelDir: string): Gpt2Tokenizer {
  const vocab = fs.readFileSync(path.join(modelDir, "vocab.json"), "utf8");
  const merges = fs.readFileSync(path.join(modelDir, "merges.txt"), "utf8");
  return Gpt2Tokenizer.fromText(vocab, merges);
}
