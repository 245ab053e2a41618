#include "press/context-prefill.h"

#include <algorithm>
#include <climits>
#include <memory>
#include <string>

#include "core/errors.h"
#include "kv/paged-kv-cache.h"
#include "press/forward-hook.h"
#include "press/loaded-model-access.h"
#include "press/paged-cache-access.h"

namespace presskv::press {
namespace {

// Re-rotated keys sit at positions 0..kept−1 of their head: the next token follows the longest head.
void continue_after_rerotated_keys(KvCache& cache) {
  const PagedKvCache& heads = paged(cache);
  int32_t longest = 0;
  for (int32_t l = 0; l < heads.n_layers(); ++l)
    for (int32_t h = 0; h < heads.n_kv_heads(); ++h) longest = std::max(longest, heads.length(l, h));
  cache.truncate(longest);
}

// Reports each completed layer, then hands the layer to the press hook (if any) unchanged.
class ProgressHook final : public LayerHook {
 public:
  ProgressHook(LayerHook* inner, const LayerProgress& report, int64_t& done, int64_t total)
      : inner_(inner), report_(report), done_(done), total_(total) {}
  void before_layer(int32_t layer, const float* residual, int32_t n) override {
    if (inner_) inner_->before_layer(layer, residual, n);
  }
  void after_layer(PagedKvCache& cache, int32_t layer, int32_t n, int32_t first_position) override {
    if (inner_) inner_->after_layer(cache, layer, n, first_position);
    report_(++done_, total_);
  }
  void after_all_layers(PagedKvCache& cache) override {
    if (inner_) inner_->after_all_layers(cache);
  }

 private:
  LayerHook* inner_;
  const LayerProgress& report_;
  int64_t& done_;
  int64_t total_;
};

}  // namespace

void prefill_context(Forward& forward, KvCache& cache, const std::vector<int32_t>& tokens, EvalOptions options,
                     PressPipeline* pipeline, const LoadedModel& model, ThreadPool& pool, std::vector<float>& logits,
                     const LayerProgress& progress) {
  const int32_t n = (int32_t)tokens.size(), start = cache.next_position();
  std::unique_ptr<ForwardPressHook> hook;
  std::vector<ReconstructionPass> passes;
  size_t longest_pass = 0;
  if (pipeline) {
    hook = std::make_unique<ForwardPressHook>(*pipeline, model, pool, true, n);  // begins the prefill
    passes = pipeline->plan_reconstruction(tokens);
    for (const ReconstructionPass& p : passes) longest_pass = std::max(longest_pass, p.tokens.size());
    options.press_hook = hook.get();
  }
  // The context itself must fit the window; the reconstruction passes only visit positions after it and
  // are cut off again, so (as kvpress, which runs them at whatever positions follow) they may go past it.
  if ((int64_t)start + n > cache.max_tokens())
    throw EngineError(ErrorCode::ContextOverflow, "context overflow: " + std::to_string(start) + " positions in the cache + " +
                                                      std::to_string(n) + " context tokens exceed the context window of " +
                                                      std::to_string(cache.max_tokens()));
  const int64_t n_layers = paged(cache).n_layers();
  const int64_t total_layers = n_layers * (1 + (int64_t)passes.size());
  int64_t layers_done = 0;
  std::unique_ptr<ProgressHook> progress_hook;
  if (progress) {
    progress_hook = std::make_unique<ProgressHook>(options.press_hook, progress, layers_done, total_layers);
    options.press_hook = progress_hook.get();
  }
  forward.eval(cache, tokens.data(), n, options, logits);
  if (hook && hook->layers_seen() == 0)
    throw EngineError(ErrorCode::Internal,
                      "the forward pass does not run presses yet: model/forward.cc must call EvalOptions.press_hook");
  if (pipeline && pipeline->rerotates_keys()) continue_after_rerotated_keys(cache);
  if (!pipeline || !pipeline->reconstructs()) return;
  PagedKvCache& pages = paged(cache);
  const int32_t window = pages.max_tokens();
  const int64_t needed = (int64_t)start + n + (int64_t)longest_pass;
  if (needed > INT32_MAX) throw EngineError(ErrorCode::ContextOverflow, "the reconstruction passes need more than 2^31 positions");
  struct WindowRestore {
    PagedKvCache& cache;
    int32_t window;
    ~WindowRestore() { cache.set_max_tokens(window); }
  } restore{pages, window};
  if (needed > window) pages.set_max_tokens((int32_t)needed);
  try {
    for (size_t i = 0; i < passes.size(); ++i) {
      ForwardPressHook pass_hook(*pipeline, model, pool, ForwardPressHook::ReconstructionPassIndex{(int32_t)i});
      EvalOptions pass_options = options;
      pass_options.logits = LogitsMode::None;
      pass_options.press_hook = &pass_hook;
      std::unique_ptr<ProgressHook> pass_progress;
      if (progress) {
        pass_progress = std::make_unique<ProgressHook>(&pass_hook, progress, layers_done, total_layers);
        pass_options.press_hook = pass_progress.get();
      }
      std::vector<float> unused;
      forward.eval(cache, passes[i].tokens.data(), (int32_t)passes[i].tokens.size(), pass_options, unused);
      cache.truncate(start + n);  // the pass's KV is gone before the next pass and before the decision
    }
    PagedCacheAccess access(paged(cache));
    LoadedModelAccess model_access(model, pool);
    pipeline->finish_prefill(access, model_access);
  } catch (...) {
    cache.truncate(start);
    throw;
  }
}

}  // namespace presskv::press
