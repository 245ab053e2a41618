// The native press pipeline over several layers and decoding steps (addon runPressPipeline): decoding presses'
// cache sizes, DMS during decoding, ratio 0. KVzip's and KVCompose's budgets: native-reconstruction.test.ts.
import { testingAddon } from '../helpers/testing-addon.js';
import { describe, expect, it } from 'vitest';
import { callNative, nativeAddon } from '../../engine/native.js';
import { createPress, type Press } from '../../engine/presses/index.js';
import { gaussian, makeLayerInputs, randomArray, seededRandom } from '../reference/presses/layer-inputs.js';
import { camCacheSizes, decodingCacheSizes, ratioDecodingCacheSizes } from '../reference/presses/selection.js';
import { pressAddon } from './native-harness.js';

interface PipelineLayerOut {
  kept: Int32Array[];
  positions: Int32Array[];
  keys: Float32Array[];
  values: Float32Array[];
}
interface PipelineOut {
  layers: PipelineLayerOut[];
  ratio: number;
  pressRatio: number;
}
type RunPipeline = (config: unknown, inputs: unknown) => PipelineOut;

const runPressPipeline = testingAddon<{ runPressPipeline: RunPipeline }>().runPressPipeline;

const SHAPE = { nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 8, hidden: 16 };

/** A context of n tokens through every layer, then `steps` single-token decoding forwards. */
function pipelineInputs(seed: number, n: number, steps: number) {
  const layers = Array.from({ length: SHAPE.nLayers }, (_x, layer) => {
    const l = makeLayerInputs(seed + layer, { n, ...SHAPE, layer, withWo: true });
    return { hidden: l.hidden, keys: l.keys, values: l.values, weights: l.weights };
  });
  const normal = gaussian(seededRandom(seed + 1000));
  const { nKvHeads: Hk, headDim: d, hidden: D } = SHAPE;
  const decode = Array.from({ length: steps }, () => ({
    q: 1,
    layers: Array.from({ length: SHAPE.nLayers }, () => ({
      hidden: randomArray(D, normal),
      keys: randomArray(Hk * d, normal),
      values: randomArray(Hk * d, normal),
    })),
  }));
  const config = { ...makeLayerInputs(seed, { n: 1, ...SHAPE }).config };
  return { config, n, layers, decode };
}

function run(press: Press, inputs: ReturnType<typeof pipelineInputs>): PipelineOut {
  return callNative(() => runPressPipeline!(press.toNativeConfig(), inputs));
}

function cacheSize(out: PipelineOut): number[] {
  return out.layers.flatMap((l) => l.kept.map((k) => k.length));
}

