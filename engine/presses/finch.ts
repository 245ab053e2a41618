// Finch: SnapKV-like scores from the question's queries, then rerotation to contiguous positions (kvpress spec §2.3).
import { z } from 'zod';
import { OtherPress, count, ratio, requireLonger, resolvePressSpec, type PressSpec } from './base.js';

/**
 * The window is the question (the tokens after the context): the engine prefills context + question and sets
 * `windowSize` to the question's token count (leave it unset unless you call the native press directly).
 */
export class FinchPress extends OtherPress<{
  compressionRatio: number;
  chunkLength?: number;
  normalizeScores: boolean;
  rerotateKeys: boolean;
  windowSize?: number;
}> {
  static readonly className = 'FinchPress';
  static readonly shortName = 'finch';
  static readonly schema = z
    .object({
      compressionRatio: ratio().default(0),
      chunkLength: count(1).optional(),
      normalizeScores: z.boolean().default(true),
      rerotateKeys: z.boolean().default(true),
      windowSize: count(1).optional(),
    })
    .strict();
  override validateForContext(n: number): void {
    super.validateForContext(n);
    const w = this.options.windowSize;
    if (w !== undefined) requireLonger(this, n, w, 'the question window (windowSize)');
    const chunk = this.options.chunkLength;
    if (w !== undefined && chunk !== undefined && !(chunk > w / (1 - this.options.compressionRatio))) {
      this.fail(`chunkLength (${chunk}) must be > windowSize / (1 − compressionRatio) = ${(w / (1 - this.options.compressionRatio)).toFixed(2)}`);
    }
  }
}

/** What a compressed prefill runs: the tokens the press sees, the press itself, and the tokens fed after it. */
export interface PressPrefillPlan {
  prefillIds: number[];
  press: PressSpec;
  afterIds: number[];
}

/**
 * Where the question is known (CLI generate, a per-call prompt): FinchPress is query-aware (kvpress §2.3:
 * context + delimiter + question, window = the question), so it prefills the question with the context, its
 * window the question's token count, and nothing is left to feed after it. Every other press compresses the
 * context alone; the question follows, never compressed.
 */
export function pressPrefillPlan(press: PressSpec, contextIds: readonly number[], questionIds: readonly number[]): PressPrefillPlan {
  const resolved = resolvePressSpec(press);
  if (!(resolved instanceof FinchPress)) return { prefillIds: [...contextIds], press, afterIds: [...questionIds] };
  const windowed = resolved.options.windowSize === undefined ? resolved.withOptions({ windowSize: questionIds.length }) : resolved;
  return { prefillIds: [...contextIds, ...questionIds], press: windowed, afterIds: [] };
}
