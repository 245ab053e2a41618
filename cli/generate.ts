// `presskv generate`: one prompt through a model. Streams the text to stdout and progress to stderr,
// or prints one JSON object (--json) with the ids, usage, timings and KV figures.
import { readFile } from 'node:fs/promises';
import { Model } from '../engine/model.js';
import { InvalidArgumentError } from '../engine/errors.js';
import type { ChatMessage } from '../engine/chat-template.js';
import type { GenerateOptions, GenerateResult } from '../engine/types.js';
import type { PrefillContextResult } from '../engine/session.js';
import { createPress } from '../engine/presses/registry.js';
import type { PressSpec } from '../engine/presses/base.js';
import { buildChatPrompt } from '../provider/chat-prompt.js';
import { choiceFlag, numberFlag, parseFlags, requireFlag, UsageError, type CommandIo, type FlagOptions } from './args.js';
import { DEVICE_FLAG_USAGE, deviceFlag } from './device-flag.js';
import { pressSpecFromFlags, splitContextTokens } from './press-flags.js';
import { pressPrefillPlan } from '../engine/presses/finch.js';
import { prefillProgress, stderrSink } from './progress.js';

export const GENERATE_USAGE = `presskv generate --model <path|id> --prompt <text> [options]

  --model <path|id>        .gguf file, HF model directory, or org/name[@revision] from the Hugging Face hub
  --prompt <text>          the question / text to continue
  --context <text|@file>   a document the prompt is about (@file reads it from a file)
  --raw                    no chat template: the model sees BOS (if it uses one), then the tokens of the
                           context, then the tokens of the prompt
                           (without --raw, a model with a chat template gets the context as the system
                           message and the prompt as the user message; a model without one runs raw)
  --max-tokens <n>         tokens to generate at most, an integer >= 1 (default 256)
  --temperature <t>        0 = greedy (default 0.8)
  --top-k <k>  --top-p <p>  --min-p <p>  --repetition-penalty <r>   sampling filters (default: off)
  --seed <s>               reproducible sampling (default: random)
  --stop <text>            stop sequence (repeatable; default: the model's end-of-text tokens only)
  --no-thinking            thinking models: turn thinking off through the template
  --threads <n>            worker threads (default: all cores)
  --context-length <n>     context window (default: the model's)
  --kv-dtype <f16|f32>     KV cache element type (default f16)
  ${DEVICE_FLAG_USAGE}
  --press <name>           compress the context's KV cache with a press (kvpress class name such as
                           SnapKVPress, or its short name such as snapkv; \`presskv presses\` lists them);
                           the prompt (question) is never compressed, except by the query-aware
                           FinchPress, which prefills it with the context as its window
  --compression-ratio <r>  fraction of the context's KV slots the press removes, 0 ≤ r < 1
  --press-options <json>   more press options, e.g. '{"windowSize": 32}'; a wrapper's inner press as
                           '{"press": {"name": "snapkv"}}'
  --json                   print one JSON object instead of streaming text (with --press, kv gains
                           tokensBefore, tokensAfter (tokens), slotsBefore, slotsAfter ((layer, kv-head) slots), bytesBefore, bytesAfter and perLayer);
                           "device" says where it ran, "deviceFallbackReason" why auto chose the CPU

Example: presskv generate --model ./stories260K.gguf --prompt "Once upon a time" --max-tokens 32 --temperature 0`;

