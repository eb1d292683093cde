/**
 * GPT-2's real 50,257-token tokenizer files, derived from the BPE ranks js-tiktoken ships
 * (node-only: it writes files). Tests use them to treat a random GPT-2-small-shaped checkpoint as
 * a real one without downloading anything.
 *
 * tiktoken keeps only ranked byte strings, so the merges are recovered the way Hugging Face
 * converts a tiktoken vocabulary: the token of rank r ≥ 256 is the merge of the two parts that
 * byte-pair encoding its bytes with only the ranks below r leaves. GPT-2's ids are its ranks, and
 * <|endoftext|> is 50256.
 */
import fs from "node:fs";
import path from "node:path";
import gpt2Ranks from "js-tiktoken/ranks/gpt2";
import { ENDOFTEXT, TokenizerError, bytesToUnicode } from "./gpt2";
import { type TokenizerJsonOptions, buildTokenizerJson, mergesText, vocabJsonText } from "./tokenizer-json";

export const GPT2_VOCAB_SIZE = 50_257;
export const GPT2_MERGES = 50_000;

export interface Gpt2Vocabulary {
  /** Token strings (GPT-2's printable-character spelling) by id. */
  tokens: string[];
  /** Merges in rank order. */
  merges: Array<[string, string]>;
}

let cached: Gpt2Vocabulary | undefined;

/** Recovers GPT-2's vocabulary and merges from the ranks (about half a second; cached). */
export function gpt2Vocabulary(): Gpt2Vocabulary {
  if (cached) return cached;
  const [, first, ...encoded] = gpt2Ranks.bpe_ranks.trim().split(" ");
  if (first !== "0") throw new TokenizerError(`unexpected gpt2 rank file layout (first rank ${first})`);
  // Byte strings as latin1 strings: one character per byte, so concatenation is byte concatenation.
  const bytes = encoded.map((b) => Buffer.from(b, "base64").toString("latin1"));
  const rank = new Map(bytes.map((t, r) => [t, r]));
  const table = bytesToUnicode();
  const spell = (b: string) => Array.from(b, (ch) => table[ch.charCodeAt(0)]!).join("");
  const merges: Array<[string, string]> = [];
  for (let r = 256; r < bytes.length; r++) {
    const parts = Array.from(bytes[r]!);
    for (;;) {
      let best = -1;
      let at = -1;
      for (let i = 0; i + 1 < parts.length; i++) {
        const pr = rank.get(parts[i]! + parts[i + 1]!);
        if (pr !== undefined && pr < r && (best < 0 || pr < best)) [best, at] = [pr, i];
      }
      if (at < 0) break;
      parts.splice(at, 2, parts[at]! + parts[at + 1]!);
    }
    if (parts.length !== 2) {
      throw new TokenizerError(`gpt2 rank ${r} does not split into two lower-ranked parts`);
    }
    merges.push([spell(parts[0]!), spell(parts[1]!)]);
  }
  const tokens = bytes.map(spell);
  tokens.push(ENDOFTEXT);
  if (tokens.length !== GPT2_VOCAB_SIZE || merges.length !== GPT2_MERGES) {
    throw new TokenizerError(`gpt2 ranks gave ${tokens.length} tokens and ${merges.length} merges`);
  }
  cached = { tokens, merges };
  return cached;
}

export type Gpt2TokenizerFormat = "tokenizer.json" | "vocab+merges";

export interface WriteGpt2TokenizerOptions extends TokenizerJsonOptions {
  /** tokenizer.json alone, or vocab.json + merges.txt (default). */
  format?: Gpt2TokenizerFormat;
}

/** Writes GPT-2's tokenizer files into dir; returns the names written. */
export function writeGpt2Tokenizer(dir: string, options: WriteGpt2TokenizerOptions = {}): string[] {
  const { tokens, merges } = gpt2Vocabulary();
  fs.mkdirSync(dir, { recursive: true });
  if (options.format === "tokenizer.json") {
    fs.writeFileSync(path.join(dir, "tokenizer.json"), buildTokenizerJson(tokens, merges, options));
    return ["tokenizer.json"];
  }
  fs.writeFileSync(path.join(dir, "vocab.json"), vocabJsonText(tokens.map((t, id) => [t, id] as const)));
  fs.writeFileSync(path.join(dir, "merges.txt"), mergesText(merges));
  return ["vocab.json", "merges.txt"];
}
