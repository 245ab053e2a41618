#include "press/calibration.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/errors.h"
#include "press/press-math.h"
#include "press/rope.h"

namespace presskv::press {

namespace {

// kvpress's on-the-fly DuoAttention estimator span: the mean query sits at position span − 1.
constexpr int32_t kDuoSpan = 500;

class CalibrationCapture : public Press {
 public:
  explicit CalibrationCapture(CalibrationStats& stats) : stats_(stats) {}
  const std::string& name() const override { return name_; }
  PressKind kind() const override { return PressKind::Other; }
  void compress(LayerView& view, LayerDecision& out) override {
    out.unchanged = true;
    stats_.add_layer(*view.model, view.layer, view.hidden, view.q, view.first_position);
  }

 private:
  std::string name_ = "CalibrationCapture";
  CalibrationStats& stats_;
};

// Top eigenvector of a symmetric PSD d×d matrix by power iteration, started from `start` (the mean
// query, already close to the dominant direction for anisotropic queries).
std::vector<double> top_eigenvector(const double* m, int32_t d, std::vector<double> v) {
  auto normalise = [&](std::vector<double>& x) {
    double n = 0;
    for (double e : x) n += e * e;
    n = std::sqrt(n);
    if (n == 0) return false;
    for (double& e : x) e /= n;
    return true;
  };
  if (!normalise(v)) {
    v.assign(d, 0.0);
    v[0] = 1.0;
  }
  std::vector<double> next(d);
  for (int iter = 0; iter < 5000; ++iter) {
    for (int32_t r = 0; r < d; ++r) {
      double s = 0;
      for (int32_t c = 0; c < d; ++c) s += m[(int64_t)r * d + c] * v[c];
      next[r] = s;
    }
    if (!normalise(next)) return v;  // zero matrix: any unit vector
    double change = 0;
    for (int32_t c = 0; c < d; ++c) change = std::max(change, std::abs(next[c] - v[c]));
    v.swap(next);
    if (change < 1e-12) break;
  }
  return v;
}

}  // namespace

CalibrationStats::CalibrationStats(const ModelConfig& config, CalibrationKind kind, int32_t n_sink)
    : config_(config), kind_(kind), n_sink_(n_sink) {
  if (n_sink < 0) throw EngineError(ErrorCode::InvalidArgument, "calibrate: nSink must be ≥ 0");
  const int64_t L = config.n_layers, d = config.head_dim;
  slots_ = kind == CalibrationKind::ExpectedAttentionStats ? config.n_heads : config.n_kv_heads;
  if (kind == CalibrationKind::DuoAttention) {
    duo_.assign(L * config.n_kv_heads, 0.0);
  } else {
    sum_.assign(L * slots_ * d, 0.0);
    outer_.assign(L * slots_ * d * d, 0.0);
  }
  count_.assign(L, 0);
}

void CalibrationStats::add_layer(const ModelAccess& model, int32_t layer, const float* x, int32_t rows,
                                 int32_t first_position) {
  if (kind_ == CalibrationKind::DuoAttention) {
    add_duo(model, layer, x, rows);
    return;
  }
  const int32_t H = config_.n_heads, d = config_.head_dim;
  std::vector<float> q((size_t)H * rows * d);
  model.prerope_queries(layer, x, rows, q.data());
  const int32_t skip = std::clamp(n_sink_ - first_position, 0, rows);
  if (kind_ == CalibrationKind::QFilter) {
    std::vector<int32_t> positions(rows);
    for (int32_t t = 0; t < rows; ++t) positions[t] = first_position + t;
    Rope(config_).rotate_rows(q.data(), H, rows, positions.data());
  }
  add_moments(q.data(), kind_ == CalibrationKind::QFilter ? H / config_.n_kv_heads : 1, rows, skip, layer);
  count_[layer] += rows - skip;
}

// q: [H, rows, d]; statistics slot s sums the query heads s·per_slot .. (s+1)·per_slot − 1.
void CalibrationStats::add_moments(const float* q, int32_t per_slot, int32_t rows, int32_t skip, int32_t layer) {
  const int32_t H = config_.n_heads, d = config_.head_dim;
  for (int32_t h = 0; h < H; ++h) {
    const int64_t slot = (int64_t)layer * slots_ + h / per_slot;
    double* sum = sum_.data() + slot * d;
    double* outer = outer_.data() + slot * d * d;
    for (int32_t t = skip; t < rows; ++t) {
      const float* v = q + ((int64_t)h * rows + t) * d;
      for (int32_t r = 0; r < d; ++r) {
        sum[r] += v[r];
        const double vr = v[r];
        double* row = outer + (int64_t)r * d;
        for (int32_t c = 0; c < d; ++c) row[c] += vr * v[c];
      }
    }
  }
}

void CalibrationStats::add_duo(const ModelAccess& model, int32_t layer, const float* x, int32_t rows) {
  const int32_t H = config_.n_heads, Hk = config_.n_kv_heads, d = config_.head_dim, g = H / Hk;
  std::vector<float> queries((size_t)H * rows * d), keys((size_t)Hk * rows * d);
  model.prerope_queries(layer, x, rows, queries.data());
  model.prerope_keys(layer, x, rows, keys.data());
  Rope rope(config_);
  std::vector<double> qsum(d), ksum(d);
  std::vector<float> qm(d), km(d), kp(d), logits(kDuoSpan);
  for (int32_t h = 0; h < H; ++h) {
    const int32_t kv = h / g;
    std::fill(qsum.begin(), qsum.end(), 0.0);
    std::fill(ksum.begin(), ksum.end(), 0.0);
    for (int32_t t = 0; t < rows; ++t)
      for (int32_t c = 0; c < d; ++c) {
        qsum[c] += queries[((size_t)h * rows + t) * d + c];
        ksum[c] += keys[((size_t)kv * rows + t) * d + c];
      }
    for (int32_t c = 0; c < d; ++c) {
      qm[c] = (float)(qsum[c] / rows);
      km[c] = (float)(ksum[c] / rows);
    }
    rope.rotate(qm.data(), kDuoSpan - 1);
    for (int32_t p = 0; p < kDuoSpan; ++p) {
      kp = km;
      rope.rotate(kp.data(), p);
      double dot = 0;
      for (int32_t c = 0; c < d; ++c) dot += (double)qm[c] * kp[c];
      logits[p] = (float)(dot / std::sqrt((double)d));
    }
    softmax(logits.data(), kDuoSpan);
    double cumulative = 0, area = 0;
    for (int32_t p = 0; p < kDuoSpan; ++p) {
      cumulative += logits[p];
      area += cumulative;
    }
    duo_[(size_t)layer * Hk + kv] += area / kDuoSpan / g;
  }
  count_[layer] += rows;
}

void CalibrationStats::need_samples(int32_t minimum) const {
  for (int32_t l = 0; l < config_.n_layers; ++l)
    if (count_[l] < minimum)
      throw EngineError(ErrorCode::InvalidArgument,
                        "calibrate: layer " + std::to_string(l) + " saw " + std::to_string(count_[l]) +
                            " query positions after the first nSink of each chunk; need at least " +
                            std::to_string(minimum) + " (give more text or a smaller nSink)");
}

std::vector<float> CalibrationStats::query_mean() const {
  need_samples(2);
  std::vector<float> out(sum_.size());
  const int64_t per_layer = (int64_t)slots_ * config_.head_dim;
  for (size_t i = 0; i < sum_.size(); ++i) out[i] = (float)(sum_[i] / (double)count_[i / per_layer]);
  return out;
}

std::vector<float> CalibrationStats::query_cov() const {
  need_samples(2);
  const int32_t d = config_.head_dim;
  std::vector<float> out(outer_.size());
  for (int32_t l = 0; l < config_.n_layers; ++l) {
    const double n = (double)count_[l];
    for (int32_t s = 0; s < slots_; ++s) {
      const int64_t slot = (int64_t)l * slots_ + s;
      const double* sum = sum_.data() + slot * d;
      const double* outer = outer_.data() + slot * d * d;
      for (int32_t r = 0; r < d; ++r)
        for (int32_t c = 0; c < d; ++c)
          out[slot * d * d + (int64_t)r * d + c] = (float)((outer[(int64_t)r * d + c] - sum[r] * sum[c] / n) / (n - 1));
    }
  }
  return out;
}

std::vector<float> CalibrationStats::q_filters() const {
  need_samples(1);
  const int32_t d = config_.head_dim;
  std::vector<float> out(sum_.size());
  for (int64_t slot = 0; slot < (int64_t)config_.n_layers * slots_; ++slot) {
    const double* sum = sum_.data() + slot * d;
    std::vector<double> u = top_eigenvector(outer_.data() + slot * d * d, d, std::vector<double>(sum, sum + d));
    double projection = 0;
    for (int32_t c = 0; c < d; ++c) projection += u[c] * sum[c];
    const double sign = projection >= 0 ? -1.0 : 1.0;  // f = −u, u oriented along the mean query
    for (int32_t c = 0; c < d; ++c) out[slot * d + c] = (float)(sign * u[c]);
  }
  return out;
}

std::vector<float> CalibrationStats::head_scores() const {
  if (chunks_ == 0) throw EngineError(ErrorCode::InvalidArgument, "calibrate: no text was run");
  std::vector<float> out(duo_.size());
  for (size_t i = 0; i < duo_.size(); ++i) out[i] = (float)std::clamp(duo_[i] / chunks_, 0.0, 1.0);
  return out;
}

std::unique_ptr<Press> make_calibration_capture(CalibrationStats& stats) {
  return std::make_unique<CalibrationCapture>(stats);
}

}  // namespace presskv::press
