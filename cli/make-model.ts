// `presskv make-model`: a random-weight model with a realistic shape and a working tokenizer (tests, benchmarks).
import { SUPPORTED_ARCHITECTURES } from '../engine/model-spec.js';
import { makeModel, SHAPE_NAMES } from '../engine/make-model/index.js';
import { choiceFlag, numberFlag, parseFlags, requireFlag, type CommandIo, type FlagOptions } from './args.js';
import { ProgressRenderer, stderrSink } from './progress.js';

export const MAKE_MODEL_USAGE = `presskv make-model --arch <${SUPPORTED_ARCHITECTURES.join('|')}> --shape <${SHAPE_NAMES.join('|')}>
                   --dtype <f32|f16|bf16> --format <gguf|hf> --seed <s> --out <path> [--shards <n>] [--json]

  --arch <name>    architecture whose tensor layout and config the model gets
  --shape <name>   size preset (tiny is a few MiB; the others are real models' shapes)
  --dtype <t>      weight element type
  --format <f>     gguf (one file) or hf (config.json, tokenizer.json, safetensors)
  --seed <s>       seed of the random weights (same seed, same bytes)
  --out <path>     the .gguf file (format gguf) or the directory (format hf) to write
  --shards <n>     HF only: split the weights into n safetensors files with an index (default: one per 2 GiB)
  --json           print {"path", "config", "tokenizer", "files"} (default: the path written)

Example: presskv make-model --arch qwen3 --shape tiny --dtype f32 --format gguf --seed 7 --out tiny-qwen3.gguf`;

export const MAKE_MODEL_FLAGS = {
  arch: { type: 'string' },
  shape: { type: 'string' },
  dtype: { type: 'string' },
  format: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  shards: { type: 'string' },
  json: { type: 'boolean' },
} satisfies FlagOptions;

export async function runMakeModel(argv: string[], io: CommandIo): Promise<number> {
  const u = MAKE_MODEL_USAGE;
  const flags = parseFlags(argv, MAKE_MODEL_FLAGS, u);
  // Only the big shapes take long enough to be worth a progress display.
  let progress: ProgressRenderer | undefined;
  const made = await makeModel({
    arch: choiceFlag(requireFlag(flags.arch, 'arch', u), 'arch', SUPPORTED_ARCHITECTURES, u)!,
    shape: choiceFlag(requireFlag(flags.shape, 'shape', u), 'shape', SHAPE_NAMES, u)!,
    dtype: choiceFlag(requireFlag(flags.dtype, 'dtype', u), 'dtype', ['f32', 'f16', 'bf16'] as const, u)!,
    format: choiceFlag(requireFlag(flags.format, 'format', u), 'format', ['gguf', 'hf'] as const, u)!,
    seed: numberFlag(requireFlag(flags.seed, 'seed', u), 'seed', u, { integer: true, min: 0, max: 0xffffffff })!,
    out: requireFlag(flags.out, 'out', u),
    shards: numberFlag(flags.shards, 'shards', u, { integer: true, min: 1 }),
    onProgress: ({ writtenBytes, totalBytes }) => {
      if (totalBytes <= 64 << 20) return;
      progress ??= new ProgressRenderer(stderrSink(io), { label: 'writing' });
      progress.update({ done: writtenBytes / 2 ** 20, total: totalBytes / 2 ** 20, unit: 'MiB' });
    },
  }).finally(() => progress?.end());
  if (flags.json) io.out(JSON.stringify({ path: made.path, config: made.config, tokenizer: made.tokenizer, files: made.spec.files }));
  else io.out(made.path);
  return 0;
}
