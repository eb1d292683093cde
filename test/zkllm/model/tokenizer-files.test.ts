import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { Tiktoken } from "js-tiktoken/lite";
import gpt2Ranks from "js-tiktoken/ranks/gpt2";
import { GPT2_MERGES, GPT2_VOCAB_SIZE, writeGpt2Tokenizer } from "../../../zkllm/tokenizer/gpt2-vocab";
import {
  ENDOFTEXT,
  TokenizerError,
  buildTokenizerJson,
  bytesToUnicode,
  loadTokenizer,
  mergesText,
  readTokenizerTexts,
  tokenizerJsonToTexts,
  vocabJsonText,
} from "../../../zkllm/tokenizer";

const MERGES: Array<[string, string]> = [
  ["h", "e"],
  ["l", "l"],
  ["he", "ll"],
  ["Ġ", "w"],
];

/** The 256 byte tokens, the merges above and <|endoftext|>. */
function tinyTokens(): string[] {
  const tokens = [...bytesToUnicode()];
  for (const [a, b] of MERGES) tokens.push(a + b);
  tokens.push(ENDOFTEXT);
  return tokens;
}

/** A tokenizer.json of the tiny vocabulary, edited by `f` before it is written out. */
function tinyTokenizerJson(f: (json: { model: Record<string, unknown> } & Record<string, unknown>) => void) {
  const json = JSON.parse(buildTokenizerJson(tinyTokens(), MERGES)) as {
    model: Record<string, unknown>;
  } & Record<string, unknown>;
  f(json);
  return JSON.stringify(json);
}

