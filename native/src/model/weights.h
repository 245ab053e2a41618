#pragma once
// The loaded form of a model that the forward pass reads: views into the mapped files for the big
// matrices, f32 copies of the small norm / bias vectors. Model::load returns a LoadedModel.
#include <cstdint>
#include <memory>
#include <vector>

#include "core/dtype.h"
#include "core/mmap-file.h"
#include "model/model.h"

namespace presskv {

// A row-major [rows, cols] matrix inside a mapped file.
struct WeightMatrix {
  const void* data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
};

struct LayerWeights {
  std::vector<float> attn_norm, ffn_norm;
  std::vector<float> q_norm, k_norm;          // qk_norm (qwen3): [head_dim]
  std::vector<float> q_bias, k_bias, v_bias;  // qkv_bias (qwen2)
  WeightMatrix q, k, v, o, gate, up, down;
};

struct ModelWeights {
  WeightMatrix token_embd;
  WeightMatrix output;  // == token_embd when embeddings are tied
  std::vector<float> output_norm;
  std::vector<LayerWeights> layers;
};

class LoadedModel : public Model {
 public:
  virtual const ModelWeights& weights() const = 0;
  // RoPE inverse frequencies (rope_dim / 2 of them) with the config's scaling applied.
  virtual const std::vector<double>& rope_inv_freq() const = 0;
};

// The LoadedModel behind a Model (every Model comes from Model::load); throws Internal otherwise.
const LoadedModel& loaded(const Model& model);

}  // namespace presskv
