// Reference selection policies of kvpress (spec §1.3, §2.3 PyramidKV, §2.9, §2.10, §2.16, §4.1) as plain loops.
import type { RopeStyle } from './layer-inputs.js';
import { rope } from './math.js';

/** floor(n·(1−r)) with Python int() truncation. */
export function keptCount(n: number, ratio: number): number {
  return Math.floor(n * (1 - ratio));
}

/** Indices of the `k` highest scores (ties → lower index first), ascending. */
export function topK(scores: ArrayLike<number>, k: number): number[] {
  const order = Array.from({ length: scores.length }, (_x, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, k).sort((a, b) => a - b);
}

/**
 * Whether `kept` is a top-k of `scores` up to `tol`: right count, no duplicates, and every kept score at least
 * every dropped score minus tol (ties and float32 rounding may pick either side of an equal pair).
 */
export function isTopK(scores: ArrayLike<number>, kept: ArrayLike<number>, k: number, tol: number): string | undefined {
  if (kept.length !== k) return `kept ${kept.length} slots, expected ${k}`;
  const set = new Set<number>(Array.from(kept));
  if (set.size !== kept.length) return 'kept a slot twice';
  let minKept = Infinity;
  let maxDropped = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    if (set.has(i)) minKept = Math.min(minKept, scores[i]);
    else maxDropped = Math.max(maxDropped, scores[i]);
  }
  if (minKept < maxDropped - tol) return `a dropped slot scored ${maxDropped} above a kept one (${minKept})`;
  return undefined;
}

/** PyramidKV's per-layer budget (spec §2.3). */
export function pyramidBudget(n: number, windowSize: number, beta: number, ratio: number, nLayers: number, layer: number): number {
  const w = windowSize;
  const cap = w + n * (1 - ratio);
  let minNum = (cap - w) / beta;
  let maxNum = 2 * (cap - w) - minNum;
  if (maxNum >= n - w) {
    maxNum = n - w;
    minNum = 2 * (cap - w) - maxNum;
  }
  if (!(n >= maxNum && maxNum >= minNum && minNum >= w)) return Math.round(n * (1 - ratio));
  return Math.round(maxNum - (layer * (maxNum - minNum)) / (nLayers - 1));
}

/**
 * AdaKV (spec §2.16): top floor(nKept·α) per head are forced in; then the layer's Hk·nKept highest scores
 * (after forcing) are kept. Returns per-head kept index lists, ascending.
 */
export function adaKVSelect(scores: ArrayLike<number>[], ratio: number, alpha: number): number[][] {
  const n = scores[0].length;
  const nKept = keptCount(n, ratio);
  const safeguard = Math.floor(nKept * alpha);
  const flat: { h: number; t: number; s: number }[] = [];
  scores.forEach((row, h) => {
    const forced = new Set(topK(row, safeguard));
    for (let t = 0; t < n; t++) flat.push({ h, t, s: forced.has(t) ? Infinity : row[t] });
  });
  flat.sort((a, b) => b.s - a.s);
  const kept: number[][] = scores.map(() => []);
  for (const e of flat.slice(0, scores.length * nKept)) kept[e.h].push(e.t);
  return kept.map((k) => k.sort((a, b) => a - b));
}

/** Rotates a RoPE'd key by (to − from)·θ: the key as if RoPE had been applied at `to` instead of `from`. */
export function rerotate(keyVec: ArrayLike<number>, from: number, to: number, theta: number, style: RopeStyle = 'half-split'): Float64Array {
  return rope(keyVec, to - from, theta, style);
}

/**
 * DecodingPress's cache length over generation (spec §4.1): the question forward and every generated token
 * are steps; after `interval` steps the cache (context + generated) is cut to `target`.
 */
export function decodingCacheSizes(contextLength: number, steps: number, interval: number, target: number): number[] {
  return cacheSizesOverSteps(contextLength, steps, interval, () => target, true);
}

/** CAMPress's schedule (spec §4.4): compress when (steps ≥ interval and size > target); the counter resets only then. */
export function camCacheSizes(contextLength: number, steps: number, interval: number, target: number): number[] {
  return cacheSizesOverSteps(contextLength, steps, interval, () => target, false);
}

/** CompressionRatioDecodingPress: DecodingPress whose target is max(1, floor(tokensSeen·(1 − r))). */
export function ratioDecodingCacheSizes(contextLength: number, steps: number, interval: number, ratio: number): number[] {
  return cacheSizesOverSteps(contextLength, steps, interval, (s) => Math.max(1, keptCount(contextLength + s + 1, ratio)), true);
}

/**
 * One decoding step after another: the cache grows by one, and once `interval` steps have passed since the
 * last compression it is cut to targetAt(step). The step counter restarts at every such point (DecodingPress),
 * or only when the cache really was longer than the target (CAMPress: resetsWhenShorter = false).
 */
function cacheSizesOverSteps(contextLength: number, steps: number, interval: number, targetAt: (step: number) => number, resetsWhenShorter: boolean): number[] {
  const sizes: number[] = [];
  let size = contextLength;
  let sinceCompression = 0;
  for (let s = 0; s < steps; s++) {
    size += 1;
    sinceCompression += 1;
    const target = targetAt(s);
    if (sinceCompression >= interval && (resetsWhenShorter || size > target)) {
      size = Math.min(size, target);
      sinceCompression = 0;
    }
    sizes.push(size);
  }
  return sizes;
}
