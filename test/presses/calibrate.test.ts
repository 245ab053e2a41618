// presskv calibrate: the query statistics the engine gathers during its own prefill equal a plain reference
// (test/reference/forward.ts, f64) on a tiny model; Q-filters are the unit principal directions of the
// group's post-RoPE queries; and on stories260K the written artefacts pass the presses' validators and
// make ExpectedAttentionStatsPress, QFilterPress and DuoAttentionPress compress a context in the engine.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { readModelFiles } from '../../engine/model-files.js';
import { callNative, nativeAddon, type NativeModelHandle } from '../../engine/native.js';
import { calibrate, calibrationChunks, runCalibration } from '../../engine/presses/calibrate.js';
import { loadDuoAttentionPattern } from '../../engine/presses/duo-attention.js';
import { createPress } from '../../engine/presses/index.js';
import type { ModelConfig } from '../../engine/model-spec.js';
import { tinyModelPath } from '../helpers/tiny-models.js';
import { ReferenceForward } from '../reference/forward.js';
import { makeTempDir, writeF32Safetensors } from './artefact-files.js';

interface EngineAddon {
  loadModel(spec: unknown, options?: { threads?: number }): NativeModelHandle;
  calibrate?: unknown;
  pressEvalContext(model: NativeModelHandle, context: Int32Array, press: unknown, options?: unknown): {
    tokensBefore: number;
    tokensAfter: number;
    logits?: Float32Array;
  };
}

const addon = (() => {
  try {
    const a = nativeAddon() as unknown as EngineAddon;
    return typeof a.calibrate === 'function' && typeof a.pressEvalContext === 'function' ? a : undefined;
  } catch {
    return undefined;
  }
})();
if (!addon) console.warn('[calibrate] skipped: the native addon has no calibrate entry (rebuild native/)');

/** Reads back an F32 safetensors tensor written by the calibration (tests only: plain header parse). */
function readF32(path: string, name: string): { shape: number[]; data: Float32Array } {
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const t = header[name];
  const start = 8 + headerLength + t.data_offsets[0];
  const copy = bytes.subarray(start, 8 + headerLength + t.data_offsets[1]);
  return { shape: t.shape, data: new Float32Array(copy.buffer.slice(copy.byteOffset, copy.byteOffset + copy.byteLength)) };
}

/** Mean over rows of KL(softmax(reference row) ‖ softmax(other row)). */
function meanKl(reference: Float32Array, other: Float32Array, vocab: number): number {
  const logSoftmax = (row: Float32Array) => {
    const max = Math.max(...row);
    const logZ = Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0)) + max;
    return Array.from(row, (x) => x - logZ);
  };
  const rows = reference.length / vocab;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const p = logSoftmax(reference.subarray(r * vocab, (r + 1) * vocab));
    const q = logSoftmax(other.subarray(r * vocab, (r + 1) * vocab));
    for (let i = 0; i < vocab; i++) total += Math.exp(p[i]) * (p[i] - q[i]);
  }
  return total / rows;
}

/** Top eigenvector of a symmetric d×d matrix by plain power iteration. */
function principalDirection(m: Float64Array, d: number): Float64Array {
  let v = new Float64Array(d).fill(1);
  for (let iter = 0; iter < 20000; iter++) {
    const next = new Float64Array(d);
    for (let r = 0; r < d; r++) for (let c = 0; c < d; c++) next[r] += m[r * d + c] * v[c];
    const norm = Math.hypot(...next);
    v = next.map((x) => x / norm);
  }
  return v;
}

