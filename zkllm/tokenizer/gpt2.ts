/**
 * GPT-2's byte-level BPE tokenizer for a model's own Hugging Face `vocab.json` + `merges.txt`,
 * encoding with js-tiktoken. Pure (no file access; tokenizer/index.ts reads the files), so it
 * runs in a browser too.
 *
 * tiktoken ranks byte strings, while the Hugging Face files name tokens by printable characters
 * and give them ids of their own. The ranks are derived the way tiktoken converts a GPT-2 "data
 * gym" vocabulary (`data_gym_to_mergeable_bpe_ranks`): the 256 byte tokens, then one rank per
 * merge in merges.txt order; every rank maps back to the model's id through vocab.json, so ids
 * are the model's whatever order its vocabulary is in.
 */
import { Tiktoken } from "js-tiktoken/lite";

export const ENDOFTEXT = "<|endoftext|>";

/**
 * GPT-2's pre-tokenizer. The Python training script uses the same pattern with the `regex`
 * module; both follow Unicode's L and N categories, so ids agree on ordinary text.
 */
export const GPT2_PRETOKENIZE =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * The bytes in the order GPT-2 gives them characters: the printable ones (as themselves) first,
 * then the rest (as U+0100 onwards). This is also the order of tiktoken's byte ranks.
 */
function byteOrder(): number[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) bs.push(b);
  return bs;
}

/** GPT-2's reversible byte → printable character table (avoids whitespace/control characters in the vocab). */
export function bytesToUnicode(): string[] {
  const table = new Array<string>(256);
  byteOrder().forEach((b, i) => {
    table[b] = i < 188 ? String.fromCharCode(b) : String.fromCharCode(256 + i - 188);
  });
  return table;
}

export class TokenizerError extends Error {
  override name = "TokenizerError";
}

export interface EncodeOptions {
  /** Treat the literal text "<|endoftext|>" as the special token (default true, as the training script does). */
  allowSpecial?: boolean;
}

/** Standard base64 of some bytes (tiktoken's rank files name tokens so). */
function base64(bytes: readonly number[]): string {
  return btoa(String.fromCharCode(...bytes));
}

export class Gpt2Tokenizer {
  readonly vocabSize: number;
  readonly eotId: number | undefined;
  /** Token strings by id (vocab.json inverted). */
  private readonly decoder: string[];
  private readonly tiktoken: Tiktoken;
  /** The model's id of each tiktoken rank, and back. */
  private readonly rankToId: Int32Array;
  private readonly idToRank: Int32Array;

  constructor(vocab: Record<string, number>, merges: ReadonlyArray<readonly [string, string]>) {
    const encoder = new Map(Object.entries(vocab));
    this.vocabSize = encoder.size;
    this.decoder = new Array<string>(this.vocabSize);
    for (const [tok, id] of encoder) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.decoder[id] !== undefined) {
        throw new TokenizerError(`vocab ids must be a permutation of 0..${this.vocabSize - 1}; bad id ${id}`);
      }
      this.decoder[id] = tok;
    }
    const byteEncoder = bytesToUnicode();
    const byteDecoder = new Map(byteEncoder.map((ch, b) => [ch, b]));
    for (const ch of byteEncoder) {
      if (!encoder.has(ch)) throw new TokenizerError(`vocab lacks the byte token ${JSON.stringify(ch)}`);
    }
    this.eotId = encoder.get(ENDOFTEXT);

    const bytesOf = (token: string): number[] =>
      Array.from(token, (ch) => {
        const b = byteDecoder.get(ch);
        if (b === undefined)
          throw new TokenizerError(`token ${JSON.stringify(token)} holds a character outside the byte table`);
        return b;
      });
    // Ranks: the byte tokens, then the merges in order (tiktoken's data-gym conversion).
    const tokens = byteOrder().map((b) => byteEncoder[b]!);
    const seen = new Map(tokens.map((t, rank) => [t, rank]));
    merges.forEach(([a, b], i) => {
      const merged = a + b;
      if (!encoder.has(merged)) throw new TokenizerError(`merge ${i} "${a} ${b}" makes a token not in vocab`);
      // tiktoken ranks a token, not a pair: two merges making one token would share a rank.
      if (seen.has(merged))
        throw new TokenizerError(`merge ${i} "${a} ${b}" makes ${JSON.stringify(merged)} a second time`);
      seen.set(merged, tokens.length);
      tokens.push(merged);
    });
    for (const tok of encoder.keys()) {
      if (tok !== ENDOFTEXT && !seen.has(tok)) {
        throw new TokenizerError(
          `vocab token ${JSON.stringify(tok)} is neither a byte, a merge nor ${ENDOFTEXT}`,
        );
      }
    }

    const eotRank = tokens.length;
    this.rankToId = new Int32Array(eotRank + 1).fill(-1);
    this.idToRank = new Int32Array(this.vocabSize).fill(-1);
    tokens.forEach((tok, rank) => {
      const id = encoder.get(tok)!;
      this.rankToId[rank] = id;
      this.idToRank[id] = rank;
    });
    if (this.eotId !== undefined) {
      this.rankToId[eotRank] = this.eotId;
      this.idToRank[this.eotId] = eotRank;
    }
    this.tiktoken = new Tiktoken({
      pat_str: GPT2_PRETOKENIZE.source,
      special_tokens: this.eotId === undefined ? {} : { [ENDOFTEXT]: eotRank },
      // tiktoken's compact rank list: "<name> <first rank> <base64 token> <base64 token> …".
      bpe_ranks: `! 0 ${tokens.map((t) => base64(bytesOf(t))).join(" ")}`,
    });
  }

  /** Builds a tokenizer from the two files' text (vocab.json, merges.txt). */
  static fromText(vocabJson: string, mergesTxt: string): Gpt2Tokenizer {
    let vocab: unknown;
    try {
      vocab = JSON.parse(vocabJson);
    } catch (e) {
      throw new TokenizerError(`vocab.json is not JSON: ${(e as Error).message}`);
    }
    if (typeof vocab !== "object" || vocab === null || Array.isArray(vocab)) {
      throw new TokenizerError("vocab.json must be an object of token → id");
    }
    return new Gpt2Tokenizer(vocab as Record<string, number>, parseMerges(mergesTxt));
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    let ranks: number[];
    if (options.allowSpecial === false) {
      // Nothing allowed and nothing refused: "<|endoftext|>" is ordinary text.
      ranks = this.tiktoken.encode(text, [], []);
    } else {
      if (this.eotId === undefined && text.includes(ENDOFTEXT))
        throw new TokenizerError(`vocab has no ${ENDOFTEXT} token`);
      ranks = this.tiktoken.encode(text, "all");
    }
    return ranks.map((rank) => this.rankToId[rank]!);
  }

  decode(ids: ReadonlyArray<number>): string {
    const ranks = ids.map((id) => {
      const rank = Number.isInteger(id) ? this.idToRank[id] : undefined;
      if (rank === undefined || rank < 0)
        throw new TokenizerError(`token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
      return rank;
    });
    return this.tiktoken.decode(ranks);
  }

  token(id: number): string | undefined {
    return this.decoder[id];
  }
}

/** Parses merges.txt: an optional "#version" line, then one "left right" pair per line. */
export function parseMerges(text: string): Array<[string, string]> {
  const merges: Array<[string, string]> = [];
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    if (line === "" || (i === 0 && line.startsWith("#version"))) return;
    const parts = line.split(" ");
    if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
      throw new TokenizerError(`merges.txt line ${i + 1} is not "left right": ${JSON.stringify(line)}`);
    }
    merges.push([parts[0]!, parts[1]!]);
  });
  return merges;
}
