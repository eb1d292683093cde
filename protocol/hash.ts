/**
 * The project's hashes. Keccak-256 through hash-wasm (a maintained WebAssembly build): the one
 * module that imports hash-wasm. Its hashers load asynchronously (the WebAssembly module is
 * compiled once), then hash synchronously; so the loading is memoised here, and what hashes in bulk
 * awaits the loaded hasher once and then runs without another await. Callers outside protocol/
 * call the async functions that use it (`keccak256Bytes` here, `standardTreeOf` in ./merkle.ts,
 * `outputsHash` in ./gateway.ts, the trees of ./report.ts); only a test or a bench that checks or
 * times single hashes needs `keccak256Hasher` itself.
 */
import { type IHasher, createKeccak } from "hash-wasm";
import { bytesToHex, sha256 as viemSha256 } from "viem";

/** A loaded Keccak-256: every call synchronous, so no other caller can interleave with one. */
export interface Keccak256 {
  /** keccak256 of all of `input` into out[at, at + 32). */
  hashInto(input: Uint8Array, out: Uint8Array, at: number): void;
  /** keccak256 of `input`, as 32 new bytes. */
  hash(input: Uint8Array): Uint8Array;
}

/**
 * One hasher for the process. It is only ever used between `init()` and `digest()` without an
 * await in between, so sharing it is safe on one thread; one instance also means one WebAssembly
 * memory, not one per tree or per job.
 */
function keccakOf(hasher: IHasher): Keccak256 {
  return {
    hashInto(input, out, at) {
      hasher.init();
      hasher.update(input);
      // digest("binary") copies out of the WebAssembly memory: the one allocation per hash that
      // hash-wasm's API leaves.
      out.set(hasher.digest("binary"), at);
    },
    hash(input) {
      hasher.init();
      hasher.update(input);
      return hasher.digest("binary");
    },
  };
}

let loaded: Promise<Keccak256> | undefined;

/**
 * The process's Keccak-256, loaded on the first call (the same promise after). For protocol/'s own
 * bulk hashing; a failed load is not kept, so a later call tries again.
 */
export function keccak256Hasher(): Promise<Keccak256> {
  loaded ??= createKeccak(256).then(keccakOf, (err: unknown) => {
    loaded = undefined;
    throw err;
  });
  return loaded;
}

/** keccak256 of `input`, as 32 new bytes (viem's `keccak256(input, "bytes")`, faster on large inputs). */
export async function keccak256Bytes(input: Uint8Array): Promise<Uint8Array> {
  return (await keccak256Hasher()).hash(input);
}

/**
 * SHA-256 of `input` (key blobs' content addresses, signed bodies, saved-key frames, model
 * weights), through viem's maintained implementation: synchronous and the same in a browser.
 */
export function sha256(input: Uint8Array | string): Uint8Array {
  return viemSha256(typeof input === "string" ? new TextEncoder().encode(input) : input, "bytes");
}

/** SHA-256 of `input` as 64 lowercase hex digits. */
export function sha256Hex(input: Uint8Array | string): string {
  return bytesToHex(sha256(input)).slice(2);
}
