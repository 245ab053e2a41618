// The engine API: what the provider, CLI and server build on.
export { Model } from './model.js';
export { Session, type SessionOptions, type EvaluateOptions, type PrefillContextOptions, type PrefillContextResult } from './session.js';
export { GenerateStream, type TokenEvent } from './generate-stream.js';
export { DEFAULT_SAMPLING, samplingSchema, generateOptionsSchema, parseSampling } from './generate.js';
export { measureCeilings, systemInfo, type MeasuredCeilings } from './system-info.js';
export { parseDevice, type DeviceName } from './device.js';
export * from './errors.js';
export type * from './types.js';
