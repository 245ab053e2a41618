// `presskv bench` measures this machine's ceilings (read bandwidth, fp32 FMA peak) at the start of each thread
// count and reports every figure as a share of them (issue 12 point 7).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { measureCeilings, systemInfo } from '../engine/index.js';

const STORIES = fileURLToPath(new URL('../../shared/models/stories260K.gguf', import.meta.url));
const haveStories = existsSync(STORIES);
if (!haveStories) console.warn(`bench-ceilings: ${STORIES} is absent; the bench run is skipped`);

describe('measureCeilings', () => {
  it('measures a read bandwidth and an FMA peak with the kernels this CPU runs', () => {
    const one = measureCeilings(1);
    const cpu = systemInfo().cpu;
    expect(one.threads).toBe(1);
    expect(one.kernels).toBe(cpu.avx512f ? 'avx512' : cpu.avx2 && cpu.fma && cpu.f16c ? 'avx2' : 'portable');
    expect(one.bufferBytes).toBeGreaterThanOrEqual(64 << 20);
    // Bounds any machine this runs on falls within: more than a 1990s bus, less than HBM.
    expect(one.readGBPerSecond).toBeGreaterThan(0.5);
    expect(one.readGBPerSecond).toBeLessThan(2000);
    expect(one.fmaGFlopPerSecond).toBeGreaterThan(0.5);
    expect(one.fmaGFlopPerSecond).toBeLessThan(100000);
  });

  it('refuses a thread count that is not a positive integer', () => {
    expect(() => measureCeilings(0)).toThrow(/threads/);
    expect(() => measureCeilings(1.5)).toThrow(/threads/);
  });
});

describe.skipIf(!haveStories)('presskv bench ceilings', () => {
  it('reports each row against the ceilings measured for its thread count', async () => {
    const { runBench } = await import('../cli/bench.js');
    let out = '';
    let err = '';
    const code = await runBench(['--model', STORIES, '--context', '32', '--threads', '1', '--decode-tokens', '8', '--peer', 'none', '--json'], {
      out: (s) => (out += s),
      err: (s) => (err += s + '\n'),
    });
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report.ceilings).toHaveLength(1);
    const [ceiling] = report.ceilings;
    expect(ceiling.threads).toBe(1);
    expect(err).toMatch(/ceilings, 1 thread .*read [\d.]+ GB\/s, fp32 FMA \d+ GFLOP\/s/);
    // Both weight settings, the default (read into memory) first.
    expect(report.rows.map((r: { engine: string }) => r.engine)).toEqual(['presskv', 'presskv --mmap']);
    for (const row of report.rows) {
      expect(row.decodeRooflineFraction).toBeCloseTo(row.decodeGBPerSecond / ceiling.readGBPerSecond, 9);
      expect(row.prefillPeakFraction).toBeCloseTo(row.prefillGFlopPerSecond / ceiling.fmaGFlopPerSecond, 9);
      // The roofline speed is the measured bandwidth over the bytes one step reads.
      const bytesPerStep = (row.decodeGBPerSecond * 1e9) / row.decodeTokensPerSecond;
      expect(row.decodeRooflineTokensPerSecond).toBeCloseTo((ceiling.readGBPerSecond * 1e9) / bytesPerStep, 6);
    }
  });
});
