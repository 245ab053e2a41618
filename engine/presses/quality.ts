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
  /** KV slots ((layer, kv-head) × tokens) before and after the press, as the native figures count them. */
  tokensBefore: number;
  tokensAfter: number;
  bytesBefore: number;
  bytesAfter: number;
  /** Kept slots the top-k selection chose by its tie rule alone (docs/PRESSES.md, "Ties"). */
  tiedSlots: number;
  /** perLayer[l].scores: each layer's decision scores [nKvHeads · n], with the recordScores option. */
  perLayer: { layer: number; perHead: number[]; scores?: Float32Array }[];
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

/** Artefact files calibrated for the evaluation (`presskv calibrate` on text held out from it). */
export type QualityArtefacts = Partial<Record<'expected-attention-stats' | 'qfilter' | 'duo-attention', string>>;

export interface QualitySetup {
  nLayers: number;
  /** Context tokens compressed, and continuation tokens scored after them. */
  contextTokens: number;
  continuationTokens: number;
  artefacts?: QualityArtefacts;
}

/** One evaluated configuration: a row of the table, labelled by its press and what differs from the defaults. */
export interface QualityCase {
  label: string;
  spec: PressSpec;
}

const SNAPKV = { name: 'snapkv', windowSize: 32 } as const;

/**
 * What is evaluated for each press at a ratio: kvpress's defaults, windows scaled to short contexts, wrappers
 * around SnapKV, artefacts calibrated on held-out text. ExpectedAttention and its stats variant get a second
 * row with the future horizon set to the continuation and no covariance term (docs/PRESSES.md explains why).
 * An empty list: the press is not evaluated here — qualityGap says why.
 */
export function qualityCases(name: string, ratio: number, setup: QualitySetup): QualityCase[] {
  const r = { compressionRatio: ratio };
  const entry = listPresses().find((p) => p.name === name);
  if (!entry || qualityGap(name, setup)) return [];
  const one = (spec: PressSpec, label = name): QualityCase[] => [{ label, spec }];
  const horizon = { nFuturePositions: setup.continuationTokens, useCovariance: false };
  const horizonLabel = (n: string) => `${n} (nFuturePositions ${setup.continuationTokens}, useCovariance false)`;
  // The inner scorer sees the hidden states of the tokens decoded since the last compression (≤ the interval).
  const decoding = { compressionInterval: 16, hiddenStatesBufferSize: 32, press: { name: 'snapkv', windowSize: 8 } };
  const target = Math.floor(setup.contextTokens * (1 - ratio));
  switch (name) {
    case 'snapkv':
    case 'pyramidkv':
      return one({ name, ...r, windowSize: 32 });
    case 'expected-attention':
      return [...one({ name, ...r }), ...one({ name, ...r, ...horizon }, horizonLabel(name))];
    case 'expected-attention-stats': {
      const artefactPath = setup.artefacts![name]!;
      return [...one({ name, ...r, artefactPath }), ...one({ name, ...r, artefactPath, ...horizon }, horizonLabel(name))];
    }
    case 'qfilter':
      return one({ name, ...r, artefactPath: setup.artefacts!.qfilter! });
    case 'think': // keys lose channels, tokens stay: the ratio is the key-channel ratio
      return one({ name, keyChannelCompressionRatio: ratio }, `${name} (keyChannelCompressionRatio = r)`);
    case 'simlayerkv': // lazy layers keep nInitial + nRecent tokens, sized here to n·(1 − r)
      return one({ name, lazyThreshold: 0.5, nInitial: 4, nRecent: Math.max(1, target - 4) }, `${name} (lazyThreshold 0.5, nRecent = n·(1 − r) − 4)`);
    case 'duo-attention':
      return one({ name, headCompressionRatio: ratio, onTheFlyScoring: true }, `${name} (headCompressionRatio = r, on-the-fly scores)`);
    case 'finch': // no question in this evaluation: the window is the context's last 32 tokens
      return one({ name, ...r, windowSize: 32 }, `${name} (window = last 32 context tokens)`);
    case 'per-layer-compression':
      return one({ name, compressionRatios: Array(setup.nLayers).fill(ratio), press: SNAPKV });
    case 'composed': {
      const each = 1 - Math.sqrt(1 - ratio);
      return one({ name, presses: [{ ...SNAPKV, compressionRatio: each }, { name: 'knorm', compressionRatio: each }] });
    }
    case 'prefill-decoding':
      return one({ name, prefillingPress: { ...SNAPKV, ...r } });
    case 'decoding':
    case 'cam':
      return one({ name, ...decoding, targetSize: target }, `${name} (targetSize = n·(1 − r), interval 16)`);
    case 'compression-ratio-decoding':
      return one({ name, ...decoding, targetCompressionRatio: ratio }, `${name} (interval 16)`);
  }
  if (entry.kind === 'wrapper') return one({ name, ...r, press: SNAPKV });
  return one({ name, ...r });
}

