// `presskv bench-context`: time to first token with a stored (compressed) context versus prefilling the same
// context again, at one or more context lengths, with the KV bytes each holds. Same tokens, same thread
// count, same question in both; the stored context is built once, outside the timed question.
import { ContextStore } from '../engine/context-store.js';
import { Model } from '../engine/model.js';
import { createPress } from '../engine/presses/registry.js';
import { numberFlag, parseFlags, requireFlag, UsageError, type CommandIo, type FlagOptions } from './args.js';
import { DEVICE_FLAG_USAGE, deviceFlag } from './device-flag.js';

export const BENCH_CONTEXT_USAGE = `presskv bench-context --model <path|id> [--context 2048,8192] [--question-tokens 32]
                      [--decode-tokens 16] [--press <name>[:<compressionRatio>]] [--threads <n>] [--repeats <n>] [--json]

  Prefill a context of N pseudo-random tokens plus a question and time the first token (re-prefill), then
  store the context once (with the press) and time the first token of the same question after it. Both then
  decode --decode-tokens more tokens, so the decode speed on the uncompressed and the stored cache compare too.

  --model <path|id>          .gguf file, HF model directory, or org/name[@revision]
  --context <n,...>          context lengths in tokens (default 2048,8192)
  --question-tokens <n>      tokens of the question after the context (default 32)
  --decode-tokens <n>        tokens decoded after the first one (default 16)
  --press <name>[:<ratio>]   the press the stored context is compressed with (default: none, stored as is)
  --threads <n>              worker threads (default: all cores)
  --repeats <n>              timed runs of each side, the best counts (default 1)
  ${DEVICE_FLAG_USAGE}
  --json                     print {"model", "rows"} (default: one line per context length)

Example: presskv bench-context --model ./stories260K.gguf --context 256 --press snapkv:0.5 --threads 1`;

export const BENCH_CONTEXT_FLAGS = {
  model: { type: 'string' },
  context: { type: 'string' },
  'question-tokens': { type: 'string' },
  'decode-tokens': { type: 'string' },
  press: { type: 'string' },
  threads: { type: 'string' },
  repeats: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
} satisfies FlagOptions;

export interface ContextBenchRow {
  contextTokens: number;
  questionTokens: number;
  threads: number;
  press: string | null;
  compressed: boolean;
  /** First token after prefilling context + question from scratch, ms (best of repeats). */
  ttftReprefillMs: number;
  /** First token after the stored context (question only), ms (best of repeats). */
  ttftStoredMs: number;
  speedup: number;
  /** Decode tokens/s after the first token: on the re-prefilled (uncompressed) cache, and on the stored one. */
  decodeTokens: number;
  decodeReprefillTokensPerSecond: number | null;
  decodeStoredTokensPerSecond: number | null;
  /** One-time cost of storing the context, ms. */
  storeMs: number;
  tokensAfter: number;
  storedBytes: number;
  reprefillBytes: number;
}

function tokensOf(length: number, vocab: number, seed: number): number[] {
  let s = seed >>> 0;
  const ids: number[] = [];
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    ids.push(3 + (s % Math.max(1, vocab - 3)));
  }
  return ids;
}

