// presskv inside your own Hono app: the OpenAI-compatible routes mounted under /llm, and an app route
// (/ask) that streams an answer about a stored document with the AI SDK. Runs a self-check and exits, or
// keeps serving with --keep-running.
// `node dist/examples/hono-route.js <model.gguf|hf-dir|org/name> [--keep-running]` (or PRESSKV_MODEL=<path>).
import { serve } from '@hono/node-server';
import { streamText, wrapLanguageModel } from 'ai';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
// In an app: import { ... } from 'presskv';
import { ContextStore, contextCacheMiddleware, createPressKV, createPressKVApp } from '../index.js';

const modelPath = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? process.env.PRESSKV_MODEL;
if (!modelPath) {
  console.error('usage: hono-route <model path or org/name> [--keep-running]');
  process.exit(2);
}

const provider = createPressKV({ threads: 2 });
const engine = await provider.loadModel(modelPath);
const store = new ContextStore(engine, { maxBytes: 256 * 1024 * 1024 });
const handbook = 'Opening hours: 9 to 17 on weekdays. Returns are accepted within 30 days with a receipt. '.repeat(8);
const assistant = wrapLanguageModel({ model: provider(modelPath), middleware: contextCacheMiddleware({ store, context: handbook }) });

const app = new Hono();
// OpenAI-compatible: POST /llm/v1/chat/completions, GET /llm/v1/models, /llm/v1/contexts.
app.route('/llm', createPressKVApp({ model: engine, store, modelName: 'local' }));
app.post('/ask', async (c) => {
  const { question } = await c.req.json<{ question: string }>();
  const result = streamText({ model: assistant, prompt: question, maxOutputTokens: 32, temperature: 0, abortSignal: c.req.raw.signal });
  return result.toTextStreamResponse();
});

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 0), hostname: '127.0.0.1' }, async (info: AddressInfo) => {
  const base = `http://127.0.0.1:${info.port}`;
  console.log(`listening on ${base} (POST /ask, OpenAI routes under /llm/v1)`);
  if (process.argv.includes('--keep-running')) return;
  const models = (await (await fetch(`${base}/llm/v1/models`)).json()) as { data: Array<{ id: string }> };
  console.log(`models: ${models.data.map((m) => m.id).join(', ')}`);
  const answer = await (await fetch(`${base}/ask`, { method: 'POST', body: JSON.stringify({ question: 'When can I return things?' }) })).text();
  console.log(`ask: ${answer}`);
  server.close();
  await store.dispose();
  provider.dispose();
});
