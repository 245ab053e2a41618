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

void PressConfig::internal(const std::string& message) const {
  throw EngineError(ErrorCode::Internal, name + ": " + message);
}

namespace {
const char* const kMissingHint = " (press configs come from the TS press classes, which send every option)";
}

double PressConfig::number(const std::string& key) const {
  auto it = numbers.find(key);
  if (it == numbers.end()) internal("numeric option '" + key + "' is missing" + kMissingHint);
  return it->second;
}

const std::string& PressConfig::text(const std::string& key) const {
  auto it = strings.find(key);
  if (it == strings.end()) internal("string option '" + key + "' is missing" + kMissingHint);
  return it->second;
}

const std::vector<double>& PressConfig::list(const std::string& key) const {
  auto it = lists.find(key);
  if (it == lists.end()) internal("list option '" + key + "' is missing" + kMissingHint);
  return it->second;
}

std::optional<double> PressConfig::optional_number(const std::string& key) const {
  auto it = numbers.find(key);
  if (it == numbers.end()) return std::nullopt;
  return it->second;
}

int64_t PressConfig::integer(const std::string& key, int64_t min_value) const {
  const double v = number(key);
  if (!std::isfinite(v) || v != (double)(int64_t)v || v < (double)min_value)
    internal("option '" + key + "' must be an integer >= " + std::to_string(min_value) + ", got " + std::to_string(v));
  return (int64_t)v;
}

const std::string& PressConfig::artefact() const {
  if (artefact_path.empty()) internal("option 'artefactPath' is missing" + std::string(kMissingHint));
  return artefact_path;
}

double checked_ratio(const PressConfig& config, const char* key, bool allow_one) {
  const double r = config.number(key);
  // The schema bounds every ratio; this guard stays because a ratio outside it makes a negative keep count.
  if (!std::isfinite(r) || r < 0 || (allow_one ? r > 1 : r >= 1))
    config.internal(std::string(key) + " must be in [0, " + (allow_one ? "1]" : "1)") + ", got " + std::to_string(r));
  return r;
}

ScorerPress::ScorerPress(const PressConfig& config) : name_(config.name), ratio_(checked_ratio(config)) {
  // An unset seed (kvpress's None) still gives reproducible scores: seed 0.
  rng_.seed((uint64_t)config.optional_number("seed").value_or(0));
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
