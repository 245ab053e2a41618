// A plain reference forward pass for every architecture presskv runs (llama, mistral, qwen2, qwen3):
// float64 arithmetic, straightforward loops, full causal attention over a growing list of keys and
// values. Slow and obviously correct; the parity tests compare the native engine against it.
import type { ModelConfig, ModelSpec } from '../../engine/model-spec.js';
import { readModelFiles } from '../../engine/model-files.js';
import { readTensor } from './read-tensor.js';

interface LayerWeights {
  attnNorm: Float32Array;
  wq: Float32Array;
  wk: Float32Array;
  wv: Float32Array;
  bq?: Float32Array;
  bk?: Float32Array;
  bv?: Float32Array;
  qNorm?: Float32Array;
  kNorm?: Float32Array;
  wo: Float32Array;
  ffnNorm: Float32Array;
  wGate: Float32Array;
  wUp: Float32Array;
  wDown: Float32Array;
}

/** Per-sequence state: every past position's keys and values, per layer. */
export interface ReferenceState {
  position: number;
  keys: Float64Array[][];
  values: Float64Array[][];
}

/** y = W x for W stored row-major as [rows, cols]. */
function matVec(w: Float32Array, x: Float64Array, rows: number, cols: number, bias?: Float32Array): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    const base = r * cols;
    for (let c = 0; c < cols; c++) sum += w[base + c] * x[c];
    y[r] = bias ? sum + bias[r] : sum;
  }
  return y;
}

function rmsNorm(x: Float64Array, weight: Float32Array, eps: number): Float64Array {
  let sumSquares = 0;
  for (const v of x) sumSquares += v * v;
  const scale = 1 / Math.sqrt(sumSquares / x.length + eps);
  return x.map((v, i) => v * scale * weight[i]);
}

