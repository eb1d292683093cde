/**
 * Where a miner gets its Brain's task model (docs/architecture.md §3 "task", §5 "Models"): the Brain's
 * configuration names a model URI and a content hash; the miner fetches the directory and runs it
 * only when its files hash to exactly that value, so every miner of a Brain serves the same model
 * (validators compare output hashes across miners).
 *
 * The content hash of a model directory is keccak256 of a UTF-8 manifest with one line
 * `<name> <sha256 hex>\n` per file of `MODEL_FILES` that the directory holds, in sorted order.
 * Other files (training reports, READMEs) do not count, so a directory can carry notes without
 * changing the model's identity; a file that does count cannot be added, removed or changed
 * without changing the hash.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { fileURLToPath } from "node:url";
import { type Hex, keccak256 } from "viem";
import { BasedError } from "../errors";
import type { InferenceMode } from "../../protocol/schemas";
import { PLAN_FILE, type PlanLossiness, type ZkllmModel, openModel, planLossiness } from "../../zkllm/client";
import { readModelDir, readPlan } from "../../zkllm/model-dir";
import { sha256OfFile } from "../../zkllm/model/files";

/** The files a model directory may hold that make up the model (and its content hash). */
export const MODEL_FILES = [
  "config.json",
  "generation_config.json",
  "merges.txt",
  "model.onnx",
  "model.safetensors",
  "tokenizer_config.json",
  "vocab.json",
  "zkllm-plan.json",
] as const;

export type ModelFile = (typeof MODEL_FILES)[number];

/** One manifest line: a model file and the sha256 (hex) of its bytes. */
export type ManifestEntry = { name: ModelFile; sha256: string };

const SORTED_FILES: readonly ModelFile[] = [...MODEL_FILES].sort();

/** How long one file download may take before the fetch is given up. */
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

/** The manifest entries of the model files `dir` holds, in sorted order. */
export function modelManifest(dir: string): ManifestEntry[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new BasedError(
      "input",
      "ModelDirMissing",
      `${dir} is not a directory.`,
      "Point at a converted model directory (the model converter, zkllm/convert.ts, makes one).",
    );
  }
  const entries: ManifestEntry[] = [];
  for (const name of SORTED_FILES) {
    const file = path.join(dir, name);
    if (fs.existsSync(file) && fs.statSync(file).isFile()) entries.push({ name, sha256: sha256OfFile(file) });
  }
  if (entries.length === 0) {
    throw new BasedError(
      "input",
      "NoModelFiles",
      `${dir} holds none of the model files (${MODEL_FILES.join(", ")}).`,
      "Point at a converted model directory (the model converter, zkllm/convert.ts, makes one).",
    );
  }
  return entries;
}

/** The manifest's text: one `<name> <sha256 hex>\n` line per entry. */
export function manifestText(entries: readonly ManifestEntry[]): string {
  return entries.map((e) => `${e.name} ${e.sha256}\n`).join("");
}

/** The content hash of a manifest (keccak256 of its UTF-8 text). */
export function manifestHash(entries: readonly ManifestEntry[]): Hex {
  return keccak256(new TextEncoder().encode(manifestText(entries)));
}

/** The content hash of model directory `dir` (what a Brain's task names). */
export function modelContentHash(dir: string): Hex {
  return manifestHash(modelManifest(dir));
}

function mismatch(where: string, expected: Hex, found: readonly ManifestEntry[], hint: string): BasedError {
  const lines = found.map((e) => `  ${e.name} ${e.sha256}`).join("\n");
  return new BasedError(
    "refused",
    "ModelHashMismatch",
    `The model at ${where} has content hash ${manifestHash(found)}, but the Brain's task names ${expected}. Its files:\n${lines}`,
    hint,
    { expected, found: manifestHash(found) },
  );
}

