#include "press/loaded-model-access.h"

#include "cpu/kernels.h"

namespace presskv::press {

LoadedModelAccess::LoadedModelAccess(const LoadedModel& model, ThreadPool& pool) : model_(model), pool_(pool) {}

void LoadedModelAccess::project(const WeightMatrix& w, const std::vector<float>& bias, const std::vector<float>& norm,
                                int32_t heads, const float* x, int32_t rows, float* out) const {
  const ModelConfig& c = model_.config();
  const int32_t d = c.head_dim, width = heads * d;
  std::vector<float> y((size_t)rows * width);
  cpu::matmul(pool_, x, rows, c.hidden, w.data, w.dtype, w.rows, w.cols, y.data(), width);
  for (int32_t r = 0; r < rows; ++r) {
    float* row = y.data() + (size_t)r * width;
    if (!bias.empty())
      for (int32_t j = 0; j < width; ++j) row[j] += bias[j];
    if (!norm.empty())
      for (int32_t h = 0; h < heads; ++h) cpu::rmsnorm(row + h * d, norm.data(), row + h * d, d, c.rms_eps);
    for (int32_t h = 0; h < heads; ++h)
      std::copy(row + h * d, row + (h + 1) * d, out + ((size_t)h * rows + r) * d);
  }
}

void LoadedModelAccess::prerope_queries(int32_t layer, const float* x, int32_t rows, float* out) const {
  const LayerWeights& L = model_.weights().layers.at(layer);
  project(L.q, L.q_bias, model_.config().qk_norm ? L.q_norm : std::vector<float>(), model_.config().n_heads, x, rows, out);
}

void LoadedModelAccess::prerope_keys(int32_t layer, const float* x, int32_t rows, float* out) const {
  const LayerWeights& L = model_.weights().layers.at(layer);
  project(L.k, L.k_bias, model_.config().qk_norm ? L.k_norm : std::vector<float>(), model_.config().n_kv_heads, x, rows, out);
}

bool LoadedModelAccess::has_output_projection(int32_t layer) const {
  return layer >= 0 && layer < (int32_t)model_.weights().layers.size() && model_.weights().layers[layer].o.data != nullptr;
}

void LoadedModelAccess::output_projection(int32_t layer, int32_t head, float* out) const {
  const WeightMatrix& o = model_.weights().layers.at(layer).o;
  const int32_t d = model_.config().head_dim;
  if (wo_layer_ != layer) {
    wo_.resize((size_t)o.rows * o.cols);
    cpu::to_f32(o.data, o.dtype, o.rows * o.cols, wo_.data());
    wo_layer_ = layer;
  }
  for (int32_t c = 0; c < d; ++c)
    for (int64_t r = 0; r < o.rows; ++r) out[(size_t)c * o.rows + r] = wo_[(size_t)r * o.cols + head * d + c];
}

}  // namespace presskv::press
