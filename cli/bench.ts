// `presskv bench`: prefill and decode speed of presskv beside llama.cpp (node-llama-cpp) on the same GGUF,
// the same prompt tokens and the same thread count, in one run, with the ratios and roofline figures. The roofline
// is measured at the start of each thread count (memory read bandwidth, fp32 FMA peak: engine measureCeilings), so
// every figure is a share of what this machine does now, not of numbers written down once.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';

import { Model } from '../engine/model.js';
import { measureCeilings, type MeasuredCeilings } from '../engine/system-info.js';
import type { CommandIo, FlagOptions } from './args.js';
import { prefillProgress, stderrSink } from './progress.js';
import { DEVICE_FLAG_USAGE, deviceFlag } from './device-flag.js';
import { loadLlamaCppPeer, type LlamaCppPeer } from './llama-cpp-peer.js';

export interface BenchRow {
  /** 'presskv': the default (weights read into private memory); 'presskv --mmap': weights memory-mapped. */
  engine: 'presskv' | 'presskv --mmap' | 'llama.cpp';
  contextTokens: number;
  threads: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** (weight bytes + KV bytes read per decode step) × steps/s. */
  decodeGBPerSecond: number;
  /** decodeGBPerSecond over the measured read bandwidth with this many threads. */
  decodeRooflineFraction: number;
  /** The decode speed the measured bandwidth allows: its bytes per step read at that bandwidth. */
  decodeRooflineTokensPerSecond: number;
  /** (2 × parameters + causal attention) FLOPs of the prompt over the prefill time. */
  prefillGFlopPerSecond: number;
  /** prefillGFlopPerSecond over the measured fp32 FMA peak with this many threads. */
  prefillPeakFraction: number;
}

/** Aggregate decode speed of several requests decoding at once (--concurrency): their steps share forward passes. */
export interface ConcurrencyRow {
  concurrency: number;
  contextTokens: number;
  threads: number;
  /** Decode steps of all requests together per second of wall time. */
  aggregateDecodeTokensPerSecond: number;
  /** The same per request. */
  perRequestDecodeTokensPerSecond: number;
  /** Decode tokens per forward pass during this run (1: no batching). */
  meanBatch: number;
}

export const BENCH_USAGE = `presskv bench --model <file.gguf> [options]

  --model <file.gguf>        the model both engines run
  --context <n,...>          prompt lengths in tokens (default 512,2048)
  --threads <n,...>          thread counts (default 1,2)
  --decode-tokens <n>        tokens to decode after each prompt (default 32)
  --peer <llama.cpp|none>    the engine to compare with (default llama.cpp, through node-llama-cpp)
  --flash-attention          llama.cpp with flash attention (default off)
  --mmap <on|off|both>       presskv with mapped weights (on), weights read into memory (off, the default
                             setting of Model.load) or both rows (default both)
  --peer-dir <dir>           where node-llama-cpp is installed (default .bench/node-llama-cpp)
  --concurrency <n,...>      also decode n requests at once and report the aggregate speed (default: none)
  ${DEVICE_FLAG_USAGE}
  --json                     print the report as JSON (default: markdown tables)

Example: presskv bench --model ./stories260K.gguf --context 128 --threads 1 --peer none`;

const USAGE = BENCH_USAGE;

export const BENCH_FLAGS = {
  model: { type: 'string' },
  context: { type: 'string', default: '512,2048' },
  threads: { type: 'string', default: '1,2' },
  'decode-tokens': { type: 'string', default: '32' },
  peer: { type: 'string', default: 'llama.cpp' },
  'flash-attention': { type: 'boolean', default: false },
  mmap: { type: 'string', default: 'both' },
  'peer-dir': { type: 'string', default: '.bench/node-llama-cpp' },
  concurrency: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean', default: false },
} satisfies FlagOptions;

function listOfInts(value: string, flag: string): number[] {
  const out = value.split(',').map((s) => Number(s.trim()));
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`--${flag} takes positive integers separated by commas, got "${value}"`);
  }
  return out;
}

