// Shutting the server down (what `presskv serve` does on SIGTERM: runServe's shutdown promise resolves, then
// RunningServer.close) while a stream is open: the stream ends with an OpenAI-style error event, which the
// official client raises as an APIError, instead of being cut with neither an error nor [DONE].
import OpenAI, { APIError } from 'openai';
import { describe, expect, it } from 'vitest';
import type { CommandIo } from '../cli/args.js';
import { runServe } from '../cli/serve.js';
import { startServer } from '../server/serve.js';
import { tinyModelPath } from './helpers/tiny-models.js';

const longAnswer = { model: 'model', messages: [{ role: 'user' as const, content: 'Talk for a long time.' }], max_tokens: 1900, ignore_eos: true, temperature: 0 };

describe('server shutdown with open streams', () => {
  it('the raw SSE stream ends with a server_shutting_down error event and no [DONE]', async () => {
    const server = await startServer({ model: await tinyModelPath({ arch: 'qwen3', format: 'gguf' }), port: 0, load: { threads: 1 } });
    let closing: Promise<void> | undefined;
    try {
      const response = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...longAnswer, stream: true }),
      });
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let received = '';
      while (received.split('data: ').length < 4) received += decoder.decode((await reader.read()).value);
      closing = server.close();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        received += decoder.decode(value);
      }
      const events = received.split('\n\n').filter(Boolean).map((frame) => frame.replace(/^data: /, ''));
      expect(events.at(-1)).not.toBe('[DONE]');
      expect(JSON.parse(events.at(-1)!)).toEqual({
        error: { message: expect.stringContaining('shutting down'), type: 'server_error', param: null, code: 'server_shutting_down' },
      });
      // It was cut mid-answer: far fewer chunks than the 1900 tokens asked for.
      expect(events.length).toBeLessThan(1900);
      await closing;
    } finally {
      await (closing ?? server.close());
    }
  });

  it('through the CLI shutdown path, the openai client stream throws an APIError', async () => {
    const out: string[] = [];
    let stop!: () => void;
    const shutdownSignal = new Promise<void>((resolve) => (stop = resolve));
    const serving = runServe(
      ['--model', await tinyModelPath({ arch: 'qwen3', format: 'gguf' }), '--port', '0', '--threads', '1', '--json'],
      { out: (line) => out.push(line), err: () => {} } satisfies CommandIo,
      shutdownSignal,
    );
    const start = Date.now();
    while (out.length === 0) {
      if (Date.now() - start > 60_000) throw new Error('serve did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    const { url } = JSON.parse(out[0]!) as { url: string };
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await client.chat.completions.create({ ...longAnswer, stream: true });
    let chunks = 0;
    const consumed = (async () => {
      for await (const _chunk of stream) if (++chunks === 3) stop();
    })();
    const error = await consumed.then(() => undefined, (err: unknown) => err);
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ type: 'server_error', code: 'server_shutting_down' });
    expect(await serving).toBe(0);

    // The server is gone: nothing listens on its port any more.
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});
