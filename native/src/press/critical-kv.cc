// CriticalKV / CriticalAdaKV (kvpress-spec §2.10): the inner scores re-weighted by how much each value
// moves the attention output, ‖V_t · W_O[h]‖₁, in two stages.
#include <algorithm>
#include <cfloat>

#include "press/press-factories.h"
#include "press/press-math.h"
#include "press/scorer-press.h"
#include "press/selection.h"
#include "press/wrapper-press.h"

namespace presskv::press {
namespace {

// ν [Hk, n] = mean over the group of ‖V_{kv,t} W_O[h]‖₁.
std::vector<float> output_norms(const LayerView& v) {
  const int32_t H = v.n_heads, Hk = v.n_kv_heads, d = v.head_dim, D = v.hidden_size, g = H / Hk, n = v.n;
  if (!v.model->has_output_projection(v.layer))
    throw EngineError(ErrorCode::InvalidArgument, "CriticalKV needs the output projection of the layer");
  std::vector<float> wo((size_t)d * D), per_head((size_t)H * n);
  std::vector<double> row(D);
  for (int32_t h = 0; h < H; ++h) {
    v.model->output_projection(v.layer, h, wo.data());
    for (int32_t t = 0; t < n; ++t) {
      std::fill(row.begin(), row.end(), 0.0);
      const float* val = v.value(h / g, t);
      for (int32_t c = 0; c < d; ++c)
        for (int32_t o = 0; o < D; ++o) row[o] += (double)val[c] * wo[(size_t)c * D + o];
      double l1 = 0;
      for (double x : row) l1 += std::fabs(x);
      per_head[(size_t)h * n + t] = (float)l1;
    }
  }
  std::vector<float> out((size_t)Hk * n);
  mean_over_groups(per_head.data(), H, Hk, n, out.data());
  return out;
}

class CriticalKVPress : public WrapperPress {
 public:
  CriticalKVPress(const PressConfig& c, const ModelConfig* m)
      : WrapperPress(c, make_inner_scorer(c, m)),
        epsilon_(c.number("epsilon", 1e-4)),
        first_stage_(c.number("firstStageRatio", 0.5)) {
    if (!(first_stage_ >= 0 && first_stage_ <= 1)) invalid(name_, "firstStageRatio must be in [0, 1]");
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
  void compress(LayerView& v, LayerDecision& out) override {
    const double r = compression_ratio();
    if (r == 0.0) {
      out.unchanged = true;
      return;
    }
    score(v, out.scores);
    select_per_head(out.scores, v.n_kv_heads, v.n, kept_count(v.n, r), out);
  }

 private:
  double epsilon_, first_stage_;
};

class CriticalAdaKVPress : public WrapperPress {
 public:
  CriticalAdaKVPress(const PressConfig& c, const ModelConfig* m)
      : WrapperPress(c, make_inner_scorer(c, m)),
        alpha_(c.number("alphaSafeguard", 0.2)),
        epsilon_(c.number("epsilon", 1e-4)),
        first_stage_(c.number("firstStageRatio", 0.5)) {
    if (!(alpha_ >= 0 && alpha_ <= 1)) invalid(name_, "alphaSafeguard must be in [0, 1]");
    if (!(first_stage_ >= 0 && first_stage_ <= 1)) invalid(name_, "firstStageRatio must be in [0, 1]");
  }
  void compress(LayerView& v, LayerDecision& out) override {
    const double r = compression_ratio();
    if (r == 0.0) {
      out.unchanged = true;
      return;
    }
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

}  // namespace

std::unique_ptr<Press> make_critical_kv(const PressConfig& c, const ModelConfig* m) { return std::make_unique<CriticalKVPress>(c, m); }
std::unique_ptr<Press> make_critical_adakv(const PressConfig& c, const ModelConfig* m) {
  return std::make_unique<CriticalAdaKVPress>(c, m);
}

}  // namespace presskv::press