function promptOf(length: number, vocab: number, seed: number): number[] {
  // A fixed pseudo-random token sequence (ids 3.. skip the usual special tokens) so both engines see the same input.
  let s = seed >>> 0;
  const ids: number[] = [];
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    ids.push(3 + (s % Math.max(1, Math.min(vocab, 32000) - 3)));
  }
  return ids;
}

export async function runBench(argv: string[], io: Pick<CommandIo, 'out' | 'err' | 'errWrite' | 'errIsTTY'>): Promise<number> {
  const { values } = parseArgs({ args: argv, options: BENCH_FLAGS, strict: true });
  if (!values.model) {
    io.err(`missing --model\n${USAGE}`);
    return 2;
  }
  const contexts = listOfInts(values.context!, 'context');
  const threadCounts = listOfInts(values.threads!, 'threads');
  const decodeTokens = listOfInts(values['decode-tokens']!, 'decode-tokens')[0]!;
  const concurrencies = values.concurrency === undefined ? [] : listOfInts(values.concurrency, 'concurrency');
  if (values.peer !== 'llama.cpp' && values.peer !== 'none') {
    io.err(`--peer must be llama.cpp or none\n${USAGE}`);
    return 2;
  }
  if (!['on', 'off', 'both'].includes(values.mmap!)) {
    io.err(`--mmap must be on, off or both\n${USAGE}`);
    return 2;
  }
  const device = deviceFlag(values.device, USAGE);
  const mmapModes = values.mmap === 'both' ? [false, true] : [values.mmap === 'on'];
  const modelPath = resolve(values.model);
  let peer: LlamaCppPeer | undefined;
  if (values.peer === 'llama.cpp') peer = await loadLlamaCppPeer(resolve(values['peer-dir']!), io.err);

  const rows: BenchRow[] = [];
  const concurrencyRows: ConcurrencyRow[] = [];
  const ceilings: MeasuredCeilings[] = [];
  const maxContext = Math.max(...contexts) + decodeTokens + 16;
  for (const threads of threadCounts) {
    // Measured before the models load, on a machine with nothing of ours running.
    const ceiling = measureCeilings(threads);
    ceilings.push(ceiling);
    io.err(describeCeilings(ceiling));
    const models = await Promise.all(mmapModes.map((mmap) => Model.load(modelPath, { threads, contextLength: maxContext, mmap, device })));
    const { config } = models[0]!.info;
    const weightBytes = models[0]!.info.weightBytes;
    const params = models[0]!.info.parameterCount;
    try {
      for (const contextTokens of contexts) {
        const prompt = promptOf(contextTokens, config.vocab, contextTokens * 31 + 7);
        // KV bytes one decode step reads at this context (f16 K and V for every layer and kv head).
        const kvBytes = contextTokens * config.nLayers * config.nKvHeads * config.headDim * 2 * 2;
        const prefillFlops = 2 * params * contextTokens + 2 * config.nLayers * config.nHeads * config.headDim * contextTokens * contextTokens;
        const row = (engine: BenchRow['engine'], prefillMs: number, decodeMs: number, decoded: number): BenchRow => {
          const decodeGBPerSecond = ((weightBytes + kvBytes) * decoded) / (decodeMs / 1000) / 1e9;
          const prefillGFlopPerSecond = prefillFlops / (prefillMs / 1000) / 1e9;
          return {
            engine,
            contextTokens,
            threads,
            prefillTokensPerSecond: (contextTokens / prefillMs) * 1000,
            decodeTokensPerSecond: (decoded / decodeMs) * 1000,
            decodeGBPerSecond,
            decodeRooflineFraction: decodeGBPerSecond / ceiling.readGBPerSecond,
            decodeRooflineTokensPerSecond: (ceiling.readGBPerSecond * 1e9) / (weightBytes + kvBytes),
            prefillGFlopPerSecond,
            prefillPeakFraction: prefillGFlopPerSecond / ceiling.fmaGFlopPerSecond,
          };
        };
        for (const [i, model] of models.entries()) {
          // Progress on stderr (never stdout, which --json keeps for the report).
          // No final line: the row's own line follows with the measured figures.
          const progress = prefillProgress(stderrSink(io), `${mmapModes[i] ? 'presskv --mmap' : 'presskv'} ctx ${contextTokens} threads ${threads} prefill`, {
            showFinal: false,
          });
          let ours;
          try {
            ours = await model.generate(prompt, { maxTokens: decodeTokens, temperature: 0, stopTokenIds: [], onPrefillProgress: progress.onProgress });
          } finally {
            progress.renderer.end();
          }
          // The first token is sampled from the prefill's logits and the last one is never evaluated, so
          // decodeMs holds one forward step per generated token but one; the peer's count is its steps too.
          const decodeSteps = ours.generatedTokenIds.length - 1;
          rows.push(row(mmapModes[i] ? 'presskv --mmap' : 'presskv', ours.timings.prefillMs, ours.timings.decodeMs, decodeSteps));
          io.err(describe(rows.at(-1)!));
        }
        for (const concurrency of concurrencies) {
          concurrencyRows.push(await concurrentDecode(models[0]!, prompt, decodeTokens, concurrency, threads));
          io.err(describeConcurrency(concurrencyRows.at(-1)!));
        }
        if (peer) {
          const theirs = await peer.run(modelPath, { promptTokens: prompt, decodeTokens, threads, flashAttention: values['flash-attention']! });
          rows.push(row('llama.cpp', theirs.prefillMs, theirs.decodeMs, theirs.decodedTokens));
          io.err(describe(rows.at(-1)!));
        }
      }
    } finally {
      for (const model of models) model.dispose();
    }
  }
  const report = {
    model: values.model,
    decodeTokens,
    peer: peer ? { engine: 'llama.cpp', via: `node-llama-cpp@${peer.version}`, flashAttention: values['flash-attention'], systemInfo: peer.systemInfo } : null,
    ceilings,
    rows,
    ratios: ratiosOf(rows),
    ...(concurrencies.length ? { concurrency: concurrencyRows } : {}),
  };
  if (values.json) io.out(JSON.stringify(report, null, 2));
  else io.out(ceilingsTable(ceilings) + '\n\n' + table(report.rows, report.ratios) + (concurrencies.length ? `\n\n${concurrencyTable(concurrencyRows)}` : ''));
  return 0;
}