/** HF's llama3 inverse-frequency adjustment, written from the formula rather than from GGUF's rope_freqs. */
function llama3InverseFrequency(invFreq: number, s: ModelConfig['ropeScaling']): number {
  const wavelength = (2 * Math.PI) / invFreq;
  const lowFreqWavelength = s.originalMaxPosition / s.lowFreqFactor;
  const highFreqWavelength = s.originalMaxPosition / s.highFreqFactor;
  if (wavelength < highFreqWavelength) return invFreq;
  if (wavelength > lowFreqWavelength) return invFreq / s.factor;
  const smooth = (s.originalMaxPosition / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
  return (1 - smooth) * (invFreq / s.factor) + smooth * invFreq;
}

export class ReferenceForward {
  readonly config: ModelConfig;
  private readonly embedding: Float32Array;
  private readonly output: Float32Array;
  private readonly outputNorm: Float32Array;
  private readonly layers: LayerWeights[];
  /** Angle per unit position for each rotated pair. */
  private readonly inverseFrequencies: Float64Array;
  /** Sees each layer's query rows before RoPE (after bias and q-norm), [nHeads·headDim], as step() computes them. */
  preRopeQueryObserver?: (layer: number, position: number, queries: Float64Array) => void;

  constructor(spec: ModelSpec) {
    const c = spec.config;
    this.config = c;
    const byName = new Map(spec.tensors.map((t) => [t.name, t]));
    const load = (name: string): Float32Array => {
      const desc = byName.get(name);
      if (!desc) throw new Error(`reference forward: tensor ${name} missing`);
      return readTensor(spec, desc);
    };
    const loadOptional = (name: string): Float32Array | undefined => (byName.has(name) ? load(name) : undefined);
    this.embedding = load('token_embd.weight');
    this.output = c.tiedEmbeddings ? this.embedding : load('output.weight');
    this.outputNorm = load('output_norm.weight');
    this.layers = [];
    for (let l = 0; l < c.nLayers; l++) {
      const b = `blk.${l}`;
      this.layers.push({
        attnNorm: load(`${b}.attn_norm.weight`),
        wq: load(`${b}.attn_q.weight`),
        wk: load(`${b}.attn_k.weight`),
        wv: load(`${b}.attn_v.weight`),
        bq: c.qkvBias ? load(`${b}.attn_q.bias`) : undefined,
        bk: c.qkvBias ? load(`${b}.attn_k.bias`) : undefined,
        bv: c.qkvBias ? load(`${b}.attn_v.bias`) : undefined,
        qNorm: c.qkNorm ? load(`${b}.attn_q_norm.weight`) : undefined,
        kNorm: c.qkNorm ? load(`${b}.attn_k_norm.weight`) : undefined,
        wo: load(`${b}.attn_output.weight`),
        ffnNorm: load(`${b}.ffn_norm.weight`),
        wGate: load(`${b}.ffn_gate.weight`),
        wUp: load(`${b}.ffn_up.weight`),
        wDown: load(`${b}.ffn_down.weight`),
      });
    }
    // GGUF llama files carry llama3 scaling as per-frequency divisors (llama.cpp's rope_freqs tensor).
    const ropeFreqs = loadOptional('rope_freqs.weight');
    this.inverseFrequencies = new Float64Array(c.ropeDim / 2);
    for (let i = 0; i < c.ropeDim / 2; i++) {
      let invFreq = Math.pow(c.ropeTheta, (-2 * i) / c.ropeDim);
      if (ropeFreqs) invFreq /= ropeFreqs[i];
      else if (c.ropeScaling.type === 'llama3') invFreq = llama3InverseFrequency(invFreq, c.ropeScaling);
      if (c.ropeScaling.type === 'linear') invFreq /= c.ropeScaling.factor;
      this.inverseFrequencies[i] = invFreq;
    }
  }

  static async load(path: string): Promise<ReferenceForward> {
    return new ReferenceForward((await readModelFiles(path)).spec);
  }

  newState(): ReferenceState {
    return { position: 0, keys: this.layers.map(() => []), values: this.layers.map(() => []) };
  }

  /** Rotates each head of `x` in place for position `pos`, pairing dims by the model's rope style. */
  private rope(x: Float64Array, nHeads: number, pos: number): void {
    const { headDim, ropeDim, ropeStyle } = this.config;
    for (let h = 0; h < nHeads; h++) {
      const base = h * headDim;
      for (let i = 0; i < ropeDim / 2; i++) {
        const angle = pos * this.inverseFrequencies[i];
        const cos = Math.cos(angle);
        const sin = Math.sin(angle);
        const a = ropeStyle === 'interleaved' ? base + 2 * i : base + i;
        const b = ropeStyle === 'interleaved' ? base + 2 * i + 1 : base + i + ropeDim / 2;
        const x0 = x[a];
        const x1 = x[b];
        x[a] = x0 * cos - x1 * sin;
        x[b] = x0 * sin + x1 * cos;
      }
    }
  }

  private headNorm(x: Float64Array, nHeads: number, weight: Float32Array): void {
    const { headDim, rmsEps } = this.config;
    for (let h = 0; h < nHeads; h++) {
      const normed = rmsNorm(x.subarray(h * headDim, (h + 1) * headDim), weight, rmsEps);
      x.set(normed, h * headDim);
    }
  }

  /** Feeds one token at the state's next position and returns the logits that follow it. */
  step(state: ReferenceState, token: number): Float64Array {
    const c = this.config;
    if (!Number.isInteger(token) || token < 0 || token >= c.vocab) throw new Error(`reference forward: token ${token} out of range`);
    const { hidden, nHeads, nKvHeads, headDim, ffn, rmsEps } = c;
    const qDim = nHeads * headDim;
    const kvDim = nKvHeads * headDim;
    const pos = state.position;
    let x = Float64Array.from(this.embedding.subarray(token * hidden, (token + 1) * hidden));
    this.layers.forEach((w, l) => {
      const h = rmsNorm(x, w.attnNorm, rmsEps);
      const q = matVec(w.wq, h, qDim, hidden, w.bq);
      const k = matVec(w.wk, h, kvDim, hidden, w.bk);
      const v = matVec(w.wv, h, kvDim, hidden, w.bv);
      if (w.qNorm && w.kNorm) {
        this.headNorm(q, nHeads, w.qNorm);
        this.headNorm(k, nKvHeads, w.kNorm);
      }
      this.preRopeQueryObserver?.(l, pos, q.slice());
      this.rope(q, nHeads, pos);
      this.rope(k, nKvHeads, pos);
      state.keys[l].push(k);
      state.values[l].push(v);

      const attended = new Float64Array(qDim);
      const groupSize = nHeads / nKvHeads;
      for (let head = 0; head < nHeads; head++) {
        const kvHead = Math.floor(head / groupSize);
        const scores = state.keys[l].map((key) => {
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += q[head * headDim + d] * key[kvHead * headDim + d];
          return dot / Math.sqrt(headDim);
        });
        const max = Math.max(...scores);
        const weights = scores.map((s) => Math.exp(s - max));
        const total = weights.reduce((a, b) => a + b, 0);
        state.values[l].forEach((value, t) => {
          for (let d = 0; d < headDim; d++) attended[head * headDim + d] += (weights[t] / total) * value[kvHead * headDim + d];
        });
      }
      const attnOut = matVec(w.wo, attended, hidden, qDim);
      x = x.map((xi, i) => xi + attnOut[i]);

      const h2 = rmsNorm(x, w.ffnNorm, rmsEps);
      const gate = matVec(w.wGate, h2, ffn, hidden);
      const up = matVec(w.wUp, h2, ffn, hidden);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = matVec(w.wDown, act, hidden, ffn);
      x = x.map((xi, i) => xi + down[i]);
    });
    state.position++;
    return matVec(this.output, rmsNorm(x, this.outputNorm, rmsEps), c.vocab, hidden);
  }

  /** Logits after every token of the sequence (row t = prediction for position t + 1). */
  logitsAll(tokens: readonly number[]): Float64Array[] {
    const state = this.newState();
    return tokens.map((t) => this.step(state, t));
  }

  /** Greedy continuation: `steps` argmax tokens after the prompt. */
  greedy(prompt: readonly number[], steps: number): number[] {
    const state = this.newState();
    let logits: Float64Array | undefined;
    for (const t of prompt) logits = this.step(state, t);
    const generated: number[] = [];
    for (let s = 0; s < steps && logits; s++) {
      const next = argmax(logits);
      generated.push(next);
      if (s + 1 < steps) logits = this.step(state, next);
    }
    return generated;
  }
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
