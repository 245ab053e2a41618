#include "press/paged-cache-access.h"

#include <algorithm>

#include "cpu/kernels.h"

namespace presskv::press {

void PagedCacheAccess::gather(int32_t layer, std::vector<float>& keys, std::vector<float>& values,
                              std::vector<int32_t>& positions) const {
  const int32_t Hk = cache_.n_kv_heads(), d = cache_.head_dim(), pt = cache_.page_tokens();
  int32_t n = 0;
  for (int32_t h = 0; h < Hk; ++h) n = std::max(n, cache_.length(layer, h));
  keys.assign((size_t)Hk * n * d, 0.0f);
  values.assign(keys.size(), 0.0f);
  positions.assign((size_t)Hk * n, -1);
  for (int32_t h = 0; h < Hk; ++h) {
    const KvHead& head = cache_.head(layer, h);
    const int32_t padding = n - head.length;
    for (int32_t s = 0; s < head.length; s += pt) {
      const KvPage& page = *head.pages[s / pt];
      const int32_t count = std::min(pt, head.length - s);
      const size_t at = (size_t)h * n + padding + s;
      cpu::to_f32(cache_.keys(page), cache_.dtype(), (int64_t)count * d, keys.data() + at * d);
      cpu::to_f32(cache_.values(page), cache_.dtype(), (int64_t)count * d, values.data() + at * d);
      std::copy(cache_.positions(page), cache_.positions(page) + count, positions.begin() + at);
    }
  }
}

void PagedCacheAccess::retain(int32_t layer, const std::vector<std::vector<int32_t>>& kept, const float* keys,
                              const float* values, const int32_t* positions) {
  const int32_t Hk = cache_.n_kv_heads(), d = cache_.head_dim();
  int32_t n = 0;
  for (int32_t h = 0; h < Hk; ++h) n = std::max(n, cache_.length(layer, h));
  const bool rewrite = keys || values || positions;
  // Rewrites need the untouched side too: read it before the head is emptied.
  std::vector<float> own_keys, own_values;
  std::vector<int32_t> own_positions;
  if (rewrite && (!keys || !values || !positions)) gather(layer, own_keys, own_values, own_positions);
  const float* k = keys ? keys : own_keys.data();
  const float* v = values ? values : own_values.data();
  const int32_t* p = positions ? positions : own_positions.data();
  for (int32_t h = 0; h < Hk; ++h) {
    const int32_t padding = n - cache_.length(layer, h);
    if (!rewrite) {
      std::vector<bool> keep(cache_.length(layer, h), false);
      for (int32_t t : kept[h]) keep[t - padding] = true;
      cache_.compact(layer, h, [&](int32_t slot, int32_t) { return keep[slot]; });
      continue;
    }
    cache_.compact(layer, h, [](int32_t, int32_t) { return false; });
    std::vector<float> kr, vr;
    std::vector<int32_t> pr;
    for (int32_t t : kept[h]) {
      const size_t at = (size_t)h * n + t;
      kr.insert(kr.end(), k + at * d, k + (at + 1) * d);
      vr.insert(vr.end(), v + at * d, v + (at + 1) * d);
      pr.push_back(p[at]);
    }
    if (!pr.empty()) cache_.append(layer, h, (int32_t)pr.size(), kr.data(), vr.data(), d, pr.data());
  }
}

}  // namespace presskv::press
