// The Compactor family (kvpress-spec §2.7): non-causal tiled attention, key leverage scores, and their
// blend. Prefill only: the cache must hold exactly the tokens of X.
#include <algorithm>
#include <cmath>
#include <random>

#include "press/linalg.h"
#include "press/press-registry.h"
#include "press/press-math.h"
#include "press/scorer-press.h"

namespace presskv::press {
namespace {

void require_prefill(const std::string& name, const LayerView& v) {
  if (v.n != v.q) invalid(name, "runs on a prefill only (cache length " + std::to_string(v.n) + " != " + std::to_string(v.q) + " new tokens)");
}

// z-scored non-causal attention scores [Hk, n].
std::vector<float> non_causal_scores(const LayerView& v, int32_t chunk) {
  const int32_t H = v.n_heads, Hk = v.n_kv_heads, d = v.head_dim, n = v.n, g = H / Hk;
  const std::vector<float> queries = window_queries(v, v.q);
  std::vector<float> sums((size_t)H * n, 0.0f);
  std::vector<float> logits(chunk);
  for (int32_t h = 0; h < H; ++h) {
    const int32_t kv = h / g;
    for (int32_t start = 0; start < n; start += chunk) {
      const int32_t real = std::min(chunk, n - start);
      // Real query rows: softmax over the tile's c columns; padded key columns have logit −1e−9.
      for (int32_t i = 0; i < real; ++i) {
        const float* qv = queries.data() + ((size_t)h * n + start + i) * d;
        for (int32_t j = 0; j < chunk; ++j) {
          if (j >= real) {
            logits[j] = -1e-9f;
            continue;
          }
          const float* k = v.key(kv, start + j);
          float dot = 0;
          for (int32_t c = 0; c < d; ++c) dot += qv[c] * k[c];
          logits[j] = dot;
        }
        softmax(logits.data(), chunk);
        for (int32_t j = 0; j < real; ++j) sums[(size_t)h * n + start + j] += logits[j];
      }
      // Padded query rows have all-zero logits: a uniform 1/c on every column (kvpress's padding quirk).
      const int32_t padded_rows = chunk - real;
      if (padded_rows > 0)
        for (int32_t j = 0; j < real; ++j) sums[(size_t)h * n + start + j] += (float)padded_rows / chunk;
    }
  }
  std::vector<float> grouped((size_t)Hk * n), pooled((size_t)Hk * n);
  mean_over_groups(sums.data(), H, Hk, n, grouped.data());
  for (int32_t h = 0; h < Hk; ++h)
    for (int32_t t = 0; t < n; ++t) grouped[(size_t)h * n + t] *= (float)l2_norm(v.value(h, t), d);
  for (int32_t h = 0; h < Hk; ++h) average_pool(grouped.data() + (size_t)h * n, n, 3, pooled.data() + (size_t)h * n);
  global_zscore(pooled);
  return pooled;
}

// z-scored leverage of sketched, centred pre-RoPE keys [Hk, n].
std::vector<float> leverage_scores(const LayerView& v, int32_t sketch, std::mt19937_64& rng) {
  const int32_t Hk = v.n_kv_heads, d = v.head_dim, n = v.n;
  std::vector<float> keys((size_t)Hk * n * d);
  v.model->prerope_keys(v.layer, v.hidden, n, keys.data());
  std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt((double)sketch));
  std::vector<float> out((size_t)Hk * n);
  std::vector<double> mean(d), phi((size_t)d * sketch), y((size_t)n * sketch), gram((size_t)sketch * sketch), tmp(sketch);
  for (int32_t h = 0; h < Hk; ++h) {
    const float* kh = keys.data() + (size_t)h * n * d;
    std::fill(mean.begin(), mean.end(), 0.0);
    for (int32_t t = 0; t < n; ++t)
      for (int32_t c = 0; c < d; ++c) mean[c] += kh[(size_t)t * d + c] / n;
    for (double& p : phi) p = normal(rng);
    for (int32_t t = 0; t < n; ++t)
      for (int32_t j = 0; j < sketch; ++j) {
        double s = 0;
        for (int32_t c = 0; c < d; ++c) s += (kh[(size_t)t * d + c] - mean[c]) * phi[(size_t)c * sketch + j];
        y[(size_t)t * sketch + j] = (float)s;  // the sketch is float32 in kvpress
      }
    std::vector<double> factor;
    double jitter = 1e-2;
    bool ok = false;
    for (int attempt = 0; attempt < 5 && !ok; ++attempt, jitter *= 10) {
      std::fill(gram.begin(), gram.end(), 0.0);
      for (int32_t t = 0; t < n; ++t)
        for (int32_t a = 0; a < sketch; ++a)
          for (int32_t b = 0; b < sketch; ++b) gram[(size_t)a * sketch + b] += y[(size_t)t * sketch + a] * y[(size_t)t * sketch + b];
      for (int32_t a = 0; a < sketch; ++a) gram[(size_t)a * sketch + a] += jitter;
      factor = gram;
      ok = cholesky(factor, sketch);
    }
    if (!ok) throw EngineError(ErrorCode::Internal, "LeverageScorePress: sketch Gram matrix is not positive definite");
    for (int32_t t = 0; t < n; ++t) {
      for (int32_t j = 0; j < sketch; ++j) tmp[j] = y[(size_t)t * sketch + j];
      cholesky_solve(factor, sketch, tmp.data());
      double lev = 0;
      for (int32_t j = 0; j < sketch; ++j) lev += y[(size_t)t * sketch + j] * tmp[j];
      out[(size_t)h * n + t] = (float)std::max(0.0, lev);
    }
  }
  global_zscore(out);
  return out;
}

class NonCausalAttnPress : public ScorerPress {
 public:
  explicit NonCausalAttnPress(const PressConfig& c) : ScorerPress(c), chunk_((int32_t)c.integer("chunkSize", 1)) {}
  void score(const LayerView& v, std::vector<float>& s) override {
    require_prefill(name_, v);
    s = non_causal_scores(v, chunk_);
  }

