// ExpectedAttention (+ stats variant) and Cap: scores from a statistical model of future queries,
// rotated by the RoPE matrix averaged over the next F positions (kvpress-spec §2.4, §2.5).
#include <algorithm>
#include <cmath>

#include "press/artefacts.h"
#include "press/linalg.h"
#include "press/press-registry.h"
#include "press/press-math.h"
#include "press/rope.h"
#include "press/scorer-press.h"

namespace presskv::press {
namespace {

// y = M x for a row-major d×d matrix.
void mat_vec(const std::vector<double>& m, const double* x, int32_t d, double* y) {
  for (int32_t i = 0; i < d; ++i) {
    double s = 0;
    for (int32_t j = 0; j < d; ++j) s += m[(size_t)i * d + j] * x[j];
    y[i] = s;
  }
}

// Per-head mean and (biased) covariance of the pre-RoPE queries of X rows [n_sink, q).
void query_statistics(const LayerView& v, int32_t n_sink, bool covariance, std::vector<double>& mean, std::vector<double>& cov) {
  const int32_t H = v.n_heads, d = v.head_dim, rows = v.q - n_sink;
  std::vector<float> queries((size_t)H * rows * d);
  v.model->prerope_queries(v.layer, v.hidden + (int64_t)n_sink * v.hidden_size, rows, queries.data());
  mean.assign((size_t)H * d, 0.0);
  cov.assign(covariance ? (size_t)H * d * d : 0, 0.0);
  for (int32_t h = 0; h < H; ++h) {
    double* mu = mean.data() + (size_t)h * d;
    for (int32_t t = 0; t < rows; ++t)
      for (int32_t c = 0; c < d; ++c) mu[c] += queries[((size_t)h * rows + t) * d + c];
    for (int32_t c = 0; c < d; ++c) mu[c] /= rows;
    if (!covariance) continue;
    double* sigma = cov.data() + (size_t)h * d * d;
    std::vector<double> centred(d);
    for (int32_t t = 0; t < rows; ++t) {
      for (int32_t c = 0; c < d; ++c) centred[c] = queries[((size_t)h * rows + t) * d + c] - mu[c];
      for (int32_t a = 0; a < d; ++a)
        for (int32_t b = 0; b < d; ++b) sigma[(size_t)a * d + b] += centred[a] * centred[b];
    }
    for (size_t i = 0; i < (size_t)d * d; ++i) sigma[i] /= rows;
  }
}

// μ ← R̄ μ, Σ ← R̄ Σ R̄ᵀ per head.
void rotate_statistics(const std::vector<double>& rbar, int32_t H, int32_t d, std::vector<double>& mean, std::vector<double>& cov) {
  std::vector<double> tmp(d), rs((size_t)d * d);
  for (int32_t h = 0; h < H; ++h) {
    double* mu = mean.data() + (size_t)h * d;
    mat_vec(rbar, mu, d, tmp.data());
    std::copy(tmp.begin(), tmp.end(), mu);
    if (cov.empty()) continue;
    double* sigma = cov.data() + (size_t)h * d * d;
    for (int32_t i = 0; i < d; ++i)
      for (int32_t j = 0; j < d; ++j) {
        double s = 0;
        for (int32_t p = 0; p < d; ++p) s += rbar[(size_t)i * d + p] * sigma[(size_t)p * d + j];
        rs[(size_t)i * d + j] = s;
      }
    for (int32_t i = 0; i < d; ++i)
      for (int32_t j = 0; j < d; ++j) {
        double s = 0;
        for (int32_t p = 0; p < d; ++p) s += rs[(size_t)i * d + p] * rbar[(size_t)j * d + p];
        sigma[(size_t)i * d + j] = s;
      }
  }
}

// [Hk, n − sink] scores → [Hk, n] with the sink slots at max + 1 (or max when plus_one is false).
void prepend_sinks(const std::vector<float>& grouped, int32_t Hk, int32_t n, int32_t sink, bool plus_one, std::vector<float>& s) {
  const float top = max_score(grouped.data(), (int64_t)grouped.size()) + (plus_one ? 1.0f : 0.0f);
  const int32_t m = n - sink;
  s.resize((size_t)Hk * n);
  for (int32_t h = 0; h < Hk; ++h) {
    for (int32_t t = 0; t < sink; ++t) s[(size_t)h * n + t] = top;
    std::copy(grouped.begin() + (size_t)h * m, grouped.begin() + (size_t)(h + 1) * m, s.begin() + (size_t)h * n + sink);
  }
}

class ExpectedAttentionPress : public ScorerPress {
 public:
  ExpectedAttentionPress(const PressConfig& c, const ModelConfig* model)
      : ScorerPress(c),
        future_((int32_t)c.integer("nFuturePositions", 1)),
        n_sink_((int32_t)c.integer("nSink", 0)),
        use_covariance_(c.flag("useCovariance")),
        use_vnorm_(c.flag("useVnorm")),
        epsilon_(c.number("epsilon")) {
    if (c.name == "ExpectedAttentionStatsPress") load_stats(c, model);
  }
  void validate(int32_t n_context) const override {
    if (ratio_ > 0 && n_context <= n_sink_)
      invalid(name_, "the context (" + std::to_string(n_context) + " tokens) must be longer than nSink (" + std::to_string(n_sink_) + ")");
  }