export const GENERATE_FLAGS = {
  model: { type: 'string' },
  prompt: { type: 'string' },
  context: { type: 'string' },
  raw: { type: 'boolean' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  seed: { type: 'string' },
  stop: { type: 'string', multiple: true },
  'no-thinking': { type: 'boolean' },
  threads: { type: 'string' },
  'context-length': { type: 'string' },
  'kv-dtype': { type: 'string' },
  device: { type: 'string' },
  press: { type: 'string' },
  'compression-ratio': { type: 'string' },
  'press-options': { type: 'string' },
  json: { type: 'boolean' },
} satisfies FlagOptions;

export async function runGenerate(argv: string[], io: CommandIo): Promise<number> {
  const u = GENERATE_USAGE;
  const flags = parseFlags(argv, GENERATE_FLAGS, u);
  const modelId = requireFlag(flags.model, 'model', u);
  const prompt = flags.prompt ?? requireFlag(undefined, 'prompt', u);
  const options: GenerateOptions = {
    maxTokens: numberFlag(flags['max-tokens'], 'max-tokens', u, { integer: true, min: 1 }) ?? 256,
    temperature: numberFlag(flags.temperature, 'temperature', u, { min: 0 }),
    topK: numberFlag(flags['top-k'], 'top-k', u, { integer: true, min: 0 }),
    topP: numberFlag(flags['top-p'], 'top-p', u, { min: 0, exclusiveMin: true, max: 1 }),
    minP: numberFlag(flags['min-p'], 'min-p', u, { min: 0, max: 1 }),
    repetitionPenalty: numberFlag(flags['repetition-penalty'], 'repetition-penalty', u, { min: 0, exclusiveMin: true }),
    seed: numberFlag(flags.seed, 'seed', u, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER }),
    stopSequences: flags.stop?.length ? flags.stop : undefined,
  };
  for (const key of Object.keys(options) as (keyof GenerateOptions)[]) if (options[key] === undefined) delete options[key];
  const threads = numberFlag(flags.threads, 'threads', u, { integer: true, min: 1 });
  const contextLength = numberFlag(flags['context-length'], 'context-length', u, { integer: true, min: 1 });
  const kvDtype = choiceFlag(flags['kv-dtype'], 'kv-dtype', ['f16', 'f32'] as const, u);
  const device = deviceFlag(flags.device, u);
  // A bad press (unknown name, ratio out of range, malformed options) fails here, before the model loads.
  const press = pressSpecFromFlags(
    { press: flags.press, compressionRatio: numberFlag(flags['compression-ratio'], 'compression-ratio', u), options: flags['press-options'] },
    u,
  );
  const context = flags.context === undefined ? undefined : await readContext(flags.context);
  if (press && (context === undefined || context === '')) throw new UsageError('--press compresses the context: give one with --context', u);

  const loadStart = performance.now();
  if (!flags.json) io.err(`loading ${modelId}…`);
  const model = await Model.load(modelId, { threads, contextLength, kvDtype, device });
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const promptTokenIds = promptTokens(model, prompt, context, flags.raw === true, flags['no-thinking'] ? false : undefined);
    if (!flags.json) io.err(`loaded in ${Math.round(performance.now() - loadStart)} ms on ${describeDevice(model)}; prompt: ${promptTokenIds.length} tokens`);
    const generateOptions: GenerateOptions = {
      ...options,
      signal: controller.signal,
      onText: flags.json ? undefined : (delta) => (io.write ?? io.out)(delta),
    };
    let compressed: PrefillContextResult | undefined;
    let result: GenerateResult;
    if (press) {
      const contextOnly = promptTokens(model, '', context, flags.raw === true, flags['no-thinking'] ? false : undefined, true);
      const { contextIds, questionIds } = splitContextTokens(promptTokenIds, contextOnly);
      const plan = pressPrefillPlan(press, contextIds, questionIds);
      const session = model.createSession();
      try {
        const progress = flags.json ? undefined : prefillProgress(stderrSink(io), 'prefill (press)');
        try {
          compressed = await session.prefillContext(plan.prefillIds, { press: plan.press, signal: controller.signal, onProgress: progress?.onProgress });
        } finally {
          progress?.renderer.end();
        }
        if (!flags.json)
          io.err(
            `press: ${plan.afterIds.length ? 'context' : 'context + question'} ${plan.prefillIds.length} tokens, ` +
              `tokens ${compressed.tokensBefore} → ${compressed.tokensAfter} per (layer, kv-head), KV slots ${compressed.slotsBefore} → ${compressed.slotsAfter}, ` +
              `bytes ${compressed.bytesBefore} → ${compressed.bytesAfter} in ${compressed.prefillMs.toFixed(1)} ms`,
          );
        result = await session.generate(plan.afterIds, generateOptions);
        result = { ...result, promptTokenIds, usage: { ...result.usage, inputTokens: promptTokenIds.length, totalTokens: promptTokenIds.length + result.usage.outputTokens } };
      } finally {
        await session.dispose();
      }
    } else {
      const progress = flags.json ? undefined : prefillProgress(stderrSink(io));
      try {
        result = await model.generate(promptTokenIds, { ...generateOptions, onPrefillProgress: progress?.onProgress });
      } finally {
        progress?.renderer.end();
      }
    }
    if (flags.json) {
      const kv = compressed
        ? {
            ...result.kv,
            tokensBefore: compressed.tokensBefore,
            tokensAfter: compressed.tokensAfter,
            slotsBefore: compressed.slotsBefore,
            slotsAfter: compressed.slotsAfter,
            bytesBefore: compressed.bytesBefore,
            bytesAfter: compressed.bytesAfter,
            perLayer: compressed.perLayer,
            prefillMs: compressed.prefillMs,
          }
        : result.kv;
      io.out(
        JSON.stringify({
          model: model.info.path,
          // result.device says where it ran; this says why 'auto' chose the CPU.
          ...(model.deviceFallbackReason === undefined ? {} : { deviceFallbackReason: model.deviceFallbackReason }),
          ...result,
          kv,
          ...(press ? { press: compressedPressName(press) } : {}),
        }),
      );
    } else {
      if (io.write) io.write('\n');
      const t = result.timings;
      io.err(
        `finish: ${result.finishReason} (${result.rawFinishReason}); ` +
          `prefill ${result.usage.inputTokens} tokens in ${t.prefillMs.toFixed(1)} ms (${t.prefillTokensPerSecond.toFixed(1)} tok/s); ` +
          `decode ${result.usage.outputTokens} tokens in ${t.decodeMs.toFixed(1)} ms (${t.decodeTokensPerSecond.toFixed(1)} tok/s); ` +
          `kv ${result.kv.tokens} tokens, ${result.kv.bytes} bytes`,
      );
    }
    return 0;
  } finally {
    process.removeListener('SIGINT', onSigint);
    model.dispose();
  }
}

