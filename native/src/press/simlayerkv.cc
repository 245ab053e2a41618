// SimLayerKVPress (kvpress-spec §2.3): layers whose last queries attend mostly to the initial and recent
// tokens ("lazy" layers) keep only those; the others stay whole.
#include <numeric>

#include "press/press-registry.h"
#include "press/press-math.h"
#include "press/scorer-press.h"

namespace presskv::press {
namespace {

class SimLayerKVPress : public Press {
 public:
  explicit SimLayerKVPress(const PressConfig& c)
      : name_(c.name),
        threshold_(c.number("lazyThreshold")),
        n_last_((int32_t)c.integer("nLast", 1)),
        n_recent_((int32_t)c.integer("nRecent", 1)),
        n_initial_((int32_t)c.integer("nInitial", 0)) {
    // Schema-checked; kept as a guard: outside it the recent window would not hold the last queries.
    if (n_recent_ < n_last_) c.internal("nRecent must be >= nLast");
  }
  const std::string& name() const override { return name_; }
  PressKind kind() const override { return PressKind::Other; }
  double compression_ratio() const override {
    return ratios_.empty() ? 0.0 : std::accumulate(ratios_.begin(), ratios_.end(), 0.0) / ratios_.size();
  }
  void begin(int32_t) override { ratios_.clear(); }
  void compress(LayerView& v, LayerDecision& out) override {
    const int32_t n = v.n;
    if (threshold_ == 1.0 || n <= n_initial_ + n_recent_ + n_last_ || v.q <= n_last_) {
      ratios_.push_back(0.0);
      out.unchanged = true;
      return;
    }
    const std::vector<float> attn = window_attention(v, n_last_);  // [H, n_last, n − n_last]
    const int32_t m = n - n_last_, H = v.n_heads;
    std::vector<double> mean(m, 0.0);
    for (int32_t h = 0; h < H; ++h)
      for (int32_t i = 0; i < n_last_; ++i)
        for (int32_t t = 0; t < m; ++t) mean[t] += attn[((size_t)h * n_last_ + i) * m + t];
    double score = 0;
    for (int32_t t = 0; t < n_initial_; ++t) score += mean[t] / ((double)H * n_last_);
    for (int32_t t = m - n_recent_; t < m; ++t) score += mean[t] / ((double)H * n_last_);
    if (!(score > threshold_)) {
      ratios_.push_back(0.0);
      out.unchanged = true;
      return;
    }
    std::vector<int32_t> keep;
    for (int32_t t = 0; t < n_initial_; ++t) keep.push_back(t);
    for (int32_t t = n - (n_recent_ - n_last_); t < n; ++t) keep.push_back(t);
    out.unchanged = false;
    out.kept.assign(v.n_kv_heads, keep);
    ratios_.push_back((double)(n - n_initial_ - n_recent_ + 1) / n);
  }

 private:
  std::string name_;
  double threshold_;
  int32_t n_last_, n_recent_, n_initial_;
  std::vector<double> ratios_;
};

const PressRegistration<SimLayerKVPress> sim_layer_kv_registration("SimLayerKVPress");

}  // namespace

}  // namespace presskv::press