  void score(const LayerView& v, std::vector<float>& s) override {
    const int32_t H = v.n_heads, Hk = v.n_kv_heads, d = v.head_dim, n = v.n, g = H / Hk, m = n - n_sink_;
    if (m <= 0) invalid(name_, "the cache must be longer than nSink");
    std::vector<double> mean, cov;
    if (stats_mean_.empty()) {
      if (v.q <= n_sink_) invalid(name_, "needs more than nSink new tokens to estimate query statistics");
      query_statistics(v, n_sink_, use_covariance_, mean, cov);
    } else {
      if (stats_layers_ <= v.layer || stats_heads_ != H || stats_dim_ != d)
        throw EngineError(ErrorCode::CorruptFile, name_ + ": statistics shape does not match the model");
      mean.assign(stats_mean_.begin() + (size_t)v.layer * H * d, stats_mean_.begin() + (size_t)(v.layer + 1) * H * d);
      if (use_covariance_)
        cov.assign(stats_cov_.begin() + (size_t)v.layer * H * d * d, stats_cov_.begin() + (size_t)(v.layer + 1) * H * d * d);
    }
    const std::vector<double> rbar = Rope(v.model->config()).averaged_matrix(v.first_position + v.q, future_);
    rotate_statistics(rbar, H, d, mean, cov);

    std::vector<float> per_head((size_t)H * m);
    std::vector<double> kd(d);
    const double inv_sqrt_d = 1.0 / std::sqrt((double)d);
    for (int32_t h = 0; h < H; ++h) {
      const double* mu = mean.data() + (size_t)h * d;
      const double* sigma = use_covariance_ ? cov.data() + (size_t)h * d * d : nullptr;
      float* row = per_head.data() + (size_t)h * m;
      for (int32_t t = 0; t < m; ++t) {
        const float* k = v.key(h / g, n_sink_ + t);
        for (int32_t c = 0; c < d; ++c) kd[c] = k[c];
        double z = 0;
        for (int32_t c = 0; c < d; ++c) z += kd[c] * mu[c];
        z *= inv_sqrt_d;
        if (sigma) {
          double quad = 0;
          for (int32_t a = 0; a < d; ++a) {
            double sa = 0;
            for (int32_t b = 0; b < d; ++b) sa += sigma[(size_t)a * d + b] * kd[b];
            quad += kd[a] * sa;
          }
          z += quad / (2.0 * d);
        }
        row[t] = (float)z;
      }
      softmax(row, m);
    }
    std::vector<float> grouped((size_t)Hk * m);
    mean_over_groups(per_head.data(), H, Hk, m, grouped.data());
    if (use_vnorm_)
      for (int32_t h = 0; h < Hk; ++h)
        for (int32_t t = 0; t < m; ++t)
          grouped[(size_t)h * m + t] = (float)((grouped[(size_t)h * m + t] + epsilon_) * l2_norm(v.value(h, n_sink_ + t), d));
    prepend_sinks(grouped, Hk, n, n_sink_, true, s);
  }

 private:
  void load_stats(const PressConfig& c, const ModelConfig* model) {
    Safetensors file = Safetensors::open(c.artefact());
    std::vector<int64_t> shape;
    stats_mean_ = file.tensor_f32("query_mean", shape);
    if (shape.size() != 3) throw EngineError(ErrorCode::CorruptFile, name_ + ": query_mean must be [L, H, d]");
    stats_layers_ = (int32_t)shape[0];
    stats_heads_ = (int32_t)shape[1];
    stats_dim_ = (int32_t)shape[2];
    if (use_covariance_) stats_cov_ = file.tensor_f32("query_cov", {shape[0], shape[1], shape[2], shape[2]});
    if (model && (stats_layers_ != model->n_layers || stats_heads_ != model->n_heads || stats_dim_ != model->head_dim))
      throw EngineError(ErrorCode::CorruptFile, name_ + ": statistics are " + shape_text(shape) + ", the model needs [" +
                                                    std::to_string(model->n_layers) + ", " + std::to_string(model->n_heads) + ", " +
                                                    std::to_string(model->head_dim) + "]");
  }

