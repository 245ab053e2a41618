// Press configuration: names, defaults, validation errors and the native config shape (no native code needed).
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { CorruptModelError, InvalidArgumentError, ModelNotFoundError } from '../../engine/errors.js';
import type { ModelConfig } from '../../engine/model-spec.js';
import {
  AdaKVPress, ComposedPress, CustomScorerPress, DecodingPress, ExpectedAttentionPress, KnormPress, PerLayerCompressionPress,
  SnapKVPress, createPress, listPresses, runCustomScorer, type CustomScorerLayer,
} from '../../engine/presses/index.js';
import { makeTempDir, writeF32Safetensors, writeJson } from './artefact-files.js';

const SHORT_NAMES = [
  'snapkv', 'expected-attention', 'streaming-llm', 'adakv', 'knorm', 'tova', 'random', 'pyramidkv', 'observed-attention',
  'expected-attention-stats', 'qfilter', 'lagkv', 'keydiff', 'non-causal-attn', 'leverage-score', 'compactor', 'cur', 'kvzap',
  'cap', 'think', 'simlayerkv', 'duo-attention', 'finch', 'kvzip', 'kvcompose', 'fast-kvzip', 'critical-kv', 'critical-adakv',
  'lukv', 'per-layer-compression', 'composed', 'key-rerotation', 'chunkkv', 'chunk', 'block', 'merging', 'dms', 'decoding',
  'compression-ratio-decoding', 'prefill-decoding', 'cam',
];

const MODEL: ModelConfig = {
  arch: 'llama', nLayers: 3, hidden: 16, nHeads: 4, nKvHeads: 2, headDim: 8, ffn: 32, vocab: 64, contextLength: 512,
  rmsEps: 1e-5, ropeTheta: 10000, ropeDim: 8, ropeStyle: 'half-split',
  ropeScaling: { type: '', factor: 1, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 512 },
  qkvBias: false, qkNorm: false, tiedEmbeddings: false,
};

const tmp = makeTempDir('presskv-press-config-');
afterAll(() => tmp.cleanup());

function f32(shape: number[], fill = 0.5): { shape: number[]; data: Float32Array } {
  return { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill) };
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

