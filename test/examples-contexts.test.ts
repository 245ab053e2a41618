// The context examples run as users run them (compiled, in their own process) against a tiny model, so
// they never rot: rag-cached-context (compress once, many questions), hono-route (presskv in your own Hono
// app) and stream-chat (streaming chat over HTTP with the openai client and a stored context).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { tinyModelPath } from './helpers/tiny-models.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const script = (name: string) => path.join(repoRoot, 'dist', 'examples', `${name}.js`);

describe('context examples', () => {
  let model: string;
  beforeAll(async () => {
    model = await tinyModelPath({ arch: 'qwen3', format: 'gguf' });
  });

  it('rag-cached-context stores the document once and answers every question from it', async () => {
    const { stdout } = await run(process.execPath, [script('rag-cached-context'), model], { cwd: repoRoot });
    const stored = /stored context (ctx_[0-9a-f]{32}): (\d+) tokens → (\d+) kept per head.*?, (\d+) bytes of KV/.exec(stdout);
    expect(stored, stdout).not.toBeNull();
    const contextTokens = Number(stored![2]);
    expect(contextTokens).toBeGreaterThan(300);
    expect(Number(stored![3])).toBeLessThanOrEqual(contextTokens);
    const reads = [...stdout.matchAll(/of which (\d+) read from the stored context/g)].map((m) => Number(m[1]));
    expect(reads).toEqual([contextTokens, contextTokens, contextTokens, contextTokens]);
    const saved = /saved: (\d+) ms per question from the stored context vs (\d+) ms re-prefilling.*KV held between questions: (\d+) bytes, vs (\d+) bytes/.exec(stdout);
    expect(saved, stdout).not.toBeNull();
    expect(Number(saved![3])).toBe(Number(stored![4]));
    expect(Number(saved![4])).toBeGreaterThan(0);
  });

  it('hono-route mounts the OpenAI routes and streams an app route answer', async () => {
    const { stdout } = await run(process.execPath, [script('hono-route'), model], { cwd: repoRoot });
    expect(stdout).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(stdout).toContain('models: local');
    expect(stdout).toMatch(/ask: /);
  });

  it('stream-chat chats over HTTP with a stored context, two turns, each reading the context from cache', async () => {
    const { stdout, stderr } = await run(process.execPath, [script('stream-chat'), model], { cwd: repoRoot });
    expect(stdout).toContain('> Where is the dinosaur hall?');
    expect(stdout).toContain('> And the café?');
    const context = /context ctx_[0-9a-f]{32}: (\d+) tokens/.exec(stderr);
    expect(context, stderr).not.toBeNull();
    const cached = [...stderr.matchAll(/(\d+) cached; (\d+) generated/g)].map((m) => Number(m[1]));
    expect(cached).toEqual([Number(context![1]), Number(context![1])]);
  });

  it('each explains its usage without a model (exit 2)', async () => {
    const env = { ...process.env };
    delete env.PRESSKV_MODEL;
    const names = ['rag-cached-context', 'hono-route', 'stream-chat'];
    const errors = await Promise.all(names.map((name) => run(process.execPath, [script(name)], { cwd: repoRoot, env }).catch((e) => e)));
    names.forEach((name, i) => {
      expect(errors[i].code).toBe(2);
      expect(errors[i].stderr).toContain(`usage: ${name}`);
    });
  });
});
