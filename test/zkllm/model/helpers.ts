import path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
export const SHIPPED_MODEL_DIR = path.join(REPO_ROOT, "zkllm", "models", "brain-gpt2-tiny");
export const FIXTURE_DIR = path.join(__dirname, "fixtures");

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Twenty fixed prompts of ordinary English for generation comparisons. */
export const PROMPTS = [
  "The jury said",
  "In the morning, she",
  "It is not",
  "The President of the United States",
  "He looked at the",
  "There was a",
  "The first thing to do is",
  "When the war ended,",
  "Most of the people",
  "She said that",
  "The church",
  "In 1961 the",
  "I don't know what",
  "The water was",
  "After dinner they went",
  "The new school",
  "One of the most important",
  "His father had been",
  "We can see that the",
  "The city council voted",
];
