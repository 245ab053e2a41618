// Native scorers against the plain references of the spec's formulas (scores and kept slots), plus
// kvpress's invariants: floor(n(1−r)) slots per head, sinks and windows kept.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createPress, type PressSpec } from '../../engine/presses/index.js';
import { makeLayerInputs, type LayerInputs, type LayerShape } from '../reference/presses/layer-inputs.js';
import { flatten } from '../reference/presses/math.js';
import * as ref from '../reference/presses/scorers.js';
import * as cref from '../reference/presses/compactor.js';
import { isTopK, keptCount, pyramidBudget } from '../reference/presses/selection.js';
import { makeTempDir, writeF32Safetensors } from './artefact-files.js';
import { nativePressNames, pressAddon, scoreLayer, type ScorePressResult } from './native-harness.js';

const known = nativePressNames();
const tmp = makeTempDir('presskv-native-scorers-');
afterAll(() => tmp.cleanup());

/** Closeness for float32 native results against float64 references, relative to each value and to the score scale. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 2e-4): void {
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / (1e-3 * scale + Math.abs(expected[i]));
    if (err > worst) {
      worst = err;
      at = i;
    }
  }
  expect(worst, `worst relative error at ${at}: native ${actual[at]} vs reference ${expected[at]}`).toBeLessThanOrEqual(tol);
}

function expectTopKPerHead(result: ScorePressResult, reference: Float64Array[], k: number): void {
  expect(result.kept.length).toBe(reference.length);
  reference.forEach((row, h) => {
    const spread = Math.max(...row) - Math.min(...row);
    const problem = isTopK(row, result.kept[h], k, 1e-5 * (1 + spread));
    expect(problem, `head ${h}: ${problem}`).toBeUndefined();
  });
}

function expectKeeps(result: ScorePressResult, slots: number[]): void {
  result.kept.forEach((kept, h) => {
    const set = new Set(kept);
    for (const s of slots) expect(set.has(s), `head ${h} dropped protected slot ${s}`).toBe(true);
  });
}

interface ScorerCase {
  label: string;
  spec: PressSpec;
  shape: LayerShape;
  reference: (inputs: LayerInputs) => Float64Array[];
  /** Slots every head must keep (sinks, windows). */
  protected?: (n: number) => number[];
  tol?: number;
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_x, i) => a + i);