/**
 * `concurrency` sessions each prefilled with the prompt (one-by-one, untimed), then all generate
 * decodeTokens greedy tokens at once; the wall time of that phase over the decode steps of all of them.
 */
async function concurrentDecode(model: Model, prompt: number[], decodeTokens: number, concurrency: number, threads: number): Promise<ConcurrencyRow> {
  const sessions = Array.from({ length: concurrency }, () => model.createSession());
  try {
    for (const session of sessions) await session.evaluate(prompt, { logits: 'last' });
    const before = model.stats();
    const t0 = performance.now();
    const results = await Promise.all(sessions.map((s) => s.generate([], { maxTokens: decodeTokens, temperature: 0, stopTokenIds: [] })));
    const seconds = (performance.now() - t0) / 1000;
    // As in the single-request rows: the first token comes from the prefill's logits, the last is never evaluated.
    const steps = results.reduce((n, r) => n + r.generatedTokenIds.length - 1, 0);
    const after = model.stats();
    // Steps outside a batched pass ran alone (one row each).
    const batchedRows = after.batchedDecodeRows - before.batchedDecodeRows;
    const passes = after.batchedDecodePasses - before.batchedDecodePasses + (steps - batchedRows);
    return {
      concurrency,
      contextTokens: prompt.length,
      threads,
      aggregateDecodeTokensPerSecond: steps / seconds,
      perRequestDecodeTokensPerSecond: steps / seconds / concurrency,
      meanBatch: passes > 0 ? steps / passes : 1,
    };
  } finally {
    for (const session of sessions) await session.dispose();
  }
}

