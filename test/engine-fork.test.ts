// Copy-on-write forks of a session on a real model (stories260K): a fork continues exactly like a fresh
// sequence holding the same tokens, eight forks decoding at once give the sequential answers, KV memory is
// one shared context plus one private tail per fork, and disposing either side never takes pages from the other.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, Model, type Session } from '../engine/index.js';

const modelPath = fileURLToPath(new URL('../../shared/models/stories260K.gguf', import.meta.url));
const available = existsSync(modelPath);
if (!available) console.warn(`engine-fork: skipped, ${modelPath} is absent`);

const CONTEXT =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her dog Max. ' +
  'One day, Lily saw a big red ball under a tree. She wanted to play with it, but the ball was stuck. ' +
  'Lily asked her mom for help, and her mom smiled and said yes.';
const QUESTIONS = [' Lily', ' One day', ' The dog', ' She was', ' Tom', ' The sun', ' Mom said', ' They'];
const greedy = { maxTokens: 24, temperature: 0, stopTokenIds: [] as number[] };

describe.skipIf(!available)('Session.fork on stories260K', () => {
  let model: Model;
  let context: number[];
  let questions: number[][];
  let reference: number[][];

  beforeAll(async () => {
    model = await Model.load(modelPath, { threads: 1 });
    context = model.tokenize(CONTEXT);
    questions = QUESTIONS.map((q) => model.tokenize(q, { addSpecialTokens: false }));
    // Plain reference: each question on its own fresh sequence (no fork), context then question.
    reference = [];
    for (const q of questions) {
      const fresh = model.createSession();
      await fresh.evaluate(context, { logits: 'none' });
      reference.push((await fresh.generate(q, greedy)).generatedTokenIds);
      await fresh.dispose();
    }
  });
  afterAll(() => model?.dispose());

  async function prefilledContext(): Promise<Session> {
    const session = model.createSession();
    await session.evaluate(context, { logits: 'last' });
    return session;
  }

  it('the test context spans several KV pages and the questions lead to different answers', () => {
    expect(context.length).toBeGreaterThan(64);
    expect(new Set(reference.map((r) => r.join(','))).size).toBeGreaterThan(4);
  });

  it('eight forks decoding concurrently give the sequential answers; KV = one context + eight tails', async () => {
    const parent = await prefilledContext();
    const contextBytes = parent.kvStats().bytes;
    expect(contextBytes).toBeGreaterThan(0);
    expect(model.stats().kvBytesInUse).toBe(contextBytes);

    const forks = await Promise.all(questions.map(() => parent.fork()));
    // A fork copies no K/V bytes: the pool holds the same pages, now shared.
    expect(model.stats().kvBytesInUse).toBe(contextBytes);
    const lengths = Array(model.info.config.nLayers * model.info.config.nKvHeads).fill(context.length);
    expect(parent.kvStats()).toEqual({ tokens: context.length, bytes: 0, sharedBytes: contextBytes, lengths });
    for (const f of forks) expect(f.kvStats()).toEqual({ tokens: context.length, bytes: 0, sharedBytes: contextBytes, lengths });

    const results = await Promise.all(forks.map((f, i) => f.generate(questions[i], greedy)));
    results.forEach((r, i) => expect(r.generatedTokenIds).toEqual(reference[i]));

    const tails = forks.map((f) => f.kvStats());
    for (const [i, t] of tails.entries()) {
      // Each fork holds only its tail (the question, the answer, copies of the pages it wrote into).
      expect(t.tokens).toBe(context.length + questions[i].length + greedy.maxTokens);
      expect(t.bytes).toBeGreaterThan(0);
      expect(t.bytes).toBeLessThan(contextBytes);
      expect(t.sharedBytes).toBeGreaterThan(0);
      expect(t.bytes + (t.sharedBytes ?? 0)).toBeGreaterThanOrEqual(contextBytes);
    }
    expect(model.stats().kvBytesInUse).toBe(contextBytes + tails.reduce((n, t) => n + t.bytes, 0));
    // Exactly copy-on-write: a fork's private pages are the context's last, partly filled page of every
    // (layer, kv-head), which it wrote into, plus the pages its new tokens needed (64 slots a page).
    const c = model.info.config;
    const heads = c.nLayers * c.nKvHeads;
    const pages = (n: number) => Math.ceil(n / 64);
    const pageBytes = contextBytes / (heads * pages(context.length));
    expect(Number.isInteger(pageBytes)).toBe(true);
    for (const [i, t] of tails.entries()) {
      const inCache = context.length + questions[i].length + greedy.maxTokens - 1;  // the last token is pending
      expect(t.bytes).toBe(heads * pageBytes * (pages(inCache) - Math.floor(context.length / 64)));
    }

    await Promise.all(forks.map((s) => s.dispose()));
    expect(model.stats().kvBytesInUse).toBe(contextBytes);
    // The same requests on forks run one at a time agree too.
    for (const [i, q] of questions.entries()) {
      const f = await parent.fork();
      expect((await f.generate(q, greedy)).generatedTokenIds).toEqual(reference[i]);
      await f.dispose();
    }
    await parent.dispose();
    expect(model.stats().kvBytesInUse).toBe(0);
  });

  it('disposing the parent keeps the pages its forks read; disposing a fork keeps the parent intact', async () => {
    const parent = await prefilledContext();
    const contextBytes = parent.kvStats().bytes;
    const [a, b, c] = [await parent.fork(), await parent.fork(), await parent.fork()];
    await a.dispose();
    expect(model.stats().kvBytesInUse).toBe(contextBytes);
    const fromParent = await parent.generate(questions[0], greedy);
    expect(fromParent.generatedTokenIds).toEqual(reference[0]);
    await parent.dispose();
    expect(model.stats().kvBytesInUse).toBe(contextBytes);
    const fromB = await b.generate(questions[1], greedy);
    const fromC = await c.generate(questions[2], greedy);
    expect(fromB.generatedTokenIds).toEqual(reference[1]);
    expect(fromC.generatedTokenIds).toEqual(reference[2]);
    await b.dispose();
    await c.dispose();
    expect(model.stats().kvBytesInUse).toBe(0);
  });

  it('a fork carries the pending last token and the queued calls before it; forks of forks work', async () => {
    const parent = model.createSession();
    const prefill = parent.evaluate(context, { logits: 'none' });
    // Queued behind the prefill and a generation: the fork sees the state after both.
    const first = parent.generate(questions[3], { ...greedy, maxTokens: 6 });
    const child = await parent.fork();
    await prefill;
    expect((await first).generatedTokenIds).toEqual(reference[3].slice(0, 6));
    expect(child.kvStats().tokens).toBe(parent.kvStats().tokens);

    // The 6th token is pending on both sides: each evaluates it first and continues identically.
    const grandchild = await child.fork();
    const fromChild = await child.generate([], { ...greedy, maxTokens: 10 });
    const fromGrandchild = await grandchild.generate([], { ...greedy, maxTokens: 10 });
    const fromParent = await parent.generate([], { ...greedy, maxTokens: 10 });
    expect(fromChild.generatedTokenIds).toEqual(reference[3].slice(6, 16));
    expect(fromGrandchild.generatedTokenIds).toEqual(reference[3].slice(6, 16));
    expect(fromParent.generatedTokenIds).toEqual(reference[3].slice(6, 16));
    await Promise.all([parent, child, grandchild].map((s) => s.dispose()));
    expect(model.stats().kvBytesInUse).toBe(0);
  });

  it('an aborted fork generation rolls back only the fork', async () => {
    const parent = await prefilledContext();
    const child = await parent.fork();
    const controller = new AbortController();
    let seen = 0;
    const aborted = await child.generate(questions[4], {
      ...greedy,
      maxTokens: 400,
      signal: controller.signal,
      onToken: () => {
        if (++seen === 3) controller.abort();
      },
    });
    expect(aborted.finishReason).toBe('abort');
    expect(child.kvStats().tokens).toBe(context.length);
    const retry = await child.generate(questions[4], greedy);
    expect(retry.generatedTokenIds).toEqual(reference[4]);
    const fromParent = await parent.generate(questions[5], greedy);
    expect(fromParent.generatedTokenIds).toEqual(reference[5]);
    await Promise.all([parent.dispose(), child.dispose()]);
  });

  it('fork() of a disposed session is a typed error', async () => {
    const session = model.createSession();
    await session.dispose();
    await expect(session.fork()).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
