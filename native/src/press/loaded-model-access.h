#pragma once
// ModelAccess over a loaded model's weights (the forward's view of the model), for the press pipeline
// during a real prefill. Queries / keys are recomputed exactly as the forward computes them (projection,
// bias, qwen3 q/k norm), without RoPE.
#include <vector>

#include "core/thread-pool.h"
#include "model/weights.h"
#include "press/press.h"

namespace presskv::press {

class LoadedModelAccess : public ModelAccess {
 public:
  LoadedModelAccess(const LoadedModel& model, ThreadPool& pool);
  const ModelConfig& config() const override { return model_.config(); }
  void prerope_queries(int32_t layer, const float* x, int32_t rows, float* out) const override;
  void prerope_keys(int32_t layer, const float* x, int32_t rows, float* out) const override;
  bool has_output_projection(int32_t layer) const override;
  void output_projection(int32_t layer, int32_t head, float* out) const override;
  void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn) const override {
    pool_.parallel_for(n, fn);
  }

 private:
  void project(const WeightMatrix& w, const std::vector<float>& bias, const std::vector<float>& norm, int32_t heads,
               const float* x, int32_t rows, float* out) const;
  const LoadedModel& model_;
  ThreadPool& pool_;
  // W_O of the last layer asked for, as f32 [hidden, H·d] (presses ask head by head).
  mutable int32_t wo_layer_ = -1;
  mutable std::vector<float> wo_;
};

}  // namespace presskv::press
