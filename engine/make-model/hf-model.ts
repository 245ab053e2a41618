// A synthetic model as a Hugging Face directory: JSON files plus safetensors weights, sharded with an
// index (model-0000k-of-0000n.safetensors + model.safetensors.index.json) when more than one shard is asked for.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelConfig, TensorDesc, WeightDType } from '../model-spec.js';
import { configJson, generationConfigJson, tokenizerConfigJson, tokenizerJson } from './hf-files.js';
import { progressTracker, type ProgressCallback } from './progress.js';
import { writeSafetensors, type SafetensorsTensorToWrite } from './safetensors-writer.js';
import type { SyntheticTokenizer } from './synthetic-tokenizer.js';
import { elementCount, type PlannedTensor } from './tensor-plan.js';
import { BYTES_PER_ELEMENT, makeChunkBuffer, tensorChunks } from './tensor-values.js';

/** Like transformers' default max_shard_size, so the 1B shapes come out sharded as real checkpoints do. */
const DEFAULT_MAX_SHARD_BYTES = 2 * 1024 ** 3;

const pad5 = (n: number): string => String(n).padStart(5, '0');

/** Splits tensors (kept in order) into `count` non-empty runs of roughly equal byte size. */
function splitIntoShards<T extends { nbytes: number }>(tensors: readonly T[], count: number): T[][] {
  const total = tensors.reduce((sum, t) => sum + t.nbytes, 0);
  const shards: T[][] = [];
  let current: T[] = [];
  let cumulative = 0;
  tensors.forEach((t, i) => {
    current.push(t);
    cumulative += t.nbytes;
    const shardsStillNeeded = count - shards.length - 1;
    const tensorsLeft = tensors.length - i - 1;
    if (shardsStillNeeded > 0 && (cumulative >= (total * (shards.length + 1)) / count || tensorsLeft === shardsStillNeeded)) {
      shards.push(current);
      current = [];
    }
  });
  shards.push(current);
  return shards;
}

export async function writeHfModel(
  dir: string,
  config: ModelConfig,
  plan: readonly PlannedTensor[],
  options: { dtype: WeightDType; seed: number; shards?: number; tokenizer: SyntheticTokenizer; chatTemplate: string; onProgress?: ProgressCallback },
): Promise<{ files: string[]; tensors: TensorDesc[] }> {
  await mkdir(dir, { recursive: true });
  const { dtype, tokenizer } = options;
  const buffer = makeChunkBuffer();
  const totalBytes = plan.reduce((sum, t) => sum + elementCount(t.shape) * BYTES_PER_ELEMENT[dtype], 0);
  const track = progressTracker(totalBytes, options.onProgress);
  const toWrite: Array<SafetensorsTensorToWrite & { ggufName: string }> = plan.map((t) => ({
    name: t.hfName,
    ggufName: t.name,
    dtype,
    shape: t.shape,
    nbytes: elementCount(t.shape) * BYTES_PER_ELEMENT[dtype],
    chunks: () => track(t.name, tensorChunks(t, dtype, options.seed, buffer)),
  }));
  const shardCount = Math.min(toWrite.length, options.shards ?? Math.max(1, Math.ceil(totalBytes / DEFAULT_MAX_SHARD_BYTES)));
  const shards = splitIntoShards(toWrite, shardCount);
  const files: string[] = [];
  const tensors: TensorDesc[] = [];
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards.length; s++) {
    const fileName = shards.length === 1 ? 'model.safetensors' : `model-${pad5(s + 1)}-of-${pad5(shards.length)}.safetensors`;
    const path = join(dir, fileName);
    const written = await writeSafetensors(path, shards[s]);
    files.push(path);
    shards[s].forEach((t, i) => {
      weightMap[t.name] = fileName;
      tensors.push({ name: t.ggufName, dtype, shape: [...t.shape], fileIndex: s, offset: written[i].offset, nbytes: t.nbytes });
    });
  }
  const json = (name: string, value: unknown): Promise<void> => writeFile(join(dir, name), JSON.stringify(value, null, 2) + '\n');
  if (shards.length > 1) await json('model.safetensors.index.json', { metadata: { total_size: totalBytes }, weight_map: weightMap });
  await json('config.json', configJson(config, dtype, tokenizer));
  await json('generation_config.json', generationConfigJson(tokenizer));
  await json('tokenizer_config.json', tokenizerConfigJson(tokenizer, options.chatTemplate, config.contextLength));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson(tokenizer)));
  return { files, tensors };
}
