import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorruptModelError, ModelNotFoundError, UnsupportedDtypeError } from '../engine/errors.js';
import { readSafetensorsHeader } from '../engine/safetensors.js';
import { buildSafetensors } from './gguf-bytes.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'presskv-st-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
let n = 0;
async function writeTemp(buf: Buffer): Promise<string> {
  const p = join(dir, `f${n++}.safetensors`);
  await writeFile(p, buf);
  return p;
}

async function expectError(buf: Buffer, cls: new (...a: never[]) => Error, message: RegExp) {
  const err = await readSafetensorsHeader(await writeTemp(buf)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(cls);
  expect((err as Error).message).toMatch(message);
}

describe('readSafetensorsHeader', () => {
  it('reads names, dtypes, shapes and absolute offsets', async () => {
    const a = Buffer.alloc(24);
    a.writeFloatLE(42, 20);
    const buf = buildSafetensors(
      { 'x.weight': { dtype: 'F32', shape: [2, 3], data: a }, 'y.bias': { dtype: 'BF16', shape: [5] }, z: { dtype: 'F16', shape: [0] } },
      { format: 'pt' },
    );
    const h = await readSafetensorsHeader(await writeTemp(buf));
    expect(h.metadata).toEqual({ format: 'pt' });
    expect(h.tensors.map((t) => [t.name, t.dtype, t.shape, t.dataOffsets, t.nbytes])).toEqual([
      ['x.weight', 'F32', [2, 3], [0, 24], 24],
      ['y.bias', 'BF16', [5], [24, 34], 10],
      ['z', 'F16', [0], [34, 34], 0],
    ]);
    const headerLen = Number(buf.readBigUInt64LE(0));
    expect(h.dataOffset).toBe(8 + headerLen);
    expect(h.tensors[0].offset).toBe(h.dataOffset);
    // The absolute offset really points at the tensor's bytes.
    expect(buf.readFloatLE(h.tensors[0].offset + 20)).toBe(42);
  });

  it('truncated files and lying header lengths are CorruptModelError', async () => {
    const buf = buildSafetensors({ w: { dtype: 'F32', shape: [4] } });
    for (let len = 0; len < buf.length; len++) {
      const err = await readSafetensorsHeader(await writeTemp(buf.subarray(0, len))).catch((e: unknown) => e);
      expect(err, `truncated to ${len} of ${buf.length}`).toBeInstanceOf(CorruptModelError);
    }
    const lying = Buffer.from(buf);
    lying.writeBigUInt64LE(2n ** 62n, 0);
    await expectError(lying, CorruptModelError, /header length 4611686018427387904 runs past the end/);
  });

  it('invalid JSON and invalid entries', async () => {
    const bad = Buffer.concat([Buffer.from([9, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a": [1,')]);
    await expectError(bad, CorruptModelError, /not valid JSON/);
    const arr = Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('[]')]);
    await expectError(arr, CorruptModelError, /not a JSON object/);
    await expectError(buildSafetensors({ w: { dtype: 'F32', shape: [-1] as number[], data: Buffer.alloc(4) } }), CorruptModelError, /invalid shape/);
    await expectError(
      buildSafetensors({ w: { dtype: 'F32', shape: [2], dataOffsets: [8, 0] } }),
      CorruptModelError,
      /invalid data_offsets/,
    );
  });

  it('offsets past EOF, size mismatches and overlaps', async () => {
    await expectError(
      buildSafetensors({ w: { dtype: 'F32', shape: [4], data: Buffer.alloc(16), dataOffsets: [0, 1600] } }),
      CorruptModelError,
      /"w".*runs past the end of the file/,
    );
    await expectError(
      buildSafetensors({ w: { dtype: 'F32', shape: [5], data: Buffer.alloc(16) } }),
      CorruptModelError,
      /F32\[5\] needs 20 bytes but data_offsets \[0, 16\] span 16/,
    );
    await expectError(
      buildSafetensors({
        a: { dtype: 'F32', shape: [4], data: Buffer.alloc(16), dataOffsets: [0, 16] },
        b: { dtype: 'F32', shape: [4], data: Buffer.alloc(16), dataOffsets: [8, 24] },
      }),
      CorruptModelError,
      /"a" and "b" overlap/,
    );
  });

  it('dtypes outside F32/F16/BF16 are UnsupportedDtypeError naming the dtype', async () => {
    await expectError(buildSafetensors({ ids: { dtype: 'I64', shape: [3] } }), UnsupportedDtypeError, /"ids" has dtype I64.*supported: F32, F16, BF16/);
    await expectError(buildSafetensors({ q: { dtype: 'F8_E4M3', shape: [3] } }), UnsupportedDtypeError, /F8_E4M3/);
  });

  it('artefact readers can accept more dtypes, still size-checked', async () => {
    const buf = buildSafetensors({ ids: { dtype: 'I64', shape: [3] }, mean: { dtype: 'F32', shape: [2] } });
    const p = await writeTemp(buf);
    const h = await readSafetensorsHeader(p, { acceptDtypes: ['I64', 'F32'] });
    expect(h.tensors.map((t) => [t.name, t.dtype, t.nbytes])).toEqual([
      ['ids', 'I64', 24],
      ['mean', 'F32', 8],
    ]);
    await expect(readSafetensorsHeader(p, { acceptDtypes: ['F32'] })).rejects.toThrow(/dtype I64.*supported: F32$/);
    const wrongSize = buildSafetensors({ ids: { dtype: 'I64', shape: [3], data: Buffer.alloc(12) } });
    await expectError(wrongSize, UnsupportedDtypeError, /I64/);
    const err = await readSafetensorsHeader(await writeTemp(wrongSize), { acceptDtypes: ['I64'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptModelError);
    expect((err as Error).message).toMatch(/I64\[3\] needs 24 bytes/);
  });

  it('a missing file is ModelNotFoundError', async () => {
    await expect(readSafetensorsHeader(join(dir, 'nope.safetensors'))).rejects.toBeInstanceOf(ModelNotFoundError);
  });
});
