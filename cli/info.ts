// `presskv info`: what a model is — architecture and shape, weight dtypes, parameters, tokenizer, template.
import { templateSupportsThinking, templateSupportsTools } from '../engine/chat-template.js';
import { Model } from '../engine/model.js';
import type { NativeSystemInfo } from '../engine/native.js';
import { systemInfo } from '../engine/system-info.js';
import { parseFlags, requireFlag, type CommandIo, type FlagOptions } from './args.js';
import { DEVICE_FLAG_USAGE, deviceFlag } from './device-flag.js';

export const INFO_USAGE = `presskv info --model <path|id> [--device <d>] [--json]

  --model <path|id>  .gguf file, HF model directory, or org/name[@revision] from the Hugging Face hub
  ${DEVICE_FLAG_USAGE}
  --json             print one JSON object (default: a table); "device" is where the model loaded, "cuda" the
                     CUDA build and devices of this machine ({compiled, runtimeVersion, error, devices})

Example: presskv info --model ./stories260K.gguf --json`;

export const INFO_FLAGS = { model: { type: 'string' }, device: { type: 'string' }, json: { type: 'boolean' } } satisfies FlagOptions;

export async function runInfo(argv: string[], io: CommandIo): Promise<number> {
  const flags = parseFlags(argv, INFO_FLAGS, INFO_USAGE);
  const modelId = requireFlag(flags.model, 'model', INFO_USAGE);
  const model = await Model.load(modelId, { device: deviceFlag(flags.device, INFO_USAGE) });
  try {
    const { info } = model;
    const template = model.chatTemplate;
    const { cuda } = systemInfo();
    const report = {
      ...info,
      contextLength: model.contextLength,
      chatTemplate: { present: Boolean(template), tools: templateSupportsTools(template), thinking: templateSupportsThinking(template) },
      device: model.device,
      ...(model.deviceFallbackReason === undefined ? {} : { deviceFallbackReason: model.deviceFallbackReason }),
      cuda,
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
      ['device', model.deviceFallbackReason ? `${model.device} (${model.deviceFallbackReason})` : model.device],
      ...cudaRows(cuda),
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) io.out(`${k.padEnd(width)}  ${v}`);
    return 0;
  } finally {
    model.dispose();
  }
}

/** The CUDA build and every device it sees, one row each, so a user can tell why --device cuda fails. */
function cudaRows(cuda: NativeSystemInfo['cuda']): [string, string][] {
  if (!cuda.compiled) return [['cuda', 'not compiled into this build']];
  const runtime = `runtime ${formatCudaVersion(cuda.runtimeVersion)}`;
  if (cuda.error) return [['cuda', `${runtime}; unusable: ${cuda.error}`]];
  if (cuda.devices.length === 0) return [['cuda', `${runtime}; no devices`]];
  return [
    ['cuda', `${runtime}; ${cuda.devices.length} device(s)`],
    ...cuda.devices.map((d, i): [string, string] => [
      `  cuda:${i}`,
      `${d.name}, compute capability ${d.computeCapability.toFixed(1)}, ${(d.totalMemory / 2 ** 30).toFixed(1)} GiB`,
    ]),
  ];
}

/** cudaRuntimeGetVersion's 1000*major + 10*minor, e.g. 12040 → 12.4. */
function formatCudaVersion(version: number): string {
  return `${Math.floor(version / 1000)}.${Math.floor((version % 1000) / 10)}`;
}
