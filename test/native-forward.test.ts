// The native forward pass through loadModel/evalLogits: llama.cpp's golden output on the real
// stories260K model, invariance to prefill chunking and KV paging, f16 against f32 KV, the SIMD kernels
// against the portable ones, and the typed errors of model loading and evaluation.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ContextOverflowError,
  CorruptModelError,
  fromNativeError,
  InvalidArgumentError,
  ModelNotFoundError,
  UnsupportedArchitectureError,
  UnsupportedDtypeError,
  type PressKVError,
} from '../engine/errors.js';
import { readModelFiles } from '../engine/model-files.js';
import type { ModelSpec } from '../engine/model-spec.js';
import { nativeAddon, type NativeModelHandle } from '../engine/native.js';
import { tinyModelPath } from './helpers/tiny-models.js';

const STORIES = fileURLToPath(new URL('../../shared/models/stories260K.gguf', import.meta.url));
const GOLDEN = fileURLToPath(new URL('../../shared/models/golden-stories260K.json', import.meta.url));
const haveShared = existsSync(STORIES) && existsSync(GOLDEN);
if (!haveShared) console.warn(`native-forward: ../shared/models not found (${STORIES}); skipping the stories260K checks`);

const handles: NativeModelHandle[] = [];
afterAll(() => {
  for (const h of handles) {
    try {
      h.dispose();
    } catch {
      // already disposed by the test
    }
  }
});

function load(spec: unknown, threads = 2): NativeModelHandle {
  const h = nativeAddon().loadModel(spec, { threads });
  handles.push(h);
  return h;
}

function softmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) sum += out[i] = Math.exp(row[i] - max);
  for (let i = 0; i < row.length; i++) out[i] /= sum;
  return out;
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** max |a − b| / max |b| over every row. */
function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let ref = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    ref = Math.max(ref, Math.abs(b[i]));
  }
  return diff / ref;
}

function pseudoRandomTokens(n: number, vocab: number, seed: number): Int32Array {
  let state = seed >>> 0;
  return Int32Array.from({ length: n }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % vocab;
  });
}

/** The typed error a native call throws (the test fails if it does not throw). */
function nativeError(fn: () => unknown): PressKVError {
  try {
    fn();
  } catch (err) {
    expect((err as { code?: unknown }).code, `native error without a code: ${String(err)}`).toMatch(/^ERR_/);
    return fromNativeError(err);
  }
  throw new Error('expected the native call to throw');
}

const clone = (spec: ModelSpec): ModelSpec => structuredClone(spec);

describe.skipIf(!haveShared)('stories260K (real llama.cpp model)', () => {
  it("reproduces llama.cpp's 200 greedy tokens and first-step top-5 probabilities (f16 KV, several chunks and pages)", async () => {
    const golden = JSON.parse(readFileSync(GOLDEN, 'utf8'));
    const { spec } = await readModelFiles(STORIES);
    const handle = load(spec);
    const prompt: number[] = golden.golden32.promptIdsWithBos;
    const ids: number[] = golden.golden200.ids;
    // Teacher forcing: greedy decoding reproduces the golden run iff every position's argmax is the next golden id.
    const tokens = Int32Array.from([...prompt, ...ids.slice(0, -1)]);
    const vocab = spec.config.vocab;
    for (const opts of [{ chunkSize: 64, pageTokens: 16 }, { chunkSize: 7, pageTokens: 5 }]) {
      const logits = handle.evalLogits(tokens, { all: true, kvDtype: 'f16', ...opts });
      expect(logits.length).toBe(tokens.length * vocab);
      const predicted = ids.map((_, i) => argmax(logits.subarray((prompt.length - 1 + i) * vocab, (prompt.length + i) * vocab)));
      expect(predicted).toEqual(ids);
      for (const step of golden.first8StepsTop5 as Array<{ step: number; top5: Array<{ t: number; p: number }> }>) {
        const row = prompt.length - 1 + step.step;
        const probs = softmax(logits.subarray(row * vocab, (row + 1) * vocab));
        for (const { t, p } of step.top5) expect(Math.abs(probs[t] - p), `step ${step.step} token ${t}`).toBeLessThan(1e-4);
      }
    }
  });

  it('last-row logits equal the last row of all-row logits', async () => {
    const { spec } = await readModelFiles(STORIES);
    const handle = load(spec);
    const tokens = pseudoRandomTokens(40, spec.config.vocab, 3);
    const all = handle.evalLogits(tokens, { all: true });
    const last = handle.evalLogits(tokens);
    expect(relativeError(last, all.subarray(39 * spec.config.vocab))).toBeLessThan(1e-6);
  });
});

