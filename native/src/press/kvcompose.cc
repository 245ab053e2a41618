// KVComposePress (kvpress-spec §2.14): attention of a repeated copy of the context over the context
// scores every (layer, head, token); composite per-layer rankings give layer budgets (structured) or
// per-head budgets (unstructured); each head keeps its own top slots. Both variants free memory for real.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "press/context-copy.h"
#include "press/press-factories.h"
#include "press/press-math.h"
#include "press/scorer-press.h"
#include "press/selection.h"

namespace presskv::press {
namespace {

bool parse_aggregate(const PressConfig& c, const char* key, const char* fallback) {
  const std::string v = c.text(key, fallback);
  if (v != "max" && v != "mean") invalid(c.name, std::string(key) + " must be 'max' or 'mean', got '" + v + "'");
  return v == "max";
}

class KVComposePress : public Press {
 public:
  explicit KVComposePress(const PressConfig& c)
      : name_(c.name),
        ratio_(checked_ratio(c)),
        structured_(c.flag("structured", true)),
        task_max_(parse_aggregate(c, "aggTask", "max")),
        group_max_(parse_aggregate(c, "aggGroup", "mean")),
        head_max_(parse_aggregate(c, "aggHead", "mean")),
        add_v_norm_(c.flag("addVNorm", false)),
        add_mean_(c.flag("addMeanAcrossHeads", true)),
        lower_bound_((int32_t)c.integer("keepTokenLowerBound", 0, 0)) {}
  const std::string& name() const override { return name_; }
  PressKind kind() const override { return PressKind::Other; }
  double compression_ratio() const override { return ratio_; }
  void set_compression_ratio(double r) override { ratio_ = r; }
  bool defers_to_finish() const override { return true; }
  void begin(int32_t n_layers) override { scores_.assign(n_layers, {}); }

  void compress(LayerView& v, LayerDecision& out) override {
    out.unchanged = true;
    if (ratio_ == 0.0) return;
    const int32_t n = v.n, H = v.n_heads, Hk = v.n_kv_heads, g = H / Hk;
    CopyAttentionOptions o;
    o.begin = 0;
    o.end = n;
    o.use_max = task_max_;
    const std::vector<float> attn = copy_attention(v, o);  // [H, n]
    std::vector<float> s((size_t)Hk * n, 0.0f);
    for (int32_t kv = 0; kv < Hk; ++kv)
      for (int32_t t = 0; t < n; ++t) {
        float agg = group_max_ ? -INFINITY : 0.0f;
        for (int32_t j = 0; j < g; ++j) {
          const float a = attn[(size_t)(kv * g + j) * n + t];
          agg = group_max_ ? std::max(agg, a) : agg + a / g;
        }
        if (add_v_norm_) agg *= (float)l2_norm(v.value(kv, t), v.head_dim);
        s[(size_t)kv * n + t] = agg;
      }
    if (add_mean_)
      for (int32_t t = 0; t < n; ++t) {
        double mean = 0;
        for (int32_t kv = 0; kv < Hk; ++kv) mean += s[(size_t)kv * n + t] / Hk;
        for (int32_t kv = 0; kv < Hk; ++kv) s[(size_t)kv * n + t] += (float)mean;
      }
    if (v.layer >= (int32_t)scores_.size()) scores_.resize(v.layer + 1);
    scores_[v.layer] = s;
    out.scores = std::move(s);
  }

  void finish(std::vector<LayerView>& views, std::vector<LayerDecision>& out) override {
    const int32_t L = (int32_t)views.size();
    out.assign(L, {});
    if (ratio_ == 0.0 || (int32_t)scores_.size() < L) {
      for (auto& d : out) d.unchanged = true;
      return;
    }
    const int32_t Hk = views[0].n_kv_heads, n = views[0].n;
    for (const LayerView& v : views)
      if (v.n != n) invalid(name_, "needs the same context length in every layer");
    // Per-head scores sorted descending (rank-wise composites).
    std::vector<std::vector<float>> sorted(L);
    for (int32_t l = 0; l < L; ++l) {
      sorted[l] = scores_[l];
      for (int32_t h = 0; h < Hk; ++h)
        std::sort(sorted[l].begin() + (size_t)h * n, sorted[l].begin() + (size_t)(h + 1) * n, std::greater<float>());
      for (int32_t h = 0; h < Hk; ++h)
        for (int32_t r = 0; r < std::min(lower_bound_, n); ++r) sorted[l][(size_t)h * n + r] += 1e9f;
    }
    std::vector<std::vector<int32_t>> counts(L, std::vector<int32_t>(Hk, 0));
    if (structured_) {
      std::vector<float> composite((size_t)L * n);
      for (int32_t l = 0; l < L; ++l)
        for (int32_t r = 0; r < n; ++r) {
          float agg = head_max_ ? -INFINITY : 0.0f;
          for (int32_t h = 0; h < Hk; ++h) {
            const float x = sorted[l][(size_t)h * n + r];
            agg = head_max_ ? std::max(agg, x) : agg + x / Hk;
          }
          composite[(size_t)l * n + r] = agg;
        }
      // Layer 0 gets the largest budget: its composite is the element-wise max over layers.
      for (int32_t r = 0; r < n; ++r)
        for (int32_t l = 1; l < L; ++l) composite[r] = std::max(composite[r], composite[(size_t)l * n + r]);
      LayerDecision pick;
      const int64_t keep = (int64_t)((double)L * n * (1.0 - ratio_));
      select_global(composite, L, n, keep, pick);
      for (int32_t l = 0; l < L; ++l) std::fill(counts[l].begin(), counts[l].end(), (int32_t)pick.kept[l].size());
    } else {
      std::vector<float> all;
      for (int32_t l = 0; l < L; ++l) all.insert(all.end(), sorted[l].begin(), sorted[l].end());
      LayerDecision pick;
      const int64_t keep = (int64_t)((double)L * Hk * n * (1.0 - ratio_));
      select_global(all, L * Hk, n, keep, pick);
      for (int32_t l = 0; l < L; ++l)
        for (int32_t h = 0; h < Hk; ++h) counts[l][h] = (int32_t)pick.kept[(size_t)l * Hk + h].size();
    }
    for (int32_t l = 0; l < L; ++l) {
      select_counts(scores_[l], Hk, n, counts[l], out[l]);
      out[l].scores = scores_[l];
    }
  }

 private:
  std::string name_;
  double ratio_;
  bool structured_, task_max_, group_max_, head_max_, add_v_norm_, add_mean_;
  int32_t lower_bound_;
  std::vector<std::vector<float>> scores_;
};

}  // namespace

std::unique_ptr<Press> make_kvcompose(const PressConfig& c, const ModelConfig*) { return std::make_unique<KVComposePress>(c); }

}  // namespace presskv::press
