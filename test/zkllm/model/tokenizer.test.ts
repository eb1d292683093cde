import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import fc from "fast-check";
import {
  ENDOFTEXT,
  Gpt2Tokenizer,
  TokenizerError,
  bytesToUnicode,
  loadTokenizer,
  parseMerges,
} from "../../../zkllm/tokenizer";
import { FIXTURE_DIR, SHIPPED_MODEL_DIR } from "./helpers";

interface Case {
  text: string;
  ids: number[];
}

function readCases(): Case[] {
  return fs
    .readFileSync(path.join(FIXTURE_DIR, "tokenizer-cases.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Case);
}

/** A hand-sized vocabulary: the 256 byte tokens plus three merges. */
function tinyTokenizer(): Gpt2Tokenizer {
  const table = bytesToUnicode();
  const vocab: Record<string, number> = {};
  table.forEach((ch, b) => (vocab[ch] = b));
  const merges: Array<[string, string]> = [
    ["h", "e"],
    ["l", "l"],
    ["he", "ll"],
  ];
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
  vocab[ENDOFTEXT] = Object.keys(vocab).length;
  return new Gpt2Tokenizer(vocab, merges);
}

describe("zkllm/tokenizer: GPT-2 byte-level BPE", () => {
  describe("byte table", () => {
    it("maps the 256 bytes to 256 distinct printable characters, printable ASCII to itself", () => {
      const t = bytesToUnicode();
      expect(new Set(t).size).to.equal(256);
      expect(t["A".charCodeAt(0)]).to.equal("A");
      expect(t[0x20]).to.equal("Ġ"); // GPT-2's well-known space marker
      expect(t[0x0a]).to.equal("Ċ");
    });
  });

  describe("hand-made vocabulary", () => {
    it("applies merges by rank", () => {
      const tok = tinyTokenizer();
      const hell = tok.encode("hell");
      expect(hell).to.have.length(1);
      expect(tok.token(hell[0]!)).to.equal("hell");
      expect(tok.encode("hello").map((i) => tok.token(i))).to.deep.equal(["hell", "o"]);
      // The pre-tokenizer keeps the space with the following word, so no merge spans it.
      expect(tok.encode("he he").map((i) => tok.token(i))).to.deep.equal(["he", "Ġ", "he"]);
    });

    it("splits out <|endoftext|> unless told not to", () => {
      const tok = tinyTokenizer();
      const ids = tok.encode(`a${ENDOFTEXT}b`);
      expect(ids).to.deep.equal([97, tok.eotId, 98]);
      expect(tok.encode(`a${ENDOFTEXT}b`, { allowSpecial: false })).to.have.length.greaterThan(3);
    });

    it("rejects inconsistent files with clear errors", () => {
      expect(() => parseMerges("#version: 0.2\na b c\n")).to.throw(TokenizerError, /line 2/);
      expect(() => Gpt2Tokenizer.fromText("[1,2]", "")).to.throw(TokenizerError, /object/);
      expect(() => Gpt2Tokenizer.fromText("{", "")).to.throw(TokenizerError, /not JSON/);
      expect(() => Gpt2Tokenizer.fromText('{"a": 0}', "")).to.throw(TokenizerError, /byte token/);
      const vocab = Object.fromEntries(bytesToUnicode().map((ch, b) => [ch, b]));
      expect(() => new Gpt2Tokenizer(vocab, [["x", "y"]])).to.throw(TokenizerError, /not in vocab/);
      expect(() => new Gpt2Tokenizer({ ...vocab, extra: 7 }, [])).to.throw(TokenizerError, /permutation/);
      expect(() => tinyTokenizer().decode([99999])).to.throw(TokenizerError, /outside the vocabulary/);
    });
  });

  describe("shipped tokenizer (zkllm/models/brain-gpt2-tiny)", () => {
    let tok: Gpt2Tokenizer;
    let cases: Case[];
    before(() => {
      tok = loadTokenizer(SHIPPED_MODEL_DIR);
      cases = readCases();
    });

    it("has the vocabulary size the config declares", () => {
      const config = JSON.parse(fs.readFileSync(path.join(SHIPPED_MODEL_DIR, "config.json"), "utf8")) as {
        vocab_size: number;
        eos_token_id: number;
      };
      expect(tok.vocabSize).to.equal(config.vocab_size);
      expect(tok.eotId).to.equal(config.eos_token_id);
    });

    it("produces exactly the ids of the Python training tokenizer on every fixture", () => {
      expect(cases.length).to.be.greaterThanOrEqual(20);
      for (const c of cases) expect(tok.encode(c.text), JSON.stringify(c.text)).to.deep.equal(c.ids);
    });

    it("decodes the fixtures back to their text", () => {
      for (const c of cases) expect(tok.decode(c.ids)).to.equal(c.text);
    });

    it("round-trips arbitrary Unicode text", () => {
      fc.assert(
        fc.property(fc.string({ unit: "binary", maxLength: 64 }), (s) => tok.decode(tok.encode(s)) === s),
        { numRuns: 300, seed: 42 },
      );
    });

    it("compresses English (fewer tokens than characters)", () => {
      const text = cases.map((c) => c.text).join(" ");
      expect(tok.encode(text).length).to.be.lessThan(text.length / 3);
    });
  });
});
