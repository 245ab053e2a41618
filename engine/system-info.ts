// What this machine and build can use: CPU SIMD features and CUDA devices.
import { callNative, nativeAddon, type MeasuredCeilings, type NativeSystemInfo } from './native.js';

export type { MeasuredCeilings };

export function systemInfo(): NativeSystemInfo {
  return callNative(() => nativeAddon().systemInfo());
}

/**
 * Memory read bandwidth and fp32 FMA peak of this machine with `threads` threads, measured now (about half a
 * second, blocking): the roofline `presskv bench` reports its figures against.
 */
export function measureCeilings(threads: number): MeasuredCeilings {
  return callNative(() => nativeAddon().measureCeilings(threads));
}
