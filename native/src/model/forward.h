#pragma once
// The forward pass: appends tokens to a sequence's KV cache and produces logits. Prefill is chunked
// (no n×n attention matrix) and runs layer-major, so a press can compress layer l's cache before
// layer l+1 runs (DESIGN.md §4).
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/thread-pool.h"
#include "kv/kv-cache.h"
#include "model/model.h"

namespace presskv {

namespace press {
class ForwardPressHook;  // press/forward-hook.h (issue 3)
}

enum class LogitsMode { None, Last, All };

struct EvalOptions {
  LogitsMode logits = LogitsMode::Last;
  int32_t chunk_size = 256;
  const std::atomic<bool>* abort = nullptr;  // checked between chunks and layers
  // A press active during this eval: before_layer / after_layer around each layer, after_all_layers
  // at the end (press/forward-hook.h). Null: no press.
  press::ForwardPressHook* press_hook = nullptr;
};

class Forward {
 public:
  // One Forward per model worker: it owns the scratch buffers, so it is not used by two threads at once.
  static std::unique_ptr<Forward> create(std::shared_ptr<const Model> model, ThreadPool& pool);
  virtual ~Forward() = default;

  // Appends tokens[0..n) at positions cache.next_position()... and writes logits into logits_out:
  // 1 row (Last) or n rows (All) of config.vocab floats; nothing for None.
  // Throws ContextOverflow (before any work) if the cache would exceed max_tokens, InvalidArgument for
  // token ids outside the vocabulary, and Aborted after rolling the cache back when abort is set.
  virtual void eval(KvCache& cache, const int32_t* tokens, int32_t n, const EvalOptions& options,
                    std::vector<float>& logits_out) = 0;
};

}  // namespace presskv
