#pragma once
// What the TypeScript loader hands to the engine: a normalised config and a table of tensors that
// live in memory-mapped files. TS parses file headers (GGUF metadata, safetensors JSON, config.json);
// native code re-checks every offset and size against the mapped files before trusting them.
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

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

// Tensor names follow GGUF's convention whatever the file format: token_embd.weight, output_norm.weight,
// output.weight, blk.N.{attn_norm,attn_q,attn_k,attn_v,attn_output,attn_q_norm,attn_k_norm,
// ffn_norm,ffn_gate,ffn_up,ffn_down}.weight and blk.N.attn_{q,k,v}.bias. Optional: rope_freqs.weight
// [rope_dim / 2] (GGUF llama3 scaling as per-frequency divisors of theta_i, as llama.cpp applies them).
// shape is row-major, outermost first (PyTorch order): a projection is [out_features, in_features].
struct TensorDesc {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  int32_t file_index = 0;  // index into ModelSpec::files
  uint64_t offset = 0;     // absolute byte offset in that file
  uint64_t nbytes = 0;
};

struct ModelSpec {
  ModelConfig config;
  std::vector<std::string> files;
  std::vector<TensorDesc> tensors;
};

}  // namespace presskv
