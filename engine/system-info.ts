// What this machine and build can use: CPU SIMD features and CUDA devices.
import { callNative, nativeAddon, type NativeSystemInfo } from './native.js';

export function systemInfo(): NativeSystemInfo {
  return callNative(() => nativeAddon().systemInfo());
}
