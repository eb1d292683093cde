/**
 * The tokenizer of a model directory on disk (node-only). The tokenizer itself is ./gpt2.ts,
 * which the browser-safe client door uses directly.
 *
 * A directory holds vocab.json + merges.txt (the "slow" tokenizer files), tokenizer.json (the
 * "fast" one, all that recent transformers versions may save), or both, as save_pretrained
 * writes for GPT-2. Both say the same; the pair is read first, because it is what the engine's
 * own model directories carry and needs no conversion. Half a pair is an error, not a reason to
 * fall back on tokenizer.json: a directory whose files disagree is not one to guess about.
 */
import fs from "node:fs";
import path from "node:path";
import { Gpt2Tokenizer, TokenizerError } from "./gpt2";
import { type TokenizerTexts, tokenizerJsonToTexts } from "./tokenizer-json";

export {
  ENDOFTEXT,
  GPT2_PRETOKENIZE,
  Gpt2Tokenizer,
  TokenizerError,
  bytesToUnicode,
  parseMerges,
} from "./gpt2";
export type { EncodeOptions } from "./gpt2";
export { buildTokenizerJson, mergesText, tokenizerJsonToTexts, vocabJsonText } from "./tokenizer-json";
export type { TokenizerJsonOptions, TokenizerTexts } from "./tokenizer-json";

export const VOCAB_FILE = "vocab.json";
export const MERGES_FILE = "merges.txt";
export const TOKENIZER_JSON_FILE = "tokenizer.json";

/** Which of vocab.json, merges.txt and tokenizer.json a directory holds. */
export function tokenizerFilesIn(modelDir: string): string[] {
  return [VOCAB_FILE, MERGES_FILE, TOKENIZER_JSON_FILE].filter((f) => fs.existsSync(path.join(modelDir, f)));
}

/** A model directory's tokenizer as vocab.json + merges.txt texts, converted from tokenizer.json if need be. */
export function readTokenizerTexts(modelDir: string): TokenizerTexts {
  const present = new Set(tokenizerFilesIn(modelDir));
  const read = (f: string) => fs.readFileSync(path.join(modelDir, f), "utf8");
  if (present.has(VOCAB_FILE) && present.has(MERGES_FILE)) {
    return { vocab: read(VOCAB_FILE), merges: read(MERGES_FILE) };
  }
  if (present.has(VOCAB_FILE) || present.has(MERGES_FILE)) {
    const [has, lacks] = present.has(VOCAB_FILE) ? [VOCAB_FILE, MERGES_FILE] : [MERGES_FILE, VOCAB_FILE];
    throw new TokenizerError(`${modelDir} has ${has} but no ${lacks}`);
  }
  if (present.has(TOKENIZER_JSON_FILE)) {
    const file = path.join(modelDir, TOKENIZER_JSON_FILE);
    return tokenizerJsonToTexts(read(TOKENIZER_JSON_FILE), file);
  }
  throw new TokenizerError(
    `${modelDir} has no tokenizer: neither ${VOCAB_FILE} + ${MERGES_FILE} nor ${TOKENIZER_JSON_FILE}`,
  );
}

/** Loads the tokenizer of a Hugging Face GPT-2 model directory. */
export function loadTokenizer(modelDir: string): Gpt2Tokenizer {
  const { vocab, merges } = readTokenizerTexts(modelDir);
  return Gpt2Tokenizer.fromText(vocab, merges);
}
