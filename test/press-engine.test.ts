// Presses inside the engine: a ≥400-token context of stories260K (a real pretrained Llama) prefilled
// layer by layer through the engine's own forward pass and paged KV cache, each layer compressed by the
// press as it completes. Checks that the KV bytes really fall (head-wise presses included), that the
// question/continuation still runs on the compressed cache, and that ratio 0 changes nothing at all.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromNativeError } from '../engine/errors.js';
import { Model } from '../engine/model.js';
import { readModelFiles } from '../engine/model-files.js';
import type { NativeModelHandle } from '../engine/native.js';
import { KeyRerotationPress, KnormPress, createPress, type PressSpec } from '../engine/presses/index.js';
import { nativePressConfig } from '../engine/presses/prepare.js';
import type { PressTextSource } from '../engine/presses/reconstruction-prompts.js';
import { loadTokenizer } from '../engine/tokenizer.js';
import { havePressEvalFiles, pressEvalAddon, storiesGoldenPath, storiesModelPath, type EvalResult } from './helpers/press-eval-addon.js';

const addon = pressEvalAddon;
const modelPath = storiesModelPath;
const goldenPath = storiesGoldenPath;
const haveFiles = havePressEvalFiles;
if (!haveFiles) console.warn('[press-engine] skipped: stories260K (../shared/models) or the native press entry is missing');

// The forward pass calls the press hook (model/forward.cc ↔ press/forward-hook.h) — probed once.
async function forwardRunsPresses(): Promise<boolean> {
  if (!haveFiles) return false;
  const handle = addon!.loadModel((await readModelFiles(modelPath)).spec, { threads: 1 });
  try {
    addon!.pressEvalContext(handle, Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), new KnormPress({ compressionRatio: 0.5 }).toNativeConfig());
    return true;
  } catch (err) {
    if (/does not run presses yet/.test(String((err as Error).message))) {
      console.warn('[press-engine] skipped: the forward pass does not call the press hook yet (model/forward.cc)');
      return false;
    }
    throw err;
  } finally {
    handle.dispose();
  }
}
const available = await forwardRunsPresses();
// Presses reach the native entry as the engine sends them (engine/presses/prepare.ts): through their TS class,
// every default filled in, KVzip's reconstruction prompts tokenised for this model.
const textSource: PressTextSource | undefined = available
  ? await readModelFiles(modelPath).then(async (files) => ({ tokenizer: await loadTokenizer(files), chatTemplate: files.chatTemplate }))
  : undefined;

const PAGE_TOKENS = 16;