// Models that exercise every branch of the forward pass: interleaved RoPE + llama3 rope_freqs (llama GGUF),
// qkv bias (qwen2), q/k norm + half-split RoPE (qwen3), f16 / bf16 weights.
const SHAPES = [
  { arch: 'llama', format: 'gguf', dtype: 'f32' },
  { arch: 'qwen2', format: 'hf', dtype: 'bf16' },
  { arch: 'qwen3', format: 'gguf', dtype: 'f16' },
] as const;

describe.each(SHAPES)('$arch $format $dtype: chunking, paging and KV dtype', ({ arch, format, dtype }) => {
  it('chunked prefill over small pages equals token-by-token evaluation (f32 KV)', async () => {
    const { spec } = await readModelFiles(await tinyModelPath({ arch, format, dtype }));
    const handle = load(spec);
    const tokens = pseudoRandomTokens(45, spec.config.vocab, 11);
    const byToken = handle.evalLogits(tokens, { all: true, kvDtype: 'f32', chunkSize: 1, pageTokens: 64 });
    for (const [chunkSize, pageTokens] of [[4, 1], [16, 3], [45, 8], [256, 64], [7, 45]]) {
      const chunked = handle.evalLogits(tokens, { all: true, kvDtype: 'f32', chunkSize, pageTokens });
      expect(relativeError(chunked, byToken), `chunk ${chunkSize} page ${pageTokens}`).toBeLessThan(1e-5);
    }
  });

  it('an f16 KV cache stays close to the f32 one', async () => {
    const { spec } = await readModelFiles(await tinyModelPath({ arch, format, dtype }));
    const handle = load(spec);
    const vocab = spec.config.vocab;
    const tokens = pseudoRandomTokens(40, vocab, 5);
    const f32 = handle.evalLogits(tokens, { all: true, kvDtype: 'f32', chunkSize: 16, pageTokens: 8 });
    const f16 = handle.evalLogits(tokens, { all: true, kvDtype: 'f16', chunkSize: 16, pageTokens: 8 });
    let worst = 0;
    for (let t = 0; t < tokens.length; t++) {
      const a = softmax(f32.subarray(t * vocab, (t + 1) * vocab));
      const b = softmax(f16.subarray(t * vocab, (t + 1) * vocab));
      for (let i = 0; i < vocab; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    }
    expect(worst).toBeLessThan(2e-3);
    expect(relativeError(f16, f32)).toBeGreaterThan(0); // the caches really differ
  });
});

describe('SIMD kernels', () => {
  // qwen3 tiny: f16 weights; stories260K: f32 weights with ragged sizes (ffn 172, head_dim 8 < one vector).
  const models = async (): Promise<string[]> => [
    await tinyModelPath({ arch: 'qwen3', format: 'gguf', dtype: 'f16' }),
    ...(haveShared ? [STORIES] : []),
  ];
  const script = `
    const [modelFiles, native] = await Promise.all([
      import(${JSON.stringify(new URL('../dist/engine/model-files.js', import.meta.url).href)}),
      import(${JSON.stringify(new URL('../dist/engine/native.js', import.meta.url).href)}),
    ]);
    const { spec } = await modelFiles.readModelFiles(process.env.MODEL_PATH);
    const h = native.nativeAddon().loadModel(spec, { threads: 2 });
    const tokens = Int32Array.from({ length: 23 }, (_, i) => (i * 37 + 5) % spec.config.vocab);
    const out = h.evalLogits(tokens, { all: true, kvDtype: 'f32', chunkSize: 9, pageTokens: 4 });
    process.stdout.write(Buffer.from(out.buffer).toString('base64'));`;
  const run = (simd: string, model: string): Float32Array => {
    const b64 = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, PRESSKV_SIMD: simd, MODEL_PATH: model },
      encoding: 'utf8',
    });
    const buf = Buffer.from(b64, 'base64');
    return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  };

  it('AVX2 and AVX-512 paths give the portable path’s logits', async () => {
    for (const model of await models()) {
      const portable = run('portable', model);
      expect(portable.length).toBeGreaterThan(0);
      for (const simd of ['avx2', 'avx512', 'auto']) {
        const out = run(simd, model); // a level the CPU lacks falls back to the best it has
        expect(out.length).toBe(portable.length);
        expect(relativeError(out, portable), `${simd} on ${model}`).toBeLessThan(1e-5);
      }
    }
  });
});

