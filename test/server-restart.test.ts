// Restart over HTTP: a context created on a server with a cache dir survives the server's restart and
// answers identically; after a byte of its file is flipped, the restarted server refuses it with a clear
// error and stays healthy.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../server/serve.js';
import { tinyModelPath } from './helpers/tiny-models.js';

const dirs: string[] = [];
let running: RunningServer | undefined;
afterAll(async () => {
  await running?.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function start(modelPath: string, cacheDir: string): Promise<{ server: RunningServer; client: OpenAI }> {
  running = await startServer({ model: modelPath, port: 0, cacheDir, load: { threads: 1 } });
  return { server: running, client: new OpenAI({ baseURL: `${running.url}/v1`, apiKey: 'unused', maxRetries: 0 }) };
}

describe('presskv server restart with --cache-dir', () => {
  it('a compressed context answers identically after a restart, and refuses a damaged context file while staying healthy', async () => {
    const modelPath = await tinyModelPath({ arch: 'qwen3', format: 'gguf' });
    const cacheDir = await mkdtemp(join(tmpdir(), 'presskv-serve-'));
    dirs.push(cacheDir);
    const ask = (client: OpenAI, contextId: string) =>
      client.chat.completions.create({
        model: 'model',
        messages: [{ role: 'user', content: 'Which colour was the door?' }],
        max_tokens: 12,
        temperature: 0,
        ignore_eos: true,
        context_id: contextId,
      } as never as OpenAI.ChatCompletionCreateParamsNonStreaming);

    let { server, client } = await start(modelPath, cacheDir);
    const created = await client.post<{ id: string; persisted: boolean; tokens_before: number; tokens_after: number; compressed: boolean; bytes: number }>('/contexts', {
      body: { content: 'The house at the end of the lane had a green door and a red roof. '.repeat(6), ttl_seconds: 3600, press: { name: 'snapkv', compression_ratio: 0.5 } },
    });
    expect(created).toMatchObject({ persisted: true, compressed: true });
    expect(created.tokens_after).toBeLessThan(created.tokens_before);
    const before = await ask(client, created.id);
    await server.close();

    ({ server, client } = await start(modelPath, cacheDir));
    const listed = await client.get<{ data: Array<{ id: string; resident: boolean }> }>('/contexts');
    expect(listed.data).toEqual([expect.objectContaining({ id: created.id, resident: false, compressed: true, tokens_after: created.tokens_after })]);
    const after = await ask(client, created.id);
    // Loaded from its saved KV state: the same compressed cache, not a new prefill.
    expect((await client.get<{ bytes: number; resident: boolean }>(`/contexts/${created.id}`)).bytes).toBe(created.bytes);
    expect(after.choices[0]!.message.content).toBe(before.choices[0]!.message.content);
    expect(after.usage).toEqual(before.usage);
    await server.close();

    const file = join(cacheDir, `${created.id}.pkvctx`);
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length * 0.75)] ^= 0x20;
    await writeFile(file, bytes);

    ({ server, client } = await start(modelPath, cacheDir));
    const refused = await fetch(`${server.url}/v1/contexts/${created.id}`);
    expect(refused.status).toBe(422);
    const body = (await refused.json()) as { error: { message: string; code: string } };
    expect(body.error.code).toBe('context_file_unusable');
    expect(body.error.message).toMatch(/damaged: its checksum does not match/);
    await expect(ask(client, created.id)).rejects.toMatchObject({ status: 422 });
    // Healthy: other requests are served as before.
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const plain = await client.chat.completions.create({ model: 'model', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4 });
    expect(plain.choices).toHaveLength(1);
    const fresh = await client.post<{ id: string }>('/contexts', { body: { content: 'Another document.' } });
    expect((await ask(client, fresh.id)).usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThan(0);
  });
});
