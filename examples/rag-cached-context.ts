// Compress once, ask many times: one long document is prefilled — compressed by a press — into a context
// store once; every question then prefills only itself. Prints each answer and the time and memory saved.
// `node dist/examples/rag-cached-context.js <model.gguf|hf-dir|org/name> [document.txt]` (or PRESSKV_MODEL=<path>).
import { readFile } from 'node:fs/promises';
import { generateText, wrapLanguageModel } from 'ai';
// In an app: import { ... } from 'presskv';
import { cacheContext, ContextStore, contextCacheMiddleware, createPressKV } from '../index.js';

const modelPath = process.argv[2] ?? process.env.PRESSKV_MODEL;
if (!modelPath) {
  console.error('usage: rag-cached-context <model path or org/name> [document.txt]');
  process.exit(2);
}
const document = process.argv[3]
  ? await readFile(process.argv[3], 'utf8')
  : Array.from({ length: 40 }, (_, i) => `Entry ${i + 1}: the ${['red', 'blue', 'green', 'amber'][i % 4]} crate on shelf ${i + 3} holds ${i * 7 + 5} apples.`).join('\n');
const questions = ['Which crate holds the most apples?', 'What is on shelf 7?', 'How many apples are in entry 12?', 'Which colours do the crates have?'];
const settings = { maxOutputTokens: 24, temperature: 0 };

const provider = createPressKV({ threads: 2 });
const plain = provider(modelPath);
const store = new ContextStore(await provider.loadModel(modelPath));

// The usual way: the whole document is prefilled again for every question.
let started = performance.now();
const baseline = await generateText({ model: plain, system: document, prompt: questions[0]!, ...settings });
const fullPrefillMs = performance.now() - started;
const fullKvBytes = Number((baseline.providerMetadata?.presskv as Record<string, unknown>).kvBytes);

// Once: store the document, compressed (SnapKV keeps the half of each head's cache the last window attends to most).
started = performance.now();
const context = await cacheContext(store, { context: document, press: { name: 'snapkv', compressionRatio: 0.5 }, name: 'crates' });
const storeMs = performance.now() - started;
console.log(
  `stored context ${context.id}: ${context.tokensBefore} tokens → ${context.tokensAfter} kept per head` +
    `${context.compressed ? '' : ' (this engine build does not compress during prefill yet: kept whole)'}, ${context.bytes} bytes of KV, ${storeMs.toFixed(0)} ms`,
);

// Many times: each question prefills only its own tokens.
const model = wrapLanguageModel({ model: plain, middleware: contextCacheMiddleware({ store, contextId: context.id }) });
let cachedMs = 0;
for (const [i, question] of questions.entries()) {
  started = performance.now();
  const answer = await generateText({ model, prompt: question, ...settings });
  const ms = performance.now() - started;
  cachedMs += ms;
  const details = answer.usage.inputTokenDetails;
  console.log(`Q${i + 1}: ${question}\nA${i + 1}: ${answer.text.trim()}\n    ${ms.toFixed(0)} ms, prompt ${answer.usage.inputTokens} tokens of which ${details.cacheReadTokens} read from the stored context`);
}

const perQuestion = cachedMs / questions.length;
console.log(
  `saved: ${perQuestion.toFixed(0)} ms per question from the stored context vs ${fullPrefillMs.toFixed(0)} ms re-prefilling the document ` +
    `(${(fullPrefillMs - perQuestion).toFixed(0)} ms each); KV held between questions: ${context.bytes} bytes, ` +
    `vs ${fullKvBytes} bytes for each call that re-reads the whole document`,
);
await store.dispose();
provider.dispose();
