import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorruptModelError, ModelNotFoundError, UnsupportedDtypeError } from '../engine/errors.js';
import { GgmlType, GgufValueType, ggmlTensorBytes, readGguf } from '../engine/gguf.js';
import { buildGguf, type KvEntry } from './gguf-bytes.js';

const shared = fileURLToPath(new URL('../../shared/models/', import.meta.url));
const stories = join(shared, 'stories260K.gguf');
const gpt2Vocab = join(shared, 'vocab', 'ggml-vocab-gpt-2.gguf');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'presskv-gguf-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function writeTemp(buf: Buffer): Promise<string> {
  const p = join(dir, `f${n++}.gguf`);
  await writeFile(p, buf);
  return p;
}

const ALL_TYPES_KV: KvEntry[] = [
  { key: 'general.architecture', type: GgufValueType.STRING, value: 'llama' },
  { key: 'v.u8', type: GgufValueType.UINT8, value: 250 },
  { key: 'v.i8', type: GgufValueType.INT8, value: -7 },
  { key: 'v.u16', type: GgufValueType.UINT16, value: 65000 },
  { key: 'v.i16', type: GgufValueType.INT16, value: -30000 },
  { key: 'v.u32', type: GgufValueType.UINT32, value: 4294967295 },
  { key: 'v.i32', type: GgufValueType.INT32, value: -2147483648 },
  { key: 'v.f32', type: GgufValueType.FLOAT32, value: 1.5 },
  { key: 'v.bool', type: GgufValueType.BOOL, value: true },
  { key: 'v.str', type: GgufValueType.STRING, value: 'héllo ▁wörld 🙂' },
  { key: 'v.u64', type: GgufValueType.UINT64, value: 2n ** 60n },
  { key: 'v.u64small', type: GgufValueType.UINT64, value: 12345 },
  { key: 'v.i64', type: GgufValueType.INT64, value: -5n },
  { key: 'v.f64', type: GgufValueType.FLOAT64, value: Math.PI },
  { key: 'v.arr.f32', type: GgufValueType.ARRAY, elementType: GgufValueType.FLOAT32, value: [0.25, -2, 3] },
  { key: 'v.arr.str', type: GgufValueType.ARRAY, elementType: GgufValueType.STRING, value: ['a', '', 'ccc'] },
  {
    key: 'v.arr.nested',
    type: GgufValueType.ARRAY,
    elementType: GgufValueType.ARRAY,
    nestedType: GgufValueType.INT32,
    value: [[1, 2], [], [-3]],
  },
  { key: '__proto__', type: GgufValueType.STRING, value: 'plain data' },
];

describe('readGguf on synthetic files', () => {
  it('reads every value type, nested arrays, tensor infos and offsets (v3 and v2)', async () => {
    for (const version of [2, 3]) {
      const buf = buildGguf({
        version,
        kv: ALL_TYPES_KV,
        tensors: [
          { name: 'a', dims: [4, 3], type: GgmlType.F32, nbytes: 48 },
          { name: 'b', dims: [8], type: GgmlType.F16, nbytes: 16 },
          { name: 'q', dims: [64, 2], type: GgmlType.Q8_0, nbytes: 4 * 34 },
        ],
      });
      const g = await readGguf(await writeTemp(buf));
      expect(g.version).toBe(version);
      expect(g.metadata['v.u8']).toBe(250);
      expect(g.metadata['v.i8']).toBe(-7);
      expect(g.metadata['v.u16']).toBe(65000);
      expect(g.metadata['v.i16']).toBe(-30000);
      expect(g.metadata['v.u32']).toBe(4294967295);
      expect(g.metadata['v.i32']).toBe(-2147483648);
      expect(g.metadata['v.f32']).toBe(1.5);
      expect(g.metadata['v.bool']).toBe(true);
      expect(g.metadata['v.str']).toBe('héllo ▁wörld 🙂');
      expect(g.metadata['v.u64']).toBe(2n ** 60n);
      expect(g.metadata['v.u64small']).toBe(12345);
      expect(g.metadata['v.i64']).toBe(-5);
      expect(g.metadata['v.f64']).toBe(Math.PI);
      expect(g.metadata['v.arr.f32']).toEqual([0.25, -2, 3]);
      expect(g.metadata['v.arr.str']).toEqual(['a', '', 'ccc']);
      expect(g.metadata['v.arr.nested']).toEqual([[1, 2], [], [-3]]);
      expect(Object.getOwnPropertyDescriptor(g.metadata, '__proto__')?.value).toBe('plain data');
      expect(g.metadataTypes['v.arr.nested']).toEqual({ type: GgufValueType.ARRAY, elementType: GgufValueType.ARRAY });
      expect(g.metadataTypes['v.u64']).toEqual({ type: GgufValueType.UINT64 });
      expect(Object.keys(g.metadata)).toEqual(ALL_TYPES_KV.map((e) => e.key));

      expect(g.alignment).toBe(32);
      expect(g.dataOffset % 32).toBe(0);
      expect(g.tensors.map((t) => [t.name, t.dims, t.typeName, t.nbytes, t.relativeOffset])).toEqual([
        ['a', [4, 3], 'F32', 48, 0],
        ['b', [8], 'F16', 16, 64],
        ['q', [64, 2], 'Q8_0', 136, 96],
      ]);
      for (const t of g.tensors) expect(t.offset).toBe(g.dataOffset + t.relativeOffset);
      expect(g.fileSize).toBe(buf.length);
    }
  });

  it('honours general.alignment', async () => {
    const buf = buildGguf({
      alignment: 256,
      kv: [{ key: 'general.alignment', type: GgufValueType.UINT32, value: 256 }],
      tensors: [
        { name: 'x', dims: [3], type: GgmlType.F32, nbytes: 12 },
        { name: 'y', dims: [5], type: GgmlType.F32, nbytes: 20 },
      ],
    });
    const g = await readGguf(await writeTemp(buf));
    expect(g.alignment).toBe(256);
    expect(g.dataOffset).toBe(256);
    expect(g.tensors.map((t) => t.offset)).toEqual([256, 512]);
  });

  it('computes tensor sizes of quantized types from their block layout', () => {
    expect(ggmlTensorBytes(GgmlType.Q4_K, [512, 3])).toBe(2 * 3 * 144);
    expect(ggmlTensorBytes(GgmlType.Q4_0, [64])).toBe(2 * 18);
    expect(ggmlTensorBytes(GgmlType.BF16, [7, 2])).toBe(28);
    expect(ggmlTensorBytes(GgmlType.Q4_0, [33])).toBeUndefined();
    expect(ggmlTensorBytes(31, [32])).toBeUndefined();
  });
});

