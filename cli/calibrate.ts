// `presskv calibrate`: writes a press artefact (query statistics, Q-filters, DuoAttention head scores)
// computed by the model itself over calibration text.
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from '../engine/errors.js';
import { CALIBRATION_KINDS, calibrate } from '../engine/presses/calibrate.js';
import { choiceFlag, numberFlag, parseFlags, requireFlag, type CommandIo, type FlagOptions } from './args.js';

export const CALIBRATE_USAGE = `presskv calibrate --model <path|id> --text <text|@file> --out <file> --kind <kind> [options]

  --kind          expected-attention-stats  safetensors query_mean [L,H,d], query_cov [L,H,d,d] (pre-RoPE
                                            queries, first --n-sink positions of each chunk left out,
                                            unbiased covariance) for ExpectedAttentionStatsPress
                  qfilter                   safetensors q_filters [L,Hk,d]: per (layer, kv-head) the principal
                                            direction of the group's post-RoPE queries, negated (QFilterPress
                                            scores −⟨f, K⟩), for QFilterPress
                  duo-attention             JSON {sinkSize, recentSize, headScores[L][Hk]} from kvpress's
                                            on-the-fly estimator, averaged over chunks, for DuoAttentionPress
  --text          the calibration text, or @file to read it from a file
  --chunk-tokens  tokens per prefill chunk, BOS included (default: min(context window, 2048))
  --n-sink        leading positions of each chunk left out of the statistics (default 4)
  --sink-size, --recent-size   DuoAttention pattern windows written to the JSON (default 128, 256)
  --model         .gguf file, HF model directory, or org/name[@revision]
  --out           the artefact file to write
  --threads       worker threads (default: all cores)

  Calibration runs the model's CPU forward pass (it reads the model's queries layer by layer, outside any
  device runtime), so this command has no --device.

Example: presskv calibrate --model ./stories260K.gguf --text @corpus.txt --kind qfilter --out qfilter.safetensors`;

export const CALIBRATE_FLAGS = {
  model: { type: 'string' },
  text: { type: 'string' },
  out: { type: 'string' },
  kind: { type: 'string' },
  'chunk-tokens': { type: 'string' },
  'n-sink': { type: 'string' },
  'sink-size': { type: 'string' },
  'recent-size': { type: 'string' },
  threads: { type: 'string' },
} satisfies FlagOptions;

async function readText(value: string): Promise<string> {
  if (!value.startsWith('@')) return value;
  const file = value.slice(1);
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`--text ${value}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

export async function runCalibrate(argv: string[], io: CommandIo): Promise<number> {
  const flags = parseFlags(argv, CALIBRATE_FLAGS, CALIBRATE_USAGE);
  const model = requireFlag(flags.model, 'model', CALIBRATE_USAGE);
  const text = await readText(requireFlag(flags.text, 'text', CALIBRATE_USAGE));
  const out = requireFlag(flags.out, 'out', CALIBRATE_USAGE);
  const kind = choiceFlag(requireFlag(flags.kind, 'kind', CALIBRATE_USAGE), 'kind', CALIBRATION_KINDS, CALIBRATE_USAGE)!;
  const int = (name: string, value: string | undefined, min: number) => numberFlag(value, name, CALIBRATE_USAGE, { integer: true, min });
  const report = await calibrate(model, text, {
    kind,
    out,
    chunkTokens: int('chunk-tokens', flags['chunk-tokens'], 2),
    nSink: int('n-sink', flags['n-sink'], 0),
    sinkSize: int('sink-size', flags['sink-size'], 0),
    recentSize: int('recent-size', flags['recent-size'], 0),
    threads: int('threads', flags.threads, 1),
  });
  io.err(`${report.tokens} tokens in ${report.chunks} chunk(s); ${report.samples[0] ?? 0} query positions per layer`);
  io.out(`wrote ${report.kind} artefact to ${report.out}`);
  return 0;
}
