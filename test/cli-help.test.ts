// `presskv <command> --help` / `-h`: every command answers with its own usage — each of its flags, a default
// and an example — and exit code 0, whatever else is on the line.
import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES, loadCommand } from '../cli/main.js';
import { cli } from './helpers/cli.js';

describe('presskv <command> --help', () => {
  it('covers every command', () => {
    expect(COMMAND_NAMES).toEqual(['generate', 'tokenize', 'info', 'make-model', 'bench', 'presses', 'serve', 'bench-context', 'calibrate']);
  });

  for (const name of COMMAND_NAMES) {
    it(`${name}: --help and -h print its usage with every flag, a default and an example, exit 0`, async () => {
      const { flags, usage } = await loadCommand(name);
      const flagNames = Object.keys(flags).filter((f) => f !== 'help');
      expect(flagNames.length).toBeGreaterThan(0);
      for (const helpFlag of ['--help', '-h']) {
        const r = await cli(name, helpFlag);
        expect(r.code, `${name} ${helpFlag}: ${r.err}`).toBe(0);
        expect(r.err).toBe('');
        expect(r.out).toBe(`${usage}\n`);
        expect(r.out).toContain(`presskv ${name}`);
        // `--flag` followed by a space, `=` or the end of the line, so --context does not count for --context-length.
        for (const flag of flagNames) expect(r.out, `${name} usage lacks --${flag}`).toMatch(new RegExp(`--${flag}(?![\\w-])`));
        expect(r.out).toMatch(/default/);
        expect(r.out).toMatch(new RegExp(`^Example: presskv ${name} `, 'm'));
      }
    });
  }

  it('help wins over the other flags, even ones that would be errors', async () => {
    const r = await cli('bench', '--model', 'nowhere.gguf', '--bogus', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('presskv bench --model');
    const evaluate = await cli('presses', 'evaluate', '-h');
    expect(evaluate.code).toBe(0);
    expect(evaluate.out).toContain('presskv presses evaluate');
  });

  it('a --help after `--` is not a help request', async () => {
    const r = await cli('tokenize', '--', '--help');
    expect(r.code).toBe(2);
  });
});
