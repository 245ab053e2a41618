// DuoAttention: the lowest-scoring heads become streaming heads (sink + recent window); others keep everything.
import { z } from 'zod';
import type { ModelConfig } from '../model-spec.js';
import { OtherPress, artefactPath } from './base.js';
import { malformed, readJsonArtefact } from './artefacts.js';

export interface DuoAttentionPattern {
  sinkSize: number;
  recentSize: number;
  /** [L][Hk] retrieval scores in [0, 1]; the lowest become streaming heads. */
  headScores: number[][];
}

/** Checks a DuoAttention pattern file: JSON { sinkSize, recentSize, headScores: number[L][Hk] }. */
export async function loadDuoAttentionPattern(owner: string, path: string, model?: ModelConfig): Promise<DuoAttentionPattern> {
  const raw = (await readJsonArtefact(owner, path)) as Partial<DuoAttentionPattern> | null;
  const bad = (what: string) => malformed(owner, path, what);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad('expected a JSON object { sinkSize, recentSize, headScores }');
  for (const key of ['sinkSize', 'recentSize'] as const) {
    if (!Number.isInteger(raw[key]) || (raw[key] as number) < 0) throw bad(`"${key}" must be a non-negative integer`);
  }
  const scores = raw.headScores;
  if (!Array.isArray(scores) || scores.length === 0) throw bad('"headScores" must be a non-empty array of per-layer arrays');
  const width = Array.isArray(scores[0]) ? scores[0].length : -1;
  scores.forEach((row, l) => {
    if (!Array.isArray(row) || row.length !== width || row.length === 0 || !row.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw bad(`"headScores[${l}]" must be an array of ${width} finite numbers`);
    }
  });
  if (model && (scores.length !== model.nLayers || width !== model.nKvHeads)) {
    throw bad(`"headScores" is ${scores.length}×${width}, the model has ${model.nLayers} layers × ${model.nKvHeads} kv-heads`);
  }
  return raw as DuoAttentionPattern;
}

/**
 * `headCompressionRatio` of all (layer, kv-head) pairs become streaming heads and free their middle tokens
 * for real. Scores come from `artefactPath` (`presskv calibrate --kind duo-attention`), or with
 * `onTheFlyScoring` from the model's own mean query/key on the prefill.
 */
export class DuoAttentionPress extends OtherPress<{ headCompressionRatio: number; onTheFlyScoring: boolean; artefactPath?: string }> {
  static readonly className = 'DuoAttentionPress';
  static readonly shortName = 'duo-attention';
  static readonly schema = z
    .object({
      headCompressionRatio: z.number().min(0, 'must be ≥ 0').max(1, 'must be ≤ 1').default(0),
      onTheFlyScoring: z.boolean().default(false),
      artefactPath: artefactPath().optional(),
    })
    .strict();
  constructor(options?: unknown) {
    super(options);
    if (!this.options.onTheFlyScoring && this.options.artefactPath === undefined) {
      this.fail('option "artefactPath" is required (a JSON head-pattern file) unless onTheFlyScoring is true');
    }
  }
  override get compressionRatio(): undefined {
    return undefined;
  }
  protected override async checkArtefact(model?: ModelConfig): Promise<void> {
    if (this.options.artefactPath !== undefined) await loadDuoAttentionPattern(this.name, this.options.artefactPath, model);
  }
}
