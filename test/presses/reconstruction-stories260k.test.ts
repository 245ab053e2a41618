// KVzip and KVCompose end to end on stories260K (a real pretrained Llama) through Session.prefillContext: the
// engine derives KVzip's reconstruction prompts from the model's tokenizer, runs the reconstruction passes
// through its own forward on top of the context cache, and cuts them off again. After the prefill the cache
// holds exactly the context (next position = n), the budget is exact, and the bytes follow the rule
// bytesAfter ≤ (1 − r)·bytesBefore + one page per (layer, kv-head).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContextOverflowError, InvalidArgumentError } from '../../engine/errors.js';
import { Model } from '../../engine/model.js';
import { createPress, preparePress } from '../../engine/presses/index.js';
import { keptCount } from '../reference/presses/selection.js';

const modelsDir = fileURLToPath(new URL('../../../shared/models/', import.meta.url));
const modelPath = join(modelsDir, 'stories260K.gguf');
const goldenPath = join(modelsDir, 'golden-stories260K.json');
const available = existsSync(modelPath) && existsSync(goldenPath);
if (!available) console.warn('[presses] reconstruction on stories260K skipped: ../shared/models/stories260K.gguf is missing');

const RATIO = 0.5;

describe.skipIf(!available)('reconstruction presses on stories260K', () => {
  let model: Model;
  let context: number[];
  let L = 0;
  let Hk = 0;
  let pageBytes = 0; // one KV page of one (layer, kv-head)

  beforeAll(async () => {
    model = await Model.load(modelPath, { threads: 1 });
    const story = (JSON.parse(readFileSync(goldenPath, 'utf8')) as { golden200: { ids: number[] } }).golden200.ids;
    context = [1, ...story, ...story]; // BOS + 400 tokens of text
    ({ nLayers: L, nKvHeads: Hk } = model.info.config);
    const one = model.createSession();
    await one.evaluate([1]);
    pageBytes = one.kvStats().bytes / (L * Hk); // one token holds one page in every (layer, kv-head)
    await one.dispose();
  });
  afterAll(() => model?.dispose());

  async function prefill(press: Parameters<typeof createPress>[0] | undefined) {
    const session = model.createSession();
    try {
      const result = await session.prefillContext(context, press === undefined ? {} : { press });
      const stats = session.kvStats();
      const next = await session.evaluate([context[1]]); // the sequence continues after the compressed context
      return { result, stats, next: next! };
    } finally {
      await session.dispose();
    }
  }

  it('KVzip: the passes leave exactly the context, the bottom floor(N·r) of all (layer, head, slot) go, bytes follow', async () => {
    const plain = await prefill(undefined);
    const { result, stats, next } = await prefill({ name: 'kvzip', compressionRatio: RATIO });
    const n = context.length;
    const N = L * Hk * n;
    expect(result.nextPosition).toBe(n);
    expect(stats.tokens).toBe(n);
    expect(result.tokensBefore).toBe(n);
    expect(result.slotsBefore).toBe(N);
    expect(result.slotsAfter).toBe(N - Math.floor(N * RATIO));
    expect(result.lengths.reduce((a, b) => a + b, 0)).toBe(result.slotsAfter);
    expect(result.tokensAfter).toBe(Math.round(result.slotsAfter / (L * Hk)));
    for (const length of result.lengths) expect(length).toBeLessThanOrEqual(n);
    expect(new Set(result.lengths).size).toBeGreaterThan(1); // heads keep different counts
    const slack = L * Hk * pageBytes;
    expect(result.bytesAfter).toBe(stats.bytes);
    expect(result.bytesAfter).toBeLessThanOrEqual((1 - RATIO) * result.bytesBefore + slack);
    expect(result.bytesBefore).toBe(plain.result.bytesAfter);
    expect(next.every((x) => Number.isFinite(x))).toBe(true);
    console.info(`[kvzip] prefill ${result.prefillMs.toFixed(1)} ms vs ${plain.result.prefillMs.toFixed(1)} ms uncompressed (${n} tokens, one reconstruction pass)`);
  });

  it('KVCompose: one pass of the context again, cut off; floor(L·n·(1−r)) slots per head over the layers (structured)', async () => {
    const plain = await prefill(undefined);
    const { result, stats } = await prefill({ name: 'kvcompose', compressionRatio: RATIO });
    const n = context.length;
    expect(result.nextPosition).toBe(n);
    expect(stats.tokens).toBe(n);
    expect(result.slotsAfter).toBe(Hk * keptCount(L * n, RATIO));
    for (const layer of result.perLayer) expect(new Set(layer.perHead).size).toBe(1);
    const slack = L * Hk * pageBytes;
    expect(result.bytesAfter).toBe(stats.bytes);
    expect(result.bytesAfter).toBeLessThanOrEqual((1 - RATIO) * result.bytesBefore + slack);
    console.info(`[kvcompose] prefill ${result.prefillMs.toFixed(1)} ms vs ${plain.result.prefillMs.toFixed(1)} ms uncompressed`);
  });

  it('reconstruction passes may run past the window (as kvpress): a context at 60 % of the window compresses', async () => {
    // The window is the context + 10% more: the passes (up to the context's own length after it) go past it
    // temporarily and are cut off again; the session ends at the context, in its own window.
    const window = Math.ceil(context.length / 0.6);
    const session = model.createSession({ maxTokens: window });
    try {
      for (const name of ['kvzip', 'kvcompose']) {
        const result = await session.prefillContext(context, { press: { name, compressionRatio: RATIO } });
        expect(result.nextPosition).toBe(context.length);
        expect(result.slotsAfter).toBeLessThan(result.slotsBefore);
        expect(session.kvStats().tokens).toBe(context.length);
        expect(session.maxTokens).toBe(window);
        // The window is the session's again: a continuation past it is refused, one inside it runs.
        await expect(session.evaluate(Array(window - context.length + 1).fill(context[1]))).rejects.toBeInstanceOf(ContextOverflowError);
        expect(await session.evaluate([context[1]])).toBeDefined();
        await session.truncate(0);
      }
      // A context longer than the window is still refused before any work.
      const small = model.createSession({ maxTokens: context.length - 1 });
      await expect(small.prefillContext(context, { press: { name: 'kvzip', compressionRatio: RATIO } })).rejects.toBeInstanceOf(ContextOverflowError);
      expect(small.kvStats().tokens).toBe(0);
      await small.dispose();
    } finally {
      await session.dispose();
    }
  });

  it('KVzip without the model\'s tokenizer is a typed error naming what is missing', async () => {
    await expect(preparePress({ name: 'kvzip', compressionRatio: RATIO }, { model: model.info.config, contextTokens: 10 })).rejects.toThrow(InvalidArgumentError);
    await expect(preparePress({ name: 'kvzip', compressionRatio: RATIO }, { model: model.info.config, contextTokens: 10 })).rejects.toThrow(/tokenizer/);
    // Ratio 0 needs no prompts: nothing is scored.
    await expect(preparePress({ name: 'kvzip' }, { model: model.info.config, contextTokens: 10 })).resolves.toBeDefined();
  });
});
