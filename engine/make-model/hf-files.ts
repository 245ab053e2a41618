// The JSON files of a Hugging Face model directory (config.json, tokenizer.json, tokenizer_config.json,
// generation_config.json) for a synthetic model, with the fields transformers and tokenizers read.
import type { ModelConfig, WeightDType } from '../model-spec.js';
import type { SyntheticTokenizer } from './synthetic-tokenizer.js';

const TORCH_DTYPE: Record<WeightDType, string> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };
const HF_ARCHITECTURE = { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' };

function ropeScalingJson(config: ModelConfig): Record<string, unknown> | null {
  const s = config.ropeScaling;
  if (s.type === 'llama3') {
    return {
      rope_type: 'llama3',
      factor: s.factor,
      low_freq_factor: s.lowFreqFactor,
      high_freq_factor: s.highFreqFactor,
      original_max_position_embeddings: s.originalMaxPosition,
    };
  }
  if (s.type === 'linear') return { rope_type: 'linear', type: 'linear', factor: s.factor };
  return null;
}

export function configJson(config: ModelConfig, dtype: WeightDType, tokenizer: SyntheticTokenizer): Record<string, unknown> {
  const json: Record<string, unknown> = {
    architectures: [HF_ARCHITECTURE[config.arch]],
    model_type: config.arch,
    vocab_size: config.vocab,
    hidden_size: config.hidden,
    intermediate_size: config.ffn,
    num_hidden_layers: config.nLayers,
    num_attention_heads: config.nHeads,
    num_key_value_heads: config.nKvHeads,
    head_dim: config.headDim,
    hidden_act: 'silu',
    max_position_embeddings: config.contextLength,
    rms_norm_eps: config.rmsEps,
    rope_theta: config.ropeTheta,
    rope_scaling: ropeScalingJson(config),
    tie_word_embeddings: config.tiedEmbeddings,
    attention_bias: config.qkvBias,
    attention_dropout: 0,
    initializer_range: 0.02,
    use_cache: true,
    torch_dtype: TORCH_DTYPE[dtype],
    bos_token_id: tokenizer.bosId ?? null,
    eos_token_id: tokenizer.eosId,
  };
  if (config.arch === 'llama') Object.assign(json, { mlp_bias: false, pretraining_tp: 1 });
  if (config.arch === 'mistral') json.sliding_window = null;
  if (config.arch === 'qwen2' || config.arch === 'qwen3') {
    Object.assign(json, { use_sliding_window: false, sliding_window: null, max_window_layers: config.nLayers });
  }
  return json;
}

export function generationConfigJson(tokenizer: SyntheticTokenizer): Record<string, unknown> {
  const json: Record<string, unknown> = { eos_token_id: tokenizer.eosIds, pad_token_id: tokenizer.padId };
  if (tokenizer.bosId !== undefined) json.bos_token_id = tokenizer.bosId;
  return json;
}

/** tokenizer.json: byte-level BPE with the family's Split regex, specials as added tokens. */
export function tokenizerJson(tokenizer: SyntheticTokenizer): Record<string, unknown> {
  const byteLevel = { add_prefix_space: false, trim_offsets: false, use_regex: false };
  const specials = new Set(tokenizer.specials.map((s) => s.id));
  const vocab: Record<string, number> = {};
  tokenizer.tokens.forEach((token, id) => {
    if (!specials.has(id)) vocab[token] = id;
  });
  let postProcessor: Record<string, unknown> = { type: 'ByteLevel', ...byteLevel };
  if (tokenizer.addBos && tokenizer.bosId !== undefined) {
    const bos = tokenizer.tokens[tokenizer.bosId];
    postProcessor = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [bos]: { id: bos, ids: [tokenizer.bosId], tokens: [bos] } },
    };
  }
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: tokenizer.specials.map((s) => ({
      id: s.id, content: s.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: s.special,
    })),
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: tokenizer.splitPattern }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', ...byteLevel },
      ],
    },
    post_processor: postProcessor,
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: tokenizer.merges,
    },
  };
}

export function tokenizerConfigJson(tokenizer: SyntheticTokenizer, chatTemplate: string, contextLength: number): Record<string, unknown> {
  const text = (id: number | undefined): string | null => (id === undefined ? null : tokenizer.tokens[id]);
  const addedTokensDecoder: Record<string, unknown> = {};
  for (const s of tokenizer.specials) {
    addedTokensDecoder[String(s.id)] = { content: s.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: s.special };
  }
  return {
    add_bos_token: tokenizer.addBos,
    add_eos_token: false,
    added_tokens_decoder: addedTokensDecoder,
    bos_token: text(tokenizer.bosId),
    eos_token: text(tokenizer.eosId),
    pad_token: text(tokenizer.padId),
    unk_token: null,
    chat_template: chatTemplate,
    clean_up_tokenization_spaces: false,
    model_max_length: contextLength,
    tokenizer_class: tokenizer.family === 'qwen' ? 'Qwen2Tokenizer' : 'PreTrainedTokenizerFast',
  };
}