describe.skipIf(!addon)('calibrate on a tiny model against the reference forward', () => {
  for (const arch of ['llama', 'qwen3'] as const) {
    it(`${arch}: query mean / covariance and Q-filters`, async () => {
      const path = await tinyModelPath({ arch, format: 'gguf' });
      const files = await readModelFiles(path);
      const c = files.spec.config;
      const ids = Array.from({ length: 45 }, (_x, i) => (i * 37 + 11) % c.vocab);
      const chunks = calibrationChunks(ids, 24, 1); // two prefills: 24 and 23 tokens, BOS first
      expect(chunks.map((x) => x.length)).toEqual([24, 23]);
      const nSink = 4;
      const handle = callNative(() => addon!.loadModel(files.spec, { threads: 1 }));
      try {
        const stats = runCalibration(handle, chunks, 'expected-attention-stats', nSink);
        const filters = runCalibration(handle, chunks, 'qfilter', nSink);

        // Reference: every layer's pre-RoPE queries at positions ≥ nSink of each chunk.
        const { nLayers: L, nHeads: H, nKvHeads: Hk, headDim: d } = c;
        const ref = await ReferenceForward.load(path);
        const rotate = (ref as unknown as { rope(x: Float64Array, heads: number, pos: number): void }).rope.bind(ref);
        const rows: Float64Array[][] = Array.from({ length: L }, () => []);
        const rotated: Float64Array[][] = Array.from({ length: L }, () => []);
        ref.preRopeQueryObserver = (layer, position, q) => {
          if (position < nSink) return;
          rows[layer].push(q);
          const r = q.slice();
          rotate(r, H, position);
          rotated[layer].push(r);
        };
        for (const chunk of chunks) {
          const state = ref.newState();
          for (const t of chunk) ref.step(state, t);
        }
        const n = rows[0].length;
        expect(n).toBe(chunks.reduce((a, x) => a + x.length - nSink, 0));
        expect(stats.samples).toEqual(Array(L).fill(n));

        let meanErr = 0;
        let covErr = 0;
        let covScale = 0;
        for (let l = 0; l < L; l++)
          for (let h = 0; h < H; h++) {
            const mean = new Float64Array(d);
            for (const q of rows[l]) for (let i = 0; i < d; i++) mean[i] += q[h * d + i] / n;
            for (let i = 0; i < d; i++) {
              meanErr = Math.max(meanErr, Math.abs(stats.queryMean![(l * H + h) * d + i] - mean[i]));
              for (let j = 0; j < d; j++) {
                let cov = 0;
                for (const q of rows[l]) cov += (q[h * d + i] - mean[i]) * (q[h * d + j] - mean[j]);
                cov /= n - 1; // unbiased, as kvpress's statistics collection
                covScale = Math.max(covScale, Math.abs(cov));
                covErr = Math.max(covErr, Math.abs(stats.queryCov![((l * H + h) * d + i) * d + j] - cov));
              }
            }
          }
        expect(covScale).toBeGreaterThan(1e-3); // the statistics are not trivially zero
        expect(meanErr).toBeLessThan(1e-4);
        expect(covErr).toBeLessThan(1e-4);

        // Q-filters: unit rows, ±the principal direction of the group's post-RoPE queries, pointing away
        // from the mean query (QFilterPress keeps high −⟨f, K⟩).
        const g = H / Hk;
        for (let l = 0; l < L; l++)
          for (let kv = 0; kv < Hk; kv++) {
            const f = Array.from(filters.qFilters!.subarray((l * Hk + kv) * d, (l * Hk + kv + 1) * d));
            expect(Math.hypot(...f)).toBeCloseTo(1, 5);
            const second = new Float64Array(d * d);
            const mean = new Float64Array(d);
            for (const q of rotated[l])
              for (let h = kv * g; h < (kv + 1) * g; h++)
                for (let i = 0; i < d; i++) {
                  mean[i] += q[h * d + i];
                  for (let j = 0; j < d; j++) second[i * d + j] += q[h * d + i] * q[h * d + j];
                }
            const u = principalDirection(second, d);
            const alignment = f.reduce((a, x, i) => a + x * u[i], 0);
            expect(Math.abs(alignment)).toBeGreaterThan(0.999);
            expect(f.reduce((a, x, i) => a + x * mean[i], 0)).toBeLessThan(0);
          }
      } finally {
        handle.dispose();
      }
    });
  }

  it('bad input is a typed error and the handle stays usable', async () => {
    const path = await tinyModelPath({ arch: 'llama', format: 'gguf' });
    const files = await readModelFiles(path);
    const handle = callNative(() => addon!.loadModel(files.spec, { threads: 1 }));
    try {
      expect(() => runCalibration(handle, [Int32Array.from([1, 2, 3])], 'nope' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
      // Four tokens and nSink 4 leave no query to average.
      expect(() => runCalibration(handle, [Int32Array.from([1, 2, 3, 4])], 'expected-attention-stats', 4)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
      );
      expect(() => runCalibration(handle, [Int32Array.from([1, 99999])], 'qfilter')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
      const ok = runCalibration(handle, [Int32Array.from([1, 5, 6, 7, 8, 9, 10])], 'duo-attention');
      expect(ok.headScores!.length).toBe(files.spec.config.nLayers * files.spec.config.nKvHeads);
    } finally {
      handle.dispose();
    }
  });
});

const modelsDir = fileURLToPath(new URL('../../../shared/models/', import.meta.url));
const storiesPath = join(modelsDir, 'stories260K.gguf');
const goldenPath = join(modelsDir, 'golden-stories260K.json');
const storiesAvailable = addon !== undefined && existsSync(storiesPath) && existsSync(goldenPath);
if (addon && !storiesAvailable) console.warn('[calibrate] stories260K part skipped: ../shared/models/stories260K.gguf is missing');

describe.skipIf(!storiesAvailable)('calibrate on stories260K: the artefacts drive their presses', () => {
  const tmp = makeTempDir('presskv-calibrate-');
  let model: NativeModelHandle;
  let config: ModelConfig;
  let context: Int32Array;
  let text: string;
  let longerText: string;
  let storyLength: number;

  beforeAll(async () => {
    const files = await readModelFiles(storiesPath);
    config = files.spec.config;
    model = callNative(() => addon!.loadModel(files.spec, { threads: 1 }));
    const golden = JSON.parse(readFileSync(goldenPath, 'utf8')) as { golden200: { ids: number[]; text: string }; golden32: { fullText: string } };
    text = golden.golden200.text;
    longerText = golden.golden32.fullText;
    storyLength = golden.golden200.ids.length;
    context = Int32Array.from([1, ...golden.golden200.ids, ...golden.golden200.ids]);
  });
  afterAll(() => {
    model?.dispose();
    tmp.cleanup();
  });

  it('expected-attention-stats (through the CLI) loads and compresses', async () => {
    const out = join(tmp.dir, 'stats.safetensors');
    const textFile = join(tmp.dir, 'calibration.txt');
    writeFileSync(textFile, text);
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
    const args = ['calibrate', '--model', storiesPath, '--out', out, '--chunk-tokens', '128'];
    expect(await main([...args, '--text', '@' + textFile, '--kind', 'bogus'], io)).toBe(2);
    expect(await main([...args, '--text', '@' + join(tmp.dir, 'absent.txt'), '--kind', 'qfilter'], io)).toBe(1);
    expect(lines.join('\n')).toMatch(/cannot read/);
    lines.length = 0;
    const code = await main([...args, '--text', '@' + textFile, '--kind', 'expected-attention-stats'], io);
    expect(code, lines.join('\n')).toBe(0);
    expect(lines.join('\n')).toMatch(/wrote expected-attention-stats artefact/);
    expect(readF32(out, 'query_mean').shape).toEqual([config.nLayers, config.nHeads, config.headDim]);
    const press = createPress({ name: 'expected-attention-stats', compressionRatio: 0.5, artefactPath: out });
    await press.prepare(config);
    const r = callNative(() => addon!.pressEvalContext(model, context, press.toNativeConfig(), { continuation: context.subarray(1, 9) }));
    expect(r.tokensAfter).toBeLessThan(r.tokensBefore);
    expect(r.logits!.every(Number.isFinite)).toBe(true);
  });

  it('qfilter loads and compresses; every filter is a unit vector', async () => {
    const out = join(tmp.dir, 'qf.safetensors');
    const report = await calibrate(storiesPath, `${text} ${longerText}`, { kind: 'qfilter', out, chunkTokens: 256, threads: 1 });
    expect(report.chunks).toBe(Math.ceil(report.tokens / 255)); // BOS + 255 text tokens per chunk
    const f = readF32(out, 'q_filters');
    expect(f.shape).toEqual([config.nLayers, config.nKvHeads, config.headDim]);
    for (let i = 0; i < config.nLayers * config.nKvHeads; i++) {
      expect(Math.hypot(...f.data.subarray(i * config.headDim, (i + 1) * config.headDim))).toBeCloseTo(1, 5);
    }
    const press = createPress({ name: 'qfilter', compressionRatio: 0.5, artefactPath: out });
    await press.prepare(config);
    const r = callNative(() => addon!.pressEvalContext(model, context, press.toNativeConfig(), { continuation: context.subarray(1, 9) }));
    expect(r.tokensAfter).toBeLessThan(r.tokensBefore);
    expect(r.logits!.every(Number.isFinite)).toBe(true);

    // The sign: QFilterPress keeps high −⟨f, K⟩, so the filter must point away from the queries. The negated
    // filter keeps the keys the queries ignore and must hurt the continuation far more.
    const negated = join(tmp.dir, 'qf-negated.safetensors');
    await writeF32Safetensors(negated, { q_filters: { shape: f.shape, data: f.data.map((x) => -x) } });
    // (One story as context, its first 32 tokens as continuation; measured: KL ≈ 0.01 against ≈ 0.8.)
    const story = context.subarray(0, storyLength + 1);
    const continuation = context.subarray(1, 33);
    const evalWith = (path: string | null) =>
      callNative(() =>
        addon!.pressEvalContext(model, story, path ? createPress({ name: 'qfilter', compressionRatio: 0.5, artefactPath: path }).toNativeConfig() : null, { continuation }),
      ).logits!;
    const full = evalWith(null);
    expect(meanKl(full, evalWith(out), config.vocab)).toBeLessThan(meanKl(full, evalWith(negated), config.vocab) / 4);
  });

  it('duo-attention JSON loads and makes streaming heads', async () => {
    const out = join(tmp.dir, 'duo.json');
    await calibrate(storiesPath, text, { kind: 'duo-attention', out, chunkTokens: 128, sinkSize: 4, recentSize: 60, threads: 1 });
    const pattern = await loadDuoAttentionPattern('DuoAttentionPress', out, config);
    const scores = pattern.headScores.flat();
    expect(scores.every((s) => s >= 0 && s <= 1)).toBe(true);
    expect(new Set(scores).size).toBeGreaterThan(1); // heads are told apart
    const press = createPress({ name: 'duo-attention', headCompressionRatio: 0.5, artefactPath: out });
    await press.prepare(config);
    const r = callNative(() => addon!.pressEvalContext(model, context, press.toNativeConfig(), { continuation: context.subarray(1, 9) }));
    expect(r.tokensAfter).toBeLessThan(r.tokensBefore);
  });
});
