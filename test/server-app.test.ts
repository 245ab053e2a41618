// createPressKVApp on its own, without a listening server: built from a provider and a model id (the model
// loads on the first request), mounted under a prefix in another Hono app, options checked up front.
import { Hono } from 'hono';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../engine/errors.js';
import { createPressKV } from '../provider/create-presskv.js';
import { createPressKVApp } from '../server/app.js';
import { tinyModelPath } from './helpers/tiny-models.js';

const provider = createPressKV({ threads: 1 });
afterAll(() => provider.dispose());

describe('createPressKVApp', () => {
  it('serves a provider model mounted under a prefix of the host app', async () => {
    const modelId = await tinyModelPath({ arch: 'qwen2', format: 'gguf' });
    const host = new Hono();
    host.get('/', (c) => c.text('my app'));
    host.route('/llm', createPressKVApp({ provider, modelId, modelName: 'tiny', apiKey: 'k' }));
    const auth = { authorization: 'Bearer k', 'content-type': 'application/json' };

    expect(await (await host.request('/')).text()).toBe('my app');
    expect((await host.request('/llm/v1/models')).status).toBe(401);
    const models = (await (await host.request('/llm/v1/models', { headers: auth })).json()) as { data: Array<{ id: string }> };
    expect(models.data.map((m) => m.id)).toEqual(['tiny']);

    const chat = await host.request('/llm/v1/chat/completions', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hello' }], max_tokens: 4, temperature: 0, ignore_eos: true }),
    });
    const body = (await chat.json()) as { usage: { completion_tokens: number }; choices: Array<{ finish_reason: string }> };
    expect(body.usage.completion_tokens).toBe(4);
    expect(body.choices[0]!.finish_reason).toBe('length');
    expect((await host.request('/llm/v1/nothing', { headers: auth })).status).toBe(404);
  });

  it('refuses incomplete or invalid options', () => {
    expect(() => createPressKVApp({})).toThrow(InvalidArgumentError);
    expect(() => createPressKVApp({ provider })).toThrow(/a model, or a provider and a modelId/);
    expect(() => createPressKVApp({ provider, modelId: 'x.gguf', apiKey: '' })).toThrow(/apiKey/);
    expect(() => createPressKVApp({ provider, modelId: 'x.gguf', maxBodyBytes: 0 })).toThrow(/maxBodyBytes/);
  });
});
