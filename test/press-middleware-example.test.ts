// examples/custom-press.ts run as a user runs it (compiled, in its own process): a TypeScript scorer
// compresses the context through pressMiddleware and the AI SDK, once for every question on it.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Model } from '../engine/index.js';
import { tinyModelPath } from './helpers/tiny-models.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

describe('examples/custom-press', () => {
  it('answers every question from one compression by the TypeScript scorer', async () => {
    const modelPath = await tinyModelPath({ arch: 'llama', format: 'gguf' });
    const model = await Model.load(modelPath, { threads: 1 });
    const { nLayers } = model.info.config;
    model.dispose();
    const script = path.join(repoRoot, 'dist', 'examples', 'custom-press.js');
    const { stdout } = await run(process.execPath, [script, modelPath], { cwd: repoRoot, env: { ...process.env } });
    const lines = stdout.split('\n');
    const stats = lines.filter((l) => l.includes('press CustomScorerPress'));
    expect(stats).toHaveLength(2);
    for (const line of stats) {
      const [, before, after] = line.match(/context KV (\d+) tokens → (\d+) kept per head/)!.map(Number);
      // Half of every (layer, kv-head) removed (tokensAfter: kept per head): the scorer's choice, the question untouched.
      expect(after).toBe(before! - Math.floor(before! * 0.5));
    }
    expect(stats[1]).toMatch(/cache hit true/);
    expect(stdout).toMatch(/Streamed: [\s\S]*?\n\s+cache hit true/);
    // One compression: each layer scored once, for the first question only.
    expect(stdout).toContain(`layers scored by the TypeScript scorer: ${nLayers}`);
  });
});