async function rejected(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('press catalogue', () => {
  it('lists every press once, with its kebab short name, class name and kind', () => {
    const list = listPresses();
    expect(list.map((p) => p.name).sort()).toEqual([...SHORT_NAMES].sort());
    expect(new Set(list.map((p) => p.className)).size).toBe(list.length);
    const kind = (name: string) => list.find((p) => p.name === name)!.kind;
    for (const s of ['snapkv', 'knorm', 'expected-attention', 'qfilter', 'kvzap', 'cap', 'cur']) expect(kind(s)).toBe('scorer');
    for (const s of ['adakv', 'critical-kv', 'composed', 'key-rerotation', 'chunkkv', 'dms', 'lukv']) expect(kind(s)).toBe('wrapper');
    for (const s of ['decoding', 'compression-ratio-decoding', 'prefill-decoding', 'cam']) expect(kind(s)).toBe('decoding');
    for (const s of ['think', 'simlayerkv', 'duo-attention', 'finch', 'kvzip', 'kvcompose', 'fast-kvzip']) expect(kind(s)).toBe('other');
  });

  it("carries kvpress's defaults", () => {
    const opts = (name: string) => listPresses().find((p) => p.name === name)!.options;
    expect(opts('snapkv')).toEqual({ compressionRatio: 0, windowSize: 64, kernelSize: 5 });
    expect(opts('pyramidkv')).toMatchObject({ windowSize: 64, kernelSize: 5, beta: 20 });
    expect(opts('streaming-llm')).toEqual({ compressionRatio: 0, nSink: 4 });
    expect(opts('expected-attention')).toEqual({
      compressionRatio: 0, nFuturePositions: 512, nSink: 4, useCovariance: true, useVnorm: true, epsilon: 0,
    });
    expect(opts('cap')).toMatchObject({ tau: 5, nFuturePositions: 512, nSink: 4, epsilon: 1e-6 });
    expect(opts('lagkv')).toMatchObject({ nSink: 4, lagSize: 128, crossScoring: false });
    expect(opts('compactor')).toMatchObject({ sinkSizeStart: 8, sinkSizeEnd: 4, chunkSize: 256, sketchDimension: 48, blending: null });
    expect(opts('cur')).toMatchObject({ numSinks: 4, leverageType: 'kv_product', useLocalApproximation: true, localWindowSize: 16 });
    expect(opts('think')).toEqual({ keyChannelCompressionRatio: 0, windowSize: 32 });
    expect(opts('simlayerkv')).toEqual({ lazyThreshold: 1, nLast: 1, nRecent: 1024, nInitial: 4 });
    expect(opts('kvzip')).toEqual({ compressionRatio: 0, layerwise: false, nSink: 4, kvzipPlusNormalization: false });
    expect(opts('fast-kvzip')).toMatchObject({ windowSize: 4096, windowRatio: 0.02, artefactPath: null });
    expect(opts('adakv')).toEqual({ compressionRatio: null, alphaSafeguard: 0.2, press: null });
    expect(opts('critical-adakv')).toMatchObject({ epsilon: 1e-4, firstStageRatio: 0.5, alphaSafeguard: 0.2 });
    expect(opts('lukv')).toMatchObject({ compressionRatio: 0, sink: 4, window: 1, press: { name: 'ExpectedAttentionPress', epsilon: 0.02 } });
    expect(opts('chunkkv')).toMatchObject({ chunkLength: 20 });
    expect(opts('chunk')).toMatchObject({ chunkLength: 1024 });
    expect(opts('block')).toMatchObject({ blockSize: 128 });
    expect(opts('merging')).toMatchObject({ similarityThreshold: 0, mergeFraction: 1 });
    expect(opts('dms')).toEqual({ threshold: null, slidingWindowSize: 128, decoding: false, press: null });
    expect(opts('decoding')).toEqual({ compressionInterval: 512, targetSize: 2048, hiddenStatesBufferSize: 256, press: null });
    expect(opts('compression-ratio-decoding')).toMatchObject({ targetCompressionRatio: 0.5 });
    expect(opts('cam')).toMatchObject({ mergeBudget: 32, targetSize: 2048 });
  });

  it('finds a press by class name, short name or a loose spelling', () => {
    for (const name of ['SnapKVPress', 'snapkv', 'SnapKV', 'snap_kv']) expect(createPress(name)).toBeInstanceOf(SnapKVPress);
    expect(createPress('expected-attention')).toBeInstanceOf(ExpectedAttentionPress);
    expect(createPress({ name: 'ExpectedAttentionPress', options: { epsilon: 0.01 } }).options).toMatchObject({ epsilon: 0.01 });
  });
});

describe('validation errors (typed, before any work)', () => {
  it('rejects ratios outside [0, 1)', () => {
    for (const bad of [-0.1, 1, 1.5, Number.NaN, '0.5']) {
      const err = thrown(() => createPress({ name: 'snapkv', compressionRatio: bad }));
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect(err.message).toMatch(/SnapKVPress: "compressionRatio"/);
    }
    expect(thrown(() => new AdaKVPress({ compressionRatio: 1, press: { name: 'knorm' } }))).toBeInstanceOf(InvalidArgumentError);
    expect(createPress({ name: 'knorm', compressionRatio: 0.999 }).compressionRatio).toBe(0.999);
  });

  it('rejects an unknown press, listing the known names', () => {
    const err = thrown(() => createPress({ name: 'snapkvv' }));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toContain('unknown press "snapkvv"');
    for (const s of ['snapkv', 'expected-attention', 'adakv', 'cam']) expect(err.message).toContain(s);
    expect(thrown(() => createPress({} as never))).toBeInstanceOf(InvalidArgumentError);
  });

  it('rejects unknown options and wrong types, naming them', () => {
    const err = thrown(() => createPress({ name: 'snapkv', windw: 3 }));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toMatch(/unknown option\(s\) "windw".*windowSize/);
    expect(thrown(() => createPress({ name: 'snapkv', window_size: 8 })).message).toMatch(/"window_size" is spelled "windowSize" here/);
    expect(thrown(() => createPress({ name: 'snapkv', windowSize: 2.5 })).message).toMatch(/windowSize.*integer/);
    expect(thrown(() => createPress({ name: 'simlayerkv', nLast: 8, nRecent: 4 })).message).toMatch(/nRecent must be ≥ nLast/);
    expect(thrown(() => createPress({ name: 'snapkv', kernelSize: 4 })).message).toMatch(/kernelSize.*odd/);
    expect(thrown(() => createPress({ name: 'cur', leverageType: 'both' }))).toBeInstanceOf(InvalidArgumentError);
  });

  const scorerOnlyWrappers = [
    'adakv', 'critical-kv', 'critical-adakv', 'chunkkv', 'chunk', 'block', 'key-rerotation', 'merging', 'per-layer-compression',
    'dms', 'cam', 'decoding', 'compression-ratio-decoding',
  ];
  const required: Record<string, Record<string, unknown>> = { 'per-layer-compression': { compressionRatios: [0.1, 0.2, 0.3] }, dms: { threshold: 0 } };

  it.each(scorerOnlyWrappers)('%s refuses a non-scorer inside', (wrapper) => {
    for (const inner of [{ name: 'think' }, { name: 'kvzip' }, { name: 'finch' }, { name: 'key-rerotation', press: { name: 'knorm' } }]) {
      const err = thrown(() => createPress({ name: wrapper, ...required[wrapper], press: inner }));
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect(err.message).toMatch(/must be a scorer press/);
    }
    expect(createPress({ name: wrapper, ...required[wrapper], press: { name: 'knorm' } }).kind).not.toBe('scorer');
    expect(thrown(() => createPress({ name: wrapper, ...required[wrapper] })).message).toMatch(/"press" is required/);
  });

  it('accepts scorer-like presses inside scorer-only wrappers (CriticalKV, custom scorers), AdaKV inside DecodingPress', () => {
    expect(createPress({ name: 'adakv', press: { name: 'critical-kv', press: { name: 'snapkv' } } }).kind).toBe('wrapper');
    const custom = new CustomScorerPress({ score: (l: CustomScorerLayer) => new Float32Array(l.nKvHeads * l.n) });
    expect(new AdaKVPress({ press: custom, compressionRatio: 0.5 }).press.compressionRatio).toBe(0.5);
    expect(createPress({ name: 'decoding', press: { name: 'adakv', press: { name: 'knorm' } } })).toBeInstanceOf(DecodingPress);
    expect(thrown(() => createPress({ name: 'cam', press: { name: 'adakv', press: { name: 'knorm' } } }))).toBeInstanceOf(InvalidArgumentError);
  });

  it('ComposedPress needs presses, refuses AdaKV / KVzip / decoding presses, and composes the ratio', () => {
    expect(thrown(() => createPress({ name: 'composed' })).message).toMatch(/non-empty array/);
    expect(thrown(() => createPress({ name: 'composed', presses: [] }))).toBeInstanceOf(InvalidArgumentError);
    for (const bad of [{ name: 'adakv', press: { name: 'knorm' } }, { name: 'kvzip' }, { name: 'decoding', press: { name: 'knorm' } }]) {
      expect(thrown(() => createPress({ name: 'composed', presses: [{ name: 'knorm' }, bad] }))).toBeInstanceOf(InvalidArgumentError);
    }
    const composed = createPress({ name: 'composed', presses: [{ name: 'snapkv', compressionRatio: 0.5 }, { name: 'knorm', compressionRatio: 0.2 }] });
    expect(composed).toBeInstanceOf(ComposedPress);
    expect(composed.compressionRatio).toBeCloseTo(1 - 0.5 * 0.8, 12);
    expect(createPress({ name: 'composed', presses: [{ name: 'snapkv' }, { name: 'think', keyChannelCompressionRatio: 0.5 }] }).compressionRatio).toBe(0.25);
  });

  it('PrefillDecodingPress needs at least one press and the right kind in each slot', () => {
    expect(thrown(() => createPress({ name: 'prefill-decoding' }))).toBeInstanceOf(InvalidArgumentError);
    expect(thrown(() => createPress({ name: 'prefill-decoding', decodingPress: { name: 'knorm' } })).message).toMatch(/decoding press/);
    const p = createPress({ name: 'prefill-decoding', prefillingPress: { name: 'knorm', compressionRatio: 0.3 }, decodingPress: { name: 'decoding', press: { name: 'knorm' } } });
    const native = p.toNativeConfig();
    expect(native.presses!.map((c) => c.name)).toEqual(['KnormPress', 'DecodingPress']);
  });

  it('checks what needs the context length or the model: windows, sinks, per-layer lists', () => {
    const snap = createPress({ name: 'snapkv', windowSize: 64 });
    expect(() => snap.validateForContext(65)).not.toThrow();
    const err = thrown(() => snap.validateForContext(64));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toMatch(/windowSize \(64\) must be shorter than the context \(64 tokens\)/);
    expect(thrown(() => createPress({ name: 'adakv', press: { name: 'snapkv', windowSize: 8 } }).validateForContext(8))).toBeInstanceOf(InvalidArgumentError);
    expect(thrown(() => createPress({ name: 'streaming-llm' }).validateForContext(4))).toBeInstanceOf(InvalidArgumentError);
    expect(thrown(() => createPress({ name: 'finch', compressionRatio: 0.5, windowSize: 10 }).validateForContext(10))).toBeInstanceOf(InvalidArgumentError);
    expect(thrown(() => createPress({ name: 'finch', compressionRatio: 0.5, windowSize: 10, chunkLength: 20 }).validateForContext(100)).message).toMatch(/chunkLength \(20\) must be > windowSize/);
    expect(() => createPress({ name: 'finch', compressionRatio: 0.5, windowSize: 10, chunkLength: 21 }).validateForContext(100)).not.toThrow();
    const perLayer = new PerLayerCompressionPress({ compressionRatios: [0.1, 1], press: new KnormPress() });
    expect(perLayer.compressionRatio).toBeCloseTo(0.55, 12);
    expect(thrown(() => perLayer.validateForModel(MODEL)).message).toMatch(/lists 2 ratios but the model has 3 layers/);
    expect(thrown(() => createPress({ name: 'per-layer-compression', press: { name: 'knorm' } })).message).toMatch(/compressionRatios/);
    expect(thrown(() => createPress({ name: 'dms', press: { name: 'knorm' } })).message).toMatch(/threshold/);
  });
});

describe('native config', () => {
  it('has the { name, options, press?, presses? } shape with camelCase options and no unset ones', () => {
    const p = createPress({ name: 'adakv', compressionRatio: 0.5, press: { name: 'snapkv', windowSize: 8 } });
    expect(p.toNativeConfig()).toEqual({
      name: 'AdaKVPress',
      options: { compressionRatio: 0.5, alphaSafeguard: 0.2 },
      press: { name: 'SnapKVPress', options: { compressionRatio: 0.5, windowSize: 8, kernelSize: 5 } },
    });
    expect(createPress({ name: 'compactor' }).toNativeConfig().options).not.toHaveProperty('blending');
  });

  it("pushes a wrapper's ratio down to the inner press without touching the given instance", () => {
    const inner = new SnapKVPress({ compressionRatio: 0.1 });
    const ada = new AdaKVPress({ press: inner, compressionRatio: 0.4 });
    expect(ada.compressionRatio).toBe(0.4);
    expect(ada.press.compressionRatio).toBe(0.4);
    expect(inner.compressionRatio).toBe(0.1);
    expect(new AdaKVPress({ press: inner }).compressionRatio).toBe(0.1);
    const nested = createPress({ name: 'key-rerotation', compressionRatio: 0.3, press: { name: 'critical-kv', press: { name: 'knorm' } } });
    expect(nested.toNativeConfig().press!.press!.options.compressionRatio).toBe(0.3);
  });

  it('round-trips through toJSON / createPress', () => {
    for (const spec of [
      { name: 'snapkv', compressionRatio: 0.25, windowSize: 16 },
      { name: 'adakv', compressionRatio: 0.5, press: { name: 'expected-attention', epsilon: 0.01 } },
      { name: 'composed', presses: [{ name: 'snapkv' }, { name: 'think', keyChannelCompressionRatio: 0.5 }] },
      { name: 'decoding', targetSize: 64, compressionInterval: 8, press: { name: 'knorm' } },
    ]) {
      const p = createPress(spec);
      const again = createPress(JSON.parse(JSON.stringify(p.toJSON())));
      expect(again.toNativeConfig()).toEqual(p.toNativeConfig());
    }
  });
});

describe('artefact presses', () => {
  it('require a path, then an existing file', () => {
    for (const name of ['qfilter', 'expected-attention-stats', 'duo-attention', 'kvzap', 'fast-kvzip']) {
      const err = thrown(() => createPress({ name }));
      expect(err, name).toBeInstanceOf(InvalidArgumentError);
      expect(err.message).toMatch(/artefactPath/);
      const missing = thrown(() => createPress({ name, artefactPath: join(tmp.dir, 'nope.safetensors') }));
      expect(missing, name).toBeInstanceOf(ModelNotFoundError);
    }
    expect(thrown(() => createPress({ name: 'lukv' })).message).toMatch(/artefactPath/);
    expect(createPress({ name: 'duo-attention', onTheFlyScoring: true }).name).toBe('DuoAttentionPress');
  });

  it('check safetensors artefacts against the model on prepare()', async () => {
    const good = await writeF32Safetensors(join(tmp.dir, 'qf.safetensors'), { q_filters: f32([3, 2, 8]) });
    await createPress({ name: 'qfilter', artefactPath: good }).prepare(MODEL);
    const wrongShape = await writeF32Safetensors(join(tmp.dir, 'qf-bad.safetensors'), { q_filters: f32([3, 4, 8]) });
    const err = await rejected(createPress({ name: 'qfilter', artefactPath: wrongShape }).prepare(MODEL));
    expect(err).toBeInstanceOf(CorruptModelError);
    expect(err.message).toMatch(/"q_filters" has shape \[3, 4, 8\], expected \[3, 2, 8\]/);
    const garbage = writeJson(join(tmp.dir, 'garbage.safetensors'), 'not a safetensors file at all');
    expect(await rejected(createPress({ name: 'qfilter', artefactPath: garbage }).prepare(MODEL))).toBeInstanceOf(CorruptModelError);

    const stats = await writeF32Safetensors(join(tmp.dir, 'stats.safetensors'), { query_mean: f32([3, 4, 8]), query_cov: f32([3, 4, 8, 8]) });
    await createPress({ name: 'expected-attention-stats', artefactPath: stats }).prepare(MODEL);
    const noCov = await writeF32Safetensors(join(tmp.dir, 'stats-bad.safetensors'), { query_mean: f32([3, 4, 8]) });
    expect((await rejected(createPress({ name: 'expected-attention-stats', artefactPath: noCov }).prepare(MODEL))).message).toMatch(/"query_cov" is missing/);

    const curve = await writeF32Safetensors(join(tmp.dir, 'curve.safetensors'), { curve: f32([99, 3, 2]) });
    await createPress({ name: 'lukv', artefactPath: curve }).prepare(MODEL);
    expect(await rejected(createPress({ name: 'lukv', artefactPath: stats }).prepare(MODEL))).toBeInstanceOf(CorruptModelError);

    const linear: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (let l = 0; l < 3; l++) Object.assign(linear, { [`layers.${l}.w1`]: f32([2, 16]), [`layers.${l}.b1`]: f32([2]) });
    const kvzap = await writeF32Safetensors(join(tmp.dir, 'kvzap.safetensors'), linear);
    await createPress({ name: 'kvzap', modelType: 'linear', artefactPath: kvzap }).prepare(MODEL);
    expect(await rejected(createPress({ name: 'kvzap', modelType: 'mlp', artefactPath: kvzap }).prepare(MODEL))).toBeInstanceOf(CorruptModelError);
  });

  it('check FastKVzip gate files', async () => {
    const gates: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (let l = 0; l < 3; l++) {
      Object.assign(gates, {
        [`layers.${l}.wq`]: f32([64, 16]), [`layers.${l}.bq`]: f32([64]), [`layers.${l}.wk`]: f32([32, 16]),
        [`layers.${l}.q_norm`]: f32([16]), [`layers.${l}.k_norm`]: f32([16]), [`layers.${l}.bias`]: f32([2, 2]),
        [`layers.${l}.sink_keys`]: f32([2, 16, 16]),
      });
    }
    const ok = await writeF32Safetensors(join(tmp.dir, 'gates.safetensors'), gates);
    await createPress({ name: 'fast-kvzip', artefactPath: ok }).prepare(MODEL);
    delete gates['layers.2.sink_keys'];
    const bad = await writeF32Safetensors(join(tmp.dir, 'gates-bad.safetensors'), gates);
    expect((await rejected(createPress({ name: 'fast-kvzip', artefactPath: bad }).prepare(MODEL))).message).toMatch(/layers\.2\.sink_keys/);
  });

  it('check DuoAttention JSON patterns', async () => {
    const ok = writeJson(join(tmp.dir, 'duo.json'), { sinkSize: 4, recentSize: 16, headScores: [[0.1, 0.9], [0.5, 0.2], [1, 0]] });
    await createPress({ name: 'duo-attention', headCompressionRatio: 0.5, artefactPath: ok }).prepare(MODEL);
    for (const bad of ['{not json', { sinkSize: 4, recentSize: 16 }, { sinkSize: -1, recentSize: 2, headScores: [[1, 1]] }, { sinkSize: 4, recentSize: 16, headScores: [[0.1, 0.9], [0.5]] }]) {
      const path = writeJson(join(tmp.dir, 'duo-bad.json'), bad);
      expect(await rejected(createPress({ name: 'duo-attention', artefactPath: path }).prepare(MODEL))).toBeInstanceOf(CorruptModelError);
    }
    const wrongModel = writeJson(join(tmp.dir, 'duo-2.json'), { sinkSize: 4, recentSize: 16, headScores: [[0.1, 0.9]] });
    expect((await rejected(createPress({ name: 'duo-attention', artefactPath: wrongModel }).prepare(MODEL))).message).toMatch(/3 layers × 2 kv-heads/);
  });
});

describe('custom scorer', () => {
  const layer: CustomScorerLayer = {
    layer: 0, nLayers: 1, n: 3, q: 3, nHeads: 2, nKvHeads: 1, headDim: 2, hiddenSize: 4,
    hiddenStates: new Float32Array(12), keys: new Float32Array(6), values: new Float32Array(6), positions: Int32Array.from([0, 1, 2]),
    windowSize: 1, windowQueries: new Float32Array(4),
  };

  it('needs a score function', () => {
    expect(thrown(() => new CustomScorerPress({}))).toBeInstanceOf(InvalidArgumentError);
    expect(thrown(() => new CustomScorerPress({ score: 3 })).message).toMatch(/must be a function/);
  });

  it("checks the callback's result: length nKvHeads·n, no NaN", () => {
    expect(Array.from(runCustomScorer('mine', () => [3, 1, 2], layer))).toEqual([3, 1, 2]);
    expect(thrown(() => runCustomScorer('mine', () => [1, 2], layer)).message).toMatch(/returned 2 scores .* expected nKvHeads·n = 1·3 = 3/);
    expect(thrown(() => runCustomScorer('mine', () => [1, Number.NaN, 2], layer))).toBeInstanceOf(InvalidArgumentError);
    expect(thrown(() => runCustomScorer('mine', () => 'x' as never, layer))).toBeInstanceOf(InvalidArgumentError);
  });

  it('hands native code a checked callback and plain options', () => {
    const p = new CustomScorerPress({ compressionRatio: 0.5, windowSize: 4, label: 'neg-position', score: (l: CustomScorerLayer) => Array.from(l.positions, (x) => -x) });
    const native = p.toNativeConfig();
    expect(native.options).toEqual({ compressionRatio: 0.5, windowSize: 4, label: 'neg-position' });
    expect(Array.from(native.score!(layer))).toEqual([-0, -1, -2]);
    expect(JSON.stringify(p.toJSON())).not.toContain('score');
  });
});

describe('preparePress', () => {
  it('resolves, validates against model and context, and returns the native config', async () => {
    const { preparePress, pressSpecSchema } = await import('../../engine/presses/index.js');
    const ok = await preparePress({ name: 'adakv', compressionRatio: 0.5, press: { name: 'snapkv', windowSize: 8 } }, { model: MODEL, contextTokens: 100 });
    expect(ok.native.name).toBe('AdaKVPress');
    expect(ok.press.compressionRatio).toBe(0.5);
    await expect(preparePress({ name: 'snapkv', windowSize: 8 }, { model: MODEL, contextTokens: 8 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(preparePress({ name: 'per-layer-compression', compressionRatios: [0.5], press: { name: 'knorm' } }, { model: MODEL, contextTokens: 50 })).rejects.toThrow(/3 layers/);
    await expect(preparePress({ name: 'qfilter', artefactPath: join(tmp.dir, 'absent.safetensors') }, { model: MODEL, contextTokens: 50 })).rejects.toBeInstanceOf(ModelNotFoundError);
    expect(pressSpecSchema.safeParse('snapkv').success).toBe(true);
    expect(pressSpecSchema.safeParse({ name: 'snapkv', compressionRatio: 0.5 }).success).toBe(true);
    expect(pressSpecSchema.safeParse(new KnormPress()).success).toBe(true);
    expect(pressSpecSchema.safeParse({ compressionRatio: 0.5 }).success).toBe(false);
  });
});
