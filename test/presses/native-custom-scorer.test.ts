// A scorer written in TypeScript, called back by the native press pipeline: the layer it receives must match
// the plain references (X, K, V, positions, RoPE'd window queries) and its scores drive selection and wrappers.
import { describe, expect, it } from 'vitest';
import { AdaKVPress, CustomScorerPress, type CustomScorerLayer } from '../../engine/presses/index.js';
import { makeLayerInputs } from '../reference/presses/layer-inputs.js';
import { preropeQueries, rope } from '../reference/presses/math.js';
import { knormScores } from '../reference/presses/scorers.js';
import { adaKVSelect, keptCount, topK } from '../reference/presses/selection.js';
import { nativePressNames, pressAddon, scoreLayer } from './native-harness.js';

const known = nativePressNames();

describe.skipIf(!pressAddon || !known.has('CustomScorerPress'))('custom TypeScript scorer through the native pipeline', () => {
  it('receives the layer as typed arrays and its scores pick the kept slots', () => {
    const inputs = makeLayerInputs(61, { n: 32 });
    const seen: CustomScorerLayer[] = [];
    const press = new CustomScorerPress({
      compressionRatio: 0.5,
      windowSize: 4,
      score: (layer: CustomScorerLayer) => {
        seen.push(layer);
        // Knorm written by hand: minus the L2 norm of every key.
        const out = new Float32Array(layer.nKvHeads * layer.n);
        for (let i = 0; i < out.length; i++) {
          let s = 0;
          for (let c = 0; c < layer.headDim; c++) s += layer.keys[i * layer.headDim + c] ** 2;
          out[i] = -Math.sqrt(s);
        }
        return out;
      },
    });
    const result = scoreLayer(press, inputs);
    expect(seen.length).toBe(1);
    const layer = seen[0];
    expect([layer.n, layer.q, layer.nHeads, layer.nKvHeads, layer.headDim, layer.hiddenSize, layer.windowSize]).toEqual([32, 32, 4, 2, 8, 16, 4]);
    expect(Array.from(layer.hiddenStates)).toEqual(Array.from(inputs.hidden));
    expect(Array.from(layer.keys)).toEqual(Array.from(inputs.keys));
    expect(Array.from(layer.values)).toEqual(Array.from(inputs.values));
    expect(Array.from(layer.positions.subarray(0, 32))).toEqual(Array.from(inputs.positions));
    const Q = preropeQueries(inputs, 28, 4);
    let worst = 0;
    for (let h = 0; h < 4; h++)
      for (let i = 0; i < 4; i++) {
        const expected = rope(Q[h][i], 28 + i, inputs.config.ropeTheta);
        for (let c = 0; c < 8; c++) worst = Math.max(worst, Math.abs(layer.windowQueries[(h * 4 + i) * 8 + c] - expected[c]));
      }
    expect(worst).toBeLessThanOrEqual(1e-4);
    knormScores(inputs).forEach((row, h) => expect(Array.from(result.kept[h]).sort((a, b) => a - b)).toEqual(topK(row, keptCount(32, 0.5))));
  });

  it('composes with AdaKV like a built-in scorer', () => {
    const inputs = makeLayerInputs(62, { n: 30, nHeads: 8, nKvHeads: 4 });
    const score = (l: CustomScorerLayer) =>
      Float32Array.from({ length: l.nKvHeads * l.n }, (_x, i) => -Math.hypot(...l.keys.subarray(i * l.headDim, (i + 1) * l.headDim)));
    const result = scoreLayer(new AdaKVPress({ compressionRatio: 0.5, press: new CustomScorerPress({ score }) }), inputs);
    expect(result.kept.map((k) => Array.from(k).sort((a, b) => a - b))).toEqual(adaKVSelect(knormScores(inputs), 0.5, 0.2));
  });

  it('a scorer returning the wrong length fails with a typed error naming the press', () => {
    const inputs = makeLayerInputs(63, { n: 20 });
    const press = new CustomScorerPress({ compressionRatio: 0.5, label: 'too-short', score: () => [1, 2, 3] });
    expect(() => scoreLayer(press, inputs)).toThrow(/too-short: score\(\) returned 3 scores/);
  });
});
