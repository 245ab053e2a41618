// `presskv make-model`: a random-weight model with a realistic shape and a working tokenizer (tests, benchmarks).
import { SUPPORTED_ARCHITECTURES } from '../engine/model-spec.js';
import { makeModel, SHAPE_NAMES } from '../engine/make-model/index.js';
import { choiceFlag, numberFlag, parseFlags, requireFlag, type CommandIo } from './args.js';

export const MAKE_MODEL_USAGE = `presskv make-model --arch <${SUPPORTED_ARCHITECTURES.join('|')}> --shape <${SHAPE_NAMES.join('|')}>
                   --dtype <f32|f16|bf16> --format <gguf|hf> --seed <s> --out <path> [--shards <n>] [--json]

  --out     the .gguf file (format gguf) or the directory (format hf) to write
  --shards  HF only: split the weights into n safetensors files with an index`;

export async function runMakeModel(argv: string[], io: CommandIo): Promise<number> {
  const u = MAKE_MODEL_USAGE;
  const flags = parseFlags(
    argv,
    {
      arch: { type: 'string' },
      shape: { type: 'string' },
      dtype: { type: 'string' },
      format: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      shards: { type: 'string' },
      json: { type: 'boolean' },
    },
    u,
  );
  if (flags.help) {
    io.out(u);
    return 0;
  }
  let lastPercent = -1;
  const made = await makeModel({
    arch: choiceFlag(requireFlag(flags.arch, 'arch', u), 'arch', SUPPORTED_ARCHITECTURES, u)!,
    shape: choiceFlag(requireFlag(flags.shape, 'shape', u), 'shape', SHAPE_NAMES, u)!,
    dtype: choiceFlag(requireFlag(flags.dtype, 'dtype', u), 'dtype', ['f32', 'f16', 'bf16'] as const, u)!,
    format: choiceFlag(requireFlag(flags.format, 'format', u), 'format', ['gguf', 'hf'] as const, u)!,
    seed: numberFlag(requireFlag(flags.seed, 'seed', u), 'seed', u, { integer: true, min: 0, max: 0xffffffff })!,
    out: requireFlag(flags.out, 'out', u),
    shards: numberFlag(flags.shards, 'shards', u, { integer: true, min: 1 }),
    onProgress: ({ writtenBytes, totalBytes }) => {
      // Whole percents only: the big shapes write hundreds of tensors.
      const percent = Math.floor((100 * writtenBytes) / Math.max(1, totalBytes));
      if (percent !== lastPercent && totalBytes > 64 << 20) io.err(`written ${percent}% of ${(totalBytes / 2 ** 20).toFixed(0)} MiB`);
      lastPercent = percent;
    },
  });
  if (flags.json) io.out(JSON.stringify({ path: made.path, config: made.config, tokenizer: made.tokenizer, files: made.spec.files }));
  else io.out(made.path);
  return 0;
}