export async function runBenchContext(argv: string[], io: CommandIo): Promise<number> {
  const u = BENCH_CONTEXT_USAGE;
  const flags = parseFlags(argv, BENCH_CONTEXT_FLAGS, u);
  const modelId = requireFlag(flags.model, 'model', u);
  const contexts = (flags.context ?? '2048,8192').split(',').map((s) => numberFlag(s.trim(), 'context', u, { integer: true, min: 1 })!);
  const questionTokens = numberFlag(flags['question-tokens'], 'question-tokens', u, { integer: true, min: 1 }) ?? 32;
  const threads = numberFlag(flags.threads, 'threads', u, { integer: true, min: 1 });
  const decodeTokens = numberFlag(flags['decode-tokens'], 'decode-tokens', u, { integer: true, min: 0 }) ?? 16;
  const repeats = numberFlag(flags.repeats, 'repeats', u, { integer: true, min: 1 }) ?? 1;
  const device = deviceFlag(flags.device, u);
  let press: ReturnType<typeof createPress> | undefined;
  if (flags.press) {
    const [name, ratio] = flags.press.split(':');
    try {
      press = createPress(ratio === undefined ? name! : { name: name!, compressionRatio: Number(ratio) });
    } catch (err) {
      throw new UsageError(`--press: ${(err as Error).message}`, u);
    }
  }

  const longest = Math.max(...contexts) + questionTokens + decodeTokens + 8;
  const model = await Model.load(modelId, { threads, contextLength: longest, device });
  const rows: ContextBenchRow[] = [];
  try {
    const vocab = Math.min(model.info.config.vocab, model.tokenizer.vocabSize);
    const usedThreads = model.stats().threads;
    // One untimed call first: the worker's first job pays one-time setup costs.
    await model.generate(tokensOf(8, vocab, 1), { maxTokens: 1, temperature: 0, stopTokenIds: [] });
    for (const n of contexts) {
      const context = tokensOf(n, vocab, 17 + n);
      const question = tokensOf(questionTokens, vocab, 99);
      // The first token, then decodeTokens more: time to first token is the call's time less its decode steps.
      const answer = { maxTokens: 1 + decodeTokens, temperature: 0, stopTokenIds: [] as number[] };
      const timed = async (run: () => Promise<{ timings: { decodeMs: number; decodeTokensPerSecond: number } }>) => {
        const t = performance.now();
        const { timings } = await run();
        return { ttft: performance.now() - t - (decodeTokens > 0 ? timings.decodeMs : 0), decode: timings.decodeTokensPerSecond };
      };
      if (!flags.json) io.err(`context ${n} tokens: re-prefill…`);
      let reprefill = { ttft: Infinity, decode: 0 };
      let reprefillBytes = 0;
      for (let r = 0; r < repeats; r++) {
        const run = await timed(async () => {
          const result = await model.generate([...context, ...question], answer);
          reprefillBytes = result.kv.bytes;
          return result;
        });
        if (run.ttft < reprefill.ttft) reprefill = run;
      }
      if (!flags.json) io.err(`context ${n} tokens: storing${press ? ` with ${press.name}` : ''}…`);
      const store = new ContextStore(model);
      try {
        const t0 = performance.now();
        const stored = await store.create({ tokenIds: context, press });
        const storeMs = performance.now() - t0;
        let storedRun = { ttft: Infinity, decode: 0 };
        for (let r = 0; r < repeats; r++) {
          const run = await timed(() => store.generate(stored.id, question, answer));
          if (run.ttft < storedRun.ttft) storedRun = run;
        }
        const [storedTtft, reprefillTtft] = [storedRun.ttft, reprefill.ttft];
        const row: ContextBenchRow = {
          contextTokens: n,
          questionTokens,
          threads: usedThreads,
          press: press ? JSON.stringify(press.toJSON()) : null,
          compressed: stored.compressed,
          ttftReprefillMs: round(reprefillTtft),
          ttftStoredMs: round(storedTtft),
          speedup: round(reprefillTtft / storedTtft),
          decodeTokens,
          decodeReprefillTokensPerSecond: decodeTokens > 0 ? round(reprefill.decode) : null,
          decodeStoredTokensPerSecond: decodeTokens > 0 ? round(storedRun.decode) : null,
          storeMs: round(storeMs),
          tokensAfter: stored.tokensAfter,
          storedBytes: stored.bytes,
          reprefillBytes,
        };
        rows.push(row);
        if (!flags.json) {
          io.out(
            `context ${n} + question ${questionTokens} tokens, ${usedThreads} threads: first token ${row.ttftReprefillMs} ms re-prefilling vs ` +
              `${row.ttftStoredMs} ms from the stored context (${row.speedup}× faster; storing took ${row.storeMs} ms once); ` +
              `KV ${row.storedBytes} bytes stored (${row.tokensAfter} tokens kept${row.compressed ? '' : ', uncompressed'}) vs ${row.reprefillBytes} bytes per re-prefilled call` +
              (decodeTokens > 0
                ? `; decode ${row.decodeStoredTokensPerSecond} tok/s on the stored cache vs ${row.decodeReprefillTokensPerSecond} tok/s re-prefilled`
                : ''),
          );
        }
      } finally {
        await store.dispose();
      }
    }
  } finally {
    model.dispose();
  }
  if (flags.json) io.out(JSON.stringify({ model: modelId, rows }));
  return 0;
}

const round = (x: number) => Math.round(x * 100) / 100;
