// The constrained decoding loop, independent of how a token is chosen: the engine session supplies
// `pick` (sample among the allowed ids) and the loop keeps the grammar, the budget and the end.
import type { GrammarMatcher } from './grammar-matcher.js';

export interface ConstrainedDecodeOptions {
  matcher: GrammarMatcher;
  maxTokens: number;
  /** End-of-sequence ids; one is allowed wherever the text may end. */
  endTokenIds: readonly number[];
  /** Chooses one of `allowed` (e.g. the model's sample restricted to them) and commits it. */
  pick: (allowed: number[]) => Promise<number> | number;
  onToken?: (tokenId: number) => void;
  signal?: AbortSignal;
}

export interface ConstrainedDecodeResult {
  tokenIds: number[];
  text: string;
  /** 'complete' = the grammar is satisfied; 'length' = the budget ran out first; 'abort'. */
  reason: 'complete' | 'length' | 'abort';
}

export async function constrainedDecode(o: ConstrainedDecodeOptions): Promise<ConstrainedDecodeResult> {
  const tokenIds: number[] = [];
  const end = new Set(o.endTokenIds);
  const finish = (reason: ConstrainedDecodeResult['reason']) => ({ tokenIds, text: o.matcher.text, reason });
  while (tokenIds.length < o.maxTokens) {
    if (o.signal?.aborted) return finish('abort');
    const { tokenIds: allowed, canEnd, mustEnd } = o.matcher.allowedTokens(o.maxTokens - tokenIds.length);
    if (mustEnd) return finish('complete');
    const choices = canEnd ? [...allowed, ...o.endTokenIds] : allowed;
    if (choices.length === 0) return finish('length');
    const token = await o.pick(choices);
    if (end.has(token) && canEnd) return finish('complete');
    o.matcher.accept(token);
    tokenIds.push(token);
    o.onToken?.(token);
  }
  return finish(o.matcher.canEnd ? 'complete' : 'length');
}
