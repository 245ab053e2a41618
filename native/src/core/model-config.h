#pragma once
// The normalised model configuration every layer of the engine reads (the KV cache sizes itself from
// it, the forward pass and the presses run by it). The TypeScript loader fills it from GGUF metadata
// or config.json; model/model-spec.h adds the tensor table.
#include <cstdint>
#include <string>

namespace presskv {

enum class RopeStyle : int32_t {
  Interleaved = 0,  // rotate adjacent pairs (x0,x1),(x2,x3)...: llama.cpp's NORM mode, GGUF "llama" files
  HalfSplit = 1,    // rotate (x_i, x_{i+d/2}): HF's rotate_half, llama.cpp's NEOX mode (qwen2/3, all HF dirs)
};

struct RopeScaling {
  std::string type;  // "" (none), "linear" or "llama3"
  float factor = 1.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int32_t original_max_position = 8192;
};

struct ModelConfig {
  std::string arch;  // llama | mistral | qwen2 | qwen3
  int32_t n_layers = 0;
  int32_t hidden = 0;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t ffn = 0;
  int32_t vocab = 0;
  int32_t context_length = 0;
  float rms_eps = 1e-5f;
  float rope_theta = 10000.0f;
  int32_t rope_dim = 0;  // rotated dims per head (== head_dim for every supported arch)
  RopeStyle rope_style = RopeStyle::HalfSplit;
  RopeScaling rope_scaling;
  bool qkv_bias = false;         // qwen2
  bool qk_norm = false;          // qwen3
  bool tied_embeddings = false;  // no output.weight: logits use token_embd.weight
};

}  // namespace presskv
