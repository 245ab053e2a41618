// `presskv serve` as a user runs it: a child process that prints where it listens (--json), enforces its
// API key, serves the OpenAI routes, and exits 0 on SIGTERM. Bad flags are usage errors (exit 2).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tinyModelPath } from './helpers/tiny-models.js';

const bin = fileURLToPath(new URL('../bin/presskv.js', import.meta.url));

function run(args: string[]) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PRESSKV_API_KEY: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return { child, out: () => stdout, err: () => stderr };
}

describe('presskv serve', () => {
  it('serves the model on an ephemeral port with bearer auth and stops cleanly on SIGTERM', async () => {
    const modelPath = await tinyModelPath({ arch: 'qwen3', format: 'gguf' });
    const proc = run(['serve', '--model', modelPath, '--port', '0', '--api-key', 'cli-key', '--threads', '1', '--json']);
    try {
      const start = Date.now();
      while (!proc.out().includes('\n')) {
        if (proc.child.exitCode !== null) throw new Error(`serve exited early: ${proc.err()}`);
        if (Date.now() - start > 60_000) throw new Error(`serve did not start: ${proc.err()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const info = JSON.parse(proc.out().split('\n')[0]!) as { url: string; host: string; model: string; auth: boolean };
      expect(info).toMatchObject({ host: '127.0.0.1', model: 'model', auth: true });
      expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${info.url}/v1/models`)).status).toBe(401);
      const models = await fetch(`${info.url}/v1/models`, { headers: { authorization: 'Bearer cli-key' } });
      expect(((await models.json()) as { data: Array<{ id: string }> }).data[0]!.id).toBe('model');
      const chat = await fetch(`${info.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer cli-key', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, ignore_eos: true }),
      });
      expect(((await chat.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(3);
      proc.child.kill('SIGTERM');
      const [code] = await once(proc.child, 'exit');
      expect(code).toBe(0);
    } finally {
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    }
  });

  it('reports a missing --model or a bad port as a usage error (exit 2)', async () => {
    const missing = run(['serve', '--port', '0']);
    expect((await once(missing.child, 'exit'))[0]).toBe(2);
    expect(missing.err()).toMatch(/--model is required/);
    const badPort = run(['serve', '--model', 'x.gguf', '--port', '99999']);
    expect((await once(badPort.child, 'exit'))[0]).toBe(2);
    expect(badPort.err()).toMatch(/--port must be at most 65535/);
  });
});
