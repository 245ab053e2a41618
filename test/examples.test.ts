// The examples run as users run them (compiled, in their own process) against a tiny model, so they never rot.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/main.js';
import { tinyModelPath } from './helpers/tiny-models.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

describe('examples', () => {
  let model: string;
  let expected: string;
  beforeAll(async () => {
    model = await tinyModelPath({ arch: 'qwen2', format: 'gguf' });
    // The CLI with the examples' settings (temperature 0, 64 tokens) gives the text to expect.
    let out = '';
    const code = await main(['generate', '--model', model, '--prompt', 'Hello there', '--max-tokens', '64', '--temperature', '0', '--json'], {
      out: (l) => (out += l),
      err: () => {},
    });
    expect(code).toBe(0);
    expected = JSON.parse(out).text;
  });

  for (const name of ['generate-text', 'stream-text']) {
    it(`${name} prints the model's text`, async () => {
      const script = path.join(repoRoot, 'dist', 'examples', `${name}.js`);
      const { stdout, stderr } = await run(process.execPath, [script, model, 'Hello there'], { cwd: repoRoot, env: { ...process.env } });
      expect(stdout).toBe(`${expected}\n`);
      expect(stderr).toMatch(/finish: (stop|length)/);
    });
  }

  it('explains its usage without a model', async () => {
    const script = path.join(repoRoot, 'dist', 'examples', 'generate-text.js');
    const env = { ...process.env };
    delete env.PRESSKV_MODEL;
    const err = await run(process.execPath, [script], { cwd: repoRoot, env }).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/usage: generate-text/);
  });
});