describe.skipIf(!runPressPipeline)('native press pipeline', () => {
  it('DecodingPress keeps the cache within [target, target + interval − 1] on the kvpress schedule', () => {
    const press = createPress({ name: 'decoding', compressionInterval: 4, targetSize: 24, press: { name: 'knorm' } });
    const expected = decodingCacheSizes(20, 30, 4, 24);
    for (const steps of [1, 4, 5, 8, 9, 12, 15, 16, 23, 30]) {
      const sizes = cacheSize(run(press, pipelineInputs(70, 20, steps)));
      for (const s of sizes) expect(s, `after ${steps} steps`).toBe(expected[steps - 1]);
      if (20 + steps > 24 + 4) for (const s of sizes) expect(s >= 24 && s <= 24 + 4 - 1).toBe(true);
    }
  });

  it('DecodingPress wrapping AdaKV keeps each layer\'s total at the target, heads may differ', () => {
    const press = createPress({ name: 'decoding', compressionInterval: 5, targetSize: 16, press: { name: 'adakv', press: { name: 'knorm' } } });
    for (const steps of [5, 12]) {
      const out = run(press, pipelineInputs(71, 30, steps));
      for (const layer of out.layers) expect(layer.kept.reduce((a, k) => a + k.length, 0), `${steps} steps`).toBe(2 * (16 + steps - 5 * Math.floor(steps / 5)));
    }
  });

  it('PrefillDecodingPress with only a decoding press behaves exactly like it; with a prefill press it compresses first', () => {
    const decoding = { name: 'decoding', compressionInterval: 3, targetSize: 12, press: { name: 'knorm' } };
    const inputs = pipelineInputs(72, 16, 7);
    const alone = run(createPress(decoding), inputs);
    const routed = run(createPress({ name: 'prefill-decoding', decodingPress: decoding }), inputs);
    expect(routed.layers.map((l) => l.kept.map((k) => Array.from(k)))).toEqual(alone.layers.map((l) => l.kept.map((k) => Array.from(k))));
    const both = run(createPress({ name: 'prefill-decoding', prefillingPress: { name: 'knorm', compressionRatio: 0.5 }, decodingPress: decoding }), pipelineInputs(72, 16, 2));
    for (const s of cacheSize(both)) expect(s).toBe(8 + 2);
  });

  it('CompressionRatioDecodingPress targets floor(tokens seen · (1 − r))', () => {
    const press = createPress({ name: 'compression-ratio-decoding', targetCompressionRatio: 0.5, compressionInterval: 4, press: { name: 'knorm' } });
    const expected = ratioDecodingCacheSizes(20, 12, 4, 0.5);
    for (const steps of [3, 4, 7, 8, 12]) for (const s of cacheSize(run(press, pipelineInputs(73, 20, steps)))) expect(s, `${steps} steps`).toBe(expected[steps - 1]);
  });

  it('CAMPress follows its schedule, keeps one ranking for all heads and merges evicted values', () => {
    const press = createPress({ name: 'cam', compressionInterval: 4, targetSize: 24, mergeBudget: 4, press: { name: 'knorm' } });
    const expected = camCacheSizes(20, 14, 4, 24);
    for (const steps of [4, 5, 8, 9, 14]) {
      const out = run(press, pipelineInputs(74, 20, steps));
      for (const s of cacheSize(out)) expect(s, `${steps} steps`).toBe(expected[steps - 1]);
      for (const layer of out.layers) expect(Array.from(layer.kept[0])).toEqual(Array.from(layer.kept[1]));
    }
  });

  it('DMSPress with decoding evicts low-scoring tokens as they leave the window', () => {
    const n = 20;
    const steps = 6;
    const W = 4;
    const inputs = pipelineInputs(75, n, steps);
    const d = SHAPE.headDim;
    const norms = (keys: Float32Array, h: number, len: number) =>
      Array.from({ length: len }, (_x, t) => -Math.hypot(...keys.subarray((h * len + t) * d, (h * len + t + 1) * d)));
    const threshold = -2.6;
    const out = run(createPress({ name: 'dms', threshold, slidingWindowSize: W, decoding: true, press: { name: 'knorm' } }), inputs);
    out.layers.forEach((layer, l) => {
      layer.kept.forEach((kept, h) => {
        const scores = [...norms(inputs.layers[l].keys, h, n), ...inputs.decode.map((s) => norms(s.layers[l].keys, h, 1)[0])];
        const total = n + steps;
        const expected = scores.map((s, t) => (t >= total - W || s >= threshold ? t : -1)).filter((t) => t >= 0);
        expect(Array.from(kept).sort((a, b) => a - b), `layer ${l} head ${h}`).toEqual(expected);
      });
    });
  });

  it('DMSPress without decoding leaves generated tokens alone', () => {
    const inputs = pipelineInputs(76, 20, 6);
    const prefillOnly = run(createPress({ name: 'dms', threshold: -2.6, slidingWindowSize: 4, press: { name: 'knorm' } }), { ...inputs, decode: [] });
    const withSteps = run(createPress({ name: 'dms', threshold: -2.6, slidingWindowSize: 4, press: { name: 'knorm' } }), inputs);
    expect(cacheSize(withSteps)).toEqual(cacheSize(prefillOnly).map((s) => s + 6));
  });

  it('ratio 0 leaves every slot, key and value bit-identical', () => {
    const inputs = pipelineInputs(79, 18, 0);
    for (const spec of [{ name: 'snapkv', windowSize: 4 }, { name: 'adakv', press: { name: 'knorm' } }, { name: 'kvzip' }, { name: 'key-rerotation', press: { name: 'knorm' } }]) {
      const out = run(createPress(spec), inputs);
      out.layers.forEach((layer, l) =>
        layer.kept.forEach((kept, h) => {
          expect(Array.from(kept)).toEqual(Array.from({ length: 18 }, (_x, t) => t));
          expect(Array.from(layer.keys[h])).toEqual(Array.from(inputs.layers[l].keys.subarray(h * 18 * 8, (h + 1) * 18 * 8)));
          expect(Array.from(layer.values[h])).toEqual(Array.from(inputs.layers[l].values.subarray(h * 18 * 8, (h + 1) * 18 * 8)));
        }),
      );
    }
  });
});
