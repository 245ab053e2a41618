// /v1/contexts bodies that used to be misread or crash the server: ttl_seconds must be whole seconds in
// 1..one year (0 no longer silently means "never", 1e300 is no longer stored), and a press nested thousands
// deep is a 400, not a 500. Every refusal leaves the server answering the next request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PRESS_DEPTH, MAX_TTL_SECONDS } from '../server/schemas.js';
import { startServer, type RunningServer } from '../server/serve.js';
import { tinyModelPath } from './helpers/tiny-models.js';

let server: RunningServer;

beforeAll(async () => {
  server = await startServer({ model: await tinyModelPath({ arch: 'qwen3', format: 'gguf' }), port: 0, load: { threads: 1 } });
});

afterAll(async () => {
  await server?.close();
});

const send = (method: string, path: string, body: unknown) =>
  fetch(`${server.url}/v1${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function expect400(response: Response, param: string, message: RegExp): Promise<void> {
  const body = (await response.json()) as { error: { type: string; param: string; message: string } };
  expect(response.status, JSON.stringify(body)).toBe(400);
  expect(body.error.type).toBe('invalid_request_error');
  expect(body.error.param).toBe(param);
  expect(body.error.message).toMatch(message);
}

async function expectServerStillUsable(): Promise<void> {
  expect((await send('POST', '/contexts', { content: 'Still here.' })).ok).toBe(true);
}

function nestedPress(depth: number): Record<string, unknown> {
  let press: Record<string, unknown> = { name: 'snapkv', compression_ratio: 0.5 };
  for (let i = 1; i < depth; i++) press = { name: 'per_layer_compression', press };
  return press;
}

describe('/v1/contexts ttl_seconds', () => {
  it.each([
    [0, /at least 1 second/],
    [-5, /at least 1 second/],
    [1.5, /whole number/],
    [1e300, /at most 31536000/],
    [MAX_TTL_SECONDS + 1, /at most 31536000/],
  ])('refuses %s on create and on extend', async (ttl, message) => {
    await expect400(await send('POST', '/contexts', { content: 'A note.', ttl_seconds: ttl }), 'ttl_seconds', message);
    const created = (await (await send('POST', '/contexts', { content: 'A note to extend.' })).json()) as { id: string };
    await expect400(await send('PATCH', `/contexts/${created.id}`, { ttl_seconds: ttl }), 'ttl_seconds', message);
    await expectServerStillUsable();
  });

  it('stores a valid TTL as that many seconds from now, up to one year; absent = the default hour', async () => {
    const now = Math.floor(Date.now() / 1000);
    const short = (await (await send('POST', '/contexts', { content: 'Lives a minute.', ttl_seconds: 60 })).json()) as { id: string; expires_at: number };
    expect(short.expires_at).toBeGreaterThanOrEqual(now + 59);
    expect(short.expires_at).toBeLessThanOrEqual(now + 62);

    const year = (await (await send('PATCH', `/contexts/${short.id}`, { ttl_seconds: MAX_TTL_SECONDS })).json()) as { expires_at: number };
    expect(year.expires_at).toBeGreaterThanOrEqual(now + MAX_TTL_SECONDS - 1);
    expect(year.expires_at).toBeLessThanOrEqual(now + MAX_TTL_SECONDS + 2);

    const byDefault = (await (await send('POST', '/contexts', { content: 'Lives the default.' })).json()) as { expires_at: number | null };
    expect(byDefault.expires_at).toBeGreaterThanOrEqual(now + 3599);
    expect(byDefault.expires_at).toBeLessThanOrEqual(now + 3602);
  });
});

describe('/v1/contexts press nesting', () => {
  it('answers a press nested 2,000 deep with a 400, then keeps serving', async () => {
    const response = await send('POST', '/contexts', { content: 'A note.', press: nestedPress(2000) });
    const body = (await response.json()) as { error: { type: string; message: string; param: string } };
    expect(response.status, JSON.stringify(body).slice(0, 500)).toBe(400);
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(`at most ${MAX_PRESS_DEPTH} levels deep`);
    expect(body.error.param).toMatch(/^press(\.press)+$/);
    await expectServerStillUsable();
  });

  it('refuses one level past the limit, in composed presses too, and accepts the limit itself', async () => {
    const tooDeep = await send('POST', '/contexts', { content: 'A note.', press: nestedPress(MAX_PRESS_DEPTH + 1) });
    expect(tooDeep.status).toBe(400);
    const composed = await send('POST', '/contexts', { content: 'A note.', press: { name: 'compose', presses: [nestedPress(MAX_PRESS_DEPTH)] } });
    expect(composed.status).toBe(400);
    // At the limit the schema lets it through; what the press itself makes of it is the press's business, never a 500.
    const atLimit = await send('POST', '/contexts', { content: 'A note.', press: nestedPress(MAX_PRESS_DEPTH) });
    expect(atLimit.status).toBeLessThan(500);
  });
});