describe('typed errors, process alive, engine usable afterwards', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'presskv-native-forward-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('model loading refuses bad tensor tables and files with the matching error', async () => {
    const path = await tinyModelPath({ arch: 'qwen3', format: 'gguf', dtype: 'f16' });
    const { spec } = await readModelFiles(path);
    const addon = nativeAddon();
    const fileSize = statSync(path).size;
    const q = spec.tensors.findIndex((t) => t.name === 'blk.0.attn_q.weight');
    expect(q).toBeGreaterThanOrEqual(0);

    let s = clone(spec);
    s.tensors[q].offset = fileSize - 10;
    let e = nativeError(() => addon.loadModel(s));
    expect(e).toBeInstanceOf(CorruptModelError);
    expect(e.message).toContain('blk.0.attn_q.weight');

    s = clone(spec);
    s.tensors[q].nbytes -= 2;
    e = nativeError(() => addon.loadModel(s));
    expect(e).toBeInstanceOf(CorruptModelError);
    expect(e.message).toMatch(/bytes/);

    s = clone(spec);
    s.tensors[q].shape = [s.tensors[q].shape[0] / 2, s.tensors[q].shape[1] * 2];
    e = nativeError(() => addon.loadModel(s));
    expect(e).toBeInstanceOf(CorruptModelError);
    expect(e.message).toMatch(/shape/);

    s = clone(spec);
    s.tensors = s.tensors.filter((t) => t.name !== 'blk.1.ffn_down.weight');
    e = nativeError(() => addon.loadModel(s));
    expect(e).toBeInstanceOf(CorruptModelError);
    expect(e.message).toContain('blk.1.ffn_down.weight');

    s = clone(spec);
    s.tensors = s.tensors.filter((t) => t.name !== 'blk.0.attn_k_norm.weight');
    expect(nativeError(() => addon.loadModel(s)).message).toContain('attn_k_norm');

    s = clone(spec);
    (s.tensors[q] as { dtype: string }).dtype = 'q4_0';
    e = nativeError(() => addon.loadModel(s));
    expect(e).toBeInstanceOf(UnsupportedDtypeError);
    expect(e.message).toContain('q4_0');

    s = clone(spec);
    (s.config as { arch: string }).arch = 'gpt2';
    e = nativeError(() => addon.loadModel(s));
    expect(e).toBeInstanceOf(UnsupportedArchitectureError);
    expect(e.message).toMatch(/llama, mistral, qwen2, qwen3/);

    s = clone(spec);
    s.config.nKvHeads = 3;
    expect(nativeError(() => addon.loadModel(s))).toBeInstanceOf(CorruptModelError);

    s = clone(spec);
    s.files = [join(tmp, 'does-not-exist.gguf')];
    e = nativeError(() => addon.loadModel(s));
    expect(e).toBeInstanceOf(ModelNotFoundError);
    expect(e.message).toContain('does-not-exist.gguf');

    const truncated = join(tmp, 'truncated.gguf');
    copyFileSync(path, truncated);
    truncateSync(truncated, Math.floor(fileSize * 0.75));
    s = clone(spec);
    s.files = [truncated];
    e = nativeError(() => addon.loadModel(s));
    expect(e).toBeInstanceOf(CorruptModelError);
    expect(e.message).toMatch(/outside file/);

    expect(nativeError(() => addon.loadModel({ ...spec, tensors: 'nope' }))).toBeInstanceOf(InvalidArgumentError);
    expect(nativeError(() => addon.loadModel(spec, { threads: 0 }))).toBeInstanceOf(InvalidArgumentError);

    // After all of that, the same spec loads and evaluates.
    const h = load(spec);
    expect(h.evalLogits(Int32Array.from([1, 2, 3])).length).toBe(spec.config.vocab);
  });

  it('evaluation refuses bad tokens, overflow and bad options, then still gives the same logits', async () => {
    const { spec } = await readModelFiles(await tinyModelPath({ arch: 'llama', format: 'gguf', dtype: 'f32' }));
    const h = load(spec);
    const tokens = pseudoRandomTokens(12, spec.config.vocab, 9);
    const before = h.evalLogits(tokens);

    let e = nativeError(() => h.evalLogits(Int32Array.from([1, spec.config.vocab, 2])));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toContain(String(spec.config.vocab));
    expect(nativeError(() => h.evalLogits(Int32Array.from([-1])))).toBeInstanceOf(InvalidArgumentError);
    expect(nativeError(() => h.evalLogits(new Int32Array(0)))).toBeInstanceOf(InvalidArgumentError);
    e = nativeError(() => h.evalLogits(new Int32Array(spec.config.contextLength + 1)));
    expect(e).toBeInstanceOf(ContextOverflowError);
    expect(e.message).toContain(String(spec.config.contextLength));
    expect(nativeError(() => h.evalLogits([1, 2] as unknown as Int32Array))).toBeInstanceOf(InvalidArgumentError);
    expect(nativeError(() => h.evalLogits(tokens, { kvDtype: 'q8' as 'f16' }))).toBeInstanceOf(InvalidArgumentError);
    expect(nativeError(() => h.evalLogits(tokens, { chunkSize: 0 }))).toBeInstanceOf(InvalidArgumentError);
    expect(nativeError(() => h.evalLogits(tokens, { pageTokens: -4 }))).toBeInstanceOf(InvalidArgumentError);

    expect(relativeError(h.evalLogits(tokens), before)).toBe(0);

    h.dispose();
    expect(nativeError(() => h.evalLogits(tokens))).toBeInstanceOf(InvalidArgumentError);
    expect(nativeError(() => h.weightBytes())).toBeInstanceOf(InvalidArgumentError);
    expect(nativeError(() => h.dispose())).toBeInstanceOf(InvalidArgumentError);
  });

  it('mmap: false (weights read into private memory) gives the mapped model’s logits exactly', async () => {
    const { spec } = await readModelFiles(await tinyModelPath({ arch: 'qwen2', format: 'hf', dtype: 'bf16' }));
    const tokens = pseudoRandomTokens(20, spec.config.vocab, 4);
    const mapped = load(spec).evalLogits(tokens, { all: true });
    const copied = nativeAddon().loadModel(spec, { threads: 2, mmap: false } as { threads: number });
    handles.push(copied);
    expect(relativeError(copied.evalLogits(tokens, { all: true }), mapped)).toBe(0);
    expect(nativeError(() => nativeAddon().loadModel(spec, { mmap: 'no' } as object))).toBeInstanceOf(InvalidArgumentError);
  });

  it('weightBytes counts the mapped tensors; fingerprints are stable per model and differ between models', async () => {
    const a = (await readModelFiles(await tinyModelPath({ arch: 'qwen3', format: 'gguf', dtype: 'f16' }))).spec;
    const b = (await readModelFiles(await tinyModelPath({ arch: 'qwen3', format: 'gguf', dtype: 'f16', seed: 2 }))).spec;
    const ha = load(a);
    expect(ha.weightBytes()).toBe(a.tensors.reduce((sum, t) => sum + t.nbytes, 0));
    expect(ha.fingerprint()).toMatch(/^[0-9a-f]{16}$/);
    expect(load(a).fingerprint()).toBe(ha.fingerprint());
    expect(load(b).fingerprint()).not.toBe(ha.fingerprint());
  });
});
