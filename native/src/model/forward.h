#pragma once
// The forward pass: appends tokens to a sequence's KV cache and produces logits. Prefill is chunked
// (no n×n attention matrix) and runs layer-major, so a press can compress layer l's cache before
// layer l+1 runs (DESIGN.md §4).
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <vector>

#include "core/thread-pool.h"
#include "kv/kv-cache.h"
#include "kv/paged-kv-cache.h"
#include "model/model.h"

namespace presskv {

// What the forward pass calls around each layer of an eval (press/forward-hook.h implements it for
// presses): the model layer knows only this interface, never the presses behind it.
class LayerHook {
 public:
  virtual ~LayerHook() = default;
  // Before layer l's first chunk: the residual stream of the eval's n tokens ([n, hidden]).
  virtual void before_layer(int32_t layer, const float* residual, int32_t n) = 0;
  // Layer l's cache holds every new token and layer l + 1 has not run.
  virtual void after_layer(PagedKvCache& cache, int32_t layer, int32_t n, int32_t first_position) = 0;
  virtual void after_all_layers(PagedKvCache& cache) = 0;
};

enum class LogitsMode { None, Last, All };

struct EvalOptions {
  LogitsMode logits = LogitsMode::Last;
  int32_t chunk_size = 256;
  const std::atomic<bool>* abort = nullptr;  // checked between chunks and layers
  // Called around each layer (a press active during this eval: press/forward-hook.h). Null: none.
  LayerHook* press_hook = nullptr;
};

// One row of a batched decode step: a sequence's next token (Forward::eval_batch).
struct DecodeRow {
  KvCache* cache = nullptr;
  int32_t token = 0;
  const std::atomic<bool>* abort = nullptr;  // checked before the pass and after its last layer
  std::vector<float>* logits = nullptr;      // out: config.vocab floats
  std::exception_ptr error;                  // out: why this row failed (its cache is unchanged); null = done
};

// Device memory a GPU forward pass holds (all zero on the CPU).
struct DeviceMemory {
  size_t weights = 0;    // uploaded weight bytes
  size_t kv_mirror = 0;  // device copies of KV pages (all caches of the process)
  size_t scratch = 0;    // activations, tables, logits
};

class Forward {
 public:
  // One Forward per model worker: it owns the scratch buffers, so it is not used by two threads at once.
  static std::unique_ptr<Forward> create(std::shared_ptr<const Model> model, ThreadPool& pool);
  // The same pass on CUDA device `device` (model/forward-cuda.cc): weights uploaded now. Throws
  // DeviceUnavailable (no CUDA build, driver or device) or OutOfMemory (weights do not fit).
  static std::unique_ptr<Forward> create_cuda(std::shared_ptr<const Model> model, int32_t device);
  virtual ~Forward() = default;
  virtual DeviceMemory memory() const { return {}; }

  // Appends tokens[0..n) at positions cache.next_position()... and writes logits into logits_out:
  // 1 row (Last) or n rows (All) of config.vocab floats; nothing for None.
  // Throws ContextOverflow (before any work) if the cache would exceed max_tokens, InvalidArgument for
  // token ids outside the vocabulary, and Aborted after rolling the cache back when abort is set.
  virtual void eval(KvCache& cache, const int32_t* tokens, int32_t n, const EvalOptions& options,
                    std::vector<float>& logits_out) = 0;

  // One decode token for each of several sequences in a single pass: every weight matrix is streamed
  // once for all rows, while RoPE, KV append and attention run per row against that row's own cache
  // and position. Row i's logits are bit-identical to eval() of its token alone (LogitsMode::Last).
  // A row that fails validation (context full, token outside the vocabulary, a cache already in the
  // batch, wrong shape) or is aborted gets its typed error in row.error with its cache unchanged; the
  // other rows complete. An error that hits the pass itself (e.g. the KV budget) rolls every row's
  // cache back and is thrown. No press hook: a sequence with a decoding press goes through eval().
  virtual void eval_batch(std::vector<DecodeRow>& rows) = 0;
};

}  // namespace presskv
