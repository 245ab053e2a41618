#pragma once
// RoPE as presses need it (kvpress-spec §1.4, §2.4, §2.9): rotate vectors at given positions, rotate by
// a position difference (KeyRerotation), and the rotation averaged over a range of future positions
// (ExpectedAttention, Cap). Both layouts (HF half-split, GGUF interleaved) and linear / llama3 scaling.
#include <cstdint>
#include <vector>

#include "model/model-spec.h"

namespace presskv::press {

class Rope {
 public:
  explicit Rope(const ModelConfig& config);
  int32_t head_dim() const { return d_; }
  // Rotates one head_dim vector in place to `position` (angles position·θ_i; a negative or fractional
  // position difference rotates back / by a delta, which is how KeyRerotation moves keys).
  void rotate(float* vec, double position) const;
  // vectors laid out [groups, rows, d]; row r of every group rotated at positions[r].
  void rotate_rows(float* vecs, int32_t groups, int32_t rows, const int32_t* positions) const;
  // Dense d×d row-major matrix R̄ = mean over p in [start, start+count) of the RoPE matrix R_p
  // (so that R_p x for every x is the rotation rotate()).
  std::vector<double> averaged_matrix(int64_t start, int64_t count) const;
  // Partner index and frequency index of channel c (the pair it rotates with).
  int32_t partner(int32_t c) const;
  int32_t freq_index(int32_t c) const;
  // Sign of the sin term for channel c: x'_c = x_c cos + sign(c) x_partner sin.
  float sin_sign(int32_t c) const;
  const std::vector<double>& inv_freq() const { return inv_freq_; }

 private:
  int32_t d_ = 0;
  RopeStyle style_ = RopeStyle::HalfSplit;
  std::vector<double> inv_freq_;  // d/2 frequencies (scaling applied)
};

}  // namespace presskv::press
