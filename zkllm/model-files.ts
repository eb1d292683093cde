/**
 * A converted model directory's files, as contents: what the node-only reader (model-dir.ts)
 * returns and the client door's `openModel` (client.ts) takes, so a browser can fetch the same
 * files instead. Its own module so that the reader and the evaluator side need not reach the
 * client door.
 */
export type ModelFiles = {
  /** vocab.json */
  vocab: string;
  /** merges.txt */
  merges: string;
  /** config.json */
  config: string;
  /** model.safetensors: needed for the hybrid split (encrypted generation, references). */
  weights?: Uint8Array;
  /** sha256 (hex) of `weights`, where the reader has a faster hash than the client door's own. */
  weightsSha256?: string;
  /** zkllm-plan.json: needed for encrypted generation. */
  plan?: string;
};
