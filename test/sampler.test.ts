// The native sampler against a plain TypeScript reference on fixed logits: the distribution it draws
// from after mask, penalties, top-k, top-p, min-p and temperature (llama.cpp semantics and order).
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, fromNativeError } from '../engine/errors.js';
import { nativeAddon, type NativeSampling } from '../engine/native.js';

const addon = nativeAddon();

interface Ref extends NativeSampling {
  history?: number[];
  allowed?: number[];
}

/** Plain reference: the same pipeline written the obvious way, in float64. */
function referenceDistribution(logits: Float32Array, o: Ref): Float64Array {
  const vocab = logits.length;
  let cand: { t: number; l: number }[] = [];
  const allowed = o.allowed ? new Set(o.allowed) : undefined;
  for (let t = 0; t < vocab; t++) if (!allowed || allowed.has(t)) cand.push({ t, l: logits[t] });
  const rep = o.repetitionPenalty ?? 1;
  const pres = o.presencePenalty ?? 0;
  const freq = o.frequencyPenalty ?? 0;
  const lastN = o.penaltyLastN ?? 64;
  const hist = o.history ?? [];
  const window = lastN < 0 ? hist : hist.slice(Math.max(0, hist.length - lastN));
  if (lastN !== 0) {
    const counts = new Map<number, number>();
    for (const t of window) counts.set(t, (counts.get(t) ?? 0) + 1);
    cand = cand.map(({ t, l }) => {
      const c = counts.get(t);
      if (!c) return { t, l };
      let v = Math.fround(l > 0 ? l / rep : l * rep);
      v = v - c * freq - pres;
      return { t, l: v };
    });
  }
  const out = new Float64Array(vocab);
  const temperature = o.temperature ?? 0;
  cand.sort((a, b) => b.l - a.l || a.t - b.t);
  if (temperature === 0) {
    out[cand[0].t] = 1;
    return out;
  }
  const topK = o.topK ?? 0;
  if (topK > 0) cand = cand.slice(0, topK);
  const soft = (c: { l: number }[]) => {
    const m = Math.max(...c.map((x) => x.l));
    const e = c.map((x) => Math.exp(x.l - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / s);
  };
  const topP = o.topP ?? 1;
  if (topP < 1) {
    const p = soft(cand);
    let cum = 0;
    let keep = cand.length;
    for (let i = 0; i < p.length; i++) {
      cum += p[i];
      if (cum >= topP) {
        keep = i + 1;
        break;
      }
    }
    cand = cand.slice(0, keep);
  }
  const minP = o.minP ?? 0;
  if (minP > 0) {
    const p = soft(cand);
    const pmax = Math.max(...p);
    cand = cand.filter((_, i) => p[i] >= minP * pmax);
  }
  const p = soft(cand.map(({ l }) => ({ l: l / temperature })));
  cand.forEach(({ t }, i) => (out[t] = p[i]));
  return out;
}

/** Deterministic pseudo-random logits (no ties). */
function fixedLogits(n: number, seed: number, scale = 3): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

function nativeDistribution(logits: Float32Array, o: Ref): Float32Array {
  const { history, allowed, ...sampling } = o;
  return addon.samplerDistribution(logits, sampling, history ? Int32Array.from(history) : undefined, allowed ? Int32Array.from(allowed) : undefined);
}

function expectClose(actual: Float32Array, expected: Float64Array, tol = 2e-6) {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (Math.abs(actual[i] - expected[i]) > tol) throw new Error(`token ${i}: native ${actual[i]} vs reference ${expected[i]}`);
  }
}

const argmax = (a: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
};