/** Why a press has no row in the evaluation (undefined: it has one). */
export function qualityGap(name: string, setup: { artefacts?: QualityArtefacts }): string | undefined {
  const trained = 'needs trained weights, and none exist for this model';
  const gaps: Record<string, string | undefined> = {
    kvzap: trained,
    'fast-kvzip': trained,
    lukv: 'needs a per-head budget curve measured offline for the model; kvpress ships one for Llama-3.1-8B only',
    dms: 'evicts by a score threshold (KVzap log-scores), not by a ratio',
    'custom-scorer': 'the scorer is user code',
    'expected-attention-stats': setup.artefacts?.['expected-attention-stats'] ? undefined : 'no calibrated statistics given',
    qfilter: setup.artefacts?.qfilter ? undefined : 'no calibrated Q-filters given',
  };
  return gaps[name];
}

export interface QualityRow {
  press: string;
  ratio: number;
  klDivergence: number;
  top1Agreement: number;
  /** KV bytes kept after the prefill, as a fraction of the uncompressed cache's. */
  bytesKept: number;
  /**
   * Kept KV slots that the selection's tie rule decided (their score equals the best dropped slot's; the lower
   * slot won), per story on average, and as a fraction of the kept slots.
   */
  tiedSlots: number;
  tiedShare: number;
}

export interface QualityStory {
  context: Int32Array;
  continuation: Int32Array;
}

/** Evaluates every press (that has quality cases) at every ratio, averaged over the stories. */
export function evaluatePressQuality(
  model: NativeModelHandle,
  stories: readonly QualityStory[],
  options: {
    ratios: readonly number[];
    vocab: number;
    nLayers: number;
    artefacts?: QualityArtefacts;
    presses?: readonly string[];
    onRow?: (row: QualityRow) => void;
    /** The model's tokenizer and chat template (KVzip's reconstruction prompts). */
    text?: PressTextSource;
  },
): QualityRow[] {
  const references = stories.map((s) => evalContextWithPress(model, s.context, null, s.continuation).logits!);
  const setup: QualitySetup = {
    nLayers: options.nLayers,
    contextTokens: Math.min(...stories.map((s) => s.context.length)),
    continuationTokens: Math.min(...stories.map((s) => s.continuation.length)),
    artefacts: options.artefacts,
  };
  const rows: QualityRow[] = [];
  for (const name of options.presses ?? listPresses().map((p) => p.name)) {
    for (const ratio of options.ratios) {
      for (const { label, spec } of qualityCases(name, ratio, setup)) {
        let kl = 0;
        let top1 = 0;
        let kept = 0;
        let tied = 0;
        let tiedShare = 0;
        stories.forEach((story, i) => {
          // Random is averaged over draws, one seed per story, so one lucky or unlucky draw does not decide its row.
          const storySpec = name === 'random' && typeof spec === 'object' ? { ...(spec as object), seed: 1 + i } : spec;
          const out = evalContextWithPress(model, story.context, storySpec as PressSpec, story.continuation, options.text);
          const cmp = compareNextTokens(references[i], out.logits!, options.vocab);
          kl += cmp.klDivergence / stories.length;
          top1 += cmp.top1Agreement / stories.length;
          kept += out.bytesAfter / out.bytesBefore / stories.length;
          tied += out.tiedSlots / stories.length;
          tiedShare += (out.tokensAfter > 0 ? out.tiedSlots / out.tokensAfter : 0) / stories.length;
        });
        const row = { press: label, ratio, klDivergence: kl, top1Agreement: top1, bytesKept: kept, tiedSlots: tied, tiedShare };
        rows.push(row);
        options.onRow?.(row);
      }
    }
  }
  return rows;
}

/** A share as the table shows it: whole percents, "<1 %" for a share that is not zero but rounds to it. */
function percent(share: number): string {
  return share > 0 && share < 0.005 ? '<1 %' : `${(100 * share).toFixed(0)} %`;
}

/** The markdown table docs/PRESSES.md carries: one row per press, KL / top-1 / bytes kept / tied per ratio. */
export function renderQualityTable(rows: readonly QualityRow[], ratios: readonly number[]): string {
  const presses = [...new Set(rows.map((r) => r.press))];
  const head = `| press | ${ratios.map((r) => `r = ${r}: KL ↓ / top-1 ↑ / bytes kept / kept by a tie`).join(' | ')} |`;
  const rule = `|---|${ratios.map(() => '---').join('|')}|`;
  const body = presses.map((p) => {
    const cells = ratios.map((r) => {
      const row = rows.find((x) => x.press === p && x.ratio === r);
      return row
        ? `${row.klDivergence.toFixed(4)} / ${(100 * row.top1Agreement).toFixed(1)} % / ${(100 * row.bytesKept).toFixed(0)} % / ${percent(row.tiedShare)}`
        : '–';
    });
    return `| \`${p}\` | ${cells.join(' | ')} |`;
  });
  return [head, rule, ...body].join('\n');
}
