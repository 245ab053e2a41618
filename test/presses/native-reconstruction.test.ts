// KVzip and KVCompose score by context reconstruction (spec §2.12, §2.14): after the prefill the engine runs
// reconstruction passes through the model on top of the context cache. Here the pipeline gets those passes'
// per-layer inputs directly (addon runPressPipeline `reconstruction`), and the scores, kept slots and the
// passes' token assembly are compared with the plain references of test/reference/presses/reconstruction.ts.
import { testingAddon } from '../helpers/testing-addon.js';
import { describe, expect, it } from 'vitest';
import { callNative, nativeAddon } from '../../engine/native.js';
import { createPress, type NativePressConfig } from '../../engine/presses/index.js';
import { gaussian, makeLayerInputs, randomArray, seededRandom, type LayerInputs } from '../reference/presses/layer-inputs.js';
import { keptCount } from '../reference/presses/selection.js';
import {
  kvcomposeScores, kvzipKept, kvzipPasses, kvzipScores, type KVzipPieces, type PassInputs, type PlannedPass,
} from '../reference/presses/reconstruction.js';
import { pressAddon } from './native-harness.js';

interface PipelineOut {
  layers: { kept: Int32Array[]; scores?: Float32Array }[];
  passes?: { tokens: Int32Array; begin: number; end: number }[];
}
type RunPipeline = (config: unknown, inputs: unknown) => PipelineOut;
const runPressPipeline = testingAddon<{ runPressPipeline: RunPipeline }>().runPressPipeline;

const SHAPE = { nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 8, hidden: 16 };
const { nLayers: L, nKvHeads: Hk, headDim: d, hidden: D } = SHAPE;

function contextLayers(seed: number, n: number): LayerInputs[] {
  return Array.from({ length: L }, (_x, layer) => makeLayerInputs(seed + layer, { n, ...SHAPE, layer, withWo: true }));
}

function passInputs(seed: number, planned: PlannedPass[]): PassInputs[][] {
  const normal = gaussian(seededRandom(seed));
  return planned.map((p) =>
    Array.from({ length: L }, () => ({
      hidden: randomArray(p.tokens.length * D, normal),
      keys: randomArray(Hk * p.tokens.length * d, normal),
      values: randomArray(Hk * p.tokens.length * d, normal),
    })),
  );
}

function run(config: NativePressConfig, layers: LayerInputs[], context: number[], passes: PassInputs[][] | undefined): PipelineOut {
  const inputs = {
    config: layers[0].config,
    n: layers[0].n,
    layers: layers.map((l) => ({ hidden: l.hidden, keys: l.keys, values: l.values, weights: l.weights })),
    reconstruction: passes && {
      context: Int32Array.from(context),
      passes: passes.map((perLayer) => ({ layers: perLayer })),
    },
  };
  return callNative(() => runPressPipeline!(config, inputs));
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 2e-4): void {
  expect(actual.length).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / (1e-3 * scale + Math.abs(expected[i]));
    expect(err, `element ${i}: ${actual[i]} vs ${expected[i]}`).toBeLessThan(tol);
  }
}

/** Every kept score ≥ every dropped score − tol over the set the budget spans (all layers, or one layer). */
function expectBudgetRespected(scores: Float64Array[][], kept: Int32Array[][], tol: number): void {
  let minKept = Infinity;
  let maxDropped = -Infinity;
  scores.forEach((layer, l) =>
    layer.forEach((row, h) => {
      const set = new Set(Array.from(kept[l][h]));
      row.forEach((s, t) => {
        if (set.has(t)) minKept = Math.min(minKept, s);
        else maxDropped = Math.max(maxDropped, s);
      });
    }),
  );
  expect(minKept).toBeGreaterThanOrEqual(maxDropped - tol);
}

const PIECES: KVzipPieces = { repeatPromptIds: [7, 8, 9], repeatPartPromptIds: [10, 11], suffixIds: [12], prefixLength: 6, chunkSize: 12 };

function kvzipConfig(spec: Record<string, unknown>, pieces: KVzipPieces): NativePressConfig {
  const base = createPress({ name: 'kvzip', ...spec }).toNativeConfig();
  return { ...base, options: { ...base.options, ...pieces } };
}

