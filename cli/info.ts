// `presskv info`: what a model is — architecture and shape, weight dtypes, parameters, tokenizer, template.
import { templateSupportsThinking, templateSupportsTools } from '../engine/chat-template.js';
import { Model } from '../engine/model.js';
import { parseFlags, requireFlag, type CommandIo } from './args.js';

export const INFO_USAGE = `presskv info --model <path|id> [--json]`;

export async function runInfo(argv: string[], io: CommandIo): Promise<number> {
  const flags = parseFlags(argv, { model: { type: 'string' }, json: { type: 'boolean' } }, INFO_USAGE);
  if (flags.help) {
    io.out(INFO_USAGE);
    return 0;
  }
  const model = await Model.load(requireFlag(flags.model, 'model', INFO_USAGE));
  try {
    const { info } = model;
    const template = model.chatTemplate;
    const report = {
      ...info,
      contextLength: model.contextLength,
      chatTemplate: { present: Boolean(template), tools: templateSupportsTools(template), thinking: templateSupportsThinking(template) },
    };
    if (flags.json) {
      io.out(JSON.stringify(report));
      return 0;
    }
    const c = info.config;
    const rows: [string, string][] = [
      ['path', info.path],
      ['format', info.format],
      ['architecture', c.arch],
      ['layers', String(c.nLayers)],
      ['hidden / ffn', `${c.hidden} / ${c.ffn}`],
      ['heads / kv heads / head dim', `${c.nHeads} / ${c.nKvHeads} / ${c.headDim}`],
      ['vocabulary', `${c.vocab} (tokenizer: ${info.tokenizer.kind}, ${info.tokenizer.vocabSize} tokens)`],
      ['context length', `${model.contextLength} (model: ${c.contextLength})`],
      ['rope', `theta ${c.ropeTheta}, dim ${c.ropeDim}, ${c.ropeStyle}${c.ropeScaling.type ? `, ${c.ropeScaling.type} scaling x${c.ropeScaling.factor}` : ''}`],
      ['features', [c.qkvBias && 'qkv bias', c.qkNorm && 'q/k norm', c.tiedEmbeddings ? 'tied embeddings' : 'untied embeddings'].filter(Boolean).join(', ')],
      ['weights', `${info.weightDtypes.join(', ')}; ${info.parameterCount.toLocaleString('en-US')} parameters, ${(info.weightBytes / 2 ** 20).toFixed(2)} MiB`],
      ['special tokens', `bos ${info.bosTokenId ?? '-'} (${info.addBos ? 'added' : 'not added'}), eos ${info.eosTokenIds.join(', ') || '-'}`],
      ['chat template', template ? `yes${report.chatTemplate.tools ? ', tools' : ''}${report.chatTemplate.thinking ? ', thinking' : ''}` : 'no (raw completion mode)'],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) io.out(`${k.padEnd(width)}  ${v}`);
    return 0;
  } finally {
    model.dispose();
  }
}