  int32_t future_, n_sink_;
  bool use_covariance_, use_vnorm_;
  double epsilon_;
  std::vector<float> stats_mean_, stats_cov_;
  int32_t stats_layers_ = 0, stats_heads_ = 0, stats_dim_ = 0;
};

class CapPress : public ScorerPress {
 public:
  explicit CapPress(const PressConfig& c)
      : ScorerPress(c),
        tau_(c.number("tau")),
        future_((int32_t)c.integer("nFuturePositions", 1)),
        n_sink_((int32_t)c.integer("nSink", 0)),
        epsilon_(c.number("epsilon")) {}
  void validate(int32_t n_context) const override {
    if (ratio_ > 0 && n_context <= n_sink_) invalid(name_, "the context must be longer than nSink");
  }

  void score(const LayerView& v, std::vector<float>& s) override {
    const int32_t H = v.n_heads, Hk = v.n_kv_heads, d = v.head_dim, n = v.n, g = H / Hk, m = n - n_sink_;
    if (m <= 0 || v.q <= n_sink_) invalid(name_, "the cache must be longer than nSink");
    std::vector<double> mean, unused;
    query_statistics(v, n_sink_, false, mean, unused);
    rotate_statistics(Rope(v.model->config()).averaged_matrix(v.first_position + v.q, future_), H, d, mean, unused);

    std::vector<float> per_head((size_t)H * m);
    std::vector<double> cosine(m), weight(m), capacity((size_t)d * d), vt(d);
    for (int32_t h = 0; h < H; ++h) {
      const int32_t kv = h / g;
      const double* anchor = mean.data() + (size_t)h * d;
      double anchor_norm = 0;
      for (int32_t c = 0; c < d; ++c) anchor_norm += anchor[c] * anchor[c];
      anchor_norm = std::sqrt(anchor_norm);
      double best = -2;
      for (int32_t t = 0; t < m; ++t) {
        const float* k = v.key(kv, n_sink_ + t);
        double dot = 0;
        for (int32_t c = 0; c < d; ++c) dot += k[c] * anchor[c];
        cosine[t] = std::clamp(dot / std::max(anchor_norm * l2_norm(k, d), 1e-8), -1.0, 1.0);
        best = std::max(best, cosine[t]);
      }
      std::fill(capacity.begin(), capacity.end(), 0.0);
      for (int32_t c = 0; c < d; ++c) capacity[(size_t)c * d + c] = 1.0;
      for (int32_t t = 0; t < m; ++t) {
        weight[t] = std::exp(tau_ * (cosine[t] - best));
        const float* val = v.value(kv, n_sink_ + t);
        const double w = weight[t] + epsilon_;
        for (int32_t a = 0; a < d; ++a)
          for (int32_t b = 0; b < d; ++b) capacity[(size_t)a * d + b] += w * val[a] * val[b];
      }
      if (!cholesky(capacity, d)) throw EngineError(ErrorCode::Internal, name_ + ": capacity matrix is not positive definite");
      for (int32_t t = 0; t < m; ++t) {
        const float* val = v.value(kv, n_sink_ + t);
        for (int32_t c = 0; c < d; ++c) vt[c] = val[c];
        cholesky_solve(capacity, d, vt.data());
        double leverage = 0;
        for (int32_t c = 0; c < d; ++c) leverage += val[c] * vt[c];
        per_head[(size_t)h * m + t] = (float)(weight[t] * leverage);
      }
    }
    std::vector<float> grouped((size_t)Hk * m);
    mean_over_groups(per_head.data(), H, Hk, m, grouped.data());
    prepend_sinks(grouped, Hk, n, n_sink_, true, s);
  }

 private:
  double tau_;
  int32_t future_, n_sink_;
  double epsilon_;
};

const PressRegistration<ExpectedAttentionPress> expected_attention_registration("ExpectedAttentionPress");
const PressRegistration<ExpectedAttentionPress> expected_attention_stats_registration("ExpectedAttentionStatsPress");
const PressRegistration<CapPress> cap_registration("CapPress");

}  // namespace

}  // namespace presskv::press
