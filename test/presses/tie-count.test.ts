// Ties in the top-k selection (issue 12 point 11, docs/PRESSES.md "Ties"): among equal scores the lower slot
// wins, and the engine counts the kept slots that only the tie rule chose — those whose score equals the best
// dropped slot's (per head; per layer for the global policy, AdaKV). The counts equal a plain reference computed
// from the scores: on constructed layers (one press run through the test harness) and on stories260K, where
// ExpectedAttention's float32 softmax underflows to exactly 0 for most slots, so ties decide much of what it keeps.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callNative, type NativeModelHandle } from '../../engine/native.js';
import { readModelFiles } from '../../engine/model-files.js';
import { createPress, type PressSpec } from '../../engine/presses/index.js';
import { nativePressConfig } from '../../engine/presses/prepare.js';
import { makeLayerInputs } from '../reference/presses/layer-inputs.js';
import { topK } from '../reference/presses/selection.js';
import { havePressEvalFiles, pressEvalAddon, storiesGoldenPath, storiesModelPath, type EvalResult } from '../helpers/press-eval-addon.js';
import { nativePressNames, pressAddon, scoreLayer } from './native-harness.js';

const same = (a: number, b: number) => a === b || (Number.isNaN(a) && Number.isNaN(b));

/** Plain reference: of the k best of `scores` (higher first), how many equal the (k+1)-th, the best dropped one. */
function tiedOf(scores: ArrayLike<number>, k: number): number {
  if (k <= 0 || k >= scores.length) return 0;
  const sorted = Array.from(scores).sort((a, b) => (Number.isNaN(a) ? 1 : Number.isNaN(b) ? -1 : b - a));
  let tied = 0;
  for (let i = 0; i < k; i++) if (same(sorted[i]!, sorted[k]!)) tied++;
  return tied;
}

/** Per-head selection: the sum over heads of tiedOf(head's scores, head's kept count). */
function tiedPerHead(scores: Float32Array, keptPerHead: readonly number[]): number {
  const n = scores.length / keptPerHead.length;
  return keptPerHead.reduce((sum, k, h) => sum + tiedOf(scores.subarray(h * n, (h + 1) * n), k), 0);
}

describe.skipIf(!pressAddon)('tie count of the selection, on constructed layers', () => {
  const known = nativePressNames();

  it.skipIf(!known.has('KnormPress'))('per head: equal keys tie, the lowest slots win, and the count is the reference', () => {
    const inputs = makeLayerInputs(5, { n: 32, nKvHeads: 2, headDim: 8 });
    const { n } = inputs;
    const d = inputs.config.headDim;
    // Head 0: every key the same vector (all scores equal); head 1: slots 8..23 share one key, the rest random.
    for (let t = 0; t < n; t++)
      for (let c = 0; c < d; c++) {
        inputs.keys[(0 * n + t) * d + c] = c === 0 ? 1 : 0.5;
        if (t >= 8 && t < 24) inputs.keys[(1 * n + t) * d + c] = c === 1 ? -1 : 0.25;
      }
    const press = createPress({ name: 'knorm', compressionRatio: 0.5 });
    const result = scoreLayer(press, inputs);
    const k = 16;
    expect(result.kept.map((h) => h.length)).toEqual([k, k]);
    // All equal: the tie rule alone picks, lowest slots first — and every kept slot is counted.
    expect(Array.from(result.kept[0]!)).toEqual(Array.from({ length: k }, (_x, i) => i));
    const reference = tiedPerHead(result.scores!, [k, k]);
    expect(result.tiedSlots).toBe(reference);
    expect(reference).toBeGreaterThanOrEqual(k);
    expect(Array.from(result.kept[1]!)).toEqual(topK(result.scores!.subarray(n, 2 * n), k));
  });

  it.skipIf(!known.has('KnormPress'))('random keys: no ties, 0', () => {
    const inputs = makeLayerInputs(9, { n: 40 });
    const result = scoreLayer(createPress({ name: 'knorm', compressionRatio: 0.25 }), inputs);
    expect(tiedPerHead(result.scores!, result.kept.map((h) => h.length))).toBe(0);
    expect(result.tiedSlots).toBe(0);
  });

  it.skipIf(!known.has('AdaKVPress'))('global (AdaKV, no safeguard): the layer-wide threshold', () => {
    const inputs = makeLayerInputs(13, { n: 24, nKvHeads: 2, headDim: 8 });
    const { n } = inputs;
    const d = inputs.config.headDim;
    // Ten slots of each head share one key: twenty equal scores across the two heads.
    for (const h of [0, 1]) for (let t = 4; t < 14; t++) for (let c = 0; c < d; c++) inputs.keys[(h * n + t) * d + c] = c === 2 ? 0.3 : 0.1;
    const press = createPress({ name: 'adakv', compressionRatio: 0.5, alphaSafeguard: 0, press: { name: 'knorm' } } as PressSpec);
    const result = scoreLayer(press, inputs);
    const total = result.kept.reduce((s, h) => s + h.length, 0);
    expect(total).toBe(2 * 12);
    expect(result.tiedSlots).toBe(tiedOf(result.scores!, total));
  });
});

describe.skipIf(!havePressEvalFiles)('tie count on stories260K (pressEvalContext)', () => {
  let model: NativeModelHandle;
  let context: Int32Array;

  beforeAll(async () => {
    const files = await readModelFiles(storiesModelPath);
    model = callNative(() => pressEvalAddon!.loadModel(files.spec, { threads: 1 }));
    const story = (JSON.parse(readFileSync(storiesGoldenPath, 'utf8')) as { golden200: { ids: number[] } }).golden200.ids;
    context = Int32Array.from([1, ...story, ...story]);
  });
  afterAll(() => model?.dispose());

  const run = (spec: PressSpec): EvalResult =>
    callNative(() => pressEvalAddon!.pressEvalContext(model, context, nativePressConfig(createPress(spec)), { recordScores: true }));

  /** The reference over every layer, from the scores each layer's decision used and the counts it kept. */
  const reference = (r: EvalResult): number =>
    (r.perLayer as { perHead: number[]; scores?: Float32Array }[]).reduce((sum, l) => sum + tiedPerHead(l.scores!, l.perHead), 0);

  it('ExpectedAttention (kvpress defaults, r = 0.5): ties decide many kept slots; the count is the reference', () => {
    const r = run({ name: 'expected-attention', compressionRatio: 0.5 });
    const tied = reference(r);
    expect(r.tiedSlots).toBe(tied);
    // Many scores are exactly 0 (softmax underflow): a sizeable part of the kept slots is a tie.
    expect(tied).toBeGreaterThan(0.05 * r.tokensAfter);
  });

  it("epsilon > 0 (kvpress's leaderboard setting) breaks them by ‖V‖", () => {
    const plain = run({ name: 'expected-attention', compressionRatio: 0.5 });
    const r = run({ name: 'expected-attention', compressionRatio: 0.5, epsilon: 0.01 } as PressSpec);
    expect(r.tiedSlots).toBe(reference(r));
    expect(r.tiedSlots).toBeLessThan(plain.tiedSlots / 10);
  });

  it('a press with distinct scores (knorm, snapkv): 0, as the reference', () => {
    for (const name of ['knorm', 'snapkv']) {
      const r = run({ name, compressionRatio: 0.5 });
      expect(reference(r), name).toBe(0);
      expect(r.tiedSlots, name).toBe(0);
    }
  });

  it('no press: 0', () => {
    const r = callNative(() => pressEvalAddon!.pressEvalContext(model, context, null, {}));
    expect(r.tiedSlots).toBe(0);
  });
});
