// Writes small artefact files (safetensors of F32 tensors, JSON) under a fresh temp dir for press tests.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '../../engine/make-model/safetensors-writer.js';

export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

export function makeTempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function writeF32Safetensors(path: string, tensors: Record<string, F32Tensor>): Promise<string> {
  await writeSafetensors(
    path,
    Object.entries(tensors).map(([name, t]) => {
      if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`tensor ${name}: data does not match shape`);
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      return { name, dtype: 'f32' as const, shape: t.shape, nbytes: bytes.byteLength, chunks: () => [bytes] };
    }),
  );
  return path;
}

export function writeJson(path: string, value: unknown): string {
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}
