#include "press/rope.h"

#include <cmath>

#include "core/errors.h"

namespace presskv::press {

Rope::Rope(const ModelConfig& config) : d_(config.head_dim), style_(config.rope_style) {
  if (d_ <= 0 || d_ % 2 != 0) throw EngineError(ErrorCode::InvalidArgument, "RoPE needs an even head dim");
  const int32_t half = d_ / 2;
  inv_freq_.resize(half);
  const RopeScaling& scaling = config.rope_scaling;
  for (int32_t i = 0; i < half; ++i) {
    double f = 1.0 / std::pow((double)config.rope_theta, (2.0 * i) / d_);
    if (scaling.type == "linear" && scaling.factor > 0) {
      f /= scaling.factor;
    } else if (scaling.type == "llama3") {
      // Llama 3.1's frequency-dependent scaling: long wavelengths slowed by `factor`, short ones kept,
      // a smooth blend in between.
      const double pi = 3.14159265358979323846;
      const double low_wavelen = scaling.original_max_position / scaling.low_freq_factor;
      const double high_wavelen = scaling.original_max_position / scaling.high_freq_factor;
      const double wavelen = 2 * pi / f;
      if (wavelen > low_wavelen) {
        f /= scaling.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth = (scaling.original_max_position / wavelen - scaling.low_freq_factor) /
                              (scaling.high_freq_factor - scaling.low_freq_factor);
        f = (1 - smooth) * f / scaling.factor + smooth * f;
      }
    }
    inv_freq_[i] = f;
  }
}

int32_t Rope::partner(int32_t c) const {
  if (style_ == RopeStyle::HalfSplit) return c < d_ / 2 ? c + d_ / 2 : c - d_ / 2;
  return c ^ 1;
}

int32_t Rope::freq_index(int32_t c) const { return style_ == RopeStyle::HalfSplit ? c % (d_ / 2) : c / 2; }

float Rope::sin_sign(int32_t c) const {
  // half-split: [x1, x2] → [x1 cos − x2 sin, x2 cos + x1 sin]; interleaved the same per adjacent pair.
  if (style_ == RopeStyle::HalfSplit) return c < d_ / 2 ? -1.0f : 1.0f;
  return (c & 1) ? 1.0f : -1.0f;
}

void Rope::rotate(float* vec, double position) const {
  const int32_t half = d_ / 2;
  for (int32_t i = 0; i < half; ++i) {
    const double angle = position * inv_freq_[i];
    const double c = std::cos(angle), s = std::sin(angle);
    int32_t a, b;
    if (style_ == RopeStyle::HalfSplit) {
      a = i;
      b = i + half;
    } else {
      a = 2 * i;
      b = 2 * i + 1;
    }
    const double xa = vec[a], xb = vec[b];
    vec[a] = (float)(xa * c - xb * s);
    vec[b] = (float)(xb * c + xa * s);
  }
}

void Rope::rotate_rows(float* vecs, int32_t groups, int32_t rows, const int32_t* positions) const {
  for (int32_t g = 0; g < groups; ++g)
    for (int32_t r = 0; r < rows; ++r) rotate(vecs + ((int64_t)g * rows + r) * d_, positions[r]);
}

std::vector<double> Rope::averaged_matrix(int64_t start, int64_t count) const {
  std::vector<double> mean_cos(d_ / 2, 0.0), mean_sin(d_ / 2, 0.0);
  for (int64_t p = start; p < start + count; ++p)
    for (int32_t i = 0; i < d_ / 2; ++i) {
      mean_cos[i] += std::cos((double)p * inv_freq_[i]);
      mean_sin[i] += std::sin((double)p * inv_freq_[i]);
    }
  std::vector<double> m((size_t)d_ * d_, 0.0);
  for (int32_t c = 0; c < d_; ++c) {
    const int32_t f = freq_index(c);
    m[(size_t)c * d_ + c] = mean_cos[f] / count;
    m[(size_t)c * d_ + partner(c)] = sin_sign(c) * mean_sin[f] / count;
  }
  return m;
}

}  // namespace presskv::press
