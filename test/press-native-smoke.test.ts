// Smoke test of the native press library through its pure entries (scorePressLayer, runPressPipeline):
// selection counts, protected windows, head-wise budgets, rerotation against a plain RoPE reference, and
// typed errors raised before any work. The per-press formula tests live in test/presses/.
import { testingAddon } from './helpers/testing-addon.js';
import { describe, expect, it } from 'vitest';
import { nativeAddon } from '../engine/native.js';
import { fromNativeError } from '../engine/errors.js';
import { createPress, type PressSpec } from '../engine/presses/index.js';

interface PressAddon {
  scorePressLayer(config: unknown, inputs: unknown): { scores?: Float32Array; kept: Int32Array[]; keys?: Float32Array; positions?: Int32Array[] };
  runPressPipeline(
    config: unknown,
    inputs: unknown,
  ): { layers: { kept: Int32Array[]; positions: Int32Array[]; keys: Float32Array[] }[]; ratio: number; bytesBefore?: number; bytesAfter?: number };
  pressNames(): string[];
}

const harness = testingAddon<Omit<PressAddon, 'pressNames'>>();
const names = nativeAddon() as unknown as Pick<PressAddon, 'pressNames'>;
// Configs reach the native side through their TS press class, as in the engine: it checks the options and
// fills in every default (the native side has none of its own).
const viaClass = (spec: unknown) => createPress(spec as PressSpec).toNativeConfig();
const addon: PressAddon | undefined = {
  scorePressLayer: (config, inputs) => harness.scorePressLayer(viaClass(config), inputs),
  runPressPipeline: (config, inputs) => harness.runPressPipeline(viaClass(config), inputs),
  pressNames: () => names.pressNames(),
};

// Deterministic inputs: mulberry32.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}
const randoms = (n: number, r: () => number) => Float32Array.from({ length: n }, () => r());

const config = { nLayers: 2, hidden: 16, nHeads: 4, nKvHeads: 2, headDim: 8, ropeTheta: 10000, ropeStyle: 'half-split', rmsEps: 1e-5 };
const { hidden: D, nHeads: H, nKvHeads: Hk, headDim: d } = config;

function layerInputs(n: number, seed: number) {
  const r = rng(seed);
  return {
    hidden: randoms(n * D, r),
    keys: randoms(Hk * n * d, r),
    values: randoms(Hk * n * d, r),
    weights: { wq: randoms(H * d * D, r), wk: randoms(Hk * d * D, r), wo: randoms(D * H * d, r) },
  };
}

function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fromNativeError(err);
  }
}

const norm = (x: Float32Array, h: number, t: number, n: number) => {
  let s = 0;
  for (let c = 0; c < d; c++) s += x[(h * n + t) * d + c] ** 2;
  return Math.sqrt(s);
};

// HF rotate_half RoPE of one vector at position p.
function rope(x: number[], p: number): number[] {
  const half = d / 2;
  const out = x.slice();
  for (let i = 0; i < half; i++) {
    const angle = p * Math.pow(config.ropeTheta, (-2 * i) / d);
    out[i] = x[i] * Math.cos(angle) - x[i + half] * Math.sin(angle);
    out[i + half] = x[i + half] * Math.cos(angle) + x[i] * Math.sin(angle);
  }
  return out;
}

