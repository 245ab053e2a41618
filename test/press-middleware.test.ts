// pressMiddleware with the AI SDK: the context part of the prompt is compressed by the press (once per
// context: further questions reuse the compressed cache), the question never is — except by the query-aware
// FinchPress, which compresses context + question together, its window the question, once per question;
// generateText and streamText both work; providerOptions.presskv.press picks the press per call (through the
// middleware or the provider alone); bad presses are typed errors.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Session } from '../engine/session.js';
import { ContextStore } from '../engine/context-store.js';
import { contextFilePath, readContextFile } from '../engine/context-file.js';
import type { Model } from '../engine/model.js';
import { pressMiddleware } from '../middleware/press-middleware.js';
import { buildChatPrompt } from '../provider/chat-prompt.js';
import { renderContext } from '../provider/context-prompt.js';
import { PressContextStore } from '../provider/press-context-store.js';
import { createPressKV, type PressKVProvider } from '../provider/create-presskv.js';
import { tinyModelPath } from './helpers/tiny-models.js';
import { parseKvPayload } from './helpers/kv-payload.js';

(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;

const storiesPath = fileURLToPath(new URL('../../shared/models/stories260K.gguf', import.meta.url));
const haveStories = existsSync(storiesPath);
if (!haveStories) console.warn(`press-middleware: stories260K tests skipped, ${storiesPath} is absent`);

const STORY =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her dog Max. ' +
  'One day, Lily saw a big red ball under a tree. She wanted to play with it, but the ball was stuck. ';

// Counts the compressions the engine runs (every compressed context is one prefillContext with a press).
let compressions = 0;
const original = Session.prototype.prefillContext;
Session.prototype.prefillContext = function (this: Session, ...args: Parameters<typeof original>) {
  if (args[1]?.press !== undefined) compressions++;
  return original.apply(this, args);
};
afterAll(() => {
  Session.prototype.prefillContext = original;
});

/**
 * The question's token ids as the call pipeline splits the prompt (the middleware and the provider alike): the
 * whole prompt's tokens after the context's, which start it.
 */
function questionIdsOf(engine: Model, system: string, question: string): number[] {
  const full = buildChatPrompt(engine, { messages: [{ role: 'system', content: system }, { role: 'user', content: question }] });
  const context = renderContext(engine, [{ role: 'system', content: system }]);
  expect(full.tokenIds.slice(0, context.tokenIds.length)).toEqual(context.tokenIds);
  return full.tokenIds.slice(context.tokenIds.length);
}

describe.skipIf(!haveStories)('pressMiddleware on stories260K', () => {
  let provider: PressKVProvider;
  let engine: Model;
  let store: PressContextStore;
  beforeAll(async () => {
    provider = createPressKV({ threads: 1 });
    engine = await provider.loadModel(storiesPath);
    store = new PressContextStore(engine);
  });
  afterAll(async () => {
    await store?.dispose();
    provider?.dispose();
  });

  it('compresses the context once for two questions, never the question, and answers as the engine does', async () => {
    const model = wrapLanguageModel({
      model: provider(storiesPath),
      middleware: pressMiddleware({ press: { name: 'snapkv', compressionRatio: 0.5, windowSize: 16 }, store }),
    });
    const context = STORY.repeat(4);
    const ask = { system: context, maxOutputTokens: 8, temperature: 0 };
    const before = compressions;
    const first = await generateText({ model, prompt: 'Lily said', ...ask });
    const second = await generateText({ model, prompt: 'The dog', ...ask });
    expect(compressions - before).toBe(1);

    const meta = first.providerMetadata!.presskv as Record<string, number | string | boolean>;
    const n = meta.tokensBefore as number;
    const { nLayers, nKvHeads } = engine.info.config;
    expect(n).toBeGreaterThan(100);
    expect(meta.press).toBe('SnapKVPress');
    // tokensAfter: slots kept per (layer, kv-head), exactly those of the context alone at 0.5 — the question's
    // tokens were not in the press's input.
    expect(meta.tokensAfter).toBe(n - Math.floor(n * 0.5));
    expect(meta.bytesAfter).toBe(meta.bytes);
    expect(second.providerMetadata!.presskv).toMatchObject({ contextId: meta.contextId, tokensAfter: meta.tokensAfter });
    expect(second.usage.inputTokenDetails.cacheReadTokens).toBe(n);
    // Every question token was prefilled on top of the compressed context.
    const questionIds = (q: string) => questionIdsOf(engine, context, q);
    expect(second.usage.inputTokens).toBe(n + questionIds('The dog').length);

    // The same answer as compressing the context alone on a session and generating the question after it.
    const direct = engine.createSession();
    const contextIds = renderContext(engine, [{ role: 'system', content: context }]).tokenIds;
    expect(contextIds.length).toBe(n);
    const stats = await direct.prefillContext(contextIds, { press: { name: 'snapkv', compressionRatio: 0.5, windowSize: 16 } });
    expect(stats.lengths).toEqual(Array(nLayers * nKvHeads).fill(meta.tokensAfter));
    const answer = await direct.generate(questionIds('Lily said'), { maxTokens: 8, temperature: 0 });
    await direct.dispose();
    expect(first.text).toBe(answer.text);
  });

  it('streamText reuses the compressed context and reports it on finish', async () => {
    const model = wrapLanguageModel({
      model: provider(storiesPath),
      middleware: pressMiddleware({ press: { name: 'knorm', compressionRatio: 0.25 }, store }),
    });
    const ask = { system: STORY.repeat(3), prompt: 'Max', maxOutputTokens: 8, temperature: 0 };
    const whole = await generateText({ model, ...ask });
    const before = compressions;
    const streamed = streamText({ model, ...ask });
    let text = '';
    for await (const delta of streamed.textStream) text += delta;
    expect(compressions).toBe(before);
    expect(text).toBe(whole.text);
    expect((await streamed.providerMetadata)!.presskv).toMatchObject({ press: 'KnormPress', cacheHit: true });
  });
});

describe.skipIf(!haveStories)('FinchPress through the AI SDK on stories260K: query-aware (kvpress §2.3)', () => {
  let provider: PressKVProvider;
  let engine: Model;
  let store: PressContextStore;
  const context = STORY.repeat(4);
  const ask = { system: context, maxOutputTokens: 8, temperature: 0 };
  let contextIds: number[];
  /** The engine's own plan (as `presskv generate` runs it): context + question prefilled with the question as the window, nothing fed after. */
  const directAnswer = async (question: number[], press: Record<string, unknown>) => {
    const session = engine.createSession();
    try {
      const stats = await session.prefillContext([...contextIds, ...question], { press: { ...press, name: 'finch', windowSize: question.length } });
      const answer = await session.generate([], { maxTokens: 8, temperature: 0 });
      return { lengths: stats.lengths, text: answer.text };
    } finally {
      await session.dispose();
    }
  };
  beforeAll(async () => {
    provider = createPressKV({ threads: 1 });
    engine = await provider.loadModel(storiesPath);
    store = new PressContextStore(engine);
    contextIds = renderContext(engine, [{ role: 'system', content: context }]).tokenIds;
  });
  afterAll(async () => {
    await store?.dispose();
    provider?.dispose();
  });

  it('generateText with pressMiddleware: every (layer, kv-head) keeps floor((n_ctx + q)(1 − r)) slots, the q question tokens among them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'presskv-finch-'));
    const fileStore = new ContextStore(engine, { cacheDir: dir });
    try {
      // Keys keep their original positions (no rerotation), so the stored cache shows which tokens were kept.
      const press = { name: 'finch', compressionRatio: 0.5, rerotateKeys: false };
      const model = wrapLanguageModel({ model: provider(storiesPath), middleware: pressMiddleware({ press, store: fileStore }) });
      const question = questionIdsOf(engine, context, 'Lily said');
      const nCtx = contextIds.length;
      const n = nCtx + question.length;
      const kept = Math.floor(n * 0.5);
      expect(question.length).toBeGreaterThan(2);
      expect(kept).toBeGreaterThan(question.length);
      const result = await generateText({ model, prompt: 'Lily said', ...ask });
      const meta = result.providerMetadata!.presskv as Record<string, number | string | boolean>;
      expect(meta).toMatchObject({ press: 'FinchPress', tokensBefore: n, tokensAfter: kept });
      expect(result.usage.inputTokens).toBe(n);

      const file = await readContextFile(contextFilePath(dir, meta.contextId as string));
      expect(file.tokenIds).toEqual([...contextIds, ...question]);
      expect(file.header.press).toMatchObject({ name: 'FinchPress', compressionRatio: 0.5, windowSize: question.length });
      const { nLayers, nKvHeads } = engine.info.config;
      expect(file.header.lengths).toEqual(Array(nLayers * nKvHeads).fill(kept));
      const payload = parseKvPayload(file.kv!);
      expect(payload.heads).toHaveLength(nLayers * nKvHeads);
      for (const head of payload.heads) {
        const positions = new Set(head.positions);
        expect(positions.size).toBe(kept);
        for (let i = 0; i < question.length; i++) expect(positions.has(nCtx + i)).toBe(true);
        expect(head.positions.filter((p) => p < nCtx)).toHaveLength(kept - question.length);
      }
      const direct = await directAnswer(question, press);
      expect(direct.lengths).toEqual(file.header.lengths);
      expect(result.text).toBe(direct.text);
    } finally {
      await fileStore.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two questions get their own compressed contexts; the same question again, by streamText, reuses its own', async () => {
    const press = { name: 'finch', compressionRatio: 0.5 };
    const model = wrapLanguageModel({ model: provider(storiesPath), middleware: pressMiddleware({ press, store }) });
    const before = compressions;
    const lily = await generateText({ model, prompt: 'Lily said', ...ask });
    const dog = await generateText({ model, prompt: 'The dog was', ...ask });
    expect(compressions - before).toBe(2);
    const metaOf = (r: { providerMetadata?: Record<string, unknown> }) => r.providerMetadata!.presskv as Record<string, number | string | boolean>;
    expect(metaOf(dog).contextId).not.toBe(metaOf(lily).contextId);
    for (const [result, q] of [[lily, 'Lily said'], [dog, 'The dog was']] as const) {
      const question = questionIdsOf(engine, context, q);
      const n = contextIds.length + question.length;
      expect(metaOf(result)).toMatchObject({ tokensBefore: n, tokensAfter: Math.floor(n * 0.5), cacheHit: true });
      expect(result.usage.inputTokenDetails.cacheWriteTokens).toBe(n);
    }

    const streamed = streamText({ model, prompt: 'Lily said', ...ask });
    let text = '';
    for await (const delta of streamed.textStream) text += delta;
    expect(compressions - before).toBe(2);
    expect(text).toBe(lily.text);
    expect((await streamed.providerMetadata)!.presskv).toMatchObject({ press: 'FinchPress', contextId: metaOf(lily).contextId, cacheHit: true });
    expect((await streamed.usage).inputTokenDetails.cacheReadTokens).toBe(metaOf(lily).tokensBefore);
    // Each answer is the one its own question's compression gives.
    expect(lily.text).toBe((await directAnswer(questionIdsOf(engine, context, 'Lily said'), press)).text);
    expect(dog.text).toBe((await directAnswer(questionIdsOf(engine, context, 'The dog was'), press)).text);
  });

  it('at compression ratio 0 the answer is the uncompressed one: the question is neither lost nor fed twice', async () => {
    const model = wrapLanguageModel({ model: provider(storiesPath), middleware: pressMiddleware({ press: { name: 'finch', compressionRatio: 0 }, store }) });
    const question = questionIdsOf(engine, context, 'Max');
    const plain = await engine.generate([...contextIds, ...question], { maxTokens: 8, temperature: 0 });
    const pressed = await generateText({ model, prompt: 'Max', ...ask });
    expect(pressed.providerMetadata!.presskv).toMatchObject({ press: 'FinchPress', tokensBefore: contextIds.length + question.length });
    expect(pressed.text).toBe(plain.text);
  });

  it('providerOptions.presskv.press on the provider alone is query-aware too; its stored context cannot be named as a context id', async () => {
    const press = { name: 'finch', compressionRatio: 0.5 };
    const model = provider(storiesPath);
    const call = (prompt: string) => generateText({ model, prompt, ...ask, providerOptions: { presskv: { press } } });
    const lily = await call('Lily said');
    const dog = await call('The dog was');
    const meta = lily.providerMetadata!.presskv as Record<string, number | string>;
    const question = questionIdsOf(engine, context, 'Lily said');
    const n = contextIds.length + question.length;
    expect(meta).toMatchObject({ tokensBefore: n, tokensAfter: Math.floor(n * 0.5) });
    expect(lily.usage.inputTokenDetails.cacheWriteTokens).toBe(n);
    expect(dog.providerMetadata!.presskv!.contextId).not.toBe(meta.contextId);
    expect(lily.text).toBe((await directAnswer(question, press)).text);
    const again = await call('Lily said');
    expect(again.providerMetadata!.presskv).toMatchObject({ contextId: meta.contextId, cacheHit: true });
    expect(again.usage.inputTokenDetails.cacheReadTokens).toBe(n);
    expect(again.text).toBe(lily.text);
    // A call on the same context with another question and no press finds no stored context to reuse: the ones
    // stored are the context with one question each.
    const other = await generateText({ model, prompt: 'Max', ...ask });
    expect(other.providerMetadata!.presskv!.contextId).toBeUndefined();
    expect(other.usage.inputTokenDetails.cacheReadTokens ?? 0).toBe(0);
    await expect(
      generateText({ model, prompt: 'Max', maxOutputTokens: 2, providerOptions: { presskv: { contextId: meta.contextId as string } } }),
    ).rejects.toThrow(/no context messages .*query-aware press such as FinchPress/);
  });
});

describe('pressMiddleware on a tiny make-model model', () => {
  let provider: PressKVProvider;
  let modelPath: string;
  beforeAll(async () => {
    modelPath = await tinyModelPath({ arch: 'qwen3', format: 'gguf' });
    provider = createPressKV({ threads: 1 });
  });
  afterAll(() => provider?.dispose());
  afterEach(() => undefined);

  it('providerOptions.presskv.press picks the press for one call; a call without a press passes through', async () => {
    const engine = await provider.loadModel(modelPath);
    const model = wrapLanguageModel({ model: provider(modelPath), middleware: pressMiddleware({ store: engine }) });
    const doc = 'Marta grew tomatoes, beans and tall yellow sunflowers behind the old mill. '.repeat(8);
    const plain = await generateText({ model, system: doc, prompt: 'What grew there?', maxOutputTokens: 6, temperature: 0 });
    expect(plain.providerMetadata?.presskv?.press).toBeUndefined();
    const before = compressions;
    const pressed = await generateText({
      model,
      system: doc,
      prompt: 'What grew there?',
      maxOutputTokens: 6,
      temperature: 0,
      providerOptions: { presskv: { press: { name: 'expected-attention', compressionRatio: 0.5 } } },
    });
    expect(compressions - before).toBe(1);
    const meta = pressed.providerMetadata!.presskv as Record<string, number | string>;
    expect(meta.press).toBe('ExpectedAttentionPress');
    const n = meta.tokensBefore as number;
    expect(n).toBeGreaterThan(100);
    expect(meta.tokensAfter).toBe(n - Math.floor(n * 0.5));
  });

  it('a bad press is a typed error: at construction, or for the call that names it', async () => {
    const engine = await provider.loadModel(modelPath);
    expect(() => pressMiddleware({ press: { name: 'snapkv', compressionRatio: 1 }, store: engine })).toThrow(/compressionRatio/);
    const model = wrapLanguageModel({ model: provider(modelPath), middleware: pressMiddleware({ store: engine }) });
    await expect(
      generateText({ model, system: 'A long document. '.repeat(20), prompt: 'Hi', maxOutputTokens: 2, providerOptions: { presskv: { press: 'no-such-press' } } }),
    ).rejects.toThrow(/unknown press "no-such-press"/);
  });
});
