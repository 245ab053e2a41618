// docs/CONTEXTS.md stays true: its `presskv serve` flags exist, and its curl commands, replayed in order
// against a real server started the way the doc starts it, succeed and return what the doc says.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVE_USAGE } from '../cli/serve.js';
import { startServer, type RunningServer } from '../server/serve.js';
import { tinyModelPath } from './helpers/tiny-models.js';

const doc = readFileSync(fileURLToPath(new URL('../docs/CONTEXTS.md', import.meta.url)), 'utf8');
const bashLines = [...doc.matchAll(/```bash\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.replace(/\\\n\s*/g, ' ').split('\n').filter((l) => l.trim()));

/** A shell line's words (single quotes only, as the doc writes them). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

interface Curl {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

function parseCurl(line: string): Curl {
  const w = words(line);
  const curl: Curl = { method: 'GET', url: '', headers: {} };
  for (let i = 1; i < w.length; i++) {
    if (w[i] === '-s') continue;
    if (w[i] === '-X') curl.method = w[++i]!;
    else if (w[i] === '-H') {
      const [name, ...value] = w[++i]!.split(':');
      curl.headers[name!.trim().toLowerCase()] = value.join(':').trim();
    } else if (w[i] === '-d') {
      curl.body = w[++i];
      if (curl.method === 'GET') curl.method = 'POST';
    } else curl.url = w[i]!;
  }
  return curl;
}

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ model: await tinyModelPath({ arch: 'qwen3', format: 'gguf' }), modelName: 'qwen3-0.6b', port: 0, apiKey: 'secret', load: { threads: 1 } });
});
afterAll(async () => {
  await server?.close();
});

describe('docs/CONTEXTS.md', () => {
  it('starts the server with flags that presskv serve has', () => {
    const serve = bashLines.find((l) => l.startsWith('presskv serve'));
    expect(serve).toBeDefined();
    for (const flag of words(serve!).filter((w) => w.startsWith('--'))) expect(SERVE_USAGE).toContain(`${flag} `);
  });

  it('its curl commands work in order: create, ask with cached tokens, list, get, extend, delete', async () => {
    const curls = bashLines.filter((l) => l.startsWith('curl ')).map(parseCurl);
    expect(curls.map((c) => c.method)).toEqual(['POST', 'POST', 'GET', 'GET', 'PATCH', 'DELETE']);
    const document = 'Opening hours are nine to five on weekdays; the shop is closed on Sundays. '.repeat(10);
    let contextId = '';
    let tokensBefore = 0;
    const replies: Array<Record<string, any>> = [];
    for (const curl of curls) {
      const url = curl.url.replace('http://127.0.0.1:8080', server.url).replace('ctx_…', contextId);
      const body = curl.body?.replace('<your long document>', document).replace('ctx_…', contextId);
      const response = await fetch(url, { method: curl.method, headers: curl.headers, body });
      const reply = (await response.json()) as Record<string, any>;
      expect(response.ok, `${curl.method} ${url}: ${JSON.stringify(reply)}`).toBe(true);
      replies.push(reply);
      if (!contextId) {
        contextId = reply.id;
        tokensBefore = reply.tokens_before;
      }
    }
    const [created, chat, list, got, extended, deleted] = replies;
    expect(created).toMatchObject({ object: 'context', name: 'handbook', press: { name: 'SnapKVPress', compressionRatio: 0.5 } });
    expect(created!.id).toMatch(/^ctx_[0-9a-f]{32}$/);
    expect(created!.tokens_after).toBeLessThanOrEqual(tokensBefore);
    expect(chat).toMatchObject({ object: 'chat.completion', model: 'qwen3-0.6b' });
    expect(chat!.usage.prompt_tokens_details.cached_tokens).toBe(tokensBefore);
    expect(list!.data.map((c: { id: string }) => c.id)).toEqual([contextId]);
    expect(got!.id).toBe(contextId);
    expect(extended!.expires_at).toBeGreaterThan(Date.now() / 1000 + 86000);
    expect(deleted).toEqual({ id: contextId, object: 'context.deleted', deleted: true });
  });
});
