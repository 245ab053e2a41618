// Deterministic, fast randomness for synthetic weights. xoshiro128** gives 32 random bits per step
// using only 32-bit integer ops (cheap in V8); every tensor gets its own stream derived from
// (seed, tensor name), so a tensor's values do not depend on file format or writing order.

export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let state = seed >>> 0;
    const next = (): number => {
      // splitmix32: spreads one 32-bit seed over the four state words (never all zero).
      state = (state + 0x9e3779b9) | 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next() | 1;
  }

  /**
   * out[i] = table[16 random bits] for i < n: two lookups per 32-bit draw. The generator state lives in
   * locals inside the loop, which is much faster in V8 than a method call per value.
   */
  fillFromTable(out: Float32Array | Uint16Array, table: Float32Array | Uint16Array, n: number): void {
    let s0 = this.s0, s1 = this.s1, s2 = this.s2, s3 = this.s3;
    for (let i = 0; i < n; i += 2) {
      const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[i] = table[r & 0xffff];
      if (i + 1 < n) out[i + 1] = table[r >>> 16];
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** FNV-1a of the name folded with the user's seed: the per-tensor stream seed. */
export function streamSeed(seed: number, name: string): number {
  let hash = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= Math.imul(seed >>> 0, 0x9e3779b1);
  return hash >>> 0;
}

/**
 * The 65,536 values a 16-bit random index maps to: a uniform grid over [center − halfWidth, center + halfWidth].
 * Drawing weights as table lookups keeps generation of ~10^9 values fast; 16 bits of resolution is
 * plenty for random test weights.
 */
export function uniformGrid(center: number, halfWidth: number): Float32Array {
  const grid = new Float32Array(65536);
  for (let i = 0; i < 65536; i++) grid[i] = center + halfWidth * ((i + 0.5) / 32768 - 1);
  return grid;
}
