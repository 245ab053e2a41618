// Batched decoding (issue 4): the decode steps of concurrent generations share one forward pass.
// The matmul kernels give row i of an m-row product bit-identical to the 1-row product (so a batch
// cannot change a greedy run), concurrent greedy generations — different prompts and lengths, forks of
// one context — give exactly the tokens of the same requests run one by one, the runtime really ran
// batches of several rows, an abort stops one member while the others finish unchanged, and a member
// that fails (KV budget) or runs out of context ends alone with its typed outcome.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvOutOfMemoryError, Model, type GenerateOptions, type GenerateResult } from '../engine/index.js';
import { CustomScorerPress, type CustomScorerLayer } from '../engine/presses/index.js';
import { nativeAddon } from '../engine/native.js';
import { tinyModelPath } from './helpers/tiny-models.js';

// ---- kernels ------------------------------------------------------------------------------------

/** Deterministic pseudo-random numbers in [-1, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

/** Random f16 bit patterns of finite values with magnitudes in [2^-6, 2^2), and their values. */
function randomF16(count: number, rand: () => number): { bits: Uint16Array; values: Float64Array } {
  const bits = new Uint16Array(count);
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const sign = rand() < 0 ? 1 : 0;
    const exponent = 9 + Math.floor((rand() + 1) * 4); // biased 9..16
    const mantissa = Math.floor((rand() + 1) * 512) & 1023;
    bits[i] = (sign << 15) | (exponent << 10) | mantissa;
    values[i] = (sign ? -1 : 1) * 2 ** (exponent - 15) * (1 + mantissa / 1024);
  }
  return { bits, values };
}

/** Random bf16 bit patterns (the top half of random f32 values) and their values. */
function randomBf16(count: number, rand: () => number): { bits: Uint16Array; values: Float64Array } {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const bits = new Uint16Array(count);
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    f[0] = rand() * 2;
    bits[i] = u[0] >>> 16;
    u[0] = bits[i] << 16;
    values[i] = f[0];
  }
  return { bits, values };
}