const cases: ScorerCase[] = [
  { label: 'KnormPress', spec: { name: 'knorm', compressionRatio: 0.5 }, shape: { n: 40 }, reference: ref.knormScores },
  { label: 'KeyDiffPress', spec: { name: 'keydiff', compressionRatio: 0.3 }, shape: { n: 37 }, reference: ref.keyDiffScores },
  {
    label: 'StreamingLLMPress',
    spec: { name: 'streaming-llm', compressionRatio: 0.6, nSink: 3 },
    shape: { n: 30 },
    reference: (i) => ref.streamingLLMScores(i, 0.6, 3),
    protected: (n) => [...range(0, 3), ...range(n - (keptCount(n, 0.6) - 3), n)],
  },
  {
    label: 'SnapKVPress',
    spec: { name: 'snapkv', compressionRatio: 0.5, windowSize: 8, kernelSize: 5 },
    shape: { n: 48 },
    reference: (i) => ref.snapKVScores(i, 8, 5),
    protected: (n) => range(n - 8, n),
  },
  {
    label: 'SnapKVPress (qwen3 q/k norm, kernel 3, GQA 4)',
    spec: { name: 'snapkv', compressionRatio: 0.75, windowSize: 6, kernelSize: 3 },
    shape: { n: 64, nHeads: 8, nKvHeads: 2, qkNorm: true },
    reference: (i) => ref.snapKVScores(i, 6, 3),
    protected: (n) => range(n - 6, n),
  },
  {
    label: 'SnapKVPress (interleaved RoPE, as in GGUF llama files)',
    spec: { name: 'snapkv', compressionRatio: 0.5, windowSize: 8 },
    shape: { n: 40, ropeStyle: 'interleaved' },
    reference: (i) => ref.snapKVScores(i, 8, 5),
    protected: (n) => range(n - 8, n),
  },
  {
    label: 'ExpectedAttentionPress (interleaved RoPE)',
    spec: { name: 'expected-attention', compressionRatio: 0.5, nFuturePositions: 16 },
    shape: { n: 36, ropeStyle: 'interleaved' },
    reference: (i) => ref.expectedAttentionScores(i, { nFuturePositions: 16, nSink: 4, useCovariance: true, useVnorm: true, epsilon: 0 }),
    protected: () => range(0, 4),
  },
  {
    label: 'TOVAPress',
    spec: { name: 'tova', compressionRatio: 0.5 },
    shape: { n: 33 },
    reference: ref.tovaScores,
    protected: (n) => [n - 1],
  },
  {
    label: 'ObservedAttentionPress',
    spec: { name: 'observed-attention', compressionRatio: 0.4 },
    shape: { n: 24, withAttentions: true },
    reference: ref.observedAttentionScores,
  },
  {
    label: 'ExpectedAttentionPress',
    spec: { name: 'expected-attention', compressionRatio: 0.5, nFuturePositions: 16 },
    shape: { n: 40 },
    reference: (i) => ref.expectedAttentionScores(i, { nFuturePositions: 16, nSink: 4, useCovariance: true, useVnorm: true, epsilon: 0 }),
    protected: () => range(0, 4),
  },
  {
    label: 'ExpectedAttentionPress (no covariance, no vnorm, ε)',
    spec: { name: 'expected-attention', compressionRatio: 0.25, nFuturePositions: 8, nSink: 2, useCovariance: false, useVnorm: false, epsilon: 0.01 },
    shape: { n: 30, nHeads: 6, nKvHeads: 3 },
    reference: (i) => ref.expectedAttentionScores(i, { nFuturePositions: 8, nSink: 2, useCovariance: false, useVnorm: false, epsilon: 0.01 }),
    protected: () => range(0, 2),
  },
  {
    label: 'CapPress',
    spec: { name: 'cap', compressionRatio: 0.5, nFuturePositions: 16 },
    shape: { n: 36 },
    reference: (i) => ref.capScores(i, { tau: 5, nFuturePositions: 16, nSink: 4, epsilon: 1e-6 }),
    protected: () => range(0, 4),
    tol: 1e-3,
  },
  {
    label: 'LagKVPress (rank scoring)',
    spec: { name: 'lagkv', compressionRatio: 0.5, nSink: 2, lagSize: 8 },
    shape: { n: 45 },
    reference: (i) => ref.lagKVScores(i, 2, 8, false),
    protected: (n) => [0, 1, ...range(2 + Math.floor((n - 2) / 8) * 8 - 8, n)],
  },
  {
    label: 'LagKVPress (cross scoring)',
    spec: { name: 'lagkv', compressionRatio: 0.5, nSink: 2, lagSize: 8, crossScoring: true },
    shape: { n: 42 },
    reference: (i) => ref.lagKVScores(i, 2, 8, true),
  },
  {
    label: 'LagKVPress (short context ramp)',
    spec: { name: 'lagkv', compressionRatio: 0.5, nSink: 4, lagSize: 128 },
    shape: { n: 20 },
    reference: (i) => ref.lagKVScores(i, 4, 128, false),
  },
  ...(['key', 'value', 'kv_avg', 'kv_product'] as const).map((leverageType) => ({
    label: `CURPress (${leverageType})`,
    spec: { name: 'cur', compressionRatio: 0.5, leverageType, localWindowSize: 8 },
    shape: { n: 43 },
    reference: (i: LayerInputs) => ref.curScores(i, { numSinks: 4, leverageType, useLocalApproximation: true, localWindowSize: 8 }),
    protected: () => range(0, 4),
  })),
  {
    label: 'CURPress (global normalisation)',
    spec: { name: 'cur', compressionRatio: 0.5, useLocalApproximation: false },
    shape: { n: 30 },
    reference: (i) => ref.curScores(i, { numSinks: 4, leverageType: 'kv_product', useLocalApproximation: false, localWindowSize: 16 }),
  },
  {
    label: 'NonCausalAttnPress (padded last tile)',
    spec: { name: 'non-causal-attn', compressionRatio: 0.5, chunkSize: 8 },
    shape: { n: 30 },
    reference: (i) => cref.nonCausalScores(i, 8),
  },
  {
    label: 'NonCausalAttnPress (default tile, GQA 4)',
    spec: { name: 'non-causal-attn', compressionRatio: 0.3 },
    shape: { n: 40, nHeads: 8, nKvHeads: 2 },
    reference: (i) => cref.nonCausalScores(i, 256),
  },
  {
    label: 'LeverageScorePress (equals the hat-matrix leverage of the centred keys)',
    spec: { name: 'leverage-score', compressionRatio: 0.5, seed: 3 },
    shape: { n: 40 },
    reference: (i) => cref.leverageHatScores(i),
    tol: 5e-2,
  },
  {
    label: 'CompactorPress',
    spec: { name: 'compactor', compressionRatio: 0.5, chunkSize: 8, seed: 4 },
    shape: { n: 34 },
    reference: (i) => cref.compactorScores(i, { sinkSizeStart: 8, sinkSizeEnd: 4, chunkSize: 8, blending: 0.5 }),
    protected: (n) => [...range(0, 8), ...range(n - 4, n)],
    tol: 5e-2,
  },
];

