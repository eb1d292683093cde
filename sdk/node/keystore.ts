/**
 * The user's CKKS keys, kept on their own machine (docs/architecture.md §5: the client alone holds
 * the secret key), rotated by a policy (sdk/key-rotation.ts). Galois keys are randomized: a fresh
 * set is new bytes, a new content hash and a new multi-megabyte upload, and a kept set is
 * recognised by the gateway (no upload) but links every prompt made with it. `"session"` (the
 * default) makes a fresh set for every prompt and stores nothing; `{ everyPrompts: N }` and
 * `"never"` keep the set below, counting its prompts in `uses.json`, and delete it once rotated out.
 *
 * Layout (directory 0700, files 0600):
 *
 *   <dir>/<paramSet>/secret.key          the secret key (zkllm/ckks/client.ts's checked frame)
 *   <dir>/<paramSet>/eval-<id>.json      manifest: the rotation steps, sha256 of each blob and of
 *                                        the secret key they were made with
 *   <dir>/<paramSet>/eval-<id>.galois    Galois keys for exactly those rotation steps
 *   <dir>/<paramSet>/eval-<id>.relin     relinearization keys (only when the plan needs them)
 *   <dir>/<paramSet>/uses.json           prompts that used this secret key's set (rotation)
 *
 * `<id>` is a hash of the plan's rotation steps (and whether it relinearizes), so plans that need
 * the same keys share them. Every file is written to a temporary name and renamed (the manifest
 * last), so a crash leaves either nothing or a whole set, never half a file.
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import {
  type CkksClient,
  type EnginePlan,
  type EvalKeyBlobs,
  type ParamSetId,
  createClient,
  exportSecretKey,
  planNeedsRelinearization,
  planRotations,
} from "../../zkllm/client";
import { BasedError } from "../errors";
import { DEFAULT_KEY_ROTATION, type KeyRotation, freshKeys, needsFreshKeys } from "../key-rotation";
import type { OpenKeys } from "../prompt";

export type OpenedKeystore = {
  /** A client holding the stored secret key (the caller deletes it when done). */
  client: CkksClient;
  /** The evaluation keys for the plan, byte for byte the ones stored (or just made and stored). */
  evalKeys: EvalKeyBlobs;
  /** True when this call made a new secret key. */
  created: boolean;
  /** True when this prompt's key set is new (nothing links it to an earlier prompt's keys). */
  fresh: boolean;
};

const SECRET_FILE = "secret.key";
const manifestSchema = z.strictObject({
  version: z.literal(1),
  paramSet: z.string(),
  rotations: z.array(z.number().int()),
  relinearization: z.boolean(),
  /** sha256 of secret.key: evaluation keys belong to the secret key that made them. */
  secretKey: z.string().regex(/^[0-9a-f]{64}$/),
  galois: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
  relin: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
});
type Manifest = z.infer<typeof manifestSchema>;

/** What names a plan's evaluation keys: its sorted rotation steps and whether it relinearizes. */
export function evalKeysId(plan: EnginePlan): string {
  const text = JSON.stringify({
    rotations: sortedRotations(plan),
    relinearization: planNeedsRelinearization(plan),
  });
  return sha256(text).slice(0, 16);
}

/** How `openKeystore` rotates the key set (sdk/key-rotation.ts); default `DEFAULT_KEY_ROTATION`. */
export type KeystoreOptions = { rotation?: KeyRotation };

/**
 * Opens (or creates) the keystore in `dir` for `paramSet` and returns a client with a secret key
 * and the evaluation keys `plan` needs, counting the prompt against the key set. The rotation
 * policy decides whether that is the stored set (its evaluation keys made on first use, reused
 * afterwards) or a fresh one (`needsFreshKeys`); a set rotated out is deleted. Under `"session"`
 * the fresh set is never written: it lives in memory for one prompt, and a stored set is deleted.
 */
