#include "press/press.h"

#include <cmath>

#include "press/press-math.h"
#include "press/scorer-press.h"
#include "press/selection.h"

namespace presskv::press {

void LayerDecision::keep_all(int32_t n_kv_heads, int32_t n) {
  kept.assign(n_kv_heads, {});
  for (auto& head : kept) {
    head.resize(n);
    for (int32_t t = 0; t < n; ++t) head[t] = t;
  }
}

int64_t LayerDecision::kept_total() const {
  int64_t total = 0;
  for (const auto& head : kept) total += (int64_t)head.size();
  return total;
}

void Press::score(const LayerView&, std::vector<float>&) {
  throw EngineError(ErrorCode::InvalidArgument, name() + " is not a scorer press");
}

void Press::compress(LayerView&, LayerDecision& out) { out.unchanged = true; }

[[noreturn]] void invalid(const std::string& press, const std::string& message) {
  throw EngineError(ErrorCode::InvalidArgument, press + ": " + message);
}

double checked_ratio(const PressConfig& config, const char* key, bool allow_one) {
  const double r = config.number(key, 0.0);
  if (!std::isfinite(r) || r < 0 || (allow_one ? r > 1 : r >= 1))
    invalid(config.name, std::string(key) + " must be in [0, " + (allow_one ? "1]" : "1)") + ", got " + std::to_string(r));
  return r;
}

ScorerPress::ScorerPress(const PressConfig& config) : name_(config.name), ratio_(checked_ratio(config)) {
  rng_.seed((uint64_t)config.number("seed", 0));
}

void ScorerPress::compress(LayerView& view, LayerDecision& out) {
  if (ratio_ == 0.0) {
    out.unchanged = true;
    return;
  }
  score(view, out.scores);
  mask_padding(view, out.scores);
  select_per_head(out.scores, view.n_kv_heads, view.n, kept_count(view.n, ratio_), out);
}

}  // namespace presskv::press
