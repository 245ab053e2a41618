// contextCacheMiddleware without a store, end to end through the presskv provider: the middleware only puts
// the context (or its id) into each call, the provider stores and reuses it. With ai 6 generateText and
// streamText, on a tiny generated model and on stories260K: the first call writes the context's tokens, later
// calls read them, and every answer equals the same prompt run without any cache (greedy).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextCacheMiddleware } from '../middleware/context-cache-middleware.js';
import { createPressKV, type PressKVProvider } from '../provider/create-presskv.js';
import { tinyModelPath } from './helpers/tiny-models.js';

(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;

const presskvMeta = (r: { providerMetadata?: Record<string, unknown> }) => r.providerMetadata!.presskv as Record<string, unknown>;
const storiesPath = fileURLToPath(new URL('../../shared/models/stories260K.gguf', import.meta.url));
const haveStories = existsSync(storiesPath);
if (!haveStories) console.warn(`provider-context-middleware: ${storiesPath} is absent, skipping the stories260K case`);

let provider: PressKVProvider;
let reference: PressKVProvider;
let tinyPath: string;

beforeAll(async () => {
  tinyPath = await tinyModelPath({ arch: 'llama', format: 'gguf' });
  provider = createPressKV({ threads: 1 });
  reference = createPressKV({ threads: 1 });
});
afterAll(() => {
  provider?.dispose();
  reference?.dispose();
});

async function streamed(result: ReturnType<typeof streamText>): Promise<string> {
  let text = '';
  for await (const delta of result.textStream) text += delta;
  return text;
}

const cases = [
  {
    name: 'a tiny generated llama',
    path: () => tinyPath,
    context: 'Station notes: platform two serves the coast line, platform five the mountain line, trains every twenty minutes. '.repeat(5),
    questions: ['Which platform serves the coast?', 'How often do trains run?'],
    skip: false,
  },
  {
    name: 'stories260K (raw text)',
    path: () => storiesPath,
    context: 'Once upon a time, there was a little boy named Tom. He had a red ball and a big dog called Max.',
    questions: ['One day, Tom', 'Max liked to'],
    skip: !haveStories,
  },
];

describe.each(cases)('contextCacheMiddleware({ context }) through the provider on $name', ({ path, context, questions, skip }) => {
  it.skipIf(skip)('writes the context once, reads it after, answers as the full prompt does (generateText and streamText)', async () => {
    const model = wrapLanguageModel({ model: provider(path()), middleware: contextCacheMiddleware({ context }) });
    const ask = { maxOutputTokens: 12, temperature: 0 };
    const plain = await Promise.all(questions.map((prompt) => generateText({ model: reference(path()), system: context, prompt, ...ask })));
    expect(plain[0]!.text.length).toBeGreaterThan(0);

    const first = await generateText({ model, prompt: questions[0]!, ...ask });
    const n = presskvMeta(first).tokensBefore as number;
    expect(n).toBeGreaterThan(10);
    expect(first.text).toBe(plain[0]!.text);
    expect(first.usage.inputTokens).toBe(plain[0]!.usage.inputTokens);
    expect(first.usage.inputTokenDetails).toMatchObject({ cacheWriteTokens: n, cacheReadTokens: 0 });

    const second = streamText({ model, prompt: questions[1]!, ...ask });
    expect(await streamed(second)).toBe(plain[1]!.text);
    expect((await second.usage).inputTokenDetails).toMatchObject({ cacheWriteTokens: 0, cacheReadTokens: n });
    const meta = (await second.providerMetadata)!.presskv as Record<string, unknown>;
    expect(meta).toMatchObject({ contextId: presskvMeta(first).contextId, tokensBefore: n, tokensAfter: n, cacheHit: true, bytes: expect.any(Number) });
  });

  it.skipIf(skip)('contextCacheMiddleware({ contextId }) reads a context stored with provider.cacheContext', async () => {
    const stored = await provider.cacheContext({ model: path(), context: `${context} The end.` });
    const model = wrapLanguageModel({ model: provider(path()), middleware: contextCacheMiddleware({ contextId: stored.id }) });
    const ask = { prompt: questions[0]!, maxOutputTokens: 12, temperature: 0 };
    const plain = await generateText({ model: reference(path()), system: `${context} The end.`, ...ask });
    const viaId = await generateText({ model, ...ask });
    expect(viaId.text).toBe(plain.text);
    expect(viaId.usage.inputTokenDetails).toMatchObject({ cacheWriteTokens: 0, cacheReadTokens: stored.tokensBefore });
    const s = streamText({ model, ...ask });
    expect(await streamed(s)).toBe(plain.text);
    expect(((await s.providerMetadata)!.presskv as Record<string, unknown>).contextId).toBe(stored.id);
  });
});
