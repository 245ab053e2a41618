#pragma once
// Rotary position embedding: frequencies (with linear / llama3 scaling) and their application to
// q / k heads in the two pair layouts of model-spec.h's RopeStyle.
#include <cstdint>
#include <vector>

#include "model/model-spec.h"

namespace presskv {

// theta_i = base^(-2i / rope_dim), i < rope_dim / 2, then scaled as config.rope_scaling says.
std::vector<double> rope_inv_freq(const ModelConfig& config);

// cos / sin tables for positions: cs[t * rope_dim + 2i] = cos(pos_t * theta_i), [.. + 2i + 1] = sin.
void rope_tables(const std::vector<double>& inv_freq, const int32_t* positions, int32_t n, std::vector<float>& cs);

// Rotates the first rope_dim dims of n_heads consecutive heads of head_dim floats in place, with the
// cos/sin row of one token (rope_tables layout).
void rope_apply(float* heads, int32_t n_heads, int32_t head_dim, int32_t rope_dim, RopeStyle style, const float* cs);

}  // namespace presskv
