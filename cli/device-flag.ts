// The --device flag of the commands that run a model: which forward pass Model.load gives it
// (LoadOptions.device). A value parseDevice refuses is a usage error, caught before any model loads.
import { parseDevice } from '../engine/device.js';
import type { DeviceOption } from '../engine/types.js';
import { UsageError } from './args.js';

/** The usage line every such command shows, so the flag reads the same everywhere. */
export const DEVICE_FLAG_USAGE =
  "--device <auto|cpu|cuda|cuda:N>  where the model runs (default auto: the first CUDA device that works, else the CPU)";

export function deviceFlag(value: string | undefined, usage: string): DeviceOption {
  if (value === undefined) return 'auto';
  try {
    parseDevice(value);
  } catch (err) {
    throw new UsageError(`--${(err as Error).message}`, usage);
  }
  return value as DeviceOption;
}
