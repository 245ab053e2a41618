// GGUF (v2/v3) header reader: metadata and tensor infos, never the tensor data itself.
// Every length and count is checked against what is left of the file before anything is allocated,
// so a hostile or truncated file ends in a CorruptModelError instead of a huge allocation or a crash.
import { open, type FileHandle } from 'node:fs/promises';
import { CorruptModelError, ModelNotFoundError, UnsupportedDtypeError } from './errors.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
export const GGUF_SUPPORTED_VERSIONS: readonly number[] = [2, 3];
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** GGML_MAX_DIMS: a ggml tensor has at most 4 dimensions. */
export const GGUF_MAX_DIMS = 4;

export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Bytes of one scalar value of each GGUF type (strings and arrays are variable-sized). */
export const GGUF_SCALAR_SIZES: Readonly<Partial<Record<GgufValueType, number>>> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
};

/** ggml tensor type ids as stored in GGUF tensor infos. */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
}

export interface GgmlTypeInfo {
  name: string;
  /** Elements per block (1 for plain types). */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
  quantized: boolean;
}

const t = (name: string, blockSize: number, typeSize: number): GgmlTypeInfo => ({
  name,
  blockSize,
  typeSize,
  quantized: blockSize > 1,
});

/** Size table of every ggml type a GGUF file can hold (ggml.c's type_traits). */
export const GGML_TYPES: Readonly<Record<number, GgmlTypeInfo>> = {
  [GgmlType.F32]: t('F32', 1, 4),
  [GgmlType.F16]: t('F16', 1, 2),
  [GgmlType.Q4_0]: t('Q4_0', 32, 18),
  [GgmlType.Q4_1]: t('Q4_1', 32, 20),
  [GgmlType.Q5_0]: t('Q5_0', 32, 22),
  [GgmlType.Q5_1]: t('Q5_1', 32, 24),
  [GgmlType.Q8_0]: t('Q8_0', 32, 34),
  [GgmlType.Q8_1]: t('Q8_1', 32, 36),
  [GgmlType.Q2_K]: t('Q2_K', 256, 84),
  [GgmlType.Q3_K]: t('Q3_K', 256, 110),
  [GgmlType.Q4_K]: t('Q4_K', 256, 144),
  [GgmlType.Q5_K]: t('Q5_K', 256, 176),
  [GgmlType.Q6_K]: t('Q6_K', 256, 210),
  [GgmlType.Q8_K]: t('Q8_K', 256, 292),
  [GgmlType.IQ2_XXS]: t('IQ2_XXS', 256, 66),
  [GgmlType.IQ2_XS]: t('IQ2_XS', 256, 74),
  [GgmlType.IQ3_XXS]: t('IQ3_XXS', 256, 98),
  [GgmlType.IQ1_S]: t('IQ1_S', 256, 50),
  [GgmlType.IQ4_NL]: t('IQ4_NL', 32, 18),
  [GgmlType.IQ3_S]: t('IQ3_S', 256, 110),
  [GgmlType.IQ2_S]: t('IQ2_S', 256, 82),
  [GgmlType.IQ4_XS]: t('IQ4_XS', 256, 136),
  [GgmlType.I8]: t('I8', 1, 1),
  [GgmlType.I16]: t('I16', 1, 2),
  [GgmlType.I32]: t('I32', 1, 4),
  [GgmlType.I64]: t('I64', 1, 8),
  [GgmlType.F64]: t('F64', 1, 8),
  [GgmlType.IQ1_M]: t('IQ1_M', 256, 56),
  [GgmlType.BF16]: t('BF16', 1, 2),
  [GgmlType.TQ1_0]: t('TQ1_0', 256, 54),
  [GgmlType.TQ2_0]: t('TQ2_0', 256, 66),
  [GgmlType.MXFP4]: t('MXFP4', 32, 17),
};

export function ggmlTypeName(type: number): string {
  return GGML_TYPES[type]?.name ?? `unknown(${type})`;
}

/** Bytes a tensor of `nElements` elements of this type takes, or undefined for an unknown type. */
export function ggmlTensorBytes(type: number, dims: readonly number[]): number | undefined {
  const info = GGML_TYPES[type];
  if (!info) return undefined;
  if (dims.length > 0 && dims[0] % info.blockSize !== 0) return undefined;
  const n = dims.reduce((a, b) => a * b, 1);
  return (n / info.blockSize) * info.typeSize;
}

