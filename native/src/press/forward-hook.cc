#include "press/forward-hook.h"

#include "cpu/kernels.h"
#include "press/paged-cache-access.h"

namespace presskv::press {

ForwardPressHook::ForwardPressHook(PressPipeline& pipeline, const LoadedModel& model, ThreadPool& pool, bool prefill,
                                   int32_t n_tokens)
    : pipeline_(pipeline), model_(model), access_(model, pool), prefill_(prefill) {
  if (prefill_) pipeline_.begin_prefill(n_tokens);
}

ForwardPressHook::ForwardPressHook(PressPipeline& pipeline, const LoadedModel& model, ThreadPool& pool,
                                   ReconstructionPassIndex pass)
    : pipeline_(pipeline), model_(model), access_(model, pool), prefill_(false), pass_(pass.pass) {}

void ForwardPressHook::before_layer(int32_t layer, const float* residual, int32_t n) {
  if (!active()) return;
  const ModelConfig& c = model_.config();
  const std::vector<float>& norm = model_.weights().layers.at(layer).attn_norm;
  x_.resize((size_t)n * c.hidden);
  for (int32_t i = 0; i < n; ++i)
    cpu::rmsnorm(residual + (size_t)i * c.hidden, norm.data(), x_.data() + (size_t)i * c.hidden, c.hidden, c.rms_eps);
}

void ForwardPressHook::after_layer(PagedKvCache& cache, int32_t layer, int32_t n, int32_t first_position) {
  ++layers_seen_;
  if (!active()) return;
  PagedCacheAccess access(cache);
  if (prefill_) pipeline_.after_layer(layer, x_.data(), n, first_position, access, access_);
  else if (pass_ >= 0) pipeline_.after_pass_layer(pass_, layer, x_.data(), n, first_position, access, access_);
  else pipeline_.after_decode_layer(layer, x_.data(), n, first_position, access, access_);
}

void ForwardPressHook::after_all_layers(PagedKvCache& cache) {
  // A reconstructing press decides after its passes (press/context-prefill.cc).
  if (!prefill_ || pipeline_.reconstructs()) return;
  PagedCacheAccess access(cache);
  pipeline_.finish_prefill(access, access_);
}

}  // namespace presskv::press
