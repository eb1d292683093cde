/**
 * The plaintext-by-ciphertext multiply-accumulate of the encrypted linear layers, in
 * AssemblyScript (built by scripts/build-wasm.ts into ../generated/mac-kernels-wasm.ts).
 *
 * Every term of a diagonal product is a coefficient-wise product of NTT-form residues,
 * pt[j]·ct[j] mod q. SEAL reduces each product and each sum, and in WebAssembly its 128-bit
 * products are emulated, which made multiply-plain the larger part of a token's time. Here the
 * 120-bit products are summed exactly in 128-bit accumulators (`mac`) and reduced once per output
 * (`reduce`, Barrett with floor(2^128 / q)). The result is the same residue SEAL computes, bit
 * for bit: a sum of products taken mod q is the same number whatever order the reductions ran in.
 * Sums stay exact while fewer than 2^8 terms of products below 2^120 are added (primes ≤ 60 bits).
 */

/** The first free byte after the module's own data (JS allocates from here). */
export function heapBase(): usize {
  return __heap_base;
}

function mulhi(x: u64, w: u64): u64 {
  const a0 = x & 0xffffffff;
  const a1 = x >> 32;
  const b0 = w & 0xffffffff;
  const b1 = w >> 32;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  return a1 * b1 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/**
 * acc[j] += ct[j]·pt[j] for j < n, where acc holds (low, high) u64 pairs and ct, pt u64
 * residues (each below its prime, so a product stays below 2^120).
 */
export function mac(acc: usize, ct: usize, pt: usize, n: i32): void {
  // The product is spelled out rather than built from `mulhi`: the low word shares p00 and mid
  // with the high one, and this loop is most of a token's time.
  for (let j = 0; j < n; j++) {
    const x = load<u64>(ct + ((<usize>j) << 3));
    const w = load<u64>(pt + ((<usize>j) << 3));
    const a0 = x & 0xffffffff;
    const a1 = x >> 32;
    const b0 = w & 0xffffffff;
    const b1 = w >> 32;
    const p00 = a0 * b0;
    const p01 = a0 * b1;
    const p10 = a1 * b0;
    const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
    const lo = (p00 & 0xffffffff) | (mid << 32);
    const hi = a1 * b1 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    const at = acc + ((<usize>j) << 4);
    const sum = load<u64>(at) + lo;
    store<u64>(at, sum);
    store<u64>(at, load<u64>(at, 8) + hi + u64(sum < lo), 8);
  }
}

/**
 * out[j] = acc[j] mod q for j < n (acc as in `mac`), by Barrett reduction with
 * floor(2^128 / q) = r1·2^64 + r0.
 */
export function reduce(out: usize, acc: usize, n: i32, q: u64, r0: u64, r1: u64): void {
  for (let j = 0; j < n; j++) {
    const at = acc + ((<usize>j) << 4);
    const in0 = load<u64>(at);
    const in1 = load<u64>(at, 8);
    // floor(acc · ratio / 2^128), to within q, from the partial products' high words.
    let carry = mulhi(in0, r0);
    const a = in0 * r1;
    let t1 = a + carry;
    const t3 = mulhi(in0, r1) + u64(t1 < a);
    const b = in1 * r0;
    const s = t1 + b;
    carry = mulhi(in1, r0) + u64(s < t1);
    t1 = in1 * r1 + t3 + carry;
    let r = in0 - t1 * q;
    if (r >= q) r -= q;
    store<u64>(out + ((<usize>j) << 3), r);
  }
}