export async function openKeystore(
  dir: string,
  paramSet: ParamSetId,
  plan: EnginePlan,
  options: KeystoreOptions = {},
): Promise<OpenedKeystore> {
  if (plan.paramSet !== paramSet) {
    throw new BasedError(
      "input",
      "WrongParameters",
      `The plan uses CKKS parameters ${plan.paramSet}, not ${paramSet}.`,
      "Open the keystore with the plan's own parameter set.",
    );
  }
  const rotation = options.rotation ?? DEFAULT_KEY_ROTATION;
  const root = path.resolve(dir);
  const keyDir = path.join(root, paramSet);

  if (rotation === "session") {
    // Nothing is kept: the set lives for this prompt only, and a stored one is rotated out.
    if (fs.existsSync(keyDir)) deleteKeySet(keyDir);
    const { client, evalKeys } = await freshKeys(paramSet, plan);
    return { client, evalKeys, created: true, fresh: true };
  }

  makePrivateDir(root, keyDir);
  const secretFile = path.join(keyDir, SECRET_FILE);
  let created = false;
  let client: CkksClient;
  let secretBytes: Uint8Array;
  let promptsBefore = 0;
  if (fs.existsSync(secretFile)) {
    secretBytes = readPrivate(secretFile);
    client = await clientFromSecret(paramSet, secretBytes, secretFile, keyDir);
    promptsBefore = promptsOn(keyDir, sha256(secretBytes));
    if (needsFreshKeys(rotation, promptsBefore)) {
      // Rotated out: a new secret key replaces the old one, and the old one's evaluation keys go.
      client.delete();
      client = await createClient({ paramSet });
      secretBytes = exportSecretKey(client);
      deleteKeySet(keyDir);
      writeAtomic(secretFile, secretBytes);
      created = true;
      promptsBefore = 0;
    }
  } else {
    client = await createClient({ paramSet });
    secretBytes = exportSecretKey(client);
    if (writeIfAbsent(secretFile, secretBytes)) {
      created = true;
      // Evaluation keys left from an earlier secret key would not match this one.
      for (const f of fs.readdirSync(keyDir)) if (f.startsWith("eval-")) fs.rmSync(path.join(keyDir, f));
    } else {
      // Another process created the key first: use that one, as it will.
      client.delete();
      secretBytes = readPrivate(secretFile);
      client = await clientFromSecret(paramSet, secretBytes, secretFile, keyDir);
      promptsBefore = promptsOn(keyDir, sha256(secretBytes));
    }
  }

  try {
    const secretSha = sha256(secretBytes);
    const evalKeys = loadOrMakeEvalKeys(client, keyDir, plan, secretSha);
    writeUses(keyDir, { version: 1, secretKey: secretSha, prompts: promptsBefore + 1 });
    return { client, evalKeys, created, fresh: created };
  } catch (err) {
    client.delete();
    throw err;
  }
}

const USES_FILE = "uses.json";
const usesSchema = z.strictObject({
  version: z.literal(1),
  /** sha256 of the secret key whose prompts are counted. */
  secretKey: z.string().regex(/^[0-9a-f]{64}$/),
  prompts: z.number().int().min(0),
});

/** Prompts that used the stored set made with secret key `secretSha` (0 when never counted). */
function promptsOn(keyDir: string, secretSha: string): number {
  try {
    const uses = usesSchema.parse(JSON.parse(fs.readFileSync(path.join(keyDir, USES_FILE), "utf8")));
    return uses.secretKey === secretSha ? uses.prompts : 0;
  } catch {
    // No count yet (a keystore of an earlier version) or a damaged one: count from here.
    return 0;
  }
}

function writeUses(keyDir: string, uses: z.infer<typeof usesSchema>): void {
  writeAtomic(path.join(keyDir, USES_FILE), new TextEncoder().encode(JSON.stringify(uses) + "\n"));
}

/** Deletes the stored key set of one parameter set: its secret key, evaluation keys and count. */
function deleteKeySet(keyDir: string): void {
  for (const f of fs.readdirSync(keyDir)) {
    if (f === SECRET_FILE || f === USES_FILE || f.startsWith("eval-"))
      fs.rmSync(path.join(keyDir, f), { force: true });
  }
}

// ---------------------------------------------------------------------------------------------

/** The plan's rotation steps, each once, ascending: the form the id and the manifest use. */
function sortedRotations(plan: EnginePlan): number[] {
  return [...new Set(planRotations(plan))].sort((a, b) => a - b);
}

