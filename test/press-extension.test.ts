// What adding a press takes. A new scorer press is one native file and one TS file: TestValueNormPress, made up
// for this test, has its native half in native/test/presses/test-value-norm-press.cc (compiled only into the
// test addon, where it registers itself) and its TS half below: a class whose schema is the one place its
// options and defaults live. It runs through the normal path (createPress → toNativeConfig → the native press
// registry → the layer-major press pipeline) and keeps exactly the top-k of the score a plain reference computes.
// The press files of the engine register themselves the same way, so both addons must list every press the TS
// registry knows.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { callNative, nativeAddon } from '../engine/native.js';
import { InternalError } from '../engine/errors.js';
import { ScorerPress, count, createPress, pressClasses, ratio, registerPressClass, type PressClass } from '../engine/presses/index.js';
import { testingAddon } from './helpers/testing-addon.js';
import { makeLayerInputs } from './reference/presses/layer-inputs.js';
import { isTopK, keptCount } from './reference/presses/selection.js';

// ---- the TS half of the made-up press: everything it needs on this side ----
/** Keeps the slots whose values have the largest L2 norm; the first `nSink` are always kept. */
class TestValueNormPress extends ScorerPress<{ compressionRatio: number; nSink: number }> {
  static readonly className = 'TestValueNormPress';
  static readonly shortName = 'test-value-norm';
  static readonly schema = z.object({ compressionRatio: ratio().default(0), nSink: count().default(2) }).strict();
}
// ---- end of the TS half ----

const builtInClassNames = new Set(pressClasses().map((c) => c.className));
registerPressClass(TestValueNormPress as unknown as PressClass);

interface PipelineOut {
  layers: { kept: Int32Array[]; positions: Int32Array[] }[];
  ratio: number;
}
const testing = testingAddon<{ runPressPipeline(config: unknown, inputs: unknown): PipelineOut; pressNames(): string[] }>();
const shipped = nativeAddon() as unknown as { pressNames(): string[] };

const SHAPE = { nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 8, hidden: 16 };

function contextLayers(seed: number, n: number) {
  return Array.from({ length: SHAPE.nLayers }, (_x, layer) => {
    const l = makeLayerInputs(seed + layer, { n, ...SHAPE, layer });
    return { hidden: l.hidden, keys: l.keys, values: l.values, weights: l.weights };
  });
}

/** The made-up score, as a plain loop: ‖V‖ per (kv-head, slot), +∞ for the first nSink slots. */
function valueNormScores(values: Float32Array, n: number, nSink: number): number[][] {
  const { nKvHeads: Hk, headDim: d } = SHAPE;
  return Array.from({ length: Hk }, (_h, h) =>
    Array.from({ length: n }, (_t, t) => {
      if (t < nSink) return Infinity;
      let squares = 0;
      for (let c = 0; c < d; c++) squares += values[(h * n + t) * d + c] ** 2;
      return Math.sqrt(squares);
    }),
  );
}

function runPipeline(spec: Parameters<typeof createPress>[0], n: number, seed: number) {
  const layers = contextLayers(seed, n);
  const config = { ...makeLayerInputs(seed, { n: 1, ...SHAPE }).config };
  const out = callNative(() => testing.runPressPipeline(createPress(spec).toNativeConfig(), { config, n, layers }));
  return { layers, out };
}

describe('press registration', () => {
  it('the shipped addon registers exactly the presses of the TS registry, and no test-only press', () => {
    expect(new Set(shipped.pressNames())).toEqual(builtInClassNames);
  });

  it('the test addon registers the same presses plus the test-only ones of native/test/presses/', () => {
    expect(new Set(testing.pressNames())).toEqual(new Set([...builtInClassNames, 'TestValueNormPress']));
  });

  it('a registered TS class is found by its class and short names; a taken name is refused', () => {
    expect(createPress('test-value-norm')).toBeInstanceOf(TestValueNormPress);
    expect(createPress({ name: 'TestValueNormPress', compressionRatio: 0.25 }).options).toEqual({ compressionRatio: 0.25, nSink: 2 });
    expect(() => registerPressClass(TestValueNormPress as unknown as PressClass)).toThrow(/already registered/);
  });
});

describe('a made-up scorer press: one native file + one TS file', () => {
  const n = 48;

  it.each([
    [{ name: 'test-value-norm', compressionRatio: 0.5 }, 2],
    [{ name: 'test-value-norm', compressionRatio: 0.3, nSink: 7 }, 7],
  ] as const)('%j keeps the top-k of its reference score in every layer and head', (spec, nSink) => {
    const { layers, out } = runPipeline(spec, n, 11);
    const k = keptCount(n, spec.compressionRatio);
    out.layers.forEach((layer, l) => {
      const reference = valueNormScores(layers[l].values, n, nSink);
      reference.forEach((row, h) => {
        const finite = row.filter(Number.isFinite);
        const tol = 1e-5 * (1 + Math.max(...finite) - Math.min(...finite));
        expect(isTopK(row, layer.positions[h], k, tol), `layer ${l} head ${h}`).toBeUndefined();
        for (let t = 0; t < nSink; t++) expect(Array.from(layer.positions[h])).toContain(t);
      });
    });
    expect(out.ratio).toBeCloseTo(1 - k / n, 10);
  });

  it('is a scorer: scorer-only wrappers take it (AdaKV keeps the layer total across heads)', () => {
    const { out } = runPipeline({ name: 'adakv', compressionRatio: 0.5, press: { name: 'test-value-norm' } }, n, 12);
    for (const layer of out.layers) expect(layer.positions.reduce((sum, head) => sum + head.length, 0)).toBe(SHAPE.nKvHeads * keptCount(n, 0.5));
  });

  it('its defaults live in the TS schema only: a native config without them is an internal error', () => {
    const config = { ...makeLayerInputs(13, { n: 1, ...SHAPE }).config };
    const bare = { name: 'TestValueNormPress', options: { compressionRatio: 0.5 } };
    expect(() => callNative(() => testing.runPressPipeline(bare, { config, n, layers: contextLayers(13, n) }))).toThrow(InternalError);
    expect(createPress(bare).toNativeConfig()).toEqual({ name: 'TestValueNormPress', options: { compressionRatio: 0.5, nSink: 2 } });
  });
});
