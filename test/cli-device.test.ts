// --device on the commands that run a model: a bad value is a usage error before anything loads; 'cuda' on a
// machine without a usable CUDA device is the DeviceUnavailableError (exit 1); 'auto' runs and says where it
// ran, and why it chose the CPU. `presskv info` shows the CUDA build and devices.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DeviceUnavailableError } from '../engine/errors.js';
import { Model } from '../engine/model.js';
import { systemInfo } from '../engine/system-info.js';
import { cli } from './helpers/cli.js';

const storiesPath = path.resolve(fileURLToPath(new URL('..', import.meta.url)), '..', 'shared', 'models', 'stories260K.gguf');
const haveStories = existsSync(storiesPath);
if (!haveStories) console.warn(`[cli-device.test] ${storiesPath} is absent: skipping the runs on stories260K`);

const { cuda } = systemInfo();
const haveCuda = cuda.compiled && !cuda.error && cuda.devices.length > 0;

describe('--device <bad value>', () => {
  // The model is never opened: the flag is checked first.
  const missing = 'not-loaded.gguf';
  for (const argv of [
    ['generate', '--model', missing, '--prompt', 'x'],
    ['info', '--model', missing],
    ['bench', '--model', missing, '--peer', 'none'],
    ['bench-context', '--model', missing],
    ['serve', '--model', missing, '--port', '0'],
    ['presses', 'evaluate', '--model', missing],
  ]) {
    it(`${argv.slice(0, argv[0] === 'presses' ? 2 : 1).join(' ')} --device gpu is a usage error (exit 2)`, async () => {
      const r = await cli(...argv, '--device', 'gpu');
      expect(r.code, r.err).toBe(2);
      expect(r.err).toContain(`--device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got "gpu"`);
    });
  }
});

describe.skipIf(!haveStories)('--device on stories260K', () => {
  const generate = (...flags: string[]) =>
    cli('generate', '--model', storiesPath, '--prompt', 'Once upon a time', '--raw', '--max-tokens', '2', '--temperature', '0', '--json', ...flags);

  it.skipIf(haveCuda)('--device cuda without a usable CUDA device exits 1 with the DeviceUnavailableError message', async () => {
    const expected = await Model.load(storiesPath, { device: 'cuda' }).then(
      (model) => (model.dispose(), undefined),
      (err: unknown) => err,
    );
    expect(expected).toBeInstanceOf(DeviceUnavailableError);
    const r = await generate('--device', 'cuda');
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain((expected as DeviceUnavailableError).message);
    expect(r.err).toContain("device 'cuda:0'");
  });

  it('--device auto runs and reports where (the CPU here, with the reason when no CUDA device works)', async () => {
    const r = await generate('--device', 'auto');
    expect(r.code, r.err).toBe(0);
    const result = JSON.parse(r.out);
    if (haveCuda) {
      expect(result.device).toBe('cuda:0');
      expect(result).not.toHaveProperty('deviceFallbackReason');
    } else {
      expect(result.device).toBe('cpu');
      expect(result.deviceFallbackReason).toMatch(/CUDA/);
    }
    expect(result.generatedTokenIds.length).toBeGreaterThan(0);
    // Without the flag it is the same: auto is the default.
    const byDefault = JSON.parse((await generate()).out);
    expect(byDefault.device).toBe(result.device);
  });

  it('--device cpu runs on the CPU with no fallback reason', async () => {
    const r = await generate('--device', 'cpu');
    expect(r.code, r.err).toBe(0);
    const result = JSON.parse(r.out);
    expect(result.device).toBe('cpu');
    expect(result).not.toHaveProperty('deviceFallbackReason');
  });

  it('info shows the CUDA build and devices from systemInfo(), as JSON and as text', async () => {
    const json = await cli('info', '--model', storiesPath, '--device', 'cpu', '--json');
    expect(json.code, json.err).toBe(0);
    const report = JSON.parse(json.out);
    expect(report.cuda).toEqual(cuda);
    expect(report.device).toBe('cpu');
    const human = await cli('info', '--model', storiesPath);
    expect(human.code, human.err).toBe(0);
    expect(human.out).toMatch(/^device\s+(cpu|cuda:0)/m);
    if (!cuda.compiled) expect(human.out).toMatch(/^cuda\s+not compiled/m);
    else if (cuda.error) expect(human.out).toContain(`unusable: ${cuda.error}`);
    else for (const [i, d] of cuda.devices.entries()) expect(human.out).toMatch(new RegExp(`cuda:${i}\\s+${d.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });
});
