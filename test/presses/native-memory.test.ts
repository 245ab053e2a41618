// Every press frees memory for real through the engine's paged KV cache (addon runPressPipeline with
// cache 'paged'): bytesAfter ≤ (1 − r)·bytesBefore + one page per (layer, kv-head), head-wise presses included.
import { testingAddon } from '../helpers/testing-addon.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { callNative, nativeAddon } from '../../engine/native.js';
import { createPress, listPresses, type PressSpec } from '../../engine/presses/index.js';
import { gaussian, makeLayerInputs, randomArray, seededRandom } from '../reference/presses/layer-inputs.js';
import { kvzipPasses, type KVzipPieces } from '../reference/presses/reconstruction.js';
import { makeTempDir, writeF32Safetensors, waveTensor, writeJson, writeTrainedPressArtefacts } from './artefact-files.js';
import { pressAddon } from './native-harness.js';

interface PagedOut {
  layers: { kept: Int32Array[] }[];
  bytesBefore: number;
  bytesAfter: number;
}
type RunPipeline = (config: unknown, inputs: unknown) => PagedOut;
const runPressPipeline = testingAddon<{ runPressPipeline: RunPipeline }>().runPressPipeline;

const L = 2;
const H = 4;
const Hk = 2;
const d = 8;
const D = 16;
const n = 64;
const PAGE_TOKENS = 16;
const PAGE_BYTES = PAGE_TOKENS * (d * 2 * 4 + 4); // K and V rows in f32 plus each slot's int32 position
const RATIO = 0.5;

const tmp = makeTempDir('presskv-native-memory-');
afterAll(() => tmp.cleanup());
const files: Record<string, string> = {};


beforeAll(async () => {
  files.qfilter = await writeF32Safetensors(join(tmp.dir, 'qf.safetensors'), { q_filters: waveTensor([L, Hk, d], 0.7) });
  const cov = waveTensor([L, H, d, d], 0.3, 0.05);
  files.stats = await writeF32Safetensors(join(tmp.dir, 'stats.safetensors'), { query_mean: waveTensor([L, H, d], 0.9), query_cov: cov });
  Object.assign(files, await writeTrainedPressArtefacts(tmp.dir, { nLayers: L, nHeads: H, nKvHeads: Hk, hidden: D }));
  files.curve = await writeF32Safetensors(join(tmp.dir, 'curve.safetensors'), { curve: { shape: [99, L, Hk], data: Float32Array.from({ length: 99 * L * Hk }, (_x, i) => Math.floor(i / (L * Hk)) / 100 + ((i % 2) - 0.5) * 0.2 * (Math.floor(i / (L * Hk)) / 100)) } });
  files.duo = writeJson(join(tmp.dir, 'duo.json'), { sinkSize: 2, recentSize: 6, headScores: [[0.1, 0.9], [0.8, 0.2]] });
});

/** The config each press runs with at ratio 0.5 (or its own budget knob set to remove at least half). */
function specFor(name: string): PressSpec | undefined {
  const inner = { name: 'knorm' };
  const r = { compressionRatio: RATIO };
  const table: Record<string, PressSpec> = {
    snapkv: { name, ...r, windowSize: 8 },
    pyramidkv: { name, ...r, windowSize: 8 },
    'expected-attention': { name, ...r, nFuturePositions: 32 },
    'expected-attention-stats': { name, ...r, nFuturePositions: 32, artefactPath: files.stats },
    cap: { name, ...r, nFuturePositions: 32 },
    qfilter: { name, ...r, artefactPath: files.qfilter },
    kvzap: { name, ...r, artefactPath: files.kvzap },
    lagkv: { name, ...r, lagSize: 8 },
    'non-causal-attn': { name, ...r, chunkSize: 16 },
    compactor: { name, ...r, chunkSize: 16 },
    think: { name, keyChannelCompressionRatio: 0.5, windowSize: 4 },
    simlayerkv: { name, lazyThreshold: 0, nInitial: 4, nRecent: 24, nLast: 1 },
    'duo-attention': { name, headCompressionRatio: 1, artefactPath: files.duo },
    finch: { name, ...r, windowSize: 8 },
    'fast-kvzip': { name, ...r, windowRatio: 0.05, artefactPath: files.gates },
    lukv: { name, ...r, artefactPath: files.curve, press: inner },
    'per-layer-compression': { name, compressionRatios: [RATIO, RATIO], press: inner },
    composed: { name, presses: [{ name: 'knorm', compressionRatio: 0.25 }, { name: 'keydiff', compressionRatio: 1 / 3 }] },
    dms: { name, threshold: 1e9, slidingWindowSize: 16, press: inner },
    'prefill-decoding': { name, prefillingPress: { name: 'knorm', ...r } },
  };
  if (table[name]) return table[name];
  const entry = listPresses().find((p) => p.name === name)!;
  if (entry.kind === 'decoding') return undefined; // prefill leaves the cache alone; bounded in native-pipeline.test.ts
  if (entry.kind === 'wrapper') return { name, ...r, press: inner };
  return { name, ...r };
}

