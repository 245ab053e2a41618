// Streams a planned tensor's random values in the requested dtype, chunk by chunk through one reused
// buffer, so writing a billion-parameter model needs only a few MiB of memory.
import type { WeightDType } from '../model-spec.js';
import { f32ToBf16Bits, f32ToF16Bits } from './half-float.js';
import { streamSeed, uniformGrid, Xoshiro128 } from './random.js';
import { elementCount, type PlannedTensor } from './tensor-plan.js';

export const BYTES_PER_ELEMENT: Record<WeightDType, number> = { f32: 4, f16: 2, bf16: 2 };

/** Reusable scratch space for tensorChunks; must hold an even number of elements of any dtype. */
export function makeChunkBuffer(bytes = 4 << 20): ArrayBuffer {
  return new ArrayBuffer(bytes - (bytes % 8));
}

/**
 * Yields the tensor's bytes in order. Each yielded view aliases `buffer`: consume (write) it before
 * asking for the next one.
 */
export function* tensorChunks(tensor: PlannedTensor, dtype: WeightDType, seed: number, buffer: ArrayBuffer): Generator<Uint8Array> {
  const grid = uniformGrid(tensor.center, tensor.halfWidth);
  const rng = new Xoshiro128(streamSeed(seed, tensor.name));
  const total = elementCount(tensor.shape);
  if (dtype === 'f32') {
    const out = new Float32Array(buffer);
    yield* fill(out, grid, rng, total, 4, buffer);
    return;
  }
  const bits = new Uint16Array(65536);
  const convert = dtype === 'f16' ? f32ToF16Bits : f32ToBf16Bits;
  for (let i = 0; i < 65536; i++) bits[i] = convert(grid[i]);
  yield* fill(new Uint16Array(buffer), bits, rng, total, 2, buffer);
}

function* fill(
  out: Float32Array | Uint16Array,
  table: Float32Array | Uint16Array,
  rng: Xoshiro128,
  total: number,
  elementBytes: number,
  buffer: ArrayBuffer,
): Generator<Uint8Array> {
  const capacity = out.length;
  for (let done = 0; done < total; ) {
    const n = Math.min(capacity, total - done);
    rng.fillFromTable(out, table, n);
    done += n;
    yield new Uint8Array(buffer, 0, n * elementBytes);
  }
}
