// makeModel(): random-weight models with realistic shapes and working tokenizers and chat templates,
// as GGUF files or HF directories, for tests (tiny shapes) and benchmarks (real model dimensions).
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { SUPPORTED_ARCHITECTURES, type Architecture, type ModelConfig, type ModelSpec, type WeightDType } from '../model-spec.js';
import { chatTemplateFor } from './chat-templates.js';
import { ggufArchitecture, writeGgufModel } from './gguf-model.js';
import { writeHfModel } from './hf-model.js';
import { configFor, SHAPE_NAMES, type ShapeName } from './shapes.js';
import { buildTokenizer, tokenizerFamilyFor } from './synthetic-tokenizer.js';
import { planTensors } from './tensor-plan.js';
import type { ProgressCallback } from './progress.js';

export type { ShapeName } from './shapes.js';
export { SHAPE_NAMES } from './shapes.js';
export type { MakeModelProgress, ProgressCallback } from './progress.js';

export interface MakeModelOptions {
  arch: Architecture;
  shape: ShapeName;
  dtype: WeightDType;
  format: 'gguf' | 'hf';
  seed: number;
  /** The .gguf file to write, or the directory for an HF model (created if missing). */
  out: string;
  /** HF only: number of safetensors shards (default: one per 2 GiB). */
  shards?: number;
  /** Called after each tensor is written (the big shapes take a while). */
  onProgress?: ProgressCallback;
}

export interface MadeModel {
  /** Absolute path of the .gguf file or HF directory. */
  path: string;
  /** The config as a reader of the written files sees it (GGUF llama/mistral: arch llama, interleaved rope). */
  config: ModelConfig;
  /** What readModelFiles(path).spec should return: tensors in GGUF naming with their file offsets. */
  spec: ModelSpec;
  /** The ids that end generation and whether BOS is prepended, as written into the tokenizer files. */
  tokenizer: { bosId: number | undefined; eosIds: number[]; addBos: boolean; vocabSize: number };
}

const DTYPES: readonly WeightDType[] = ['f32', 'f16', 'bf16'];

function validate(options: MakeModelOptions): void {
  const oneOf = <T>(what: string, value: T, allowed: readonly T[]): void => {
    if (!allowed.includes(value)) throw new InvalidArgumentError(`make-model: ${what} must be one of ${allowed.join(', ')}; got ${JSON.stringify(value)}`);
  };
  oneOf('arch', options.arch, SUPPORTED_ARCHITECTURES);
  oneOf('shape', options.shape, SHAPE_NAMES);
  oneOf('dtype', options.dtype, DTYPES);
  oneOf('format', options.format, ['gguf', 'hf'] as const);
  if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff) {
    throw new InvalidArgumentError(`make-model: seed must be an integer from 0 to 2^32-1; got ${options.seed}`);
  }
  if (typeof options.out !== 'string' || options.out === '') throw new InvalidArgumentError('make-model: out (the output path) is required');
  if (options.shards !== undefined) {
    if (options.format !== 'hf') throw new InvalidArgumentError('make-model: shards applies to HF directories only');
    if (!Number.isInteger(options.shards) || options.shards < 1) throw new InvalidArgumentError(`make-model: shards must be a positive integer; got ${options.shards}`);
  }
}

export async function makeModel(options: MakeModelOptions): Promise<MadeModel> {
  validate(options);
  const { arch, shape, dtype, format, seed } = options;
  const path = resolve(options.out);
  const config = configFor(arch, shape);
  const plan = planTensors(config);
  const tokenizer = buildTokenizer(tokenizerFamilyFor(arch), config.vocab);
  const chatTemplate = chatTemplateFor(tokenizer.family);
  const tokenizerInfo = { bosId: tokenizer.bosId, eosIds: tokenizer.eosIds, addBos: tokenizer.addBos, vocabSize: tokenizer.tokens.length };

  if (format === 'hf') {
    const { files, tensors } = await writeHfModel(path, config, plan, { dtype, seed, shards: options.shards, tokenizer, chatTemplate, onProgress: options.onProgress });
    return { path, config, spec: { format, config, files, tensors }, tokenizer: tokenizerInfo };
  }
  await mkdir(dirname(path), { recursive: true });
  const name = `presskv-random-${arch}-${shape}`;
  const tensors = await writeGgufModel(path, config, plan, { dtype, seed, name, tokenizer, chatTemplate, onProgress: options.onProgress });
  // What the file says: llama.cpp's names and rope convention; llama3 scaling lives in rope_freqs.weight.
  // GGUF stores eps, theta and the scaling factor as float32.
  const fileConfig: ModelConfig = {
    ...config,
    arch: ggufArchitecture(config) as Architecture,
    rmsEps: Math.fround(config.rmsEps),
    ropeTheta: Math.fround(config.ropeTheta),
    ropeStyle: config.arch === 'llama' || config.arch === 'mistral' ? 'interleaved' : 'half-split',
    ropeScaling:
      config.ropeScaling.type === 'llama3'
        ? { type: '', factor: 1, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 8192 }
        : { ...config.ropeScaling, factor: Math.fround(config.ropeScaling.factor) },
  };
  return { path, config: fileConfig, spec: { format, config: fileConfig, files: [path], tensors }, tokenizer: tokenizerInfo };
}