describe.skipIf(!addon)('native presses (smoke)', () => {
  const n = 40;

  it('knows the kvpress catalogue by class name', () => {
    const names = new Set(addon!.pressNames());
    for (const name of ['KnormPress', 'SnapKVPress', 'ExpectedAttentionPress', 'AdaKVPress', 'KeyRerotationPress', 'ComposedPress'])
      expect(names.has(name)).toBe(true);
  });

  it('KnormPress keeps floor(n(1-r)) lowest-norm keys per head', () => {
    const inputs = { config, layer: 0, n, q: n, ...layerInputs(n, 1) };
    const out = call(() => addon!.scorePressLayer({ name: 'KnormPress', options: { compressionRatio: 0.3 } }, inputs));
    for (let h = 0; h < Hk; h++) {
      expect(out.kept[h].length).toBe(Math.floor(n * 0.7));
      const expected = Array.from({ length: n }, (_, t) => t)
        .sort((a, b) => norm(inputs.keys, h, a, n) - norm(inputs.keys, h, b, n))
        .slice(0, Math.floor(n * 0.7))
        .sort((a, b) => a - b);
      expect(Array.from(out.kept[h])).toEqual(expected);
    }
  });

  it('SnapKVPress always keeps its window', () => {
    const inputs = { config, layer: 1, n, q: n, ...layerInputs(n, 2) };
    const out = call(() => addon!.scorePressLayer({ name: 'SnapKVPress', options: { compressionRatio: 0.5, windowSize: 8 } }, inputs));
    for (let h = 0; h < Hk; h++) {
      expect(out.kept[h].length).toBe(20);
      for (let t = n - 8; t < n; t++) expect(out.kept[h]).toContain(t);
    }
  });

  it('AdaKVPress keeps the layer total, with per-head counts that differ and respect the safeguard', () => {
    const layers = [layerInputs(n, 3), layerInputs(n, 4)];
    const out = call(() =>
      addon!.runPressPipeline({ name: 'AdaKVPress', options: { alphaSafeguard: 0.2 }, press: { name: 'KnormPress', options: { compressionRatio: 0.5 } } }, { config, n, layers }),
    );
    let differs = false;
    for (const layer of out.layers) {
      const counts = layer.kept.map((k) => k.length);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(Hk * Math.floor(n * 0.5));
      for (const c of counts) expect(c).toBeGreaterThanOrEqual(Math.floor(Math.floor(n * 0.5) * 0.2));
      differs ||= new Set(counts).size > 1;
    }
    expect(differs).toBe(true);
    expect(out.ratio).toBeCloseTo(0.5, 10);
  });

  it('KeyRerotationPress equals "prune the pre-RoPE keys, then rotate" within 1e-5', () => {
    const base = layerInputs(n, 5);
    const raw = randoms(Hk * n * d, rng(6));
    const keys = new Float32Array(Hk * n * d);
    for (let h = 0; h < Hk; h++)
      for (let t = 0; t < n; t++) keys.set(rope(Array.from(raw.subarray((h * n + t) * d, (h * n + t + 1) * d)), t), (h * n + t) * d);
    const out = call(() =>
      addon!.scorePressLayer({ name: 'KeyRerotationPress', press: { name: 'KnormPress', options: { compressionRatio: 0.4 } } }, { config, layer: 0, n, q: n, ...base, keys }),
    );
    for (let h = 0; h < Hk; h++) {
      expect(Array.from(out.positions![h])).toEqual(Array.from({ length: out.kept[h].length }, (_, j) => j));
      out.kept[h].forEach((slot, j) => {
        const want = rope(Array.from(raw.subarray((h * n + slot) * d, (h * n + slot + 1) * d)), j);
        const offset = (h === 0 ? 0 : out.kept[0].length) + j;
        for (let c = 0; c < d; c++) expect(Math.abs(out.keys![offset * d + c] - want[c])).toBeLessThan(1e-5);
      });
    }
  });

  it('ratio 0 leaves the cache untouched', () => {
    const layers = [layerInputs(n, 7), layerInputs(n, 8)];
    const out = call(() => addon!.runPressPipeline({ name: 'SnapKVPress', options: { compressionRatio: 0 } }, { config, n, layers }));
    out.layers.forEach((layer, l) => {
      for (let h = 0; h < Hk; h++) {
        expect(layer.kept[h].length).toBe(n);
        expect(Array.from(layer.keys[h])).toEqual(Array.from(layers[l].keys.subarray(h * n * d, (h + 1) * n * d)));
      }
    });
  });

  it('DecodingPress keeps the cache within [target, target + interval - 1] while generating', () => {
    const n0 = 12;
    const layers = [layerInputs(n0, 10), layerInputs(n0, 11)];
    const r = rng(12);
    const decode = Array.from({ length: 30 }, () => ({
      q: 1,
      layers: layers.map(() => ({ hidden: randoms(D, r), keys: randoms(Hk * d, r), values: randoms(Hk * d, r) })),
    }));
    const target = 16;
    const interval = 5;
    const sizes: number[] = [];
    // Replay growing prefixes of the generation to observe the cache after every step.
    for (let steps = 1; steps <= decode.length; steps++) {
      const out = call(() =>
        addon!.runPressPipeline(
          { name: 'DecodingPress', options: { compressionInterval: interval, targetSize: target, hiddenStatesBufferSize: 0 }, press: { name: 'KnormPress' } },
          { config, n: n0, layers, decode: decode.slice(0, steps) },
        ),
      );
      sizes.push(out.layers[0].kept[0].length);
      for (const layer of out.layers) for (const head of layer.kept) expect(head.length).toBe(out.layers[0].kept[0].length);
    }
    expect(sizes[0]).toBe(n0 + 1); // the cache grows uncompressed until the first trigger
    expect(Math.min(...sizes.slice(interval))).toBeGreaterThanOrEqual(target);
    expect(Math.max(...sizes.slice(interval))).toBeLessThanOrEqual(target + interval - 1);
    expect(sizes).toContain(target);
  });

  it('frees pages of the paged KV cache for real, head-wise presses included', () => {
    const nCtx = 100;
    const pageTokens = 16;
    const layers = [layerInputs(nCtx, 13), layerInputs(nCtx, 14)];
    const pageBytes = pageTokens * (2 * d * 2 + 4); // f16 K and V rows + an int32 position per slot
    for (const press of [
      { name: 'SnapKVPress', options: { compressionRatio: 0.5, windowSize: 8 } },
      { name: 'AdaKVPress', press: { name: 'KnormPress', options: { compressionRatio: 0.5 } } },
      { name: 'KeyRerotationPress', press: { name: 'KnormPress', options: { compressionRatio: 0.5 } } },
    ]) {
      const plain = call(() => addon!.runPressPipeline(press, { config, n: nCtx, layers }));
      const paged = call(() => addon!.runPressPipeline(press, { config, n: nCtx, layers, cache: 'paged', kvDtype: 'f16', pageTokens }));
      expect(paged.bytesBefore).toBe(config.nLayers * Hk * Math.ceil(nCtx / pageTokens) * pageBytes);
      expect(paged.bytesAfter!).toBeLessThanOrEqual(0.5 * paged.bytesBefore! + config.nLayers * Hk * pageBytes);
      // Same slots and positions as the plain cache; keys equal up to f16 storage.
      paged.layers.forEach((layer, l) => {
        for (let h = 0; h < Hk; h++) {
          expect(Array.from(layer.positions[h])).toEqual(Array.from(plain.layers[l].positions[h]));
          layer.keys[h].forEach((x, i) => expect(Math.abs(x - plain.layers[l].keys[h][i])).toBeLessThan(2e-3));
        }
      });
    }
  });

  it('rejects bad configs with typed errors before any work', () => {
    const inputs = { config, layer: 0, n, q: n, ...layerInputs(n, 9) };
    const code = (press: unknown) => {
      try {
        call(() => addon!.scorePressLayer(press, inputs));
        return 'no error';
      } catch (err) {
        return (err as { code: string }).code;
      }
    };
    expect(code({ name: 'KnormPress', options: { compressionRatio: 1 } })).toBe('ERR_INVALID_ARGUMENT');
    expect(code({ name: 'KnormPress', options: { compressionRatio: -0.1 } })).toBe('ERR_INVALID_ARGUMENT');
    expect(code({ name: 'NoSuchPress' })).toBe('ERR_INVALID_ARGUMENT');
    expect(code({ name: 'AdaKVPress', press: { name: 'ThinKPress', options: { keyChannelCompressionRatio: 0.5 } } })).toBe('ERR_INVALID_ARGUMENT');
    expect(code({ name: 'SnapKVPress', options: { compressionRatio: 0.5, windowSize: 64 } })).toBe('ERR_INVALID_ARGUMENT');
    expect(code({ name: 'QFilterPress', options: { compressionRatio: 0.5, artefactPath: 'no/such/qfilter.safetensors' } })).toBe('ERR_NOT_FOUND');
    // The engine stays usable.
    expect(call(() => addon!.scorePressLayer({ name: 'KnormPress', options: { compressionRatio: 0.5 } }, inputs)).kept[0].length).toBe(20);
  });
});
