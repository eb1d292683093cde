/**
 * Where evaluation-key blobs live (docs/gateway.md "Replicas"). They are large (up to 64 MiB each,
 * two per session) and read once per miner and session, so by default they are files in a
 * directory the replicas on one host share (`--blob-dir`), written atomically (a temporary file,
 * then a rename), and Redis keeps only their metadata: `blob:<sha256>` holds the size and carries
 * the blob's expiry. A blob is there when both its metadata and its file are; a file whose
 * metadata expired is deleted by `sweep` (the leader runs it). `RedisBlobStore` keeps the bytes in
 * Redis itself, as the gateway always did (one host-independent store, for tests and small set-ups).
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Redis } from "ioredis";

export interface BlobStore {
  /** Stores `bytes` under `hash` for `ttlMs` (a second put renews it). */
  put(hash: string, bytes: Buffer, ttlMs: number): Promise<void>;
  /** The bytes, or null when not held (never uploaded, expired, or larger than the store's bound). */
  get(hash: string): Promise<Buffer | null>;
  has(hash: string): Promise<boolean>;
  /** Makes blobs live at least `ttlMs` more (never shortens them). */
  keep(hashes: readonly string[], ttlMs: number): Promise<void>;
  delete(hash: string): Promise<void>;
}

/** The default `--blob-dir`: under the OS temp dir, one directory per prefix and Brain. */
export const defaultBlobDir = (prefix: string, brainId: number) =>
  path.join(os.tmpdir(), "based-gateway-blobs", `${prefix}-${brainId}`);

const HASH = /^[0-9a-f]{64}$/;

function checkHash(hash: string): void {
  // The name becomes a path: nothing but a sha256 hex string is accepted.
  if (!HASH.test(hash)) throw new Error(`${hash} is not a blob hash (sha256, lowercase hex)`);
}

/** Bytes in Redis under `key(hash)`, reads bounded by `maxBytes`. */
export class RedisBlobStore implements BlobStore {
  constructor(
    private readonly redis: Redis,
    private readonly key: (hash: string) => string,
    private readonly maxBytes: number,
  ) {}

  async put(hash: string, bytes: Buffer, ttlMs: number): Promise<void> {
    await this.redis.set(this.key(hash), bytes, "PX", ttlMs);
  }

  async get(hash: string): Promise<Buffer | null> {
    if ((await this.redis.strlen(this.key(hash))) > this.maxBytes) return null;
    return this.redis.getBuffer(this.key(hash));
  }

  async has(hash: string): Promise<boolean> {
    return (await this.redis.exists(this.key(hash))) === 1;
  }

  async keep(hashes: readonly string[], ttlMs: number): Promise<void> {
    if (hashes.length === 0) return;
    const m = this.redis.multi();
    for (const h of hashes) m.pexpire(this.key(h), ttlMs, "GT");
    await m.exec();
  }

  async delete(hash: string): Promise<void> {
    await this.redis.del(this.key(hash));
  }
}

/** Files in `dir` named by their sha256; their sizes and expiries in Redis under `key(hash)`. */
export class FileBlobStore implements BlobStore {
  private made: Promise<unknown> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly key: (hash: string) => string,
    readonly dir: string,
    private readonly maxBytes: number,
  ) {}

  private file(hash: string): string {
    checkHash(hash);
    return path.join(this.dir, hash);
  }

  async put(hash: string, bytes: Buffer, ttlMs: number): Promise<void> {
    const file = this.file(hash);
    await (this.made ??= mkdir(this.dir, { recursive: true, mode: 0o700 }));
    // Readers never see a partial file: the bytes are written apart, then renamed into place.
    const tmp = path.join(this.dir, `.tmp-${hash}-${randomBytes(6).toString("hex")}`);
    try {
      await writeFile(tmp, bytes, { mode: 0o600 });
      await rename(tmp, file);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await this.redis.set(this.key(hash), String(bytes.length), "PX", ttlMs);
  }

  async get(hash: string): Promise<Buffer | null> {
    const file = this.file(hash);
    if ((await this.redis.exists(this.key(hash))) !== 1) return null;
    let handle;
    try {
      handle = await open(file, "r");
    } catch {
      return null;
    }
    try {
      const { size } = await handle.stat();
      if (size > this.maxBytes) return null;
      const out = Buffer.alloc(size);
      let at = 0;
      while (at < size) {
        const { bytesRead } = await handle.read(out, at, size - at, at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      return at === size ? out : null;
    } finally {
      await handle.close();
    }
  }

  async has(hash: string): Promise<boolean> {
    const file = this.file(hash);
    if ((await this.redis.exists(this.key(hash))) !== 1) return false;
    return stat(file).then(
      () => true,
      () => false,
    );
  }

  async keep(hashes: readonly string[], ttlMs: number): Promise<void> {
    if (hashes.length === 0) return;
    const m = this.redis.multi();
    for (const h of hashes) m.pexpire(this.key(h), ttlMs, "GT");
    await m.exec();
  }

  async delete(hash: string): Promise<void> {
    const file = this.file(hash);
    await this.redis.del(this.key(hash));
    await rm(file, { force: true });
  }

  /**
   * Deletes the files whose metadata expired (and temporary files left by a crash), once they are
   * older than `graceMs` (an upload renames its file before it writes the metadata). How many.
   */
  async sweep(graceMs = 60_000, now = Date.now()): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return 0;
    }
    let deleted = 0;
    for (const name of names) {
      const blob = HASH.test(name);
      if (!blob && !name.startsWith(".tmp-")) continue;
      const file = path.join(this.dir, name);
      const st = await stat(file).catch(() => undefined);
      if (!st || st.mtimeMs > now - graceMs) continue;
      if (blob && (await this.redis.exists(this.key(name))) === 1) continue;
      await rm(file, { force: true });
      deleted++;
    }
    return deleted;
  }
}
