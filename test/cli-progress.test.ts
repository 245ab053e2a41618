// The CLI's progress display (cli/progress.ts): on a terminal one line redrawn in place with the rate and the
// ETA; elsewhere a bounded number of plain lines however long the step runs. And `presskv generate` on a pipe
// (not a terminal): progress lines on stderr, the generated text unchanged on stdout; --json prints none.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ProgressRenderer, formatDuration, prefillProgress, prefillUpdate } from '../cli/progress.js';
import { bin, cli } from './helpers/cli.js';

function fakeClock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('progress renderer', () => {
  it('off a terminal: at most one line per passed quarter, then the final line, for any number of updates', () => {
    for (const [updates, stepMs] of [
      [10_000, 10], // 100 s in 10 ms steps
      [100, 50], // 5 s
      [7, 1000],
      [200_000, 1],
    ] as const) {
      const clock = fakeClock();
      const lines: string[] = [];
      const r = new ProgressRenderer({ line: (l) => lines.push(l) }, { label: 'prefill', now: clock.now });
      for (let i = 1; i <= updates; i++) {
        clock.advance(stepMs);
        r.update({ done: i, total: updates, unit: 'tokens', rateUnit: 'tok' });
      }
      expect(lines.length, `${updates} updates`).toBeGreaterThanOrEqual(1);
      expect(lines.length, `${updates} updates`).toBeLessThanOrEqual(4);
      for (const line of lines) expect(line).toMatch(/^prefill: [^\r\n\x1b]+$/);
      expect(lines.at(-1)).toMatch(new RegExp(`^prefill: ${updates} tokens in .+ \\([\\d.]+ tok/s\\)$`));
    }
  });

  it('a long step prints its quarters with rate and ETA; a quick one only the final line', () => {
    const clock = fakeClock();
    const lines: string[] = [];
    const r = new ProgressRenderer({ line: (l) => lines.push(l) }, { label: 'prefill', now: clock.now });
    for (let done = 100; done <= 2000; done += 100) {
      clock.advance(1000); // 100 tok/s, 20 s in all
      r.update({ done, total: 2000, unit: 'tokens', rateUnit: 'tok' });
    }
    expect(lines).toEqual([
      'prefill: 500/2000 tokens (25 %), 100 tok/s, ETA 15 s',
      'prefill: 1000/2000 tokens (50 %), 100 tok/s, ETA 10 s',
      'prefill: 1500/2000 tokens (75 %), 100 tok/s, ETA 5.0 s',
      'prefill: 2000 tokens in 20 s (100 tok/s)',
    ]);

    const quick: string[] = [];
    const q = new ProgressRenderer({ line: (l) => quick.push(l) }, { label: 'prefill', now: fakeClock().now });
    for (let done = 1; done <= 5; done++) q.update({ done, total: 5, unit: 'layers' });
    expect(quick).toHaveLength(1);
    q.update({ done: 5, total: 5, unit: 'layers' }); // after the end: ignored
    expect(quick).toHaveLength(1);
  });

  it('on a terminal: one line redrawn in place, a newline at the end (or on end())', () => {
    const clock = fakeClock();
    let screen = '';
    const sink = { line: () => expect.unreachable('no plain lines on a terminal'), write: (t: string) => (screen += t), tty: true };
    const { renderer, onProgress } = prefillProgress(sink, 'prefill', { now: clock.now });
    for (let done = 1; done <= 28; done++) {
      clock.advance(500);
      onProgress({ done, total: 28, unit: 'layers', tokens: 2000 });
    }
    const frames = screen.split('\r\x1b[K').filter(Boolean);
    expect(frames).toHaveLength(28);
    expect(frames[13]).toBe('prefill: 14/28 layers of 2000 tokens (50 %), 143 tok/s, ETA 7.0 s');
    expect(frames.at(-1)).toBe('prefill: 28 layers of 2000 tokens in 14 s (143 tok/s)\n');
    expect(screen.split('\n')).toHaveLength(2);

    let partial = '';
    const r = new ProgressRenderer({ line: () => {}, write: (t) => (partial += t), tty: true }, { label: 'x', now: clock.now });
    r.update({ done: 1, total: 10, unit: 'MiB' });
    r.end();
    expect(partial.endsWith('\n')).toBe(true);
    renderer.end(); // already finished: nothing more
    expect(screen.split('\n')).toHaveLength(2);
  });

  it("uses the worker's elapsed time when given; showFinal false leaves the result to the caller", () => {
    const lines: string[] = [];
    const r = new ProgressRenderer({ line: (l) => lines.push(l) }, { label: 'p', now: fakeClock().now });
    r.update({ done: 10, total: 10, unit: 'tokens', rateUnit: 'tok', elapsedMs: 2000 });
    expect(lines).toEqual(['p: 10 tokens in 2.0 s (5.0 tok/s)']);
    const quiet: string[] = [];
    let screen = '';
    const off = new ProgressRenderer({ line: (l) => quiet.push(l) }, { label: 'p', showFinal: false });
    off.update({ done: 10, total: 10, unit: 'tokens' });
    expect(quiet).toEqual([]);
    const on = new ProgressRenderer({ line: () => {}, write: (t) => (screen += t), tty: true }, { label: 'p', showFinal: false });
    on.update({ done: 5, total: 10, unit: 'tokens' });
    on.update({ done: 10, total: 10, unit: 'tokens' });
    expect(screen.endsWith('\r\x1b[K')).toBe(true);
  });

  it('formats durations and prefill reports', () => {
    expect(formatDuration(250)).toBe('250 ms');
    expect(formatDuration(4200)).toBe('4.2 s');
    expect(formatDuration(42_000)).toBe('42 s');
    expect(formatDuration(125_000)).toBe('2 min 05 s');
    expect(prefillUpdate({ done: 3, total: 10, unit: 'tokens', tokens: 10 })).toMatchObject({ done: 3, total: 10, unit: 'tokens', rateUnit: 'tok' });
    expect(prefillUpdate({ done: 2, total: 4, unit: 'layers', tokens: 100 })).toMatchObject({ rateAmount: 50, detail: 'of 100 tokens' });
  });
});

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const storiesPath = path.resolve(repoRoot, '..', 'shared', 'models', 'stories260K.gguf');
const goldenPath = path.resolve(repoRoot, '..', 'shared', 'models', 'golden-stories260K.json');
const haveShared = existsSync(storiesPath) && existsSync(goldenPath);
if (!haveShared) console.warn('[cli-progress] ../shared/models/stories260K.gguf is missing: skipping the generate runs');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'presskv-cli-progress-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));


