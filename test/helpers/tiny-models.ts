// Tiny random models for tests, generated once per machine and reused: cached under the OS temp dir,
// keyed by the options and by a hash of make-model's sources (so a changed generator never serves
// stale files). Generation goes to a private directory first and is renamed into place, so test files
// running in parallel never see a half-written model.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeModel } from '../../engine/make-model/index.js';
import type { Architecture, WeightDType } from '../../engine/model-spec.js';

export interface TinyModelOptions {
  arch: Architecture;
  format: 'gguf' | 'hf';
  dtype?: WeightDType;
  seed?: number;
  /** HF only: force this many safetensors shards. */
  shards?: number;
}

const MAKE_MODEL_DIR = fileURLToPath(new URL('../../engine/make-model/', import.meta.url));

let sourceHash: string | undefined;
function makeModelSourceHash(): string {
  if (!sourceHash) {
    const hash = createHash('sha256');
    for (const file of readdirSync(MAKE_MODEL_DIR).sort()) hash.update(file).update(readFileSync(join(MAKE_MODEL_DIR, file)));
    sourceHash = hash.digest('hex').slice(0, 12);
  }
  return sourceHash;
}

/** Path of a tiny model (a .gguf file or an HF directory), generating it on first use. */
export async function tinyModelPath(options: TinyModelOptions): Promise<string> {
  const { arch, format, dtype = 'f32', seed = 1, shards } = options;
  const root = join(tmpdir(), 'presskv-tiny-models', makeModelSourceHash());
  const key = `${arch}-${format}-${dtype}-s${seed}${shards ? `-x${shards}` : ''}`;
  const finalDir = join(root, key);
  const modelPath = (dir: string): string => join(dir, format === 'gguf' ? 'model.gguf' : 'hf');
  if (existsSync(finalDir)) return modelPath(finalDir);
  await mkdir(root, { recursive: true });
  const workDir = await mkdtemp(join(root, `.${key}-`));
  await makeModel({ arch, shape: 'tiny', dtype, format, seed, out: modelPath(workDir), shards });
  try {
    await rename(workDir, finalDir);
  } catch {
    // Another process finished the same model first; theirs is identical.
    await rm(workDir, { recursive: true, force: true });
  }
  return modelPath(finalDir);
}
