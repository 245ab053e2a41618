// Engine finish reasons → the AI SDK's {unified, raw} pair.
import type { LanguageModelV3FinishReason } from '@ai-sdk/provider';
import type { FinishReason } from '../engine/types.js';

export function mapFinishReason(reason: FinishReason, raw: string, hasToolCalls: boolean): LanguageModelV3FinishReason {
  if (hasToolCalls) return { unified: 'tool-calls', raw };
  switch (reason) {
    case 'stop':
    case 'stop-sequence':
      return { unified: 'stop', raw };
    case 'length':
      return { unified: 'length', raw };
    default:
      return { unified: 'other', raw };
  }
}