 private:
  int32_t chunk_;
};

class LeverageScorePress : public ScorerPress {
 public:
  explicit LeverageScorePress(const PressConfig& c) : ScorerPress(c), sketch_((int32_t)c.integer("sketchDimension", 1)) {}
  void score(const LayerView& v, std::vector<float>& s) override {
    require_prefill(name_, v);
    s = leverage_scores(v, sketch_, rng_);
  }

 private:
  int32_t sketch_;
};

class CompactorPress : public ScorerPress {
 public:
  explicit CompactorPress(const PressConfig& c)
      : ScorerPress(c),
        sink_start_((int32_t)c.integer("sinkSizeStart", 0)),
        sink_end_((int32_t)c.integer("sinkSizeEnd", 0)),
        chunk_((int32_t)c.integer("chunkSize", 1)),
        sketch_((int32_t)c.integer("sketchDimension", 1)),
        blending_(c.optional_number("blending")) {}
  void score(const LayerView& v, std::vector<float>& s) override {
    require_prefill(name_, v);
    const int32_t n = v.n, Hk = v.n_kv_heads;
    const int32_t left = std::min(sink_start_, n), right = std::min(sink_end_, n - left);
    s.assign((size_t)Hk * n, 0.0f);
    if (n - left - right <= 0) return;
    OwnedView middle = slice_view(v, left, n - right);
    const std::vector<float> lev = leverage_scores(middle.view, sketch_, rng_);
    const std::vector<float> nc = non_causal_scores(middle.view, chunk_);
    const double beta = blending_.value_or(ratio_);  // kvpress: blending None = the ratio
    const int32_t m = middle.view.n;
    std::vector<float> blended((size_t)Hk * m);
    for (size_t i = 0; i < blended.size(); ++i) blended[i] = (float)(beta * lev[i] + nc[i]);
    const float top = max_score(blended.data(), (int64_t)blended.size());
    s.assign((size_t)Hk * n, top);
    for (int32_t h = 0; h < Hk; ++h)
      std::copy(blended.begin() + (size_t)h * m, blended.begin() + (size_t)(h + 1) * m, s.begin() + (size_t)h * n + left);
  }

 private:
  int32_t sink_start_, sink_end_, chunk_, sketch_;
  std::optional<double> blending_;
};

const PressRegistration<NonCausalAttnPress> non_causal_attn_registration("NonCausalAttnPress");
const PressRegistration<LeverageScorePress> leverage_score_registration("LeverageScorePress");
const PressRegistration<CompactorPress> compactor_registration("CompactorPress");

}  // namespace

}  // namespace presskv::press
