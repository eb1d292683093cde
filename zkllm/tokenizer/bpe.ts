/**
 * GPT-2 byte-level BPE (the algorithm of OpenAI's encoder.py), reading the Hugging Face
 * `vocab.json` + `merges.txt` pair. Pure: no file access here (see ./load.ts).
 */

export const ENDOFTEXT = "<|endoftext|>";

/**
 * GPT-2's pre-tokenizer. The Python training script uses the same pattern with the `regex`
 * module; both follow Unicode's L and N categories, so ids agree on ordinary text.
 */
export const GPT2_PRETOKENIZE =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's reversible byte → printable character table (avoids whitespace/control characters in the vocab). */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const table = new Array<string>(256);
  for (const b of bs) table[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCharCode(256 + n++);
  }
  return table;
}

export class TokenizerError extends Error {
  override name = "TokenizerError";
}

export interface EncodeOptions {
  /** Treat the literal text "<|endoftext|>" as the special token (default true, as the training script does). */
  allowSpecial?: boolean;
}

export class Gpt2Tokenizer {
  readonly vocabSize: number;
  readonly eotId: number | undefined;
  private readonly encoder: Map<string, number>;
  private readonly decoder: string[];
  private readonly ranks: Map<string, number>;
  private readonly byteEncoder = bytesToUnicode();
  private readonly byteDecoder: Map<string, number>;
  private readonly cache = new Map<string, number[]>();
  private readonly utf8 = new TextEncoder();

  constructor(vocab: Record<string, number>, merges: ReadonlyArray<readonly [string, string]>) {
    this.encoder = new Map(Object.entries(vocab));
    this.vocabSize = this.encoder.size;
    this.decoder = new Array<string>(this.vocabSize);
    for (const [tok, id] of this.encoder) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.decoder[id] !== undefined) {
        throw new TokenizerError(`vocab ids must be a permutation of 0..${this.vocabSize - 1}; bad id ${id}`);
      }
      this.decoder[id] = tok;
    }
    this.ranks = new Map();
    merges.forEach(([a, b], i) => {
      if (!this.encoder.has(a + b))
        throw new TokenizerError(`merge ${i} "${a} ${b}" makes a token not in vocab`);
      // Byte-level tokens never contain a plain space, so it is a safe separator.
      this.ranks.set(`${a} ${b}`, i);
    });
    this.byteDecoder = new Map(this.byteEncoder.map((ch, b) => [ch, b]));
    for (const ch of this.byteEncoder) {
      if (!this.encoder.has(ch)) throw new TokenizerError(`vocab lacks the byte token ${JSON.stringify(ch)}`);
    }
    this.eotId = this.encoder.get(ENDOFTEXT);
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
    const parts = options.allowSpecial === false ? [text] : text.split(ENDOFTEXT);
    const ids: number[] = [];
    parts.forEach((part, i) => {
      if (i > 0) {
        if (this.eotId === undefined) throw new TokenizerError(`vocab has no ${ENDOFTEXT} token`);
        ids.push(this.eotId);
      }
      for (const m of part.matchAll(GPT2_PRETOKENIZE)) {
        for (const id of this.bpe(this.toByteChars(m[0]))) ids.push(id);
      }
    });
    return ids;
  }

  decode(ids: ReadonlyArray<number>): string {
    const bytes: number[] = [];
    for (const id of ids) {
      const tok = this.decoder[id];
      if (tok === undefined)
        throw new TokenizerError(`token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
      for (const ch of tok) {
        const b = this.byteDecoder.get(ch);
        if (b === undefined) throw new TokenizerError(`token ${id} holds a character outside the byte table`);
        bytes.push(b);
      }
    }
    return new TextDecoder("utf-8").decode(Uint8Array.from(bytes));
  }

  token(id: number): string | undefined {
    return this.decoder[id];
  }

  private toByteChars(piece: string): string {
    let s = "";
    for (const b of this.utf8.encode(piece)) s += this.byteEncoder[b];
    return s;
  }

  private bpe(token: string): number[] {
    const hit = this.cache.get(token);
    if (hit) return hit;
    let word = Array.from(token);
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const a = word[best]!;
      const b = word[best + 1]!;
      // Merge every occurrence of the best pair left to right, as encoder.py does.
      const merged: string[] = [];
      for (let i = 0; i < word.length;) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
          merged.push(a + b);
          i += 2;
        } else {
          merged.push(word[i]!);
          i += 1;
        }
      }
      word = merged;
    }
    const ids = word.map((w) => {
      const id = this.encoder.get(w);
      if (id === undefined)
        throw new TokenizerError(`BPE produced ${JSON.stringify(w)}, which is not in vocab`);
      return id;
    });
    this.cache.set(token, ids);
    return ids;
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