function bitsOf(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

describe('matmul kernels: row i of an m-row product equals the 1-row product bit for bit', () => {
  const addon = nativeAddon();
  const n = 11;
  // k = 2500 spans three blocks of the kernels' k-blocking and ends in a partial vector; 37 is one short block.
  for (const k of [2500, 37]) {
    for (const dtype of ['f32', 'f16', 'bf16'] as const) {
      it(`k = ${k}, ${dtype} weights, portable / avx2 / avx512, m = 1..40`, () => {
        const rand = lcg(k * 7 + dtype.length);
        const rows = 40;
        const x = Float32Array.from({ length: rows * k }, () => rand());
        let weights: Float32Array | Uint16Array;
        let reference: Float64Array;
        if (dtype === 'f32') {
          weights = Float32Array.from({ length: n * k }, () => rand());
          reference = Float64Array.from(weights);
        } else {
          const w = dtype === 'f16' ? randomF16(n * k, rand) : randomBf16(n * k, rand);
          weights = w.bits;
          reference = w.values;
        }
        let ran = 0;
        for (const kernels of ['portable', 'avx2', 'avx512'] as const) {
          const single = Array.from({ length: rows }, (_, i) => addon.matmulKernel(kernels, x.subarray(i * k, (i + 1) * k), 1, weights, dtype, n, k));
          if (single[0] === null) continue; // this CPU lacks these kernels
          ran++;
          // The 1-row product is a real matmul: close to the float64 one.
          for (let i = 0; i < rows; i++)
            for (let j = 0; j < n; j++) {
              let dot = 0;
              for (let t = 0; t < k; t++) dot += x[i * k + t] * reference[j * k + t];
              expect(Math.abs(single[i]![j] - dot)).toBeLessThan(1e-4 * Math.sqrt(k) * 4);
            }
          // Up to 32 rows take the few-rows path, more the converted-weights path: neither changes a row.
          for (const m of [2, 3, 4, 5, 8, 16, 32, 33, rows]) {
            const batch = addon.matmulKernel(kernels, x.subarray(0, m * k), m, weights, dtype, n, k)!;
            for (let i = 0; i < m; i++) expect(bitsOf(batch.subarray(i * n, (i + 1) * n)), `${kernels} m=${m} row ${i}`).toEqual(bitsOf(single[i]!));
          }
        }
        expect(ran).toBeGreaterThanOrEqual(1);
      });
    }
  }

  it('rejects bad arguments with a typed error', () => {
    const x = new Float32Array(4);
    expect(() => addon.matmulKernel('portable', x, 1, new Float32Array(3), 'f32', 1, 4)).toThrow(/weights must be a Float32Array/);
    expect(() => addon.matmulKernel('sse' as 'auto', x, 1, new Float32Array(4), 'f32', 1, 4)).toThrow(/kernels must be/);
    expect(() => addon.matmulKernel('auto', x, 1, new Float32Array(4), 'f16', 1, 4)).toThrow(/Uint16Array/);
  });
});

// ---- engine -------------------------------------------------------------------------------------

const STORIES = fileURLToPath(new URL('../../shared/models/stories260K.gguf', import.meta.url));
const haveStories = existsSync(STORIES);
if (!haveStories) console.warn(`batched-decoding: ${STORIES} not found; skipping the stories260K cases`);

const greedy = (maxTokens: number, extra: Partial<GenerateOptions> = {}): GenerateOptions => ({
  maxTokens,
  temperature: 0,
  stopTokenIds: [],
  ...extra,
});

/** Tokens 1..vocab-1 in a fixed pseudo-random order: prompts of any length. */
function promptOf(length: number, seed: number, vocab: number): number[] {
  const rand = lcg(seed);
  return [1, ...Array.from({ length: length - 1 }, () => 1 + Math.floor(((rand() + 1) / 2) * (vocab - 2)))];
}

interface Request {
  prompt: number[];
  maxTokens: number;
}

/** Eight requests of different prompt lengths and different generation lengths. */
function eightRequests(vocab: number): Request[] {
  return [5, 40, 3, 17, 90, 9, 28, 60].map((length, i) => ({ prompt: promptOf(length, 100 + i, vocab), maxTokens: 30 + 13 * i }));
}

/**
 * Runs submit() on the JS thread while the runtime's worker waits for it (inside a custom scorer's call,
 * which the worker blocks on), so every job submit() queues is there before the worker's next step: the
 * requests then overlap however loaded the machine is. The holding session (one KV page per head) lives
 * until submit()'s promise settles.
 */
async function whileWorkerWaits<T>(model: Model, submit: () => Promise<T>): Promise<T> {
  let submitted: Promise<T> | undefined;
  const hold = new CustomScorerPress({
    compressionRatio: 0.5,
    windowSize: 1,
    label: 'hold-the-worker',
    score: (layer: CustomScorerLayer) => {
      submitted ??= submit();
      return new Float32Array(layer.nKvHeads * layer.n);
    },
  });
  const session = model.createSession();
  try {
    await session.prefillContext([1, 2, 3, 4, 5, 6, 7, 8], { press: hold });
    if (!submitted) throw new Error('the custom scorer was never called');
    return await submitted;
  } finally {
    await session.dispose();
  }
}

function batchCounters(model: Model): { passes: number; rows: number; largest: number } {
  const s = model.stats();
  return { passes: s.batchedDecodePasses, rows: s.batchedDecodeRows, largest: s.largestDecodeBatch };
}

const cases = [
  { name: 'stories260K', path: async () => STORIES, skip: !haveStories },
  { name: 'a tiny GQA qwen3', path: () => tinyModelPath({ arch: 'qwen3', format: 'gguf' }), skip: false },
];

for (const c of cases) {
  describe.skipIf(c.skip)(`batched decoding on ${c.name}`, () => {
    let model: Model;
    let vocab: number;
    let path: string;

    beforeAll(async () => {
      path = await c.path();
      model = await Model.load(path, { threads: 2 });
      vocab = model.info.config.vocab;
    });
    afterAll(() => model?.dispose());

    it('8 concurrent greedy generations give the one-by-one tokens, in batches of several rows', async () => {
      const requests = eightRequests(vocab);
      const sequential: GenerateResult[] = [];
      for (const r of requests) sequential.push(await model.generate(r.prompt, greedy(r.maxTokens)));
      const before = batchCounters(model);
      const concurrent = await whileWorkerWaits(model, () => Promise.all(requests.map((r) => model.generate(r.prompt, greedy(r.maxTokens)))));
      const after = batchCounters(model);
      for (let i = 0; i < requests.length; i++) {
        expect(concurrent[i].generatedTokenIds, `request ${i}`).toEqual(sequential[i].generatedTokenIds);
        expect(concurrent[i].generatedTokenIds).toHaveLength(requests[i].maxTokens);
      }
      // The one-by-one runs never had two decoding sequences, so they added no batched pass.
      expect(before.passes).toBe(0);
      expect(after.passes).toBeGreaterThan(0);
      expect(after.rows - before.rows).toBeGreaterThan(after.passes - before.passes); // more than one row per pass
      // All eight were queued at once: their prefills take one turn each, then one pass decodes all eight.
      expect(after.largest).toBe(8);
    });

    it('forks of one context decode in batches and give the tokens of one-by-one forks', async () => {
      const context = promptOf(70, 7, vocab);
      const questions = [3, 8, 1, 12, 5].map((length, i) => promptOf(length, 200 + i, vocab).slice(1));
      const parent = model.createSession();
      await parent.evaluate(context);
      const sequential: number[][] = [];
      for (const [i, q] of questions.entries()) {
        const fork = await parent.fork();
        sequential.push((await fork.generate(q, greedy(25 + 5 * i))).generatedTokenIds);
        await fork.dispose();
      }
      const before = batchCounters(model);
      const forks = await Promise.all(questions.map(() => parent.fork()));
      const concurrent = await whileWorkerWaits(model, () => Promise.all(forks.map((f, i) => f.generate(questions[i], greedy(25 + 5 * i)))));
      for (let i = 0; i < questions.length; i++) expect(concurrent[i].generatedTokenIds, `fork ${i}`).toEqual(sequential[i]);
      expect(batchCounters(model).rows - before.rows).toBeGreaterThan(batchCounters(model).passes - before.passes);
      for (const f of forks) await f.dispose();
      // The parent's own pages were never written by its forks.
      const next = await parent.generate([], greedy(5));
      const fresh = model.createSession();
      expect(next.generatedTokenIds).toEqual((await fresh.generate(context, greedy(5))).generatedTokenIds);
      await fresh.dispose();
      await parent.dispose();
    });

    it('aborting one request mid-batch stops it within a step; the others finish unchanged', async () => {
      const requests = eightRequests(vocab).map((r) => ({ ...r, maxTokens: r.maxTokens + 200 }));
      const victim = 3;
      const sequential: GenerateResult[] = [];
      for (const r of requests) sequential.push(await model.generate(r.prompt, greedy(r.maxTokens)));
      const controller = new AbortController();
      const seen: number[] = [];
      const concurrent = await Promise.all(
        requests.map((r, i) =>
          model.generate(
            r.prompt,
            greedy(r.maxTokens, {
              ...(i === victim
                ? {
                    signal: controller.signal,
                    onToken: ({ id }) => {
                      seen.push(id);
                      if (seen.length === 5) controller.abort();
                    },
                  }
                : {}),
            }),
          ),
        ),
      );
      for (let i = 0; i < requests.length; i++) {
        if (i === victim) continue;
        expect(concurrent[i].generatedTokenIds, `request ${i}`).toEqual(sequential[i].generatedTokenIds);
      }
      const aborted = concurrent[victim];
      expect(aborted.finishReason).toBe('abort');
      expect(aborted.generatedTokenIds.length).toBeGreaterThanOrEqual(5);
      expect(aborted.generatedTokenIds.length).toBeLessThan(requests[victim].maxTokens);
      expect(aborted.generatedTokenIds).toEqual(sequential[victim].generatedTokenIds.slice(0, aborted.generatedTokenIds.length));
      expect(model.stats().kvBytesInUse).toBe(0);
    });

    it('a request whose context fills up ends with context-full while the others finish unchanged', async () => {
      const requests = eightRequests(vocab);
      const short = 2; // prompt of 3 tokens in a 20-token window: full after 17 of its 56 tokens
      const run = async (i: number, r: Request) => {
        const session = model.createSession(i === short ? { maxTokens: 20 } : {});
        try {
          return await session.generate(r.prompt, greedy(r.maxTokens));
        } finally {
          await session.dispose();
        }
      };
      const sequential: GenerateResult[] = [];
      for (const [i, r] of requests.entries()) sequential.push(await run(i, r));
      const concurrent = await Promise.all(requests.map((r, i) => run(i, r)));
      expect(sequential[short].rawFinishReason).toBe('context-full');
      for (let i = 0; i < requests.length; i++) {
        expect(concurrent[i].generatedTokenIds, `request ${i}`).toEqual(sequential[i].generatedTokenIds);
        expect(concurrent[i].rawFinishReason).toBe(sequential[i].rawFinishReason);
      }
    });

    it('a request that exhausts the KV budget fails with KvOutOfMemoryError while the others finish unchanged', async () => {
      // Seven requests stay inside their first KV page (64 tokens); the eighth crosses into a second
      // page on its 5th token, under a budget that holds exactly the first pages of all eight.
      const small = [4, 9, 6, 12, 3, 8, 10].map((length, i) => ({ prompt: promptOf(length, 300 + i, vocab), maxTokens: 40 }));
      const big = { prompt: promptOf(60, 399, vocab), maxTokens: 40 };
      const requests = [...small.slice(0, 3), big, ...small.slice(3)];
      const bigIndex = 3;
      const expected = await Promise.all(requests.map((r) => model.generate(r.prompt, greedy(r.maxTokens))));

      // The pages of the eight prompts and of whileWorkerWaits' holding session.
      const probe = await Model.load(path, { threads: 1 });
      const budget = await whileWorkerWaits(probe, async () => {
        await Promise.all(requests.map((r) => probe.createSession().evaluate(r.prompt)));
        return probe.stats().kvBytesInUse;
      });
      probe.dispose();

      const tight = await Model.load(path, { threads: 2, kvBudgetBytes: budget });
      try {
        const outcomes = await whileWorkerWaits(tight, () => Promise.allSettled(requests.map((r) => tight.generate(r.prompt, greedy(r.maxTokens)))));
        for (const [i, outcome] of outcomes.entries()) {
          if (i === bigIndex) {
            expect(outcome.status).toBe('rejected');
            expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(KvOutOfMemoryError);
          } else {
            expect(outcome.status, `request ${i}`).toBe('fulfilled');
            expect((outcome as PromiseFulfilledResult<GenerateResult>).value.generatedTokenIds, `request ${i}`).toEqual(expected[i].generatedTokenIds);
          }
        }
        expect(tight.stats().largestDecodeBatch).toBeGreaterThanOrEqual(2);
        expect(tight.stats().kvBytesInUse).toBe(0);
        // The runtime stays usable.
        const again = await tight.generate(small[0].prompt, greedy(10));
        expect(again.generatedTokenIds).toEqual(expected[0].generatedTokenIds.slice(0, 10));
      } finally {
        tight.dispose();
      }
    });

    it('a session with a decoding press stays out of the batches: its press acts as when it runs alone', async () => {
      const context = promptOf(150, 11, vocab);
      const press = { name: 'decoding', press: { name: 'knorm' }, compressionInterval: 4, targetSize: 48 };
      const pressed = async () => {
        const s = model.createSession();
        await s.prefillContext(context, { press });
        return s;
      };
      const alone = await pressed();
      const aloneTokens = (await alone.generate([], greedy(40))).generatedTokenIds;
      const aloneKv = alone.kvStats();
      await alone.dispose();
      const others = eightRequests(vocab).slice(0, 4);
      const othersAlone = [];
      for (const r of others) othersAlone.push((await model.generate(r.prompt, greedy(r.maxTokens))).generatedTokenIds);

      const before = batchCounters(model);
      const session = await pressed();
      const [mine, ...theirs] = await whileWorkerWaits(model, () =>
        Promise.all([session.generate([], greedy(40)), ...others.map((r) => model.generate(r.prompt, greedy(r.maxTokens)))]),
      );
      expect(mine.generatedTokenIds).toEqual(aloneTokens);
      expect(session.kvStats()).toEqual(aloneKv);
      // The press really cut the cache: 150 + 39 evaluated tokens would take three 64-token pages per head.
      expect(aloneKv.tokens).toBe(150 + 40); // the last generated token is pending
      expect(aloneKv.bytes).toBeLessThan((2 * (await model.generate(context, greedy(40))).kv.bytes) / 3);
      for (let i = 0; i < others.length; i++) expect(theirs[i].generatedTokenIds).toEqual(othersAlone[i]);
      expect(batchCounters(model).rows - before.rows).toBeGreaterThan(batchCounters(model).passes - before.passes);
      await session.dispose();
    });

    it('prefill chunks keep their round-robin turns between batched decode steps (no starvation either way)', async () => {
      const chunked = await Model.load(path, { threads: 2, prefillChunk: 16 });
      try {
        const decoders = [3, 5, 7, 9].map((length, i) => ({ prompt: promptOf(length, 500 + i, vocab), maxTokens: 150 }));
        const long = promptOf(200, 600, vocab); // 13 chunks of 16
        const finished: string[] = [];
        let decoded = 0;
        let decodedBeforeLongStarted = -1;
        const results = await whileWorkerWaits(chunked, () =>
          Promise.all([
            ...decoders.map((r) =>
              chunked.generate(r.prompt, greedy(r.maxTokens, { onToken: () => decoded++ })).then((res) => (finished.push('decoder'), res)),
            ),
            chunked
              .generate(long, greedy(5, { onToken: () => (decodedBeforeLongStarted = decodedBeforeLongStarted < 0 ? decoded : decodedBeforeLongStarted) }))
              .then((res) => (finished.push('long'), res)),
          ]),
        );
        // One batched decode step per prefill chunk: the long prompt is through long before the decoders'
        // 150 steps, and they decoded all along (about 13 tokens each before its first token).
        expect(finished[0]).toBe('long');
        expect(decodedBeforeLongStarted).toBeGreaterThanOrEqual(20);
        expect(results.map((r) => r.generatedTokenIds.length)).toEqual([150, 150, 150, 150, 5]);
        expect(chunked.stats().largestDecodeBatch).toBe(5);
      } finally {
        chunked.dispose();
      }
    });

    it('decodeBatch: 1 turns batching off and gives the same tokens', async () => {
      const unbatched = await Model.load(path, { threads: 2, decodeBatch: 1 });
      try {
        const requests = eightRequests(vocab).slice(0, 4);
        const a = await Promise.all(requests.map((r) => unbatched.generate(r.prompt, greedy(r.maxTokens))));
        const b = await Promise.all(requests.map((r) => model.generate(r.prompt, greedy(r.maxTokens))));
        for (let i = 0; i < requests.length; i++) expect(a[i].generatedTokenIds).toEqual(b[i].generatedTokenIds);
        expect(unbatched.stats().batchedDecodePasses).toBe(0);
        expect(unbatched.stats().decodeBatch).toBe(1);
      } finally {
        unbatched.dispose();
      }
      await expect(Model.load(path, { decodeBatch: 0 })).rejects.toThrow(/decodeBatch/);
      await expect(Model.load(path, { decodeBatch: 257 })).rejects.toThrow(/decodeBatch/);
    });
  });
}

describe.skipIf(!haveStories)('presskv bench --concurrency', () => {
  it('reports aggregate decode tok/s of N requests at once and the tokens per forward pass', async () => {
    const { runBench } = await import('../cli/bench.js');
    let out = '';
    const code = await runBench(
      ['--model', STORIES, '--context', '16', '--threads', '1', '--decode-tokens', '24', '--peer', 'none', '--mmap', 'on', '--concurrency', '1,4', '--json'],
      { out: (s) => (out += s), err: () => {} },
    );
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report.rows).toHaveLength(1); // the single-request row is still there
    const [one, four] = report.concurrency;
    expect(one).toMatchObject({ concurrency: 1, contextTokens: 16, threads: 1, meanBatch: 1 });
    expect(four).toMatchObject({ concurrency: 4, contextTokens: 16, threads: 1 });
    // Whether the four overlap depends on the machine's load here; the batching itself is asserted above.
    expect(four.meanBatch).toBeGreaterThanOrEqual(1);
    expect(four.meanBatch).toBeLessThanOrEqual(4);
    expect(four.aggregateDecodeTokensPerSecond).toBeCloseTo(four.perRequestDecodeTokensPerSecond * 4, 6);
    expect(one.aggregateDecodeTokensPerSecond).toBeGreaterThan(0);
  });
});
