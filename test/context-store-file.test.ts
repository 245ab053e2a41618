// The persisted context file: byte-exact round trip, any flipped byte refused, files from another model,
// tokenizer, press or format version refused with a clear error, atomic writes, and a store "restart"
// (a new store on the same cacheDir) that answers as before.
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkContextIdentity,
  ContextFileMismatchError,
  CorruptContextFileError,
  decodeContextFile,
  encodeContextFile,
  readContextFile,
  writeFileAtomic,
  type ContextFile,
} from '../engine/context-file.js';
import { modelFingerprint, tokenizerHash } from '../engine/context-key.js';
import { ContextStore } from '../engine/context-store.js';
import { Model } from '../engine/model.js';
import { tinyModelPath } from './helpers/tiny-models.js';

const dirs: string[] = [];
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'presskv-ctxfile-'));
  dirs.push(dir);
  return dir;
};
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const sample: ContextFile = {
  header: {
    formatVersion: 1,
    modelFingerprint: 'native:0123456789abcdef',
    tokenizerHash: 'feedface',
    press: { compressionRatio: 0.5, name: 'SnapKVPress' },
    id: `ctx_${'a'.repeat(32)}`,
    key: 'a'.repeat(64),
    name: 'doc',
    createdAt: 1700000000000,
    expiresAt: null,
    tokensBefore: 5,
    tokensAfter: 3,
    lengths: [3, 2, 4, 3],
    payloadKind: 'tokens',
    tokenCount: 5,
    meta: { note: 'hé' },
  },
  tokenIds: [1, 500, 70000, 2 ** 31 - 1, 0],
};

describe('context file format', () => {
  it('round-trips byte for byte', () => {
    const bytes = encodeContextFile(sample);
    const decoded = decodeContextFile(bytes, 'sample');
    expect(decoded.tokenIds).toEqual(sample.tokenIds);
    expect(decoded.header).toEqual(sample.header);
    expect(Buffer.compare(encodeContextFile(decoded), bytes)).toBe(0);
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('PRESSKVC');
  });

  it('refuses a file with any single flipped byte (magic, header, payload or checksum)', () => {
    const bytes = encodeContextFile(sample);
    for (let at = 0; at < bytes.length; at++) {
      const damaged = Buffer.from(bytes);
      damaged[at] ^= 0x01;
      expect(() => decodeContextFile(damaged, 'damaged.pkvctx'), `byte ${at}`).toThrow(at < 8 ? /not a presskv context file/ : /damaged/);
    }
    expect(() => decodeContextFile(bytes.subarray(0, bytes.length - 1), 'cut')).toThrow(CorruptContextFileError);
    expect(() => decodeContextFile(new Uint8Array(3), 'tiny')).toThrow(CorruptContextFileError);
  });

  it('names what differs when a sound file belongs to another model, tokenizer or press', () => {
    const { header } = sample;
    const same = { modelFingerprint: header.modelFingerprint, tokenizerHash: header.tokenizerHash, press: header.press };
    expect(() => checkContextIdentity(header, same, 'f')).not.toThrow();
    expect(() => checkContextIdentity(header, { ...same, modelFingerprint: 'native:other' }, 'f')).toThrow(/another model/);
    expect(() => checkContextIdentity(header, { ...same, tokenizerHash: 'other' }, 'f')).toThrow(/another tokenizer/);
    expect(() => checkContextIdentity(header, { ...same, press: null }, 'f')).toThrow(ContextFileMismatchError);
  });

  it('refuses another format version even with a valid checksum', async () => {
    const { createHash } = await import('node:crypto');
    const bytes = Buffer.from(encodeContextFile(sample));
    bytes.writeUInt32LE(99, 8);
    const body = bytes.subarray(0, bytes.length - 32);
    createHash('sha256').update(body).digest().copy(bytes, bytes.length - 32);
    expect(() => decodeContextFile(bytes, 'v99')).toThrow(/format version 99/);
  });

  it('writes atomically: the new content replaces the old whole, no temp file stays behind', async () => {
    const dir = await tempDir();
    const path = join(dir, 'x.pkvctx');
    await writeFile(path, 'old');
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    expect([...(await readFile(path))]).toEqual([1, 2, 3]);
    expect(await readdir(dir)).toEqual(['x.pkvctx']);
  });
});