/** A metadata value: scalars as numbers (64-bit integers as bigint when beyond 2^53), arrays as JS arrays. */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufValueTypeInfo {
  type: GgufValueType;
  /** For arrays: the element type (nested arrays have ARRAY here). */
  elementType?: GgufValueType;
}

export interface GgufTensorInfo {
  name: string;
  /** GGUF order: dims[0] is the fastest-varying (ne[0]). */
  dims: number[];
  /** ggml type id (GgmlType). */
  type: number;
  typeName: string;
  nElements: number;
  nbytes: number;
  /** Offset relative to the start of the data section, as stored in the file. */
  relativeOffset: number;
  /** Absolute byte offset in the file (dataOffset + relativeOffset). */
  offset: number;
}

export interface GgufFile {
  path: string;
  version: number;
  fileSize: number;
  alignment: number;
  /** Absolute offset of the tensor data section (end of header padded to `alignment`). */
  dataOffset: number;
  /** Key → value, in file order (a null-prototype object, so keys like "__proto__" are plain data). */
  metadata: Record<string, GgufValue>;
  /** Key → the GGUF type the value was stored as (writers and round trips need it). */
  metadataTypes: Record<string, GgufValueTypeInfo>;
  tensors: GgufTensorInfo[];
}

// Caps that no real file approaches but that keep a lying header from exhausting memory.
const MAX_STRING_BYTES = 1 << 30;
const MAX_ARRAY_ELEMENTS = 1 << 28;
const MAX_ARRAY_NESTING = 8;
const READ_CHUNK = 1 << 20;
/** Smallest encoding of one metadata key/value pair: key length (8) + value type (4) + a 1-byte value. */
const MIN_KV_BYTES = 8 + 4 + 1;
/** Smallest encoding of one tensor info: name length (8) + n_dims (4) + type (4) + offset (8). */
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8;

/** Reads forward through a file in bounded chunks; every request is checked against the file size first. */
class BoundedReader {
  private buf = Buffer.alloc(0);
  private bufStart = 0; // file offset of buf[0]
  private pos = 0; // file offset of the next byte to parse

  constructor(
    private readonly fh: FileHandle,
    readonly fileSize: number,
    private readonly path: string,
  ) {}

  get offset(): number {
    return this.pos;
  }

  remaining(): number {
    return this.fileSize - this.pos;
  }

  corrupt(what: string): CorruptModelError {
    return new CorruptModelError(`Corrupt GGUF file ${this.path}: ${what} (at byte ${this.pos} of ${this.fileSize})`);
  }

  /** Whether `n` bytes from the current position are already buffered (the fast, synchronous path). */
  has(n: number): boolean {
    return this.bufStart + this.buf.length - this.pos >= n;
  }

  /** Reads a string synchronously when it is already buffered; undefined when it needs more I/O. */
  tryString(): string | undefined {
    if (!this.has(8)) return undefined;
    const i = this.pos - this.bufStart;
    const len = this.buf.readBigUInt64LE(i);
    if (len > BigInt(MAX_STRING_BYTES) || !this.has(8 + Number(len))) return undefined;
    this.pos += 8;
    return this.utf8(Number(len));
  }

  /** Makes sure `n` bytes from the current position are buffered. */
  async need(n: number, what: string): Promise<void> {
    if (n > this.remaining()) {
      throw this.corrupt(`${what} needs ${n} bytes but only ${this.remaining()} remain (truncated file or lying length)`);
    }
    const have = this.bufStart + this.buf.length - this.pos;
    if (have >= n) return;
    const want = Math.min(Math.max(n, READ_CHUNK), this.remaining());
    const next = Buffer.allocUnsafe(want);
    let filled = 0;
    while (filled < want) {
      const { bytesRead } = await this.fh.read(next, filled, want - filled, this.pos + filled);
      if (bytesRead === 0) throw this.corrupt(`unexpected end of file while reading ${what}`);
      filled += bytesRead;
    }
    this.buf = next;
    this.bufStart = this.pos;
  }

