// `presskv presses`: the listing printed as JSON and as a table, and its usage errors.
import { describe, expect, it } from 'vitest';
import { runPressesCommand } from '../../cli/presses.js';
import { listPresses } from '../../engine/presses/index.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
}

describe('presskv presses', () => {
  it('--json prints one { name, className, kind, options } per press', async () => {
    const c = capture();
    expect(await runPressesCommand(['--json'], c.io)).toBe(0);
    const parsed = JSON.parse(c.out.join('\n')) as { name: string; className: string; kind: string; options: Record<string, unknown> }[];
    expect(parsed).toEqual(JSON.parse(JSON.stringify(listPresses())));
    expect(parsed.length).toBe(41);
    const snap = parsed.find((p) => p.name === 'snapkv')!;
    expect(snap).toEqual({ name: 'snapkv', className: 'SnapKVPress', kind: 'scorer', options: { compressionRatio: 0, windowSize: 64, kernelSize: 5 } });
    for (const p of parsed) expect(['scorer', 'wrapper', 'decoding', 'other']).toContain(p.kind);
  });

  it('prints a readable table by default and filters by kind', async () => {
    const c = capture();
    expect(await runPressesCommand([], c.io)).toBe(0);
    const text = c.out.join('\n');
    expect(text).toMatch(/^NAME\s+CLASS\s+KIND/);
    expect(text).toMatch(/snapkv\s+SnapKVPress\s+scorer\s+compressionRatio=0 windowSize=64 kernelSize=5/);
    const d = capture();
    await runPressesCommand(['--kind', 'decoding', '--json'], d.io);
    expect((JSON.parse(d.out.join('')) as { name: string }[]).map((p) => p.name)).toEqual(['decoding', 'compression-ratio-decoding', 'prefill-decoding', 'cam']);
  });

  it('rejects unknown flags and kinds with exit code 2', async () => {
    const c = capture();
    expect(await runPressesCommand(['--jsn'], c.io)).toBe(2);
    expect(c.err.join('')).toMatch(/presskv presses/);
    expect(await runPressesCommand(['--kind', 'nope'], c.io)).toBe(2);
  });
});

describe('press table (docs/press-table.md)', () => {
  it('has one row per listed press, with its class and short name', async () => {
    const { readFileSync } = await import('node:fs');
    const table = readFileSync(new URL('../../docs/press-table.md', import.meta.url), 'utf8');
    const rows = table.split('\n').filter((l) => l.startsWith('| `'));
    expect(rows.length).toBe(listPresses().length);
    for (const p of listPresses()) {
      expect(rows.some((r) => r.startsWith(`| \`${p.className}\` (\`${p.name}\`) |`)), p.className).toBe(true);
    }
  });
});