describe.skipIf(!available)('presses in the engine (stories260K)', () => {
  let model: NativeModelHandle;
  let context: Int32Array;
  let continuation: Int32Array;
  let pageBytes = 0;
  let layers = 0;
  let kvHeads = 0;

  const run = (press: PressSpec | null, withContinuation = false): EvalResult => {
    try {
      const config = press === null ? null : nativePressConfig(createPress(press), textSource);
      return addon!.pressEvalContext(model, context, config, { pageTokens: PAGE_TOKENS, continuation: withContinuation ? continuation : undefined });
    } catch (err) {
      throw fromNativeError(err);
    }
  };

  beforeAll(async () => {
    const files = await readModelFiles(modelPath);
    model = addon!.loadModel(files.spec, { threads: 1 });
    const golden = JSON.parse(readFileSync(goldenPath, 'utf8')) as { golden200: { ids: number[] } };
    const story = golden.golden200.ids;
    context = Int32Array.from([1, ...story, ...story]); // BOS + 400 tokens of text
    continuation = Int32Array.from(story.slice(0, 24));
    const spec = files.spec as { config: { nLayers: number; nKvHeads: number; headDim: number } };
    layers = spec.config.nLayers;
    kvHeads = spec.config.nKvHeads;
    pageBytes = PAGE_TOKENS * (2 * spec.config.headDim * 2 + 4); // f16 K and V rows + int32 positions
  });
  afterAll(() => model?.dispose());

  it('ratio 0 leaves the cache and the next-token logits bit-identical', () => {
    const base = run(null, true);
    const zero = run({ name: 'SnapKVPress', options: { compressionRatio: 0 } }, true);
    expect(zero.tokensAfter).toBe(base.tokensBefore);
    expect(zero.bytesAfter).toBe(base.bytesAfter);
    expect(Array.from(zero.logits!)).toEqual(Array.from(base.logits!));
  });

  const presses: [string, PressSpec][] = [
    ['RandomPress', { name: 'RandomPress', options: { compressionRatio: 0.5 } }],
    ['KnormPress', { name: 'KnormPress', options: { compressionRatio: 0.5 } }],
    ['SnapKVPress', { name: 'SnapKVPress', options: { compressionRatio: 0.5 } }],
    ['PyramidKVPress', { name: 'PyramidKVPress', options: { compressionRatio: 0.5 } }],
    ['StreamingLLMPress', { name: 'StreamingLLMPress', options: { compressionRatio: 0.5 } }],
    ['TOVAPress', { name: 'TOVAPress', options: { compressionRatio: 0.5 } }],
    ['ObservedAttentionPress', { name: 'ObservedAttentionPress', options: { compressionRatio: 0.5 } }],
    ['ExpectedAttentionPress', { name: 'ExpectedAttentionPress', options: { compressionRatio: 0.5 } }],
    ['CompactorPress', { name: 'CompactorPress', options: { compressionRatio: 0.5 } }],
    ['AdaKVPress', { name: 'AdaKVPress', press: { name: 'ExpectedAttentionPress', options: { compressionRatio: 0.5, epsilon: 0.01 } } }],
    ['CriticalAdaKVPress', { name: 'CriticalAdaKVPress', press: { name: 'SnapKVPress', options: { compressionRatio: 0.5 } } }],
    ['KeyRerotationPress', { name: 'KeyRerotationPress', press: { name: 'KnormPress', options: { compressionRatio: 0.5 } } }],
    ['ChunkKVPress', { name: 'ChunkKVPress', press: { name: 'KnormPress', options: { compressionRatio: 0.5 } } }],
    ['KVzipPress', { name: 'KVzipPress', options: { compressionRatio: 0.5 } }],
    ['KVComposePress', { name: 'KVComposePress', options: { compressionRatio: 0.5, structured: false } }],
    ['DuoAttentionPress', { name: 'DuoAttentionPress', options: { headCompressionRatio: 0.5, onTheFlyScoring: true } }],
  ];

  it.each(presses)('%s at ratio 0.5 frees the KV bytes it removes, and the continuation still runs', (_name, press) => {
    const out = run(press, true);
    const slack = layers * kvHeads * pageBytes;
    expect(out.bytesAfter).toBeLessThan(out.bytesBefore);
    if (_name !== 'DuoAttentionPress') expect(out.bytesAfter).toBeLessThanOrEqual(0.5 * out.bytesBefore + slack);
    const kept = out.perLayer.flatMap((l) => l.perHead).reduce((a, b) => a + b, 0);
    expect(kept).toBe(out.tokensAfter);
    expect(out.tokensAfter).toBeLessThan(out.tokensBefore);
    expect(out.logits!.length).toBeGreaterThan(0);
    expect(out.logits!.every((x) => Number.isFinite(x))).toBe(true);
  });

  // kvpress-spec §5 "Position ids": after KeyRerotationPress the question sits at the compressed cache length,
  // as on a session (prefillContext); the inner press alone keeps the same slots at their original positions.
  it('KeyRerotationPress: the continuation follows the kept slots, exactly as after a session prefillContext', async () => {
    const inner = new KnormPress({ compressionRatio: 0.5 });
    const rerotation = new KeyRerotationPress({ press: inner });
    const evaluated = run(rerotation, true);
    const originalPositions = run(inner, true);
    expect(evaluated.perLayer).toEqual(originalPositions.perLayer);

    const engineModel = await Model.load(modelPath, { threads: 1 });
    try {
      const session = engineModel.createSession();
      const stats = await session.prefillContext(Array.from(context), { press: rerotation });
      expect(stats.nextPosition).toBe(Math.floor(context.length * (1 - 0.5))); // kvpress keeps floor(n(1 − r))
      const sessionLogits = await session.evaluate(Array.from(continuation), { logits: 'all' });
      await session.dispose();
      expect(Array.from(evaluated.logits!)).toEqual(Array.from(sessionLogits!));
      expect(Array.from(evaluated.logits!)).not.toEqual(Array.from(originalPositions.logits!));
    } finally {
      engineModel.dispose();
    }
  });

  it('bad press configs fail before any work with typed errors', () => {
    expect(() => run({ name: 'SnapKVPress', options: { compressionRatio: 0.5, windowSize: 4096 } })).toThrow(/windowSize/);
    expect(() => run({ name: 'NoSuchPress' })).toThrow(/unknown press/);
  });
});