describe('readGguf rejects malformed files with CorruptModelError', () => {
  const valid = () =>
    buildGguf({
      kv: [
        { key: 'general.architecture', type: GgufValueType.STRING, value: 'llama' },
        { key: 'tokens', type: GgufValueType.ARRAY, elementType: GgufValueType.STRING, value: ['x', 'yy'] },
      ],
      tensors: [
        { name: 'w', dims: [4, 2], type: GgmlType.F32, nbytes: 32 },
        { name: 'v', dims: [4], type: GgmlType.F32, nbytes: 16 },
      ],
    });

  async function expectCorrupt(buf: Buffer, message: RegExp) {
    const err = await readGguf(await writeTemp(buf)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptModelError);
    expect((err as Error).message).toMatch(message);
  }

  it('every truncation of a valid file', async () => {
    const buf = valid();
    await expect(readGguf(await writeTemp(buf))).resolves.toBeDefined();
    for (let len = 0; len < buf.length; len += 3) {
      const err = await readGguf(await writeTemp(buf.subarray(0, len))).catch((e: unknown) => e);
      expect(err, `truncated to ${len} of ${buf.length} bytes`).toBeInstanceOf(CorruptModelError);
    }
  });

  it('bad magic and unsupported versions', async () => {
    await expectCorrupt(buildGguf({ magic: 0x12345678 }), /bad magic/);
    await expectCorrupt(Buffer.from('PK\u0003\u0004 this is a zip, not a model'), /bad magic/);
    await expectCorrupt(buildGguf({ version: 1 }), /unsupported GGUF version 1/);
    await expectCorrupt(buildGguf({ version: 4 }), /unsupported GGUF version 4/);
  });

  it('lying lengths and absurd counts', async () => {
    const buf = valid();
    // The first key's length field sits right after magic, version and the two counts.
    const lyingKey = Buffer.from(buf);
    lyingKey.writeBigUInt64LE(10n ** 12n, 24);
    await expectCorrupt(lyingKey, /needs 1000000000000 bytes|absurd/);
    const hugeKey = Buffer.from(buf);
    hugeKey.writeBigUInt64LE(2n ** 63n, 24);
    await expectCorrupt(hugeKey, /absurdly large/);
    const manyTensors = Buffer.from(buf);
    manyTensors.writeBigUInt64LE(10n ** 9n, 8);
    await expectCorrupt(manyTensors, /tensor count 1000000000/);
    const manyKv = Buffer.from(buf);
    manyKv.writeBigUInt64LE(2n ** 40n, 16);
    await expectCorrupt(manyKv, /metadata count/);
    const arrayCount = buildGguf({
      kv: [{ key: 'a', type: GgufValueType.ARRAY, elementType: GgufValueType.UINT32, value: [1, 2, 3] }],
    });
    arrayCount.writeBigUInt64LE(10n ** 10n, 24 + 8 + 1 + 4 + 4);
    await expectCorrupt(arrayCount, /claims 10000000000 elements/);
  });

  it('unknown value types, bad bools, duplicate keys, bad alignment, too many dims', async () => {
    const unknownType = buildGguf({ kv: [{ key: 'k', type: GgufValueType.UINT8, value: 1 }] });
    unknownType.writeUInt32LE(99, 24 + 8 + 1);
    await expectCorrupt(unknownType, /unknown value type 99/);
    const badBool = buildGguf({ kv: [{ key: 'k', type: GgufValueType.BOOL, value: true }] });
    badBool.writeUInt8(7, badBool.length - 1);
    await expectCorrupt(badBool, /bool with value 7/);
    await expectCorrupt(
      buildGguf({
        kv: [
          { key: 'k', type: GgufValueType.UINT8, value: 1 },
          { key: 'k', type: GgufValueType.UINT8, value: 2 },
        ],
      }),
      /duplicate metadata key "k"/,
    );
    await expectCorrupt(
      buildGguf({ kv: [{ key: 'general.alignment', type: GgufValueType.UINT32, value: 48 }] }),
      /alignment 48 is not a positive power of two/,
    );
    await expectCorrupt(
      buildGguf({ tensors: [{ name: 't', dims: [1, 1, 1, 1, 2], type: GgmlType.F32, nbytes: 8 }] }),
      /5 dimensions/,
    );
    await expectCorrupt(
      buildGguf({
        tensors: [
          { name: 't', dims: [2], type: GgmlType.F32, nbytes: 8 },
          { name: 't', dims: [2], type: GgmlType.F32, nbytes: 8 },
        ],
      }),
      /duplicate tensor name "t"/,
    );
  });

  it('tensor data past EOF, misaligned and overlapping offsets, shapes that break block sizes', async () => {
    const full = valid();
    await expectCorrupt(full.subarray(0, full.length - 1), /"v" .*runs past the end of the file/);
    await expectCorrupt(
      buildGguf({ tensors: [{ name: 'far', dims: [4], type: GgmlType.F32, nbytes: 16, offset: 2 ** 40 }], withData: false }),
      /"far" .*runs past the end/,
    );
    await expectCorrupt(
      buildGguf({
        tensors: [
          { name: 'a', dims: [4], type: GgmlType.F32, nbytes: 16 },
          { name: 'b', dims: [4], type: GgmlType.F32, nbytes: 16, offset: 8 },
        ],
      }),
      /not a multiple of the alignment/,
    );
    await expectCorrupt(
      buildGguf({
        tensors: [
          { name: 'a', dims: [16], type: GgmlType.F32, nbytes: 64 },
          { name: 'b', dims: [4], type: GgmlType.F32, nbytes: 16, offset: 32 },
        ],
      }),
      /"a" and "b" overlap/,
    );
    await expectCorrupt(
      buildGguf({ tensors: [{ name: 'q', dims: [40], type: GgmlType.Q4_0, nbytes: 18 }] }),
      /not a multiple of its block size 32/,
    );
  });

  it('unknown ggml type ids are an UnsupportedDtypeError; a missing file is ModelNotFoundError', async () => {
    const err = await readGguf(
      await writeTemp(buildGguf({ tensors: [{ name: 'z', dims: [4], type: 31, nbytes: 16 }] })),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedDtypeError);
    expect((err as Error).message).toMatch(/"z" has unknown ggml type id 31/);
    await expect(readGguf(join(dir, 'does-not-exist.gguf'))).rejects.toBeInstanceOf(ModelNotFoundError);
  });
});

