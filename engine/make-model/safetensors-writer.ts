// Writes one safetensors file: an 8-byte header length, the JSON header (padded with spaces to a multiple
// of 8 so tensor data stays aligned), then each tensor's bytes streamed in header order.
import { open } from 'node:fs/promises';
import type { WeightDType } from '../model-spec.js';
import { InternalError } from '../errors.js';

export const SAFETENSORS_DTYPE_NAMES: Record<WeightDType, string> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };

export interface SafetensorsTensorToWrite {
  name: string;
  dtype: WeightDType;
  shape: number[];
  nbytes: number;
  chunks: () => Iterable<Uint8Array>;
}

export interface WrittenSafetensor {
  name: string;
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  nbytes: number;
}

export async function writeSafetensors(path: string, tensors: readonly SafetensorsTensorToWrite[]): Promise<WrittenSafetensor[]> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let end = 0;
  const relative: number[] = [];
  for (const t of tensors) {
    relative.push(end);
    header[t.name] = { dtype: SAFETENSORS_DTYPE_NAMES[t.dtype], shape: t.shape, data_offsets: [end, end + t.nbytes] };
    end += t.nbytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const jsonBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(jsonBytes.length));
  const dataStart = 8 + jsonBytes.length;

  const file = await open(path, 'w');
  try {
    await file.write(Buffer.concat([prefix, jsonBytes]));
    for (const t of tensors) {
      let written = 0;
      for (const chunk of t.chunks()) {
        await file.write(chunk);
        written += chunk.byteLength;
      }
      if (written !== t.nbytes) throw new InternalError(`safetensors writer: tensor ${t.name} produced ${written} bytes, expected ${t.nbytes}`);
    }
  } finally {
    await file.close();
  }
  return tensors.map((t, i) => ({ name: t.name, offset: dataStart + relative[i], nbytes: t.nbytes }));
}
