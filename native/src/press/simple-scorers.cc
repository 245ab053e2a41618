// Scorers that need neither queries nor attention (kvpress-spec §2.2, §2.6, §2.8).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "press/artefacts.h"
#include "press/press-registry.h"
#include "press/press-math.h"
#include "press/scorer-press.h"

namespace presskv::press {
namespace {

class RandomPress : public ScorerPress {
 public:
  using ScorerPress::ScorerPress;
  bool token_local() const override { return true; }
  void score(const LayerView& v, std::vector<float>& s) override {
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    s.resize((size_t)v.n_kv_heads * v.n);
    for (float& x : s) x = uniform(rng_);
  }
};

class KnormPress : public ScorerPress {
 public:
  using ScorerPress::ScorerPress;
  bool token_local() const override { return true; }
  void score(const LayerView& v, std::vector<float>& s) override {
    s.resize((size_t)v.n_kv_heads * v.n);
    for (int32_t h = 0; h < v.n_kv_heads; ++h)
      for (int32_t t = 0; t < v.n; ++t) s[(size_t)h * v.n + t] = -(float)l2_norm(v.key(h, t), v.head_dim);
  }
};

class KeyDiffPress : public ScorerPress {
 public:
  using ScorerPress::ScorerPress;
  void score(const LayerView& v, std::vector<float>& s) override {
    const int32_t d = v.head_dim;
    s.resize((size_t)v.n_kv_heads * v.n);
    std::vector<double> anchor(d);
    for (int32_t h = 0; h < v.n_kv_heads; ++h) {
      std::fill(anchor.begin(), anchor.end(), 0.0);
      for (int32_t t = 0; t < v.n; ++t) {
        const float* k = v.key(h, t);
        const double norm = std::max(l2_norm(k, d), 1e-12);
        for (int32_t c = 0; c < d; ++c) anchor[c] += k[c] / norm / v.n;
      }
      double anchor_norm = 0;
      for (double a : anchor) anchor_norm += a * a;
      anchor_norm = std::max(std::sqrt(anchor_norm), 1e-8);
      for (int32_t t = 0; t < v.n; ++t) {
        const float* k = v.key(h, t);
        double dot = 0;
        for (int32_t c = 0; c < d; ++c) dot += k[c] * anchor[c];
        s[(size_t)h * v.n + t] = (float)(-dot / (std::max(l2_norm(k, d), 1e-8) * anchor_norm));
      }
    }
  }
};

class StreamingLLMPress : public ScorerPress {
 public:
  explicit StreamingLLMPress(const PressConfig& c) : ScorerPress(c), n_sink_((int32_t)c.integer("nSink", 0)) {}
  void validate(int32_t n_context) const override {
    if (ratio_ > 0 && n_context <= n_sink_)
      invalid(name_, "the context (" + std::to_string(n_context) + " tokens) must be longer than nSink (" +
                         std::to_string(n_sink_) + ")");
  }
  void score(const LayerView& v, std::vector<float>& s) override {
    if (v.n <= n_sink_) invalid(name_, "the cache must be longer than nSink");
    const int32_t pruned = v.n - kept_count(v.n, ratio_);
    s.assign((size_t)v.n_kv_heads * v.n, 1.0f);
    fill_positions(s, v.n_kv_heads, v.n, n_sink_, n_sink_ + pruned, 0.0f);
  }

 private:
  int32_t n_sink_;
};

class QFilterPress : public ScorerPress {
 public:
  QFilterPress(const PressConfig& c, const ModelConfig* model) : ScorerPress(c) {
    Safetensors file = Safetensors::open(c.artefact());
    filters_ = file.tensor_f32("q_filters", shape_);
    if (shape_.size() != 3) throw EngineError(ErrorCode::CorruptFile, name_ + ": q_filters must be [L, Hk, d]");
    if (model && (shape_[0] != model->n_layers || shape_[1] != model->n_kv_heads || shape_[2] != model->head_dim))
      throw EngineError(ErrorCode::CorruptFile, name_ + ": q_filters shape does not match the model's [L, Hk, d]");
  }
  bool token_local() const override { return true; }
  void score(const LayerView& v, std::vector<float>& s) override {
    if (shape_[0] <= v.layer || shape_[1] != v.n_kv_heads || shape_[2] != v.head_dim)
      throw EngineError(ErrorCode::CorruptFile, name_ + ": q_filters shape does not match the model");
    s.resize((size_t)v.n_kv_heads * v.n);
    for (int32_t h = 0; h < v.n_kv_heads; ++h) {
      const float* f = filters_.data() + ((int64_t)v.layer * v.n_kv_heads + h) * v.head_dim;
      for (int32_t t = 0; t < v.n; ++t) {
        const float* k = v.key(h, t);
        double dot = 0;
        for (int32_t c = 0; c < v.head_dim; ++c) dot += (double)f[c] * k[c];
        s[(size_t)h * v.n + t] = (float)-dot;
      }
    }
  }

