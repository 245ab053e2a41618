// Typed errors: every failure a caller can cause is one of these, with a stable `code`.
// Native errors arrive with the same codes (native/src/core/errors.h) and are rethrown as these classes.

export type PressKVErrorCode =
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_NOT_FOUND'
  | 'ERR_CORRUPT_FILE'
  | 'ERR_UNSUPPORTED_DTYPE'
  | 'ERR_UNSUPPORTED_ARCHITECTURE'
  | 'ERR_CONTEXT_OVERFLOW'
  | 'ERR_OUT_OF_MEMORY'
  | 'ERR_ABORTED'
  | 'ERR_DEVICE_UNAVAILABLE'
  | 'ERR_INTERNAL';

export class PressKVError extends Error {
  readonly code: PressKVErrorCode;
  constructor(code: PressKVErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export class InvalidArgumentError extends PressKVError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_INVALID_ARGUMENT', message, options); }
}
export class ModelNotFoundError extends PressKVError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_NOT_FOUND', message, options); }
}
export class CorruptModelError extends PressKVError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_CORRUPT_FILE', message, options); }
}
export class UnsupportedDtypeError extends PressKVError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_UNSUPPORTED_DTYPE', message, options); }
}
export class UnsupportedArchitectureError extends PressKVError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_UNSUPPORTED_ARCHITECTURE', message, options); }
}
export class ContextOverflowError extends PressKVError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_CONTEXT_OVERFLOW', message, options); }
}
export class KvOutOfMemoryError extends PressKVError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_OUT_OF_MEMORY', message, options); }
}
export class AbortedError extends PressKVError {
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) { super('ERR_ABORTED', message, options); }
}
/** The device asked for (device: 'cuda' / 'cuda:N') cannot be used: no CUDA build, driver or GPU; the message says which. */
export class DeviceUnavailableError extends PressKVError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_DEVICE_UNAVAILABLE', message, options); }
}
export class InternalError extends PressKVError {
  constructor(message: string, options?: { cause?: unknown }) { super('ERR_INTERNAL', message, options); }
}

const BY_CODE: Record<PressKVErrorCode, new (message: string, options?: { cause?: unknown }) => PressKVError> = {
  ERR_INVALID_ARGUMENT: InvalidArgumentError,
  ERR_NOT_FOUND: ModelNotFoundError,
  ERR_CORRUPT_FILE: CorruptModelError,
  ERR_UNSUPPORTED_DTYPE: UnsupportedDtypeError,
  ERR_UNSUPPORTED_ARCHITECTURE: UnsupportedArchitectureError,
  ERR_CONTEXT_OVERFLOW: ContextOverflowError,
  ERR_OUT_OF_MEMORY: KvOutOfMemoryError,
  ERR_ABORTED: AbortedError,
  ERR_DEVICE_UNAVAILABLE: DeviceUnavailableError,
  ERR_INTERNAL: InternalError,
};

/** Turns an error thrown by the native addon (message + code) into the matching typed error. */
export function fromNativeError(err: unknown): PressKVError {
  if (err instanceof PressKVError) return err;
  const e = err as { code?: string; message?: string };
  const cls = (e?.code && BY_CODE[e.code as PressKVErrorCode]) || InternalError;
  return new cls(e?.message ?? String(err), { cause: err });
}