function loadOrMakeEvalKeys(
  client: CkksClient,
  keyDir: string,
  plan: EnginePlan,
  secretSha: string,
): EvalKeyBlobs {
  const id = evalKeysId(plan);
  const manifestFile = path.join(keyDir, `eval-${id}.json`);
  const blobFile = (kind: "galois" | "relin") => path.join(keyDir, `eval-${id}.${kind}`);
  const rotations = sortedRotations(plan);
  const relinearization = planNeedsRelinearization(plan);

  if (fs.existsSync(manifestFile)) {
    let manifest: Manifest;
    try {
      manifest = manifestSchema.parse(JSON.parse(fs.readFileSync(manifestFile, "utf8")));
    } catch (err) {
      throw corrupt(manifestFile, keyDir, `it is not a keystore manifest (${(err as Error).message})`);
    }
    const sameKeys =
      manifest.paramSet === plan.paramSet &&
      manifest.relinearization === relinearization &&
      JSON.stringify(manifest.rotations) === JSON.stringify(rotations);
    if (!sameKeys)
      throw corrupt(manifestFile, keyDir, "it describes other evaluation keys than its name says");
    // Keys made with another secret key are not damaged, just useless: make new ones below.
    if (manifest.secretKey === secretSha) {
      const blobs: EvalKeyBlobs = {};
      for (const kind of ["galois", "relin"] as const) {
        const want = manifest[kind];
        if (want === null) continue;
        const file = blobFile(kind);
        if (!fs.existsSync(file)) throw corrupt(file, keyDir, "it is missing");
        const bytes = readPrivate(file);
        if (sha256(bytes) !== want) throw corrupt(file, keyDir, "its checksum does not match the manifest");
        blobs[kind] = bytes;
      }
      return blobs;
    }
  }

  const blobs = client.makeEvalKeysForPlan(plan);
  for (const kind of ["galois", "relin"] as const) {
    const bytes = blobs[kind];
    if (bytes) writeAtomic(blobFile(kind), bytes);
  }
  const manifest: Manifest = {
    version: 1,
    paramSet: plan.paramSet,
    rotations,
    relinearization,
    secretKey: secretSha,
    galois: blobs.galois ? sha256(blobs.galois) : null,
    relin: blobs.relin ? sha256(blobs.relin) : null,
  };
  writeAtomic(manifestFile, new TextEncoder().encode(JSON.stringify(manifest, null, 1) + "\n"));
  return blobs;
}

async function clientFromSecret(
  paramSet: ParamSetId,
  bytes: Uint8Array,
  file: string,
  keyDir: string,
): Promise<CkksClient> {
  try {
    return await createClient({ paramSet, secretKey: bytes });
  } catch (err) {
    throw corrupt(file, keyDir, (err as Error).message.replace(/\.$/, ""));
  }
}

function corrupt(file: string, keyDir: string, why: string): BasedError {
  return new BasedError(
    "environment",
    "KeystoreCorrupt",
    `The keystore file ${file} cannot be used: ${why}.`,
    `Delete the folder ${keyDir} to make new keys (the next prompt uploads new evaluation keys); ` +
      "set BASED_KEYSTORE to use another keystore.",
  );
}

function makePrivateDir(root: string, keyDir: string): void {
  const rootExisted = fs.existsSync(root);
  try {
    fs.mkdirSync(keyDir, { recursive: true, mode: 0o700 });
    // mkdir's mode passes through the umask and leaves existing folders alone; the key's own
    // folder is ours, so it is set explicitly. A keystore root the user chose keeps its mode.
    fs.chmodSync(keyDir, 0o700);
    if (!rootExisted) fs.chmodSync(root, 0o700);
  } catch (err) {
    throw new BasedError(
      "environment",
      "KeystoreUnwritable",
      `Cannot create the keystore folder ${keyDir}: ${(err as Error).message}.`,
      "Set BASED_KEYSTORE (or keystore in the config file) to a folder you can write.",
    );
  }
}

function readPrivate(file: string): Uint8Array {
  // Files a user copied in with looser permissions are tightened, as the keystore writes them.
  if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  const b = fs.readFileSync(file);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function tempName(file: string): string {
  return `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
}

function writeTemp(file: string, bytes: Uint8Array): string {
  const tmp = tempName(file);
  const fd = fs.openSync(tmp, "wx", 0o600);
  try {
    fs.writeSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return tmp;
}

function writeAtomic(file: string, bytes: Uint8Array): void {
  fs.renameSync(writeTemp(file, bytes), file);
}

/** Writes `file` unless it exists (atomically: hard links never replace); false when it did. */
function writeIfAbsent(file: string, bytes: Uint8Array): boolean {
  const tmp = writeTemp(file, bytes);
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * The keys of encrypted prompts (sdk/prompt.ts `openKeys`), kept in keystore folder `dir` and
 * rotated by `rotation` (default `DEFAULT_KEY_ROTATION`: a fresh set for every prompt).
 */
export const keystoreKeys =
  (dir: string, rotation: KeyRotation = DEFAULT_KEY_ROTATION): OpenKeys =>
  (paramSet, plan) =>
    openKeystore(dir, paramSet, plan, { rotation });