describe("zkllm/tokenizer: Hugging Face tokenizer files", () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tok-files-"));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const write = (name: string, text: string) => fs.writeFileSync(path.join(tmp, name), text);
  const slowTexts = () => ({
    vocab: vocabJsonText(tinyTokens().map((t, id) => [t, id] as const)),
    merges: mergesText(MERGES),
  });

  describe("tokenizer.json", () => {
    for (const merges of ["strings", "pairs"] as const) {
      it(`converts to the vocab.json + merges.txt texts (merges as ${merges})`, () => {
        write("tokenizer.json", buildTokenizerJson(tinyTokens(), MERGES, { merges }));
        expect(readTokenizerTexts(tmp)).to.deep.equal(slowTexts());
        const tok = loadTokenizer(tmp);
        expect(tok.vocabSize).to.equal(261);
        expect(tok.eotId).to.equal(260);
        expect(tok.encode("hello world").map((id) => tok.token(id))).to.deep.equal([
          "hell",
          "o",
          "Ġw",
          "o",
          "r",
          "l",
          "d",
        ]);
      });
    }

    it("takes <|endoftext|> from added_tokens when the model's vocabulary lacks it", () => {
      const text = tinyTokenizerJson((j) => delete (j.model.vocab as Record<string, number>)[ENDOFTEXT]);
      expect(tokenizerJsonToTexts(text)).to.deep.equal(slowTexts());
    });

    it("rejects malformed or non-GPT-2 tokenizer.json files with the reason", () => {
      const cases: Array<[string, RegExp]> = [
        ["{", /tokenizer\.json is not JSON/],
        [tinyTokenizerJson((j) => (j.model.type = "WordPiece")), /model\.type/],
        [tinyTokenizerJson((j) => delete j.model.vocab), /model\.vocab/],
        [tinyTokenizerJson((j) => ((j.model.vocab as Record<string, number>).a = -1)), /model\.vocab/],
        [tinyTokenizerJson((j) => (j.model.merges = [1, 2])), /model\.merges/],
        [tinyTokenizerJson((j) => (j.model.merges = ["h e l"])), /model\.merges\[0\] is not "left right"/],
        [tinyTokenizerJson((j) => (j.model.merges = [["h e", "l"]])), /cannot be written to merges\.txt/],
        [tinyTokenizerJson((j) => (j.model.dropout = 0.1)), /model\.dropout/],
        [tinyTokenizerJson((j) => (j.model.byte_fallback = true)), /model\.byte_fallback/],
        [tinyTokenizerJson((j) => (j.normalizer = { type: "NFC" })), /normalizer/],
        [tinyTokenizerJson((j) => (j.pre_tokenizer = { type: "Whitespace" })), /pre_tokenizer/],
        [
          tinyTokenizerJson((j) => ((j.pre_tokenizer as Record<string, unknown>).add_prefix_space = true)),
          /add_prefix_space/,
        ],
        [
          tinyTokenizerJson((j) => (j.added_tokens = [{ id: 261, content: "<pad>" }])),
          /added token "<pad>" \(id 261\) is not supported/,
        ],
        [
          tinyTokenizerJson((j) => (j.added_tokens = [{ id: 3, content: ENDOFTEXT }])),
          /has id 3 but the vocabulary gives it 260/,
        ],
      ];
      for (const [text, message] of cases) {
        write("tokenizer.json", text);
        expect(() => readTokenizerTexts(tmp), String(message)).to.throw(TokenizerError, message);
      }
    });

    it("names the file it read in its errors", () => {
      write("tokenizer.json", "[]");
      expect(() => loadTokenizer(tmp)).to.throw(TokenizerError, new RegExp(`${tmp}/tokenizer\\.json`));
    });
  });

  describe("which files a directory's tokenizer comes from", () => {
    it("reads vocab.json + merges.txt first, without looking at tokenizer.json", () => {
      const { vocab, merges } = slowTexts();
      write("vocab.json", vocab);
      write("merges.txt", merges);
      write("tokenizer.json", "not even JSON");
      expect(readTokenizerTexts(tmp)).to.deep.equal({ vocab, merges });
    });

    it("refuses half a pair, even beside tokenizer.json, and a directory with no tokenizer", () => {
      expect(() => loadTokenizer(tmp)).to.throw(TokenizerError, /has no tokenizer/);
      write("tokenizer.json", buildTokenizerJson(tinyTokens(), MERGES));
      write("merges.txt", mergesText(MERGES));
      expect(() => loadTokenizer(tmp)).to.throw(TokenizerError, /has merges\.txt but no vocab\.json/);
    });
  });

  describe("GPT-2's own 50,257-token tokenizer, derived from js-tiktoken's ranks", () => {
    const SENTENCES = [
      "The quick brown fox jumps over the lazy dog.",
      "It is a truth universally acknowledged, that a single man in possession of a good fortune must be in want of a wife.",
      "Four score and seven years ago our fathers brought forth, on this continent, a new nation.",
      "  Spaces,\ttabs\nand newlines; numbers like 1,024 and 3.14159; don't, can't, we'll.",
      `Naïve café résumé — “quotes”, emoji 🙂 and 東京.${ENDOFTEXT}The end.`,
    ];

    it("writes files that load to GPT-2's vocabulary and encode exactly as js-tiktoken's gpt2", function () {
      this.timeout(20_000);
      const reference = new Tiktoken(gpt2Ranks);
      for (const format of ["vocab+merges", "tokenizer.json"] as const) {
        const dir = path.join(tmp, format);
        const written = writeGpt2Tokenizer(dir, { format });
        expect(fs.readdirSync(dir).sort()).to.deep.equal([...written].sort());
        const tok = loadTokenizer(dir);
        expect(tok.vocabSize, format).to.equal(GPT2_VOCAB_SIZE);
        expect(tok.eotId, format).to.equal(50256);
        expect(tok.token(50256)).to.equal(ENDOFTEXT);
        expect(tok.token(220), "GPT-2's space token").to.equal("Ġ");
        for (const s of SENTENCES) {
          expect(tok.encode(s), `${format}: ${JSON.stringify(s)}`).to.deep.equal(reference.encode(s, "all"));
          expect(tok.decode(tok.encode(s))).to.equal(s);
        }
      }
      const merges = fs
        .readFileSync(path.join(tmp, "vocab+merges", "merges.txt"), "utf8")
        .trimEnd()
        .split("\n");
      expect(merges[0]).to.equal("#version: 0.2");
      expect(merges).to.have.length(1 + GPT2_MERGES);
      // GPT-2's merges.txt famously starts with "Ġ t".
      expect(merges[1]).to.equal("Ġ t");
    });
  });
});
