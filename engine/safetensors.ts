// safetensors header reader: the JSON table of tensors, validated against the file, never the data.
// Layout: u64 little-endian header length N, N bytes of JSON, then the data section that every
// tensor's data_offsets index into.
import { open, type FileHandle } from 'node:fs/promises';
import { CorruptModelError, ModelNotFoundError, UnsupportedDtypeError } from './errors.js';
import type { WeightDType } from './model-spec.js';

/** The dtypes the engine computes with, keyed by their safetensors spelling. */
export const SAFETENSORS_SUPPORTED_DTYPES: Readonly<Record<string, { dtype: WeightDType; bytes: number }>> = {
  F32: { dtype: 'f32', bytes: 4 },
  F16: { dtype: 'f16', bytes: 2 },
  BF16: { dtype: 'bf16', bytes: 2 },
};

/** Element sizes of every safetensors dtype (for validating files whose readers accept more than weights). */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

export interface ReadSafetensorsOptions {
  /**
   * Dtypes to accept (default: F32, F16, BF16, the weight dtypes). Artefact files (press statistics,
   * patterns) may allow others from SAFETENSORS_DTYPE_BYTES; anything outside is UnsupportedDtypeError.
   */
  acceptDtypes?: readonly string[];
}

/** safetensors' own limit on the JSON header (100 MB); anything larger is a lying length. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensor {
  name: string;
  /** The dtype string as stored ("F32", "F16", "BF16"). */
  dtype: string;
  shape: number[];
  /** data_offsets as stored, relative to the start of the data section. */
  dataOffsets: [number, number];
  /** Absolute byte offset in the file. */
  offset: number;
  nbytes: number;
}

export interface SafetensorsHeader {
  path: string;
  fileSize: number;
  /** Absolute offset of the data section (8 + header length). */
  dataOffset: number;
  metadata: Record<string, string>;
  tensors: SafetensorsTensor[];
}

export async function readSafetensorsHeader(path: string, options: ReadSafetensorsOptions = {}): Promise<SafetensorsHeader> {
  const accept = options.acceptDtypes ?? Object.keys(SAFETENSORS_SUPPORTED_DTYPES);
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new ModelNotFoundError(`safetensors file not found or unreadable: ${path} (${(err as Error).message})`, { cause: err });
  }
  const corrupt = (what: string) => new CorruptModelError(`Corrupt safetensors file ${path}: ${what}`);
  try {
    const fileSize = (await fh.stat()).size;
    if (fileSize < 8) throw corrupt(`file is ${fileSize} bytes, too short to hold the 8-byte header length`);
    const lenBuf = Buffer.alloc(8);
    await readExactly(fh, lenBuf, 0, corrupt);
    const headerLen = lenBuf.readBigUInt64LE(0);
    if (headerLen > BigInt(fileSize - 8)) {
      throw corrupt(`header length ${headerLen} runs past the end of the file (${fileSize} bytes)`);
    }
    if (headerLen > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) throw corrupt(`header length ${headerLen} exceeds the 100 MB limit`);
    const n = Number(headerLen);
    if (n < 2) throw corrupt(`header length ${n} is too small for a JSON object`);
    const json = Buffer.alloc(n);
    await readExactly(fh, json, 8, corrupt);
    let parsed: unknown;
    try {
      parsed = JSON.parse(json.toString('utf8'));
    } catch (err) {
      throw new CorruptModelError(`Corrupt safetensors file ${path}: header is not valid JSON (${(err as Error).message})`, { cause: err });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw corrupt('header is not a JSON object');

    const dataOffset = 8 + n;
    const dataSize = fileSize - dataOffset;
    const metadata: Record<string, string> = {};
    const tensors: SafetensorsTensor[] = [];
    for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw corrupt('__metadata__ is not an object');
        for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
          if (typeof v !== 'string') throw corrupt(`__metadata__.${k} is not a string`);
          metadata[k] = v;
        }
        continue;
      }
      tensors.push(parseTensorEntry(name, entry, dataOffset, dataSize, path, accept, corrupt));
    }

    const byOffset = [...tensors].sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0]);
    for (let i = 1; i < byOffset.length; i++) {
      const prev = byOffset[i - 1];
      const cur = byOffset[i];
      if (prev.dataOffsets[1] > cur.dataOffsets[0] && prev.nbytes > 0 && cur.nbytes > 0) {
        throw corrupt(`data of tensors "${prev.name}" and "${cur.name}" overlap`);
      }
    }
    return { path, fileSize, dataOffset, metadata, tensors };
  } finally {
    await fh.close();
  }
}

function parseTensorEntry(
  name: string,
  entry: unknown,
  dataOffset: number,
  dataSize: number,
  path: string,
  accept: readonly string[],
  corrupt: (what: string) => CorruptModelError,
): SafetensorsTensor {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw corrupt(`entry for tensor "${name}" is not an object`);
  const { dtype, shape, data_offsets } = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== 'string') throw corrupt(`tensor "${name}" has no dtype string`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw corrupt(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
  }
  if (
    !Array.isArray(data_offsets) ||
    data_offsets.length !== 2 ||
    !data_offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    data_offsets[0] > data_offsets[1]
  ) {
    throw corrupt(`tensor "${name}" has invalid data_offsets ${JSON.stringify(data_offsets)}`);
  }
  const elementBytes = SAFETENSORS_DTYPE_BYTES[dtype];
  if (elementBytes === undefined || !accept.includes(dtype)) {
    throw new UnsupportedDtypeError(
      `safetensors file ${path}: tensor "${name}" has dtype ${dtype}, which is not supported; supported: ${accept.join(', ')}`,
    );
  }
  const [begin, end] = data_offsets as [number, number];
  if (end > dataSize) {
    throw corrupt(`data of tensor "${name}" (data_offsets [${begin}, ${end}]) runs past the end of the file (data section is ${dataSize} bytes)`);
  }
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  const expected = elements * elementBytes;
  if (end - begin !== expected) {
    throw corrupt(
      `tensor "${name}" ${dtype}[${(shape as number[]).join(', ')}] needs ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, dtype, shape: [...(shape as number[])], dataOffsets: [begin, end], offset: dataOffset + begin, nbytes: end - begin };
}

async function readExactly(
  fh: FileHandle,
  buf: Buffer,
  position: number,
  corrupt: (what: string) => CorruptModelError,
): Promise<void> {
  let filled = 0;
  while (filled < buf.length) {
    const { bytesRead } = await fh.read(buf, filled, buf.length - filled, position + filled);
    if (bytesRead === 0) throw corrupt('unexpected end of file');
    filled += bytesRead;
  }
}
