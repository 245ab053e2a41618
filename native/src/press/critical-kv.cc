// CriticalKV / CriticalAdaKV (kvpress-spec §2.10): the inner scores re-weighted by how much each value
// moves the attention output, ‖V_t · W_O[h]‖₁, in two stages.
#include <algorithm>
#include <cfloat>

#include "press/press-registry.h"
#include "press/press-math.h"
#include "press/scorer-press.h"
#include "press/selection.h"
#include "press/wrapper-press.h"

namespace presskv::press {
namespace {

// ν [Hk, n] = mean over the group of ‖V_{kv,t} W_O[h]‖₁.
std::vector<float> output_norms(const LayerView& v) {
  const std::vector<float> per_head = value_output_norms(v, 1, "CriticalKV", 0, v.n);
  std::vector<float> out((size_t)v.n_kv_heads * v.n);
  mean_over_groups(per_head.data(), v.n_heads, v.n_kv_heads, v.n, out.data());
  return out;
}

class CriticalKVPress : public RatioWrapperPress {
 public:
  CriticalKVPress(const PressConfig& c, const ModelConfig* m)
      : RatioWrapperPress(c, m),
        epsilon_(c.number("epsilon")),
        first_stage_(c.number("firstStageRatio")) {
    // Schema-checked; kept as a guard: outside it the selection would size its buffers wrongly.
    if (!(first_stage_ >= 0 && first_stage_ <= 1)) c.internal("firstStageRatio must be in [0, 1]");
  }
  PressKind kind() const override { return PressKind::Scorer; }
  bool is_scorer() const override { return true; }
  void score(const LayerView& v, std::vector<float>& s) override {
    inner_->score(v, s);
    const int32_t n = v.n;
    const int32_t stage1 = (int32_t)((1.0 - compression_ratio()) * n * first_stage_);
    const std::vector<float> nu = output_norms(v);
    for (int32_t h = 0; h < v.n_kv_heads; ++h) {
      const std::vector<int32_t> first = top_k(s.data() + (size_t)h * n, n, stage1);
      for (int32_t t = 0; t < n; ++t) s[(size_t)h * n + t] = (float)((s[(size_t)h * n + t] + epsilon_) * nu[(size_t)h * n + t]);
      for (int32_t t : first) s[(size_t)h * n + t] = FLT_MAX;
    }
  }
  void compress_at(LayerView& v, LayerDecision& out, double r) override {
    score(v, out.scores);
    select_per_head(out.scores, v.n_kv_heads, v.n, kept_count(v.n, r), out);
  }

 private:
  double epsilon_, first_stage_;
};

class CriticalAdaKVPress : public RatioWrapperPress {
 public:
  CriticalAdaKVPress(const PressConfig& c, const ModelConfig* m)
      : RatioWrapperPress(c, m),
        alpha_(c.number("alphaSafeguard")),
        epsilon_(c.number("epsilon")),
        first_stage_(c.number("firstStageRatio")) {
    // Schema-checked; kept as a guard: outside it the selection would size its buffers wrongly.
    if (!(alpha_ >= 0 && alpha_ <= 1)) c.internal("alphaSafeguard must be in [0, 1]");
    if (!(first_stage_ >= 0 && first_stage_ <= 1)) c.internal("firstStageRatio must be in [0, 1]");
  }
  void compress_at(LayerView& v, LayerDecision& out, double r) override {
    const int32_t n = v.n, Hk = v.n_kv_heads;
    inner_->score(v, out.scores);
    std::vector<float> s = out.scores;
    const int32_t k = kept_count(n, r);
    for (int32_t h = 0; h < Hk; ++h)
      for (int32_t t : top_k(s.data() + (size_t)h * n, n, (int32_t)(k * alpha_))) s[(size_t)h * n + t] = FLT_MAX;
    LayerDecision budgets;
    select_global(s, Hk, n, (int64_t)Hk * k, budgets);
    const std::vector<float> nu = output_norms(v);
    for (int32_t h = 0; h < Hk; ++h) {
      float* row = s.data() + (size_t)h * n;
      const int32_t budget = (int32_t)budgets.kept[h].size();
      for (int32_t t : top_k(row, n, (int32_t)(budget * first_stage_))) row[t] = FLT_MAX;
      // Stage 2 in f64 so that max-valued entries stay the largest after the re-weighting.
      std::vector<double> weighted(n);
      for (int32_t t = 0; t < n; ++t) weighted[t] = ((double)row[t] + epsilon_) * nu[(size_t)h * n + t];
      std::vector<float> order(n);
      for (int32_t t = 0; t < n; ++t) order[t] = row[t] == FLT_MAX ? FLT_MAX : (float)std::min<double>(weighted[t], FLT_MAX / 2);
      for (int32_t t : top_k(order.data(), n, budget)) row[t] = FLT_MAX;
    }
    select_global(s, Hk, n, (int64_t)Hk * k, out);
  }

 private:
  double alpha_, epsilon_, first_stage_;
};

const PressRegistration<CriticalKVPress> critical_kv_registration("CriticalKVPress");
const PressRegistration<CriticalAdaKVPress> critical_ada_kv_registration("CriticalAdaKVPress");

}  // namespace

}  // namespace presskv::press
