// LUKVPress (kvpress-spec §2.16): per-head budgets read from a curve of per-head prune ratios, then each
// head keeps its own top-count slots (freed for real). Curve file: safetensors "curve" [99, L, Hk].
#include <algorithm>
#include <cmath>
#include <numeric>

#include "press/artefacts.h"
#include "press/press-registry.h"
#include "press/press-math.h"
#include "press/scorer-press.h"
#include "press/selection.h"
#include "press/wrapper-press.h"

namespace presskv::press {
namespace {

class LUKVPress : public WrapperPress {
 public:
  LUKVPress(const PressConfig& c, const ModelConfig* m)
      : WrapperPress(c, make_inner_scorer(c, m)),
        ratio_(checked_ratio(c)),
        sink_((int32_t)c.integer("sink", 0)),
        window_((int32_t)c.integer("window", 0)) {
    curve_ = Safetensors::open(c.artefact()).tensor_f32("curve", shape_);
    if (shape_.size() != 3 || shape_[0] != 99)
      throw EngineError(ErrorCode::CorruptFile, name_ + ": curve must be [99, L, Hk], got " + shape_text(shape_));
    if (m && (shape_[1] != m->n_layers || shape_[2] != m->n_kv_heads))
      throw EngineError(ErrorCode::CorruptFile, name_ + ": curve is " + shape_text(shape_) + ", the model has " +
                                                    std::to_string(m->n_layers) + " layers of " + std::to_string(m->n_kv_heads) + " kv-heads");
    // LUKV owns the ratio; the inner scorer sees the same one (StreamingLLM-like scorers use it).
    inner_->set_compression_ratio(ratio_);
  }
  double compression_ratio() const override { return ratio_; }
  void set_compression_ratio(double r) override {
    ratio_ = r;
    inner_->set_compression_ratio(r);
  }
  void compress(LayerView& v, LayerDecision& out) override {
    if (ratio_ == 0.0) {
      out.unchanged = true;
      return;
    }
    const int32_t n = v.n, Hk = v.n_kv_heads;
    if (v.layer >= shape_[1] || Hk != shape_[2]) throw EngineError(ErrorCode::CorruptFile, name_ + ": curve does not match the model");
    inner_->score(v, out.scores);
    const float top = max_score(out.scores.data(), (int64_t)out.scores.size()) + 1.0f;
    fill_positions(out.scores, Hk, n, 0, sink_, top);
    fill_positions(out.scores, Hk, n, n - window_, n, top);
    const int32_t row = std::clamp((int32_t)std::nearbyint(100 * ratio_) - 1, 0, 98);
    std::vector<double> ideal(Hk);
    double sum = 0;
    for (int32_t h = 0; h < Hk; ++h) {
      ideal[h] = (1.0 - curve_[((size_t)row * shape_[1] + v.layer) * Hk + h]) * n;
      sum += ideal[h];
    }
    const int64_t total = std::clamp<int64_t>((int64_t)std::nearbyint(sum), Hk, (int64_t)Hk * n);
    std::vector<int32_t> counts(Hk);
    int64_t base = 0;
    for (int32_t h = 0; h < Hk; ++h) {
      counts[h] = (int32_t)std::floor(ideal[h]);
      base += counts[h];
    }
    std::vector<int32_t> order(Hk);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      return ideal[a] - std::floor(ideal[a]) > ideal[b] - std::floor(ideal[b]);
    });
    for (int64_t i = 0; i < total - base && i < Hk; ++i) counts[order[i]] += 1;
    for (int32_t& c : counts) c = std::clamp(c, 1, n);
    select_counts(out.scores, Hk, n, counts, out);
  }

 private:
  double ratio_;
  int32_t sink_, window_;
  std::vector<float> curve_;
  std::vector<int64_t> shape_;
};

const PressRegistration<LUKVPress> lukv_registration("LUKVPress");

}  // namespace

}  // namespace presskv::press
