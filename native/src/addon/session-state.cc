#include "addon/session-state.h"

#include "kv/paged-kv-cache.h"

namespace presskv::addon {

void SessionState::publish() {
  published_tokens.store(logical_tokens());
  size_t own = 0, shared = 0;
  std::vector<int32_t> lengths;
  if (cache) {
    // A page is shared while another fork's cache still references it; every cache lives on this
    // runtime's worker, so the counts are stable here.
    const PagedKvCache& c = paged(*cache);
    for (int32_t l = 0; l < c.n_layers(); ++l)
      for (int32_t g = 0; g < c.n_kv_heads(); ++g) {
        lengths.push_back(c.length(l, g));
        for (const auto& page : c.head(l, g).pages) (page.use_count() > 1 ? shared : own) += c.page_bytes();
      }
  }
  published_bytes.store(int64_t(own));
  published_shared_bytes.store(int64_t(shared));
  std::lock_guard<std::mutex> lock(lengths_mutex);
  published_lengths = std::move(lengths);
}

}  // namespace presskv::addon