 private:
  std::vector<float> filters_;
  std::vector<int64_t> shape_;
};

class LagKVPress : public ScorerPress {
 public:
  explicit LagKVPress(const PressConfig& c)
      : ScorerPress(c),
        n_sink_((int32_t)c.integer("nSink", 0)),
        lag_((int32_t)c.integer("lagSize", 1)),
        cross_scoring_(c.flag("crossScoring")) {}

  void score(const LayerView& v, std::vector<float>& s) override {
    const int32_t n = v.n, Hk = v.n_kv_heads;
    s.assign((size_t)Hk * n, 1.0f);
    if (n < n_sink_ + 2 * lag_) {
      for (int32_t h = 0; h < Hk; ++h)
        for (int32_t t = n_sink_; t < n; ++t) s[(size_t)h * n + t] = (float)(t - n_sink_) / (float)(n - n_sink_);
      return;
    }
    const int32_t partitions = (n - n_sink_) / lag_;
    std::vector<float> key_score(lag_), value_score(lag_), combined(lag_);
    for (int32_t h = 0; h < Hk; ++h)
      for (int32_t p = 0; p + 1 < partitions; ++p) {
        const int32_t start = n_sink_ + p * lag_;
        partition_score(v, h, start, start + lag_, /*keys=*/true, key_score);
        partition_score(v, h, start, start + lag_, /*keys=*/false, value_score);
        for (int32_t i = 0; i < lag_; ++i) combined[i] = (key_score[i] + value_score[i]) / 2;
        if (!cross_scoring_) rank_in_place(combined);
        for (int32_t i = 0; i < lag_; ++i) s[(size_t)h * n + start + i] = combined[i];
      }
  }

 private:
  // Std over channels of the tokens of [start, start+lag) min-max normalised by the next partition,
  // softmaxed over the partition.
  void partition_score(const LayerView& v, int32_t h, int32_t start, int32_t ref, bool keys, std::vector<float>& out) const {
    const int32_t d = v.head_dim;
    std::vector<float> lo(d, INFINITY), hi(d, -INFINITY);
    for (int32_t t = ref; t < ref + lag_; ++t) {
      const float* x = keys ? v.key(h, t) : v.value(h, t);
      for (int32_t c = 0; c < d; ++c) {
        lo[c] = std::min(lo[c], x[c]);
        hi[c] = std::max(hi[c], x[c]);
      }
    }
    std::vector<double> z(d);
    for (int32_t i = 0; i < lag_; ++i) {
      const float* x = keys ? v.key(h, start + i) : v.value(h, start + i);
      double mean = 0;
      for (int32_t c = 0; c < d; ++c) {
        z[c] = ((double)x[c] - lo[c]) / ((double)hi[c] - lo[c]);
        mean += z[c];
      }
      mean /= d;
      double var = 0;
      for (int32_t c = 0; c < d; ++c) var += (z[c] - mean) * (z[c] - mean);
      out[i] = (float)std::sqrt(var / (d - 1));
    }
    softmax(out.data(), lag_);
  }
  // Replace values by rank/len (ascending: the smallest gets 0).
  static void rank_in_place(std::vector<float>& x) {
    std::vector<int32_t> order(x.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return x[a] < x[b]; });
    std::vector<float> ranked(x.size());
    for (size_t r = 0; r < order.size(); ++r) ranked[order[r]] = (float)r / (float)x.size();
    x = ranked;
  }

  int32_t n_sink_, lag_;
  bool cross_scoring_;
};

class CURPress : public ScorerPress {
 public:
  explicit CURPress(const PressConfig& c)
      : ScorerPress(c),
        n_sinks_((int32_t)c.integer("numSinks", 0)),
        leverage_(c.text("leverageType")),
        random_(c.flag("useRandomLeverage")),
        local_(c.flag("useLocalApproximation")),
        window_((int32_t)c.integer("localWindowSize", 1)) {}

