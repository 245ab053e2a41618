// Device selection (LoadOptions.device): which forward pass a model's runtime gets. The native side
// takes a number (-1 = CPU, N = CUDA device N); 'auto' tries the first CUDA device and falls back to
// the CPU, remembering why.
import { DeviceUnavailableError, InvalidArgumentError, KvOutOfMemoryError } from './errors.js';
import type { NativeSystemInfo } from './native.js';
import type { DeviceOption } from './types.js';

/** The device a runtime runs on: 'cpu' or 'cuda:N'. */
export type DeviceName = 'cpu' | `cuda:${number}`;

export type DeviceRequest = { kind: 'auto' } | { kind: 'cpu' } | { kind: 'cuda'; index: number };

export function parseDevice(option: unknown): DeviceRequest {
  if (option === undefined || option === 'auto') return { kind: 'auto' };
  if (option === 'cpu') return { kind: 'cpu' };
  if (option === 'cuda') return { kind: 'cuda', index: 0 };
  if (typeof option === 'string') {
    const m = /^cuda:(\d{1,4})$/.exec(option);
    if (m) return { kind: 'cuda', index: Number(m[1]) };
  }
  throw new InvalidArgumentError(`device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got ${JSON.stringify(option)}`);
}

/** The native device number of a device name. */
export function nativeDeviceIndex(name: DeviceName): number {
  return name === 'cpu' ? -1 : Number(name.slice('cuda:'.length));
}

/** Devices to try in order for a request; the reason a CUDA device is skipped up front by 'auto'. */
export function deviceCandidates(request: DeviceRequest, info: NativeSystemInfo): { order: DeviceName[]; skipped?: string } {
  if (request.kind === 'cpu') return { order: ['cpu'] };
  if (request.kind === 'cuda') {
    if (!info.cuda.compiled)
      throw new DeviceUnavailableError(`device 'cuda:${request.index}': this presskv build has no CUDA support (nvcc was not found when it was built)`);
    if (info.cuda.error) throw new DeviceUnavailableError(`device 'cuda:${request.index}': no usable CUDA device (${info.cuda.error})`);
    if (request.index >= info.cuda.devices.length)
      throw new DeviceUnavailableError(`device 'cuda:${request.index}' does not exist (${info.cuda.devices.length} CUDA device(s) present)`);
    return { order: [`cuda:${request.index}`] };
  }
  if (!info.cuda.compiled) return { order: ['cpu'], skipped: 'this presskv build has no CUDA support' };
  if (info.cuda.error) return { order: ['cpu'], skipped: `no usable CUDA device (${info.cuda.error})` };
  if (info.cuda.devices.length === 0) return { order: ['cpu'], skipped: 'no CUDA device present' };
  return { order: ['cuda:0', 'cpu'] };
}

/** Whether 'auto' may move on to the next device after this error (the GPU is unusable or too small). */
export function autoMayFallBack(err: unknown): boolean {
  return err instanceof DeviceUnavailableError || err instanceof KvOutOfMemoryError;
}

export function parseDeviceOption(value: string | undefined): DeviceOption | undefined {
  if (value === undefined) return undefined;
  parseDevice(value);
  return value as DeviceOption;
}
