#pragma once
// Dense symmetric positive-definite helpers for the leverage-style scorers (Cap, LeverageScore).
#include <cstdint>
#include <vector>

namespace presskv::press {

// In-place Cholesky A = L Lᵀ of a row-major k×k matrix (lower triangle written). False if not SPD.
bool cholesky(std::vector<double>& a, int32_t k);
// x = A⁻¹ b given the Cholesky factor from cholesky(); b overwritten with x.
void cholesky_solve(const std::vector<double>& factor, int32_t k, double* b);

}  // namespace presskv::press
