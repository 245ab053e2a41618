// One context-call pipeline (issue 12 point 2): the same scenario — the first call stores the context, the next
// ones reuse it; without and with a press; generateText and streamText from `ai` — driven through
// contextCacheMiddleware({ store }) (the middleware answers from the store it was given), through
// contextCacheMiddleware without a store (the provider stores and reuses), and through the provider alone
// (a marked prompt, providerOptions.presskv.press). Every way must give the same text (greedy), the same usage
// and the same providerMetadata.presskv (keys and values; timings only as numbers), on the real stories260K.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateText, streamText, wrapLanguageModel, type LanguageModel, type ModelMessage } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextCacheMiddleware } from '../middleware/context-cache-middleware.js';
import { createPressKV, type PressKVProvider } from '../provider/create-presskv.js';

(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;

const storiesPath = fileURLToPath(new URL('../../shared/models/stories260K.gguf', import.meta.url));
const haveStories = existsSync(storiesPath);
if (!haveStories) console.warn(`context-call-pipeline: ${storiesPath} is absent, skipping`);

const context = 'Once upon a time, there was a little girl named Lily. She had a red ball and a big dog called Max. '.repeat(3);
const questions = ['One day, Lily', 'Max liked to', 'One day, Lily'];
const ask = { maxOutputTokens: 10, temperature: 0 };
const TIMINGS = ['prefillMs', 'decodeMs', 'prefillTokensPerSecond', 'decodeTokensPerSecond'];

/** Where the context comes from: the middleware's `context`, or the prompt's system message (marked or not). */
type Source = 'context' | 'marked prompt' | 'unmarked prompt';
type Way = 'middleware with store' | 'middleware without store' | 'provider alone';
const WAYS: Way[] = ['middleware with store', 'middleware without store', 'provider alone'];
const PRESSES: (Knorm | undefined)[] = [undefined, { name: 'knorm', compressionRatio: 0.25 }];
type Knorm = { name: string; compressionRatio: number };

interface Answer {
  text: string;
  usage: unknown;
  presskv: Record<string, unknown>;
}

/** providerMetadata.presskv with the timings (which differ run to run) checked as numbers and left out. */
function comparable(presskv: Record<string, unknown> | undefined): Record<string, unknown> {
  expect(presskv).toBeDefined();
  const rest = { ...presskv };
  for (const key of TIMINGS) {
    expect(typeof rest[key]).toBe('number');
    delete rest[key];
  }
  return rest;
}

describe.skipIf(!haveStories)('one context-call pipeline: middleware with a store, without, and the provider alone agree', () => {
  const providers: PressKVProvider[] = [];
  let reference: PressKVProvider;
  beforeAll(() => {
    reference = createPressKV({ threads: 1 });
  });
  afterAll(() => {
    for (const p of providers) p.dispose();
    reference?.dispose();
  });

  /** A fresh provider (so nothing is stored yet) and the model each way calls, with the messages of one call. */
  async function setUp(way: Way, press: Knorm | undefined, source: Source) {
    const provider = createPressKV({ threads: 1 });
    providers.push(provider);
    const inPrompt = source !== 'context';
    // Unmarked, the middlewares take the part before the final user message as the context (and store it).
    const mark = source === 'marked prompt' ? { providerOptions: { presskv: { cacheBreakpoint: true } } } : {};
    const messagesOf = (question: string): ModelMessage[] => [
      ...(inPrompt ? [{ role: 'system' as const, content: context, ...mark }] : []),
      { role: 'user' as const, content: question },
    ];
    const settings = { ...(inPrompt ? {} : { context }), ...(press ? { press } : {}) };
    let model: LanguageModel;
    let providerOptions: Record<string, Record<string, never>> | undefined;
    if (way === 'middleware with store') {
      const store = await provider.contextStore(storiesPath);
      model = wrapLanguageModel({ model: provider(storiesPath), middleware: contextCacheMiddleware({ store, ...settings }) });
    } else if (way === 'middleware without store') {
      model = wrapLanguageModel({ model: provider(storiesPath), middleware: contextCacheMiddleware(settings) });
    } else {
      model = provider(storiesPath);
      providerOptions = press ? { presskv: { press: press as never } } : undefined;
    }
    // The provider alone stores a marked context part (the middlewares put the context there from `context`).
    const own = way === 'provider alone' && source !== 'marked prompt';
    const callMessages = (question: string): ModelMessage[] =>
      own ? [{ role: 'system', content: context, providerOptions: { presskv: { cacheBreakpoint: true } } }, { role: 'user', content: question }] : messagesOf(question);
    return { model, providerOptions, callMessages };
  }

  async function run(way: Way, press: Knorm | undefined, source: Source, streamFirst: boolean): Promise<Answer[]> {
    const { model, providerOptions, callMessages } = await setUp(way, press, source);
    const answers: Answer[] = [];
    for (const [i, question] of questions.entries()) {
      const call = { model, messages: callMessages(question), allowSystemInMessages: true, providerOptions, ...ask };
      // Alternate generateText and streamText; streamFirst swaps which one stores the context.
      if ((i % 2 === 0) === streamFirst) {
        const streamed = streamText(call);
        let text = '';
        for await (const delta of streamed.textStream) text += delta;
        answers.push({ text, usage: await streamed.usage, presskv: (await streamed.providerMetadata)!.presskv as Record<string, unknown> });
      } else {
        const result = await generateText(call);
        answers.push({ text: result.text, usage: result.usage, presskv: result.providerMetadata!.presskv as Record<string, unknown> });
      }
    }
    return answers;
  }

  describe.each(PRESSES.map((press) => ({ press, label: press ? `press ${press.name}` : 'no press' })))('$label', ({ press }) => {
    it.each([
      { source: 'context' as const, streamFirst: false },
      { source: 'context' as const, streamFirst: true },
      { source: 'marked prompt' as const, streamFirst: false },
      { source: 'unmarked prompt' as const, streamFirst: true },
    ])('first call stores, later calls reuse ($source, stream first: $streamFirst): same text, usage and metadata every way', async ({ source, streamFirst }) => {
      const byWay = new Map<Way, Answer[]>();
      for (const way of WAYS) byWay.set(way, await run(way, press, source, streamFirst));
      const [first, ...others] = WAYS.map((way) => byWay.get(way)!);

      // What the first way reports, checked against the scenario itself.
      const plain = await Promise.all(questions.map((prompt) => generateText({ model: reference(storiesPath), system: context, prompt, ...ask })));
      const n = first![0]!.presskv.tokensBefore as number;
      expect(n).toBeGreaterThan(50);
      first!.forEach((answer, i) => {
        const total = plain[i]!.usage.inputTokens!;
        const read = i === 0 ? 0 : n;
        const written = i === 0 ? n : 0;
        expect(answer.usage).toMatchObject({
          inputTokens: total,
          inputTokenDetails: { noCacheTokens: total - n, cacheReadTokens: read, cacheWriteTokens: written },
        });
        expect(answer.presskv).toMatchObject({
          contextId: first![0]!.presskv.contextId,
          contextPress: press ? 'KnormPress' : 'none',
          tokensBefore: n,
          tokensAfter: press ? n - Math.floor(n * 0.25) : n,
          compressed: press !== undefined,
          cacheHit: true,
          bytes: expect.any(Number),
        });
        if (!press) {
          expect(answer.text).toBe(plain[i]!.text);
          expect((answer.usage as { outputTokens: number }).outputTokens).toBe(plain[i]!.usage.outputTokens);
        }
        expect(answer.text.length).toBeGreaterThan(0);
      });
      // The same question twice (calls 0 and 2): the same answer, read the second time.
      expect(first![2]!.text).toBe(first![0]!.text);

      // Every other way: the very same text, usage and metadata.
      for (const answers of others) {
        answers.forEach((answer, i) => {
          expect(answer.text).toBe(first![i]!.text);
          expect(answer.usage).toEqual(first![i]!.usage);
          expect(comparable(answer.presskv)).toEqual(comparable(first![i]!.presskv));
        });
      }
    });
  });
});