/**
 * Raw: BOS (when the model adds one), the context's tokens, then the prompt's tokens — encoded apart, so
 * the context/prompt boundary is a token boundary. Otherwise the chat template with the context as the
 * system message (the part of a conversation that a cached, compressed context stands for).
 */
function promptTokens(
  model: Model,
  prompt: string,
  context: string | undefined,
  raw: boolean,
  enableThinking: boolean | undefined,
  contextOnly = false,
): number[] {
  if (raw || !model.chatTemplate) {
    const { tokenizer } = model;
    const ids = tokenizer.addBos && tokenizer.bosTokenId !== undefined ? [tokenizer.bosTokenId] : [];
    if (context !== undefined && context !== '') ids.push(...tokenizer.encode(context, { addSpecialTokens: false }));
    if (!contextOnly) ids.push(...tokenizer.encode(prompt, { addSpecialTokens: false }));
    if (ids.length === 0) throw new InvalidArgumentError('The prompt is empty');
    return ids;
  }
  const messages: ChatMessage[] = [];
  if (context !== undefined && context !== '') messages.push({ role: 'system', content: context });
  if (!contextOnly) messages.push({ role: 'user', content: prompt });
  return buildChatPrompt(model, { messages, enableThinking }).tokenIds;
}

async function readContext(value: string): Promise<string> {
  if (!value.startsWith('@')) return value;
  const file = value.slice(1);
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`--context ${value}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function describeDevice(model: Model): string {
  return model.deviceFallbackReason ? `${model.device} (${model.deviceFallbackReason})` : model.device;
}

function compressedPressName(press: PressSpec): string {
  return createPress(press).toNativeConfig().name;
}
