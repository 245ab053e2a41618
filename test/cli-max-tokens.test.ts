// --max-tokens has one rule on the command line, the server's: an integer >= 1. A negative value after the
// flag (`--max-tokens -5`) is that flag's value, not a stray flag, so it gets the rule's message too.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { attachNegativeNumbers } from '../cli/args.js';
import { cli } from './helpers/cli.js';

const storiesPath = path.resolve(fileURLToPath(new URL('..', import.meta.url)), '..', 'shared', 'models', 'stories260K.gguf');
const haveStories = existsSync(storiesPath);
if (!haveStories) console.warn(`[cli-max-tokens.test] ${storiesPath} is absent: skipping the run with --max-tokens 1`);

// The rule is checked before the model loads, so a model that is not there still gets the usage error.
const generate = (...flags: string[]) => cli('generate', '--model', 'not-loaded.gguf', '--prompt', 'x', ...flags);

describe('presskv generate --max-tokens', () => {
  for (const [label, flags, got] of [
    ['--max-tokens -5', ['--max-tokens', '-5'], '-5'],
    ['--max-tokens=-5', ['--max-tokens=-5'], '-5'],
    ['--max-tokens 0', ['--max-tokens', '0'], '0'],
  ] as const) {
    it(`${label} is a usage error (exit 2) naming the flag and the rule`, async () => {
      const r = await generate(...flags);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toContain(`--max-tokens must be an integer >= 1, got ${got}`);
      expect(r.err).not.toMatch(/ambiguous/);
    });
  }

  it('other number flags get their own rule for a negative value too', async () => {
    const r = await generate('--temperature', '-1');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--temperature must be >= 0, got -1');
  });

  it.skipIf(!haveStories)('--max-tokens 1 generates one token', async () => {
    const r = await cli('generate', '--model', storiesPath, '--prompt', 'Once upon a time', '--raw', '--max-tokens', '1', '--temperature', '0', '--json');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).generatedTokenIds).toHaveLength(1);
  });
});

describe('attachNegativeNumbers', () => {
  const options = { 'max-tokens': { type: 'string' }, json: { type: 'boolean' } } as const;

  it('joins a negative number to the value flag before it, and nothing else', () => {
    expect(attachNegativeNumbers(['--max-tokens', '-5', '--json'], options)).toEqual(['--max-tokens=-5', '--json']);
    expect(attachNegativeNumbers(['--max-tokens', '-.5'], options)).toEqual(['--max-tokens=-.5']);
    // A boolean flag takes no value; an unknown one is left for parseArgs to refuse; a dash word is a flag.
    expect(attachNegativeNumbers(['--json', '-5'], options)).toEqual(['--json', '-5']);
    expect(attachNegativeNumbers(['--bogus', '-5'], options)).toEqual(['--bogus', '-5']);
    expect(attachNegativeNumbers(['--max-tokens', '--json'], options)).toEqual(['--max-tokens', '--json']);
    expect(attachNegativeNumbers(['--max-tokens=3', '-5'], options)).toEqual(['--max-tokens=3', '-5']);
  });
});
