#pragma once
// LayerCacheAccess over the engine's paged KV cache: gathers a layer as f32 and retains the kept slots
// with PagedKvCache::compact (bit-exact, pages freed). When a press rewrote kept data (rerotated keys,
// merged values, new positions) the head is rebuilt from the f32 rows instead: compact to nothing, then
// append the kept rows in order (f16 → f32 → f16 is exact for untouched rows).
#include "kv/paged-kv-cache.h"
#include "press/pipeline.h"

namespace presskv::press {

class PagedCacheAccess : public LayerCacheAccess {
 public:
  explicit PagedCacheAccess(PagedKvCache& cache) : cache_(cache) {}
  int32_t length(int32_t layer, int32_t kv_head) const override { return cache_.length(layer, kv_head); }
  void gather(int32_t layer, std::vector<float>& keys, std::vector<float>& values,
              std::vector<int32_t>& positions) const override;
  void retain(int32_t layer, const std::vector<std::vector<int32_t>>& kept, const float* keys, const float* values,
              const int32_t* positions) override;

 private:
  PagedKvCache& cache_;
};

}  // namespace presskv::press
