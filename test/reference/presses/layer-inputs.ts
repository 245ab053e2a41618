// Seeded random inputs for one layer, shaped as the native scorePressLayer entry takes them, and the
// plain-array views the reference scorers read. Reference code only: obvious loops in float64.

/** 'half-split' = HF rotate_half (pairs i, i + d/2); 'interleaved' = llama.cpp NORM / GGUF llama (pairs 2i, 2i + 1). */
export type RopeStyle = 'half-split' | 'interleaved';

export interface ReferenceModelConfig {
  nLayers: number;
  hidden: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  ropeTheta: number;
  ropeStyle: RopeStyle;
  rmsEps: number;
  qkNorm: boolean;
}

export interface LayerInputs {
  config: ReferenceModelConfig;
  layer: number;
  n: number;
  q: number;
  hidden: Float32Array; // [q, D]
  keys: Float32Array; // [Hk, n, d] post-RoPE
  values: Float32Array; // [Hk, n, d]
  positions: Int32Array; // [n]
  weights: { wq: Float32Array; wk: Float32Array; wo?: Float32Array; qNorm?: Float32Array; kNorm?: Float32Array };
  attentions?: Float32Array; // [H, q, n]
  seed?: number;
}

/** mulberry32: small, seedable, good enough for test tensors. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

export function randomArray(size: number, normal: () => number, scale = 1): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = normal() * scale;
  return out;
}

export interface LayerShape {
  n: number;
  q?: number;
  nHeads?: number;
  nKvHeads?: number;
  headDim?: number;
  hidden?: number;
  nLayers?: number;
  layer?: number;
  qkNorm?: boolean;
  withWo?: boolean;
  withAttentions?: boolean;
  ropeStyle?: RopeStyle;
}

/** Random X, K, V, weights (and eager attention rows when asked) for one layer. */
export function makeLayerInputs(seed: number, shape: LayerShape): LayerInputs {
  const normal = gaussian(seededRandom(seed));
  const H = shape.nHeads ?? 4;
  const Hk = shape.nKvHeads ?? 2;
  const d = shape.headDim ?? 8;
  const D = shape.hidden ?? 16;
  const n = shape.n;
  const q = shape.q ?? n;
  const config: ReferenceModelConfig = {
    nLayers: shape.nLayers ?? 2,
    hidden: D,
    nHeads: H,
    nKvHeads: Hk,
    headDim: d,
    ropeTheta: 10000,
    ropeStyle: shape.ropeStyle ?? 'half-split',
    rmsEps: 1e-6,
    qkNorm: shape.qkNorm ?? false,
  };
  const positions = new Int32Array(n);
  for (let t = 0; t < n; t++) positions[t] = t;
  const inputs: LayerInputs = {
    config,
    layer: shape.layer ?? 0,
    n,
    q,
    hidden: randomArray(q * D, normal),
    keys: randomArray(Hk * n * d, normal),
    values: randomArray(Hk * n * d, normal),
    positions,
    weights: {
      wq: randomArray(H * d * D, normal, 1 / Math.sqrt(D)),
      wk: randomArray(Hk * d * D, normal, 1 / Math.sqrt(D)),
    },
  };
  if (shape.qkNorm) {
    inputs.weights.qNorm = randomArray(d, () => 1 + 0.2 * normal());
    inputs.weights.kNorm = randomArray(d, () => 1 + 0.2 * normal());
  }
  if (shape.withWo) inputs.weights.wo = randomArray(D * H * d, normal, 1 / Math.sqrt(H * d));
  if (shape.withAttentions) inputs.attentions = randomCausalAttentions(normal, H, q, n);
  return inputs;
}

/** Softmax rows over the keys each query may see (query i at position n − q + i sees keys ≤ its position). */
function randomCausalAttentions(normal: () => number, H: number, q: number, n: number): Float32Array {
  const out = new Float32Array(H * q * n);
  for (let h = 0; h < H; h++)
    for (let i = 0; i < q; i++) {
      const last = n - q + i;
      let sum = 0;
      const row = new Float64Array(n);
      for (let j = 0; j <= last; j++) {
        row[j] = Math.exp(normal());
        sum += row[j];
      }
      for (let j = 0; j <= last; j++) out[(h * q + i) * n + j] = row[j] / sum;
    }
  return out;
}

/** Element (h, t, c) of a [heads, len, d] array. */
export function at3(a: ArrayLike<number>, len: number, d: number, h: number, t: number, c: number): number {
  return a[(h * len + t) * d + c];
}

/** Row t of head h of a [heads, len, d] array, as a fresh float64 vector. */
export function row3(a: ArrayLike<number>, len: number, d: number, h: number, t: number): Float64Array {
  const out = new Float64Array(d);
  for (let c = 0; c < d; c++) out[c] = a[(h * len + t) * d + c];
  return out;
}
