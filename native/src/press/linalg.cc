#include "press/linalg.h"

#include <cmath>

namespace presskv::press {

bool cholesky(std::vector<double>& a, int32_t k) {
  for (int32_t j = 0; j < k; ++j) {
    double diag = a[(size_t)j * k + j];
    for (int32_t p = 0; p < j; ++p) diag -= a[(size_t)j * k + p] * a[(size_t)j * k + p];
    if (!(diag > 0) || !std::isfinite(diag)) return false;
    const double root = std::sqrt(diag);
    a[(size_t)j * k + j] = root;
    for (int32_t i = j + 1; i < k; ++i) {
      double v = a[(size_t)i * k + j];
      for (int32_t p = 0; p < j; ++p) v -= a[(size_t)i * k + p] * a[(size_t)j * k + p];
      a[(size_t)i * k + j] = v / root;
    }
  }
  return true;
}

void cholesky_solve(const std::vector<double>& f, int32_t k, double* b) {
  for (int32_t i = 0; i < k; ++i) {
    double v = b[i];
    for (int32_t p = 0; p < i; ++p) v -= f[(size_t)i * k + p] * b[p];
    b[i] = v / f[(size_t)i * k + i];
  }
  for (int32_t i = k - 1; i >= 0; --i) {
    double v = b[i];
    for (int32_t p = i + 1; p < k; ++p) v -= f[(size_t)p * k + i] * b[p];
    b[i] = v / f[(size_t)i * k + i];
  }
}

}  // namespace presskv::press
