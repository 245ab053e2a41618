// Budget arithmetic of kvpress's selection policies: PyramidKV's per-layer budgets (reference and native)
// and DecodingPress's cache-size window.
import { describe, expect, it } from 'vitest';
import { createPress } from '../../engine/presses/index.js';
import { makeLayerInputs } from '../reference/presses/layer-inputs.js';
import { decodingCacheSizes, pyramidBudget } from '../reference/presses/selection.js';
import { nativePressNames, pressAddon, scoreLayer } from './native-harness.js';

describe('PyramidKV budgets', () => {
  it('mean layer budget is within 0.1 % of n(1−r) for n ∈ {1024..8192}, L ∈ {32, 64, 128}', () => {
    for (const n of [1024, 2048, 4096, 8192])
      for (const L of [32, 64, 128])
        for (const r of [0.1, 0.2, 0.25, 0.5, 0.75]) {
          let total = 0;
          for (let l = 0; l < L; l++) total += pyramidBudget(n, 64, 20, r, L, l);
          const mean = total / L;
          expect(Math.abs(mean - n * (1 - r)) / (n * (1 - r)), `n=${n} L=${L} r=${r}`).toBeLessThanOrEqual(1e-3);
        }
  });

  it('budgets shrink from the first layer to the last', () => {
    const budgets = Array.from({ length: 32 }, (_x, l) => pyramidBudget(4096, 64, 20, 0.5, 32, l));
    for (let l = 1; l < 32; l++) expect(budgets[l]).toBeLessThanOrEqual(budgets[l - 1]);
    expect(budgets[0]).toBeGreaterThan(budgets[31]);
  });

  it.skipIf(!pressAddon || !nativePressNames().has('PyramidKVPress'))('the native press keeps the reference budget in every layer (n = 1024, L = 32)', () => {
    const n = 1024;
    const L = 32;
    const press = createPress({ name: 'pyramidkv', compressionRatio: 0.5 });
    let total = 0;
    for (let layer = 0; layer < L; layer++) {
      const inputs = makeLayerInputs(100 + layer, { n, nLayers: L, layer, nHeads: 2, nKvHeads: 1, headDim: 4, hidden: 8 });
      const kept = scoreLayer(press, inputs).kept[0].length;
      expect(kept, `layer ${layer}`).toBe(pyramidBudget(n, 64, 20, 0.5, L, layer));
      total += kept;
    }
    expect(Math.abs(total / L - n * 0.5) / (n * 0.5)).toBeLessThanOrEqual(1e-3);
  });
});

describe('DecodingPress cache window (reference schedule)', () => {
  it('stays within [target, target + interval − 1] once the first compression happened', () => {
    for (const [context, interval, target] of [[100, 8, 64], [30, 16, 48], [500, 512, 2048], [2100, 5, 2048]] as const) {
      const sizes = decodingCacheSizes(context, 3 * interval + 7, interval, target);
      const first = sizes.findIndex((_s, i) => (i + 1) % interval === 0);
      sizes.slice(first).forEach((s, i) => {
        if (context + first + 1 > target || s > target) {
          expect(s, `step ${first + i}`).toBeGreaterThanOrEqual(target);
          expect(s).toBeLessThanOrEqual(target + interval - 1);
        }
      });
    }
  });
});