describe.skipIf(!runPressPipeline)('reconstruction presses in the native pipeline', () => {
  const n = 40;
  const context = Array.from({ length: n }, (_x, t) => 100 + t);

  it('KVzip assembles its passes as kvpress: chunks after the prefix, the instruction, the previous chunk\'s last 8 tokens, the suffix', () => {
    const planned = kvzipPasses(context, PIECES);
    expect(planned.map((p) => [p.begin, p.end])).toEqual([[6, 18], [18, 30], [30, 40]]);
    expect(planned[1].tokens).toEqual([10, 11, ...context.slice(10, 18), 12, ...context.slice(18, 30)]);
    const out = run(kvzipConfig({ compressionRatio: 0.5 }, PIECES), contextLayers(80, n), context, passInputs(81, planned));
    expect(out.passes!.map((p) => ({ tokens: Array.from(p.tokens), begin: p.begin, end: p.end }))).toEqual(planned);
  });

  for (const [spec, pieces] of [
    [{ compressionRatio: 0.5 }, PIECES],
    [{ compressionRatio: 0.5, layerwise: true }, PIECES],
    [{ compressionRatio: 0.3, kvzipPlusNormalization: true }, PIECES],
    [{ compressionRatio: 0.6, nSink: 2 }, { ...PIECES, prefixLength: 0, chunkSize: 16 }],
  ] as [Record<string, unknown>, KVzipPieces][]) {
    it(`KVzip ${JSON.stringify(spec)} prefix ${pieces.prefixLength}: scores and one budget over all layers match the reference`, () => {
      const layers = contextLayers(82, n);
      const planned = kvzipPasses(context, pieces);
      const passes = passInputs(83, planned);
      const out = run(kvzipConfig(spec, pieces), layers, context, passes);
      const nSink = (spec.nSink as number | undefined) ?? 4;
      const plus = spec.kvzipPlusNormalization === true;
      const reference = layers.map((layer, l) => kvzipScores(layer, planned, passes.map((p) => p[l]), nSink, plus));
      out.layers.forEach((layer, l) => expectClose(layer.scores!, reference[l].flatMap((r) => Array.from(r))));
      const kept = out.layers.map((layer) => layer.kept);
      const expected = kvzipKept(reference, spec.compressionRatio as number, spec.layerwise === true);
      const total = L * Hk * n;
      expect(kept.flat().reduce((a, k) => a + k.length, 0)).toBe(expected.flat().reduce((a, k) => a + k.length, 0));
      expect(kept.flat().reduce((a, k) => a + k.length, 0)).toBe(
        spec.layerwise ? L * (Hk * n - Math.floor(Hk * n * (spec.compressionRatio as number))) : total - Math.floor(total * (spec.compressionRatio as number)),
      );
      if (spec.layerwise) reference.forEach((layer, l) => expectBudgetRespected([layer], [kept[l]], 1e-5));
      else expectBudgetRespected(reference, kept, 1e-5);
      // Heads keep different counts; the first n_sink slots are kept only where no chunk overwrote them (kvpress).
      expect(new Set(kept.flat().map((k) => k.length)).size).toBeGreaterThan(1);
      if (pieces.prefixLength >= nSink) for (const layer of kept) for (const head of layer) for (let t = 0; t < nSink; t++) expect(Array.from(head)).toContain(t);
      // The template prefix beyond the sinks is never scored: it goes first.
      for (const layer of kept) for (const head of layer) for (let t = nSink; t < pieces.prefixLength; t++) expect(Array.from(head)).not.toContain(t);
    });
  }

  it('KVzip refuses to run without its reconstruction prompts, or without the passes', () => {
    const layers = contextLayers(84, n);
    expect(() => run(createPress({ name: 'kvzip', compressionRatio: 0.5 }).toNativeConfig(), layers, context, undefined)).toThrow(/reconstruction prompts/);
    expect(() => run(kvzipConfig({ compressionRatio: 0.5 }, PIECES), layers, context, undefined)).toThrow(/never planned/);
  });

  for (const spec of [
    { structured: true },
    { structured: false },
    { structured: true, aggTask: 'mean', aggGroup: 'max', addVNorm: true, addMeanAcrossHeads: false },
  ] as Record<string, unknown>[]) {
    it(`KVCompose ${JSON.stringify(spec)}: one pass of the context again; scores match the reference, floor(total·(1−r)) kept`, () => {
      const m = 20;
      const ids = context.slice(0, m);
      const layers = contextLayers(85, m);
      const planned = [{ tokens: ids, begin: 0, end: m }];
      const passes = passInputs(86, planned);
      const out = run(createPress({ name: 'kvcompose', compressionRatio: 0.5, ...spec }).toNativeConfig(), layers, ids, passes);
      expect(out.passes!.map((p) => ({ tokens: Array.from(p.tokens), begin: p.begin, end: p.end }))).toEqual(planned);
      const o = { aggTask: 'max', aggGroup: 'mean', addVNorm: false, addMeanAcrossHeads: true, ...spec } as Parameters<typeof kvcomposeScores>[2];
      const reference = layers.map((layer, l) => kvcomposeScores(layer, passes[0][l], o));
      out.layers.forEach((layer, l) => expectClose(layer.scores!, reference[l].flatMap((r) => Array.from(r))));
      const counts = out.layers.map((layer) => layer.kept.map((k) => k.length));
      if (spec.structured) {
        for (const c of counts) expect(new Set(c).size).toBe(1);
        expect(counts.reduce((a, c) => a + c[0], 0)).toBe(keptCount(L * m, 0.5));
      } else {
        expect(counts.flat().reduce((a, b) => a + b, 0)).toBe(keptCount(L * Hk * m, 0.5));
      }
      // Each head keeps its own top slots by its own scores.
      out.layers.forEach((layer, l) => layer.kept.forEach((k, h) => expectBudgetRespected([[reference[l][h]]], [[k]], 1e-5)));
    });
  }
});
