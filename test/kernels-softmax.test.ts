// The attention-weight kernel (exp(s − max) / Σ, optionally rounded to f16): the AVX2 / AVX-512 versions with
// their polynomial exp against a float64 reference, hidden slots (−inf) exactly 0, every length's tail.
import { describe, expect, it } from 'vitest';
import { nativeAddon } from '../engine/native.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function reference(scores: Float32Array, max: number): Float64Array {
  const e = Float64Array.from(scores, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** Nearest f16 of a float, back as a number (round to nearest even, normal range). */
function toF16(v: number): number {
  if (v === 0) return 0;
  const e = Math.floor(Math.log2(Math.abs(v)));
  const step = 2 ** (Math.max(e, -14) - 10);
  const q = v / step;
  const r = Math.round(q);
  const even = Math.abs(q - Math.trunc(q)) === 0.5 ? 2 * Math.round(q / 2) : r;
  return even * step;
}

describe('softmax kernel', () => {
  const addon = nativeAddon();
  for (const length of [1, 7, 8, 15, 16, 17, 33, 300]) {
    it(`length ${length}: every kernel within 2e-6 (relative) of float64, hidden slots 0, f16 rounding exact`, () => {
      const rand = lcg(length);
      const scores = Float32Array.from({ length }, () => (rand() - 0.5) * 30);
      for (let i = 0; i < length; i += 5) if (i > 0) scores[i] = -Infinity; // hidden slots (slot 0 stays visible)
      let max = -Infinity;
      for (const v of scores) max = Math.max(max, v);
      const want = reference(scores, max);
      let ran = 0;
      for (const kernels of ['portable', 'avx2', 'avx512'] as const) {
        const got = addon.softmaxKernel(kernels, scores, max, false);
        if (got === null) continue;
        ran++;
        for (let i = 0; i < length; i++) {
          if (scores[i] === -Infinity) expect(got[i]).toBe(0);
          else expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(2e-6 * want[i] + 1e-30);
        }
        const rounded = addon.softmaxKernel(kernels, scores, max, true)!;
        for (let i = 0; i < length; i++) expect(rounded[i]).toBe(toF16(got[i]));
      }
      expect(ran).toBeGreaterThanOrEqual(1);
    });
  }

  it('underflow to 0 below exp(−87.3), and refuses bad arguments', () => {
    const scores = Float32Array.from([0, -80, -90, -200]);
    for (const kernels of ['portable', 'avx2', 'avx512'] as const) {
      const got = addon.softmaxKernel(kernels, scores, 0, false);
      if (got === null) continue;
      expect(got[0]).toBeCloseTo(1, 6);
      expect(got[1]).toBeGreaterThan(0);
      expect(got[3]).toBe(0);
    }
    expect(() => addon.softmaxKernel('gpu' as never, scores, 0, false)).toThrow(/kernels must be/);
    expect(() => addon.softmaxKernel('portable', new Float32Array(0), 0, false)).toThrow(/non-empty/);
  });
});
