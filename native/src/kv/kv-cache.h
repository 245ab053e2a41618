#pragma once
// The KV cache of one sequence (DESIGN.md §3): paged storage per (layer, kv-head), each with its own
// length; every slot keeps the original position of its token. Pages come from a KvPool shared by all
// sequences of a model, which enforces the byte budget.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/dtype.h"
#include "core/model-config.h"

namespace presskv {

struct KvCacheOptions {
  DType dtype = DType::F16;    // F16 or F32
  int32_t page_tokens = 64;    // slots per page
  int32_t max_tokens = 0;      // positions allowed in this sequence (context window); 0 = model's
};

class KvPool {
 public:
  // budget_bytes = 0: unlimited.
  static std::shared_ptr<KvPool> create(size_t budget_bytes);
  virtual ~KvPool() = default;
  virtual size_t bytes_in_use() const = 0;
  virtual size_t budget_bytes() const = 0;
};

class KvCache {
 public:
  static std::unique_ptr<KvCache> create(const ModelConfig& config, std::shared_ptr<KvPool> pool,
                                         const KvCacheOptions& options);
  virtual ~KvCache() = default;

  // Position the next appended token gets (= tokens appended so far, uncompressed count).
  virtual int32_t next_position() const = 0;
  virtual int32_t max_tokens() const = 0;
  // Kept slots of one (layer, kv-head).
  virtual int32_t length(int32_t layer, int32_t kv_head) const = 0;
  // Bytes of the pages this sequence holds (the figure reported as kv.bytes).
  virtual size_t bytes() const = 0;
  virtual DType dtype() const = 0;
  // Drop every slot whose position is >= n_positions and set next_position to n_positions
  // (rolls back an aborted prefill or a rejected continuation).
  virtual void truncate(int32_t n_positions) = 0;
  virtual void clear() = 0;
};

}  // namespace presskv
