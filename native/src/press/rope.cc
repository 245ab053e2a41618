#include "press/rope.h"

#include <cmath>

#include "core/errors.h"
#include "model/rope.h"

namespace presskv::press {

Rope::Rope(const ModelConfig& config) : d_(config.head_dim), style_(config.rope_style) {
  if (d_ <= 0 || d_ % 2 != 0) throw EngineError(ErrorCode::InvalidArgument, "RoPE needs an even head dim");
  if (config.rope_dim != 0 && config.rope_dim != d_)
    throw EngineError(ErrorCode::UnsupportedArchitecture, "presses need rope_dim == head_dim");
  // The forward's own frequencies (model/rope.cc), so presses rotate exactly as the cache was rotated.
  ModelConfig full = config;
  full.rope_dim = d_;
  inv_freq_ = rope_inv_freq(full);
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
