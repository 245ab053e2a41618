// The model shapes make-model can produce: tiny ones for fast tests (one per architecture, each with that
// architecture's distinguishing features switched on) and the real dimensions of small published models
// for benchmarks. Features that belong to an architecture (qkv bias, q/k norm, llama3 rope scaling)
// follow the architecture; dimensions follow the shape.
import type { Architecture, ModelConfig, RopeScaling } from '../model-spec.js';

export type ShapeName = 'tiny' | 'stories' | 'qwen3-0.6b' | 'llama-3.2-1b';
export const SHAPE_NAMES: readonly ShapeName[] = ['tiny', 'stories', 'qwen3-0.6b', 'llama-3.2-1b'];

/** What a shape fixes; the architecture decides the rest of the ModelConfig. */
type Dimensions = Pick<
  ModelConfig,
  'nLayers' | 'hidden' | 'nHeads' | 'nKvHeads' | 'headDim' | 'ffn' | 'vocab' | 'contextLength' | 'ropeTheta' | 'rmsEps' | 'tiedEmbeddings' | 'ropeScaling'
>;

const NO_SCALING: RopeScaling = { type: '', factor: 1, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 8192 };

/**
 * Tiny shapes differ per architecture so the parity tests cover GQA, head_dim ≠ hidden/heads,
 * tied and untied outputs, both rope scalings and the usual rope thetas and epsilons.
 */
const TINY: Record<Architecture, Dimensions> = {
  llama: {
    nLayers: 3, hidden: 64, nHeads: 4, nKvHeads: 2, headDim: 16, ffn: 128, vocab: 512, contextLength: 2048,
    ropeTheta: 500000, rmsEps: 1e-5, tiedEmbeddings: true,
    // original 2048 / factors 1 and 4 put this head_dim's frequencies in all three llama3 bands.
    ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 2048 },
  },
  mistral: {
    nLayers: 2, hidden: 64, nHeads: 4, nKvHeads: 1, headDim: 16, ffn: 160, vocab: 448, contextLength: 2048,
    ropeTheta: 1e6, rmsEps: 1e-5, tiedEmbeddings: false,
    ropeScaling: { ...NO_SCALING, type: 'linear', factor: 2 },
  },
  qwen2: {
    nLayers: 2, hidden: 64, nHeads: 4, nKvHeads: 2, headDim: 16, ffn: 128, vocab: 512, contextLength: 2048,
    ropeTheta: 1e6, rmsEps: 1e-6, tiedEmbeddings: false, ropeScaling: NO_SCALING,
  },
  qwen3: {
    nLayers: 3, hidden: 64, nHeads: 4, nKvHeads: 2, headDim: 32, ffn: 128, vocab: 576, contextLength: 2048,
    ropeTheta: 1e6, rmsEps: 1e-6, tiedEmbeddings: true, ropeScaling: NO_SCALING,
  },
};

const LLAMA3_SCALING: RopeScaling = { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 8192 };

const REAL: Record<Exclude<ShapeName, 'tiny'>, Dimensions> = {
  // karpathy's stories260K (llama2.c TinyStories), as in ../shared/models/stories260K.gguf.
  stories: {
    nLayers: 5, hidden: 64, nHeads: 8, nKvHeads: 4, headDim: 8, ffn: 172, vocab: 512, contextLength: 2048,
    ropeTheta: 10000, rmsEps: 1e-5, tiedEmbeddings: false, ropeScaling: NO_SCALING,
  },
  'qwen3-0.6b': {
    nLayers: 28, hidden: 1024, nHeads: 16, nKvHeads: 8, headDim: 128, ffn: 3072, vocab: 151936, contextLength: 40960,
    ropeTheta: 1e6, rmsEps: 1e-6, tiedEmbeddings: true, ropeScaling: NO_SCALING,
  },
  'llama-3.2-1b': {
    nLayers: 16, hidden: 2048, nHeads: 32, nKvHeads: 8, headDim: 64, ffn: 8192, vocab: 128256, contextLength: 131072,
    ropeTheta: 500000, rmsEps: 1e-5, tiedEmbeddings: true, ropeScaling: LLAMA3_SCALING,
  },
};

/** The config a shape has for an architecture, in HF conventions (half-split rope); writers adjust ropeStyle. */
export function configFor(arch: Architecture, shape: ShapeName): ModelConfig {
  const dims = shape === 'tiny' ? TINY[arch] : REAL[shape];
  // Real shapes only keep llama3 scaling on llama: the other architectures never use it.
  const ropeScaling = shape !== 'tiny' && arch !== 'llama' ? NO_SCALING : dims.ropeScaling;
  return {
    arch,
    nLayers: dims.nLayers,
    hidden: dims.hidden,
    nHeads: dims.nHeads,
    nKvHeads: dims.nKvHeads,
    headDim: dims.headDim,
    ffn: dims.ffn,
    vocab: dims.vocab,
    contextLength: dims.contextLength,
    rmsEps: dims.rmsEps,
    ropeTheta: dims.ropeTheta,
    ropeDim: dims.headDim,
    ropeStyle: 'half-split',
    ropeScaling: { ...ropeScaling },
    qkvBias: arch === 'qwen2',
    qkNorm: arch === 'qwen3',
    tiedEmbeddings: dims.tiedEmbeddings,
  };
}
