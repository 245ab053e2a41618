// Device selection (LoadOptions.device / createPressKV({ device })): the parser, 'auto' and the typed
// error of an explicit CUDA device. On a machine with a working GPU the CUDA half is exercised by
// test/gpu/gpu-check.mjs (npm run test:gpu) instead; here the machine decides which half applies.
import { generateText } from 'ai';
import { afterAll, describe, expect, it } from 'vitest';
import { deviceCandidates, parseDevice } from '../engine/device.js';
import { DeviceUnavailableError, InvalidArgumentError } from '../engine/errors.js';
import { Model } from '../engine/model.js';
import { readModelFiles } from '../engine/model-files.js';
import { nativeAddon, type NativeSystemInfo } from '../engine/native.js';
import { systemInfo } from '../engine/system-info.js';
import { createPressKV } from '../provider/create-presskv.js';
import { tinyModelPath } from './helpers/tiny-models.js';

const cuda = systemInfo().cuda;
const gpuWorks = cuda.compiled && !cuda.error && cuda.devices.length > 0;
if (gpuWorks) console.warn('device-selection: a GPU is present, the no-GPU checks are skipped (npm run test:gpu covers the GPU)');

const info = (cudaPart: Partial<NativeSystemInfo['cuda']>): NativeSystemInfo => ({
  cpu: { avx2: true, fma: true, f16c: true, avx512f: false, avx512bf16: false },
  cuda: { compiled: true, runtimeVersion: 13000, error: null, devices: [], ...cudaPart },
});

describe('parseDevice / deviceCandidates', () => {
  it('accepts auto, cpu, cuda and cuda:N, and nothing else', () => {
    expect(parseDevice(undefined)).toEqual({ kind: 'auto' });
    expect(parseDevice('auto')).toEqual({ kind: 'auto' });
    expect(parseDevice('cpu')).toEqual({ kind: 'cpu' });
    expect(parseDevice('cuda')).toEqual({ kind: 'cuda', index: 0 });
    expect(parseDevice('cuda:3')).toEqual({ kind: 'cuda', index: 3 });
    for (const bad of ['gpu', 'cuda:', 'cuda:-1', 'CUDA', 'cuda:1.5', 3, null])
      expect(() => parseDevice(bad)).toThrow(InvalidArgumentError);
  });

  it("'auto' tries the first GPU then the CPU, and says why it skipped the GPU", () => {
    const gpu = { name: 'H200', computeCapability: 90, totalMemory: 1 };
    expect(deviceCandidates({ kind: 'auto' }, info({ devices: [gpu] })).order).toEqual(['cuda:0', 'cpu']);
    expect(deviceCandidates({ kind: 'auto' }, info({ compiled: false }))).toEqual({ order: ['cpu'], skipped: 'this presskv build has no CUDA support' });
    expect(deviceCandidates({ kind: 'auto' }, info({ error: 'CUDA driver version is insufficient' })).skipped).toContain('driver');
    expect(deviceCandidates({ kind: 'auto' }, info({})).skipped).toBe('no CUDA device present');
  });

  it('an explicit CUDA device that cannot work is a DeviceUnavailableError naming the reason', () => {
    expect(() => deviceCandidates({ kind: 'cuda', index: 0 }, info({ compiled: false }))).toThrow(/no CUDA support/);
    expect(() => deviceCandidates({ kind: 'cuda', index: 0 }, info({ error: 'no driver' }))).toThrow(DeviceUnavailableError);
    expect(() => deviceCandidates({ kind: 'cuda', index: 1 }, info({ devices: [{ name: 'x', computeCapability: 90, totalMemory: 1 }] }))).toThrow(
      /'cuda:1' does not exist \(1 CUDA device/,
    );
    expect(deviceCandidates({ kind: 'cpu' }, info({ compiled: false })).order).toEqual(['cpu']);
  });
});

describe.skipIf(gpuWorks)('on a machine without a usable GPU', () => {
  const models: Model[] = [];
  afterAll(() => models.forEach((m) => m.dispose()));

  it("Model.load: 'auto' runs on the CPU and says why; 'cuda' fails typed and the next load works", async () => {
    const path = await tinyModelPath({ arch: 'llama', format: 'gguf' });
    const auto = await Model.load(path, { threads: 1 });
    models.push(auto);
    expect(auto.device).toBe('cpu');
    expect(auto.deviceFallbackReason).toMatch(/CUDA/);
    expect(auto.stats().device).toBe(-1);
    expect(auto.stats().deviceMemory).toEqual({ weights: 0, kvMirror: 0, scratch: 0 });
    const result = await auto.generate([1, 2, 3], { maxTokens: 4, temperature: 0 });
    expect(result.device).toBe('cpu');

    for (const device of ['cuda', 'cuda:0', 'cuda:7'] as const) {
      const err = await Model.load(path, { threads: 1, device }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeviceUnavailableError);
      expect((err as DeviceUnavailableError).code).toBe('ERR_DEVICE_UNAVAILABLE');
      expect((err as Error).message.length).toBeGreaterThan(20);
    }
    const cpu = await Model.load(path, { threads: 1, device: 'cpu' });
    models.push(cpu);
    expect((await cpu.generate([1, 2, 3], { maxTokens: 4, temperature: 0 })).generatedTokenIds).toEqual(result.generatedTokenIds);
  });

  it('the native layer refuses a CUDA forward pass with the same typed error (the addon loaded without a GPU)', async () => {
    const path = await tinyModelPath({ arch: 'qwen3', format: 'gguf' });
    const files = await readModelFiles(path);
    const handle = nativeAddon().loadModel(files.spec, { threads: 1 });
    try {
      let caught: unknown;
      try {
        handle.evalLogits(Int32Array.of(1, 2, 3), { device: 0 });
      } catch (e) {
        caught = e;
      }
      expect((caught as { code?: string }).code).toBe('ERR_DEVICE_UNAVAILABLE');
      expect(handle.evalLogits(Int32Array.of(1, 2, 3)).length).toBe(files.spec.config.vocab);
    } finally {
      handle.dispose();
    }
  });

  it("the provider reports the device in providerMetadata.presskv and refuses an unknown device", async () => {
    const path = await tinyModelPath({ arch: 'qwen2', format: 'gguf' });
    const provider = createPressKV({ threads: 1, device: 'auto' });
    try {
      const r = await generateText({ model: provider(path), prompt: 'hello', maxOutputTokens: 3, temperature: 0 });
      expect(r.providerMetadata?.presskv?.device).toBe('cpu');
      const failing = createPressKV({ threads: 1, device: 'cuda' });
      await expect(generateText({ model: failing(path), prompt: 'hello', maxOutputTokens: 3 })).rejects.toThrow(/CUDA|cuda/);
      failing.dispose();
    } finally {
      provider.dispose();
    }
  });
});
