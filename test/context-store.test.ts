// The context store on a real (tiny) model: keys, reuse that answers exactly as a full prefill does and
// leaves the stored context unchanged, automatic prefix matching, TTLs, the LRU byte budget (with and
// without a cache dir), abort, and typed errors for bad input.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readContextFile } from '../engine/context-file.js';
import { ContextNotFoundError, ContextStore } from '../engine/context-store.js';
import { ContextOverflowError, InvalidArgumentError } from '../engine/errors.js';
import { Model } from '../engine/model.js';
import { tinyModelPath } from './helpers/tiny-models.js';

let model: Model;
const dirs: string[] = [];
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'presskv-ctx-'));
  dirs.push(dir);
  return dir;
};

// Token ids of a tiny synthetic vocabulary: any id below the vocab size is a valid token.
const tokens = (seed: number, n: number) => Array.from({ length: n }, (_, i) => 3 + ((seed * 131 + i * 17) % 400));
const greedy = { maxTokens: 8, temperature: 0, stopTokenIds: [] as number[] };

beforeAll(async () => {
  model = await Model.load(await tinyModelPath({ arch: 'llama', format: 'gguf' }), { threads: 1 });
});
afterAll(async () => {
  model?.dispose();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('ContextStore', () => {
  it('stores a context once: equal content → the same id, another press or content → another id', async () => {
    const store = new ContextStore(model);
    try {
      const ctx = tokens(1, 90);
      const a = await store.create({ tokenIds: ctx, name: 'doc' });
      expect(a).toMatchObject({ tokensBefore: 90, tokensAfter: 90, compressed: false, existed: false, name: 'doc', resident: true, press: null });
      expect(a.bytes).toBeGreaterThan(0);
      const b = await store.create({ tokenIds: ctx });
      expect(b.id).toBe(a.id);
      expect(b.existed).toBe(true);
      const withPress = await store.create({ tokenIds: ctx, press: { name: 'knorm', compressionRatio: 0.5 } });
      expect(withPress.id).not.toBe(a.id);
      expect(withPress.press).toEqual({ name: 'KnormPress', compressionRatio: 0.5 });
      // Until the engine applies presses during a context prefill, nothing is claimed: the cache stays whole.
      expect(withPress).toMatchObject({ compressed: true, tokensAfter: 45 });
      expect(withPress.bytes).toBeLessThan(withPress.bytesBefore!);
      expect(a.bytesBefore).toBe(a.bytes);
      expect((await store.create({ tokenIds: tokens(2, 90) })).id).not.toBe(a.id);
      expect(store.idOf(ctx)).toBe(a.id);
      expect((await store.list()).map((c) => c.id).sort()).toEqual([a.id, withPress.id, store.idOf(tokens(2, 90))].sort());
    } finally {
      await store.dispose();
    }
  });

  it('answers as a full prefill of context + question does, and every call leaves the context as it was', async () => {
    const store = new ContextStore(model);
    try {
      const ctx = tokens(3, 150);
      const { id, bytes } = await store.create({ tokenIds: ctx });
      const q1 = tokens(4, 7);
      const q2 = tokens(5, 11);
      const full1 = await model.generate([...ctx, ...q1], greedy);
      const full2 = await model.generate([...ctx, ...q2], greedy);
      const r1 = await store.generate(id, q1, greedy);
      const r2 = await store.generate(id, q2, greedy);
      const r1again = await store.generate(id, q1, greedy);
      expect(r1.generatedTokenIds).toEqual(full1.generatedTokenIds);
      expect(r2.generatedTokenIds).toEqual(full2.generatedTokenIds);
      expect(r1again.generatedTokenIds).toEqual(r1.generatedTokenIds);
      expect(r1.context).toMatchObject({ contextId: id, cachedTokens: 150, tokensBefore: 150, cacheHit: true });
      expect(r1.usage).toEqual({ inputTokens: 157, outputTokens: 8, totalTokens: 165 });
      expect(r1.promptTokenIds).toEqual([...ctx, ...q1]);
      // Only the stored context's pages stay in use between calls.
      expect(model.stats().kvBytesInUse).toBe(bytes);
      expect(store.stats()).toMatchObject({ contexts: 1, resident: 1, bytes });
    } finally {
      await store.dispose();
    }
    expect(model.stats().kvBytesInUse).toBe(0);
  });

  it('finds the longest stored context that starts a prompt (automatic reuse)', async () => {
    // A clock that moves on every reading: "most recently used" never ties.
    let clock = Date.now();
    const store = new ContextStore(model, { now: () => ++clock });
    try {
      const short = tokens(6, 40);
      const long = [...short, ...tokens(7, 30)];
      const a = await store.create({ tokenIds: short });
      const b = await store.create({ tokenIds: long });
      expect(store.findPrefix([...long, 9, 9])?.id).toBe(b.id);
      expect(store.findPrefix([...short, 9, 9])?.id).toBe(a.id);
      expect(store.findPrefix(tokens(8, 80))).toBeUndefined();
      // A compressed context matches any call that names no press, and one that names the same press.
      const c = await store.create({ tokenIds: tokens(9, 50), press: 'knorm' });
      expect(store.findPrefix([...tokens(9, 50), 1])?.id).toBe(c.id);
      expect(store.findPrefix([...tokens(9, 50), 1], 'knorm')?.id).toBe(c.id);
      expect(store.findPrefix([...tokens(9, 50), 1], 'snapkv')).toBeUndefined();
      // The same tokens stored with several presses (or none): the most recently used one.
      const d = await store.create({ tokenIds: tokens(9, 50) });
      expect(store.findPrefix([...tokens(9, 50), 1])?.id).toBe(d.id);
      await store.generate(c.id, [1], { maxTokens: 1, temperature: 0 });
      expect(store.findPrefix([...tokens(9, 50), 1])?.id).toBe(c.id);
    } finally {
      await store.dispose();
    }
  });

  it('expires contexts after their TTL; extend moves the expiry; ttl 0 never expires', async () => {
    let now = 1_000_000;
    const store = new ContextStore(model, { now: () => now, defaultTtlSeconds: 60 });
    try {
      const a = await store.create({ tokenIds: tokens(10, 20) });
      const forever = await store.create({ tokenIds: tokens(11, 20), ttlSeconds: 0 });
      expect(a.expiresAt).toBe(now + 60_000);
      expect(forever.expiresAt).toBeNull();
      now += 50_000;
      expect((await store.extend(a.id, 30)).expiresAt).toBe(now + 30_000);
      now += 29_000;
      expect((await store.get(a.id)).id).toBe(a.id);
      now += 2_000;
      await expect(store.get(a.id)).rejects.toBeInstanceOf(ContextNotFoundError);
      await expect(store.generate(a.id, [5], greedy)).rejects.toThrow(/expired, been deleted or evicted/);
      expect((await store.list()).map((c) => c.id)).toEqual([forever.id]);
      expect(model.stats().kvBytesInUse).toBe(forever.bytes);
    } finally {
      await store.dispose();
    }
  });

  it('keeps resident contexts within maxBytes by evicting the least recently used', async () => {
    const probe = new ContextStore(model);
    const size = (await probe.create({ tokenIds: tokens(12, 100) })).bytes;
    await probe.dispose();
    const store = new ContextStore(model, { maxBytes: 2 * size });
    try {
      const a = await store.create({ tokenIds: tokens(13, 100) });
      const b = await store.create({ tokenIds: tokens(14, 100) });
      await store.generate(a.id, [7], greedy); // a is now more recently used than b
      const c = await store.create({ tokenIds: tokens(15, 100) });
      expect(store.stats().bytes).toBeLessThanOrEqual(2 * size);
      await expect(store.get(b.id)).rejects.toBeInstanceOf(ContextNotFoundError);
      expect((await store.get(a.id)).resident).toBe(true);
      expect((await store.get(c.id)).resident).toBe(true);
      expect(model.stats().kvBytesInUse).toBe(a.bytes + c.bytes);
      // A context larger than the whole budget is refused.
      await expect(store.create({ tokenIds: tokens(16, 600) })).rejects.toThrow(/budget/);
    } finally {
      await store.dispose();
    }
  });

  it('with a cacheDir, an evicted context stays on disk and is rebuilt on its next use with the same answers', async () => {
    const dir = await tempDir();
    const probe = new ContextStore(model);
    const size = (await probe.create({ tokenIds: tokens(17, 100) })).bytes;
    await probe.dispose();
    const store = new ContextStore(model, { maxBytes: size, cacheDir: dir });
    try {
      const a = await store.create({ tokenIds: tokens(18, 100) });
      const first = await store.generate(a.id, [9, 10], greedy);
      expect(first.context.cacheHit).toBe(true);
      await store.create({ tokenIds: tokens(19, 100) });
      const info = await store.get(a.id);
      expect(info).toMatchObject({ resident: false, persisted: true });
      const again = await store.generate(a.id, [9, 10], greedy);
      expect(again.context.cacheHit).toBe(false);
      expect(again.generatedTokenIds).toEqual(first.generatedTokenIds);
      expect(store.stats().bytes).toBeLessThanOrEqual(size);
      expect((await readdir(dir)).filter((f) => f.endsWith('.pkvctx'))).toHaveLength(2);
      expect(await store.delete(a.id)).toBe(true);
      expect((await readdir(dir)).filter((f) => f.endsWith('.pkvctx'))).toHaveLength(1);
      expect(await store.delete(a.id)).toBe(false);
    } finally {
      await store.dispose();
    }
  });

  it('a context stored with a decoding press compresses every call, also after a restart from its cacheDir file', async () => {
    const dir = await tempDir();
    const press = { name: 'decoding', press: { name: 'knorm' }, compressionInterval: 4, targetSize: 24 };
    const ask = { maxTokens: 14, temperature: 0, stopTokenIds: [] as number[] };
    const slotsOf = (r: { kv: { lengths?: number[] } }) => [Math.min(...r.kv.lengths!), Math.max(...r.kv.lengths!)];
    const first = new ContextStore(model, { cacheDir: dir });
    let id: string;
    let answer: number[];
    try {
      ({ id } = await first.create({ tokenIds: tokens(21, 80), press }));
      const result = await first.generate(id, [12, 13], ask);
      // 14 forwards (the question, then 13 generated tokens): compressed at the 4th, 8th and 12th → 24 + 2 slots.
      expect(slotsOf(result)).toEqual([26, 26]);
      answer = result.generatedTokenIds;
      // The saved KV would not carry the press's state: the file holds the tokens only.
      expect((await readContextFile(join(dir, `${id}.pkvctx`))).header.payloadKind).toBe('tokens');
    } finally {
      await first.dispose();
    }
    const second = new ContextStore(model, { cacheDir: dir });
    try {
      const again = await second.generate(id, [12, 13], ask);
      expect(again.context.cacheHit).toBe(false);
      expect(again.generatedTokenIds).toEqual(answer);
      expect(slotsOf(again)).toEqual([26, 26]);
    } finally {
      await second.dispose();
    }
  });

  it('an aborted call ends with finishReason abort and leaves the context usable and unchanged', async () => {
    const store = new ContextStore(model);
    try {
      const { id, bytes } = await store.create({ tokenIds: tokens(20, 60) });
      const expected = await store.generate(id, [11], greedy);
      const controller = new AbortController();
      const aborted = await store.generate(id, [11], {
        maxTokens: 1500,
        temperature: 0,
        stopTokenIds: [],
        signal: controller.signal,
        onToken: () => controller.abort(),
      });
      expect(aborted.finishReason).toBe('abort');
      expect(aborted.generatedTokenIds.length).toBeLessThan(1500);
      expect(model.stats().kvBytesInUse).toBe(bytes);
      expect((await store.generate(id, [11], greedy)).generatedTokenIds).toEqual(expected.generatedTokenIds);
    } finally {
      await store.dispose();
    }
  });

  it('reports bad input with typed errors and stays usable', async () => {
    const store = new ContextStore(model);
    try {
      await expect(store.create({ tokenIds: [] })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.create({ tokenIds: [1, 2, 100000] })).rejects.toThrow(/not a token id/);
      await expect(store.create({ tokenIds: [1, 2], ttlSeconds: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.create({ tokenIds: [1, 2], press: { name: 'snapkv', compressionRatio: 2 } })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.create({ tokenIds: tokens(21, model.contextLength) })).rejects.toBeInstanceOf(ContextOverflowError);
      await expect(store.get('ctx_nope')).rejects.toBeInstanceOf(ContextNotFoundError);
      await expect(store.get(`ctx_${'0'.repeat(32)}`)).rejects.toBeInstanceOf(ContextNotFoundError);
      const { id } = await store.create({ tokenIds: tokens(22, 30) });
      await expect(store.generate(id, tokens(23, model.contextLength), greedy)).rejects.toBeInstanceOf(ContextOverflowError);
      expect((await store.generate(id, [4], greedy)).generatedTokenIds).toHaveLength(8);
      expect(() => new ContextStore(model, { maxBytes: -5 })).toThrow(InvalidArgumentError);
    } finally {
      await store.dispose();
    }
  });
});