describe.skipIf(!pressAddon)('native scorers vs plain references', () => {
  for (const c of cases) {
    const className = createPress(c.spec).name;
    it.skipIf(!known.has(className))(c.label, () => {
      const inputs = makeLayerInputs(7 + c.label.length, c.shape);
      const press = createPress(c.spec);
      const result = scoreLayer(press, inputs);
      const reference = c.reference(inputs);
      expect(result.scores, 'native scores').toBeDefined();
      expectClose(result.scores!, flatten(reference), c.tol);
      const k = keptCount(inputs.n, press.compressionRatio!);
      expectTopKPerHead(result, reference, k);
      if (c.protected) expectKeeps(result, c.protected(inputs.n));
    });
  }

  it.skipIf(!known.has('QFilterPress'))('QFilterPress', async () => {
    const inputs = makeLayerInputs(11, { n: 32, layer: 1 });
    const { nLayers, nKvHeads, headDim } = inputs.config;
    const filters = Float32Array.from({ length: nLayers * nKvHeads * headDim }, (_x, i) => Math.sin(i * 1.7));
    const path = await writeF32Safetensors(join(tmp.dir, 'qf.safetensors'), { q_filters: { shape: [nLayers, nKvHeads, headDim], data: filters } });
    const press = createPress({ name: 'qfilter', compressionRatio: 0.5, artefactPath: path });
    const result = scoreLayer(press, inputs);
    const reference = ref.qFilterScores(inputs, filters);
    expectClose(result.scores!, flatten(reference));
    expectTopKPerHead(result, reference, keptCount(32, 0.5));
  });

  for (const modelType of ['linear', 'mlp'] as const) {
    it.skipIf(!known.has('KVzapPress'))(`KVzapPress (${modelType})`, async () => {
      const inputs = makeLayerInputs(13, { n: 24, nLayers: 2, layer: 1 });
      const { hidden: D, nKvHeads: Hk } = inputs.config;
      const O = modelType === 'linear' ? Hk : 12;
      const wave = (len: number, k: number) => Float32Array.from({ length: len }, (_x, i) => Math.sin(i * k) * 0.4);
      const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
      const layers = [0, 1].map((l) => ({
        w1: wave(O * D, 0.7 + l), b1: wave(O, 1.3 + l),
        ...(modelType === 'mlp' ? { w2: wave(Hk * O, 2.1 + l), b2: wave(Hk, 0.9 + l) } : {}),
      }));
      layers.forEach((layer, l) => {
        tensors[`layers.${l}.w1`] = { shape: [O, D], data: layer.w1 };
        tensors[`layers.${l}.b1`] = { shape: [O], data: layer.b1 };
        if (layer.w2) {
          tensors[`layers.${l}.w2`] = { shape: [Hk, O], data: layer.w2 };
          tensors[`layers.${l}.b2`] = { shape: [Hk], data: layer.b2! };
        }
      });
      const path = await writeF32Safetensors(join(tmp.dir, `kvzap-${modelType}.safetensors`), tensors);
      const press = createPress({ name: 'kvzap', compressionRatio: 0.5, modelType, artefactPath: path });
      await press.prepare({ ...inputs.config, arch: 'llama', ffn: 1, vocab: 1, contextLength: 64, ropeDim: 8, ropeScaling: { type: '', factor: 1, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 64 }, qkvBias: false, tiedEmbeddings: false });
      const result = scoreLayer(press, inputs);
      const reference = cref.kvzapScores(inputs, layers[1]);
      expectClose(result.scores!, flatten(reference));
      expectTopKPerHead(result, reference, keptCount(24, 0.5));
    });
  }

  it.skipIf(!known.has('ExpectedAttentionStatsPress'))('ExpectedAttentionStatsPress uses the stored statistics', async () => {
    const inputs = makeLayerInputs(12, { n: 30, layer: 1 });
    const { nLayers, nHeads: H, headDim: d } = inputs.config;
    const own = ref.queryStatistics(inputs, 4);
    // Store the layer's own statistics scaled, so the stats press must differ from the in-prefill estimate.
    const mean = new Float32Array(nLayers * H * d);
    const cov = new Float32Array(nLayers * H * d * d);
    for (let h = 0; h < H; h++)
      for (let a = 0; a < d; a++) {
        mean[(1 * H + h) * d + a] = own.mean[h][a] * 1.5;
        for (let b = 0; b < d; b++) cov[((1 * H + h) * d + a) * d + b] = own.cov[h][a][b] * 0.5;
      }
    const path = await writeF32Safetensors(join(tmp.dir, 'stats.safetensors'), {
      query_mean: { shape: [nLayers, H, d], data: mean },
      query_cov: { shape: [nLayers, H, d, d], data: cov },
    });
    const press = createPress({ name: 'expected-attention-stats', compressionRatio: 0.5, nFuturePositions: 16, artefactPath: path });
    const result = scoreLayer(press, inputs);
    const stats = {
      mean: own.mean.map((m) => m.map((x) => Math.fround(x * 1.5))),
      cov: own.cov.map((rows) => rows.map((r) => r.map((x) => Math.fround(x * 0.5)))),
    };
    const reference = ref.expectedAttentionScores(inputs, { nFuturePositions: 16, nSink: 4, useCovariance: true, useVnorm: true, epsilon: 0 }, stats);
    expectClose(result.scores!, flatten(reference));
    expectTopKPerHead(result, reference, keptCount(30, 0.5));
  });

  it.skipIf(!known.has('PyramidKVPress'))('PyramidKVPress: SnapKV scores, per-layer budgets from the pyramid', () => {
    const nLayers = 4;
    for (let layer = 0; layer < nLayers; layer++) {
      const inputs = makeLayerInputs(20 + layer, { n: 96, nLayers, layer });
      const press = createPress({ name: 'pyramidkv', compressionRatio: 0.5, windowSize: 8, beta: 4 });
      const result = scoreLayer(press, inputs);
      const reference = ref.snapKVScores(inputs, 8, 5);
      expectClose(result.scores!, flatten(reference));
      const budget = pyramidBudget(96, 8, 4, 0.5, nLayers, layer);
      expectTopKPerHead(result, reference, budget);
      expectKeeps(result, range(88, 96));
    }
  });

  it.skipIf(!known.has('RandomPress'))('RandomPress keeps floor(n(1−r)) distinct slots per head, reproducibly with a seed', () => {
    const inputs = makeLayerInputs(5, { n: 50 });
    const a = scoreLayer(createPress({ name: 'random', compressionRatio: 0.3, seed: 1 }), inputs);
    const b = scoreLayer(createPress({ name: 'random', compressionRatio: 0.3, seed: 1 }), inputs);
    const c = scoreLayer(createPress({ name: 'random', compressionRatio: 0.3, seed: 2 }), inputs);
    for (const kept of a.kept) {
      expect(kept.length).toBe(keptCount(50, 0.3));
      expect(new Set(kept).size).toBe(kept.length);
      for (const t of kept) expect(t >= 0 && t < 50).toBe(true);
    }
    expect(a.kept.map((k) => Array.from(k))).toEqual(b.kept.map((k) => Array.from(k)));
    expect(a.kept.map((k) => Array.from(k))).not.toEqual(c.kept.map((k) => Array.from(k)));
    for (const s of a.scores ?? []) expect(s >= 0 && s < 1).toBe(true);
  });

  it.skipIf(!known.has('KnormPress'))('ratio 0 keeps every slot untouched', () => {
    const inputs = makeLayerInputs(3, { n: 20 });
    const result = scoreLayer(createPress({ name: 'knorm' }), inputs);
    for (const kept of result.kept) expect(Array.from(kept)).toEqual(range(0, 20));
    expect(result.keys).toBeUndefined();
  });

  it.skipIf(!known.has('SnapKVPress'))('a window longer than the context is a typed error', () => {
    const inputs = makeLayerInputs(3, { n: 16 });
    expect(() => scoreLayer(createPress({ name: 'snapkv', compressionRatio: 0.5, windowSize: 16 }), inputs)).toThrow(/window/i);
    try {
      scoreLayer(createPress({ name: 'snapkv', compressionRatio: 0.5, windowSize: 32 }), inputs);
    } catch (err) {
      expect((err as { code?: string }).code).toBe('ERR_INVALID_ARGUMENT');
    }
  });
});