function checkHash(contentHash: string): Hex {
  if (!/^0x[0-9a-fA-F]{64}$/.test(contentHash)) {
    throw new BasedError(
      "input",
      "InvalidContentHash",
      `"${contentHash}" is not a content hash (0x + 64 hex digits).`,
      "The Brain's task should carry the keccak256 model manifest hash (sdk/model-cache.ts).",
    );
  }
  return contentHash.toLowerCase() as Hex;
}

/**
 * A local directory holding the model named by `uri` whose content hash is `contentHash`:
 * - `file://<absolute dir>`: the directory itself, when its files hash to `contentHash`;
 * - `http(s)://…/`: each of `MODEL_FILES` from `<uri>/<name>` (a 404 means the model has no such
 *   file) into `<cacheDir>/<hash>/`, verified before it is used; a verified cache is reused.
 * Any other scheme, and any mismatch, is refused with a `BasedError` that says what to do.
 */
/** Progress of a model download: bytes received so far of each file as it arrives. */
export type DownloadProgress = (p: {
  file: string;
  fileIndex: number;
  files: number;
  bytes: number;
  fileBytes?: number;
}) => void;

export async function resolveModel(
  uri: string,
  contentHash: Hex,
  cacheDir: string,
  options: { onProgress?: DownloadProgress } = {},
): Promise<string> {
  const expected = checkHash(contentHash);
  const url = parseModelUri(uri);
  if (url.protocol === "file:") return verifiedFileDir(url, uri, expected);
  return fetchModel(url, expected, cacheDir, options.onProgress);
}

/**
 * The model named by `uri` and `contentHash` when it is already on this machine, found without
 * downloading anything: a `file://` directory (verified as `resolveModel` verifies it), or an
 * http(s) model already in `<cacheDir>/<hash>/` that still verifies. Null when an http(s) model is
 * not in the cache (`resolveModel` would fetch it); the same `BasedError`s as `resolveModel` for a
 * URI it does not serve or files that do not match.
 */
export function findLocalModel(uri: string, contentHash: Hex, cacheDir: string): string | null {
  const expected = checkHash(contentHash);
  const url = parseModelUri(uri);
  if (url.protocol === "file:") return verifiedFileDir(url, uri, expected);
  const cached = path.join(cacheDir, expected);
  return isVerified(cached, expected) ? cached : null;
}

/** A model URI `resolveModel` serves (file:, http:, https:), or the refusal that says which do. */
function parseModelUri(uri: string): URL {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw unsupportedUri(uri);
  }
  if (!["file:", "http:", "https:"].includes(url.protocol)) throw unsupportedUri(uri);
  return url;
}

/** The directory of a file: URI, when its files hash to `expected`. */
function verifiedFileDir(url: URL, uri: string, expected: Hex): string {
  let dir: string;
  try {
    dir = fileURLToPath(url);
  } catch {
    throw new BasedError(
      "input",
      "UnsupportedModelUri",
      `The model URI "${uri}" is not a file URI of an absolute directory.`,
      "Write local models as file:///absolute/path/to/dir (three slashes).",
    );
  }
  const found = modelManifest(dir);
  if (manifestHash(found) !== expected) {
    throw mismatch(
      dir,
      expected,
      found,
      "The files there are not the Brain's model: restore them (re-convert or re-download the model), or, if you own the Brain, set the task's content hash to this directory's hash.",
    );
  }
  return dir;
}

function unsupportedUri(uri: string): BasedError {
  return new BasedError(
    "input",
    "UnsupportedModelUri",
    `The model URI "${uri}" is not a file:// or http(s):// URI.`,
    "A Brain's task model is served from file://<absolute dir> (one machine) or an http(s):// directory, as its owner configures it.",
  );
}

