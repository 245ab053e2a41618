#pragma once
// Everything one runtime owns: the model it runs, its kernel thread pool, the forward pass (scratch
// buffers for one thread) and its decode batcher, the KV page pool, and the worker thread that runs
// every job. Jobs reach it through a raw pointer: the scheduler is stopped before anything else here
// is destroyed.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "addon/decode-batcher.h"
#include "core/scheduler.h"
#include "core/thread-pool.h"
#include "kv/kv-cache.h"
#include "model/forward.h"
#include "model/model.h"

namespace presskv::addon {

struct RuntimeOptions {
  int32_t threads = 1;
  size_t kv_budget_bytes = 0;  // 0 = unlimited
  DType kv_dtype = DType::F16;
  int32_t page_tokens = 64;
  int32_t prefill_chunk = 256;
  int32_t decode_batch = 16;  // most decode tokens of concurrent generations in one forward pass (1 = no batching)
  int32_t device = -1;        // -1: the CPU; N >= 0: CUDA device N
};

// The bytes each token id contributes to the output text (for stop sequences); set once from JS.
using Vocabulary = std::vector<std::string>;

struct RuntimeCore {
  RuntimeCore(std::shared_ptr<Model> model, std::shared_ptr<ThreadPool> pool, const RuntimeOptions& options);
  ~RuntimeCore();

  // Stops the worker (queued jobs fail with ERR_ABORTED) and frees the forward pass's buffers.
  void shutdown();
  bool is_shut_down() const { return shut_down_; }

  std::shared_ptr<const Vocabulary> vocabulary() const;
  void set_vocabulary(std::shared_ptr<const Vocabulary> vocabulary);

  std::shared_ptr<Model> model;
  std::shared_ptr<ThreadPool> pool;
  std::unique_ptr<Forward> forward;
  std::unique_ptr<DecodeBatcher> decode_batcher;  // null when options.decode_batch == 1
  std::shared_ptr<KvPool> kv_pool;
  RuntimeOptions options;
  int32_t vocab = 0;
  std::unique_ptr<Scheduler> scheduler;

 private:
  mutable std::mutex vocabulary_mutex_;
  std::shared_ptr<const Vocabulary> vocabulary_;
  bool shut_down_ = false;
};

}  // namespace presskv::addon
