// Writes GGUF v3 files: metadata, tensor infos, then tensor data streamed tensor by tensor, each
// aligned to general.alignment. Type codes come from the reader (engine/gguf.ts) so the two agree.
import { open } from 'node:fs/promises';
import { InternalError } from '../errors.js';
import { GGUF_MAGIC, GgmlType, GgufValueType } from '../gguf.js';

export type GgufMetadataValue =
  | { type: GgufValueType.STRING; value: string }
  | { type: GgufValueType.UINT32 | GgufValueType.INT32 | GgufValueType.FLOAT32; value: number }
  | { type: GgufValueType.BOOL; value: boolean }
  | { type: GgufValueType.ARRAY; elementType: GgufValueType.STRING; value: readonly string[] }
  | { type: GgufValueType.ARRAY; elementType: GgufValueType.INT32; value: readonly number[] };

export interface GgufTensorToWrite {
  name: string;
  /** Row-major shape, outermost first; GGUF stores the reverse (ne[0] innermost). */
  shape: number[];
  type: GgmlType.F32 | GgmlType.F16 | GgmlType.BF16;
  nbytes: number;
  /** Produces the tensor's bytes in order; each chunk is written before the next is requested. */
  chunks: () => Iterable<Uint8Array>;
}

export interface WrittenTensor {
  name: string;
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  nbytes: number;
}

export const GGUF_ALIGNMENT = 32;

/** Little-endian byte builder for the header, which is small next to the weights even with a 150k vocabulary. */
class HeaderBuilder {
  private parts: Buffer[] = [];
  length = 0;

  private push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(v >>> 0);
    this.push(b);
  }
  i32(v: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  u64(v: number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  f32(v: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  u8(v: number): void {
    this.push(Buffer.from([v]));
  }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }
  zeros(n: number): void {
    this.push(Buffer.alloc(n));
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }
}

function writeValue(h: HeaderBuilder, v: GgufMetadataValue): void {
  h.u32(v.type);
  switch (v.type) {
    case GgufValueType.STRING:
      h.string(v.value);
      return;
    case GgufValueType.UINT32:
      h.u32(v.value);
      return;
    case GgufValueType.INT32:
      h.i32(v.value);
      return;
    case GgufValueType.FLOAT32:
      h.f32(v.value);
      return;
    case GgufValueType.BOOL:
      h.u8(v.value ? 1 : 0);
      return;
    case GgufValueType.ARRAY:
      h.u32(v.elementType);
      h.u64(v.value.length);
      if (v.elementType === GgufValueType.STRING) for (const s of v.value as readonly string[]) h.string(s);
      else for (const n of v.value as readonly number[]) h.i32(n);
      return;
  }
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

export async function writeGguf(
  path: string,
  metadata: ReadonlyArray<[string, GgufMetadataValue]>,
  tensors: readonly GgufTensorToWrite[],
): Promise<WrittenTensor[]> {
  const h = new HeaderBuilder();
  h.u32(GGUF_MAGIC);
  h.u32(3);
  h.u64(tensors.length);
  h.u64(metadata.length);
  for (const [key, value] of metadata) {
    h.string(key);
    writeValue(h, value);
  }
  const relativeOffsets: number[] = [];
  let dataBytes = 0;
  for (const t of tensors) {
    h.string(t.name);
    h.u32(t.shape.length);
    for (let i = t.shape.length - 1; i >= 0; i--) h.u64(t.shape[i]);
    h.u32(t.type);
    dataBytes = alignUp(dataBytes, GGUF_ALIGNMENT);
    relativeOffsets.push(dataBytes);
    h.u64(dataBytes);
    dataBytes += t.nbytes;
  }
  const dataStart = alignUp(h.length, GGUF_ALIGNMENT);
  h.zeros(dataStart - h.length);

  const file = await open(path, 'w');
  try {
    await file.write(h.toBuffer());
    let position = dataStart;
    const padding = Buffer.alloc(GGUF_ALIGNMENT);
    for (let i = 0; i < tensors.length; i++) {
      const target = dataStart + relativeOffsets[i];
      if (target > position) await file.write(padding, 0, target - position);
      position = target;
      let written = 0;
      for (const chunk of tensors[i].chunks()) {
        await file.write(chunk);
        written += chunk.byteLength;
      }
      if (written !== tensors[i].nbytes) throw new InternalError(`GGUF writer: tensor ${tensors[i].name} produced ${written} bytes, expected ${tensors[i].nbytes}`);
      position += written;
    }
  } finally {
    await file.close();
  }
  return tensors.map((t, i) => ({ name: t.name, offset: dataStart + relativeOffsets[i], nbytes: t.nbytes }));
}
