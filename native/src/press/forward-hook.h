#pragma once
// The glue between the layer-major forward pass (model/forward.cc) and the press pipeline. With a press
// active, the forward calls, for each layer l of an eval of n tokens starting at `first_position`:
//   hook.before_layer(l, residual_rows_of_the_n_tokens, n);   // before the layer's first chunk
//   ... the layer's attention + FFN over every chunk ...
//   hook.after_layer(cache, l, n, first_position);              // its on_layer_done
// and hook.after_all_layers(cache) after the last layer. A prefill hook compresses each layer as it
// completes (cross-layer presses at the end, or after the reconstruction passes: press/context-prefill.h);
// a reconstruction hook hands each layer of a pass to the press's score_pass; a decode hook lets decoding
// presses act.
#include <vector>

#include "core/thread-pool.h"
#include "kv/paged-kv-cache.h"
#include "model/forward.h"
#include "model/weights.h"
#include "press/loaded-model-access.h"
#include "press/pipeline.h"

namespace presskv::press {

class ForwardPressHook final : public LayerHook {
 public:
  // prefill: this eval is the context's prefill (the pipeline starts over; n_context validated first).
  ForwardPressHook(PressPipeline& pipeline, const LoadedModel& model, ThreadPool& pool, bool prefill, int32_t n_tokens);
  // The hook of reconstruction pass `pass` (PressPipeline::plan_reconstruction).
  struct ReconstructionPassIndex {
    int32_t pass;
  };
  ForwardPressHook(PressPipeline& pipeline, const LoadedModel& model, ThreadPool& pool, ReconstructionPassIndex pass);
  bool active() const { return prefill_ || pass_ >= 0 || pipeline_.acts_during_decoding(); }
  void before_layer(int32_t layer, const float* residual, int32_t n) override;
  void after_layer(PagedKvCache& cache, int32_t layer, int32_t n, int32_t first_position) override;
  void after_all_layers(PagedKvCache& cache) override;
  // Layers the forward reported so far (0 after an eval means the forward does not call the hook).
  int32_t layers_seen() const { return layers_seen_; }

 private:
  PressPipeline& pipeline_;
  const LoadedModel& model_;
  LoadedModelAccess access_;
  bool prefill_;
  int32_t pass_ = -1;
  std::vector<float> x_;  // X of the current layer: [n, hidden]
  int32_t layers_seen_ = 0;
};

}  // namespace presskv::press
