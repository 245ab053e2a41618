// The real presskv server over HTTP on 127.0.0.1, driven by the official `openai` client: streaming and
// non-streaming chat checked against the engine run directly, /v1/models, a context created through
// /v1/contexts and used by id (cached_tokens), 401 without the key, 400 on malformed bodies, 413 on a
// too-large body, a disconnect mid-stream that frees the request's KV memory, and eight concurrent
// greedy requests on one stored context that answer as the same requests run one by one.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../engine/chat-template.js';
import { renderContext, renderConversation, questionAfterContext } from '../provider/context-prompt.js';
import { startServer, type RunningServer } from '../server/serve.js';
import { tinyModelPath } from './helpers/tiny-models.js';

const API_KEY = 'test-key-123';
const MAX_BODY = 64 * 1024;

let server: RunningServer;
let client: OpenAI;
let modelName: string;

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}`, ...headers } });

beforeAll(async () => {
  const modelPath = await tinyModelPath({ arch: 'qwen3', format: 'gguf' });
  server = await startServer({ model: modelPath, port: 0, apiKey: API_KEY, maxBodyBytes: MAX_BODY, load: { threads: 1 } });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: API_KEY, maxRetries: 0 });
  modelName = (await client.models.list()).data[0]!.id;
});

afterAll(async () => {
  await server?.close();
});

describe('presskv server', () => {
  it('listens on 127.0.0.1 and lists the one model it was started with', async () => {
    expect(server.host).toBe('127.0.0.1');
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toEqual(['model']);
    expect((await client.models.retrieve('model')).owned_by).toBe('presskv');
  });

  it('answers a non-streaming chat exactly as the engine does for the same prompt', async () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'Tell me a story about a cat.' }];
    const completion = await client.chat.completions.create({ model: modelName, messages: messages as never, max_tokens: 12, temperature: 0 });
    const prompt = renderConversation(server.model, messages);
    const direct = await server.model.generate(prompt.tokenIds, { maxTokens: 12, temperature: 0 });
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe(modelName);
    expect(completion.choices[0]!.message.content).toBe(direct.text);
    expect(completion.choices[0]!.finish_reason).toBe(direct.finishReason === 'length' ? 'length' : 'stop');
    expect(completion.usage!.prompt_tokens).toBe(prompt.tokenIds.length);
    expect(completion.usage!.completion_tokens).toBe(direct.generatedTokenIds.length);
    expect(completion.usage!.total_tokens).toBe(prompt.tokenIds.length + direct.generatedTokenIds.length);
    expect(completion.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
  });

  it('streams chat.completion.chunk deltas that add up to the non-streaming answer, then a usage chunk', async () => {
    const request = { model: modelName, messages: [{ role: 'user' as const, content: 'Once upon a time' }], max_tokens: 20, temperature: 0, ignore_eos: true };
    const whole = await client.chat.completions.create(request as never as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const stream = await client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } } as never as OpenAI.ChatCompletionCreateParamsStreaming);
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0]!.id)).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(whole.choices[0]!.message.content);
    // Real streaming: one chunk per token with text (the tiny tokenizer has whole-byte tokens).
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThan(1);
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    expect(finish!.choices[0]!.finish_reason).toBe('length');
    const last = chunks[chunks.length - 1]!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: whole.usage!.prompt_tokens, completion_tokens: 20, total_tokens: whole.usage!.prompt_tokens + 20 });
  });

  it('creates a context through /v1/contexts, then answers by id with cached tokens, as the engine does on the whole prompt', async () => {
    const document = 'The lighthouse keeper counted ships every night. '.repeat(12);
    const created = await client.post<Record<string, unknown>>('/contexts', { body: { content: document, ttl_seconds: 600, name: 'lighthouse' } });
    expect(created).toMatchObject({ object: 'context', name: 'lighthouse', compressed: false });
    expect(created.id).toMatch(/^ctx_[0-9a-f]{32}$/);
    const contextMessages: ChatMessage[] = [{ role: 'system', content: document }];
    const rendered = renderContext(server.model, contextMessages);
    expect(created.tokens_before).toBe(rendered.tokenIds.length);
    expect(created.bytes).toBeGreaterThan(0);
    expect(created.expires_at).toBeGreaterThan(Date.now() / 1000 + 590);

    // Creating the same context again returns the stored one.
    const again = await client.post<Record<string, unknown>>('/contexts', { body: { content: document } });
    expect(again.id).toBe(created.id);

    const question: ChatMessage[] = [{ role: 'user', content: 'What did the keeper count?' }];
    const answer = await client.chat.completions.create({ model: modelName, messages: question as never, max_tokens: 10, temperature: 0, context_id: created.id } as never as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const questionIds = questionAfterContext(server.model, contextMessages, rendered.text, question);
    const direct = await server.model.generate([...rendered.tokenIds, ...questionIds], { maxTokens: 10, temperature: 0 });
    expect(answer.choices[0]!.message.content).toBe(direct.text);
    expect(answer.usage!.prompt_tokens).toBe(rendered.tokenIds.length + questionIds.length);
    // Every context token comes from the stored cache.
    expect(answer.usage!.prompt_tokens_details!.cached_tokens).toBe(rendered.tokenIds.length);

    const listed = await client.get<{ data: Array<{ id: string }> }>('/contexts');
    expect(listed.data.map((c) => c.id)).toContain(created.id);
    expect(await client.get<Record<string, unknown>>(`/contexts/${created.id}`)).toMatchObject({ id: created.id, tokens_before: created.tokens_before });
  });

  it('reuses a context stored with a press automatically: a plain chat starting with its document reads it, as context_id does', async () => {
    type Reply = OpenAI.ChatCompletion & { presskv: Record<string, unknown> };
    const document = 'The harbour master wrote down every boat that came in with fish, and the weight of the catch. '.repeat(8);
    const snapkv = await client.post<Record<string, unknown>>('/contexts', { body: { content: document, press: { name: 'snapkv', compression_ratio: 0.5 } } });
    expect(snapkv).toMatchObject({ compressed: true, press: { name: 'SnapKVPress', compressionRatio: 0.5 } });
    const n = snapkv.tokens_before as number;
    const question = { role: 'user' as const, content: 'Who wrote down the boats?' };
    const ask = (extra: Record<string, unknown>, messages: unknown[]) =>
      client.chat.completions.create({ model: modelName, messages, max_tokens: 10, temperature: 0, ...extra } as never as OpenAI.ChatCompletionCreateParamsNonStreaming) as unknown as Promise<Reply>;

    const byId = await ask({ context_id: snapkv.id }, [question]);
    const automatic = await ask({}, [{ role: 'system', content: document }, question]);
    expect(automatic.usage!.prompt_tokens_details!.cached_tokens).toBe(n);
    expect(automatic.usage!.prompt_tokens).toBe(byId.usage!.prompt_tokens);
    expect(automatic.choices[0]!.message.content).toBe(byId.choices[0]!.message.content);
    expect(automatic.presskv).toMatchObject({ context_id: snapkv.id, context_press: { name: 'SnapKVPress' }, tokens_before: n, tokens_after: snapkv.tokens_after });
    expect(snapkv.tokens_after as number).toBeLessThan(n);

    // The same document stored uncompressed too: the most recently used of the two answers.
    const plain = await client.post<Record<string, unknown>>('/contexts', { body: { content: document } });
    expect((await ask({}, [{ role: 'system', content: document }, question])).presskv).toMatchObject({ context_id: plain.id, context_press: null });
    await ask({ context_id: snapkv.id }, [question]);
    expect((await ask({}, [{ role: 'system', content: document }, question])).presskv).toMatchObject({ context_id: snapkv.id });
    await client.delete(`/contexts/${plain.id}`);
    await client.delete(`/contexts/${snapkv.id}`);
  });

  it('deletes a context; using or getting it afterwards is a 404', async () => {
    const created = await client.post<{ id: string }>('/contexts', { body: { content: [{ role: 'system', content: 'Short-lived notes.' }] } });
    expect(await client.delete(`/contexts/${created.id}`)).toEqual({ id: created.id, object: 'context.deleted', deleted: true });
    await expect(client.get(`/contexts/${created.id}`)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(
      client.chat.completions.create({ model: modelName, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, context_id: created.id } as never as OpenAI.ChatCompletionCreateParamsNonStreaming),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('validates press configs: an unknown press or a bad option is a 400 naming the problem', async () => {
    const unknown = client.post('/contexts', { body: { content: 'doc', press: { name: 'no-such-press' } } });
    await expect(unknown).rejects.toMatchObject({ status: 400, message: expect.stringContaining('unknown press') });
    const bad = client.post('/contexts', { body: { content: 'doc', press: { name: 'snapkv', compression_ratio: 1.5 } } });
    await expect(bad).rejects.toMatchObject({ status: 400, message: expect.stringContaining('compressionRatio') });
  });

  it('refuses requests without the right bearer token (401)', async () => {
    const wrong = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-the-key', maxRetries: 0 });
    await expect(wrong.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const none = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: '{}' });
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('answers malformed or invalid bodies with a 400 OpenAI-style error, and the server keeps working', async () => {
    const broken = await post('/v1/chat/completions', '{"model": "model", "messages": [');
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: { message: string } }).error.message).toMatch(/not valid JSON/);

    await expect(client.chat.completions.create({ model: modelName, messages: [] } as never)).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(
      client.chat.completions.create({ model: modelName, messages: [{ role: 'user', content: 'x' }], temperature: 'hot' } as never),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining('temperature') });
    await expect(client.post('/contexts', { body: { content: '' } })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    // The model is fixed at startup: a request naming another (a path) is refused, never loaded.
    await expect(
      client.chat.completions.create({ model: '/etc/passwd', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toMatchObject({ status: 404, code: 'model_not_found' });

    const tooBig = await post('/v1/contexts', JSON.stringify({ content: 'x'.repeat(MAX_BODY + 10) }));
    expect(tooBig.status).toBe(413);

    const ok = await client.chat.completions.create({ model: modelName, messages: [{ role: 'user', content: 'still there?' }], max_tokens: 3 });
    expect(ok.choices).toHaveLength(1);
  });

  it('a client that disconnects mid-stream stops its generation and frees its KV memory', async () => {
    await until(() => server.model.stats().pendingJobs === 0);
    const baseline = server.model.stats().kvBytesInUse;
    const response = await post(
      '/v1/chat/completions',
      JSON.stringify({ model: modelName, messages: [{ role: 'user', content: 'Talk for a long time.' }], max_tokens: 1900, ignore_eos: true, temperature: 0, stream: true }),
      {},
    );
    const reader = response.body!.getReader();
    let received = '';
    while (received.split('data: ').length < 6) received += new TextDecoder().decode((await reader.read()).value);
    // The request holds KV pages while it generates.
    expect(server.model.stats().kvBytesInUse).toBeGreaterThan(baseline);
    await reader.cancel();
    await until(() => server.model.stats().kvBytesInUse === baseline && server.model.stats().pendingJobs === 0);
    // It stopped long before its 1900 tokens: the worker is idle and the memory is back to where it was.
    expect(server.model.stats().kvBytesInUse).toBe(baseline);

    // The same on a stored context: the request's tail is freed, the context stays, and answers as before.
    const ctx = await client.post<{ id: string; bytes: number }>('/contexts', { body: { content: 'A long tale about a fox and a crow. '.repeat(5) } });
    const ask = { model: modelName, messages: [{ role: 'user', content: 'Go on.' }], max_tokens: 6, temperature: 0, context_id: ctx.id };
    const before = (await client.chat.completions.create(ask as never as OpenAI.ChatCompletionCreateParamsNonStreaming)).choices[0]!.message.content;
    const withContext = server.model.stats().kvBytesInUse;
    const streamed = await post('/v1/chat/completions', JSON.stringify({ ...ask, max_tokens: 1900, ignore_eos: true, stream: true }));
    const contextReader = streamed.body!.getReader();
    received = '';
    while (received.split('data: ').length < 6) received += new TextDecoder().decode((await contextReader.read()).value);
    expect(server.model.stats().kvBytesInUse).toBeGreaterThan(withContext);
    await contextReader.cancel();
    await until(() => server.model.stats().kvBytesInUse === withContext && server.model.stats().pendingJobs === 0);
    const after = (await client.chat.completions.create(ask as never as OpenAI.ChatCompletionCreateParamsNonStreaming)).choices[0]!.message.content;
    expect(after).toBe(before);
  });

  it('eight concurrent greedy requests on one compressed context answer as the same requests one by one, in one context of KV plus tails', async () => {
    const created = await client.post<{ id: string; bytes: number; compressed: boolean; tokens_before: number; tokens_after: number }>('/contexts', {
      body: { content: 'A small village had a baker, a smith and a painter who all loved the river. '.repeat(8), press: { name: 'snapkv', compression_ratio: 0.5 } },
    });
    // Really compressed: about half of each head's slots kept.
    expect(created.compressed).toBe(true);
    expect(created.tokens_after).toBeLessThanOrEqual(Math.ceil(created.tokens_before / 2) + 1);
    const questions = Array.from({ length: 8 }, (_, i) => `Question ${i + 1}: who loved the river most?${' Why?'.repeat(i)}`);
    const ask = (q: string) =>
      client.chat.completions.create({ model: modelName, messages: [{ role: 'user', content: q }], max_tokens: 16, temperature: 0, context_id: created.id } as never as OpenAI.ChatCompletionCreateParamsNonStreaming);

    const oneByOne: string[] = [];
    for (const q of questions) oneByOne.push((await ask(q)).choices[0]!.message.content!);

    await until(() => server.model.stats().pendingJobs === 0);
    const before = server.model.stats().kvBytesInUse;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, server.model.stats().kvBytesInUse)), 2);
    const together = await Promise.all(questions.map(ask));
    clearInterval(sampler);
    expect(together.map((r) => r.choices[0]!.message.content)).toEqual(oneByOne);
    for (const r of together) expect(r.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThan(0);

    // KV in use stays at the stored contexts plus at most eight private tails (question + answer each).
    const { nLayers, nKvHeads, headDim } = server.model.info.config;
    const pageTokens = 64;
    const pageBytes = nLayers * nKvHeads * headDim * 2 /* K and V */ * 2 /* f16 */ * pageTokens;
    const tailTokens = 1 + 40 + 16;
    const tailBound = (Math.ceil(tailTokens / pageTokens) + 1) * pageBytes;
    expect(peak).toBeLessThanOrEqual(before + 8 * tailBound);
    expect(server.model.stats().kvBytesInUse).toBe(before);
  });
});
