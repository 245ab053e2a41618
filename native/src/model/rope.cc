#include "model/rope.h"

#include <cmath>

namespace presskv {

std::vector<double> rope_inv_freq(const ModelConfig& config) {
  const int32_t half = config.rope_dim / 2;
  std::vector<double> inv(half);
  for (int32_t i = 0; i < half; ++i)
    inv[i] = std::pow(static_cast<double>(config.rope_theta), -2.0 * i / static_cast<double>(config.rope_dim));
  const RopeScaling& s = config.rope_scaling;
  if (s.type == "linear" && s.factor > 0) {
    for (double& f : inv) f /= s.factor;
  } else if (s.type == "llama3" && s.factor > 0) {
    // Meta's llama3 rule: keep high frequencies, divide low ones by factor, blend in between.
    const double two_pi = 2.0 * M_PI;
    const double low_wavelen = s.original_max_position / static_cast<double>(s.low_freq_factor);
    const double high_wavelen = s.original_max_position / static_cast<double>(s.high_freq_factor);
    for (double& f : inv) {
      const double wavelen = two_pi / f;
      if (wavelen < high_wavelen) continue;
      if (wavelen > low_wavelen) {
        f /= s.factor;
      } else {
        const double smooth = (s.original_max_position / wavelen - s.low_freq_factor) /
                              (static_cast<double>(s.high_freq_factor) - s.low_freq_factor);
        f = (1.0 - smooth) * f / s.factor + smooth * f;
      }
    }
  }
  return inv;
}

void rope_tables(const std::vector<double>& inv_freq, const int32_t* positions, int32_t n, std::vector<float>& cs) {
  const size_t half = inv_freq.size();
  cs.resize(static_cast<size_t>(n) * half * 2);
  for (int32_t t = 0; t < n; ++t) {
    float* row = cs.data() + static_cast<size_t>(t) * half * 2;
    for (size_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(positions[t]) * inv_freq[i];
      row[2 * i] = static_cast<float>(std::cos(angle));
      row[2 * i + 1] = static_cast<float>(std::sin(angle));
    }
  }
}

void rope_apply(float* heads, int32_t n_heads, int32_t head_dim, int32_t rope_dim, RopeStyle style, const float* cs) {
  const int32_t half = rope_dim / 2;
  for (int32_t h = 0; h < n_heads; ++h) {
    float* x = heads + static_cast<int64_t>(h) * head_dim;
    for (int32_t i = 0; i < half; ++i) {
      const float c = cs[2 * i], s = cs[2 * i + 1];
      const int32_t a = style == RopeStyle::Interleaved ? 2 * i : i;
      const int32_t b = style == RopeStyle::Interleaved ? 2 * i + 1 : i + half;
      const float x0 = x[a], x1 = x[b];
      x[a] = x0 * c - x1 * s;
      x[b] = x0 * s + x1 * c;
    }
  }
}

}  // namespace presskv
