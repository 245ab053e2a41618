// The press quality evaluation behind docs/PRESSES.md: the logits comparison against a plain reference, the
// evaluated configuration of every press, and `presskv presses evaluate` end to end on stories260K.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runPressesCommand } from '../../cli/presses.js';
import { nativeAddon } from '../../engine/native.js';
import { createPress, listPresses } from '../../engine/presses/index.js';
import { compareNextTokens, qualityCases, qualityGap, renderQualityTable, type QualitySetup } from '../../engine/presses/quality.js';
import { gaussian, randomArray, seededRandom } from '../reference/presses/layer-inputs.js';
import { makeTempDir, writeJson } from './artefact-files.js';

function referenceKl(p: ArrayLike<number>, q: ArrayLike<number>): number {
  const softmax = (x: ArrayLike<number>) => {
    const m = Math.max(...Array.from(x));
    const e = Array.from(x, (v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  const ps = softmax(p);
  const qs = softmax(q);
  return ps.reduce((a, pi, i) => a + pi * Math.log(pi / qs[i]), 0);
}

describe('next-token comparison', () => {
  it('matches KL(p‖q) and argmax agreement computed by hand', () => {
    expect(compareNextTokens(Float32Array.from([0, 0]), Float32Array.from([Math.log(3), 0]), 2).klDivergence).toBeCloseTo(0.5 * Math.log(4 / 3), 7);
    const normal = gaussian(seededRandom(3));
    const vocab = 32;
    const p = randomArray(4 * vocab, normal, 2);
    const q = randomArray(4 * vocab, normal, 2);
    let kl = 0;
    let agree = 0;
    for (let r = 0; r < 4; r++) {
      const pr = p.subarray(r * vocab, (r + 1) * vocab);
      const qr = q.subarray(r * vocab, (r + 1) * vocab);
      kl += referenceKl(pr, qr) / 4;
      if (pr.indexOf(Math.max(...pr)) === qr.indexOf(Math.max(...qr))) agree += 0.25;
    }
    const got = compareNextTokens(p, q, vocab);
    expect(got.klDivergence).toBeCloseTo(kl, 6);
    expect(got.top1Agreement).toBe(agree);
    const shifted = p.map((x) => x + 5);
    expect(compareNextTokens(p, shifted, vocab)).toEqual({ klDivergence: expect.closeTo(0, 6), top1Agreement: 1 });
    expect(() => compareNextTokens(p, q.subarray(0, vocab), vocab)).toThrow(/different shapes/);
  });

  it('evaluates a valid configuration for every press it covers, at every ratio, and says why for the others', () => {
    const setup: QualitySetup = { nLayers: 5, contextTokens: 400, continuationTokens: 48 };
    let covered = 0;
    for (const { name } of listPresses()) {
      const gap = qualityGap(name, setup);
      for (const r of [0.25, 0.5, 0.75]) {
        const cases = qualityCases(name, r, setup);
        expect(cases.length === 0, `${name}: cases and gap disagree`).toBe(gap !== undefined);
        for (const { label, spec } of cases) {
          covered++;
          expect(label.startsWith(name)).toBe(true);
          const press = createPress(spec);
          expect(() => press.validateForModel({ nLayers: 5 } as never)).not.toThrow();
          expect(() => press.validateForContext(setup.contextTokens)).not.toThrow();
          if (press.compressionRatio !== undefined && !label.includes('(')) expect(press.compressionRatio).toBeCloseTo(r, 10);
        }
      }
    }
    expect(covered).toBeGreaterThanOrEqual(3 * 36);
    for (const must of ['random', 'snapkv', 'expected-attention', 'kvzip', 'decoding', 'think']) expect(qualityCases(must, 0.5, setup).length).toBeGreaterThan(0);
    expect(qualityCases('expected-attention', 0.5, setup).map((c) => c.label)).toEqual([
      'expected-attention',
      'expected-attention (nFuturePositions 48, useCovariance false)',
    ]);
    expect(qualityGap('qfilter', setup)).toMatch(/calibrated/);
    expect(qualityGap('qfilter', { artefacts: { qfilter: '/some/file' } })).toBeUndefined();
    expect(qualityGap('kvzap', setup)).toMatch(/trained weights/);
  });

  it('renders one markdown row per press with a cell per ratio', () => {
    const table = renderQualityTable(
      [
        { press: 'snapkv', ratio: 0.5, klDivergence: 0.0123, top1Agreement: 0.9, bytesKept: 0.52, tiedSlots: 0, tiedShare: 0 },
        { press: 'random', ratio: 0.5, klDivergence: 0.5, top1Agreement: 0.4, bytesKept: 0.52, tiedSlots: 3, tiedShare: 0.001 },
      ],
      [0.25, 0.5],
    ).split('\n');
    expect(table).toHaveLength(4);
    expect(table[2]).toBe('| `snapkv` | – | 0.0123 / 90.0 % / 52 % / 0 % |');
    expect(table[3]).toBe('| `random` | – | 0.5000 / 40.0 % / 52 % / <1 % |');
  });
});

const modelPath = fileURLToPath(new URL('../../../shared/models/stories260K.gguf', import.meta.url));
const hasEntry = (() => {
  try {
    return typeof (nativeAddon() as unknown as { pressEvalContext?: unknown }).pressEvalContext === 'function';
  } catch {
    return false;
  }
})();
if (!existsSync(modelPath) || !hasEntry) console.warn('[presses] `presses evaluate` test skipped: ../shared/models/stories260K.gguf or the native pressEvalContext entry is missing');

describe.skipIf(!existsSync(modelPath) || !hasEntry)('presskv presses evaluate (stories260K)', () => {
  const tmp = makeTempDir('presskv-press-eval-');
  afterAll(() => tmp.cleanup());

  it('prints rows per press and ratio and rewrites the Evaluation section of --out', async () => {
    const out = writeJson(join(tmp.dir, 'PRESSES.md'), '# Presses\n\nIntro.\n\n## Evaluation\n\nold table\n');
    const lines: string[] = [];
    const io = { out: (s: string) => lines.push(s), err: () => {} };
    const code = await runPressesCommand(
      ['evaluate', '--model', modelPath, '--press', 'knorm,SnapKVPress', '--ratios', '0.25,0.5', '--stories', '1', '--context', '96', '--continuation', '8', '--out', out, '--json'],
      io,
    );
    expect(code).toBe(0);
    const rows = JSON.parse(lines.join('\n')) as { press: string; ratio: number; klDivergence: number; top1Agreement: number; tiedSlots: number; tiedShare: number }[];
    expect(rows.map((r) => `${r.press}@${r.ratio}`)).toEqual(['knorm@0.25', 'knorm@0.5', 'snapkv@0.25', 'snapkv@0.5']);
    for (const r of rows) {
      expect(r.klDivergence).toBeGreaterThanOrEqual(0);
      expect(r.top1Agreement).toBeGreaterThanOrEqual(0);
      expect(r.top1Agreement).toBeLessThanOrEqual(1);
      expect(r.tiedSlots).toBeGreaterThanOrEqual(0);
      expect(r.tiedShare).toBeGreaterThanOrEqual(0);
      expect(r.tiedShare).toBeLessThanOrEqual(1);
    }
    const doc = readFileSync(out, 'utf8');
    expect(doc).toMatch(/^# Presses\n\nIntro\.\n\n## Evaluation\n/);
    expect(doc).not.toContain('old table');
    expect(doc).toContain('| `snapkv` |');
    expect(doc).toContain('presskv presses evaluate --model');
  });

  it('refuses unknown presses and bad ratios with a usage error', async () => {
    const io = { out: () => {}, err: () => {} };
    expect(await runPressesCommand(['evaluate', '--model', modelPath, '--press', 'nope'], io)).toBe(2);
    expect(await runPressesCommand(['evaluate', '--model', modelPath, '--ratios', '1.5'], io)).toBe(2);
    expect(await runPressesCommand(['evaluate'], io)).toBe(2);
  });
});
