// pressMiddleware with the AI SDK: the context part of the prompt is compressed by the press (once per
// context: further questions reuse the compressed cache), the question never is; generateText and
// streamText both work; providerOptions.presskv.press picks the press per call; bad presses are typed errors.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Session } from '../engine/session.js';
import type { Model } from '../engine/model.js';
import { pressMiddleware } from '../middleware/press-middleware.js';
import { buildChatPrompt } from '../provider/chat-prompt.js';
import { renderContext } from '../server/chat-prompt-split.js';
import { PressContextStore } from '../middleware/press-context-store.js';
import { createPressKV, type PressKVProvider } from '../provider/create-presskv.js';
import { tinyModelPath } from './helpers/tiny-models.js';

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
    const questionIds = (q: string) => {
      const full = buildChatPrompt(engine, { messages: [{ role: 'system', content: context }, { role: 'user', content: q }] }).text;
      const contextText = renderContext(engine, [{ role: 'system', content: context }]).text;
      expect(full.startsWith(contextText)).toBe(true);
      return engine.tokenizer.encode(full.slice(contextText.length), { addSpecialTokens: false });
    };
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
