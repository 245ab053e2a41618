// The AI SDK provider end to end with `ai` 6: generateText/streamText against the CLI, real streaming,
// abort, a tool round trip and JSON output on tiny make-model models, warnings and typed errors.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError as SdkInvalidArgumentError } from '@ai-sdk/provider';
import { generateText, Output, stepCountIs, streamText, tool } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { main } from '../cli/main.js';
import { ContextOverflowError, ModelNotFoundError } from '../engine/errors.js';
import { validateJson } from '../engine/constrained/validate-json.js';
import { createPressKV } from '../provider/create-presskv.js';
import { tinyModelPath } from './helpers/tiny-models.js';

(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const storiesPath = path.resolve(repoRoot, '..', 'shared', 'models', 'stories260K.gguf');
const haveStories = existsSync(storiesPath);
if (!haveStories) console.warn(`[provider.test] ${storiesPath} is absent: skipping the stories260K comparisons`);

const provider = createPressKV({ threads: 2 });
afterAll(() => provider.dispose());

/** The CLI's --json result for the same model and settings. */
async function cliGenerate(...argv: string[]): Promise<{ text: string; generatedTokenIds: number[] }> {
  let out = '';
  let err = '';
  // Same thread count as the provider, so even a thread-count-dependent reduction order could not differ.
  const code = await main(['generate', ...argv, '--threads', '2', '--json'], { out: (l) => (out += l), err: (l) => (err += l) });
  expect(code, err).toBe(0);
  return JSON.parse(out);
}

describe.skipIf(!haveStories)('raw completion model (stories260K)', () => {
  it('generateText and streamText give the CLI text; the stream has many deltas', async () => {
    const model = provider(storiesPath);
    const cli = await cliGenerate('--model', storiesPath, '--prompt', 'Once upon a time', '--max-tokens', '48', '--temperature', '0');
    const generated = await generateText({ model, prompt: 'Once upon a time', temperature: 0, maxOutputTokens: 48 });
    expect(generated.text).toBe(cli.text);
    expect(generated.text.startsWith(', there was a little girl named Lily.')).toBe(true);
    expect(generated.finishReason).toBe('length');
    expect(generated.usage.inputTokens).toBe(5);
    expect(generated.usage.outputTokens).toBe(48);
    expect(generated.usage.inputTokenDetails).toEqual({ noCacheTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 });

    const streamed = streamText({ model, prompt: 'Once upon a time', temperature: 0, maxOutputTokens: 48 });
    const deltas: string[] = [];
    for await (const delta of streamed.textStream) deltas.push(delta);
    expect(deltas.length).toBeGreaterThan(20);
    expect(deltas.join('')).toBe(cli.text);
    expect(await streamed.finishReason).toBe('length');
    expect((await streamed.usage).outputTokens).toBe(48);
    expect((await streamed.providerMetadata)?.presskv?.kvTokens).toBe(5 + 48);
  });

  it('aborting mid-stream ends the stream, and the next call works', async () => {
    const model = provider(storiesPath);
    const controller = new AbortController();
    const streamed = streamText({ model, prompt: 'Once upon a time', temperature: 0, maxOutputTokens: 400, abortSignal: controller.signal, onError: () => {} });
    const deltas: string[] = [];
    const started = performance.now();
    for await (const delta of streamed.textStream) {
      deltas.push(delta);
      if (deltas.length === 5) controller.abort();
    }
    expect(deltas.length).toBeGreaterThanOrEqual(5);
    expect(deltas.length).toBeLessThan(60);
    expect(performance.now() - started).toBeLessThan(60_000);

    const next = await generateText({ model, prompt: 'Once upon a time', temperature: 0, maxOutputTokens: 8 });
    expect(next.text).toBe(', there was a little girl named Lily.'.slice(0, next.text.length));
    expect(next.usage.outputTokens).toBe(8);
  });

  it('cancelling the stream (a consumer that stops reading) stops the engine', async () => {
    const model = provider(storiesPath);
    const { stream } = await model.doStream({ prompt: [{ role: 'user', content: [{ type: 'text', text: 'Once upon a time' }] }], maxOutputTokens: 2000, temperature: 0 });
    const reader = stream.getReader();
    const types: string[] = [];
    const deltaTimes: number[] = [];
    while (deltaTimes.length < 12) {
      const type = (await reader.read()).value!.type;
      types.push(type);
      if (type === 'text-delta') deltaTimes.push(performance.now());
    }
    expect(types.slice(0, 3)).toEqual(['stream-start', 'response-metadata', 'text-start']);
    const perToken = (deltaTimes[11]! - deltaTimes[1]!) / 10;
    await reader.cancel();
    const engine = await provider.loadModel(storiesPath);
    const cancelledAt = performance.now();
    // The sequence's KV pages are freed once the generation has stopped: long before ~1990 more tokens.
    while (engine.stats().kvBytesInUse > 0 && performance.now() - cancelledAt < 30_000) await new Promise((r) => setTimeout(r, 5));
    expect(engine.stats().kvBytesInUse).toBe(0);
    expect(performance.now() - cancelledAt).toBeLessThan(Math.max(300 * perToken, 250));
    expect((await generateText({ model, prompt: 'Once upon a time', temperature: 0, maxOutputTokens: 3 })).usage.outputTokens).toBe(3);
  });

  it('maps stop sequences, seeds and penalties; generateText rejects when aborted', async () => {
    const model = provider(storiesPath);
    const stopped = await generateText({ model, prompt: 'Once upon a time', temperature: 0, maxOutputTokens: 48, stopSequences: ['Lily'] });
    expect(stopped.text).toBe(', there was a little girl named ');
    expect(stopped.finishReason).toBe('stop');
    const sampled = (seed: number) =>
      generateText({ model, prompt: 'Once upon a time', temperature: 1, topK: 40, topP: 0.9, seed, maxOutputTokens: 24, providerOptions: { presskv: { minP: 0.02, repetitionPenalty: 1.1 } } });
    const [a, b, c] = await Promise.all([sampled(7), sampled(7), sampled(8)]);
    expect(a.text).toBe(b.text);
    expect(a.text).not.toBe(c.text);

    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const aborted = await generateText({ model, prompt: 'Once upon a time', temperature: 0, maxOutputTokens: 1500, abortSignal: controller.signal }).catch((e) => e);
    expect(aborted).toBeInstanceOf(Error);
    expect(aborted.name).toBe('AbortError');
  });

  it('reports ignored settings as warnings and rejects invalid provider options', async () => {
    const model = provider(storiesPath);
    const result = await generateText({ model, prompt: 'Once', maxOutputTokens: 2, temperature: 0, headers: { 'x-test': '1' } });
    expect(result.warnings).toContainEqual(expect.objectContaining({ type: 'unsupported', feature: 'headers' }));
    const tools = await generateText({ model, prompt: 'Once', maxOutputTokens: 2, tools: { t: tool({ inputSchema: z.object({}) }) } });
    expect(tools.warnings).toContainEqual(expect.objectContaining({ type: 'unsupported', feature: 'tools' }));

    const bad = await generateText({ model, prompt: 'Once', maxOutputTokens: 2, providerOptions: { presskv: { minp: 0.1 } } }).catch((e) => e);
    expect(SdkInvalidArgumentError.isInstance(bad)).toBe(true);
    expect(bad.message).toMatch(/providerOptions\.presskv.*minp/s);
    const badValue = await generateText({ model, prompt: 'Once', maxOutputTokens: 2, temperature: -1 }).catch((e) => e);
    expect(badValue).toBeInstanceOf(Error);
    // Still usable.
    expect((await generateText({ model, prompt: 'Once', maxOutputTokens: 2, temperature: 0 })).usage.outputTokens).toBe(2);
  });
});

describe('tiny models with chat templates', () => {
  let llama: string;
  let qwen: string;
  beforeAll(async () => {
    llama = await tinyModelPath({ arch: 'llama', format: 'hf' });
    qwen = await tinyModelPath({ arch: 'qwen3', format: 'gguf' });
  });

  it('generateText and streamText follow the template and match the CLI', async () => {
    const cli = await cliGenerate('--model', llama, '--prompt', 'Tell me a story', '--max-tokens', '24', '--temperature', '0');
    const model = provider(llama);
    const generated = await generateText({ model, prompt: 'Tell me a story', temperature: 0, maxOutputTokens: 24 });
    expect(generated.text).toBe(cli.text);
    const streamed = streamText({ model, prompt: 'Tell me a story', temperature: 0, maxOutputTokens: 24 });
    let text = '';
    for await (const delta of streamed.textStream) text += delta;
    expect(text).toBe(cli.text);
    const request = (await streamed.request).body as { prompt: string };
    expect(request.prompt).toContain('<|start_header_id|>user<|end_header_id|>\n\nTell me a story<|eot_id|>');
  });

  it('tool round trip: a forced call, the result goes back, the model answers', async () => {
    const calls: unknown[] = [];
    const result = await generateText({
      model: provider(qwen),
      prompt: 'What is 2 plus 3?',
      temperature: 0,
      maxOutputTokens: 48,
      tools: {
        add: tool({
          description: 'Adds two numbers',
          inputSchema: z.object({ a: z.number(), b: z.number() }),
          execute: async ({ a, b }) => {
            calls.push({ a, b });
            return a + b;
          },
        }),
        weather: tool({ description: 'Weather of a city', inputSchema: z.object({ city: z.string(), unit: z.enum(['c', 'f']) }) }),
      },
      stopWhen: stepCountIs(3),
      prepareStep: ({ stepNumber }) => (stepNumber === 0 ? { toolChoice: 'required' as const } : { toolChoice: 'none' as const }),
    });
    expect(result.steps.length).toBe(2);
    const [first, second] = result.steps;
    expect(first!.finishReason).toBe('tool-calls');
    expect(first!.toolCalls).toHaveLength(1);
    const call = first!.toolCalls[0]!;
    if (call.toolName === 'add') {
      expect(calls).toEqual([call.input]);
      expect(first!.toolResults[0]!.output).toBe((call.input as { a: number }).a + (call.input as { b: number }).b);
    } else {
      expect(call.toolName).toBe('weather');
      expect(validateJson(call.input, { type: 'object', properties: { city: { type: 'string' }, unit: { enum: ['c', 'f'] } }, required: ['city', 'unit'] })).toBeNull();
    }
    // The second request carries the call and its result through the template.
    const prompt = (second!.request.body as { prompt: string }).prompt;
    expect(prompt).toContain(`<tool_call>\n{"name": "${call.toolName}", "arguments": `);
    expect(prompt).toContain('<tool_response>');
    expect(second!.toolCalls).toHaveLength(0);
    expect(['stop', 'length']).toContain(second!.finishReason);
  });

  it('streamText delivers a forced tool call as tool-call parts', async () => {
    const streamed = streamText({
      model: provider(qwen),
      prompt: 'Weather in Paris?',
      maxOutputTokens: 64,
      seed: 3,
      tools: { weather: tool({ inputSchema: z.object({ city: z.string() }) }) },
      toolChoice: { type: 'tool', toolName: 'weather' },
    });
    const parts: string[] = [];
    for await (const part of streamed.fullStream) parts.push(part.type);
    const toolCalls = await streamed.toolCalls;
    expect(toolCalls).toHaveLength(1);
    expect(toolCalls[0]!.toolName).toBe('weather');
    expect(typeof (toolCalls[0]!.input as { city: unknown }).city).toBe('string');
    expect(parts).toContain('tool-call');
    expect(await streamed.finishReason).toBe('tool-calls');
  });

  it('Llama 3.1-style templates: a forced call is a bare {"name", "parameters"} object', async () => {
    const result = await generateText({
      model: provider(llama),
      prompt: 'Weather in Paris?',
      maxOutputTokens: 64,
      seed: 4,
      tools: { weather: tool({ inputSchema: z.object({ city: z.string(), days: z.number().int() }) }) },
      toolChoice: 'required',
    });
    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]!.toolName).toBe('weather');
    expect(Object.keys(result.toolCalls[0]!.input as object).sort()).toEqual(['city', 'days']);
    expect(result.text).toBe('');
    expect(result.finishReason).toBe('tool-calls');
    expect((result.request.body as { prompt: string }).prompt).toContain('Environment: ipython');
  });

  it('enableThinking reaches the template; constrainToolCalls forces a call under toolChoice auto', async () => {
    const model = provider(qwen);
    const off = await generateText({ model, prompt: 'hi', maxOutputTokens: 1, providerOptions: { presskv: { enableThinking: false } } });
    expect((off.request.body as { prompt: string }).prompt.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
    const forced = await generateText({
      model,
      prompt: 'Weather in Paris?',
      maxOutputTokens: 64,
      seed: 5,
      tools: { weather: tool({ inputSchema: z.object({ city: z.string() }) }) },
      providerOptions: { presskv: { constrainToolCalls: true } },
    });
    expect(forced.toolCalls.map((c) => c.toolName)).toEqual(['weather']);
    expect(forced.finishReason).toBe('tool-calls');
  });

  it('JSON output parses and matches the schema', async () => {
    const schema = z.object({ name: z.string(), age: z.number().int(), tags: z.array(z.enum(['a', 'b'])), ok: z.boolean().nullable() });
    const model = provider(qwen);
    for (const seed of [1, 2]) {
      const result = await generateText({ model, prompt: 'Describe a person as JSON', maxOutputTokens: 96, seed, output: Output.object({ schema }) });
      expect(schema.safeParse(result.output).success).toBe(true);
      expect(result.finishReason).toBe('stop');
    }
    // Plain JSON mode, streamed, and a budget that only just fits still closes the JSON.
    const streamed = streamText({ model: provider(llama), prompt: 'JSON please', maxOutputTokens: 40, temperature: 0, output: Output.json() });
    let text = '';
    for await (const delta of streamed.textStream) text += delta;
    expect(() => JSON.parse(text)).not.toThrow();
  });

  it('a bad model path is a typed error, and the provider still works after it', async () => {
    const err = await generateText({ model: provider(path.join(repoRoot, 'no-such-model.gguf')), prompt: 'x' }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelNotFoundError);
    expect(err.message).toMatch(/no-such-model\.gguf/);
    expect(() => provider.embeddingModel('x')).toThrow(/language models only/);
    const small = provider(llama, { contextLength: 16 });
    const long = 'a long prompt that does not fit '.repeat(8);
    await expect(generateText({ model: small, prompt: long, maxOutputTokens: 4 })).rejects.toBeInstanceOf(ContextOverflowError);
    await expect(generateText({ model: small, prompt: long, maxOutputTokens: 4, output: Output.json() })).rejects.toBeInstanceOf(ContextOverflowError);
    expect((await generateText({ model: provider(llama), prompt: 'hi', maxOutputTokens: 2 })).usage.outputTokens).toBeLessThanOrEqual(2);
  });
});
