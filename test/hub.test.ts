// Hub ids resolve to the local cache: used when present, downloaded atomically through fetch when not,
// and a clear "put these files here" error when the hub cannot be reached. No network is used.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelNotFoundError, InvalidArgumentError } from '../engine/errors.js';
import { hubModelDir, parseHubId, resolveModelPath } from '../engine/hub.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'presskv-hub-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const failingFetch = (async () => {
  throw new TypeError('fetch failed', { cause: { code: 'ENOTFOUND' } });
}) as unknown as typeof fetch;

/** A fake hub: serves `files` for one repo/revision, records the URLs asked for. */
function fakeHub(files: Record<string, string>, base = 'https://huggingface.co/org/tiny/resolve/main/') {
  const requested: string[] = [];
  const fetchFn = (async (input: string | URL, init?: RequestInit) => {
    const url = String(input);
    requested.push(url);
    const auth = new Headers(init?.headers).get('authorization');
    if (files['__token__'] && auth !== `Bearer ${files['__token__']}`) return new Response('no', { status: 401 });
    const name = url.startsWith(base) ? url.slice(base.length) : '';
    return name in files ? new Response(files[name]) : new Response('not found', { status: 404 });
  }) as unknown as typeof fetch;
  return { fetchFn, requested };
}

describe('hub ids', () => {
  it('parses org/name with an optional revision', () => {
    expect(parseHubId('Qwen/Qwen3-0.6B')).toEqual({ repo: 'Qwen/Qwen3-0.6B', revision: 'main' });
    expect(parseHubId('org/name@v1.0')).toEqual({ repo: 'org/name', revision: 'v1.0' });
    expect(parseHubId('model.gguf')).toBeNull();
    expect(parseHubId('a/b/c')).toBeNull();
    expect(hubModelDir({ repo: 'org/name', revision: 'main' }, '/cache')).toBe(path.join('/cache', 'org--name', 'main'));
  });

  it('returns an existing local path unchanged and rejects a missing one', async () => {
    const file = path.join(tmp, 'local.gguf');
    writeFileSync(file, 'x');
    expect(await resolveModelPath(file, { fetch: failingFetch })).toBe(file);
    await expect(resolveModelPath(path.join(tmp, 'missing.gguf'), { fetch: failingFetch })).rejects.toThrow(ModelNotFoundError);
    await expect(resolveModelPath('./missing/dir', { fetch: failingFetch })).rejects.toThrow(/does not exist/);
    await expect(resolveModelPath('', {})).rejects.toThrow(InvalidArgumentError);
  });

  it('uses the cached files without touching the network', async () => {
    const cacheDir = path.join(tmp, 'cache-present');
    const dir = hubModelDir({ repo: 'org/cached', revision: 'main' }, cacheDir);
    mkdirSync(dir, { recursive: true });
    for (const f of ['config.json', 'tokenizer.json', 'model.safetensors']) writeFileSync(path.join(dir, f), '{}');
    expect(await resolveModelPath('org/cached', { cacheDir, fetch: failingFetch })).toBe(dir);
  });

  it('offline: says exactly which files to put in which directory', async () => {
    const cacheDir = path.join(tmp, 'cache-offline');
    const err = await resolveModelPath('org/absent@rev2', { cacheDir, fetch: failingFetch }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelNotFoundError);
    const dir = hubModelDir({ repo: 'org/absent', revision: 'rev2' }, cacheDir);
    expect(err.message).toContain(dir);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'model.safetensors', 'model.safetensors.index.json']) {
      expect(err.message).toContain(f);
    }
    expect(err.message).toMatch(/unreachable \(ENOTFOUND\)/);
  });

  it('gives up on a hub that never answers', async () => {
    const silent = ((_url: string, init?: RequestInit) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)))) as unknown as typeof fetch;
    const err = await resolveModelPath('org/silent', { cacheDir: path.join(tmp, 'cache-silent'), fetch: silent, responseTimeoutMs: 50 }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelNotFoundError);
    expect(err.message).toMatch(/unreachable \(no answer within 50 ms\)/);
  });

  it('downloads single-file and sharded repositories atomically, with the token', async () => {
    const cacheDir = path.join(tmp, 'cache-download');
    const single = fakeHub({ 'config.json': '{"a":1}', 'tokenizer.json': '{}', 'model.safetensors': 'WEIGHTS', __token__: 'secret' });
    const dir = await resolveModelPath('org/tiny', { cacheDir, fetch: single.fetchFn, token: 'secret' });
    expect(readFileSync(path.join(dir, 'config.json'), 'utf8')).toBe('{"a":1}');
    expect(readFileSync(path.join(dir, 'model.safetensors'), 'utf8')).toBe('WEIGHTS');
    expect(existsSync(path.join(dir, 'generation_config.json'))).toBe(false); // optional, 404
    expect(readdirSync(dir).some((f) => f.endsWith('.part'))).toBe(false);

    const denied = fakeHub({ 'config.json': '{}', __token__: 'secret' });
    await expect(resolveModelPath('org/tiny@other', { cacheDir, fetch: denied.fetchFn, token: 'wrong' })).rejects.toThrow(/HF_TOKEN/);

    const index = JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } });
    const sharded = fakeHub(
      { 'config.json': '{}', 'tokenizer.json': '{}', 'model.safetensors.index.json': index, 'model-00001-of-00002.safetensors': 'S1', 'model-00002-of-00002.safetensors': 'S2' },
      'https://huggingface.co/org/sharded/resolve/main/',
    );
    const shardedDir = await resolveModelPath('org/sharded', { cacheDir, fetch: sharded.fetchFn });
    expect(readFileSync(path.join(shardedDir, 'model-00002-of-00002.safetensors'), 'utf8')).toBe('S2');
    // Now cached: a second resolve asks nothing.
    const again = fakeHub({});
    expect(await resolveModelPath('org/sharded', { cacheDir, fetch: again.fetchFn })).toBe(shardedDir);
    expect(again.requested).toEqual([]);
  });

  it('a missing required file on the hub is a clear error', async () => {
    const hub = fakeHub({ 'config.json': '{}' });
    const err = await resolveModelPath('org/tiny', { cacheDir: path.join(tmp, 'cache-404'), fetch: hub.fetchFn }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelNotFoundError);
    expect(err.message).toMatch(/tokenizer\.json does not exist \(404\)/);
  });
});
