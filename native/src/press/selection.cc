#include "press/selection.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace presskv::press {

namespace {
// Strict weak order "a ranks before b": higher score, then lower index. NaN ranks last.
struct RankOrder {
  const float* scores;
  bool operator()(int64_t a, int64_t b) const {
    const float sa = scores[a], sb = scores[b];
    const bool na = std::isnan(sa), nb = std::isnan(sb);
    if (na != nb) return nb;
    if (!na && sa != sb) return sa > sb;
    return a < b;
  }
};

bool same_score(float a, float b) { return a == b || (std::isnan(a) && std::isnan(b)); }

// After nth_element(order, order + k): order[0..k) are kept and order[k] is the best dropped slot. The kept
// slots scoring exactly as much as it won by the tie rule (lower index first).
template <class Index>
int64_t tied_kept(const float* scores, const std::vector<Index>& order, int64_t k) {
  if (k <= 0 || k >= (int64_t)order.size()) return 0;
  const float threshold = scores[order[k]];
  int64_t tied = 0;
  for (int64_t i = 0; i < k; ++i) tied += same_score(scores[order[i]], threshold) ? 1 : 0;
  return tied;
}
}  // namespace

std::vector<int32_t> top_k(const float* scores, int32_t n, int32_t k, int64_t* tied) {
  k = std::max(0, std::min(k, n));
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  RankOrder rank{scores};
  std::nth_element(order.begin(), order.begin() + k, order.end(),
                   [&](int32_t a, int32_t b) { return rank(a, b); });
  if (tied) *tied += tied_kept(scores, order, k);
  order.resize(k);
  std::sort(order.begin(), order.end());
  return order;
}

void select_per_head(const std::vector<float>& scores, int32_t n_kv_heads, int32_t n, int32_t k, LayerDecision& out) {
  out.unchanged = false;
  out.kept.assign(n_kv_heads, {});
  out.tied_kept = 0;
  for (int32_t h = 0; h < n_kv_heads; ++h) out.kept[h] = top_k(scores.data() + (size_t)h * n, n, k, &out.tied_kept);
}

void select_global(const std::vector<float>& scores, int32_t n_kv_heads, int32_t n, int64_t total, LayerDecision& out) {
  const int64_t count = (int64_t)n_kv_heads * n;
  total = std::max<int64_t>(0, std::min(total, count));
  std::vector<int64_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  RankOrder rank{scores.data()};
  std::nth_element(order.begin(), order.begin() + total, order.end(), rank);
  out.unchanged = false;
  out.kept.assign(n_kv_heads, {});
  out.tied_kept = tied_kept(scores.data(), order, total);
  for (int64_t i = 0; i < total; ++i) out.kept[order[i] / n].push_back((int32_t)(order[i] % n));
  for (auto& head : out.kept) std::sort(head.begin(), head.end());
}

void select_counts(const std::vector<float>& scores, int32_t n_kv_heads, int32_t n, const std::vector<int32_t>& counts,
                   LayerDecision& out) {
  out.unchanged = false;
  out.kept.assign(n_kv_heads, {});
  out.tied_kept = 0;
  for (int32_t h = 0; h < n_kv_heads; ++h) out.kept[h] = top_k(scores.data() + (size_t)h * n, n, counts[h], &out.tied_kept);
}

void select_threshold(const std::vector<float>& scores, int32_t n_kv_heads, int32_t n, float threshold,
                      const std::vector<bool>& protect, LayerDecision& out) {
  out.unchanged = false;
  out.kept.assign(n_kv_heads, {});
  out.tied_kept = 0;
  for (int32_t h = 0; h < n_kv_heads; ++h)
    for (int32_t t = 0; t < n; ++t) {
      const size_t i = (size_t)h * n + t;
      if (scores[i] >= threshold || (!protect.empty() && protect[i])) out.kept[h].push_back(t);
    }
}

int32_t pyramid_kept_count(int32_t n, int32_t window, double beta, double ratio, int32_t n_layers, int32_t layer) {
  const double cap = window + n * (1.0 - ratio);
  double min_num = (cap - window) / beta;
  double max_num = 2 * (cap - window) - min_num;
  if (max_num >= n - window) {
    max_num = n - window;
    min_num = 2 * (cap - window) - max_num;
  }
  if (!(n >= max_num && max_num >= min_num && min_num >= window)) return (int32_t)std::nearbyint(n * (1.0 - ratio));
  if (n_layers <= 1) return (int32_t)std::nearbyint(max_num);
  return (int32_t)std::nearbyint(max_num - layer * (max_num - min_num) / (n_layers - 1));
}

}  // namespace presskv::press
