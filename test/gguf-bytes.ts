// Test helper: builds GGUF and safetensors files byte by byte, so the readers' tests can make valid
// files and then break them in precise ways.
import { GgufValueType } from '../engine/gguf.js';

export interface KvEntry {
  key: string;
  type: GgufValueType;
  value: unknown;
  /** Element type for ARRAY values (nested arrays: ARRAY, with `nestedType` for the inner elements). */
  elementType?: GgufValueType;
  nestedType?: GgufValueType;
}

export interface TensorEntry {
  name: string;
  dims: number[];
  type: number;
  nbytes: number;
  /** Relative offset override (default: packed, aligned). */
  offset?: number;
}

export class ByteWriter {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u8(v: number) { const b = Buffer.alloc(1); b.writeUInt8(v); this.push(b); }
  i8(v: number) { const b = Buffer.alloc(1); b.writeInt8(v); this.push(b); }
  u16(v: number) { const b = Buffer.alloc(2); b.writeUInt16LE(v); this.push(b); }
  i16(v: number) { const b = Buffer.alloc(2); b.writeInt16LE(v); this.push(b); }
  u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  i32(v: number) { const b = Buffer.alloc(4); b.writeInt32LE(v); this.push(b); }
  f32(v: number) { const b = Buffer.alloc(4); b.writeFloatLE(v); this.push(b); }
  f64(v: number) { const b = Buffer.alloc(8); b.writeDoubleLE(v); this.push(b); }
  u64(v: number | bigint) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  i64(v: number | bigint) { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(v)); this.push(b); }
  str(s: string) { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  toBuffer(): Buffer { return Buffer.concat(this.chunks); }
}

function writeScalar(w: ByteWriter, type: GgufValueType, v: unknown): void {
  switch (type) {
    case GgufValueType.UINT8: return w.u8(v as number);
    case GgufValueType.INT8: return w.i8(v as number);
    case GgufValueType.UINT16: return w.u16(v as number);
    case GgufValueType.INT16: return w.i16(v as number);
    case GgufValueType.UINT32: return w.u32(v as number);
    case GgufValueType.INT32: return w.i32(v as number);
    case GgufValueType.FLOAT32: return w.f32(v as number);
    case GgufValueType.BOOL: return w.u8(v ? 1 : 0);
    case GgufValueType.STRING: return w.str(v as string);
    case GgufValueType.UINT64: return w.u64(v as number | bigint);
    case GgufValueType.INT64: return w.i64(v as number | bigint);
    case GgufValueType.FLOAT64: return w.f64(v as number);
    default: throw new Error(`not a scalar type ${type}`);
  }
}

function writeValue(w: ByteWriter, e: { type: GgufValueType; value: unknown; elementType?: GgufValueType; nestedType?: GgufValueType }): void {
  if (e.type !== GgufValueType.ARRAY) return writeScalar(w, e.type, e.value);
  const arr = e.value as unknown[];
  w.u32(e.elementType!);
  w.u64(arr.length);
  for (const item of arr) {
    if (e.elementType === GgufValueType.ARRAY) writeValue(w, { type: GgufValueType.ARRAY, value: item, elementType: e.nestedType });
    else writeScalar(w, e.elementType!, item);
  }
}

export interface GgufBuildOptions {
  version?: number;
  magic?: number;
  alignment?: number;
  kv?: KvEntry[];
  tensors?: TensorEntry[];
  /** Append the tensor data section (zero bytes); default true. */
  withData?: boolean;
}

/** Builds a GGUF file: header, metadata, tensor infos, padding, then zero-filled tensor data. */
export function buildGguf(o: GgufBuildOptions): Buffer {
  const alignment = o.alignment ?? 32;
  const kv = o.kv ?? [];
  const tensors = o.tensors ?? [];
  const w = new ByteWriter();
  w.u32(o.magic ?? 0x46554747);
  w.u32(o.version ?? 3);
  w.u64(tensors.length);
  w.u64(kv.length);
  for (const e of kv) {
    w.str(e.key);
    w.u32(e.type);
    writeValue(w, e);
  }
  let next = 0;
  const placed: Array<{ offset: number; nbytes: number }> = [];
  for (const t of tensors) {
    const offset = t.offset ?? next;
    placed.push({ offset, nbytes: t.nbytes });
    next = Math.ceil((offset + t.nbytes) / alignment) * alignment;
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(offset);
  }
  if (o.withData === false || tensors.length === 0) return w.toBuffer();
  const headerEnd = w.length;
  const dataStart = Math.ceil(headerEnd / alignment) * alignment;
  const dataEnd = Math.max(...placed.map((p) => p.offset + p.nbytes));
  w.push(Buffer.alloc(dataStart - headerEnd + dataEnd));
  return w.toBuffer();
}

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data?: Buffer;
  /** Override data_offsets (default: packed in order). */
  dataOffsets?: [number, number];
}

const ST_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, F64: 8 };

/** Builds a safetensors file; tensor data defaults to zeros of the right size. */
export function buildSafetensors(entries: Record<string, SafetensorsEntry>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const datas: Buffer[] = [];
  let pos = 0;
  for (const [name, e] of Object.entries(entries)) {
    const n = e.shape.reduce((a, b) => a * b, 1) * (ST_BYTES[e.dtype] ?? 1);
    const data = e.data ?? Buffer.alloc(n);
    header[name] = { dtype: e.dtype, shape: e.shape, data_offsets: e.dataOffsets ?? [pos, pos + data.length] };
    datas.push(data);
    pos += data.length;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...datas]);
}
