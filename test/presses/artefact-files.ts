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

/** A deterministic tensor of the shape: sin(i·k + 0.1)·scale. */
export function waveTensor(shape: number[], k: number, scale = 0.3): F32Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float32Array.from({ length: size }, (_x, i) => Math.sin(i * k + 0.1) * scale) };
}

/**
 * The trained artefacts press tests make for a model shape: KVzap MLP weights (`kvzap.safetensors`) and FastKVzip
 * gates (`gates.safetensors`) under `dir`, every tensor a waveTensor.
 */
export async function writeTrainedPressArtefacts(
  dir: string,
  shape: { nLayers: number; nHeads: number; nKvHeads: number; hidden: number },
): Promise<{ kvzap: string; gates: string }> {
  const make = waveTensor;
  const { nLayers: L, nHeads: H, nKvHeads: Hk, hidden: D } = shape;
  const kvzap: Record<string, F32Tensor> = {};
  const gates: Record<string, F32Tensor> = {};
  for (let l = 0; l < L; l++) {
    Object.assign(kvzap, { [`layers.${l}.w1`]: make([12, D], 0.3 + l), [`layers.${l}.b1`]: make([12], 0.5), [`layers.${l}.w2`]: make([Hk, 12], 0.8), [`layers.${l}.b2`]: make([Hk], 0.2) });
    Object.assign(gates, {
      [`layers.${l}.wq`]: make([H * 16, D], 0.37), [`layers.${l}.bq`]: make([H * 16], 1.1), [`layers.${l}.wk`]: make([Hk * 16, D], 0.53),
      [`layers.${l}.q_norm`]: make([16], 0.2, 1), [`layers.${l}.k_norm`]: make([16], 0.9, 1), [`layers.${l}.bias`]: make([Hk, H / Hk], 2.3, 1),
      [`layers.${l}.sink_keys`]: make([Hk, 4, 16], 0.71, 1),
    });
  }
  return {
    kvzap: await writeF32Safetensors(join(dir, 'kvzap.safetensors'), kvzap),
    gates: await writeF32Safetensors(join(dir, 'gates.safetensors'), gates),
  };
}
