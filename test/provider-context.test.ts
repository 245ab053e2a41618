// Stored contexts through the provider with the AI SDK: provider.cacheContext + providerOptions.presskv.contextId,
// prompt parts marked cacheBreakpoint (stored by the first call, read by the next), automatic reuse of a
// stored context part, get/list/extend/delete, typed errors for unknown ids, and contextCacheMiddleware on the
// provider's own store. Every answer is checked against the same prompt run without any cache (greedy), and
// the usage against the context's token count.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateText, streamText, wrapLanguageModel, type ModelMessage } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextCacheMiddleware } from '../middleware/context-cache-middleware.js';
import { CustomScorerPress, type CustomScorerLayer } from '../engine/presses/index.js';
import { createPressKV, type PressKVProvider } from '../provider/create-presskv.js';
import { tinyModelPath } from './helpers/tiny-models.js';

(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;

const doc = 'The lighthouse keeper Ines painted the tower red, fed three grey cats and logged every passing ship. '.repeat(8);
const presskvMeta = (r: { providerMetadata?: Record<string, unknown> }) => r.providerMetadata!.presskv as Record<string, unknown>;

let modelPath: string;
let provider: PressKVProvider;
/** No stored contexts ever: the reference every cached answer must equal. */
let reference: PressKVProvider;

beforeAll(async () => {
  modelPath = await tinyModelPath({ arch: 'qwen3', format: 'gguf' });
  provider = createPressKV({ threads: 1, contextStore: { maxBytes: 64 << 20 } });
  reference = createPressKV({ threads: 1 });
});
afterAll(() => {
  provider?.dispose();
  reference?.dispose();
});

describe('provider.cacheContext and providerOptions.presskv.contextId', () => {
  it('answers from the stored context as the full prompt does, reporting cacheRead and the context figures', async () => {
    const stored = await provider.cacheContext({ model: modelPath, context: doc, name: 'lighthouse', ttl: 600 });
    expect(stored).toMatchObject({ id: expect.stringMatching(/^ctx_[0-9a-f]{32}$/), name: 'lighthouse', created: true });
    const n = stored.tokensBefore;
    expect(n).toBeGreaterThan(100);
    expect(stored.tokensAfter).toBe(n);
    expect(stored.bytes).toBeGreaterThan(0);
    expect(stored.expiresAt! - Date.now()).toBeGreaterThan(590_000);
    expect((await provider.cacheContext({ model: modelPath, context: doc })).created).toBe(false);

    const ask = { prompt: 'What colour is the tower?', maxOutputTokens: 10, temperature: 0 };
    const plain = await generateText({ model: reference(modelPath), system: doc, ...ask });
    const cached = await generateText({ model: provider(modelPath), ...ask, providerOptions: { presskv: { contextId: stored.id } } });
    expect(plain.text.length).toBeGreaterThan(0);
    expect(cached.text).toBe(plain.text);
    expect(cached.usage.inputTokens).toBe(plain.usage.inputTokens);
    expect(cached.usage.inputTokenDetails).toMatchObject({ cacheReadTokens: n, cacheWriteTokens: 0, noCacheTokens: plain.usage.inputTokens! - n });
    expect(presskvMeta(cached)).toMatchObject({ contextId: stored.id, tokensBefore: n, tokensAfter: n, bytes: stored.bytes, cacheHit: true, prefillMs: expect.any(Number) });
    // The plain call reports no caching at all.
    expect(plain.usage.inputTokenDetails).toMatchObject({ cacheReadTokens: 0, cacheWriteTokens: 0 });

    const streamed = streamText({ model: provider(modelPath), ...ask, providerOptions: { presskv: { contextId: stored.id } } });
    const deltas: string[] = [];
    for await (const delta of streamed.textStream) deltas.push(delta);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(plain.text);
    expect((await streamed.usage).inputTokenDetails.cacheReadTokens).toBe(n);
    expect(((await streamed.providerMetadata)!.presskv as Record<string, unknown>).contextId).toBe(stored.id);
  });

  it('gets, lists, extends and deletes contexts; an unknown or deleted id is a typed error and the model keeps working', async () => {
    const stored = await provider.cacheContext({ model: modelPath, messages: [{ role: 'system', content: 'Short rules: answer in one word.' }] });
    expect(await provider.getContext(stored.id)).toMatchObject({ id: stored.id, tokensBefore: stored.tokensBefore });
    expect((await provider.listContexts()).map((c) => c.id)).toContain(stored.id);
    expect((await provider.extendContext(stored.id, 0)).expiresAt).toBeNull();
    expect(await provider.deleteContext(stored.id)).toBe(true);
    expect(await provider.deleteContext(stored.id)).toBe(false);
    await expect(provider.getContext(stored.id)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });

    const ask = { prompt: 'Hello', maxOutputTokens: 3, temperature: 0, maxRetries: 0 };
    await expect(generateText({ model: provider(modelPath), ...ask, providerOptions: { presskv: { contextId: stored.id } } })).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: expect.stringContaining(stored.id),
    });
    await expect(generateText({ model: provider(modelPath), ...ask, providerOptions: { presskv: { contextId: 'not-an-id' } } })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    const errors: unknown[] = [];
    const stream = streamText({ model: provider(modelPath), ...ask, providerOptions: { presskv: { contextId: stored.id } }, onError: ({ error }) => void errors.push(error) });
    for await (const _ of stream.textStream) expect.unreachable('no text from an unknown context');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'ERR_NOT_FOUND', message: expect.stringContaining(stored.id) });
    await expect(generateText({ model: provider(modelPath), ...ask, providerOptions: { presskv: { contextId: 42 } } })).rejects.toThrow(/contextId/);

    const shortLived = await provider.cacheContext({ model: modelPath, context: 'Expires soon: the gate code is 4411.', ttl: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await expect(generateText({ model: provider(modelPath), ...ask, providerOptions: { presskv: { contextId: shortLived.id } } })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    const after = await generateText({ model: provider(modelPath), ...ask });
    expect(after.usage.outputTokens).toBeGreaterThan(0);
  });

  it('stores a context compressed by a press under its own id and answers from it', async () => {
    await expect(provider.cacheContext({ model: modelPath, context: doc, press: { name: 'snapkv', compressionRatio: 2 } })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    const plainId = (await provider.cacheContext({ model: modelPath, context: doc })).id;
    const pressed = await provider.cacheContext({ model: modelPath, context: doc, press: { name: 'knorm', compressionRatio: 0.5 } });
    expect(pressed.id).not.toBe(plainId);
    expect(pressed.press).toEqual({ name: 'KnormPress', compressionRatio: 0.5 });
    // The engine applies the press while prefilling: half the slots and (about) half the bytes are gone.
    const plainBytes = (await provider.getContext(plainId)).bytes;
    expect(pressed.compressed).toBe(true);
    expect(pressed.tokensAfter).toBeLessThanOrEqual(Math.ceil(pressed.tokensBefore * 0.5) + 1);
    expect(pressed.bytes).toBeLessThan(plainBytes * 0.75);
    const answer = await generateText({ model: provider(modelPath), prompt: 'Who feeds the cats?', maxOutputTokens: 6, temperature: 0, providerOptions: { presskv: { contextId: pressed.id } } });
    expect(answer.usage.outputTokens).toBeGreaterThan(0);
    expect(answer.usage.inputTokenDetails.cacheReadTokens).toBe(pressed.tokensBefore);
    expect(presskvMeta(answer)).toMatchObject({ contextId: pressed.id, tokensAfter: pressed.tokensAfter, bytes: pressed.bytes });

    // Automatic reuse finds a context stored only compressed when the call names no press.
    const memo = 'Memo: the night ferry is cancelled on Sundays; the morning ferry runs twice. '.repeat(6);
    const memoPressed = await provider.cacheContext({ model: modelPath, context: memo, press: { name: 'knorm', compressionRatio: 0.5 } });
    const auto = await generateText({ model: provider(modelPath), system: memo, prompt: 'Is there a ferry on Sunday night?', maxOutputTokens: 6, temperature: 0 });
    expect(presskvMeta(auto)).toMatchObject({ contextId: memoPressed.id, tokensAfter: memoPressed.tokensAfter });
    expect(auto.usage.inputTokenDetails).toMatchObject({ cacheReadTokens: memoPressed.tokensBefore, cacheWriteTokens: 0 });
  });

  it('a decoding press stored with the context keeps compressing every request that reads it', async () => {
    const diary = 'Diary: the baker opened at five, sold rye loaves to the miller, and closed early for the fair. '.repeat(5);
    const targetSize = 20;
    const compressionInterval = 4;
    const press = { name: 'decoding', press: { name: 'knorm' }, compressionInterval, targetSize };
    const decoding = await provider.cacheContext({ model: modelPath, context: diary, press });
    const uncompressed = await provider.cacheContext({ model: modelPath, context: diary });
    // A decoding press leaves the prefill alone: the stored context is whole.
    expect(decoding.tokensAfter).toBe(decoding.tokensBefore);
    const ask = (contextId: string) =>
      generateText({ model: provider(modelPath), prompt: 'What did the baker sell?', maxOutputTokens: 24, temperature: 0, providerOptions: { presskv: { contextId } } });

    const pressed = await ask(decoding.id);
    const steps = pressed.usage.outputTokens!;
    expect(steps).toBeGreaterThanOrEqual(compressionInterval);
    const meta = presskvMeta(pressed);
    expect(meta).toMatchObject({ contextId: decoding.id, contextPress: 'DecodingPress' });
    // Every compressionInterval forwards each head is cut to targetSize, so it ends within [target, target + interval − 1].
    expect(meta.kvSlotsMin as number).toBeGreaterThanOrEqual(targetSize);
    expect(meta.kvSlotsMax as number).toBeLessThanOrEqual(targetSize + compressionInterval - 1);

    // The same request on the uncompressed context: its cache holds every token (the last one is still pending).
    const plain = await ask(uncompressed.id);
    const grown = presskvMeta(plain);
    expect(grown).toMatchObject({ contextPress: 'none', kvSlotsMin: grown.kvSlotsMax });
    expect(grown.kvSlotsMin as number).toBeGreaterThanOrEqual(decoding.tokensBefore + plain.usage.outputTokens! - 1);
    // The stored context itself is unchanged by its requests.
    expect((await provider.getContext(decoding.id)).bytes).toBe(decoding.bytes);
  });

  it('providerOptions.presskv.press compresses the context part once; later calls with the same context and press read it', async () => {
    const log = 'Ship log: day one calm seas, day two fog near the cape, day three a pod of dolphins off the bow. '.repeat(6);
    const press = { name: 'knorm', compressionRatio: 0.5 };
    const ask = (prompt: string, p: unknown = press) => ({ system: log, prompt, maxOutputTokens: 6, temperature: 0, maxRetries: 0, providerOptions: { presskv: { press: p as never } } }) as const;
    await expect(generateText({ model: provider(modelPath), ...ask('When was the fog?', { name: 'no-such-press' }) })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    const first = await generateText({ model: provider(modelPath), ...ask('When was the fog?') });
    const meta = presskvMeta(first);
    const n = meta.tokensBefore as number;
    expect(n).toBeGreaterThan(100);
    expect(meta.tokensAfter as number).toBeLessThanOrEqual(Math.ceil(n * 0.5) + 1);
    expect(first.usage.inputTokenDetails).toMatchObject({ cacheWriteTokens: n, cacheReadTokens: 0 });
    expect(await provider.getContext(meta.contextId as string)).toMatchObject({ compressed: true, press: { name: 'KnormPress', compressionRatio: 0.5 } });
    const second = await generateText({ model: provider(modelPath), ...ask('What swam by?') });
    expect(presskvMeta(second).contextId).toBe(meta.contextId);
    expect(second.usage.inputTokenDetails).toMatchObject({ cacheWriteTokens: 0, cacheReadTokens: n });
    // A TypeScript scorer works too (keyed by the function; the store has no cacheDir): called once per layer, on the first call only.
    let scored = 0;
    const score = (layer: CustomScorerLayer) => {
      scored++;
      // Keep the most recent tokens of every head: score = position.
      return Float32Array.from({ length: layer.nKvHeads * layer.n }, (_, i) => layer.positions[i]!);
    };
    const scorer = new CustomScorerPress({ compressionRatio: 0.5, score });
    const viaScorer = await generateText({ model: provider(modelPath), ...ask('When was the fog?', scorer) });
    const layersScored = scored;
    expect(layersScored).toBeGreaterThan(0);
    expect(presskvMeta(viaScorer).tokensAfter as number).toBeLessThanOrEqual(Math.ceil(n * 0.5) + 1);
    expect(presskvMeta(viaScorer).contextId).not.toBe(meta.contextId);
    const again = await generateText({ model: provider(modelPath), ...ask('What swam by?', scorer) });
    expect(again.usage.inputTokenDetails.cacheReadTokens).toBe(n);
    expect(scored).toBe(layersScored);
    // No context part: nothing to compress, and the call says so.
    const bare = await generateText({ model: provider(modelPath), prompt: 'Hello', maxOutputTokens: 3, temperature: 0, providerOptions: { presskv: { press } } });
    expect(bare.warnings?.some((w) => w.type === 'other' && /nothing was compressed/.test(w.message))).toBe(true);
  });

  it('persists contexts in contextStore.cacheDir: a new provider answers from the file identically', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'presskv-provider-context-'));
    const ask = { prompt: 'What does Ines log?', maxOutputTokens: 8, temperature: 0 };
    try {
      const before = createPressKV({ threads: 1, contextStore: { cacheDir: dir } });
      const stored = await before.cacheContext({ model: modelPath, context: doc, ttl: 0 });
      const first = await generateText({ model: before(modelPath), ...ask, providerOptions: { presskv: { contextId: stored.id } } });
      before.dispose();

      const after = createPressKV({ threads: 1, contextStore: { cacheDir: dir } });
      try {
        await expect(after.getContext(stored.id)).rejects.toThrow(/no model is loaded yet/);
        expect(await after.getContext(stored.id, { model: modelPath })).toMatchObject({ id: stored.id, tokensBefore: stored.tokensBefore, persisted: true });
        const again = await generateText({ model: after(modelPath), ...ask, providerOptions: { presskv: { contextId: stored.id } } });
        expect(again.text).toBe(first.text);
        expect(presskvMeta(again).cacheHit).toBe(false);
        // Brought back from its file by this call: a cache write, as a hosted provider reports an expired cache.
        expect(again.usage.inputTokenDetails).toMatchObject({ cacheReadTokens: 0, cacheWriteTokens: stored.tokensBefore });
        const third = await generateText({ model: after(modelPath), ...ask, providerOptions: { presskv: { contextId: stored.id } } });
        expect(third.text).toBe(first.text);
        expect(third.usage.inputTokenDetails).toMatchObject({ cacheReadTokens: stored.tokensBefore, cacheWriteTokens: 0 });
      } finally {
        after.dispose();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('checks its settings', () => {
    expect(() => createPressKV({ contextStore: { maxByte: 1 } as never })).toThrow(/unknown contextStore setting "maxByte"/);
    return expect(provider.cacheContext({ context: doc } as never)).rejects.toThrow(/needs `model`/);
  });
});

describe('cacheBreakpoint marks and automatic reuse', () => {
  const notes = 'Harbour log: the ferry Alba leaves at six, the trawler Mira returns at noon, the pilot boat waits by the red buoy. '.repeat(6);
  const conversation = (question: string, mark: boolean): ModelMessage[] => [
    { role: 'system', content: notes, ...(mark ? { providerOptions: { presskv: { cacheBreakpoint: true } } } : {}) },
    { role: 'user', content: question },
  ];

  it('stores the marked part on the first call (cacheWrite) and reads it on later calls, marked or not', async () => {
    const ask = { maxOutputTokens: 8, temperature: 0, allowSystemInMessages: true };
    const questions = ['When does the ferry leave?', 'Which boat waits by the buoy?'];
    const plain = await Promise.all(questions.map((q) => generateText({ model: reference(modelPath), messages: conversation(q, false), ...ask })));

    const first = await generateText({ model: provider(modelPath), messages: conversation(questions[0]!, true), ...ask });
    const n = presskvMeta(first).tokensBefore as number;
    expect(n).toBeGreaterThan(100);
    expect(first.text).toBe(plain[0]!.text);
    // As hosted providers report prompt caching: total = noCache + cacheRead + cacheWrite.
    expect(first.usage.inputTokens).toBe(plain[0]!.usage.inputTokens);
    expect(first.usage.inputTokenDetails).toMatchObject({ cacheWriteTokens: n, cacheReadTokens: 0, noCacheTokens: plain[0]!.usage.inputTokens! - n });

    const second = await generateText({ model: provider(modelPath), messages: conversation(questions[1]!, true), ...ask });
    expect(second.text).toBe(plain[1]!.text);
    expect(second.usage.inputTokenDetails).toMatchObject({ cacheWriteTokens: 0, cacheReadTokens: n });
    expect(presskvMeta(second).contextId).toBe(presskvMeta(first).contextId);

    // Unmarked: the part before the final user message is the same stored context, so it is read (never written).
    const auto = await generateText({ model: provider(modelPath), messages: conversation(questions[1]!, false), ...ask });
    expect(auto.text).toBe(plain[1]!.text);
    expect(auto.usage.inputTokenDetails).toMatchObject({ cacheWriteTokens: 0, cacheReadTokens: n });

    // An unmarked context part nobody stored runs as a plain call and stores nothing.
    const before = (await provider.listContexts()).length;
    const other = await generateText({ model: provider(modelPath), system: 'Nothing stored here.', prompt: 'Hi', ...ask });
    expect(other.usage.inputTokenDetails).toMatchObject({ cacheWriteTokens: 0, cacheReadTokens: 0 });
    expect(presskvMeta(other).contextId).toBeUndefined();
    expect((await provider.listContexts()).length).toBe(before);
  });

  it('a part marked compress: true ends the context too (a conversation prefix with an assistant turn)', async () => {
    const manual = 'Manual: press the green button twice to start, hold the blue one to stop, never touch the red lever. '.repeat(5);
    const chat = (question: string, mark: boolean): ModelMessage[] => [
      { role: 'user', content: [{ type: 'text', text: manual, ...(mark ? { providerOptions: { presskv: { compress: true } } } : {}) }] },
      { role: 'assistant', content: 'Understood.' },
      { role: 'user', content: question },
    ];
    const ask = { maxOutputTokens: 8, temperature: 0 };
    const plain = await generateText({ model: reference(modelPath), messages: chat('How do I stop it?', false), ...ask });
    const first = await generateText({ model: provider(modelPath), messages: chat('How do I start it?', true), ...ask });
    const n = presskvMeta(first).tokensBefore as number;
    expect(first.usage.inputTokenDetails).toMatchObject({ cacheWriteTokens: n, cacheReadTokens: 0 });
    const second = await generateText({ model: provider(modelPath), messages: chat('How do I stop it?', true), ...ask });
    expect(second.text).toBe(plain.text);
    expect(second.usage.inputTokenDetails).toMatchObject({ cacheWriteTokens: 0, cacheReadTokens: n });
    // The stored context is the first user message alone: the assistant turn after the mark is part of the question.
    expect(n).toBeLessThan(plain.usage.inputTokens! - 5);
  });

  it('runs JSON output on the whole prompt and says why the context was not used', async () => {
    const result = await provider(modelPath).doGenerate({
      prompt: [
        { role: 'system', content: notes, providerOptions: { presskv: { cacheBreakpoint: true } } },
        { role: 'user', content: [{ type: 'text', text: 'Give JSON.' }] },
      ],
      responseFormat: { type: 'json' },
      maxOutputTokens: 6,
      temperature: 0,
    });
    expect(result.usage.inputTokens).toMatchObject({ cacheRead: 0, cacheWrite: 0 });
    expect(result.providerMetadata!.presskv).toMatchObject({ contextId: expect.stringMatching(/^ctx_/), cacheHit: false, cacheSkipped: expect.stringMatching(/constrained/) });
    // A marked context first seen by a call that cannot use it is not stored (nothing was written).
    const fresh = `${notes} Addendum: the lighthouse is closed.`;
    const skipped = await provider(modelPath).doGenerate({
      prompt: [
        { role: 'system', content: fresh, providerOptions: { presskv: { cacheBreakpoint: true } } },
        { role: 'user', content: [{ type: 'text', text: 'Give JSON.' }] },
      ],
      responseFormat: { type: 'json' },
      maxOutputTokens: 4,
      temperature: 0,
    });
    const id = skipped.providerMetadata!.presskv!.contextId as string;
    await expect(provider.getContext(id)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });
});

describe('contextCacheMiddleware on the provider', () => {
  it('writes the context on the first call and reads it after, with the same answers as without the cache', async () => {
    const context = 'Recipe: two eggs, a cup of flour, a pinch of salt, milk until smooth, rest ten minutes. '.repeat(6);
    const store = await provider.contextStore(modelPath);
    const model = wrapLanguageModel({ model: provider(modelPath), middleware: contextCacheMiddleware({ store, context }) });
    const ask = { prompt: 'How many eggs?', maxOutputTokens: 8, temperature: 0 };
    const plain = await generateText({ model: reference(modelPath), system: context, ...ask });
    const first = await generateText({ model, ...ask });
    const n = presskvMeta(first).tokensBefore as number;
    expect(first.text).toBe(plain.text);
    expect(first.usage.inputTokenDetails).toMatchObject({ cacheWriteTokens: n, cacheReadTokens: 0 });
    const streamed = streamText({ model, ...ask });
    let text = '';
    for await (const delta of streamed.textStream) text += delta;
    expect(text).toBe(plain.text);
    expect((await streamed.usage).inputTokenDetails).toMatchObject({ cacheWriteTokens: 0, cacheReadTokens: n });
    // The same context is visible to the provider: a contextId call reads it too.
    const byId = await generateText({ model: provider(modelPath), ...ask, providerOptions: { presskv: { contextId: presskvMeta(first).contextId as string } } });
    expect(byId.text).toBe(plain.text);
    expect(byId.usage.inputTokenDetails.cacheReadTokens).toBe(n);
  });
});

const storiesPath = fileURLToPath(new URL('../../shared/models/stories260K.gguf', import.meta.url));
const haveStories = existsSync(storiesPath);
if (!haveStories) console.warn(`provider-context: ${storiesPath} is absent, skipping the stories260K cases`);

describe.skipIf(!haveStories)('stored contexts on stories260K (no chat template: raw text)', () => {
  const story = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her dog.';
  const ask = { prompt: 'One day, Lily', maxOutputTokens: 16, temperature: 0 };

  it('contextId and contextCacheMiddleware give the plain answers with cacheRead = context tokens', async () => {
    const stored = await provider.cacheContext({ model: storiesPath, context: story });
    const plain = await generateText({ model: reference(storiesPath), system: story, ...ask });
    expect(plain.text.length).toBeGreaterThan(0);
    const byId = await generateText({ model: provider(storiesPath), ...ask, providerOptions: { presskv: { contextId: stored.id } } });
    expect(byId.text).toBe(plain.text);
    expect(byId.usage.inputTokenDetails).toMatchObject({ cacheReadTokens: stored.tokensBefore, cacheWriteTokens: 0 });

    const model = wrapLanguageModel({ model: provider(storiesPath), middleware: contextCacheMiddleware({ store: await provider.contextStore(storiesPath), context: story }) });
    const streamed = streamText({ model, ...ask });
    let text = '';
    for await (const delta of streamed.textStream) text += delta;
    expect(text).toBe(plain.text);
    expect((await streamed.usage).inputTokenDetails.cacheReadTokens).toBe(stored.tokensBefore);
  });
});
