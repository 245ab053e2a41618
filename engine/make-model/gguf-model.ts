// A synthetic model as one GGUF file laid out the way llama.cpp's converter writes it, so llama.cpp
// loads it: llama.cpp metadata keys, GGUF tensor names, F32 norms, rope_freqs for llama3 scaling,
// and the byte-level BPE vocabulary embedded as a "gpt2" tokenizer.
import type { ModelConfig, TensorDesc, WeightDType } from '../model-spec.js';
import { GgmlType, GgufValueType } from '../gguf.js';
import { writeGguf, type GgufMetadataValue, type GgufTensorToWrite } from './gguf-writer.js';
import { progressTracker, type ProgressCallback } from './progress.js';
import { llama3FrequencyDivisors } from './rope-freqs.js';
import type { SyntheticTokenizer } from './synthetic-tokenizer.js';
import { elementCount, type PlannedTensor } from './tensor-plan.js';
import { BYTES_PER_ELEMENT, makeChunkBuffer, tensorChunks } from './tensor-values.js';

const GGML_TYPE_OF: Record<WeightDType, GgmlType.F32 | GgmlType.F16 | GgmlType.BF16> = {
  f32: GgmlType.F32,
  f16: GgmlType.F16,
  bf16: GgmlType.BF16,
};
// llama_ftype: ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_BF16 = 32.
const FILE_TYPE: Record<WeightDType, number> = { f32: 0, f16: 1, bf16: 32 };
// llama.cpp's token types.
const TOKEN_NORMAL = 1;
const TOKEN_CONTROL = 3;
const TOKEN_USER_DEFINED = 4;

/** llama.cpp has no "mistral" architecture: its converter writes Mistral checkpoints as "llama". */
export function ggufArchitecture(config: ModelConfig): string {
  return config.arch === 'mistral' ? 'llama' : config.arch;
}

const str = (value: string): GgufMetadataValue => ({ type: GgufValueType.STRING, value });
const u32 = (value: number): GgufMetadataValue => ({ type: GgufValueType.UINT32, value });
const f32 = (value: number): GgufMetadataValue => ({ type: GgufValueType.FLOAT32, value });
const bool = (value: boolean): GgufMetadataValue => ({ type: GgufValueType.BOOL, value });

function metadataFor(config: ModelConfig, dtype: WeightDType, name: string, tokenizer: SyntheticTokenizer, chatTemplate: string): Array<[string, GgufMetadataValue]> {
  const arch = ggufArchitecture(config);
  const entries: Array<[string, GgufMetadataValue]> = [
    ['general.architecture', str(arch)],
    ['general.name', str(name)],
    ['general.alignment', u32(32)],
    ['general.file_type', u32(FILE_TYPE[dtype])],
    [`${arch}.vocab_size`, u32(config.vocab)],
    [`${arch}.context_length`, u32(config.contextLength)],
    [`${arch}.embedding_length`, u32(config.hidden)],
    [`${arch}.block_count`, u32(config.nLayers)],
    [`${arch}.feed_forward_length`, u32(config.ffn)],
    [`${arch}.attention.head_count`, u32(config.nHeads)],
    [`${arch}.attention.head_count_kv`, u32(config.nKvHeads)],
    [`${arch}.attention.key_length`, u32(config.headDim)],
    [`${arch}.attention.value_length`, u32(config.headDim)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(config.rmsEps)],
    [`${arch}.rope.freq_base`, f32(config.ropeTheta)],
    [`${arch}.rope.dimension_count`, u32(config.ropeDim)],
  ];
  // llama3 scaling travels as the rope_freqs tensor: llama.cpp rejects "llama3" as a scaling type key.
  if (config.ropeScaling.type === 'linear') {
    entries.push([`${arch}.rope.scaling.type`, str('linear')], [`${arch}.rope.scaling.factor`, f32(config.ropeScaling.factor)]);
  }
  const specialById = new Map(tokenizer.specials.map((s) => [s.id, s]));
  const tokenTypes = tokenizer.tokens.map((_, id) => {
    const special = specialById.get(id);
    if (!special) return TOKEN_NORMAL;
    return special.special ? TOKEN_CONTROL : TOKEN_USER_DEFINED;
  });
  entries.push(
    ['tokenizer.ggml.model', str('gpt2')],
    ['tokenizer.ggml.pre', str(tokenizer.ggufPre)],
    ['tokenizer.ggml.tokens', { type: GgufValueType.ARRAY, elementType: GgufValueType.STRING, value: tokenizer.tokens }],
    ['tokenizer.ggml.token_type', { type: GgufValueType.ARRAY, elementType: GgufValueType.INT32, value: tokenTypes }],
    ['tokenizer.ggml.merges', { type: GgufValueType.ARRAY, elementType: GgufValueType.STRING, value: tokenizer.merges.map(([a, b]) => `${a} ${b}`) }],
    // Qwen's GGUFs name <|endoftext|> as BOS even though they never add it; llama.cpp wants some BOS id.
    ['tokenizer.ggml.bos_token_id', u32(tokenizer.bosId ?? tokenizer.padId)],
    ['tokenizer.ggml.eos_token_id', u32(tokenizer.eosId)],
    ['tokenizer.ggml.padding_token_id', u32(tokenizer.padId)],
    ['tokenizer.ggml.add_bos_token', bool(tokenizer.addBos)],
    ['tokenizer.chat_template', str(chatTemplate)],
  );
  return entries;
}

export async function writeGgufModel(
  path: string,
  config: ModelConfig,
  plan: readonly PlannedTensor[],
  options: { dtype: WeightDType; seed: number; name: string; tokenizer: SyntheticTokenizer; chatTemplate: string; onProgress?: ProgressCallback },
): Promise<TensorDesc[]> {
  const buffer = makeChunkBuffer();
  const tensors: Array<GgufTensorToWrite & { dtype: WeightDType }> = plan.map((t) => {
    // Norms and biases stay F32 as llama.cpp's converter keeps 1-D tensors.
    const dtype: WeightDType = t.shape.length === 1 ? 'f32' : options.dtype;
    return {
      name: t.name,
      shape: t.shape,
      dtype,
      type: GGML_TYPE_OF[dtype],
      nbytes: elementCount(t.shape) * BYTES_PER_ELEMENT[dtype],
      chunks: () => tensorChunks(t, dtype, options.seed, buffer),
    };
  });
  if (config.ropeScaling.type === 'llama3') {
    const divisors = llama3FrequencyDivisors(config.ropeDim, config.ropeTheta, config.ropeScaling);
    tensors.unshift({
      name: 'rope_freqs.weight',
      shape: [divisors.length],
      dtype: 'f32',
      type: GgmlType.F32,
      nbytes: divisors.byteLength,
      chunks: () => [new Uint8Array(divisors.buffer)],
    });
  }
  const track = progressTracker(tensors.reduce((sum, t) => sum + t.nbytes, 0), options.onProgress);
  const tracked = tensors.map((t) => ({ ...t, chunks: () => track(t.name, t.chunks()) }));
  const written = await writeGguf(path, metadataFor(config, options.dtype, options.name, options.tokenizer, options.chatTemplate), tracked);
  return tensors.map((t, i) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape], fileIndex: 0, offset: written[i].offset, nbytes: t.nbytes }));
}
