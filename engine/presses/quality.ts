// Press quality evaluation (docs/PRESSES.md): for each press and ratio, how far the next-token distributions
// over held-out continuations move from the uncompressed cache's — mean KL divergence and top-1 agreement.
// The model runs natively (addon pressEvalContext: layer-major prefill with the press, then the continuation);
// only the comparison of the resulting logits happens here.
import { callNative, nativeAddon, type NativeModelHandle } from '../native.js';
import { InternalError } from '../errors.js';
import type { PressSpec } from './base.js';
import { createPress, listPresses } from './registry.js';
import { nativePressConfig } from './prepare.js';
import type { PressTextSource } from './reconstruction-prompts.js';

export interface PressEvalResult {
  tokensBefore: number;
  tokensAfter: number;
  bytesBefore: number;
  bytesAfter: number;
  perLayer: { layer: number; perHead: number[] }[];
  logits?: Float32Array;
}

interface PressEvalAddon {
  pressEvalContext(model: NativeModelHandle, context: Int32Array, press: unknown, options?: unknown): PressEvalResult;
}

/**
 * Runs `context` through the engine with the press (null = uncompressed), then `continuation` on top. `text`:
 * the model's tokenizer and chat template, which KVzip needs for its reconstruction prompts.
 */
export function evalContextWithPress(
  model: NativeModelHandle,
  context: Int32Array,
  press: PressSpec | null,
  continuation: Int32Array,
  text?: PressTextSource,
): PressEvalResult {
  const addon = nativeAddon() as unknown as Partial<PressEvalAddon>;
  if (typeof addon.pressEvalContext !== 'function') throw new InternalError('this build of the native addon has no pressEvalContext entry');
  const config = press === null ? null : nativePressConfig(createPress(press), text);
  return callNative(() => addon.pressEvalContext!(model, context, config, { continuation }));
}

function logSoftmax(logits: Float32Array, offset: number, vocab: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]);
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(vocab);
  for (let i = 0; i < vocab; i++) out[i] = logits[offset + i] - lse;
  return out;
}

function argmax(logits: Float32Array, offset: number, vocab: number): number {
  let best = 0;
  for (let i = 1; i < vocab; i++) if (logits[offset + i] > logits[offset + best]) best = i;
  return best;
}

/** Mean over rows of KL(reference ‖ compressed) and the fraction of rows whose argmax agrees. */
export function compareNextTokens(reference: Float32Array, compressed: Float32Array, vocab: number): { klDivergence: number; top1Agreement: number } {
  if (reference.length !== compressed.length || reference.length % vocab !== 0 || reference.length === 0) {
    throw new InternalError(`logits of different shapes: ${reference.length} vs ${compressed.length} (vocab ${vocab})`);
  }
  const rows = reference.length / vocab;
  let kl = 0;
  let agree = 0;
  for (let r = 0; r < rows; r++) {
    const p = logSoftmax(reference, r * vocab, vocab);
    const q = logSoftmax(compressed, r * vocab, vocab);
    let row = 0;
    for (let i = 0; i < vocab; i++) row += Math.exp(p[i]) * (p[i] - q[i]);
    kl += Math.max(0, row);
    if (argmax(reference, r * vocab, vocab) === argmax(compressed, r * vocab, vocab)) agree++;
  }
  return { klDivergence: kl / rows, top1Agreement: agree / rows };
}

/**
 * The configuration evaluated for each press at a ratio: kvpress's defaults, windows scaled to short
 * contexts, wrappers around SnapKV. Presses that need a trained or calibrated artefact file, and decoding
 * presses (which leave the prefill alone), are not evaluated here (undefined).
 */
