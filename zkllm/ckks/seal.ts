/**
 * Loads node-seal once per thread and keeps a handle on its WebAssembly memory.
 *
 * node-seal 6.0.3 does not expose the Emscripten module, yet the engine must watch the WASM heap
 * (it is capped at 4 GiB and never shrinks, so a leak eventually kills the process). The loader
 * therefore wraps `WebAssembly.instantiate` for the duration of the one `require("node-seal")()`
 * call and keeps the exported `WebAssembly.Memory`. Each worker thread has its own instance.
 */
import type { SEALLibrary } from "node-seal/implementation/seal";

/** A loaded SEAL library and the memory its WASM instance runs in. */
export type SealRuntime = {
  /** The node-seal library object (constructors, enums). */
  readonly seal: SEALLibrary;
  /** Bytes currently reserved by the WASM heap (grows in 64 KiB pages, never shrinks). */
  heapBytes(): number;
};

/** The slice of the WebAssembly global this module touches (the project's lib has no DOM types). */
type WasmMemory = { buffer: ArrayBuffer };
type WasmApi = {
  instantiate: (...args: unknown[]) => Promise<unknown>;
  Memory: abstract new (...args: never[]) => WasmMemory;
};

let runtime: Promise<SealRuntime> | undefined;

/** Returns this thread's SEAL runtime, loading it on first use. */
export function loadSeal(): Promise<SealRuntime> {
  runtime ??= instantiate();
  return runtime;
}

async function instantiate(): Promise<SealRuntime> {
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  let memory: WasmMemory | undefined;
  const original = wasm.instantiate;
  // Why a wrapper: node-seal instantiates its embedded WASM bytes with `WebAssembly.instantiate`
  // and keeps the resulting memory private; this is the only place the memory object is visible.
  wasm.instantiate = async (...args: unknown[]) => {
    const result = (await original.apply(wasm, args)) as { instance?: { exports: object }; exports?: object };
    const exports = result.instance?.exports ?? result.exports ?? {};
    for (const value of Object.values(exports)) {
      if (value instanceof wasm.Memory) memory = value;
    }
    return result;
  };
  let seal: SEALLibrary;
  try {
    type Factory = () => Promise<SEALLibrary>;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require("node-seal") as Factory | { default: Factory };
    // Node loads node-seal's UMD build (the factory itself); a browser bundle gets its ES build
    // (the "browser" map of package.json), whose factory is the default export.
    const factory = typeof loaded === "function" ? loaded : loaded.default;
    seal = await factory();
  } finally {
    wasm.instantiate = original;
  }
  const captured = memory;
  return {
    seal,
    heapBytes: () => captured?.buffer.byteLength ?? Number.NaN,
  };
}
