#pragma once
// What the TypeScript loader hands to the engine: a normalised config and a table of tensors that
// live in memory-mapped files. TS parses file headers (GGUF metadata, safetensors JSON, config.json);
// native code re-checks every offset and size against the mapped files before trusting them.
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/model-config.h"

namespace presskv {

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
