/**
 * Hugging Face's "fast" tokenizer file (tokenizer.json) ⇄ the vocab.json + merges.txt texts that
 * Gpt2Tokenizer.fromText reads. Models saved by recent transformers versions often ship only
 * tokenizer.json. Pure (no file access), so it runs in a browser too.
 *
 * Only what GPT-2's tokenizer does is accepted: byte-level BPE with no normalizer, GPT-2's
 * ByteLevel pre-tokenizer without a prefix space, no dropout or byte fallback, and no added
 * token but <|endoftext|>. Anything else would make Gpt2Tokenizer give other ids than the
 * model was trained on, so it is refused rather than approximated.
 */
import { z } from "zod";
import { ENDOFTEXT, TokenizerError } from "./gpt2";

export interface TokenizerTexts {
  /** vocab.json's text: {token: id}. */
  vocab: string;
  /** merges.txt's text: a "#version" line, then "left right" per line in rank order. */
  merges: string;
}

const emptyString = z.union([z.literal(""), z.null()]).optional();

const tokenizerJsonSchema = z.object({
  added_tokens: z
    .array(z.object({ id: z.number().int().nonnegative(), content: z.string() }))
    .nullish()
    .transform((t) => t ?? []),
  normalizer: z.null().optional(),
  pre_tokenizer: z.object({
    type: z.literal("ByteLevel"),
    add_prefix_space: z.literal(false),
    use_regex: z.literal(true).optional(),
  }),
  model: z.object({
    type: z.literal("BPE"),
    dropout: z.union([z.null(), z.literal(0)]).optional(),
    continuing_subword_prefix: emptyString,
    end_of_word_suffix: emptyString,
    byte_fallback: z.literal(false).optional(),
    // true takes a whole word from the vocabulary before merging, which can change the ids.
    ignore_merges: z.literal(false).optional(),
    vocab: z.record(z.string(), z.number().int().nonnegative()),
    // Strings before tokenizers 0.20, pairs since (they allow spaces inside tokens).
    merges: z.union([z.array(z.string()), z.array(z.tuple([z.string(), z.string()]))]),
  }),
});

export const MERGES_HEADER = "#version: 0.2";

/** vocab.json's text for tokens listed by id, in id order. */
export function vocabJsonText(entries: Iterable<readonly [string, number]>): string {
  const sorted = [...entries].sort((a, b) => a[1] - b[1]);
  return `{${sorted.map(([tok, id]) => `${JSON.stringify(tok)}: ${id}`).join(", ")}}`;
}

/** merges.txt's text; a pair merges.txt cannot spell (a space or line break inside) is refused. */
export function mergesText(merges: ReadonlyArray<readonly [string, string]>, name = "merges"): string {
  const lines = merges.map(([a, b], i) => {
    for (const part of [a, b]) {
      if (part === "" || /[ \r\n]/.test(part)) {
        throw new TokenizerError(
          `${name}[${i}]: ${JSON.stringify(part)} cannot be written to merges.txt (empty, or holds a space or line break)`,
        );
      }
    }
    return `${a} ${b}`;
  });
  return `${MERGES_HEADER}\n${lines.join("\n")}\n`;
}

/** Converts tokenizer.json's text to vocab.json + merges.txt texts. */
export function tokenizerJsonToTexts(text: string, name = "tokenizer.json"): TokenizerTexts {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(`${name} is not JSON: ${(e as Error).message}`);
  }
  const r = tokenizerJsonSchema.safeParse(json);
  if (!r.success) {
    throw new TokenizerError(`${name} is not a GPT-2 byte-level BPE tokenizer:\n${z.prettifyError(r.error)}`);
  }
  const { model, added_tokens: added } = r.data;
  const vocab = new Map(Object.entries(model.vocab));
  for (const t of added) {
    const id = vocab.get(t.content);
    if (id === undefined && t.content === ENDOFTEXT) vocab.set(t.content, t.id);
    else if (id === undefined) {
      throw new TokenizerError(
        `${name}: added token ${JSON.stringify(t.content)} (id ${t.id}) is not supported; only ${ENDOFTEXT} is`,
      );
    } else if (id !== t.id) {
      throw new TokenizerError(
        `${name}: added token ${JSON.stringify(t.content)} has id ${t.id} but the vocabulary gives it ${id}`,
      );
    }
  }
  const merges: Array<readonly [string, string]> = model.merges.map((m, i) => {
    if (typeof m !== "string") return m;
    const parts = m.split(" ");
    if (parts.length !== 2) {
      throw new TokenizerError(`${name}: model.merges[${i}] is not "left right": ${JSON.stringify(m)}`);
    }
    return [parts[0]!, parts[1]!];
  });
  return { vocab: vocabJsonText(vocab), merges: mergesText(merges, `${name}: model.merges`) };
}

export interface TokenizerJsonOptions {
  /** How model.merges is written: "a b" strings (tokenizers < 0.20) or ["a", "b"] pairs (default). */
  merges?: "strings" | "pairs";
}

/** A tokenizer.json as Hugging Face saves GPT-2's, from tokens by id and the merges in rank order. */
export function buildTokenizerJson(
  tokens: ReadonlyArray<string>,
  merges: ReadonlyArray<readonly [string, string]>,
  options: TokenizerJsonOptions = {},
): string {
  // A null prototype, so that no token (say "__proto__") can be taken for an accessor.
  const vocab = Object.create(null) as Record<string, number>;
  tokens.forEach((t, id) => (vocab[t] = id));
  const eot = tokens.indexOf(ENDOFTEXT);
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  return JSON.stringify({
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens:
      eot < 0
        ? []
        : [
            {
              id: eot,
              content: ENDOFTEXT,
              single_word: false,
              lstrip: false,
              rstrip: false,
              normalized: true,
              special: true,
            },
          ],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: options.merges === "strings" ? merges.map(([a, b]) => `${a} ${b}`) : merges,
    },
  });
}
