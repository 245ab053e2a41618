// Session.saveKv / loadKv on a real model (stories260K): the payload has the documented layout (checked by a
// plain parser and checksum here), save → load → save is byte-identical whatever the page size, generation
// after a load equals generation on the original (penalties and pending tokens included), ragged per-head
// caches round-trip, and every malformed payload is an ERR_CORRUPT_FILE that leaves the engine usable.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ContextOverflowError,
  CorruptModelError,
  InvalidArgumentError,
  KvOutOfMemoryError,
  Model,
  type GenerateOptions,
} from '../engine/index.js';
import { readModelFiles } from '../engine/model-files.js';
import { tinyModelPath } from './helpers/tiny-models.js';
import { nativeAddon } from '../engine/native.js';
import { parseKvPayload as parse, type KvPayload as Payload } from './helpers/kv-payload.js';

const modelPath = fileURLToPath(new URL('../../shared/models/stories260K.gguf', import.meta.url));
const available = existsSync(modelPath);
if (!available) console.warn(`engine-kv-save: skipped, ${modelPath} is absent`);

const CONTEXT =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her dog Max. ' +
  'One day, Lily saw a big red ball under a tree. She wanted to play with it, but the ball was stuck.';
const greedy: GenerateOptions = { maxTokens: 30, temperature: 0, stopTokenIds: [] };

// ---- a plain writer of the payload layout (native/src/addon/session-snapshot.h; the reader is in helpers) ----

const MASK = (1n << 64n) - 1n;
function mix(h: bigint, word: bigint): bigint {
  h = ((h ^ word) * 0xff51afd7ed558ccdn) & MASK;
  return h ^ (h >> 29n);
}
function checksum(bytes: Uint8Array): bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let h = 0x9e3779b97f4a7c15n ^ BigInt(bytes.length);
  let i = 0;
  for (; i + 8 <= bytes.length; i += 8) h = mix(h, view.getBigUint64(i, true));
  let tail = 0n;
  for (let j = bytes.length - 1; j >= i; j--) tail = (tail << 8n) | BigInt(bytes[j]);
  return mix(mix(h, tail), 0x2545f4914f6cdd1dn);
}

function build(p: Payload, options: { checksum?: 'compute' | 'keep' } = {}): Uint8Array {
  const parts: number[] = [];
  const u32 = (v: number) => parts.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  const bytes = (b: Uint8Array) => parts.push(...b);
  bytes(new TextEncoder().encode(p.magic));
  [p.version, p.vocab, p.history.length, p.pending.length, p.logits.length].forEach(u32);
  [...p.history, ...p.pending].forEach(u32);
  bytes(new Uint8Array(p.logits.buffer, p.logits.byteOffset, p.logits.byteLength));
  [p.dtype, p.nLayers, p.nKvHeads, p.headDim, p.nextPosition].forEach(u32);
  p.heads.forEach((h) => u32(h.positions.length));
  for (const h of p.heads) {
    h.positions.forEach(u32);
    bytes(h.k);
    bytes(h.v);
  }
  const body = Uint8Array.from(parts);
  const sum = options.checksum === 'keep' ? p.checksum : checksum(body);
  const out = new Uint8Array(body.length + 8);
  out.set(body);
  new DataView(out.buffer).setBigUint64(body.length, sum, true);
  return out;
}

