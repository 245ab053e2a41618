// `presskv tokenize`: text → token ids (and pieces) with a model's tokenizer.
import { Model } from '../engine/model.js';
import { parseFlags, requireFlag, type CommandIo, type FlagOptions } from './args.js';

export const TOKENIZE_USAGE = `presskv tokenize --model <path|id> --text <text> [--special] [--json]

  --model <path|id>  .gguf file, HF model directory, or org/name[@revision] from the Hugging Face hub
  --text <text>      the text to tokenize
  --special          add the model's special tokens (BOS) as generation would (default: off, the text's tokens only)
  --json             print {"ids": [...], "pieces": [...], "count": n} (default: one "id<TAB>piece" line per token)

Example: presskv tokenize --model ./stories260K.gguf --text "Hello world" --json`;

export const TOKENIZE_FLAGS = { model: { type: 'string' }, text: { type: 'string' }, special: { type: 'boolean' }, json: { type: 'boolean' } } satisfies FlagOptions;

export async function runTokenize(argv: string[], io: CommandIo): Promise<number> {
  const flags = parseFlags(argv, TOKENIZE_FLAGS, TOKENIZE_USAGE);
  const modelPath = requireFlag(flags.model, 'model', TOKENIZE_USAGE);
  if (flags.text === undefined) requireFlag(undefined, 'text', TOKENIZE_USAGE);
  const model = await Model.load(modelPath);
  try {
    const ids = model.tokenizer.encode(flags.text!, { addSpecialTokens: flags.special ?? false });
    const pieces = ids.map((id) => model.tokenizer.tokenPiece(id));
    if (flags.json) io.out(JSON.stringify({ ids, pieces, count: ids.length }));
    else {
      for (let i = 0; i < ids.length; i++) io.out(`${ids[i]}\t${JSON.stringify(pieces[i])}`);
      io.err(`${ids.length} tokens`);
    }
    return 0;
  } finally {
    model.dispose();
  }
}