describe('persisted contexts across a store restart', () => {
  let llama: Model;
  let qwen: Model;
  beforeAll(async () => {
    llama = await Model.load(await tinyModelPath({ arch: 'llama', format: 'gguf' }), { threads: 1 });
    qwen = await Model.load(await tinyModelPath({ arch: 'qwen2', format: 'gguf' }), { threads: 1 });
  });
  afterAll(() => {
    llama?.dispose();
    qwen?.dispose();
  });

  const ctx = Array.from({ length: 120 }, (_, i) => 5 + ((i * 37) % 300));
  const greedy = { maxTokens: 10, temperature: 0, stopTokenIds: [] as number[] };

  it('loads a context written by an earlier store and answers identically', async () => {
    const dir = await tempDir();
    const first = new ContextStore(llama, { cacheDir: dir });
    const created = await first.create({ tokenIds: ctx, name: 'kept', ttlSeconds: 0 });
    const before = await first.generate(created.id, [40, 41, 42], greedy);
    await first.dispose();
    // The file carries the engine's saved KV state; loading it and saving again gives the same bytes.
    const file = await readContextFile(join(dir, `${created.id}.pkvctx`));
    expect(file.header.payloadKind).toBe('kv');
    const loaded = await llama.createSession({ kv: file.kv! });
    expect(Buffer.compare(Buffer.from(await loaded.saveKv()), Buffer.from(file.kv!))).toBe(0);
    await loaded.dispose();
    expect(llama.stats().kvBytesInUse).toBe(0);

    const second = new ContextStore(llama, { cacheDir: dir });
    try {
      expect(await second.list()).toEqual([expect.objectContaining({ id: created.id, name: 'kept', resident: false, persisted: true, tokensBefore: 120, compressed: false })]);
      const after = await second.generate(created.id, [40, 41, 42], greedy);
      expect(after.generatedTokenIds).toEqual(before.generatedTokenIds);
      expect(after.context.cacheHit).toBe(false);
      expect((await second.generate(created.id, [40, 41, 42], greedy)).context.cacheHit).toBe(true);
      // Creating the same context again after the restart finds the stored one.
      expect((await second.create({ tokenIds: ctx })).existed).toBe(true);
    } finally {
      await second.dispose();
    }
  });

  it('refuses a damaged file and a file from another model with a clear error; the store keeps working', async () => {
    const dir = await tempDir();
    const first = new ContextStore(llama, { cacheDir: dir });
    const { id } = await first.create({ tokenIds: ctx });
    await first.dispose();
    const file = join(dir, `${id}.pkvctx`);

    const otherDir = await tempDir();
    await copyFile(file, join(otherDir, `${id}.pkvctx`));
    const foreign = new ContextStore(qwen, { cacheDir: otherDir });
    try {
      await expect(foreign.get(id)).rejects.toThrow(/made for another model/);
      await expect(foreign.generate(id, [1], greedy)).rejects.toBeInstanceOf(ContextFileMismatchError);
      expect(await foreign.list()).toEqual([]);
      expect(modelFingerprint(qwen)).not.toBe(modelFingerprint(llama));
      expect(tokenizerHash(qwen)).toMatch(/^[0-9a-f]{32}$/);
    } finally {
      await foreign.dispose();
    }

    const bytes = await readFile(file);
    bytes[bytes.length >> 1] ^= 0xff;
    await writeFile(file, bytes);
    const store = new ContextStore(llama, { cacheDir: dir });
    try {
      await expect(store.get(id)).rejects.toBeInstanceOf(CorruptContextFileError);
      await expect(store.generate(id, [1], greedy)).rejects.toThrow(/damaged/);
      const fresh = await store.create({ tokenIds: ctx.slice(0, 50) });
      expect((await store.generate(fresh.id, [1], greedy)).generatedTokenIds).toHaveLength(10);
      // Storing the same context again replaces the damaged file with a sound one.
      const again = await store.create({ tokenIds: ctx });
      expect(again).toMatchObject({ id, existed: false });
      expect((await store.generate(id, [1], greedy)).generatedTokenIds).toHaveLength(10);
      expect((await readContextFile(file)).tokenIds).toEqual(ctx);
    } finally {
      await store.dispose();
    }
  });
});