describe.skipIf(!available)('Session.saveKv / loadKv on stories260K', () => {
  let model: Model;
  let context: number[];
  let saved: Uint8Array;

  beforeAll(async () => {
    model = await Model.load(modelPath, { threads: 1 });
    context = model.tokenize(CONTEXT);
    const session = model.createSession();
    await session.evaluate(context, { logits: 'last' });
    saved = await session.saveKv();
    await session.dispose();
  });
  afterAll(() => model?.dispose());

  it('writes the documented layout: version, dtype, next_position, per-head lengths, positions, K/V, checksum', () => {
    const c = model.info.config;
    const p = parse(saved);
    expect(p.magic).toBe('PKVS');
    expect(p.version).toBe(1);
    expect(p.vocab).toBe(c.vocab);
    expect(p.history).toEqual(context);
    expect(p.pending).toEqual([]);
    expect(p.logits.length).toBe(c.vocab);
    expect([p.dtype, p.nLayers, p.nKvHeads, p.headDim]).toEqual([1, c.nLayers, c.nKvHeads, c.headDim]);
    expect(p.nextPosition).toBe(context.length);
    expect(p.heads).toHaveLength(c.nLayers * c.nKvHeads);
    for (const h of p.heads) {
      expect(h.positions).toEqual(context.map((_, i) => i));
      // Real K/V rows (f16), not zero padding.
      expect(h.k.some((b) => b !== 0)).toBe(true);
      expect(h.v.some((b) => b !== 0)).toBe(true);
    }
    expect(p.checksum).toBe(checksum(saved.subarray(0, saved.length - 8)));
    // The kept logits are the model's logits after the last context token.
    expect(build(p)).toEqual(saved);
  });

  it('save → load → save is byte-identical, and generation after the load equals the original', async () => {
    const original = model.createSession();
    await original.evaluate(context, { logits: 'last' });
    const loaded = await model.createSession({ kv: saved });
    expect(loaded.kvStats()).toEqual(original.kvStats());
    expect(await loaded.saveKv()).toEqual(saved);

    const sampled: GenerateOptions = { maxTokens: 25, temperature: 0.8, seed: 11, repetitionPenalty: 1.3, stopTokenIds: [] };
    const [a, b] = [await original.generate([], sampled), await loaded.generate([], sampled)];
    expect(b.generatedTokenIds).toEqual(a.generatedTokenIds);

    // With a pending last token (left by generate) the state still round-trips and continues identically.
    const withPending = await original.saveKv();
    expect(parse(withPending).pending).toEqual([a.generatedTokenIds.at(-1)]);
    const reloaded = model.createSession();
    await reloaded.loadKv(withPending);
    expect(await reloaded.saveKv()).toEqual(withPending);
    const [c, d] = [await original.generate([], greedy), await reloaded.generate([], greedy)];
    expect(d.generatedTokenIds).toEqual(c.generatedTokenIds);
    await Promise.all([original.dispose(), loaded.dispose(), reloaded.dispose()]);
    expect(model.stats().kvBytesInUse).toBe(0);
  });

  it('the payload does not depend on the page size', async () => {
    const files = await readModelFiles(modelPath);
    const addon = nativeAddon();
    const handle = addon.loadModel(files.spec, { threads: 1 });
    try {
      for (const pageTokens of [1, 7, 256]) {
        const runtime = addon.createRuntime(handle, { threads: 1, pageTokens });
        const session = runtime.createSession({ maxTokens: 512 });
        await session.loadKv(saved);
        expect(await session.saveKv()).toEqual(saved);
        // The same tokens evaluated with that page size give the same payload too.
        const fresh = runtime.createSession({ maxTokens: 512 });
        await fresh.evaluate(Int32Array.from(context), { logits: 'last' });
        expect(await fresh.saveKv()).toEqual(saved);
        runtime.dispose();
      }
    } finally {
      handle.dispose();
    }
  });

  it('ragged per-head caches (as presses leave them) round-trip and decode', async () => {
    const p = parse(saved);
    const rowBytes = p.headDim * 2;
    // Head i keeps a different subset of slots (always the first and the last), as a head-wise press would.
    p.heads = p.heads.map((h, i) => {
      const keep = h.positions.map((_, s) => s === 0 || s === h.positions.length - 1 || (s * (i + 3)) % 5 < 2);
      const pick = (rows: Uint8Array) =>
        Uint8Array.from(keep.flatMap((k, s) => (k ? [...rows.subarray(s * rowBytes, (s + 1) * rowBytes)] : [])));
      return { positions: h.positions.filter((_, s) => keep[s]), k: pick(h.k), v: pick(h.v) };
    });
    const ragged = build(p);
    expect(new Set(p.heads.map((h) => h.positions.length)).size).toBeGreaterThan(1);
    const [x, y] = [await model.createSession({ kv: ragged }), await model.createSession({ kv: ragged })];
    expect(await x.saveKv()).toEqual(ragged);
    expect(x.kvStats().tokens).toBe(context.length);
    const full = model.createSession();
    await full.loadKv(saved);
    expect(x.kvStats().bytes).toBeLessThan(full.kvStats().bytes);
    const [gx, gy] = [await x.generate([], greedy), await y.generate([], greedy)];
    expect(gx.generatedTokenIds).toHaveLength(greedy.maxTokens);
    expect(gy.generatedTokenIds).toEqual(gx.generatedTokenIds);
    // New tokens continue from the uncompressed length: positions context.length, context.length + 1, ...
    const after = parse(await x.saveKv());
    expect(after.nextPosition).toBe(context.length + greedy.maxTokens - 1);
    expect(after.heads[0].positions.slice(-3)).toEqual([0, 1, 2].map((i) => context.length + greedy.maxTokens - 4 + i));
    await Promise.all([x.dispose(), y.dispose(), full.dispose()]);
  });

  it('malformed payloads are ERR_CORRUPT_FILE with a reason; the session and the engine stay usable', async () => {
    const session = model.createSession();
    await session.evaluate(context.slice(0, 10), { logits: 'last' });
    const before = session.kvStats();
    const bytesInUse = model.stats().kvBytesInUse;
    const p = parse(saved);
    const flipped = (at: number) => {
      const copy = saved.slice();
      copy[at] ^= 0x10;
      return copy;
    };
    const cases: [string, Uint8Array, RegExp][] = [
      ['empty', new Uint8Array(0), /magic/],
      ['wrong magic', build({ ...p, magic: 'XKVS' }), /magic/],
      ['newer version', build({ ...p, version: 2 }), /version 2/],
      ['truncated', saved.subarray(0, saved.length - 1), /checksum/],
      ['half', saved.subarray(0, saved.length >> 1), /checksum/],
      ['flipped header byte', flipped(9), /checksum/],
      ['flipped K/V byte', flipped(saved.length - 100), /checksum/],
      ['flipped checksum byte', flipped(saved.length - 3), /checksum/],
      ['other vocabulary', build({ ...p, vocab: p.vocab + 1 }), /vocabulary/],
      ['other shape', build({ ...p, headDim: p.headDim * 2 }), /shape/],
      ['unknown dtype', build({ ...p, dtype: 7 }), /dtype/],
      ['token outside the vocabulary', build({ ...p, history: [...p.history.slice(0, -1), 99999] }), /vocabulary/],
      ['head longer than next_position', build({ ...p, nextPosition: 3 }), /next_position/],
      [
        'positions out of order',
        build({ ...p, heads: p.heads.map((h, i) => (i === 2 ? { ...h, positions: [...h.positions].reverse() } : h)) }),
        /position/,
      ],
      ['trailing bytes', (() => {
        const body = build(p).subarray(0, saved.length - 8);
        const padded = new Uint8Array(body.length + 4 + 8);
        padded.set(body);
        new DataView(padded.buffer).setBigUint64(body.length + 4, checksum(padded.subarray(0, body.length + 4)), true);
        return padded;
      })(), /unexpected bytes/],
    ];
    for (const [name, bytes, reason] of cases) {
      const error = await session.loadKv(bytes).then(() => undefined, (e: unknown) => e);
      expect(error, name).toBeInstanceOf(CorruptModelError);
      expect((error as CorruptModelError).code, name).toBe('ERR_CORRUPT_FILE');
      expect((error as Error).message, name).toMatch(reason);
      expect(session.kvStats(), name).toEqual(before);
      expect(model.stats().kvBytesInUse, name).toBe(bytesInUse);
    }
    await expect(model.createSession({ kv: flipped(40) })).rejects.toBeInstanceOf(CorruptModelError);
    await expect(session.loadKv([1, 2] as unknown as Uint8Array)).rejects.toBeInstanceOf(InvalidArgumentError);
    // The session kept its content and still continues as a fresh one with the same tokens does.
    const fresh = model.createSession();
    await fresh.evaluate(context.slice(0, 10), { logits: 'last' });
    const [a, b] = [await session.generate([], greedy), await fresh.generate([], greedy)];
    expect(a.generatedTokenIds).toEqual(b.generatedTokenIds);
    await Promise.all([session.dispose(), fresh.dispose()]);
    expect(model.stats().kvBytesInUse).toBe(0);
  });

  it('a window too small, another KV dtype or a KV budget too small are typed errors', async () => {
    await expect(model.createSession({ maxTokens: 20, kv: saved })).rejects.toBeInstanceOf(ContextOverflowError);
    const f32 = await Model.load(modelPath, { threads: 1, kvDtype: 'f32' });
    try {
      const error = await f32.createSession({ kv: saved }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(CorruptModelError);
      expect((error as Error).message).toMatch(/f16.*f32/);
      // The fingerprint names the weights: the same file loaded again (any KV dtype) has the same one.
      expect(f32.fingerprint()).toBe(model.fingerprint());
    } finally {
      f32.dispose();
    }
    const tight = await Model.load(modelPath, { threads: 1, kvBudgetBytes: 4096 });
    try {
      await expect(tight.createSession({ kv: saved })).rejects.toBeInstanceOf(KvOutOfMemoryError);
      expect(tight.stats().kvBytesInUse).toBe(0);
    } finally {
      tight.dispose();
    }
    expect(model.stats().kvBytesInUse).toBe(0);
  });

  it('fingerprints tell models apart, even of one shape; a payload from another model is refused', async () => {
    expect(model.fingerprint()).toMatch(/^[0-9a-z]{8,}$/i);
    const [one, two] = [
      await Model.load(await tinyModelPath({ arch: 'llama', format: 'gguf', seed: 1 }), { threads: 1 }),
      await Model.load(await tinyModelPath({ arch: 'llama', format: 'gguf', seed: 2 }), { threads: 1 }),
    ];
    try {
      expect(one.info.config).toEqual(two.info.config);
      expect(one.fingerprint()).not.toBe(two.fingerprint());
      expect(one.fingerprint()).not.toBe(model.fingerprint());
      const error = await one.createSession({ kv: saved }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(CorruptModelError);
      expect((error as Error).message).toMatch(/vocabulary|shape/);
    } finally {
      one.dispose();
      two.dispose();
    }
  });
});
