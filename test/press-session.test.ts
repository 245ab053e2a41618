// Session.prefillContext: the context's layer-major prefill with a press on the runtime's worker. No press
// and ratio 0 give the plain prefill bit for bit; SnapKV at 0.5 frees pages for real and the session keeps
// decoding from the compressed cache; key re-rotation moves the next position to the kept length; a bad
// press fails typed before any work and leaves the session usable.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustomScorerPress, InvalidArgumentError, KeyRerotationPress, Model, type CustomScorerLayer } from '../index.js';
import { tinyModelPath } from './helpers/tiny-models.js';

const storiesPath = fileURLToPath(new URL('../../shared/models/stories260K.gguf', import.meta.url));
const haveStories = existsSync(storiesPath);
if (!haveStories) console.warn(`press-session: stories260K tests skipped, ${storiesPath} is absent`);

const STORY =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her dog Max. ' +
  'One day, Lily saw a big red ball under a tree. She wanted to play with it, but the ball was stuck. ' +
  'Lily asked her mom for help, and her mom smiled and said yes. They went to the tree together. ';
const greedy = { maxTokens: 12, temperature: 0, stopTokenIds: [] as number[] };

describe.skipIf(!haveStories)('Session.prefillContext on stories260K', () => {
  let model: Model;
  let context: number[];
  let question: number[];

  beforeAll(async () => {
    model = await Model.load(storiesPath, { threads: 1 });
    context = model.tokenize(STORY.repeat(3));
    question = model.tokenize(' Lily said', { addSpecialTokens: false });
  });
  afterAll(() => model?.dispose());

  it('without a press and at ratio 0 it is the plain prefill: same logits, same answer, nothing removed', async () => {
    const plain = model.createSession();
    const plainLogits = await plain.evaluate(context, { logits: 'last' });
    const plainAnswer = (await plain.generate(question, greedy)).generatedTokenIds;
    await plain.dispose();
    for (const press of [undefined, { name: 'snapkv', compressionRatio: 0 }]) {
      const s = model.createSession();
      const stats = await s.prefillContext(context, press ? { press } : {});
      expect(stats.tokensAfter).toBe(stats.tokensBefore);
      expect(stats.bytesAfter).toBe(stats.bytesBefore);
      expect(stats.nextPosition).toBe(context.length);
      // The kept logits are exactly the plain prefill's: evaluate([]) returns them.
      expect(await s.evaluate([], { logits: 'last' })).toEqual(plainLogits);
      expect((await s.generate(question, greedy)).generatedTokenIds).toEqual(plainAnswer);
      await s.dispose();
    }
  });

  it('SnapKV at 0.5 keeps half of every head, frees the pages, and decoding continues after the context', async () => {
    const s = model.createSession();
    const stats = await s.prefillContext(context, { press: { name: 'SnapKVPress', compressionRatio: 0.5, windowSize: 16 } });
    const { nLayers, nKvHeads } = model.info.config;
    expect(stats.tokensBefore).toBe(context.length);
    expect(stats.slotsBefore).toBe(context.length * nLayers * nKvHeads);
    expect(stats.perLayer.map((l) => l.layer)).toEqual([...Array(nLayers).keys()]);
    const kept = Math.floor(context.length * 0.5);
    for (const l of stats.perLayer) expect(l.perHead).toEqual(Array(nKvHeads).fill(context.length - kept));
    expect(stats.slotsAfter).toBe((context.length - kept) * nLayers * nKvHeads);
    expect(stats.tokensAfter).toBe(context.length - kept);
    // Pages really go back: at most (1 − r) of the bytes plus one partly filled page per (layer, head).
    const pageBytes = stats.bytesBefore / (nLayers * nKvHeads * Math.ceil(context.length / 64));
    expect(stats.bytesAfter).toBeLessThanOrEqual(0.5 * stats.bytesBefore + nLayers * nKvHeads * pageBytes);
    expect(s.kvStats().bytes).toBe(stats.bytesAfter);
    // kvpress default: the question continues at the uncompressed length.
    expect(stats.nextPosition).toBe(context.length);
    const answer = await s.generate(question, greedy);
    expect(answer.generatedTokenIds.length).toBe(greedy.maxTokens);
    expect(s.kvStats().tokens).toBe(context.length + question.length + greedy.maxTokens); // the last token stays pending
    await s.dispose();
  });

  it('KeyRerotationPress continues at the compressed length', async () => {
    const s = model.createSession();
    const stats = await s.prefillContext(context, { press: { name: 'key-rerotation', press: { name: 'snapkv', compressionRatio: 0.5, windowSize: 16 } } });
    const kept = context.length - Math.floor(context.length * 0.5);
    expect(stats.perLayer[0]!.perHead[0]).toBe(kept);
    expect(stats.nextPosition).toBe(kept);
    expect((await s.generate(question, greedy)).generatedTokenIds.length).toBe(greedy.maxTokens);
    await s.dispose();
  });

  it('a bad press fails typed before any work, and the session stays usable', async () => {
    const s = model.createSession();
    await expect(s.prefillContext(context, { press: { name: 'snapkv', compressionRatio: 1 } })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(s.prefillContext(context, { press: 'no-such-press' })).rejects.toThrow(/unknown press/);
    await expect(s.prefillContext(context, { press: { name: 'snapkv', compressionRatio: 0.5, windowSize: 10_000 } })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(s.kvStats().tokens).toBe(0);
    const stats = await s.prefillContext(context, { press: { name: 'knorm', compressionRatio: 0.25 } });
    expect(stats.tokensAfter).toBeLessThan(stats.tokensBefore);
    // A second context on the same session is refused: the press compresses a context from its first token.
    await expect(s.prefillContext(context, { press: 'knorm' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await s.dispose();
  });

  it('a decoding press keeps acting on the tokens generated after the context', async () => {
    const s = model.createSession();
    const press = { name: 'decoding', press: { name: 'knorm' }, compressionInterval: 4, targetSize: 48 };
    const stats = await s.prefillContext(context, { press });
    expect(stats.tokensAfter).toBe(stats.tokensBefore); // a decoding press leaves the prefill alone
    await s.generate(question, { ...greedy, maxTokens: 16 });
    // Without the press every head would span ⌈(context + question + 15) / 64⌉ pages; DecodingPress cuts each
    // head to 48 slots every 4 steps, so at most 48 + 3 slots (one page) remain per (layer, kv-head).
    const { nLayers, nKvHeads } = model.info.config;
    const pageBytes = stats.bytesBefore / (nLayers * nKvHeads * Math.ceil(context.length / 64));
    expect(Math.ceil((context.length + question.length + 15) / 64)).toBeGreaterThan(1);
    expect(s.kvStats().bytes).toBe(nLayers * nKvHeads * pageBytes);
    await s.dispose();
  });

  it('a fork carries the decoding press on from the same state: it generates and compresses exactly as the session itself', async () => {
    const target = 48;
    const s = model.createSession();
    await s.prefillContext(context, { press: { name: 'decoding', press: { name: 'knorm' }, compressionInterval: 4, targetSize: target } });
    // Six forwards: one compression, and two steps counted towards the next one.
    await s.generate(question, { ...greedy, maxTokens: 6 });
    const fork = await s.fork();
    const fromFork = await fork.generate([], { ...greedy, maxTokens: 10 });
    const fromSession = await s.generate([], { ...greedy, maxTokens: 10 });
    expect(fromFork.generatedTokenIds).toEqual(fromSession.generatedTokenIds);
    const lengths = s.kvStats().lengths!;
    expect(lengths).toHaveLength(model.info.config.nLayers * model.info.config.nKvHeads);
    // 2 + 10 forwards: compressed at the 4th, 8th and 12th, so every head is back at the target (a fresh press state would end at target + 2).
    expect(lengths).toEqual(Array(lengths.length).fill(target));
    expect(fork.kvStats().lengths).toEqual(lengths);
    await fork.dispose();
    await s.dispose();
  });

  it('a fork carries DMS (decoding) on with its window scores and random state: both sides evict the same tokens', async () => {
    const s = model.createSession();
    const press = { name: 'dms', press: { name: 'random', seed: 7 }, threshold: 0.5, slidingWindowSize: 8, decoding: true };
    await s.prefillContext(context, { press });
    await s.generate(question, { ...greedy, maxTokens: 5 });
    const fork = await s.fork();
    const atFork = s.kvStats().lengths!;
    const fromFork = await fork.generate([], { ...greedy, maxTokens: 12 });
    const fromSession = await s.generate([], { ...greedy, maxTokens: 12 });
    expect(fromFork.generatedTokenIds).toEqual(fromSession.generatedTokenIds);
    const lengths = s.kvStats().lengths!;
    expect(fork.kvStats().lengths).toEqual(lengths);
    // Tokens leaving the window keep being evicted while generating: the 12 new forwards added fewer than 12 slots.
    expect(lengths.reduce((a, b) => a + b, 0)).toBeLessThan(atFork.reduce((a, b) => a + b, 0) + 12 * lengths.length);
    await fork.dispose();
    await s.dispose();
  });

  it('a TypeScript scorer runs on the worker: keeping the first half, re-rotated, equals the plain prefill of that half', async () => {
    let calls = 0;
    const keepFirst = new CustomScorerPress({
      compressionRatio: 0.5,
      windowSize: 4,
      label: 'keep-first',
      score: (layer: CustomScorerLayer) => {
        calls++;
        const scores = new Float32Array(layer.nKvHeads * layer.n);
        for (let i = 0; i < scores.length; i++) scores[i] = -layer.positions[i]!;
        return scores;
      },
    });
    const s = model.createSession();
    const stats = await s.prefillContext(context, { press: new KeyRerotationPress({ press: keepFirst }) });
    const kept = context.length - Math.floor(context.length * 0.5);
    expect(calls).toBe(model.info.config.nLayers);
    expect(stats.nextPosition).toBe(kept);
    const plain = model.createSession();
    await plain.evaluate(context.slice(0, kept), { logits: 'none' });
    const expected = (await plain.generate(question, greedy)).generatedTokenIds;
    expect((await s.generate(question, greedy)).generatedTokenIds).toEqual(expected);
    await plain.dispose();
    await s.dispose();
  });

  it('a TypeScript scorer that returns the wrong number of scores is a typed error; the session stays usable', async () => {
    const s = model.createSession();
    const broken = new CustomScorerPress({ compressionRatio: 0.5, label: 'broken', score: () => new Float32Array(3) });
    await expect(s.prefillContext(context, { press: broken })).rejects.toThrow(/broken: score\(\) returned 3 scores/);
    expect(s.kvStats().tokens).toBe(0);
    expect((await s.prefillContext(context)).slotsAfter).toBe(context.length * model.info.config.nLayers * model.info.config.nKvHeads);
    await s.dispose();
  });

  it('an abort signal stops the prefill and leaves the session empty', async () => {
    const s = model.createSession();
    const controller = new AbortController();
    controller.abort();
    await expect(s.prefillContext(context, { press: 'snapkv', signal: controller.signal })).rejects.toThrow();
    expect(s.kvStats().tokens).toBe(0);
    await s.dispose();
  });
});

describe('Session.prefillContext on a tiny make-model model (grouped-query heads)', () => {
  it('compresses every (layer, kv-head) and continues decoding', async () => {
    const model = await Model.load(await tinyModelPath({ arch: 'qwen3', format: 'gguf' }), { threads: 1 });
    try {
      const ids = Array.from({ length: 96 }, (_, i) => 3 + ((i * 7) % 50));
      const s = model.createSession();
      const stats = await s.prefillContext(ids, { press: { name: 'expected-attention', compressionRatio: 0.5 } });
      const { nLayers, nKvHeads } = model.info.config;
      expect(stats.perLayer).toHaveLength(nLayers);
      for (const l of stats.perLayer) {
        expect(l.perHead).toHaveLength(nKvHeads);
        for (const n of l.perHead) expect(n).toBe(48);
      }
      expect((await s.generate([5, 6], greedy)).generatedTokenIds).toHaveLength(greedy.maxTokens);
      await s.dispose();
    } finally {
      model.dispose();
    }
  });
});
