// contextCacheMiddleware with the AI SDK: a context stored once answers generateText / streamText exactly as
// the same prompt without the middleware does, reports cacheWrite on the storing call and cacheRead after,
// and fills providerMetadata.presskv; contextId names a context stored with cacheContext.
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContextStore } from '../engine/context-store.js';
import { cacheContext } from '../provider/cache-context.js';
import { contextPartOf } from '../provider/context-part.js';
import { contextCacheMiddleware } from '../middleware/context-cache-middleware.js';
import { createPressKV, type PressKVProvider } from '../provider/create-presskv.js';
import { tinyModelPath } from './helpers/tiny-models.js';

(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;

let provider: PressKVProvider;
let modelPath: string;
let store: ContextStore;
const doc = 'Marta grew tomatoes, beans and tall yellow sunflowers behind the old mill. '.repeat(10);

beforeAll(async () => {
  modelPath = await tinyModelPath({ arch: 'qwen3', format: 'gguf' });
  provider = createPressKV({ threads: 1 });
  store = new ContextStore(await provider.loadModel(modelPath));
});
afterAll(async () => {
  await store?.dispose();
  provider?.dispose();
});

describe('contextCacheMiddleware', () => {
  it('answers as the plain model does with the context in the prompt, writing the cache once and reading it after', async () => {
    const plain = provider(modelPath);
    const cached = wrapLanguageModel({ model: plain, middleware: contextCacheMiddleware({ store, context: doc }) });
    const ask = { prompt: 'What grew behind the mill?', maxOutputTokens: 10, temperature: 0 };

    const reference = await generateText({ model: plain, system: doc, ...ask });
    const first = await generateText({ model: cached, ...ask });
    const second = await generateText({ model: cached, ...ask });
    expect(reference.text.length).toBeGreaterThan(0);
    expect(first.text).toBe(reference.text);
    expect(second.text).toBe(reference.text);
    expect(first.usage.inputTokens).toBe(reference.usage.inputTokens);

    const meta = first.providerMetadata!.presskv as Record<string, unknown>;
    const n = meta.tokensBefore as number;
    expect(n).toBeGreaterThan(100);
    expect(meta).toMatchObject({ contextId: expect.stringMatching(/^ctx_/), tokensAfter: n, cacheHit: true, compressed: false });
    // Hosted prompt caching: total = noCache + cacheRead + cacheWrite, noCache being the question either way.
    expect(first.usage.inputTokenDetails).toMatchObject({ cacheWriteTokens: n, cacheReadTokens: 0, noCacheTokens: reference.usage.inputTokens! - n });
    expect(second.usage.inputTokenDetails).toMatchObject({ cacheWriteTokens: 0, cacheReadTokens: n, noCacheTokens: reference.usage.inputTokens! - n });
  });

  it('streams the same text, with the presskv metadata on finish', async () => {
    const cached = wrapLanguageModel({ model: provider(modelPath), middleware: contextCacheMiddleware({ store, context: doc }) });
    const ask = { prompt: 'Tell me about the sunflowers.', maxOutputTokens: 12, temperature: 0 };
    const whole = await generateText({ model: cached, ...ask });
    const streamed = streamText({ model: cached, ...ask });
    const deltas: string[] = [];
    for await (const delta of streamed.textStream) deltas.push(delta);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(whole.text);
    expect(((await streamed.providerMetadata)!.presskv as Record<string, unknown>).contextId).toBe((whole.providerMetadata!.presskv as Record<string, unknown>).contextId);
    expect((await streamed.usage).inputTokenDetails.cacheReadTokens).toBeGreaterThan(0);
  });

  it('uses a context stored with cacheContext by id', async () => {
    const stored = await cacheContext(store, { messages: [{ role: 'system', content: 'You answer about rivers. The Loire is long.' }], name: 'rivers' });
    expect(stored).toMatchObject({ name: 'rivers', created: true, tokensAfter: stored.tokensBefore });
    const byId = wrapLanguageModel({ model: provider(modelPath), middleware: contextCacheMiddleware({ store, contextId: stored.id }) });
    const ask = { prompt: 'Which river is long?', maxOutputTokens: 8, temperature: 0 };
    const result = await generateText({ model: byId, ...ask });
    const reference = await generateText({ model: provider(modelPath), system: 'You answer about rivers. The Loire is long.', ...ask });
    expect(result.text).toBe(reference.text);
    expect((result.providerMetadata!.presskv as Record<string, unknown>).contextId).toBe(stored.id);
    expect(result.usage.inputTokenDetails.cacheReadTokens).toBe(stored.tokensBefore);
  });

  it('without context or contextId, stores each prompt\'s context part (cache breakpoint, else before the final user message) and reuses it', async () => {
    const plain = provider(modelPath);
    const auto = wrapLanguageModel({ model: plain, middleware: contextCacheMiddleware({ store }) });
    const manual = 'Rule 1: always greet. Rule 2: be brief. Rule 3: mention the weather. '.repeat(6);
    const promptFor = (question: string) => [
      { role: 'system' as const, content: manual, providerOptions: { presskv: { cacheBreakpoint: true } } },
      { role: 'user' as const, content: question },
    ];
    const first = await generateText({ model: auto, messages: promptFor('Hello?'), maxOutputTokens: 8, temperature: 0 });
    const second = await generateText({ model: auto, messages: promptFor('What about rule 3?'), maxOutputTokens: 8, temperature: 0 });
    const reference = await generateText({ model: plain, messages: promptFor('What about rule 3?'), maxOutputTokens: 8, temperature: 0 });
    expect(second.text).toBe(reference.text);
    const id = (first.providerMetadata!.presskv as Record<string, unknown>).contextId;
    expect((second.providerMetadata!.presskv as Record<string, unknown>).contextId).toBe(id);
    const n = (first.providerMetadata!.presskv as Record<string, unknown>).tokensBefore as number;
    expect(first.usage.inputTokenDetails.cacheWriteTokens).toBe(n);
    expect(second.usage.inputTokenDetails.cacheReadTokens).toBe(n);
    // Without a mark, everything before the final user message is the context; a lone user message has none.
    const lone = await generateText({ model: auto, prompt: 'Just this.', maxOutputTokens: 4, temperature: 0 });
    expect(lone.usage.inputTokenDetails.cacheReadTokens ?? 0).toBe(0);
    expect((lone.providerMetadata?.presskv as Record<string, unknown> | undefined)?.contextId).toBeUndefined();
  });

  it('splits a prompt as DESIGN.md §5 says: the last breakpoint (message or part) wins, else before the final user message', () => {
    const sys = { role: 'system' as const, content: 'S' };
    const user = (text: string, mark = false) => ({
      role: 'user' as const,
      content: [{ type: 'text' as const, text, ...(mark ? { providerOptions: { presskv: { compress: true } } } : {}) }],
    });
    const assistant = { role: 'assistant' as const, content: [{ type: 'text' as const, text: 'A' }] };
    const marked = { ...sys, providerOptions: { presskv: { cacheBreakpoint: true } } };
    expect(contextPartOf([marked, user('a'), assistant, user('q')])).toEqual([marked]);
    expect(contextPartOf([sys, user('a', true), assistant, user('q')])).toEqual([sys, user('a', true)]);
    expect(contextPartOf([sys, user('a'), assistant, user('q')])).toEqual([sys, user('a'), assistant]);
    expect(contextPartOf([user('q')])).toEqual([]);
  });

  it('without a store, shapes the call for the provider, which stores and reuses the context itself', async () => {
    const own = createPressKV({ threads: 1 });
    try {
      const ask = { prompt: 'What grew behind the mill?', maxOutputTokens: 8, temperature: 0 };
      const cached = wrapLanguageModel({ model: own(modelPath), middleware: contextCacheMiddleware({ context: doc }) });
      const reference = await generateText({ model: own(modelPath), system: doc, ...ask });
      const first = await generateText({ model: cached, ...ask });
      const second = await generateText({ model: cached, ...ask });
      expect(second.text).toBe(reference.text);
      const id = (first.providerMetadata!.presskv as Record<string, unknown>).contextId;
      expect(id).toMatch(/^ctx_/);
      expect((second.providerMetadata!.presskv as Record<string, unknown>).contextId).toBe(id);
      expect(first.usage.inputTokenDetails.cacheWriteTokens).toBeGreaterThan(0);
      expect(second.usage.inputTokenDetails.cacheReadTokens).toBeGreaterThan(0);

      const stored = await own.cacheContext({ model: modelPath, context: 'You answer about rivers. The Loire is long.' });
      const byId = wrapLanguageModel({ model: own(modelPath), middleware: contextCacheMiddleware({ contextId: stored.id }) });
      const answer = await generateText({ model: byId, prompt: 'Which river is long?', maxOutputTokens: 6, temperature: 0 });
      expect(answer.usage.inputTokenDetails.cacheReadTokens).toBe(stored.tokensBefore);
      expect(() => contextCacheMiddleware({ context: doc, ttlSeconds: 5 })).toThrow(/needs `store`/);
    } finally {
      own.dispose();
    }
  });

  it('rejects a doubled context and an unknown id with clear errors', async () => {
    expect(() => contextCacheMiddleware({ store, context: 'a', contextId: 'b' })).toThrow(/not both/);
    const unknown = wrapLanguageModel({ model: provider(modelPath), middleware: contextCacheMiddleware({ store, contextId: `ctx_${'f'.repeat(32)}` }) });
    await expect(generateText({ model: unknown, prompt: 'x', maxOutputTokens: 2 })).rejects.toThrow(/No stored context has the id/);
  });
});
