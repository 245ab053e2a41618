// Parity: the native engine against the plain TypeScript reference forward pass on tiny random models of
// every architecture, in HF (f32, bf16) and GGUF (f32, f16) form. Prompts cross several prefill chunks
// and KV pages; f32 logits must agree to 1e-4 relative and 64 greedy tokens must be identical.
// The reference itself is also checked against llama.cpp on the real stories260K model.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Model } from '../engine/model.js';
import { readModelFiles } from '../engine/model-files.js';
import type { Architecture, WeightDType } from '../engine/model-spec.js';
import { nativeAddon, type NativeModelHandle } from '../engine/native.js';
import { tinyModelPath } from './helpers/tiny-models.js';
import { argmax, ReferenceForward } from './reference/forward.js';

const CHUNK = 16;
const PAGE = 8;
const PROMPT_LENGTH = 57; // 4 prefill chunks, 8 KV pages (the last ones partly filled)
const GREEDY_STEPS = 64;
const RELATIVE_TOLERANCE = 1e-4;

interface Case {
  arch: Architecture;
  format: 'gguf' | 'hf';
  dtype: WeightDType;
  /** HF safetensors shards (1 = a single model.safetensors). */
  shards: number;
}
const CASES: Case[] = [
  ...(['llama', 'mistral', 'qwen2', 'qwen3'] as const).flatMap((arch): Case[] => [
    { arch, format: 'hf', dtype: 'f32', shards: 1 },
    { arch, format: 'hf', dtype: 'bf16', shards: 1 },
    { arch, format: 'gguf', dtype: 'f32', shards: 1 },
    { arch, format: 'gguf', dtype: 'f16', shards: 1 },
  ]),
  // The engine maps a checkpoint spread over several files.
  { arch: 'qwen3', format: 'hf', dtype: 'bf16', shards: 3 },
];

/** A fixed pseudo-random prompt over the whole vocabulary (special tokens included: the math does not care). */
function promptFor(vocab: number, seed: number): number[] {
  let state = seed >>> 0;
  return Array.from({ length: PROMPT_LENGTH }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % vocab;
  });
}

/** max |engine − reference| / max |reference| over one row of logits. */
function relativeError(engine: Float32Array, reference: Float64Array): number {
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < reference.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(engine[i] - reference[i]));
    maxRef = Math.max(maxRef, Math.abs(reference[i]));
  }
  return maxDiff / maxRef;
}

const handles: NativeModelHandle[] = [];
afterAll(() => {
  for (const h of handles) h.dispose();
});

describe.each(CASES)('$arch $format $dtype, $shards shard(s)', ({ arch, format, dtype, shards }) => {
  it('f32 logits match the reference for every position (chunked prefill, paged KV)', async () => {
    const path = await tinyModelPath({ arch, format, dtype, shards: shards > 1 ? shards : undefined });
    const { spec } = await readModelFiles(path);
    const reference = new ReferenceForward(spec);
    const prompt = promptFor(spec.config.vocab, 17);
    const handle = nativeAddon().loadModel(spec, { threads: 2 });
    handles.push(handle);
    const logits = handle.evalLogits(Int32Array.from(prompt), { all: true, kvDtype: 'f32', chunkSize: CHUNK, pageTokens: PAGE });
    const vocab = spec.config.vocab;
    expect(logits.length).toBe(prompt.length * vocab);
    const expected = reference.logitsAll(prompt);
    const errors = expected.map((row, t) => relativeError(logits.subarray(t * vocab, (t + 1) * vocab), row));
    const worst = Math.max(...errors);
    expect(worst, `worst row ${errors.indexOf(worst)} of ${prompt.length}`).toBeLessThan(RELATIVE_TOLERANCE);

    const lastOnly = handle.evalLogits(Int32Array.from(prompt), { kvDtype: 'f32', chunkSize: CHUNK, pageTokens: PAGE });
    expect(relativeError(lastOnly, expected[expected.length - 1])).toBeLessThan(RELATIVE_TOLERANCE);
  });

  it(`greedy decoding gives the reference's ${GREEDY_STEPS} tokens (engine API, and native runtime with small pages)`, async () => {
    const path = await tinyModelPath({ arch, format, dtype, shards: shards > 1 ? shards : undefined });
    const model = await Model.load(path, { threads: 2, kvDtype: 'f32', prefillChunk: CHUNK });
    try {
      const prompt = promptFor(model.info.config.vocab, 29);
      const expected = new ReferenceForward(model.files.spec).greedy(prompt, GREEDY_STEPS);
      // A model that only repeats one token would make this comparison nearly vacuous.
      expect(new Set(expected).size).toBeGreaterThan(8);

      const result = await model.generate(prompt, { maxTokens: GREEDY_STEPS, temperature: 0, stopTokenIds: [] });
      expect(result.generatedTokenIds).toEqual(expected);

      // LoadOptions has no page size, so drive the runtime directly to decode across many 8-token pages.
      const addon = nativeAddon();
      const handle = addon.loadModel(model.files.spec, { threads: 2 });
      handles.push(handle);
      const runtime = addon.createRuntime(handle, { threads: 2, kvDtype: 'f32', prefillChunk: CHUNK, pageTokens: PAGE });
      try {
        runtime.setVocabulary(Array.from({ length: model.info.config.vocab }, () => new Uint8Array(0)));
        const session = runtime.createSession({ maxTokens: prompt.length + GREEDY_STEPS });
        const paged = await session.generate({
          sampling: { temperature: 0 },
          maxTokens: GREEDY_STEPS,
          promptTokens: Int32Array.from(prompt),
          stopTokenIds: new Int32Array(0),
        });
        await session.dispose();
        expect(Array.from(paged.tokens)).toEqual(expected);
      } finally {
        runtime.dispose();
      }
    } finally {
      model.dispose();
    }
  });
});

const STORIES = fileURLToPath(new URL('../../shared/models/stories260K.gguf', import.meta.url));
const GOLDEN = fileURLToPath(new URL('../../shared/models/golden-stories260K.json', import.meta.url));
const haveShared = existsSync(STORIES) && existsSync(GOLDEN);
if (!haveShared) console.warn(`parity: ../shared/models not found (${STORIES}); skipping the reference's llama.cpp check`);

describe.skipIf(!haveShared)('the reference forward itself', () => {
  it("reproduces llama.cpp's 200 greedy tokens and top-5 probabilities on stories260K", async () => {
    const golden = JSON.parse(readFileSync(GOLDEN, 'utf8'));
    const reference = await ReferenceForward.load(STORIES);
    const prompt: number[] = golden.golden32.promptIdsWithBos;
    expect(reference.greedy(prompt, 200)).toEqual(golden.golden200.ids);
    // llama.cpp keeps K/V (and the products with them) in f16, so exact float64 math lands within a few 1e-4.
    const rows = reference.logitsAll([...prompt, ...golden.golden200.ids.slice(0, 8)]);
    for (const step of golden.first8StepsTop5 as Array<{ step: number; token: number; top5: Array<{ t: number; p: number }> }>) {
      const logits = rows[prompt.length - 1 + step.step];
      expect(argmax(logits)).toBe(step.token);
      const max = Math.max(...logits);
      const total = logits.reduce((sum, l) => sum + Math.exp(l - max), 0);
      for (const { t, p } of step.top5) expect(Math.abs(Math.exp(logits[t] - max) / total - p)).toBeLessThan(5e-4);
    }
  });
});