describe('native sampler vs reference', () => {
  const logits = fixedLogits(200, 7);
  const history = [3, 17, 17, 42, 99, 3, 150, 17, argmax(logits)];

  const cases: [string, Ref][] = [
    ['temperature only', { temperature: 0.7 }],
    ['temperature 1.3', { temperature: 1.3 }],
    ['top-k', { temperature: 1, topK: 10 }],
    ['top-p', { temperature: 0.9, topP: 0.6 }],
    ['min-p', { temperature: 1, minP: 0.2 }],
    ['top-k + top-p + min-p', { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 }],
    ['repetition penalty', { temperature: 1, repetitionPenalty: 1.5, history }],
    ['presence + frequency penalty', { temperature: 1, presencePenalty: 0.5, frequencyPenalty: 0.3, history }],
    ['penalty window', { temperature: 1, repetitionPenalty: 2, penaltyLastN: 3, history }],
    ['whole-history penalty', { temperature: 1, repetitionPenalty: 2, penaltyLastN: -1, history }],
    ['allowed mask', { temperature: 1, allowed: [5, 9, 77, 150, 199] }],
    ['everything', { temperature: 0.6, topK: 50, topP: 0.9, minP: 0.02, repetitionPenalty: 1.2, frequencyPenalty: 0.1, history, allowed: Array.from({ length: 120 }, (_, i) => i * 1 + 40) }],
  ];
  for (const [name, o] of cases) {
    it(`${name}: same distribution as the reference`, () => {
      const ref = referenceDistribution(logits, o);
      const got = nativeDistribution(logits, o);
      expectClose(got, ref);
      expect(got.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    });
  }

  it('filters really remove tokens (top-k keeps exactly k)', () => {
    const got = nativeDistribution(logits, { temperature: 1, topK: 7 });
    expect(got.filter((p) => p > 0).length).toBe(7);
  });

  it('greedy (temperature 0) is the argmax, after penalties', () => {
    const got = nativeDistribution(logits, { temperature: 0 });
    expect(argmax(got)).toBe(argmax(logits));
    expect(got[argmax(logits)]).toBe(1);
    const draws = addon.samplerDraw(logits, { temperature: 0 }, undefined, undefined, 20);
    expect([...new Set(draws)]).toEqual([argmax(logits)]);
    // A strong repetition penalty on the best token moves the argmax to the reference's choice.
    const penalized = nativeDistribution(logits, { temperature: 0, repetitionPenalty: 50, history: [argmax(logits)] });
    expect(argmax(penalized)).toBe(argmax(referenceDistribution(logits, { temperature: 0, repetitionPenalty: 50, history: [argmax(logits)] })));
    expect(argmax(penalized)).not.toBe(argmax(logits));
  });

  it('repetition penalty divides positive logits and multiplies negative ones (llama.cpp)', () => {
    const l = Float32Array.from([2, -2, 0.5]);
    // With temperature 1 the distribution reveals the penalised logits: [1, -4, 0.5].
    const got = nativeDistribution(l, { temperature: 1, repetitionPenalty: 2, history: [0, 1] });
    const e = [Math.exp(1), Math.exp(-4), Math.exp(0.5)];
    const s = e[0] + e[1] + e[2];
    expect(got[0]).toBeCloseTo(e[0] / s, 6);
    expect(got[1]).toBeCloseTo(e[1] / s, 6);
    expect(got[2]).toBeCloseTo(e[2] / s, 6);
  });

  it('seeded draws are reproducible and follow the distribution', () => {
    const o = { temperature: 1, topK: 8, seed: 1234 };
    const a = addon.samplerDraw(logits, o, undefined, undefined, 20000);
    const b = addon.samplerDraw(logits, o, undefined, undefined, 20000);
    expect(Array.from(a)).toEqual(Array.from(b));
    const c = addon.samplerDraw(logits, { ...o, seed: 1235 }, undefined, undefined, 20000);
    expect(Array.from(c)).not.toEqual(Array.from(a));
    const dist = referenceDistribution(logits, o);
    const counts = new Float64Array(logits.length);
    for (const t of a) counts[t]++;
    for (let t = 0; t < logits.length; t++) {
      expect(Math.abs(counts[t] / a.length - dist[t])).toBeLessThan(0.015);
      if (dist[t] === 0) expect(counts[t]).toBe(0);
    }
  });

  it('draws only allowed tokens', () => {
    const allowed = Int32Array.from([3, 8, 190]);
    const draws = addon.samplerDraw(logits, { temperature: 2, seed: 5 }, undefined, allowed, 500);
    for (const t of draws) expect([3, 8, 190]).toContain(t);
    expect(new Set(draws).size).toBe(3);
  });

  const invalid: [string, NativeSampling][] = [
    ['NaN temperature', { temperature: NaN }],
    ['negative temperature', { temperature: -0.5 }],
    ['infinite temperature', { temperature: Infinity }],
    ['topP = 0', { topP: 0 }],
    ['topP > 1', { topP: 1.5 }],
    ['negative topK', { topK: -1 }],
    ['fractional topK', { topK: 2.5 }],
    ['minP > 1', { minP: 2 }],
    ['repetitionPenalty = 0', { repetitionPenalty: 0 }],
    ['NaN presencePenalty', { presencePenalty: NaN }],
    ['penaltyLastN < -1', { penaltyLastN: -2 }],
    ['fractional seed', { seed: 1.5 }],
  ];
  for (const [name, sampling] of invalid) {
    it(`rejects ${name} natively with ERR_INVALID_ARGUMENT`, () => {
      let caught: unknown;
      try {
        addon.samplerDistribution(logits, sampling);
      } catch (err) {
        caught = fromNativeError(err);
      }
      expect(caught).toBeInstanceOf(InvalidArgumentError);
      expect((caught as Error).message).toMatch(/temperature|topP|topK|minP|repetitionPenalty|presencePenalty|penaltyLastN|seed/);
      // Still usable afterwards.
      expect(argmax(addon.samplerDistribution(logits, { temperature: 0 }))).toBe(argmax(logits));
    });
  }

  it('rejects allowed ids outside the vocabulary', () => {
    expect(() => addon.samplerDistribution(logits, { temperature: 1 }, undefined, Int32Array.from([1, 5000]))).toThrow(/outside the vocabulary/);
  });
});