  void score(const LayerView& v, std::vector<float>& s) override {
    const int32_t n = v.n, d = v.head_dim, sketch = 20;
    std::vector<float> projection;
    if (random_) {
      std::normal_distribution<float> normal(0.0f, 1.0f);
      projection.resize((size_t)d * sketch);
      for (float& x : projection) x = normal(rng_) / std::sqrt((float)sketch);
    }
    auto squared_norm = [&](const float* x) {
      if (!random_) {
        double s2 = 0;
        for (int32_t c = 0; c < d; ++c) s2 += (double)x[c] * x[c];
        return s2;
      }
      double s2 = 0;
      for (int32_t j = 0; j < sketch; ++j) {
        double y = 0;
        for (int32_t c = 0; c < d; ++c) y += (double)x[c] * projection[(size_t)c * sketch + j];
        s2 += y * y;
      }
      return s2;
    };
    s.resize((size_t)v.n_kv_heads * n);
    std::vector<double> k2(n), v2(n), combined(n);
    for (int32_t h = 0; h < v.n_kv_heads; ++h) {
      for (int32_t t = 0; t < n; ++t) {
        k2[t] = squared_norm(v.key(h, t));
        v2[t] = squared_norm(v.value(h, t));
      }
      if (local_) {
        normalise_windows(k2);
        normalise_windows(v2);
      }
      double total = 0;
      for (int32_t t = 0; t < n; ++t) {
        if (leverage_ == "key") combined[t] = k2[t];
        else if (leverage_ == "value") combined[t] = v2[t];
        else if (leverage_ == "kv_avg") combined[t] = (k2[t] + v2[t]) / 2;
        else combined[t] = k2[t] * v2[t];
        total += combined[t];
      }
      for (int32_t t = 0; t < n; ++t) s[(size_t)h * n + t] = (float)(total > 0 ? combined[t] / total : 0.0);
      for (int32_t t = 0; t < std::min(n_sinks_, n); ++t) s[(size_t)h * n + t] = 1.0f;
    }
  }

 private:
  // Each value divided by the sum of its block of `window_` consecutive tokens (last block zero-padded).
  void normalise_windows(std::vector<double>& x) const {
    for (size_t start = 0; start < x.size(); start += window_) {
      const size_t end = std::min(x.size(), start + window_);
      double sum = 0;
      for (size_t t = start; t < end; ++t) sum += x[t];
      for (size_t t = start; t < end; ++t) x[t] = sum > 0 ? x[t] / sum : 0.0;
    }
  }

  int32_t n_sinks_;
  std::string leverage_;
  bool random_, local_;
  int32_t window_;
};

const PressRegistration<RandomPress> random_registration("RandomPress");
const PressRegistration<KnormPress> knorm_registration("KnormPress");
const PressRegistration<KeyDiffPress> key_diff_registration("KeyDiffPress");
const PressRegistration<StreamingLLMPress> streaming_llm_registration("StreamingLLMPress");
const PressRegistration<QFilterPress> q_filter_registration("QFilterPress");
const PressRegistration<LagKVPress> lag_kv_registration("LagKVPress");
const PressRegistration<CURPress> cur_registration("CURPress");

}  // namespace

}  // namespace presskv::press

namespace presskv::press {
namespace {

// CustomScorerPress: scores from an ExternalScorer (a TypeScript callback), selected like any scorer.
class CustomScorerPress : public ScorerPress {
 public:
  explicit CustomScorerPress(const PressConfig& c)
      : ScorerPress(c), window_((int32_t)c.integer("windowSize", 0)), scorer_(c.external_scorer) {
    if (!scorer_) invalid(name_, "needs a score(layer) function");
  }
  void score(const LayerView& v, std::vector<float>& s) override {
    const int32_t w = std::min(window_, v.q);
    const std::vector<float> queries = w > 0 ? window_queries(v, w) : std::vector<float>();
    s.clear();
    scorer_->score(v, queries, w, s);
    if (s.size() != (size_t)v.n_kv_heads * v.n)
      invalid(name_, "score() returned " + std::to_string(s.size()) + " scores, expected " + std::to_string(v.n_kv_heads * v.n));
  }

 private:
  int32_t window_;
  std::shared_ptr<ExternalScorer> scorer_;
};

const PressRegistration<CustomScorerPress> custom_scorer_registration("CustomScorerPress");

}  // namespace

}  // namespace presskv::press