  private at(n: number): number {
    const i = this.pos - this.bufStart;
    this.pos += n;
    return i;
  }

  u8(): number {
    return this.buf.readUInt8(this.at(1));
  }
  i8(): number {
    return this.buf.readInt8(this.at(1));
  }
  u16(): number {
    return this.buf.readUInt16LE(this.at(2));
  }
  i16(): number {
    return this.buf.readInt16LE(this.at(2));
  }
  u32(): number {
    return this.buf.readUInt32LE(this.at(4));
  }
  i32(): number {
    return this.buf.readInt32LE(this.at(4));
  }
  f32(): number {
    return this.buf.readFloatLE(this.at(4));
  }
  f64(): number {
    return this.buf.readDoubleLE(this.at(8));
  }
  u64(): bigint {
    return this.buf.readBigUInt64LE(this.at(8));
  }
  i64(): bigint {
    return this.buf.readBigInt64LE(this.at(8));
  }
  /** A uint64 that must fit a JS number exactly (lengths, counts, offsets). */
  u64Number(what: string): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.corrupt(`${what} ${v} is absurdly large`);
    return Number(v);
  }
  utf8(n: number): string {
    const i = this.at(n);
    return this.buf.toString('utf8', i, i + n);
  }
}

function int64Value(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

async function readString(r: BoundedReader, what: string): Promise<string> {
  await r.need(8, `length of ${what}`);
  const len = r.u64Number(`length of ${what}`);
  if (len > MAX_STRING_BYTES) throw r.corrupt(`length of ${what} (${len} bytes) is absurd`);
  await r.need(len, what);
  return r.utf8(len);
}

function isValueType(type: number): type is GgufValueType {
  return Number.isInteger(type) && type >= GgufValueType.UINT8 && type <= GgufValueType.FLOAT64;
}

/** Minimal bytes one element of this type occupies (for bounding array counts before allocating). */
function minElementBytes(type: GgufValueType): number {
  if (type === GgufValueType.STRING) return 8;
  if (type === GgufValueType.ARRAY) return 12;
  return GGUF_SCALAR_SIZES[type]!;
}

async function readScalar(r: BoundedReader, type: GgufValueType, what: string): Promise<GgufValue> {
  if (type === GgufValueType.STRING) return readString(r, what);
  await r.need(GGUF_SCALAR_SIZES[type]!, what);
  if (type === GgufValueType.BOOL) {
    const b = r.u8();
    if (b > 1) throw r.corrupt(`${what} is a bool with value ${b}`);
    return b === 1;
  }
  return readBufferedScalar(r, type);
}

function readBufferedScalar(r: BoundedReader, type: GgufValueType): number | bigint {
  switch (type) {
    case GgufValueType.UINT8:
      return r.u8();
    case GgufValueType.INT8:
      return r.i8();
    case GgufValueType.UINT16:
      return r.u16();
    case GgufValueType.INT16:
      return r.i16();
    case GgufValueType.UINT32:
      return r.u32();
    case GgufValueType.INT32:
      return r.i32();
    case GgufValueType.FLOAT32:
      return r.f32();
    case GgufValueType.UINT64:
      return int64Value(r.u64());
    case GgufValueType.INT64:
      return int64Value(r.i64());
    case GgufValueType.FLOAT64:
      return r.f64();
    default:
      throw new Error(`not a numeric GGUF type: ${type}`);
  }
}

async function readArray(r: BoundedReader, what: string, depth: number): Promise<{ value: GgufValue[]; elementType: GgufValueType }> {
  if (depth > MAX_ARRAY_NESTING) throw r.corrupt(`${what} nests arrays deeper than ${MAX_ARRAY_NESTING}`);
  await r.need(12, `array header of ${what}`);
  const elementType = r.u32();
  if (!isValueType(elementType)) throw r.corrupt(`${what} is an array of unknown value type ${elementType}`);
  const count = r.u64Number(`element count of ${what}`);
  if (count > MAX_ARRAY_ELEMENTS || count * minElementBytes(elementType) > r.remaining()) {
    throw r.corrupt(`${what} claims ${count} elements, more than the file can hold`);
  }
  const value: GgufValue[] = new Array(count);
  const scalarSize = GGUF_SCALAR_SIZES[elementType];
  if (scalarSize !== undefined && elementType !== GgufValueType.BOOL) {
    // Plain numbers: one bounded read, then a synchronous loop.
    await r.need(count * scalarSize, what);
    for (let i = 0; i < count; i++) value[i] = readBufferedScalar(r, elementType);
    return { value, elementType };
  }
  for (let i = 0; i < count; i++) {
    if (elementType === GgufValueType.STRING) {
      const fast = r.tryString();
      if (fast !== undefined) {
        value[i] = fast;
        continue;
      }
    }
    value[i] =
      elementType === GgufValueType.ARRAY
        ? (await readArray(r, `${what}[${i}]`, depth + 1)).value
        : await readScalar(r, elementType, `${what}[${i}]`);
  }
  return { value, elementType };
}

async function readValue(r: BoundedReader, key: string): Promise<{ value: GgufValue; types: GgufValueTypeInfo }> {
  await r.need(4, `value type of "${key}"`);
  const type = r.u32();
  if (!isValueType(type)) throw r.corrupt(`metadata "${key}" has unknown value type ${type}`);
  if (type === GgufValueType.ARRAY) {
    const { value, elementType } = await readArray(r, `metadata "${key}"`, 1);
    return { value, types: { type, elementType } };
  }
  return { value: await readScalar(r, type, `metadata "${key}"`), types: { type } };
}

async function fileSizeOf(fh: FileHandle): Promise<number> {
  return (await fh.stat()).size;
}

/** Reads a GGUF file's header, metadata and tensor infos. Tensor data is not read. */
export async function readGguf(path: string): Promise<GgufFile> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new ModelNotFoundError(`GGUF file not found or unreadable: ${path} (${(err as Error).message})`, { cause: err });
  }
  try {
    const size = await fileSizeOf(fh);
    const r = new BoundedReader(fh, size, path);
    if (size < 4) throw r.corrupt('file is too short to hold the GGUF magic');
    await r.need(4, 'magic');
    const magic = r.u32();
    if (magic !== GGUF_MAGIC) {
      throw r.corrupt(`bad magic 0x${magic.toString(16).padStart(8, '0')} (expected "GGUF"); not a GGUF file`);
    }
    await r.need(4, 'version');
    const version = r.u32();
    if (!GGUF_SUPPORTED_VERSIONS.includes(version)) {
      throw r.corrupt(`unsupported GGUF version ${version} (supported: ${GGUF_SUPPORTED_VERSIONS.join(', ')})`);
    }
    await r.need(16, 'tensor and metadata counts');
    const tensorCount = r.u64Number('tensor count');
    const kvCount = r.u64Number('metadata count');
    if (kvCount * MIN_KV_BYTES > r.remaining()) throw r.corrupt(`metadata count ${kvCount} is more than the file can hold`);
    if (tensorCount * MIN_TENSOR_INFO_BYTES > r.remaining()) {
      throw r.corrupt(`tensor count ${tensorCount} is more than the file can hold`);
    }

    const metadata: Record<string, GgufValue> = Object.create(null);
    const metadataTypes: Record<string, GgufValueTypeInfo> = Object.create(null);
    for (let i = 0; i < kvCount; i++) {
      const key = await readString(r, `key of metadata entry ${i}`);
      if (key in metadata) throw r.corrupt(`duplicate metadata key "${key}"`);
      const { value, types } = await readValue(r, key);
      metadata[key] = value;
      metadataTypes[key] = types;
    }

    let alignment = GGUF_DEFAULT_ALIGNMENT;
    if ('general.alignment' in metadata) {
      const a = metadata['general.alignment'];
      if (typeof a !== 'number' || !Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) {
        throw r.corrupt(`general.alignment ${String(a)} is not a positive power of two`);
      }
      alignment = a;
    }

    const tensors: GgufTensorInfo[] = [];
    const names = new Set<string>();
    for (let i = 0; i < tensorCount; i++) {
      const name = await readString(r, `name of tensor ${i}`);
      if (names.has(name)) throw r.corrupt(`duplicate tensor name "${name}"`);
      names.add(name);
      await r.need(4, `dimension count of tensor "${name}"`);
      const nDims = r.u32();
      if (nDims < 1 || nDims > GGUF_MAX_DIMS) throw r.corrupt(`tensor "${name}" has ${nDims} dimensions (1..${GGUF_MAX_DIMS} allowed)`);
      await r.need(8 * nDims + 4 + 8, `shape, type and offset of tensor "${name}"`);
      const dims: number[] = [];
      let nElements = 1;
      for (let d = 0; d < nDims; d++) {
        const n = r.u64Number(`dimension ${d} of tensor "${name}"`);
        dims.push(n);
        nElements *= n;
        if (!Number.isSafeInteger(nElements)) throw r.corrupt(`tensor "${name}" has an absurd shape [${dims.join(', ')}...]`);
      }
      const type = r.u32();
      const relativeOffset = r.u64Number(`data offset of tensor "${name}"`);
      const info = GGML_TYPES[type];
      if (!info) {
        throw new UnsupportedDtypeError(`GGUF file ${path}: tensor "${name}" has unknown ggml type id ${type}`);
      }
      const nbytes = ggmlTensorBytes(type, dims);
      if (nbytes === undefined) {
        throw r.corrupt(`tensor "${name}" of type ${info.name} has ne[0]=${dims[0]}, not a multiple of its block size ${info.blockSize}`);
      }
      if (relativeOffset % alignment !== 0) {
        throw r.corrupt(`tensor "${name}" data offset ${relativeOffset} is not a multiple of the alignment ${alignment}`);
      }
      tensors.push({ name, dims, type, typeName: info.name, nElements, nbytes, relativeOffset, offset: 0 });
    }

    const dataOffset = Math.ceil(r.offset / alignment) * alignment;
    for (const tensor of tensors) {
      tensor.offset = dataOffset + tensor.relativeOffset;
      if (tensor.offset + tensor.nbytes > size) {
        throw new CorruptModelError(
          `Corrupt GGUF file ${path}: data of tensor "${tensor.name}" (bytes ${tensor.offset}..${tensor.offset + tensor.nbytes}) runs past the end of the file (${size} bytes)`,
        );
      }
    }
    const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < byOffset.length; i++) {
      const prev = byOffset[i - 1];
      const cur = byOffset[i];
      if (prev.offset + prev.nbytes > cur.offset && cur.nbytes > 0 && prev.nbytes > 0) {
        throw new CorruptModelError(
          `Corrupt GGUF file ${path}: data of tensors "${prev.name}" and "${cur.name}" overlap (offsets ${prev.relativeOffset} and ${cur.relativeOffset})`,
        );
      }
    }

    return { path, version, fileSize: size, alignment, dataOffset, metadata, metadataTypes, tensors };
  } finally {
    await fh.close();
  }
}

