// Prefill progress (issue 12 point 13): the native prefill reports how far it has come through a thread-safe,
// non-blocking, rate-limited callback — tokens evaluated for a chunked prefill (Session.evaluate, generate's
// prompt), layers completed for the layer-major context prefill (Session.prefillContext, with or without a
// press, a reconstructing press's passes included). The counts only grow, and the last one, delivered before
// the Promise settles, is the total.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model } from '../engine/model.js';
import { InvalidArgumentError } from '../engine/errors.js';
import type { PrefillProgress } from '../engine/types.js';

const modelsDir = fileURLToPath(new URL('../../shared/models/', import.meta.url));
const modelPath = `${modelsDir}stories260K.gguf`;
const goldenPath = `${modelsDir}golden-stories260K.json`;
const available = existsSync(modelPath) && existsSync(goldenPath);
if (!available) console.warn('[prefill-progress] ../shared/models/stories260K.gguf is missing: skipped');

const LAYERS = 5; // stories260K
const CHUNK = 64;

function expectProgression(seen: PrefillProgress[], total: number, unit: PrefillProgress['unit'], tokens: number): void {
  expect(seen.length).toBeGreaterThan(0);
  for (const p of seen) {
    expect(p.total).toBe(total);
    expect(p.unit).toBe(unit);
    expect(p.tokens).toBe(tokens);
  }
  for (let i = 1; i < seen.length; i++) {
    expect(seen[i]!.done).toBeGreaterThan(seen[i - 1]!.done);
    expect(seen[i]!.elapsedMs).toBeGreaterThanOrEqual(seen[i - 1]!.elapsedMs);
  }
  expect(seen[0]!.elapsedMs).toBeGreaterThanOrEqual(0);
  expect(seen.at(-1)!.done).toBe(total);
}

describe.skipIf(!available)('prefill progress on stories260K', () => {
  let model: Model;
  let context: number[];

  beforeAll(async () => {
    model = await Model.load(modelPath, { threads: 1, prefillChunk: CHUNK });
    const story = (JSON.parse(readFileSync(goldenPath, 'utf8')) as { golden200: { ids: number[] } }).golden200.ids;
    context = [1, ...story, ...story]; // 401 tokens: 7 chunks of 64
  });
  afterAll(() => model?.dispose());

  it('evaluate reports every chunk (interval 0): 64, 128, ... then the total', async () => {
    const session = model.createSession();
    const seen: PrefillProgress[] = [];
    await session.evaluate(context, { logits: 'none', onProgress: (p) => seen.push(p), progressIntervalMs: 0 });
    expectProgression(seen, context.length, 'tokens', context.length);
    expect(seen.map((p) => p.done)).toEqual([64, 128, 192, 256, 320, 384, 401]);
    await session.dispose();
  });

  it('the default interval still delivers the last report, before the Promise settles', async () => {
    const session = model.createSession();
    const seen: PrefillProgress[] = [];
    await session.evaluate(context, { logits: 'last', onProgress: (p) => seen.push(p) });
    expectProgression(seen, context.length, 'tokens', context.length);
    expect(seen.length).toBeLessThanOrEqual(7);
    await session.dispose();
  });

  it('prefillContext without a press and with one reports layers 1..5 of the context', async () => {
    for (const press of [undefined, { name: 'snapkv', compressionRatio: 0.5 }, { name: 'expected-attention', compressionRatio: 0.5 }]) {
      const session = model.createSession();
      const seen: PrefillProgress[] = [];
      await session.prefillContext(context, { press, onProgress: (p) => seen.push(p), progressIntervalMs: 0 });
      expectProgression(seen, LAYERS, 'layers', context.length);
      expect(seen.map((p) => p.done)).toEqual([1, 2, 3, 4, 5]);
      await session.dispose();
    }
  });

  it("a reconstructing press (KVzip) counts its passes' layers too", async () => {
    const session = model.createSession();
    const seen: PrefillProgress[] = [];
    await session.prefillContext(context, { press: { name: 'kvzip', compressionRatio: 0.5 }, onProgress: (p) => seen.push(p), progressIntervalMs: 0 });
    const total = seen.at(-1)!.total;
    expect(total).toBeGreaterThan(LAYERS);
    expect(total % LAYERS).toBe(0);
    expectProgression(seen, total, 'layers', context.length);
    expect(seen.map((p) => p.done)).toEqual(Array.from({ length: total }, (_x, i) => i + 1));
    await session.dispose();
  });

  it("generate's prompt prefill: the last report comes before the first token", async () => {
    const events: string[] = [];
    const seen: PrefillProgress[] = [];
    const result = await model.generate(context, {
      maxTokens: 3,
      temperature: 0,
      progressIntervalMs: 0,
      onPrefillProgress: (p) => {
        seen.push(p);
        events.push(`progress ${p.done}`);
      },
      onToken: (t) => events.push(`token ${t.id}`),
    });
    expectProgression(seen, context.length, 'tokens', context.length);
    expect(events.indexOf(`progress ${context.length}`)).toBeLessThan(events.findIndex((e) => e.startsWith('token')));
    expect(result.generatedTokenIds.length).toBeGreaterThan(0);
  });

  it('the same tokens with and without progress give the same logits', async () => {
    const a = model.createSession();
    const b = model.createSession();
    const plain = await a.evaluate(context, { logits: 'last' });
    const tracked = await b.evaluate(context, { logits: 'last', onProgress: () => {}, progressIntervalMs: 0 });
    expect(tracked).toEqual(plain);
    const c = model.createSession();
    const d = model.createSession();
    const r1 = await c.prefillContext(context, { press: { name: 'snapkv', compressionRatio: 0.5 } });
    const r2 = await d.prefillContext(context, { press: { name: 'snapkv', compressionRatio: 0.5 }, onProgress: () => {} });
    expect(r2.lengths).toEqual(r1.lengths);
    expect((await d.generate([], { maxTokens: 8, temperature: 0 })).generatedTokenIds).toEqual(
      (await c.generate([], { maxTokens: 8, temperature: 0 })).generatedTokenIds,
    );
    for (const s of [a, b, c, d]) await s.dispose();
  });

  it('a throwing callback does not break the prefill; bad options are typed errors', async () => {
    const session = model.createSession();
    await expect(
      session.evaluate(context.slice(0, 100), {
        logits: 'none',
        onProgress: () => {
          throw new Error('boom');
        },
      }),
    ).resolves.toBeUndefined();
    await expect(session.evaluate([1], { onProgress: 42 as never })).rejects.toThrow(InvalidArgumentError);
    await expect(session.evaluate([1], { onProgress: () => {}, progressIntervalMs: -1 })).rejects.toThrow(/progressIntervalMs/);
    await expect(model.generate([1], { maxTokens: 1, onPrefillProgress: 'x' as never })).rejects.toThrow(/onPrefillProgress/);
    await session.dispose();
  });
});
