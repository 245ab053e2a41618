// The normalised description of a model that the TypeScript loader builds from a GGUF file or an HF
// directory and hands to the native engine (mirrors native/src/model/model-spec.h).

export type WeightDType = 'f32' | 'f16' | 'bf16';
export const DTYPE_CODES: Record<WeightDType, number> = { f32: 0, f16: 1, bf16: 2 };

export type Architecture = 'llama' | 'mistral' | 'qwen2' | 'qwen3';
export const SUPPORTED_ARCHITECTURES: readonly Architecture[] = ['llama', 'mistral', 'qwen2', 'qwen3'];

export interface RopeScaling {
  type: '' | 'linear' | 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPosition: number;
}

export interface ModelConfig {
  arch: Architecture;
  nLayers: number;
  hidden: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  ffn: number;
  vocab: number;
  contextLength: number;
  rmsEps: number;
  ropeTheta: number;
  ropeDim: number;
  /** 'interleaved' = llama.cpp NORM (GGUF llama files); 'half-split' = HF rotate_half / llama.cpp NEOX. */
  ropeStyle: 'interleaved' | 'half-split';
  ropeScaling: RopeScaling;
  qkvBias: boolean;
  qkNorm: boolean;
  tiedEmbeddings: boolean;
}

/**
 * One tensor inside a memory-mapped file. Names use GGUF's convention whatever the format
 * (token_embd.weight, blk.N.attn_q.weight, ...); shape is row-major, outermost first
 * (a projection is [out, in]).
 */
export interface TensorDesc {
  name: string;
  dtype: WeightDType;
  shape: number[];
  fileIndex: number;
  offset: number;
  nbytes: number;
}

export interface ModelSpec {
  format: 'gguf' | 'hf';
  config: ModelConfig;
  files: string[];
  tensors: TensorDesc[];
}