/** Typed accessors for metadata lookups (undefined when absent, CorruptModelError when of the wrong type). */
export function ggufNumber(file: Pick<GgufFile, 'metadata' | 'path'>, key: string): number | undefined {
  const v = file.metadata[key];
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') throw new CorruptModelError(`GGUF file ${file.path}: metadata "${key}" = ${v} is out of range`);
  throw new CorruptModelError(`GGUF file ${file.path}: metadata "${key}" should be a number, found ${describe(v)}`);
}

export function ggufString(file: Pick<GgufFile, 'metadata' | 'path'>, key: string): string | undefined {
  const v = file.metadata[key];
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  throw new CorruptModelError(`GGUF file ${file.path}: metadata "${key}" should be a string, found ${describe(v)}`);
}

export function ggufBool(file: Pick<GgufFile, 'metadata' | 'path'>, key: string): boolean | undefined {
  const v = file.metadata[key];
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  throw new CorruptModelError(`GGUF file ${file.path}: metadata "${key}" should be a bool, found ${describe(v)}`);
}

export function ggufArray(file: Pick<GgufFile, 'metadata' | 'path'>, key: string): GgufValue[] | undefined {
  const v = file.metadata[key];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v;
  throw new CorruptModelError(`GGUF file ${file.path}: metadata "${key}" should be an array, found ${describe(v)}`);
}

function describe(v: GgufValue): string {
  return Array.isArray(v) ? `an array of ${v.length}` : `${typeof v} ${JSON.stringify(typeof v === 'bigint' ? String(v) : v)}`;
}