export function qualitySpec(name: string, ratio: number, nLayers: number): PressSpec | undefined {
  const r = { compressionRatio: ratio };
  const entry = listPresses().find((p) => p.name === name);
  if (!entry) return undefined;
  const table: Record<string, PressSpec | undefined> = {
    snapkv: { name, ...r, windowSize: 32 },
    pyramidkv: { name, ...r, windowSize: 32 },
    'expected-attention': { name, ...r },
    'expected-attention-stats': undefined,
    qfilter: undefined,
    kvzap: undefined,
    'fast-kvzip': undefined,
    lukv: undefined,
    think: undefined, // frees no memory: it changes the keys, not the token count
    simlayerkv: undefined, // its ratio is not a knob (lazy layers are detected)
    'duo-attention': { name, headCompressionRatio: ratio, onTheFlyScoring: true },
    finch: undefined, // needs the question prefilled with the context
    'per-layer-compression': { name, compressionRatios: Array(nLayers).fill(ratio), press: { name: 'snapkv', windowSize: 32 } },
    composed: { name, presses: [{ name: 'snapkv', windowSize: 32, compressionRatio: 1 - Math.sqrt(1 - ratio) }, { name: 'knorm', compressionRatio: 1 - Math.sqrt(1 - ratio) }] },
    dms: undefined, // threshold-based: no ratio
    'prefill-decoding': { name, prefillingPress: { name: 'snapkv', windowSize: 32, ...r } },
  };
  if (name in table) return table[name];
  if (entry.kind === 'decoding') return undefined;
  if (entry.kind === 'wrapper') return { name, ...r, press: { name: 'snapkv', windowSize: 32 } };
  return { name, ...r };
}

export interface QualityRow {
  press: string;
  ratio: number;
  klDivergence: number;
  top1Agreement: number;
  /** KV bytes kept after the prefill, as a fraction of the uncompressed cache's. */
  bytesKept: number;
}

export interface QualityStory {
  context: Int32Array;
  continuation: Int32Array;
}

/** Evaluates every press (that has a quality spec) at every ratio, averaged over the stories. */
export function evaluatePressQuality(
  model: NativeModelHandle,
  stories: readonly QualityStory[],
  options: {
    ratios: readonly number[];
    vocab: number;
    nLayers: number;
    presses?: readonly string[];
    onRow?: (row: QualityRow) => void;
    /** The model's tokenizer and chat template (KVzip's reconstruction prompts). */
    text?: PressTextSource;
  },
): QualityRow[] {
  const references = stories.map((s) => evalContextWithPress(model, s.context, null, s.continuation).logits!);
  const rows: QualityRow[] = [];
  for (const name of options.presses ?? listPresses().map((p) => p.name)) {
    for (const ratio of options.ratios) {
      const spec = qualitySpec(name, ratio, options.nLayers);
      if (!spec) continue;
      let kl = 0;
      let top1 = 0;
      let kept = 0;
      stories.forEach((story, i) => {
        // Random is averaged over draws, one seed per story, so one lucky or unlucky draw does not decide its row.
        const storySpec = name === 'random' && typeof spec === 'object' ? { ...(spec as object), seed: 1 + i } : spec;
        const out = evalContextWithPress(model, story.context, storySpec as PressSpec, story.continuation, options.text);
        const cmp = compareNextTokens(references[i], out.logits!, options.vocab);
        kl += cmp.klDivergence / stories.length;
        top1 += cmp.top1Agreement / stories.length;
        kept += out.bytesAfter / out.bytesBefore / stories.length;
      });
      const row = { press: name, ratio, klDivergence: kl, top1Agreement: top1, bytesKept: kept };
      rows.push(row);
      options.onRow?.(row);
    }
  }
  return rows;
}

/** The markdown table docs/PRESSES.md carries: one row per press, KL / top-1 per ratio. */
export function renderQualityTable(rows: readonly QualityRow[], ratios: readonly number[]): string {
  const presses = [...new Set(rows.map((r) => r.press))];
  const head = `| press | ${ratios.map((r) => `r = ${r}: KL ↓ / top-1 ↑ / bytes kept`).join(' | ')} |`;
  const rule = `|---|${ratios.map(() => '---').join('|')}|`;
  const body = presses.map((p) => {
    const cells = ratios.map((r) => {
      const row = rows.find((x) => x.press === p && x.ratio === r);
      return row ? `${row.klDivergence.toFixed(4)} / ${(100 * row.top1Agreement).toFixed(1)} % / ${(100 * row.bytesKept).toFixed(0)} %` : '–';
    });
    return `| \`${p}\` | ${cells.join(' | ')} |`;
  });
  return [head, rule, ...body].join('\n');
}
