#include "press/cross-layer-press.h"

#include <algorithm>
#include <numeric>

#include "press/scorer-press.h"
#include "press/selection.h"

namespace presskv::press {

CrossLayerPress::CrossLayerPress(const PressConfig& c) : name_(c.name), ratio_(checked_ratio(c)) {}

void CrossLayerPress::begin(int32_t n_layers) { scores_.assign(n_layers, {}); }

std::vector<float>& CrossLayerPress::layer_scores(int32_t layer) {
  if (layer >= (int32_t)scores_.size()) scores_.resize(layer + 1);
  return scores_[layer];
}

bool CrossLayerPress::ready_to_decide(const std::vector<LayerView>& views, std::vector<LayerDecision>& out) const {
  bool ready = ratio_ != 0.0;
  for (size_t l = 0; ready && l < views.size(); ++l)
    ready = scores_.size() > l && scores_[l].size() == (size_t)views[l].n_kv_heads * views[l].n;
  if (!ready) {
    out.assign(views.size(), {});
    for (auto& d : out) d.unchanged = true;
  }
  return ready;
}

GlobalBudgetPress::GlobalBudgetPress(const PressConfig& c) : CrossLayerPress(c), layerwise_(c.flag("layerwise")) {}

void GlobalBudgetPress::finish(std::vector<LayerView>& views, std::vector<LayerDecision>& out) {
  if (!ready_to_decide(views, out)) return;
  const size_t L = views.size();
  out.assign(L, {});
  if (layerwise_) {
    for (size_t l = 0; l < L; ++l) {
      const int64_t total = (int64_t)views[l].n_kv_heads * views[l].n;
      select_global(scores_[l], views[l].n_kv_heads, views[l].n, total - (int64_t)(total * ratio_), out[l]);
      out[l].scores = scores_[l];
    }
    return;
  }
  // Global: the bottom floor(N·r) of all scores go; each layer then keeps its own survivors.
  std::vector<float> all;
  for (const auto& s : scores_) all.insert(all.end(), s.begin(), s.end());
  const int64_t total = (int64_t)all.size();
  const int64_t pruned = (int64_t)(total * ratio_);
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
    out[l].scores = scores_[l];
    for (int32_t h = 0; h < v.n_kv_heads; ++h)
      for (int32_t t = 0; t < v.n; ++t)
        if (!gone[offset + (int64_t)h * v.n + t]) out[l].kept[h].push_back(t);
    offset += (int64_t)v.n_kv_heads * v.n;
  }
}

}  // namespace presskv::press
