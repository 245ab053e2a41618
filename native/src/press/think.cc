// ThinKPress (kvpress-spec §2.3): zero the least important key channels of every kv-head. The paged
// cache keeps a fixed head dim, so channels are zeroed, not freed; the honest ratio (ρ/2 of the KV bytes
// would be saved by a kernel that skipped them) is reported as channel_ratio.
#include <algorithm>
#include <numeric>

#include "press/press-registry.h"
#include "press/press-math.h"
#include "press/scorer-press.h"

namespace presskv::press {
namespace {

class ThinKPress : public Press {
 public:
  explicit ThinKPress(const PressConfig& c)
      : name_(c.name),
        rho_(checked_ratio(c, "keyChannelCompressionRatio")),
        window_((int32_t)c.integer("windowSize", 1)) {}
  const std::string& name() const override { return name_; }
  PressKind kind() const override { return PressKind::Other; }
  double compression_ratio() const override { return rho_ / 2; }
  void compress(LayerView& v, LayerDecision& out) override {
    const int32_t d = v.head_dim, Hk = v.n_kv_heads, H = v.n_heads, g = H / Hk;
    const int32_t pruned = (int32_t)(d * rho_);
    if (rho_ == 0.0 || pruned == 0) {
      out.unchanged = true;
      return;
    }
    const int32_t w = std::min(window_, v.q);
    const std::vector<float> queries = window_queries(v, w);
    for (int32_t kv = 0; kv < Hk; ++kv) {
      std::vector<float> importance(d);
      for (int32_t c = 0; c < d; ++c) {
        double a = 0;
        for (int32_t j = 0; j < g; ++j)
          for (int32_t i = 0; i < w; ++i) {
            const float x = queries[((size_t)(kv * g + j) * w + i) * d + c];
            a += (double)x * x;
          }
        a /= (double)g * w;
        double b = 0;
        for (int32_t t = 0; t < v.n; ++t) b += (double)v.key(kv, t)[c] * v.key(kv, t)[c];
        b /= v.n;
        importance[c] = (float)(a * b);
      }
      std::vector<int32_t> order(d);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int32_t x, int32_t y) { return importance[x] < importance[y]; });
      for (int32_t i = 0; i < pruned; ++i)
        for (int32_t t = 0; t < v.n; ++t) v.key(kv, t)[order[i]] = 0.0f;
    }
    out.keep_all(Hk, v.n);
    out.unchanged = false;
    out.keys_modified = true;
    out.channel_ratio = (double)pruned / d;
  }

 private:
  std::string name_;
  double rho_;
  int32_t window_;
};

const PressRegistration<ThinKPress> thin_k_registration("ThinKPress");

}  // namespace

}  // namespace presskv::press
