#include "press/context-copy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "press/press-math.h"
#include "press/rope.h"
#include "press/selection.h"

namespace presskv::press {

std::vector<float> copy_attention(const LayerView& v, const CopyAttentionOptions& o) {
  const int32_t H = v.n_heads, Hk = v.n_kv_heads, d = v.head_dim, D = v.hidden_size, g = H / Hk, n = v.n;
  const int32_t width = o.end - o.begin;
  std::vector<float> out((size_t)H * width, 0.0f);
  // Copy rows: the chunk slots that have a row in X.
  std::vector<int32_t> rows;
  for (int32_t t = o.begin; t < o.end; ++t)
    if (t - (n - v.q) >= 0) rows.push_back(t - (n - v.q));
  const int32_t m = (int32_t)rows.size();
  if (m == 0) return out;
  std::vector<float> x((size_t)m * D);
  for (int32_t i = 0; i < m; ++i) std::copy(v.hidden + (size_t)rows[i] * D, v.hidden + (size_t)(rows[i] + 1) * D, x.begin() + (size_t)i * D);
  std::vector<float> queries((size_t)H * m * d), keys((size_t)Hk * m * d);
  v.model->prerope_queries(v.layer, x.data(), m, queries.data());
  v.model->prerope_keys(v.layer, x.data(), m, keys.data());
  std::vector<int32_t> positions(m);
  const int32_t copy_start = v.first_position + v.q;  // right after the context
  for (int32_t i = 0; i < m; ++i) positions[i] = copy_start + i;
  Rope rope(v.model->config());
  rope.rotate_rows(queries.data(), H, m, positions.data());
  rope.rotate_rows(keys.data(), Hk, m, positions.data());
  std::vector<double> row_scale(m, 1.0);
  if (o.normalise_rows)
    for (int32_t i = 0; i < m; ++i) row_scale[i] = 1.0 / std::max(l2_norm(x.data() + (size_t)i * D, D), 1e-12);

  const int32_t sinks = std::min(o.n_sink, o.begin);
  const float scale = 1.0f / std::sqrt((float)d);
  std::vector<float> logits(sinks + width + m);
  for (int32_t h = 0; h < H; ++h) {
    const int32_t kv = h / g;
    float* dst = out.data() + (size_t)h * width;
    for (int32_t i = 0; i < m; ++i) {
      const float* qv = queries.data() + ((size_t)h * m + i) * d;
      auto dot = [&](const float* k) {
        float s = 0;
        for (int32_t c = 0; c < d; ++c) s += qv[c] * k[c];
        return s * scale;
      };
      int32_t j = 0;
      for (int32_t t = 0; t < sinks; ++t) logits[j++] = dot(v.key(kv, t));
      for (int32_t t = o.begin; t < o.end; ++t) logits[j++] = dot(v.key(kv, t));
      for (int32_t c = 0; c < m; ++c)
        logits[j++] = c <= i ? dot(keys.data() + ((size_t)kv * m + c) * d) : -std::numeric_limits<float>::infinity();
      softmax(logits.data(), (int64_t)logits.size());
      for (int32_t t = 0; t < width; ++t) {
        const float p = (float)(logits[sinks + t] * row_scale[i]);
        dst[t] = o.use_max ? std::max(dst[t], p) : dst[t] + p / m;
      }
    }
  }
  return out;
}

std::vector<float> output_l2_norms(const LayerView& v) { return value_output_norms(v, 2, "this press"); }

void allocate_budgets(const std::vector<LayerView>& views, const std::vector<std::vector<float>>& scores, double ratio,
                      bool layerwise, std::vector<LayerDecision>& out) {
  const size_t L = views.size();
  out.assign(L, {});
  if (ratio == 0.0) {
    for (auto& d : out) d.unchanged = true;
    return;
  }
  if (layerwise) {
    for (size_t l = 0; l < L; ++l) {
      const int64_t total = (int64_t)views[l].n_kv_heads * views[l].n;
      select_global(scores[l], views[l].n_kv_heads, views[l].n, total - (int64_t)(total * ratio), out[l]);
      out[l].scores = scores[l];
    }
    return;
  }
  // Global: the bottom floor(N·r) of all scores go; each layer then keeps its own survivors.
  std::vector<float> all;
  for (const auto& s : scores) all.insert(all.end(), s.begin(), s.end());
  const int64_t total = (int64_t)all.size();
  const int64_t pruned = (int64_t)(total * ratio);
  std::vector<int64_t> order(total);
  std::iota(order.begin(), order.end(), 0);
  // Ascending by score, ties → higher index pruned first (so lower indices survive, as elsewhere).
  std::nth_element(order.begin(), order.begin() + pruned, order.end(), [&](int64_t a, int64_t b) {
    return all[a] != all[b] ? all[a] < all[b] : a > b;
  });
  std::vector<bool> gone(total, false);
  for (int64_t i = 0; i < pruned; ++i) gone[order[i]] = true;
  int64_t offset = 0;
  for (size_t l = 0; l < L; ++l) {
    const LayerView& v = views[l];
    out[l].unchanged = false;
    out[l].kept.assign(v.n_kv_heads, {});
    out[l].scores = scores[l];
    for (int32_t h = 0; h < v.n_kv_heads; ++h)
      for (int32_t t = 0; t < v.n; ++t)
        if (!gone[offset + (int64_t)h * v.n + t]) out[l].kept[h].push_back(t);
    offset += (int64_t)v.n_kv_heads * v.n;
  }
}

}  // namespace presskv::press