async function fetchModel(
  base: URL,
  expected: Hex,
  cacheDir: string,
  onProgress?: DownloadProgress,
): Promise<string> {
  const target = path.join(cacheDir, expected);
  if (fs.existsSync(target)) {
    // A cache that no longer verifies (a disk fault, an edit) is fetched again, never used.
    if (isVerified(target, expected)) return target;
    fs.rmSync(target, { recursive: true, force: true });
  }
  fs.mkdirSync(cacheDir, { recursive: true });
  const partial = path.join(cacheDir, `.partial-${expected.slice(2, 14)}-${randomBytes(6).toString("hex")}`);
  fs.mkdirSync(partial);
  try {
    const root = base.href.endsWith("/") ? base : new URL(`${base.href}/`);
    for (const [fileIndex, name] of MODEL_FILES.entries()) {
      await download(new URL(name, root), path.join(partial, name), (bytes, fileBytes) =>
        onProgress?.({ file: name, fileIndex, files: MODEL_FILES.length, bytes, fileBytes }),
      );
    }
    const found = modelManifest(partial);
    if (manifestHash(found) !== expected) {
      throw mismatch(
        base.href,
        expected,
        found,
        "The server does not hold the Brain's model (it may have been replaced since the task was set). Ask the Brain's owner to fix the task's model URI or content hash; nothing was kept.",
      );
    }
    try {
      fs.renameSync(partial, target);
    } catch (error) {
      // Another miner sharing this cache finished first: use its copy if it verifies.
      if (!isVerified(target, expected)) throw error;
    }
    return target;
  } finally {
    fs.rmSync(partial, { recursive: true, force: true });
  }
}

function isVerified(dir: string, expected: Hex): boolean {
  try {
    return modelContentHash(dir) === expected;
  } catch {
    return false;
  }
}

async function download(
  url: URL,
  file: string,
  onBytes: (bytes: number, fileBytes?: number) => void,
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
  } catch (error) {
    throw new BasedError(
      "environment",
      "ModelSourceUnreachable",
      `Could not fetch ${url.href}: ${(error as Error).message}.`,
      "Check that the Brain's model server is up and reachable from this machine, then start the miner again.",
    );
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return;
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new BasedError(
      "environment",
      "ModelSourceFailed",
      `${url.href} answered ${res.status} ${res.statusText}.`,
      "The Brain's model server refused the download; try again later or ask the Brain's owner.",
    );
  }
  try {
    const length = Number(res.headers.get("content-length"));
    const fileBytes = Number.isSafeInteger(length) && length > 0 ? length : undefined;
    let bytes = 0;
    onBytes(0, fileBytes);
    const counted = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>).on(
      "data",
      (chunk: Uint8Array) => {
        bytes += chunk.length;
        onBytes(bytes, fileBytes);
      },
    );
    await pipeline(counted, fs.createWriteStream(file));
  } catch (error) {
    throw new BasedError(
      "environment",
      "ModelSourceUnreachable",
      `The download of ${url.href} broke off: ${(error as Error).message}.`,
      "Check the connection to the Brain's model server, then start the miner again.",
    );
  }
}

/**
 * Opens a converted model directory for prompts: its tokenizer, configuration and, for encrypted
 * prompts, its weights and plan (a plain prompt's model runs on the miner).
 */
export function openModelDir(dir: string, mode: InferenceMode): ZkllmModel {
  try {
    return openModel(readModelDir(dir, { weights: mode === "encrypted" }));
  } catch (err) {
    throw new BasedError(
      "input",
      "ModelNotFound",
      `Cannot load the model in ${dir}: ${(err as Error).message}.`,
      "Point at a converted model directory (config.json, model.safetensors, vocab.json, merges.txt, zkllm-plan.json).",
    );
  }
}

/**
 * Whether the encrypted-inference plan of model directory `dir` is lossy (zkllm `planLossiness`),
 * or null when the model has no plan (it serves plain prompts only). A plan that is broken or made
 * for other weights is refused like a prompt would refuse it.
 */
export function modelPlanLossiness(dir: string): PlanLossiness | null {
  if (!fs.existsSync(path.join(dir, PLAN_FILE))) return null;
  try {
    return planLossiness(readPlan(dir));
  } catch (err) {
    throw new BasedError(
      "input",
      "NoEncryptedPlan",
      `The model in ${dir} has no usable encrypted-inference plan: ${(err as Error).message}.`,
      "Convert the model for encrypted inference again (zkllm/convert.ts).",
    );
  }
}
