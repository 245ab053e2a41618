// KVComposePress (kvpress-spec §2.14): the context is run through the model a second time on top of its
// own cache (one reconstruction pass, press/context-prefill.h); the attention of that copy over the
// context scores every (layer, head, token); composite per-layer rankings give layer budgets (structured)
// or per-head budgets (unstructured); each head keeps its own top slots. Both variants free memory for real.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "press/cross-layer-press.h"
#include "press/press-registry.h"
#include "press/press-math.h"
#include "press/reconstruction-attention.h"
#include "press/reconstruction-plan.h"
#include "press/scorer-press.h"
#include "press/selection.h"

namespace presskv::press {
namespace {

// True for 'max', false for 'mean' (the schema allows only those two).
bool is_max_aggregate(const PressConfig& c, const char* key) { return c.text(key) == "max"; }

class KVComposePress : public CrossLayerPress {
 public:
  explicit KVComposePress(const PressConfig& c)
      : CrossLayerPress(c),
        structured_(c.flag("structured")),
        task_max_(is_max_aggregate(c, "aggTask")),
        group_max_(is_max_aggregate(c, "aggGroup")),
        head_max_(is_max_aggregate(c, "aggHead")),
        add_v_norm_(c.flag("addVNorm")),
        add_mean_(c.flag("addMeanAcrossHeads")),
        lower_bound_((int32_t)c.integer("keepTokenLowerBound", 0)) {}
  void begin(int32_t n_layers) override {
    CrossLayerPress::begin(n_layers);
    plan_.reset();
  }

  void compress(LayerView& /*view*/, LayerDecision& out) override { out.unchanged = true; }

  // kvpress's default prompt: the context itself, once more.
  std::vector<ReconstructionPass> reconstruction_passes(const std::vector<int32_t>& context) override {
    std::vector<ReconstructionPass> passes;
    if (ratio_ != 0.0) passes.push_back({context, 0, (int32_t)context.size()});
    return plan_.adopt(std::move(passes), (int32_t)scores_.size());
  }

  void score_pass(const LayerView& v, int32_t pass) override {
    const int32_t H = v.n_heads, Hk = v.n_kv_heads, g = H / Hk, n = v.n - v.q;
    PassAttentionOptions o = plan_.score_layer(pass);  // the whole context
    o.use_max = task_max_;
    const std::vector<float> attn = pass_attention(v, o);  // [H, n]
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
    layer_scores(v.layer) = std::move(s);
  }

  void finish(std::vector<LayerView>& views, std::vector<LayerDecision>& out) override {
    const int32_t L = (int32_t)views.size();
    if (ratio_ != 0.0) plan_.require_complete(name_);
    if (!ready_to_decide(views, out)) return;
    out.assign(L, {});
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
  bool structured_, task_max_, group_max_, head_max_, add_v_norm_, add_mean_;
  int32_t lower_bound_;
  ReconstructionPlan plan_;
};

const PressRegistration<KVComposePress> kv_compose_registration("KVComposePress");

}  // namespace

}  // namespace presskv::press
