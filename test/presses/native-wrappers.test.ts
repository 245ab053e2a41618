// Native wrappers against plain reference selections: AdaKV budgets, CriticalKV stages, rerotated keys,
// chunked selections, merged values, per-layer ratios, composition, DMS thresholds, LU-KV curves.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createPress } from '../../engine/presses/index.js';
import { makeLayerInputs, type LayerInputs } from '../reference/presses/layer-inputs.js';
import { rope } from '../reference/presses/math.js';
import { knormScores, streamingLLMScores } from '../reference/presses/scorers.js';
import { adaKVSelect, isTopK, keptCount, topK } from '../reference/presses/selection.js';
import * as wref from '../reference/presses/wrappers.js';
import { makeTempDir, writeF32Safetensors } from './artefact-files.js';
import { nativePressNames, pressAddon, scoreLayer } from './native-harness.js';

const known = nativePressNames();
const tmp = makeTempDir('presskv-native-wrappers-');
afterAll(() => tmp.cleanup());

const sorted = (xs: ArrayLike<number>) => Array.from(xs).sort((a, b) => a - b);
const range = (a: number, b: number) => Array.from({ length: b - a }, (_x, i) => a + i);

describe.skipIf(!pressAddon)('native wrappers vs plain references', () => {
  it.skipIf(!known.has('AdaKVPress'))('AdaKVPress: layer total preserved, every head ≥ its safeguard, same slots as the reference', () => {
    for (const [ratio, alpha] of [[0.25, 0.2], [0.5, 0.2], [0.8, 0.5], [0.5, 0]] as const) {
      const inputs = makeLayerInputs(31, { n: 40, nHeads: 8, nKvHeads: 4 });
      const result = scoreLayer(createPress({ name: 'adakv', compressionRatio: ratio, alphaSafeguard: alpha, press: { name: 'knorm' } }), inputs);
      const k = keptCount(40, ratio);
      const counts = result.kept.map((kept) => kept.length);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(4 * k);
      for (const c of counts) expect(c).toBeGreaterThanOrEqual(Math.floor(k * alpha));
      const expected = adaKVSelect(knormScores(inputs), ratio, alpha);
      expect(result.kept.map(sorted)).toEqual(expected);
    }
  });

  it.skipIf(!known.has('AdaKVPress'))('AdaKVPress gives heads different lengths when their scores differ', () => {
    const inputs = makeLayerInputs(32, { n: 30, nHeads: 4, nKvHeads: 2 });
    // Head 1's keys are tiny, so Knorm (keep low norms) prefers it.
    for (let i = 30 * 8; i < 60 * 8; i++) inputs.keys[i] *= 0.01;
    const result = scoreLayer(createPress({ name: 'adakv', compressionRatio: 0.5, press: { name: 'knorm' } }), inputs);
    // Safeguard floor(15·0.2) = 3 per head; the other 24 of the layer's 30 slots all go to head 1.
    expect(result.kept[0].length).toBe(3);
    expect(result.kept[1].length).toBe(27);
  });

  it.skipIf(!known.has('CriticalKVPress'))('CriticalKVPress: stage-1 picks, then (S + ε)·‖V W_O‖', () => {
    const inputs = makeLayerInputs(33, { n: 36, withWo: true });
    const press = createPress({ name: 'critical-kv', compressionRatio: 0.5, epsilon: 1e-4, firstStageRatio: 0.5, press: { name: 'knorm' } });
    const result = scoreLayer(press, inputs);
    const reference = wref.criticalKVScores(knormScores(inputs), wref.criticalNorms(inputs), 0.5, 1e-4, 0.5);
    reference.forEach((row, h) => expect(isTopK(row, result.kept[h], keptCount(36, 0.5), 1e-5), `head ${h}`).toBeUndefined());
  });

  it.skipIf(!known.has('CriticalAdaKVPress'))('CriticalAdaKVPress: head budgets from the global top-k, two stages inside', () => {
    const inputs = makeLayerInputs(34, { n: 32, nHeads: 8, nKvHeads: 4, withWo: true });
    const press = createPress({ name: 'critical-adakv', compressionRatio: 0.5, press: { name: 'knorm' } });
    const result = scoreLayer(press, inputs);
    const expected = wref.criticalAdaKVSelect(knormScores(inputs), wref.criticalNorms(inputs), 0.5, 0.2, 1e-4, 0.5);
    expect(result.kept.map((k) => k.length).reduce((a, b) => a + b, 0)).toBe(4 * 16);
    expect(result.kept.map(sorted)).toEqual(expected);
  });

  it.skipIf(!known.has('KeyRerotationPress')).each(['half-split', 'interleaved'] as const)('KeyRerotationPress (%s RoPE): rerotated keys equal "prune the pre-RoPE keys, then rotate" within 1e-5', (ropeStyle) => {
    const inputs = makeLayerInputs(35, { n: 40, ropeStyle });
    const { nKvHeads: Hk, headDim: d, ropeTheta } = inputs.config;
    const raw: Float64Array[][] = [];
    for (let h = 0; h < Hk; h++) {
      raw.push([]);
      for (let t = 0; t < 40; t++) {
        const k = Float64Array.from({ length: d }, (_x, c) => inputs.keys[(h * 40 + t) * d + c]);
        raw[h].push(k);
        inputs.keys.set(rope(k, t, ropeTheta, ropeStyle), (h * 40 + t) * d);
      }
    }
    const result = scoreLayer(createPress({ name: 'key-rerotation', compressionRatio: 0.5, press: { name: 'knorm' } }), inputs);
    const k = keptCount(40, 0.5);
    expect(result.keys).toBeDefined();
    const knorm = knormScores(inputs);
    let worst = 0;
    let offset = 0;
    for (let h = 0; h < Hk; h++) {
      const kept = Array.from(result.kept[h]);
      expect(kept).toEqual(sorted(kept));
      expect(isTopK(knorm[h], kept, k, 1e-6)).toBeUndefined();
      expect(Array.from(result.positions![h])).toEqual(range(0, k));
      kept.forEach((p, j) => {
        const expected = rope(raw[h][p], j, ropeTheta, ropeStyle);
        for (let c = 0; c < d; c++) worst = Math.max(worst, Math.abs(result.keys![offset + c] - expected[c]));
        offset += d;
      });
    }
    expect(worst).toBeLessThanOrEqual(1e-5);
  });

  it.skipIf(!known.has('ChunkKVPress'))('ChunkKVPress keeps whole chunks, the same slots in every head', () => {
    for (const [n, chunk] of [[43, 5], [40, 4], [60, 20]] as const) {
      const inputs = makeLayerInputs(36 + n, { n });
      const result = scoreLayer(createPress({ name: 'chunkkv', compressionRatio: 0.5, chunkLength: chunk, press: { name: 'knorm' } }), inputs);
      const expected = wref.chunkKVSelect(knormScores(inputs), 0.5, chunk);
      for (const kept of result.kept) expect(sorted(kept)).toEqual(expected);
    }
  });

  it.skipIf(!known.has('ChunkPress'))('ChunkPress keeps max(1, floor(len(1−r))) per chunk', () => {
    const inputs = makeLayerInputs(37, { n: 45 });
    const result = scoreLayer(createPress({ name: 'chunk', compressionRatio: 0.5, chunkLength: 10, press: { name: 'knorm' } }), inputs);
    knormScores(inputs).forEach((row, h) => expect(sorted(result.kept[h])).toEqual(wref.chunkSelect(row, 0.5, 10)));
    expect(result.kept[0].length).toBe(4 * 5 + 2);
  });

  it.skipIf(!known.has('BlockPress'))('BlockPress equals plain top-k for a token-local scorer, for every block size', () => {
    const inputs = makeLayerInputs(38, { n: 48 });
    const reference = knormScores(inputs);
    for (const blockSize of [2, 4, 8, 128]) {
      const result = scoreLayer(createPress({ name: 'block', compressionRatio: 0.5, blockSize, press: { name: 'knorm' } }), inputs);
      reference.forEach((row, h) => expect(sorted(result.kept[h])).toEqual(topK(row, 24)));
    }
  });

  it.skipIf(!known.has('MergingPress'))('MergingPress folds evicted values into their most similar kept token; keys untouched', () => {
    const inputs = makeLayerInputs(39, { n: 30 });
    const d = inputs.config.headDim;
    const result = scoreLayer(createPress({ name: 'merging', compressionRatio: 0.5, press: { name: 'knorm' } }), inputs);
    expect(result.values).toBeDefined();
    let offset = 0;
    let worst = 0;
    let changed = 0;
    for (let h = 0; h < inputs.config.nKvHeads; h++) {
      const kept = Array.from(result.kept[h]);
      expect(kept).toEqual(topK(knormScores(inputs)[h], 15));
      const expected = wref.mergedValues(inputs, h, kept, 0);
      kept.forEach((t, j) => {
        for (let c = 0; c < d; c++) {
          worst = Math.max(worst, Math.abs(result.values![offset + c] - expected[j][c]));
          if (Math.abs(result.values![offset + c] - inputs.values[(h * 30 + t) * d + c]) > 1e-6) changed++;
          if (result.keys) expect(result.keys[offset + c]).toBe(inputs.keys[(h * 30 + t) * d + c]);
        }
        offset += d;
      });
    }
    expect(worst).toBeLessThanOrEqual(1e-5);
    expect(changed).toBeGreaterThan(0);
  });

  it.skipIf(!known.has('PerLayerCompressionPress'))('PerLayerCompressionPress applies ratio l to layer l (1 keeps nothing)', () => {
    const press = createPress({ name: 'per-layer-compression', compressionRatios: [0.1, 1], press: { name: 'knorm' } });
    const l0 = scoreLayer(press, makeLayerInputs(40, { n: 50, layer: 0, nLayers: 2 }));
    const l1 = scoreLayer(press, makeLayerInputs(40, { n: 50, layer: 1, nLayers: 2 }));
    for (const kept of l0.kept) expect(kept.length).toBe(45);
    for (const kept of l1.kept) expect(kept.length).toBe(0);
  });

  it.skipIf(!known.has('ComposedPress'))('ComposedPress runs each press on what the previous one kept', () => {
    const inputs = makeLayerInputs(41, { n: 40 });
    const press = createPress({ name: 'composed', presses: [{ name: 'knorm', compressionRatio: 0.5 }, { name: 'streaming-llm', compressionRatio: 0.5, nSink: 2 }] });
    const result = scoreLayer(press, inputs);
    knormScores(inputs).forEach((row, h) => {
      const first = topK(row, 20);
      const stream = streamingLLMScores({ ...inputs, n: 20 } as LayerInputs, 0.5, 2)[0];
      const second = first.filter((_t, i) => stream[i] === 1);
      expect(sorted(result.kept[h])).toEqual(second);
    });
  });

  it.skipIf(!known.has('DMSPress'))('DMSPress evicts tokens scored below the threshold outside the last window', () => {
    const inputs = makeLayerInputs(42, { n: 40 });
    const window = 8;
    const scores = knormScores(inputs);
    const all = scores.flatMap((r) => Array.from(r)).sort((a, b) => a - b);
    const threshold = all[Math.floor(all.length / 2)];
    const result = scoreLayer(createPress({ name: 'dms', threshold, slidingWindowSize: window, press: { name: 'knorm' } }), inputs);
    scores.forEach((row, h) => {
      const expected = range(0, 40).filter((t) => t >= 40 - window || row[t] >= threshold);
      expect(sorted(result.kept[h])).toEqual(expected);
    });
  });

  it.skipIf(!known.has('LUKVPress'))('LUKVPress gives each head its budget from the curve; sink and window kept', async () => {
    const nLayers = 2;
    const Hk = 4;
    const curve = Float32Array.from({ length: 99 * nLayers * Hk }, (_x, i) => ((i * 37) % 100) / 100);
    const path = await writeF32Safetensors(join(tmp.dir, 'curve.safetensors'), { curve: { shape: [99, nLayers, Hk], data: curve } });
    const inputs = makeLayerInputs(43, { n: 40, nHeads: 8, nKvHeads: Hk, nLayers, layer: 1 });
    const result = scoreLayer(createPress({ name: 'lukv', compressionRatio: 0.5, sink: 2, window: 1, artefactPath: path, press: { name: 'knorm' } }), inputs);
    const counts = wref.lukvCounts(curve, nLayers, Hk, 1, 40, 0.5);
    expect(result.kept.map((k) => k.length)).toEqual(counts);
    const scores = knormScores(inputs);
    scores.forEach((row, h) => {
      const protectedRow = row.map((x, t) => (t < 2 || t >= 39 ? 1e9 : x));
      expect(sorted(result.kept[h])).toEqual(topK(protectedRow, counts[h]));
    });
  });
});
