// TestValueNormPress: a made-up scorer that exists only in the test addon (presskv-testing.node). It is what a
// new scorer press costs on the native side: this one file, which registers itself. Its TS half and the check
// of its behaviour are in test/press-extension.test.ts. Score = ‖V‖ of each slot; the first nSink are kept.
#include <cmath>
#include <limits>

#include "press/press-registry.h"
#include "press/scorer-press.h"

namespace presskv::press {
namespace {

class TestValueNormPress : public ScorerPress {
 public:
  explicit TestValueNormPress(const PressConfig& c) : ScorerPress(c), n_sink_((int32_t)c.integer("nSink", 0)) {}
  void score(const LayerView& v, std::vector<float>& s) override {
    s.resize((size_t)v.n_kv_heads * v.n);
    for (int32_t h = 0; h < v.n_kv_heads; ++h)
      for (int32_t t = 0; t < v.n; ++t) {
        const float* x = v.value(h, t);
        double squares = 0;
        for (int32_t c = 0; c < v.head_dim; ++c) squares += (double)x[c] * x[c];
        s[(size_t)h * v.n + t] = t < n_sink_ ? std::numeric_limits<float>::infinity() : (float)std::sqrt(squares);
      }
  }

 private:
  int32_t n_sink_;
};

const PressRegistration<TestValueNormPress> test_value_norm_registration("TestValueNormPress");

}  // namespace
}  // namespace presskv::press