describe.skipIf(!haveShared)('presskv generate progress on a pipe (stories260K)', () => {
  const golden = haveShared ? JSON.parse(readFileSync(goldenPath, 'utf8')) : undefined;

  it('prints plain prefill lines on stderr and the same text on stdout', async () => {
    const r = await bin('generate', '--model', storiesPath, '--prompt', 'Once upon a time', '--raw', '--max-tokens', '32', '--temperature', '0');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${golden.golden32.generatedText}\n`);
    expect(r.stderr).not.toMatch(/[\r\x1b]/);
    const progress = r.stderr.split('\n').filter((l) => l.startsWith('prefill: '));
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.length).toBeLessThanOrEqual(4);
    expect(progress.at(-1)).toMatch(/^prefill: 5 tokens in .+ tok\/s\)$/);
  });

  it('with a press: the layer-major prefill of the context; --json prints no progress', async () => {
    const contextFile = path.join(tmp, 'context.txt');
    writeFileSync(contextFile, 'Lily and Ben went to the park. They played on the swings and ate ice cream. '.repeat(8));
    const args = ['generate', '--model', storiesPath, '--context', `@${contextFile}`, '--prompt', 'Once upon a time', '--raw', '--max-tokens', '8', '--temperature', '0', '--press', 'knorm', '--compression-ratio', '0.5'];
    const r = await cli(...args);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/^prefill \(press\): 5 layers of \d+ tokens in .+ tok\/s\)$/m);
    const json = await cli(...args, '--json');
    expect(json.code, json.err).toBe(0);
    expect(json.err).not.toMatch(/prefill/);
    expect(`${JSON.parse(json.out).text}\n`).toBe(r.out);
  });
});

describe.skipIf(!haveShared)('presskv serve logs context prefills (stories260K)', () => {
  it('POST /v1/contexts prints its prefill on the server log (stderr), not with --json', async () => {
    const { runServe } = await import('../cli/serve.js');
    for (const json of [false, true]) {
      const out: string[] = [];
      const err: string[] = [];
      let stop!: () => void;
      const until = new Promise<void>((resolve) => (stop = resolve));
      const running = runServe(['--model', storiesPath, '--port', '0', '--threads', '1', ...(json ? ['--json'] : [])], { out: (l) => out.push(l), err: (l) => err.push(l) }, until);
      const start = Date.now();
      const url = () => (json ? out[0] && (JSON.parse(out[0]) as { url: string }).url : err.join('\n').match(/on (http:\/\/[^/\s]+)\/v1/)?.[1]);
      while (!url()) {
        if (Date.now() - start > 60_000) throw new Error(`serve did not start: ${err.join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const response = await fetch(`${url()}/v1/contexts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'Lily and Ben went to the park. '.repeat(20), press: { name: 'knorm', compression_ratio: 0.5 } }),
      });
      const created = (await response.json()) as { id: string };
      expect(response.status, JSON.stringify(created)).toBe(201);
      stop();
      expect(await running).toBe(0);
      const lines = err.filter((l) => l.startsWith(`context ${created.id} prefill: `));
      if (json) expect(err).toEqual([]);
      else {
        expect(lines.length).toBeGreaterThanOrEqual(1);
        expect(lines.at(-1)).toMatch(/prefill: 5 layers of \d+ tokens in .+ tok\/s\)$/);
      }
    }
  });
});