// KVzip / KVCompose: their reconstruction passes (prompt pieces and per-layer pass inputs) stand in for the forward.
const KVZIP_PIECES: KVzipPieces = { repeatPromptIds: [1, 2, 3], repeatPartPromptIds: [4, 5], suffixIds: [6], prefixLength: 4, chunkSize: 24 };
function reconstruction(name: string, seed: number): { options?: Record<string, unknown>; inputs?: unknown } {
  const context = Array.from({ length: n }, (_x, t) => 10 + t);
  const planned = name === 'kvzip' ? kvzipPasses(context, KVZIP_PIECES) : name === 'kvcompose' ? [{ tokens: context }] : [];
  if (planned.length === 0) return {};
  const normal = gaussian(seededRandom(seed));
  const passes = planned.map((p) => ({
    layers: Array.from({ length: L }, () => ({
      hidden: randomArray(p.tokens.length * D, normal),
      keys: randomArray(Hk * p.tokens.length * d, normal),
      values: randomArray(Hk * p.tokens.length * d, normal),
    })),
  }));
  return { options: name === 'kvzip' ? { ...KVZIP_PIECES } : undefined, inputs: { context: Int32Array.from(context), passes } };
}

function layers(seed: number) {
  return Array.from({ length: L }, (_x, layer) => {
    const l = makeLayerInputs(seed + layer, { n, nLayers: L, layer, nHeads: H, nKvHeads: Hk, headDim: d, hidden: D, withWo: true });
    return { hidden: l.hidden, keys: l.keys, values: l.values, weights: l.weights };
  });
}

describe.skipIf(!runPressPipeline)('memory freed for real in the paged cache', () => {
  // Decoding presses leave the prefill alone; their bound during generation is checked below.
  const names = listPresses()
    .filter((p) => p.kind !== 'decoding' || p.name === 'prefill-decoding')
    .map((p) => p.name);
  for (const name of names) {
    it(`${name}`, () => {
      const press = createPress(specFor(name)!);
      const config = makeLayerInputs(1, { n: 1, nLayers: L, nHeads: H, nKvHeads: Hk, headDim: d, hidden: D }).config;
      const native = press.toNativeConfig();
      const passes = reconstruction(name, 201);
      const pressConfig = passes.options ? { ...native, options: { ...native.options, ...passes.options } } : native;
      const out = callNative(() =>
        runPressPipeline!(pressConfig, {
          config, n, layers: layers(200), cache: 'paged', kvDtype: 'f32', pageTokens: PAGE_TOKENS, seed: 1, reconstruction: passes.inputs,
        }),
      );
      expect(out.bytesBefore).toBe(L * Hk * Math.ceil(n / PAGE_TOKENS) * PAGE_BYTES);
      if (name === 'think') {
        // Channels are zeroed, not freed: the honest outcome is no saving.
        expect(out.bytesAfter).toBe(out.bytesBefore);
        return;
      }
      expect(out.bytesAfter).toBeLessThanOrEqual((1 - RATIO) * out.bytesBefore + L * Hk * PAGE_BYTES);
      expect(out.bytesAfter).toBeLessThan(out.bytesBefore);
    });
  }

  it('decoding presses cut the paged cache to their target during generation', () => {
    const normal = gaussian(seededRandom(5));
    const decode = Array.from({ length: 8 }, () => ({
      q: 1,
      layers: Array.from({ length: L }, () => ({ hidden: randomArray(D, normal), keys: randomArray(Hk * d, normal), values: randomArray(Hk * d, normal) })),
    }));
    const config = makeLayerInputs(1, { n: 1, nLayers: L, nHeads: H, nKvHeads: Hk, headDim: d, hidden: D }).config;
    for (const spec of [
      { name: 'decoding', compressionInterval: 8, targetSize: 32, press: { name: 'knorm' } },
      { name: 'cam', compressionInterval: 8, targetSize: 32, press: { name: 'knorm' } },
      { name: 'compression-ratio-decoding', targetCompressionRatio: 0.5, compressionInterval: 8, press: { name: 'knorm' } },
    ]) {
      const out = callNative(() =>
        runPressPipeline!(createPress(spec).toNativeConfig(), { config, n, layers: layers(300), decode, cache: 'paged', kvDtype: 'f32', pageTokens: PAGE_TOKENS }),
      );
      const target = spec.name === 'compression-ratio-decoding' ? Math.floor((n + 8) * 0.5) : 32;
      for (const layer of out.layers) for (const kept of layer.kept) expect(kept.length, spec.name).toBe(target);
    }
  });
});
