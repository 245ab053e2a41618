// Reads one tensor of a ModelSpec straight from its file (no mmap, no native code) and widens it to
// float32, decoding f16 and bf16 by their bit layouts.
import { closeSync, openSync, readSync } from 'node:fs';
import type { ModelSpec, TensorDesc } from '../../engine/model-spec.js';

export function f16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

export function bf16BitsToNumber(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits << 16);
  return view.getFloat32(0);
}

export function readTensor(spec: ModelSpec, desc: TensorDesc): Float32Array {
  const bytes = Buffer.alloc(desc.nbytes);
  const fd = openSync(spec.files[desc.fileIndex], 'r');
  try {
    let done = 0;
    while (done < desc.nbytes) {
      const n = readSync(fd, bytes, done, desc.nbytes - done, desc.offset + done);
      if (n === 0) throw new Error(`unexpected end of file reading ${desc.name}`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  const count = desc.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    if (desc.dtype === 'f32') out[i] = bytes.readFloatLE(i * 4);
    else if (desc.dtype === 'f16') out[i] = f16BitsToNumber(bytes.readUInt16LE(i * 2));
    else out[i] = bf16BitsToNumber(bytes.readUInt16LE(i * 2));
  }
  return out;
}
