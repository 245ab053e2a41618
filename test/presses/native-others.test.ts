// Native non-scorer presses against references: Finch, ThinK, SimLayerKV, DuoAttention.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createPress } from '../../engine/presses/index.js';
import { makeLayerInputs } from '../reference/presses/layer-inputs.js';
import { flatten } from '../reference/presses/math.js';
import * as oref from '../reference/presses/others.js';
import { isTopK, keptCount, rerotate } from '../reference/presses/selection.js';
import { makeTempDir, writeF32Safetensors, writeJson } from './artefact-files.js';
import { nativePressNames, pressAddon, scoreLayer } from './native-harness.js';

const known = nativePressNames();
const tmp = makeTempDir('presskv-native-others-');
afterAll(() => tmp.cleanup());
const range = (a: number, b: number) => Array.from({ length: b - a }, (_x, i) => a + i);

describe.skipIf(!pressAddon)('native non-scorer presses vs plain references', () => {
  it.skipIf(!known.has('FinchPress')).each(['half-split', 'interleaved'] as const)('FinchPress (%s RoPE): question-window scores, kept in order, keys rerotated to 0..k−1', (ropeStyle) => {
    const inputs = makeLayerInputs(51, { n: 40, ropeStyle });
    const w = 6;
    const result = scoreLayer(createPress({ name: 'finch', compressionRatio: 0.5, windowSize: w }), inputs);
    const reference = oref.finchScores(inputs, w, true);
    const scores = flatten(reference);
    let worst = 0;
    for (let i = 0; i < scores.length; i++) worst = Math.max(worst, Math.abs(result.scores![i] - scores[i]) / (1e-6 + Math.abs(scores[i])));
    expect(worst).toBeLessThanOrEqual(2e-4);
    const k = keptCount(40, 0.5);
    const d = inputs.config.headDim;
    let offset = 0;
    reference.forEach((row, h) => {
      const kept = Array.from(result.kept[h]);
      expect(isTopK(row, kept, k, 1e-6)).toBeUndefined();
      for (const t of range(40 - w, 40)) expect(kept).toContain(t);
      expect(kept).toEqual([...kept].sort((a, b) => a - b));
      expect(Array.from(result.positions![h])).toEqual(range(0, k));
      kept.forEach((t, j) => {
        const original = inputs.keys.subarray((h * 40 + t) * d, (h * 40 + t + 1) * d);
        const expected = rerotate(original, t, j, inputs.config.ropeTheta, ropeStyle);
        for (let c = 0; c < d; c++) expect(Math.abs(result.keys![offset + c] - expected[c])).toBeLessThanOrEqual(1e-5);
        offset += d;
      });
    });
  });

  it.skipIf(!known.has('FinchPress'))('FinchPress without a question window is a typed error', () => {
    expect(() => scoreLayer(createPress({ name: 'finch', compressionRatio: 0.5 }), makeLayerInputs(1, { n: 20 }))).toThrow(/windowSize/);
  });

  it.skipIf(!known.has('ThinKPress'))('ThinKPress zeroes the floor(d·ρ) least important key channels, keeps every token', () => {
    const inputs = makeLayerInputs(52, { n: 30, headDim: 8 });
    const d = 8;
    const result = scoreLayer(createPress({ name: 'think', keyChannelCompressionRatio: 0.5, windowSize: 4 }), inputs);
    const zeroed = oref.thinkZeroedChannels(inputs, 0.5, 4);
    expect(result.channelRatio).toBeCloseTo(0.5, 12);
    for (let h = 0; h < inputs.config.nKvHeads; h++) {
      expect(Array.from(result.kept[h])).toEqual(range(0, 30));
      for (let t = 0; t < 30; t++)
        for (let c = 0; c < d; c++) {
          const got = result.keys![(h * 30 + t) * d + c];
          expect(got).toBe(zeroed[h].includes(c) ? 0 : inputs.keys[(h * 30 + t) * d + c]);
        }
    }
  });

  it.skipIf(!known.has('SimLayerKVPress'))('SimLayerKVPress: lazy layers keep the initial and recent tokens, others everything', () => {
    for (const [seed, threshold] of [[53, 0.05], [54, 0.95], [55, 0.5]] as const) {
      const inputs = makeLayerInputs(seed, { n: 40 });
      const p = { lazyThreshold: threshold, nLast: 2, nRecent: 8, nInitial: 3 };
      const result = scoreLayer(createPress({ name: 'simlayerkv', ...p }), inputs);
      const expected = oref.simLayerKVKept(inputs, p);
      for (const kept of result.kept) expect(Array.from(kept).sort((a, b) => a - b)).toEqual(expected);
    }
    const idle = scoreLayer(createPress({ name: 'simlayerkv' }), makeLayerInputs(56, { n: 40 }));
    for (const kept of idle.kept) expect(kept.length).toBe(40);
  });

  it.skipIf(!known.has('DuoAttentionPress'))('DuoAttentionPress: the lowest-scoring heads keep sink + recent tokens only', async () => {
    const headScores = [[0.9, 0.1, 0.5, 0.3], [0.2, 0.8, 0.05, 0.7]];
    const path = writeJson(join(tmp.dir, 'duo.json'), { sinkSize: 3, recentSize: 5, headScores });
    const press = createPress({ name: 'duo-attention', headCompressionRatio: 0.375, artefactPath: path });
    const streaming = oref.duoStreamingHeads(headScores, 0.375);
    expect(streaming.size).toBe(3);
    for (const layer of [0, 1]) {
      const inputs = makeLayerInputs(57, { n: 30, nHeads: 8, nKvHeads: 4, nLayers: 2, layer });
      const result = scoreLayer(press, inputs);
      result.kept.forEach((kept, h) => {
        const expected = streaming.has(`${layer}:${h}`) ? [...range(0, 3), ...range(25, 30)] : range(0, 30);
        expect(Array.from(kept).sort((a, b) => a - b), `layer ${layer} head ${h}`).toEqual(expected);
      });
    }
  });

  it.skipIf(!known.has('FastKVzipPress'))('FastKVzipPress: gate scores against learned sinks, sinks and recent window kept', async () => {
    const inputs = makeLayerInputs(58, { n: 40, nLayers: 1, nHeads: 4, nKvHeads: 2, hidden: 16 });
    const { nHeads: H, nKvHeads: Hk, hidden: D } = inputs.config;
    const g = H / Hk;
    const wave = (len: number, k: number, scale = 0.3) => Float32Array.from({ length: len }, (_x, i) => Math.sin(i * k + 0.3) * scale);
    const gate = {
      wq: wave(H * 16 * D, 0.37), bq: wave(H * 16, 1.1, 0.1), wk: wave(Hk * 16 * D, 0.53), qNorm: wave(16, 0.2, 1).map((x) => 1 + x / 2),
      kNorm: wave(16, 0.9, 1).map((x) => 1 + x / 2), bias: wave(Hk * g, 2.3, 1), sinkKeys: wave(Hk * 3 * 16, 0.71, 1), sinks: 3,
    };
    const path = await writeF32Safetensors(join(tmp.dir, 'gates.safetensors'), {
      'layers.0.wq': { shape: [H * 16, D], data: gate.wq }, 'layers.0.bq': { shape: [H * 16], data: gate.bq },
      'layers.0.wk': { shape: [Hk * 16, D], data: gate.wk }, 'layers.0.q_norm': { shape: [16], data: gate.qNorm },
      'layers.0.k_norm': { shape: [16], data: gate.kNorm }, 'layers.0.bias': { shape: [Hk, g], data: gate.bias },
      'layers.0.sink_keys': { shape: [Hk, 3, 16], data: gate.sinkKeys },
    });
    const result = scoreLayer(createPress({ name: 'fast-kvzip', compressionRatio: 0.5, windowRatio: 0.1, artefactPath: path }), inputs);
    const reference = oref.fastKVzipScores(inputs, gate, 4, 0.1);
    const scores = flatten(reference);
    for (let i = 0; i < scores.length; i++) expect(Math.abs(result.scores![i] - scores[i]), `slot ${i}`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(scores[i])));
    const kept = result.kept.reduce((a, k) => a + k.length, 0);
    expect(kept).toBe(Hk * 40 - Math.floor(Hk * 40 * 0.5));
    for (const k of result.kept) for (const t of [0, 1, 2, 3, 36, 37, 38, 39]) expect(Array.from(k)).toContain(t);
  });
});