describe.skipIf(!existsSync(stories))('readGguf on real files', () => {
  it('stories260K.gguf: header, metadata and tensor table', async () => {
    const g = await readGguf(stories);
    expect(g.version).toBe(3);
    expect(g.tensors).toHaveLength(48);
    expect(g.metadata['general.architecture']).toBe('llama');
    expect(g.metadata['llama.block_count']).toBe(5);
    expect(g.metadata['llama.attention.head_count_kv']).toBe(4);
    expect(g.metadata['llama.attention.layer_norm_rms_epsilon']).toBeCloseTo(1e-5, 10);
    expect((g.metadata['tokenizer.ggml.tokens'] as string[]).slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    expect(g.metadata['tokenizer.ggml.scores']).toHaveLength(512);
    const embd = g.tensors.find((t) => t.name === 'token_embd.weight')!;
    expect(embd.dims).toEqual([64, 512]);
    expect(embd.typeName).toBe('F32');
    const total = g.tensors.reduce((s, t) => s + t.nbytes, 0);
    expect(total).toBe(1171200);
    for (const t of g.tensors) {
      expect(t.offset % 32).toBe(0);
      expect(t.offset + t.nbytes).toBeLessThanOrEqual(g.fileSize);
    }
  });

  it.skipIf(!existsSync(gpt2Vocab))('ggml-vocab-gpt-2.gguf: a vocabulary-only file', async () => {
    const g = await readGguf(gpt2Vocab);
    expect(g.tensors).toHaveLength(0);
    expect(g.metadata['tokenizer.ggml.model']).toBe('gpt2');
    expect(g.metadata['tokenizer.ggml.pre']).toBe('gpt-2');
    expect(g.metadata['tokenizer.ggml.tokens']).toHaveLength(50257);
    expect(g.metadata['tokenizer.ggml.merges']).toHaveLength(50000);
    expect((g.metadata['tokenizer.ggml.merges'] as string[])[0]).toBe('Ġ t');
  });
});
if (!existsSync(stories)) console.warn(`skipping real-file GGUF tests: ${stories} not found (../shared is absent)`);
