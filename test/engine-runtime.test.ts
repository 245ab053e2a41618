// The native runtime through the engine API on a real model (stories260K): reproducible seeds, real
// streaming, abort, typed errors that leave the engine usable, context overflow, fair concurrent
// requests without state mixing, multi-turn sessions and the step-by-step (sample + evaluate) path.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContextOverflowError, InvalidArgumentError, Model, type GenerateOptions } from '../engine/index.js';

const modelsDir = fileURLToPath(new URL('../../shared/models/', import.meta.url));
const modelPath = `${modelsDir}stories260K.gguf`;
const goldenPath = `${modelsDir}golden-stories260K.json`;
const available = existsSync(modelPath) && existsSync(goldenPath);
if (!available) console.warn(`engine-runtime: skipped, ${modelPath} or its golden file is absent`);

describe.skipIf(!available)('engine runtime on stories260K', () => {
  const golden: number[] = available ? JSON.parse(readFileSync(goldenPath, 'utf8')).golden200.ids : [];
  const prompt = [1, 403, 407, 261, 378];
  let model: Model;

  beforeAll(async () => {
    model = await Model.load(modelPath, { threads: 1 });
  });
  afterAll(() => model?.dispose());

  const sampled = (seed: number, extra: Partial<GenerateOptions> = {}): GenerateOptions => ({
    maxTokens: 60,
    temperature: 1.0,
    topK: 0,
    topP: 1,
    minP: 0,
    seed,
    stopTokenIds: [],
    ...extra,
  });

  it('same seed + settings = same tokens; another seed differs', async () => {
    const a = await model.generate(prompt, sampled(42));
    const b = await model.generate(prompt, sampled(42));
    const c = await model.generate(prompt, sampled(43));
    expect(a.generatedTokenIds).toHaveLength(60);
    expect(b.generatedTokenIds).toEqual(a.generatedTokenIds);
    expect(c.generatedTokenIds).not.toEqual(a.generatedTokenIds);
    // Sampling at temperature 1 really departs from the greedy path.
    expect(a.generatedTokenIds).not.toEqual(golden.slice(0, 60));
  });

  it('streams tokens while generating, and abort stops within a step; the next call is unaffected', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    let textStreamed = '';
    const result = await model.generate(prompt, {
      maxTokens: 2000,
      temperature: 0,
      stopTokenIds: [],
      signal: controller.signal,
      onToken: ({ id, text }) => {
        seen.push(id);
        textStreamed += text;
        if (seen.length === 5) controller.abort();
      },
    });
    expect(result.finishReason).toBe('abort');
    // Tokens reached JS while the native loop was still running: it was stopped long before 2000.
    expect(result.generatedTokenIds.length).toBeGreaterThanOrEqual(5);
    expect(result.generatedTokenIds.length).toBeLessThan(1500);
    expect(seen).toEqual(result.generatedTokenIds);
    expect(result.generatedTokenIds).toEqual(golden.slice(0, result.generatedTokenIds.length));
    expect(textStreamed).toBe(result.text);
    expect(model.stats().kvBytesInUse).toBe(0);

    const fresh = await model.generate(prompt, { maxTokens: 50, temperature: 0 });
    expect(fresh.generatedTokenIds).toEqual(golden.slice(0, 50));
  });

  it('an already-aborted signal ends at once with finishReason abort', async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await model.generate(prompt, { maxTokens: 500, temperature: 0, signal: controller.signal });
    expect(result.finishReason).toBe('abort');
    expect(result.generatedTokenIds.length).toBeLessThan(500);
  });

  it('stream(): async iteration yields text deltas that add up to the result text', async () => {
    const stream = model.stream(prompt, { maxTokens: 40, temperature: 0 });
    let text = '';
    let events = 0;
    for await (const e of stream) {
      text += e.text;
      events++;
    }
    const result = await stream.result;
    expect(events).toBeGreaterThanOrEqual(40);
    expect(text).toBe(result.text);
    expect(result.generatedTokenIds).toEqual(golden.slice(0, 40));
  });

  it('stop sequences end generation on the matching token and cut the text before the match', async () => {
    const full = await model.generate(prompt, { maxTokens: 30, temperature: 0 });
    expect(full.text).toContain(' Lily.');
    const streamed: string[] = [];
    const cut = await model.generate(prompt, { maxTokens: 30, temperature: 0, stopSequences: ['ily.'], onText: (d) => streamed.push(d) });
    expect(cut.finishReason).toBe('stop-sequence');
    expect(cut.rawFinishReason).toBe('ily.');
    expect(cut.text).toBe(full.text.slice(0, full.text.indexOf('ily.')));
    expect(streamed.join('')).toBe(cut.text);
    expect(cut.generatedTokenIds.length).toBeLessThan(full.generatedTokenIds.length);
    expect(cut.generatedTokenIds).toEqual(golden.slice(0, cut.generatedTokenIds.length));
  });

  it('EOS ids stop generation (default: the model EOS)', async () => {
    // Make the first greedy token a stop id: generation ends before emitting anything.
    const stopped = await model.generate(prompt, { maxTokens: 20, temperature: 0, stopTokenIds: [golden[3]] });
    expect(stopped.finishReason).toBe('stop');
    expect(stopped.rawFinishReason).toBe('eos');
    expect(stopped.generatedTokenIds).toEqual(golden.slice(0, 3));
    expect(model.info.eosTokenIds).toContain(2);
  });

  it('invalid sampling values are typed errors and the engine keeps working', async () => {
    const bad: Partial<GenerateOptions>[] = [
      { temperature: -1 },
      { temperature: NaN },
      { topP: 0 },
      { topP: 1.5 },
      { topK: -3 },
      { topK: 2.5 },
      { minP: -0.1 },
      { repetitionPenalty: 0 },
      { seed: 0.5 },
      { maxTokens: -1 },
    ];
    for (const b of bad) {
      const err = await model.generate(prompt, { maxTokens: 5, ...b }).catch((e: unknown) => e);
      expect(err, JSON.stringify(b)).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toMatch(new RegExp(Object.keys(b)[0]));
    }
    const session = model.createSession();
    await session.evaluate(prompt);
    await expect(session.sample({ sampling: { topP: 2 } })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(session.sample({ allowedTokenIds: [100000] })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(session.evaluate([1, 99999])).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await session.sample({ sampling: { temperature: 0 } })).toBe(golden[0]);
    await session.dispose();
    const ok = await model.generate(prompt, { maxTokens: 10, temperature: 0 });
    expect(ok.generatedTokenIds).toEqual(golden.slice(0, 10));
  });

  it('a prompt longer than the context window is a ContextOverflowError before any work', async () => {
    const long = Array.from({ length: model.contextLength + 1 }, (_, i) => (i === 0 ? 1 : 300 + (i % 100)));
    await expect(model.generate(long, { maxTokens: 1 })).rejects.toBeInstanceOf(ContextOverflowError);
    const small = await Model.load(modelPath, { threads: 1, contextLength: 16 });
    try {
      await expect(small.generate(Array(17).fill(300), { maxTokens: 1 })).rejects.toBeInstanceOf(ContextOverflowError);
      const session = small.createSession();
      await session.evaluate(Array(10).fill(300));
      await expect(session.evaluate(Array(7).fill(300))).rejects.toBeInstanceOf(ContextOverflowError);
      // The failed call left the session as it was.
      expect(session.kvStats().tokens).toBe(10);
      // Generation that runs into the window stops with 'length' instead of failing.
      const r = await session.generate([], { maxTokens: 50, temperature: 0, stopTokenIds: [] });
      expect(r.finishReason).toBe('length');
      expect(r.rawFinishReason).toBe('context-full');
      expect(session.kvStats().tokens).toBe(16);
      await session.dispose();
      const ok = await small.generate(prompt, { maxTokens: 8, temperature: 0 });
      expect(ok.generatedTokenIds).toEqual(golden.slice(0, 8));
    } finally {
      small.dispose();
    }
  });

  it('concurrent requests give the sequential results and interleave fairly', async () => {
    // Long enough (300 tokens) that no request can finish before the others are queued.
    const requests: GenerateOptions[] = [
      sampled(1, { maxTokens: 300 }),
      sampled(2, { maxTokens: 300, temperature: 0.7 }),
      { maxTokens: 300, temperature: 0, stopTokenIds: [] },
      sampled(3, { maxTokens: 300, topK: 20, repetitionPenalty: 1.3 }),
    ];
    const prompts = [prompt, [1, 317, 269, 368], prompt, [1, 346, 306]];
    const sequential = [];
    for (let i = 0; i < requests.length; i++) sequential.push(await model.generate(prompts[i], requests[i]));

    const order: number[] = [];
    const concurrent = await Promise.all(
      requests.map((r, i) => model.generate(prompts[i], { ...r, onToken: () => order.push(i) })),
    );
    for (let i = 0; i < requests.length; i++) expect(concurrent[i].generatedTokenIds).toEqual(sequential[i].generatedTokenIds);
    expect(concurrent[2].generatedTokenIds.slice(0, 200)).toEqual(golden);
    // Fairness: every request produced tokens before any request produced its last one.
    const firstOf = (i: number) => order.indexOf(i);
    const lastOf = (i: number) => order.lastIndexOf(i);
    const earliestFinish = Math.min(...requests.map((_, i) => lastOf(i)));
    for (let i = 0; i < requests.length; i++) expect(firstOf(i)).toBeLessThan(earliestFinish);
  });

  it('reports KV usage: tokens and bytes of the sequence', async () => {
    const r = await model.generate(prompt, { maxTokens: 30, temperature: 0 });
    const c = model.info.config;
    expect(r.kv.tokens).toBe(35);
    // At least K and V of every kept token in f16, for every (layer, kv head).
    expect(r.kv.bytes).toBeGreaterThanOrEqual(35 * c.nLayers * c.nKvHeads * c.headDim * 2 * 2);
    expect(r.timings.decodeMs).toBeGreaterThan(0);
    expect(r.timings.decodeTokensPerSecond).toBeGreaterThan(0);
    expect(r.timings.prefillTokensPerSecond).toBeGreaterThan(0);
    expect(model.stats().kvBytesInUse).toBe(0);
  });

  it('sessions continue across calls, truncate, and support step-by-step sampling', async () => {
    const session = model.createSession();
    const first = await session.generate(prompt, { maxTokens: 20, temperature: 0 });
    const second = await session.generate([], { maxTokens: 20, temperature: 0 });
    expect([...first.generatedTokenIds, ...second.generatedTokenIds]).toEqual(golden.slice(0, 40));
    expect(session.kvStats().tokens).toBe(45);

    await session.truncate(5 + 10);
    expect(session.kvStats().tokens).toBe(15);
    const again = await session.generate([], { maxTokens: 10, temperature: 0 });
    expect(again.generatedTokenIds).toEqual(golden.slice(10, 20));

    await session.truncate(5);
    const steps: number[] = [];
    for (let i = 0; i < 12; i++) {
      const id = await session.sample({ sampling: { temperature: 0 } });
      steps.push(id);
      await session.evaluate([id], { logits: 'none' });
    }
    expect(steps).toEqual(golden.slice(0, 12));

    // allowedTokenIds restricts the choice to the given ids.
    const allowed = [golden[12] + 1, golden[12] + 2];
    const constrained = await session.sample({ sampling: { temperature: 0.8, seed: 9 }, allowedTokenIds: allowed });
    expect(allowed).toContain(constrained);
    // Seeded step sampling is reproducible.
    const again1 = await session.sample({ sampling: { temperature: 1.5, seed: 77 } });
    const again2 = await session.sample({ sampling: { temperature: 1.5, seed: 77 } });
    expect(again2).toBe(again1);
    await session.dispose();
    await expect(session.evaluate([1])).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('abort() during a session prefill rolls the session back', async () => {
    const session = model.createSession();
    await session.evaluate(prompt);
    const long = Array.from({ length: 1500 }, (_, i) => 300 + (i % 150));
    const pending = session.evaluate(long);
    session.abort();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expect(session.kvStats().tokens).toBe(5);
    const next = await session.generate([], { maxTokens: 10, temperature: 0 });
    expect(next.generatedTokenIds).toEqual(golden.slice(0, 10));
    await session.dispose();
  });
});

describe.skipIf(!available)('engine runtime limits and system info', () => {
  it('a KV budget too small for the request is a KvOutOfMemoryError; the runtime stays usable', async () => {
    const { KvOutOfMemoryError } = await import('../engine/index.js');
    const model = await Model.load(modelPath, { threads: 1, kvBudgetBytes: 64 * 1024 });
    try {
      const prompt = [1, 403, 407, 261, 378];
      const long = [1, ...Array.from({ length: 600 }, (_, i) => 300 + (i % 150))];
      await expect(model.generate(long, { maxTokens: 4, temperature: 0 })).rejects.toBeInstanceOf(KvOutOfMemoryError);
      expect(model.stats().kvBytesInUse).toBe(0);
      const ok = await model.generate(prompt, { maxTokens: 10, temperature: 0 });
      expect(ok.generatedTokenIds).toHaveLength(10);
    } finally {
      model.dispose();
    }
  });

  it('disposing a model with requests in flight settles them and refuses new ones', async () => {
    const model = await Model.load(modelPath, { threads: 1 });
    const prompt = [1, 403, 407, 261, 378];
    let tokens = 0;
    const running = model.generate(prompt, { maxTokens: 1500, temperature: 0, stopTokenIds: [], onToken: () => tokens++ });
    const queued = model.createSession();
    const queuedEval = queued.evaluate(Array(1000).fill(300));
    await new Promise((r) => setTimeout(r, 5));
    model.dispose();
    const settled = await Promise.allSettled([running, queuedEval]);
    for (const s of settled) {
      if (s.status === 'fulfilled') continue;
      expect((s.reason as { code?: string }).code).toBe('ERR_ABORTED');
    }
    if (settled[0].status === 'fulfilled') expect(['abort', 'length']).toContain(settled[0].value.finishReason);
    await expect(model.generate(prompt, { maxTokens: 1 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('systemInfo reports the CPU features the OS reports and the CUDA build state', async () => {
    const { systemInfo } = await import('../engine/index.js');
    const info = systemInfo();
    for (const k of ['avx2', 'fma', 'f16c', 'avx512f', 'avx512bf16'] as const) expect(typeof info.cpu[k]).toBe('boolean');
    if (process.platform === 'linux' && process.arch === 'x64' && existsSync('/proc/cpuinfo')) {
      const flags = new Set((readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '').trim().split(/\s+/));
      expect(info.cpu.avx2).toBe(flags.has('avx2'));
      expect(info.cpu.fma).toBe(flags.has('fma'));
      expect(info.cpu.f16c).toBe(flags.has('f16c'));
      expect(info.cpu.avx512f).toBe(flags.has('avx512f'));
    }
    expect(typeof info.cuda.compiled).toBe('boolean');
    expect(Array.isArray(info.cuda.devices)).toBe(true);
    if (!info.cuda.compiled) expect(info.cuda.devices).toEqual([]);
  });
});
