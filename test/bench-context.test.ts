// `presskv bench-context` end to end on stories260K: the stored compressed context holds fewer KV bytes than
// a re-prefilled call, both paths report a first-token time and, with --decode-tokens, a decode speed.
// (The figures themselves are measured in docs/BENCHMARKS.md, not asserted here.)
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runBenchContext, type ContextBenchRow } from '../cli/bench-context.js';

const STORIES = fileURLToPath(new URL('../../shared/models/stories260K.gguf', import.meta.url));
const haveStories = existsSync(STORIES);
if (!haveStories) console.warn('[bench-context] skipped: ../shared/models/stories260K.gguf is missing');

async function bench(args: string[]): Promise<{ code: number; rows: ContextBenchRow[] }> {
  let out = '';
  const code = await runBenchContext(['--model', STORIES, '--threads', '1', '--json', ...args], { out: (s) => (out += s), err: () => {} });
  return { code, rows: code === 0 ? (JSON.parse(out) as { rows: ContextBenchRow[] }).rows : [] };
}

describe.skipIf(!haveStories)('presskv bench-context', () => {
  it('compares a stored SnapKV context with re-prefilling, first token and decode', async () => {
    const { code, rows } = await bench(['--context', '160,320', '--question-tokens', '8', '--decode-tokens', '6', '--press', 'snapkv:0.5']);
    expect(code).toBe(0);
    expect(rows.map((r) => r.contextTokens)).toEqual([160, 320]);
    for (const r of rows) {
      expect(r).toMatchObject({ questionTokens: 8, threads: 1, compressed: true, decodeTokens: 6 });
      expect(r.tokensAfter).toBe(Math.floor(r.contextTokens / 2)); // SnapKV keeps floor(n(1 − r)) per head
      expect(r.storedBytes).toBeLessThan(r.reprefillBytes);
      expect(r.ttftReprefillMs).toBeGreaterThan(0);
      expect(r.ttftStoredMs).toBeGreaterThan(0);
      // The speedup comes from the unrounded times; the reported ms are rounded to 0.01, so the ratio of the
      // reported figures may differ by that rounding (relative 0.005 / ms of each) plus the speedup's own 0.005.
      const ratio = r.ttftReprefillMs / r.ttftStoredMs;
      const slack = ratio * (0.005 / r.ttftStoredMs + 0.005 / r.ttftReprefillMs) + 0.005;
      expect(Math.abs(r.speedup - ratio)).toBeLessThanOrEqual(slack * 1.01);
      expect(r.decodeReprefillTokensPerSecond).toBeGreaterThan(0);
      expect(r.decodeStoredTokensPerSecond).toBeGreaterThan(0);
    }
  });

  it('reports no decode speed without decode tokens, and refuses bad flags', async () => {
    const { code, rows } = await bench(['--context', '64', '--question-tokens', '4', '--decode-tokens', '0']);
    expect(code).toBe(0);
    expect(rows[0]).toMatchObject({ compressed: false, decodeTokens: 0, decodeReprefillTokensPerSecond: null, decodeStoredTokensPerSecond: null });
    await expect(bench(['--context', '64', '--decode-tokens', '-1'])).rejects.toThrow(/decode-tokens/);
  });
});