function ratiosOf(rows: BenchRow[]) {
  const out: Array<{ engine: BenchRow['engine']; contextTokens: number; threads: number; prefill: number; decode: number }> = [];
  for (const ours of rows.filter((r) => r.engine !== 'llama.cpp')) {
    const theirs = rows.find((r) => r.engine === 'llama.cpp' && r.contextTokens === ours.contextTokens && r.threads === ours.threads);
    if (theirs) {
      out.push({
        engine: ours.engine,
        contextTokens: ours.contextTokens,
        threads: ours.threads,
        prefill: ours.prefillTokensPerSecond / theirs.prefillTokensPerSecond,
        decode: ours.decodeTokensPerSecond / theirs.decodeTokensPerSecond,
      });
    }
  }
  return out;
}

function describe(r: BenchRow): string {
  return `${r.engine.padEnd(17)} ctx ${String(r.contextTokens).padStart(5)} threads ${r.threads}: prefill ${r.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${r.decodeTokensPerSecond.toFixed(2)} tok/s`;
}

function describeCeilings(c: MeasuredCeilings): string {
  return `ceilings, ${c.threads} thread${c.threads === 1 ? '' : 's'} (${c.kernels}): read ${c.readGBPerSecond.toFixed(1)} GB/s, fp32 FMA ${c.fmaGFlopPerSecond.toFixed(0)} GFLOP/s`;
}

function ceilingsTable(ceilings: MeasuredCeilings[]): string {
  return [
    '| threads | kernels | measured read bandwidth GB/s | measured fp32 FMA GFLOP/s |',
    '|---:|---|---:|---:|',
    ...ceilings.map((c) => `| ${c.threads} | ${c.kernels} | ${c.readGBPerSecond.toFixed(1)} | ${c.fmaGFlopPerSecond.toFixed(0)} |`),
  ].join('\n');
}

function describeConcurrency(r: ConcurrencyRow): string {
  return `presskv x${String(r.concurrency).padEnd(8)} ctx ${String(r.contextTokens).padStart(5)} threads ${r.threads}: decode ${r.aggregateDecodeTokensPerSecond.toFixed(2)} tok/s aggregate, ${r.perRequestDecodeTokensPerSecond.toFixed(2)} tok/s per request`;
}

function concurrencyTable(rows: ConcurrencyRow[]): string {
  return [
    '| concurrent requests | context | threads | aggregate decode tok/s | per-request decode tok/s | tokens per forward pass |',
    '|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) =>
      `| ${r.concurrency} | ${r.contextTokens} | ${r.threads} | ${r.aggregateDecodeTokensPerSecond.toFixed(2)} | ` +
      `${r.perRequestDecodeTokensPerSecond.toFixed(2)} | ${r.meanBatch.toFixed(2)} |`),
  ].join('\n');
}

function table(rows: BenchRow[], ratios: ReturnType<typeof ratiosOf>): string {
  const lines = [
    '| engine | context | threads | prefill tok/s | decode tok/s (roofline) | decode GB/s (% of measured) | prefill GFLOP/s (% of measured) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) =>
      `| ${r.engine} | ${r.contextTokens} | ${r.threads} | ${r.prefillTokensPerSecond.toFixed(1)} | ` +
      `${r.decodeTokensPerSecond.toFixed(2)} (${r.decodeRooflineTokensPerSecond.toFixed(1)}) | ` +
      `${r.decodeGBPerSecond.toFixed(1)} (${(100 * r.decodeRooflineFraction).toFixed(0)} %) | ` +
      `${r.prefillGFlopPerSecond.toFixed(1)} (${(100 * r.prefillPeakFraction).toFixed(0)} %) |`),
  ];
  if (ratios.length) {
    lines.push('', '| presskv weights | context | threads | prefill presskv/llama.cpp | decode presskv/llama.cpp |', '|---|---:|---:|---:|---:|');
    for (const r of ratios) {
      lines.push(`| ${r.engine === 'presskv' ? 'read (default)' : 'mapped (--mmap)'} | ${r.contextTokens} | ${r.threads} | ${r.prefill.toFixed(2)}× | ${r.decode.toFixed(2)}× |`);
    }
  }
  return lines.join('\n');
}
