// response_format on POST /v1/chat/completions over HTTP with the official `openai` client: json_object
// answers parse as JSON objects/arrays, json_schema answers validate against their schema (streamed or not),
// and the combinations presskv cannot honour are 400s that leave the server usable.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateJson } from '../engine/constrained/validate-json.js';
import { startServer, type RunningServer } from '../server/serve.js';
import { tinyModelPath } from './helpers/tiny-models.js';

let server: RunningServer;
let client: OpenAI;

beforeAll(async () => {
  server = await startServer({ model: await tinyModelPath({ arch: 'qwen3', format: 'gguf' }), port: 0, load: { threads: 1 } });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
});

const nameSchema = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'], additionalProperties: false };
const ask = { model: 'model', messages: [{ role: 'user' as const, content: 'Who are you? Answer in JSON.' }], max_tokens: 48 };

describe('response_format', () => {
  it('json_object: the answer is a JSON object or array, at several seeds', async () => {
    for (const seed of [1, 2, 3]) {
      const completion = await client.chat.completions.create({ ...ask, seed, temperature: 1, response_format: { type: 'json_object' } });
      const content = completion.choices[0]!.message.content!;
      // The random tiny model writes garbage when free; only the grammar makes this parse.
      const value: unknown = JSON.parse(content);
      expect(typeof value).toBe('object');
      expect(value).not.toBeNull();
      expect(completion.choices[0]!.finish_reason).toBe('stop');
    }
  });

  it('free text from the same model is not JSON (the test above could fail)', async () => {
    const completion = await client.chat.completions.create({ ...ask, seed: 1, temperature: 1 });
    expect(() => JSON.parse(completion.choices[0]!.message.content!)).toThrow();
  });

  it('json_schema: the answer validates against the schema, streamed or not', async () => {
    const response_format = { type: 'json_schema' as const, json_schema: { name: 'person', schema: nameSchema, strict: true } };
    const completion = await client.chat.completions.create({ ...ask, seed: 7, temperature: 1, response_format });
    const value: unknown = JSON.parse(completion.choices[0]!.message.content!);
    expect(validateJson(value, nameSchema)).toBeNull();
    expect(typeof (value as { name: unknown }).name).toBe('string');

    const stream = await client.chat.completions.create({ ...ask, seed: 8, temperature: 1, response_format, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(validateJson(JSON.parse(text), nameSchema)).toBeNull();
  });

  it('refuses what it cannot honour with a 400 naming response_format, and keeps serving', async () => {
    const unknownType = client.chat.completions.create({ ...ask, response_format: { type: 'yaml' } as never });
    await expect(unknownType).rejects.toMatchObject({ status: 400, type: 'invalid_request_error', param: expect.stringContaining('response_format') });

    const badSchema = client.chat.completions.create({ ...ask, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', $ref: '#/nowhere' } } } });
    await expect(badSchema).rejects.toMatchObject({ status: 400, param: 'response_format' });

    const ctx = await client.post<{ id: string }>('/contexts', { body: { content: 'A short note about cats.' } });
    const withContext = client.chat.completions.create({ ...ask, context_id: ctx.id, response_format: { type: 'json_object' } } as never);
    await expect(withContext).rejects.toMatchObject({ status: 400, param: 'response_format', code: 'unsupported_parameter' });

    const after = await client.chat.completions.create({ ...ask, max_tokens: 3 });
    expect(after.choices[0]!.message.content).toEqual(expect.any(String));
  });
});
